"""The load test without SIP: the same plan against the project's FreeSWITCH simulator
(`router.sim.freeswitch`, which speaks the Event Socket, not SIP) and the real router
(`router.routing.CallRouter`), in this process on loopback, reporting the same figures.

What stands for what:

    SIPp caller            a greenlet per caller of the plan, at its planned time: after its IVR
                           delay the simulated dialplan parks it with its number and digits
                           (``esl_router_queue=auto``, ``esl_router_digits``); it waits for the
                           bridge, talks (the plan's talk time) and hangs up, or hangs up when its
                           patience runs out (abandon), or finds the router hung it up (released)
    SIPp agent phones      the simulator's endpoints, one per agent of the config (dialled as its
                           `[calls] agent_endpoint`), taking the plan's agent lines in turn:
                           answer after the ring delay, never answer, or busy
    display update / log   the router's own step events (ringing, bridged, missed, abandoned)

The customer directory is the plan's trading and registered numbers, so classification works as
with SIPp. The router's routing latency (from the event that made a match possible to the
originate on the socket) is reported from its own statistics. There is no SIP here, so FreeSWITCH's
answer time and the agent-answer-to-bridge latency are not measured.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]

from router.config import Config
from router.loadtest.figures import Figures, compute
from router.loadtest.plan import AgentLine, CallerLine, Plan
from router.loadtest.results import AgentLeg, CallerCall, pair_legs
from router.routing import CallRouter, CsvDirectory
from router.routing.lifecycle import Call
from router.sim.freeswitch import Endpoint, FreeSwitchSim

__all__ = ["run_on_simulator"]

PASSWORD = "loadtest-only-password"
ENDS = {"NO_ANSWER": "cancelled", "USER_BUSY": "busy", "CALL_REJECTED": "busy"}
Say = Callable[[str], None]


def run_on_simulator(
    plan: Plan, config: Config, *, drain: float = 60.0, say: Say = print
) -> Figures:
    """Play `plan` through the simulator and the router; the figures of what happened."""
    sim = FreeSwitchSim(password=PASSWORD, local_streams=("moh",))
    sim.start()
    for i, agent in enumerate(config.agents):
        lines = plan.agents[i :: len(config.agents)][:200] or (AgentLine("answer", 0, 0),)
        sim.add_endpoint(
            config.calls.agent_endpoint.replace("{agent}", agent.id), *(_endpoint(a) for a in lines)
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.csv"
        known = {(c.number, c.cls) for c in plan.callers if c.cls != "other"}
        path.write_text("number,class\n" + "".join(f"{n},{c}\n" for n, c in sorted(known)))
        directory = CsvDirectory.load(path, config)
    router = CallRouter(
        config, password=PASSWORD, host=sim.host, port=sim.port, directory=directory
    )
    book = _Book()
    router.listeners.append(book.on_step)
    partial: str | None = None
    started = time.time()
    try:
        router.start()
        if not router.wait_ready(10):
            raise RuntimeError("the router did not connect to the FreeSWITCH simulator")
        say(f"calling the FreeSWITCH simulator at {sim.host}:{sim.port} through esl-router")
        started = time.time()
        callers = [c for c in plan.callers if c.at < plan.duration]
        service = plan.load.spec.service
        greenlets = [
            gevent.spawn(_caller, sim, c, i + 1, plan.agents[i], book, started, service)
            for i, c in enumerate(callers)
        ]
        gevent.sleep(max(0.0, started + plan.duration - time.time()))
        say(f"traffic done: waiting up to {drain:g} s for the calls in progress to end")
        gevent.joinall(greenlets, timeout=drain)
        gevent.killall([g for g in greenlets if not g.dead], block=True, timeout=2)
        gevent.sleep(0.2)  # the last hang-ups reach the router
    except KeyboardInterrupt:
        partial = "interrupted (Ctrl-C)"
    finally:
        router.stop()
        sim.stop()
    profile = plan.load.profile
    pair_legs(book.calls.values(), book.legs)
    return compute(
        book.calls.values(),
        book.legs,
        label="ESL mode: esl-router on the FreeSWITCH simulator (no SIP)",
        target=f"FreeSWITCH simulator {sim.host}:{sim.port}",
        duration=plan.duration,
        interval=profile.interval,
        sl_t={s.cls: profile.sl_threshold(s.cls) for s in profile.streams},
        sl_default=profile.sl_t,
        started=started,
        partial=partial,
        planned_calls=round(plan.load.expected_calls()),
        peak_cps=plan.peak_cps(),
        metrics=_router_figures(router),
        sip=False,
        notes=[
            "ESL mode: no SIP, so neither FreeSWITCH's answer nor the agent-answer-to-bridge time "
            "is measured; the router's own routing latency is under router metrics"
        ],
    )


def _endpoint(line: AgentLine) -> Endpoint:
    kind = {"answer": "answer", "noanswer": "no_answer", "busy": "busy"}[line.behaviour]
    return Endpoint(kind, answer_delay=line.ring_ms / 1000)


class _Book:
    """Callers and agent legs as the router's step events report them (epoch seconds)."""

    def __init__(self) -> None:
        self.calls: dict[int, CallerCall] = {}
        self.by_uuid: dict[str, CallerCall] = {}
        self.legs: list[AgentLeg] = []
        self.ringing: dict[str, AgentLeg] = {}  # call uuid -> its leg now ringing

    def on_step(self, kind: str, d: dict[str, Any]) -> None:
        call: Call | None = d.get("call")
        if call is None:
            return
        now = time.time()
        caller = self.by_uuid.get(call.uuid)
        ringing = self.ringing.pop(call.uuid) if call.uuid in self.ringing else None
        if kind == "ringing":
            new = AgentLeg("sim", len(self.legs) + 1, d["agent"], call.info.caller or "", "", now)
            self.legs.append(new)
            self.ringing[call.uuid] = new
        elif kind == "bridged":
            if ringing is not None:
                ringing.answered = now
            if caller is not None and caller.connected is None:
                caller.connected, caller.agent = now, d["agent"]
        elif kind in ("missed", "abandoned"):
            if ringing is not None:
                ringing.ended = now
                ringing.end = (
                    "cancelled" if kind == "abandoned" else ENDS.get(d["cause"], "cancelled")
                )
        elif kind == "finished":
            for leg in reversed(self.legs):
                if leg.agent == d.get("agent") and leg.answered is not None and leg.ended is None:
                    leg.ended, leg.end = now, "fs_bye"
                    break


def _caller(
    sim: FreeSwitchSim,
    c: CallerLine,
    n: int,
    agent: AgentLine,
    book: _Book,
    started: float,
    service: str,
) -> None:
    """One caller of the plan: dial at its time, the IVR, then wait, talk or give up."""
    gevent.sleep(max(0.0, started + c.at - time.time()))
    now = time.time()
    call = CallerCall(n, c.number, c.cls, c.queue, invite=now, answered=now)
    book.calls[n] = call
    variables = {"esl_router_queue": "auto"}
    gevent.sleep(c.ivr_ms / 1000)  # the digit's delay, or the IVR's timeouts ([sipp] ivr_timeout)
    if c.digit1 != "-":
        variables["esl_router_digits"] = c.digit1
        call.digits = c.digit1
    uuid = sim.inbound_call(c.number, "load test", service, variables)
    call.queued = time.time()
    book.by_uuid[uuid] = call
    deadline = call.queued + c.patience_ms / 1000
    try:
        while time.time() < deadline:
            if call.connected is not None:
                gevent.sleep(agent.talk_ms / 1000)
                sim.caller_hangup(uuid)
                call.ended, call.end = time.time(), "fs_bye"
                return
            if uuid not in sim.channels:  # the router (or its dialplan) hung up: no agent
                call.ended, call.end = time.time(), "fs_bye"
                return
            gevent.sleep(0.02)
        sim.caller_hangup(uuid)
        call.ended, call.end = time.time(), "abandon"
    except gevent.GreenletExit:  # the run ended while this caller still waited: unresolved
        sim.caller_hangup(uuid)
        raise


def _router_figures(router: CallRouter) -> dict[str, float]:
    s = router.stats
    out: dict[str, float] = {
        "router_offered": s.offered,
        "router_answered": s.answered,
        "router_abandoned": s.abandoned,
        "router_requeued": s.requeued,
    }
    latency = sorted(x * 1000 for x in s.dispatch_latency)
    if latency:
        out["routing_latency_p50_ms"] = round(statistics.median(latency), 3)
        out["routing_latency_p99_ms"] = round(
            latency[min(len(latency) - 1, int(0.99 * len(latency)))], 3
        )
        out["routing_latency_max_ms"] = round(latency[-1], 3)
    return out

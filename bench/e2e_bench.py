"""End-to-end benchmark: the router against the FreeSWITCH simulator over real TCP on loopback.

Two processes, as in production (the router beside FreeSWITCH):

- the *load generator* (this file with ``--generator``, started as a child process) runs the
  FreeSWITCH simulator (`router.sim.freeswitch`) on a free loopback port, with agent phones that
  answer at once, and on command offers callers at a fixed rate for a fixed time: each caller is
  parked with ``esl_router_queue`` set, waits to be bridged (up to a deadline), talks for
  `--talk` seconds and hangs up;
- the *router* (this process) is the real `router.routing.CallRouter` connected to it over the
  Event Socket, with `--agents` agents logged in.

The offered rate ramps up (``--rates``); a step passes when every call offered in it was bridged
before its deadline. Figures, per step and overall:

- ``offered_cps``: the highest rate actually offered; ``sustained_cps``: the highest rate at which
  every call was routed and none lost (every lower step passed too); ``lost_calls``: calls not
  bridged, over the steps up to and including the first failing one; ``limited_by``: what ended
  the ramp (``router``: calls were lost; ``generator``: the simulator could not offer the rate,
  which then says nothing about the router; ``none``: the ramp ran out);
- ``dispatch_p50_ms`` / ``dispatch_p99_ms``: over the passing steps, from the event that makes a
  match possible (a park, an agent becoming free, a relaxation step) to the moment the originate
  for the chosen agent is handed to the socket (`router.routing.Stats.dispatch_latency`);
- ``router_cpu_pct``: CPU time of the router process / wall time at the sustained rate (100 = one
  core); ``router_cpu_ms_per_call``: the same per call;
- ``answer_to_bridge_p50_ms``: from the caller's park to the bridge, as the generator saw it.

The last line of output is one JSON object.

    python bench/e2e_bench.py            # ramp 50 .. 2000 calls/s, 10 s steps
    python bench/e2e_bench.py --quick    # ramp 20 .. 200 calls/s, 3 s steps, under a minute
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent  # type: ignore[import-untyped]
import gevent.subprocess  # type: ignore[import-untyped]

PASSWORD = "bench-password"
QUEUE = "sales"


def _agent_id(i: int) -> str:
    """The id of the i-th agent of the roster in `_config` (prefix "a": a-0001, a-0002, ...)."""
    return f"a-{i + 1:04d}"


# --- the load generator (child process) ----------------------------------------------------------


def generator(agents: int) -> None:
    """Serve the simulator; read ``step RATE SECONDS TALK`` lines, answer with one JSON line each."""
    from gevent.fileobject import FileObject  # type: ignore[import-untyped]

    from router.sim.freeswitch import Endpoint, FreeSwitchSim

    sim = FreeSwitchSim(password=PASSWORD, local_streams=("moh",))
    sim.start()
    for i in range(agents):
        sim.add_endpoint(f"user/{_agent_id(i)}", Endpoint("answer"))
    stdin = FileObject(sys.stdin, "r")
    print(f"port {sim.port}", flush=True)
    for line in stdin:
        words = line.split()
        if not words or words[0] != "step":
            break
        rate, seconds, talk = float(words[1]), float(words[2]), float(words[3])
        print(json.dumps(_step(sim, rate, seconds, talk)), flush=True)
    sim.stop()


def _step(sim: Any, rate: float, seconds: float, talk: float) -> dict[str, Any]:
    results: list[float | None] = []
    deadline_after = 5.0  # a call not bridged 5 s after it arrived is lost

    def caller(n: int) -> None:
        uuid = sim.inbound_call(f"55{n:08d}", variables={"esl_router_queue": QUEUE})
        parked = time.monotonic()
        deadline = parked + deadline_after
        while time.monotonic() < deadline:
            ch = sim.channels.get(uuid)
            if ch is None:
                break
            if ch.bridged_to is not None:
                results.append(time.monotonic() - parked)
                gevent.sleep(talk)
                sim.caller_hangup(uuid)
                return
            gevent.sleep(0.002)
        results.append(None)
        sim.caller_hangup(uuid)

    start = time.monotonic()
    total = int(rate * seconds)
    greenlets = []
    for n in range(total):
        gevent.sleep(max(0.0, start + n / rate - time.monotonic()))
        greenlets.append(gevent.spawn(caller, n))
    offered_for = time.monotonic() - start
    gevent.joinall(greenlets)
    bridged = [r for r in results if r is not None]
    return {
        "rate": rate,
        "offered": total,
        "offered_cps_actual": total / offered_for if offered_for > 0 else rate,
        "bridged": len(bridged),
        "lost": total - len(bridged),
        "answer_to_bridge_p50_ms": statistics.median(bridged) * 1000 if bridged else None,
    }


# --- the router (this process) -------------------------------------------------------------------


def _config(agents: int) -> Any:
    import tomllib

    from router.config import parse_config

    text = f"""
[router]
centre = "main"
[[classes]]
name = "other"
base = 0.0
ageing = 1.0
[[queues]]
name = "{QUEUE}"
aht = 1.0
required = {{ {QUEUE} = 1 }}
[[queues.steps]]
after = 0.0
preferred_only = false
[[centres]]
name = "main"
lines = {agents}
[[rosters]]
centre = "main"
prefix = "a"
count = {agents}
skills = {{ {QUEUE} = 5 }}
[calls]
ring_timeout = 5
wrap_up = 0.0
hold_music = "local_stream://moh"
"""
    return parse_config(tomllib.loads(text), Path("e2e_bench.toml"))


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench(rates: list[float], seconds: float, agents: int, talk: float) -> dict[str, Any]:
    from router.routing import CallRouter

    child = gevent.subprocess.Popen(
        [sys.executable, __file__, "--generator", "--agents", str(agents)],
        stdin=gevent.subprocess.PIPE,
        stdout=gevent.subprocess.PIPE,
        text=True,
    )
    try:
        first = child.stdout.readline().split()
        if first[:1] != ["port"]:
            raise RuntimeError(f"the load generator did not start: {first}")
        router = CallRouter(_config(agents), password=PASSWORD, port=int(first[1]))
        router.start()
        if not router.wait_ready(10):
            raise RuntimeError("the router did not connect to the load generator")
        steps = []
        for rate in rates:
            n0 = len(router.stats.dispatch_latency)
            cpu0, wall0 = time.process_time(), time.monotonic()
            child.stdin.write(f"step {rate} {seconds} {talk}\n")
            child.stdin.flush()
            result = json.loads(child.stdout.readline())
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            latency = list(router.stats.dispatch_latency)[n0:]
            result.update(
                router_cpu_pct=100.0 * cpu / wall,
                router_cpu_ms_per_call=1000.0 * cpu / max(1, result["offered"]),
                dispatch_ms=[x * 1000 for x in latency],
            )
            steps.append(result)
            print(
                f"{rate:7.0f} calls/s offered ({result['offered_cps_actual']:7.1f} actual): "
                f"{result['bridged']:6d}/{result['offered']:<6d} bridged, lost {result['lost']:5d}, "
                f"dispatch p50 {_ms(_percentile(result['dispatch_ms'], 0.5))} "
                f"p99 {_ms(_percentile(result['dispatch_ms'], 0.99))}, "
                f"park->bridge p50 {_ms(result['answer_to_bridge_p50_ms'])}, "
                f"router CPU {result['router_cpu_pct']:5.1f}% "
                f"({result['router_cpu_ms_per_call']:.2f} ms/call)",
                flush=True,
            )
            if result["lost"]:
                break
            if result["offered_cps_actual"] < 0.95 * rate:
                print(
                    f"the load generator could offer only {result['offered_cps_actual']:.0f} of "
                    f"{rate:.0f} calls/s (its simulator is CPU-bound): stopping the ramp",
                    flush=True,
                )
                break
        router.stop()
    finally:
        if child.poll() is None:
            try:
                child.stdin.write("quit\n")
                child.stdin.flush()
            except OSError:
                pass
            try:
                child.wait(timeout=5)
            except gevent.Timeout:
                child.kill()
    passed = []
    for step in steps:
        if step["lost"] or step["offered_cps_actual"] < 0.95 * step["rate"]:
            break
        passed.append(step)
    limited_by = "none"
    if steps and steps[-1]["lost"]:
        limited_by = "router"
    elif steps and steps[-1]["offered_cps_actual"] < 0.95 * steps[-1]["rate"]:
        limited_by = "generator"
    best = passed[-1] if passed else None
    dispatch = [x for s in passed for x in s["dispatch_ms"]]
    return {
        "offered_cps": round(max(s["offered_cps_actual"] for s in steps), 1) if steps else 0,
        "sustained_cps": best["rate"] if best else 0,
        "lost_calls": sum(s["lost"] for s in steps),
        "dispatch_p50_ms": _round(_percentile(dispatch, 0.5)),
        "dispatch_p99_ms": _round(_percentile(dispatch, 0.99)),
        "router_cpu_pct": _round(best["router_cpu_pct"]) if best else None,
        "router_cpu_ms_per_call": _round(best["router_cpu_ms_per_call"]) if best else None,
        "answer_to_bridge_p50_ms": _round(best["answer_to_bridge_p50_ms"]) if best else None,
        "calls": sum(s["offered"] for s in steps),
        "limited_by": limited_by,
        "step_seconds": seconds,
        "agents": agents,
        "cpus": os.cpu_count(),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small ramp, under a minute")
    parser.add_argument("--rates", help="comma-separated calls/s to offer in turn")
    parser.add_argument("--seconds", type=float, help="seconds per step")
    parser.add_argument("--agents", type=int, help="agents (default: enough for the top rate)")
    parser.add_argument("--talk", type=float, default=0.5, help="seconds each call talks")
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.generator:
        generator(args.agents)
        return 0
    if args.rates:
        rates = [float(r) for r in args.rates.split(",")]
    elif args.quick:
        rates = [20.0, 50.0, 100.0, 200.0]
    else:
        rates = [50.0, 100.0, 200.0, 300.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0]
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    agents = args.agents or int(max(rates) * (args.talk + 0.5) * 1.5) + 10
    result = bench(rates, seconds, agents, args.talk)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

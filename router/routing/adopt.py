"""Reconciling with FreeSWITCH after a (re)connection, and applying a reloaded config.

Parked calls outlive the router's socket (captures d10): after a restart, or a connection that
dropped and came back, FreeSWITCH still holds callers waiting in park, conversations we bridged,
and perhaps agent legs we were ringing. Events of the gap are lost, so the router does not try to
patch up what it remembers; it closes out the calls of the old connection in the core and adopts
again what FreeSWITCH holds now:

* a caller still parked (``esl_router_queue`` set) is queued again with the enqueue time kept on
  the channel (``esl_router_enqueued_at``): it keeps its place;
* a caller bridged to one of our agent legs is a conversation in progress: the agent is on a call
  until it ends, then wraps up;
* an agent leg that is neither tracked nor bridged is hung up (its call was re-queued);
* a call we held that FreeSWITCH no longer has is counted as lost.

``show channels as json`` lags the events by about a second and carries no custom variables
(captures d9), so each candidate is read with ``uuid_dump <uuid> json``, and the pass is repeated
once after the lag to catch calls parked during the first one.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

import gevent  # type: ignore[import-untyped]

from router._core import CoreError
from router.config import Config
from router.esl.connection import ESLConnection, ESLError
from router.esl.protocol import Event, EventValue, UnsafeValueError, check_uuid
from router.routing.classify import classify, header
from router.routing.directory import Directory, load_directory

if TYPE_CHECKING:
    from router.routing.lifecycle import CallRouter

__all__ = ["SHOW_CHANNELS_LAG", "adopt", "apply_config", "readopt", "reconcile"]

log = logging.getLogger("router.routing")

SHOW_CHANNELS_LAG = 1.5
"""Seconds to wait before the second adoption pass (``show channels`` lags events by ~1 s)."""


def reconcile(router: CallRouter, conn: ESLConnection) -> None:
    """Run on every (re)connection of `conn` to its FreeSWITCH node: see the module docstring.
    Only that node's calls are touched; the other nodes' calls go on."""
    connection = conn.connects
    now = router.now()
    held: dict[str, str] = {}  # agent -> what they were doing for a call of an old connection
    stale = [c for c in router.calls.values() if c.conn is conn and c.epoch < connection]
    for call in stale:
        router._stop_flow(call)
        router._forget(call)
        if call.agent is not None:
            held[call.agent] = call.state
        if call.in_core:
            try:
                router.core.remove_call(call.uuid, now)
            except CoreError:
                pass
    if stale:
        log.info("reconnected: re-adopting %d call(s) from FreeSWITCH", len(stale))
    try:
        router.check_music(conn)
        found, talking = adopt(router, conn)
    except (ESLError, TimeoutError) as exc:
        log.error("reconciliation with FreeSWITCH failed: %s; retrying", exc)
        found, talking = set(), set()
    # A callback not yet connected has no channel: it waits again in its place.
    resumed = set()
    for call in stale:
        if call.callback is not None and not call.callback.connected and call.uuid not in router.calls:
            router.resume_callback(call)
            resumed.add(call.uuid)
    lost = {c.uuid for c in stale if c.uuid not in found and c.uuid not in resumed}
    if not router.ready.is_set():
        router.restore_callbacks(conn)
        # Let the adopted and restored calls' flows queue them first (none yields before it),
        # so that the agents logging in next take them in rank order, not in adoption order.
        gevent.sleep(0)
        # First connection: log every agent in who is not in a conversation we just adopted.
        for agent in list(router.phones):
            if agent not in talking:
                router._agent_ready(agent)
        router.ready.set()
    else:
        for agent, was in held.items():
            if agent in talking or agent not in router.phones:
                continue
            if was == "talking":
                router._agent_after(agent, "wrap_up", router.settings.wrap_up)
            else:
                router._agent_ready(agent)
    gevent.sleep(SHOW_CHANNELS_LAG)
    if conn.connects == connection and conn.connected:
        try:
            found, _ = adopt(router, conn)
            lost -= found  # listed only now (``show channels`` lags): adopted, not lost
        except (ESLError, TimeoutError) as exc:
            log.warning("second reconciliation pass failed: %s", exc)
    router.stats.lost += len(lost)


def adopt(router: CallRouter, conn: ESLConnection) -> tuple[set[str], set[str]]:
    """Adopt what `conn`'s FreeSWITCH holds; returns (callers seen, agents found talking)."""
    reply = conn.api("show", "channels", "as", "json")
    rows: list[dict[str, Any]] = json.loads(reply.body).get("rows", []) if reply.ok else []
    seen: set[str] = set()
    talking: set[str] = set()
    for row in rows:
        uid = str(row.get("uuid", ""))
        if row.get("direction") == "inbound":
            seen.add(uid)
        if uid in router.calls or uid in router.legs:
            continue
        dump = _dump(conn, uid)
        if dump is None or not header(dump, "variable_esl_router_queue"):
            continue
        app = row.get("application")
        called_back = header(dump, "variable_esl_router_callback")
        if called_back and app == "uuid_bridge":  # a callback's customer, talking to an agent
            seen.add(called_back)
            agent = _adopt_talking(router, conn, uid, str(row.get("application_data", "")), dump)
            if agent is not None:
                talking.add(agent)
        elif row.get("direction") == "inbound" and app == "uuid_bridge":
            agent = _adopt_talking(router, conn, uid, str(row.get("application_data", "")), dump)
            if agent is not None:
                talking.add(agent)
        elif row.get("direction") == "inbound":
            if app == "park" or header(dump, "variable_esl_router_enqueued_at"):
                call = router.take(conn, dump, uid, adopted=True)
                if call is not None:
                    log.info("adopted waiting call %s (queue %s)", uid, call.info.queue)
                    _check_alive(router, conn, uid)
        elif (header(dump, "variable_esl_router_agent") or called_back) and app != "uuid_bridge":
            log.info("hanging up leg %s: no call waits for it any more", uid)
            router._kill_leg(conn, uid)
    return seen, talking


def readopt(router: CallRouter, conn: ESLConnection, uuid: str) -> None:
    """Take one caller afresh (after its flow failed), if FreeSWITCH still has it parked."""
    gevent.sleep(0.5)
    dump = _dump(conn, uuid)
    if dump is not None and header(dump, "variable_esl_router_queue") and uuid not in router.calls:
        if router.take(conn, dump, uuid, adopted=True) is not None:
            _check_alive(router, conn, uuid)


def _dump(conn: ESLConnection, uuid: str) -> dict[str, EventValue] | None:
    try:
        check_uuid(uuid)
        reply = conn.api("uuid_dump", uuid, "json")
    except UnsafeValueError:
        return None
    if not reply.ok:
        return None
    try:
        data = json.loads(reply.body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _check_alive(router: CallRouter, conn: ESLConnection, uuid: str) -> None:
    """A channel may hang up between the listing and our adoption, and that HANGUP came before
    we tracked it: if it is gone now, tell its flow as if the event had come."""
    if conn.api("uuid_exists", uuid).body.strip() != "true":
        call = router.calls.get(uuid) or router.legs.get(uuid)
        if call is not None:
            call.inbox.put(_hangup(uuid))


def _hangup(uuid: str) -> Event:
    return Event({"Event-Name": "CHANNEL_HANGUP", "Unique-ID": uuid}, None, "synthetic")


def _adopt_talking(
    router: CallRouter, conn: ESLConnection, caller: str, leg: str, dump: dict[str, EventValue]
) -> str | None:
    from router.routing.lifecycle import Call

    leg_dump = _dump(conn, leg)
    agent = header(leg_dump, "variable_esl_router_agent") if leg_dump else ""
    if agent not in router.phones:
        return None
    now = router.now()
    info = classify(dump, router.config, router.directory)
    call = Call(
        caller,
        info,
        info.enqueued_at if info.enqueued_at is not None else now,
        conn.connects,
        conn,
        state="talking",
        agent=agent,
        leg=leg,
        in_core=False,
        bridged_at=now,
    )
    router.calls[caller] = call
    router.hold_line(call, True)
    router.legs[leg] = call
    router.core.set_agent_state(agent, "on_call", now)
    router.stats.adopted += 1
    log.info("adopted conversation %s with agent %s", caller, agent)
    call.flow = gevent.spawn(router._adopted_talk, call)
    for uid in (caller, leg):
        _check_alive(router, conn, uid)
    return agent


def apply_config(router: CallRouter, config: Config, directory: Directory | None) -> None:
    """A reloaded config (SIGHUP): the new policy applies to calls already waiting; new agents
    are logged in, changed agents updated, removed agents retired once they are free."""
    from router.routing.lifecycle import check_names

    check_names(config)
    directory = directory if directory is not None else load_directory(config)
    now = router.now()
    router.core.set_policy(config.policy(), now)  # all or nothing; raises PolicyError
    wanted = {a.id: a for a in config.agents}
    added = []
    for agent in config.agents:
        if agent.id in router.phones:
            router.core.update_agent(
                agent.id, centre=agent.centre, skills=dict(agent.skills), max_calls=agent.max_calls
            )
            router._retired.discard(agent.id)
            router.phones[agent.id].max_calls = agent.max_calls
        else:
            router.core.add_agent(agent.id, agent.centre, dict(agent.skills), max_calls=agent.max_calls)
            added.append(agent.id)
    router.config, router.settings, router.directory = config, config.calls, directory
    router._music.clear()  # checked again on each node's next connection
    for conn in router.nodes:
        if conn.connected:
            gevent.spawn(router._safe, router.check_music, conn)
    for agent_id in added:
        router.phones[agent_id] = router._phone(agent_id, wanted[agent_id].max_calls)
    for phone in router.phones.values():
        phone.endpoint = config.calls.agent_endpoint
    for agent_id in [a for a in router.phones if a not in wanted]:
        if router.core.agent_info(agent_id)["state"] in ("reserved", "ringing", "on_call"):
            router._retired.add(agent_id)  # removed when this call ends
        else:
            router._cancel_timer(router.phones[agent_id])
            router._retire(agent_id)
    for agent_id in added:
        router._agent_ready(agent_id)
    trigger = time.perf_counter()
    for call_id, agent_id in router.core.match_all(router.now()):
        router._assign(call_id, agent_id, trigger)
    router._kick.set()
    from router.routing.lifecycle import _WAKE

    for call in list(router.calls.values()):
        if call.state == "waiting" and call.agent is None:
            call.inbox.put(_WAKE)  # its flow reads the new maximum waits
    log.info(
        "config %s applied: %d queue(s), %d agent(s) (%d new)",
        config.path,
        len(config.queues),
        len(config.agents),
        len(added),
    )

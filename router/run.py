"""`esl-router run`: the router of one centre, connected to its FreeSWITCH, until told to stop.

    esl-router run --config /etc/esl-router/router.toml

* FreeSWITCH's event socket is ``[esl] host``/``port`` of the config, or every node of ``[esl]
  nodes`` (``--host``/``--port`` override: one node); the password is ``ESL_ROUTER_ESL_PASSWORD`` if set, else ``[esl] password``; there is
  no default. An unreachable FreeSWITCH is logged and retried with backoff, for ever.
* **SIGHUP** re-reads the config and the customer directory and applies them to the running router
  (new queues, agents and policy apply to calls already waiting; no call is dropped). A config
  that does not load, or that the core refuses (e.g. it removes a queue that calls wait in), is
  logged and the running config stays.
* **SIGTERM** / **SIGINT** drain: no new calls are taken, agents already ringing may answer, then
  the router exits, leaving waiting callers parked (with their hold music and their place, kept on
  the channel) for the next router to adopt.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import gevent  # type: ignore[import-untyped]
import gevent.event  # type: ignore[import-untyped]

from router._core import CoreError
from router.config import Config, ConfigError, load_config
from router.esl.connection import ESLError, esl_password
from router.routing import CallRouter

__all__ = ["run"]

log = logging.getLogger("router.run")


def run(
    config_path: Path,
    *,
    host: str | None = None,
    port: int | None = None,
    drain_timeout: float = 10.0,
    status_every: float = 60.0,
) -> int:
    """Run the router until SIGTERM/SIGINT; returns the exit code."""
    config = load_config(config_path)
    for warning in config.warnings:
        log.warning("%s", warning)
    try:
        password = esl_password(config.esl.password)
    except ESLError as exc:
        print(f"esl-router: error: {exc}", file=sys.stderr)
        return 1
    router = CallRouter(config, password=password, host=host, port=port)
    stop = gevent.event.Event()

    def reload() -> None:
        try:
            new = load_config(config_path)
            router.reload(new)
        except (ConfigError, CoreError) as exc:
            log.error("SIGHUP: config not applied, the running one stays:\n%s", exc)

    gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(reload))
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    log.info(
        "esl-router for centre %s: %d queue(s), %d agent(s); FreeSWITCH at %s",
        config.centre,
        len(config.queues),
        len(config.agents),
        ", ".join(f"{conn.host}:{conn.port}" for conn in router.nodes),
    )
    router.start()
    while not stop.wait(status_every):
        log.info("%s", status_line(router, config))
    log.info("stopping: draining (up to %.0fs)", drain_timeout)
    router.drain(timeout=drain_timeout)
    log.info("stopped; %s", status_line(router, config))
    return 0


def status_line(router: CallRouter, config: Config) -> str:
    """One line of counts: calls by state, agents by state, totals since start."""
    calls: dict[str, int] = {}
    for call in router.calls.values():
        calls[call.state] = calls.get(call.state, 0) + 1
    agents: dict[str, int] = {}
    for agent in list(router.phones):
        state = router.core.agent_info(agent)["state"]
        agents[state] = agents.get(state, 0) + 1
    s = router.stats
    return (
        f"calls {', '.join(f'{k} {v}' for k, v in sorted(calls.items())) or 'none'}; "
        f"agents {', '.join(f'{k} {v}' for k, v in sorted(agents.items()))}; "
        f"since start: offered {s.offered}, answered {s.answered}, abandoned {s.abandoned}, "
        f"re-queued {s.requeued}, adopted {s.adopted}"
    )

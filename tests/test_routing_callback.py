"""Callbacks: the caller hangs up and keeps their place; the agent is rung first, then the customer."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from router.config import Config, ConfigError, parse_config
from router.config.model import Callback, Overflow
from router.sim.freeswitch import Endpoint
from tests.routing_env import BASE_TOML, Env, agents_toml, make_config, routing_env, wait_until

CALLBACK = '\n[calls.callback]\ndial = "sofia/gateway/pstn/{number}"\nkey = "2"\ncaller_id = "95555"\n'
TWO_AGENTS = agents_toml(("a1", "sales = 5"), ("a2", "sales = 5"))
CUSTOMER = "sofia/gateway/pstn/5551000"


def _gone(env: Env, uuid: str) -> bool:
    channel = env.sim.channels.get(uuid)
    return channel is None or channel.gone


def _asks_for_callback(env: Env) -> str:
    """A caller (5551000) who waits, presses the callback key and is hung up by the router."""
    caller = env.call("5551000")
    wait_until(lambda: caller in env.router.core.waiting_calls(), what="queued")
    env.sim.send_dtmf(caller, "2")
    wait_until(lambda: _gone(env, caller), timeout=5.0, what="caller hung up by us")
    return caller


def _position(env: Env, call: str) -> int:
    return env.router.core.call_position(call, env.router.now())[0]


def _parse(extra: str) -> Config:
    return parse_config(tomllib.loads(BASE_TOML + extra), Path("/tmp/callback.toml"))


def _config(extra: str = "", **callback: object) -> Config:
    config = make_config(TWO_AGENTS + CALLBACK + extra)
    assert config.calls.callback is not None
    fields = {"retry_after": 0.2, "confirm": "ivr/ivr-thank_you.wav", **callback}
    import dataclasses

    cb = dataclasses.replace(config.calls.callback, **fields)  # type: ignore[arg-type]
    return dataclasses.replace(config, calls=dataclasses.replace(config.calls, callback=cb))


def test_callback_settings_are_parsed_and_checked() -> None:
    cb = _parse(CALLBACK).calls.callback
    assert cb == Callback("sofia/gateway/pstn/{number}", "2", "ivr/ivr-thank_you.wav", "95555")
    assert _parse("").calls.callback is None
    rule = _parse(CALLBACK + '\n[[calls.overflow]]\nqueue = "sales"\nafter = 60\ncallback = true\n').calls.overflow
    assert rule == (Overflow(60, "sales", None, None, None, True),)
    for bad, where in (
        ('\n[calls.callback]\nkey = "2"\n', "calls.callback.dial: missing"),
        ('\n[calls.callback]\ndial = "sofia/gateway/pstn/5551000"\n', "must contain {number}"),
        ('\n[calls.callback]\ndial = "sofia/gateway/pstn/{number},x"\n', "cannot carry"),
        ('\n[calls.callback]\ndial = "user/{number}"\nkey = "22"\n', "calls.callback.key"),
        ('\n[calls.callback]\ndial = "user/{number}"\ncaller_id = "95555 x"\n', "calls.callback.caller_id"),
        ('\n[calls.callback]\ndial = "user/{number}"\nattempts = 0\n', "calls.callback.attempts"),
        ('\n[calls.callback]\ndial = "user/{number}"\nretry_after = -1\n', "calls.callback.retry_after"),
        ('\n[calls.callback]\ndial = "user/{number}"\nringtime = 3\n', "calls.callback.ringtime: unknown key"),
        ('\n[calls.callback]\ndial = "user/{number}"\nclass = "gold"\n', "calls.callback.class: unknown class"),
        ('\n[[calls.overflow]]\nafter = 60\ncallback = true\n', "calls.callback: is required"),
        ('\n[[calls.overflow]]\nafter = 60\ncallback = false\n', "only callback = true"),
        (CALLBACK + '\n[[calls.overflow]]\nafter = 60\ncallback = true\nto = "advisory"\n', "exactly one of"),
    ):
        with pytest.raises(ConfigError, match=where):
            _parse(bad)
    with pytest.raises(ConfigError, match="also an exit key"):
        _parse(CALLBACK.replace("[calls.callback]", "[calls.exit_keys]\n2 = \"voicemail\"\n[calls.callback]"))
    with pytest.raises(ConfigError, match="calls.callback: is required"):
        parse_config(
            tomllib.loads(BASE_TOML.replace("[calls]\n", '[calls]\nrefuse_action = "callback"\n', 1)),
            Path("/tmp/callback.toml"),
        )
    with pytest.raises(ConfigError, match="calls.exempt_classes: unknown class 'tradng'"):
        parse_config(
            tomllib.loads(BASE_TOML.replace("[calls]\n", '[calls]\nexempt_classes = ["tradng"]\n', 1)),
            Path("/tmp/callback.toml"),
        )


pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")


def test_caller_presses_the_key_hangs_up_keeps_place_and_is_called_back_agent_first() -> None:
    with routing_env(_config()) as env:
        for agent in ("a1", "a2"):
            env.router.agent_logout(agent)
        caller = env.call("5551000")
        wait_until(lambda: caller in env.router.core.waiting_calls(), what="queued")
        later = env.call("5551009")
        wait_until(lambda: len(env.router.core.waiting_calls()) == 2, what="both queued")
        env.sim.send_dtmf(caller, "2")
        wait_until(lambda: _gone(env, caller), timeout=5.0, what="the caller hung up by us")
        assert env.sent(f"sendmsg {caller}")  # the confirmation, then the hangup
        assert env.router.stats.abandoned == 0 and env.router.stats.callbacks == {"pressed 2": 1}
        assert _position(env, caller) == 1 and _position(env, later) == 2  # still first
        assert env.router.lines == {"other": 1}  # the caller we call back holds no line
        env.agent("a1", Endpoint("answer", answer_delay=0.2))
        env.sim.add_endpoint(CUSTOMER, Endpoint("answer", answer_delay=0.5))
        env.router.agent_ready("a1")
        agent_leg = wait_until(lambda: env.router.calls[caller].leg, what="agent rung")
        assert env.router.lines == {"other": 2}  # its line is held from the moment the agent rings
        customer = wait_until(lambda: env.router.calls[caller].cust_leg, timeout=5.0, what="customer rung")
        (ring,) = wait_until(lambda: [c for c in env.sent("bgapi originate") if CUSTOMER in c], what="ring")
        assert "origination_caller_id_number=95555" in ring and f"esl_router_callback={caller}" in ring
        agent_ring = next(c for c in env.sent("bgapi originate") if "user/a1" in c)
        assert "origination_caller_id_name=callback" in agent_ring  # as in captures d12
        first_agent_ring = env.commands.index(agent_ring)
        assert first_agent_ring < env.commands.index(ring)  # agent first, then the customer
        wait_until(lambda: env.bridged(customer) == agent_leg, timeout=5.0, what="customer bridged to agent")
        wait_until(lambda: env.router.stats.callbacks_connected == 1, what="the router saw the bridge")
        assert env.router.stats.answered == 1 and env.router.lines == {"other": 2}
        assert env.state("a1") == "on_call" and later in env.router.core.waiting_calls()
        env.sim.caller_hangup(customer)
        wait_until(lambda: caller not in env.router.calls, what="callback finished")
        assert env.kinds("finished")[0]["agent"] == "a1"
        assert env.router.stats.finished == 1 and env.router.stats.lost == 0
        assert env.router.lines == {"other": 1}


def test_unanswered_callback_retries_then_gives_up_without_blaming_the_agent() -> None:
    with routing_env(_config(attempts=2)) as env:
        env.router.agent_logout("a2")
        env.agent("a1", Endpoint("answer"), Endpoint("answer"))
        env.sim.add_endpoint(CUSTOMER, Endpoint("no_answer"))
        env.router.agent_logout("a1")
        caller = _asks_for_callback(env)
        env.router.agent_ready("a1")
        wait_until(lambda: env.router.stats.callbacks_failed == 1, timeout=10.0, what="given up")
        assert sum(env.router.lines.values()) == 0  # the line held for each try is given back
        assert [d["attempt"] for d in env.kinds("callback_missed")] == [1, 2]
        assert env.router.stats.callback_misses == {"NO_ANSWER": 2}
        assert caller not in env.router.calls and env.router.core.waiting_calls() == []
        assert env.router.phones["a1"].misses == 0
        wait_until(lambda: env.state("a1") == "available", what="agent free again")
        wait_until(lambda: all(c.gone for c in env.sim.channels.values()), what="every leg hung up")


def test_overflow_and_admission_offer_callbacks_keeping_the_enqueue_time() -> None:
    overflow = '\n[[calls.overflow]]\nqueue = "sales"\nafter = 0.3\ncallback = true\n'
    with routing_env(_config(overflow)) as env:
        for agent in ("a1", "a2"):
            env.router.agent_logout(agent)
        caller = env.call("5551000")
        anonymous = env.call("anonymous")  # no number to call back: stays on hold
        wait_until(lambda: env.router.stats.callbacks == {"maximum wait": 1}, timeout=5.0, what="overflow")
        wait_until(lambda: _gone(env, caller), timeout=5.0, what="caller hung up by us")
        assert not _gone(env, anonymous) and env.router.calls[anonymous].callback is None
        assert _position(env, caller) == 1 and _position(env, anonymous) == 2
    config = make_config(TWO_AGENTS + CALLBACK)
    import dataclasses

    config = dataclasses.replace(
        config, calls=dataclasses.replace(config.calls, refuse_action="callback", max_expected_wait=1.0)
    )
    with routing_env(config) as env:
        for agent in ("a1", "a2"):
            env.router.agent_logout(agent)
        caller = env.call("5551000")  # nobody staffed: refused a line, queued for a callback
        wait_until(lambda: env.router.stats.callbacks == {"no line": 1}, what="callback on refusal")
        wait_until(lambda: _gone(env, caller), timeout=5.0, what="caller hung up by us")
        assert env.router.core.waiting_calls() == [caller] and env.router.stats.refused
        assert not env.sent(f"api uuid_transfer {caller}")


def test_agent_hanging_up_while_the_customer_rings_requeues_the_callback_at_once() -> None:
    with routing_env(_config()) as env:
        env.router.agent_logout("a2")
        env.router.agent_logout("a1")
        caller = _asks_for_callback(env)
        env.agent("a1", Endpoint("answer"))
        env.sim.add_endpoint(CUSTOMER, Endpoint("no_answer"))
        env.router.agent_ready("a1")
        agent_leg = wait_until(
            lambda: env.router.calls[caller].cust_leg and env.router.calls[caller].leg, timeout=5.0,
            what="customer ringing",
        )
        env.sim.caller_hangup(agent_leg)
        wait_until(lambda: env.kinds("callback_missed"), what="callback missed")
        assert env.kinds("callback_missed")[0]["cause"] == "AGENT_HUNG_UP"
        assert env.router.calls[caller].callback.tries == 0  # type: ignore[union-attr]
        assert env.router.core.waiting_calls() == [caller]
        assert env.agent_states("a1")[-1] == "wrap_up"


def test_a_waiting_callback_survives_a_dropped_connection() -> None:
    with routing_env(_config()) as env:
        for agent in ("a1", "a2"):
            env.router.agent_logout(agent)
        caller = _asks_for_callback(env)
        later = env.call("5551009")
        wait_until(lambda: len(env.router.core.waiting_calls()) == 2, what="both queued")
        for lst in list(env.sim.listeners):  # FreeSWITCH drops the socket
            lst.sock.close()  # type: ignore[attr-defined]
        wait_until(lambda: env.router.conn.connects == 2, timeout=5, what="reconnection")
        wait_until(lambda: len(env.router.core.waiting_calls()) == 2, timeout=5, what="re-adopted")
        assert _position(env, caller) == 1 and _position(env, later) == 2
        assert env.router.calls[caller].callback is not None and env.router.stats.lost == 0
        env.agent("a1", Endpoint("answer"))
        env.sim.add_endpoint(CUSTOMER, Endpoint("answer"))
        env.router.agent_ready("a1")
        wait_until(lambda: env.router.stats.callbacks_connected == 1, timeout=5.0, what="called back")


def test_pending_callbacks_survive_a_router_restart_through_the_state_file(tmp_path: Path) -> None:
    import dataclasses

    from router.routing import CallRouter

    config = _config()
    assert config.calls.callback is not None
    state = tmp_path / "callbacks.json"
    cb = dataclasses.replace(config.calls.callback, state_file=state)
    config = dataclasses.replace(config, calls=dataclasses.replace(config.calls, callback=cb))
    with routing_env(config) as env:
        for agent in ("a1", "a2"):
            env.router.agent_logout(agent)
        caller = _asks_for_callback(env)
        later = env.call("5551009")
        wait_until(lambda: len(env.router.core.waiting_calls()) == 2, what="both queued")
        enqueued_at = env.router.calls[caller].enqueued_at
        env.router.drain(timeout=0.5)
        assert '"number": "5551000"' in state.read_text()
        successor = CallRouter(config, password="ClueCon", port=env.sim.port)
        rung: list[str] = []
        successor.listeners.append(lambda kind, d: rung.append(d["call"].uuid) if kind == "ringing" else None)
        try:
            env.agent("a1", Endpoint("answer"))
            env.sim.add_endpoint(CUSTOMER, Endpoint("answer"))
            successor.start()
            assert successor.wait_ready(5)
            assert successor.calls[caller].callback is not None
            # its place: the enqueue time of the first router, earlier than the later caller's
            assert successor.core.call_info(caller)["enqueued_at"] == pytest.approx(enqueued_at)
            assert successor.core.call_info(later)["enqueued_at"] > enqueued_at
            wait_until(lambda: successor.stats.callbacks_connected == 1, timeout=5.0, what="called back")
            assert rung[0] == caller  # the first agent free takes the callback, not the later caller
            wait_until(lambda: '"callbacks": []' in state.read_text(), what="state file emptied")
        finally:
            successor.stop()


def test_an_unreadable_state_file_is_set_aside_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from router.routing import callback_store

    state = tmp_path / "callbacks.json"
    state.write_text("{not json")
    assert callback_store.load(state) == []
    assert (tmp_path / "callbacks.json.bad").read_text() == "{not json" and not state.exists()
    assert "NOT restored" in caplog.text
    good = callback_store.StoredCallback("u-1", "sales", "other", "main", "5551000", "pressed 2", 1, 10.0, 20.0)
    state.write_text(
        '{"version": 1, "callbacks": [{"uuid": "u 1\\r\\n"}, '
        + '{"uuid": "u-2", "queue": "sales", "cls": "other", "home": "main", "number": "555;x", '
        + '"why": "x", "tries": 0, "enqueued_at": 1}]}'
    )
    assert callback_store.load(state) == [] and "entry 1 skipped: bad number" in caplog.text
    callback_store.save(state, [good])
    assert callback_store.load(state) == [good]


def test_the_commented_example_sections_are_valid_when_uncommented(tmp_path: Path) -> None:
    from router.config import load_config

    example = Path(__file__).resolve().parent.parent / "examples" / "single_centre_50.toml"
    text = example.read_text()
    tail = text[text.index("# Callbacks (uncomment") :]
    uncommented = "\n".join(
        line[2:] for line in tail.splitlines() if line.startswith("# [") or line.startswith("# ") and "=" in line
    )
    (tmp_path / "customers_single_centre.csv").write_text((example.parent / "customers_single_centre.csv").read_text())
    path = tmp_path / "example.toml"
    path.write_text(text + "\n" + uncommented + "\n")
    calls = load_config(path).calls
    assert calls.callback is not None and calls.callback.key == "9"
    assert [t.name for t in calls.trusted_trunks] == ["sbc"]


def test_a_callback_waits_in_its_own_class_keeping_its_enqueue_time() -> None:
    from router.routing.directory import CsvDirectory, Customer

    with routing_env(_config(cls="other"), directory=CsvDirectory([Customer("5551000", "trading", "main")])) as env:
        for agent in ("a1", "a2"):
            env.router.agent_logout(agent)
        caller = env.call("5551000")
        wait_until(lambda: caller in env.router.core.waiting_calls(), what="queued")
        info = env.router.core.call_info(caller)
        assert info["cls"] == "trading"
        env.sim.send_dtmf(caller, "2")
        wait_until(lambda: env.router.core.call_info(caller)["cls"] == "other", what="in the callback class")
        assert env.router.core.call_info(caller)["enqueued_at"] == pytest.approx(info["enqueued_at"])
        assert sum(env.router.lines.values()) == 0


def test_a_callback_is_not_dialled_while_no_line_is_free_and_the_agent_takes_a_live_caller() -> None:
    import dataclasses

    config = _config()
    config = dataclasses.replace(config, centres=(dataclasses.replace(config.centres[0], lines=1),))
    with routing_env(config) as env:
        for agent in ("a1", "a2"):
            env.router.agent_logout(agent)
        caller = _asks_for_callback(env)
        live = env.call("5551009")  # takes the only line
        wait_until(lambda: live in env.router.core.waiting_calls(), what="live caller queued")
        env.agent("a1", Endpoint("answer"))
        env.router.agent_ready("a1")
        wait_until(lambda: env.bridged(live), timeout=5.0, what="the live caller answered")
        (deferred,) = env.kinds("callback_deferred")
        assert deferred["call"].uuid == caller and deferred["reason"] == "lines_full"
        assert env.router.calls[caller].callback.retry_at is not None  # type: ignore[union-attr]
        assert not [c for c in env.sent("bgapi originate") if CUSTOMER in c]  # never dialled

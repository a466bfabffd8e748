"""The `[esl]` and `[calls]` sections: where FreeSWITCH is and how the router handles calls.

Both are optional; every key has a default (see `EslSettings` and `CallSettings`). Values that end
up inside ESL commands (the agent dial string, the hold music) are checked here, so that a typo is
a config error at start-up rather than a refused command at the first call.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from router.config.checks import Checker, choices
from router.config.model import Callback, CallSettings, EslSettings, Overflow, Trunk

# What may appear in a dial string around {agent}: the characters of router.esl.protocol's
# endpoint check (no space, comma, brace or quote can reach the originate command).
_ENDPOINT = re.compile(r"[A-Za-z0-9_./@:+*#=-]+")
_DIGITS = re.compile(r"[0-9*#]{1,16}")
_EXTENSION = re.compile(r"[A-Za-z0-9_.+*#-]{1,64}")
REFUSE_ACTIONS = ("hangup", "transfer", "callback")


def parse_esl(checker: Checker, value: Any) -> EslSettings:
    """`[esl]` host, port, password."""
    if value is None:
        return EslSettings()
    tbl = checker.table(value, "esl", ("host", "port", "password", "nodes"))
    if tbl is None:
        return EslSettings()
    nodes: list[tuple[str, int]] = []
    for raw in (checker.string_list(tbl, "esl", "nodes") or ()) if "nodes" in tbl else ():
        node_host, sep, port_text = raw.rpartition(":")
        bad = not sep or not node_host or any(c.isspace() for c in node_host)
        if bad or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            checker.error("esl.nodes", f"{raw!r} is not host:port, e.g. 10.0.0.5:8021")
        elif (node_host, int(port_text)) in nodes:
            checker.error("esl.nodes", f"{raw!r} is listed twice")
        else:
            nodes.append((node_host, int(port_text)))
    if nodes and ("host" in tbl or "port" in tbl):
        checker.error("esl.nodes", "give either nodes or host and port, not both")
    host = checker.string(tbl, "esl", "host", nonempty=True) if "host" in tbl else "127.0.0.1"
    port = checker.integer(tbl, "esl", "port", default=8021, lo=1, hi=65535)
    password: str | None = None
    if "password" in tbl:
        password = checker.string(tbl, "esl", "password", nonempty=True)
        if password is not None and any(c.isspace() for c in password):
            checker.error("esl.password", "must not contain spaces or line breaks")
            password = None
        elif password == "ClueCon":
            checker.warn(
                "esl.password",
                "is FreeSWITCH's well-known default; set a password of your own in "
                "event_socket.conf.xml and here (or in ESL_ROUTER_ESL_PASSWORD)",
            )
    return EslSettings(host or "127.0.0.1", port or 8021, password, tuple(nodes))


def parse_calls(
    checker: Checker,
    value: Any,
    queue_names: list[str],
    class_names: list[str] | None = None,
    base: Path | None = None,
) -> CallSettings:
    """`[calls]`: agent dial string, ring timeout, wrap-up, misses, hold music, IVR map."""
    if value is None:
        return CallSettings()
    allowed = (
        "agent_endpoint",
        "ring_timeout",
        "wrap_up",
        "miss_delay",
        "max_misses",
        "hold_music",
        "fallback_music",
        "default_queue",
        "ivr",
        "max_expected_wait",
        "exempt_classes",
        "refuse_action",
        "refuse_extension",
        "refuse_message",
        "overflow",
        "announce_every",
        "announce_position",
        "announce_wait",
        "announce_language",
        "exit_keys",
        "callback",
        "trusted_trunks",
    )
    tbl = checker.table(value, "calls", allowed)
    if tbl is None:
        return CallSettings()
    d = CallSettings()
    endpoint = d.agent_endpoint
    if "agent_endpoint" in tbl:
        got = checker.string(tbl, "calls", "agent_endpoint", nonempty=True)
        if got is not None and "{agent}" not in got:
            checker.error(
                "calls.agent_endpoint", 'must contain {agent}, e.g. "user/{agent}" or '
                '"sofia/internal/{agent}@pbx.example.com"'
            )
        elif got is not None and not _ENDPOINT.fullmatch(got.replace("{agent}", "a")):
            checker.error(
                "calls.agent_endpoint",
                f"{got!r} has characters a dial string cannot carry (spaces, commas, braces, "
                "quotes); use letters, digits and ._/@:+*#=-",
            )
        elif got is not None:
            endpoint = got
    ring = checker.integer(tbl, "calls", "ring_timeout", default=d.ring_timeout, lo=1, hi=600)
    wrap_up = _seconds(checker, tbl, "wrap_up", d.wrap_up)
    miss_delay = _seconds(checker, tbl, "miss_delay", d.miss_delay)
    max_misses = checker.integer(tbl, "calls", "max_misses", default=d.max_misses, lo=1)
    music = {
        name: _media(checker, tbl, name, getattr(d, name))
        for name in ("hold_music", "fallback_music")
    }
    default_queue = None
    if "default_queue" in tbl:
        default_queue = checker.string(tbl, "calls", "default_queue", nonempty=True)
        if default_queue is not None and queue_names and default_queue not in queue_names:
            checker.error(
                "calls.default_queue",
                f"unknown queue {default_queue!r}; {choices(default_queue, queue_names)}",
            )
            default_queue = None
    ivr = _ivr(checker, tbl.get("ivr", {}), queue_names)
    max_ewt = _seconds(checker, tbl, "max_expected_wait", d.max_expected_wait)
    exempt = d.exempt_classes
    if "exempt_classes" in tbl:
        got_list = checker.string_list(tbl, "calls", "exempt_classes")
        unknown = [c for c in got_list or () if class_names and c not in class_names]
        for name in unknown:
            checker.error("calls.exempt_classes", f"unknown class {name!r}; {choices(name, class_names or [])}")
        if got_list is not None and not unknown:
            exempt = tuple(got_list)
    action = checker.choice(
        tbl, "calls", "refuse_action", REFUSE_ACTIONS, default=d.refuse_action
    ) or d.refuse_action
    extension = d.refuse_extension
    if "refuse_extension" in tbl:
        got = checker.string(tbl, "calls", "refuse_extension", nonempty=True)
        if got is not None and not _EXTENSION.fullmatch(got):
            checker.error(
                "calls.refuse_extension", f"{got!r}: use letters, digits and _.+*#- only"
            )
        elif got is not None:
            extension = got
    announce_every = _seconds(checker, tbl, "announce_every", d.announce_every)
    announce = {
        name: _media(checker, tbl, name, getattr(d, name))
        for name in ("announce_position", "announce_wait")
    }
    language = d.announce_language
    if "announce_language" in tbl:
        got = checker.string(tbl, "calls", "announce_language", nonempty=True)
        if got is not None and not _EXTENSION.fullmatch(got):
            checker.error("calls.announce_language", f"{got!r}: a say module name, e.g. en")
        elif got is not None:
            language = got
    exit_keys: dict[str, str] = {}
    for digit, ext in (checker.table(tbl.get("exit_keys", {}), "calls.exit_keys", None) or {}).items():
        if not re.fullmatch(r"[0-9*#]", digit):
            checker.error(f"calls.exit_keys.{digit}", "a key is one digit, * or #")
        elif not isinstance(ext, str) or not _EXTENSION.fullmatch(ext):
            checker.error(f"calls.exit_keys.{digit}", f"{ext!r}: an extension of letters, digits, _.+*#-")
        else:
            exit_keys[digit] = ext
    callback = _callback(checker, tbl["callback"], base, class_names or []) if "callback" in tbl else None
    trunks = _trunks(checker, tbl.get("trusted_trunks", []))
    if callback is not None and callback.key is not None and callback.key in exit_keys:
        checker.error(
            "calls.callback.key", f"{callback.key!r} is also an exit key; give each key one use"
        )
    overflow = _overflow(checker, tbl.get("overflow", []), queue_names, class_names or [])
    wants_callback = action == "callback" or any(rule.callback for rule in overflow)
    if wants_callback and callback is None and "callback" not in tbl:
        checker.error(
            "calls.callback",
            'is required by refuse_action = "callback" or an overflow rule with callback = true; '
            'add [calls.callback] with at least dial = "sofia/gateway/<gateway>/{number}"',
        )
    if action == "transfer" and extension is None:
        checker.error(
            "calls.refuse_extension",
            'is required with refuse_action = "transfer" (e.g. the voicemail extension)',
        )
    message = d.refuse_message
    if "refuse_message" in tbl:
        message = _media(checker, tbl, "refuse_message", d.refuse_message or "")
        message = message or None
    return CallSettings(
        agent_endpoint=endpoint,
        ring_timeout=ring or d.ring_timeout,
        wrap_up=wrap_up,
        miss_delay=miss_delay,
        max_misses=max_misses or d.max_misses,
        hold_music=music["hold_music"],
        fallback_music=music["fallback_music"],
        default_queue=default_queue,
        ivr=ivr,
        max_expected_wait=max_ewt,
        exempt_classes=exempt,
        refuse_action=action,
        refuse_extension=extension,
        refuse_message=message,
        overflow=overflow,
        announce_every=announce_every,
        announce_position=announce["announce_position"],
        announce_wait=announce["announce_wait"],
        announce_language=language,
        exit_keys=exit_keys,
        callback=callback,
        trusted_trunks=trunks,
    )


_HEADER = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")


def _trunks(checker: Checker, value: Any) -> tuple[Trunk, ...]:
    """``[[calls.trusted_trunks]]``: name, networks, and the headers believed from them."""
    headers = ("class_header", "home_header", "number_header")
    trunks = []
    seen: set[str] = set()
    for key, item in checker.array_of_tables(value, "calls.trusted_trunks"):
        tbl = checker.table(item, key, ("name", "networks", *headers), required=("name", "networks"))
        if tbl is None or "name" not in tbl or "networks" not in tbl:
            continue
        name = checker.name(tbl, key, "name", seen, "trunk")
        nets = []
        for raw in checker.string_list(tbl, key, "networks") or ():
            try:
                nets.append(ipaddress.ip_network(raw, strict=True))
            except ValueError as exc:
                checker.error(f"{key}.networks", f"{raw!r} is not an address or network ({exc}); e.g. 10.0.0.0/24")
        if not nets:
            checker.error(f"{key}.networks", "name at least one address or network")
        found: dict[str, str | None] = {}
        for header in headers:
            got = checker.string(tbl, key, header, nonempty=True) if header in tbl else None
            if got is not None and not _HEADER.fullmatch(got):
                checker.error(f"{key}.{header}", f"{got!r} is not a SIP header name (letters, digits, -)")
                got = None
            found[header] = got
        if not any(h in tbl for h in headers):
            checker.error(key, f"name at least one of {', '.join(headers)} (else the trunk means nothing)")
        if name is not None and nets:
            trunks.append(Trunk(name, tuple(nets), **found))
    return tuple(trunks)


def _callback(checker: Checker, value: Any, base: Path | None, class_names: list[str]) -> Callback | None:
    """``[calls.callback]``: dial (required), key, confirm, caller_id, ring_timeout, attempts,
    retry_after, agent_tone, class, state_file."""
    key = "calls.callback"
    allowed = (
        "dial", "key", "confirm", "caller_id", "ring_timeout", "attempts", "retry_after", "agent_tone",
        "class", "state_file",
    )
    tbl = checker.table(value, key, allowed, required=("dial",))
    if tbl is None or "dial" not in tbl:
        return None
    d = Callback(dial="")
    ok = True
    dial = checker.string(tbl, key, "dial", nonempty=True)
    if dial is not None and "{number}" not in dial:
        checker.error(f"{key}.dial", 'must contain {number}, e.g. "sofia/gateway/pstn/{number}"')
        ok = False
    elif dial is not None and not _ENDPOINT.fullmatch(dial.replace("{number}", "0")):
        checker.error(
            f"{key}.dial",
            f"{dial!r} has characters a dial string cannot carry (spaces, commas, braces, "
            "quotes); use letters, digits and ._/@:+*#=-",
        )
        ok = False
    digit = d.key
    if "key" in tbl:
        digit = checker.string(tbl, key, "key", nonempty=True)
        if digit is not None and not re.fullmatch(r"[0-9*#]", digit):
            checker.error(f"{key}.key", "a key is one digit, * or #")
            ok = False
    caller_id = d.caller_id
    if "caller_id" in tbl:
        caller_id = checker.string(tbl, key, "caller_id", nonempty=True)
        if caller_id is not None and not re.fullmatch(r"\+?[0-9]{1,20}", caller_id):
            checker.error(f"{key}.caller_id", f"{caller_id!r}: a number of digits (and a leading +)")
            ok = False
    confirm = d.confirm
    if "confirm" in tbl:
        confirm = _media(checker, tbl, "confirm", "", section=key) or None
    tone = _media(checker, tbl, "agent_tone", d.agent_tone, section=key)
    ring = checker.integer(tbl, key, "ring_timeout", default=d.ring_timeout, lo=1, hi=600)
    attempts = checker.integer(tbl, key, "attempts", default=d.attempts, lo=1, hi=100)
    retry = checker.number(tbl, key, "retry_after", default=d.retry_after)
    if retry is not None and retry < 0:
        checker.error(f"{key}.retry_after", f"must be >= 0 seconds, not {retry:g}")
        retry = None
    cls = checker.string(tbl, key, "class", nonempty=True) if "class" in tbl else None
    if cls is not None and class_names and cls not in class_names:
        checker.error(f"{key}.class", f"unknown class {cls!r}; {choices(cls, class_names)}")
        ok = False
    state_file = None
    if "state_file" in tbl:
        got = checker.string(tbl, key, "state_file", nonempty=True)
        if got is not None:
            state_file = Path(got) if base is None else base / got
            if state_file.is_dir():
                checker.error(f"{key}.state_file", f"{state_file} is a directory; name a file in it")
                ok = False
    if not ok or None in (dial, ring, attempts, retry):
        return None
    assert dial is not None and ring is not None and attempts is not None and retry is not None
    return Callback(dial, digit, confirm, caller_id, ring, attempts, retry, tone, cls, state_file)


def _seconds(checker: Checker, tbl: dict[str, Any], name: str, default: float) -> float:
    value = checker.number(tbl, "calls", name, default=default)
    if value is None:
        return default
    if value < 0:
        checker.error(f"calls.{name}", f"must be >= 0 seconds, not {value:g}")
        return default
    return value


def _media(
    checker: Checker, tbl: dict[str, Any], name: str, default: str, *, section: str = "calls"
) -> str:
    if name not in tbl:
        return default
    value = checker.string(tbl, section, name, nonempty=True)
    if value is None:
        return default
    if any(c.isspace() or ord(c) < 32 for c in value):
        checker.error(f"{section}.{name}", "must not contain spaces or control characters")
        return default
    return value


def _ivr(checker: Checker, value: Any, queue_names: list[str]) -> dict[str, str]:
    tbl = checker.table(value, "calls.ivr", None)
    result: dict[str, str] = {}
    for digits, queue in (tbl or {}).items():
        key = f"calls.ivr.{digits}"
        if not _DIGITS.fullmatch(digits):
            checker.error(key, "IVR keys are 1 to 16 digits (0-9, * or #)")
        elif not isinstance(queue, str) or (queue_names and queue not in queue_names):
            shown = queue if isinstance(queue, str) else str(queue)
            checker.error(key, f"unknown queue {shown!r}; {choices(shown, queue_names)}")
        else:
            result[digits] = queue
    return result


def _overflow(
    checker: Checker, value: Any, queue_names: list[str], class_names: list[str]
) -> tuple[Overflow, ...]:
    """``[[calls.overflow]]``: queue, class (optional), after (seconds), and one of to /
    extension / callback = true."""
    if not isinstance(value, list):
        checker.error("calls.overflow", "must be an array of tables ([[calls.overflow]])")
        return ()
    rules = []
    for i, item in enumerate(value):
        key = f"calls.overflow[{i}]"
        tbl = checker.table(
            item, key, ("queue", "class", "after", "to", "extension", "callback"), required=("after",)
        )
        if tbl is None:
            continue
        after = checker.number(tbl, key, "after")
        if after is not None and after < 0:
            checker.error(f"{key}.after", f"must be >= 0 seconds, not {after:g}")
            after = None
        names: dict[str, str | None] = {}
        for name, known in (("queue", queue_names), ("class", class_names), ("to", queue_names)):
            got = checker.string(tbl, key, name, nonempty=True) if name in tbl else None
            if got is not None and known and got not in known:
                checker.error(f"{key}.{name}", f"unknown {'class' if name == 'class' else 'queue'} {got!r}; {choices(got, known)}")
                got = None
            names[name] = got
        extension = checker.string(tbl, key, "extension", nonempty=True) if "extension" in tbl else None
        if extension is not None and not _EXTENSION.fullmatch(extension):
            checker.error(f"{key}.extension", f"{extension!r}: use letters, digits and _.+*#- only")
            extension = None
        callback = checker.boolean(tbl, key, "callback", default=False)
        if callback is False and "callback" in tbl:
            checker.error(f"{key}.callback", "only callback = true means anything; leave it out")
            continue
        if [name in tbl for name in ("to", "extension", "callback")].count(True) != 1:
            checker.error(
                key, "give exactly one of to (another queue), extension (voicemail...) or callback = true"
            )
            continue
        if names["to"] is not None and names["to"] == names["queue"]:
            checker.error(f"{key}.to", "overflows to its own queue; name another queue")
            continue
        if after is not None and (names["to"] is not None or extension is not None or callback):
            rules.append(
                Overflow(after, names["queue"], names["class"], names["to"], extension, bool(callback))
            )
    return tuple(rules)

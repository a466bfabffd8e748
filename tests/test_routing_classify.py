"""Classification and the customer directory: every input is untrusted and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.config import ConfigError, load_config
from router.routing.classify import classify, unknown_class
from router.routing.directory import CsvDirectory, EmptyDirectory, normalise_number
from tests.routing_env import make_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _dir(tmp_path: Path, text: str) -> CsvDirectory:
    path = tmp_path / "customers.csv"
    path.write_text(text)
    return CsvDirectory.load(path, make_config(""))


def test_directory_lookup_and_classification(tmp_path: Path) -> None:
    directory = _dir(
        tmp_path,
        "number,class,home,agent,account\n+8613800000001,trading,main,a7,A-1\n8613900000002,registered,,,\n",
    )
    assert len(directory) == 2
    config = make_config("")
    info = classify(
        {"Caller-Caller-ID-Number": "+8613800000001", "variable_esl_router_queue": "advisory"},
        config,
        directory,
    )
    assert (info.queue, info.cls, info.home, info.caller) == ("advisory", "trading", "main", "8613800000001")
    assert info.preferred_agent == "a7" and info.preferred == (("cantonese", 1.0),)
    info = classify({"Caller-Caller-ID-Number": "8613900000002"}, config, directory)
    assert (info.cls, info.home, info.queue) == ("registered", "main", "sales")  # default queue


def test_unknown_callers_are_other(tmp_path: Path) -> None:
    config = make_config("")
    info = classify({"Caller-Caller-ID-Number": "5550000"}, config, EmptyDirectory())
    assert info.cls == "other" and info.customer is None and info.home == "main"
    assert unknown_class(config) == "other"


@pytest.mark.parametrize(
    "cid",
    [
        "555\r\napi uuid_kill all",
        "555%0Aapi",
        '555" onerror',
        "5551000,origination_uuid=x",
        "{x=y}5551000",
        "anonymous",
        "",
        "1" * 40,
    ],
)
def test_hostile_caller_ids_are_unknown_callers(cid: str) -> None:
    info = classify({"Caller-Caller-ID-Number": cid}, make_config(""), EmptyDirectory())
    assert info.caller is None and info.cls == "other"
    assert all("\n" not in note and "\r" not in note for note in info.notes)


def test_queue_from_variable_ivr_digits_or_default() -> None:
    config = make_config("")
    d = EmptyDirectory()
    assert classify({"variable_esl_router_queue": "advisory"}, config, d).queue == "advisory"
    assert classify({"variable_esl_router_digits": "2"}, config, d).queue == "advisory"
    info = classify({"variable_esl_router_queue": "sales\r\nx", "variable_esl_router_digits": "2#;"}, config, d)
    assert info.queue == "sales"  # both unusable: the default queue
    assert any("unknown queue" in n for n in info.notes)
    assert any("ignored IVR digits" in n for n in info.notes)


def test_router_variables_are_checked() -> None:
    config = make_config("")
    d = EmptyDirectory()
    info = classify(
        {"variable_esl_router_enqueued_at": "1763740000.5", "variable_esl_router_fallback": "42"}, config, d
    )
    assert info.enqueued_at == 1763740000.5 and info.fallback_task == "42"
    info = classify(
        {"variable_esl_router_enqueued_at": "nan", "variable_esl_router_fallback": "42 all"}, config, d
    )
    assert info.enqueued_at is None and info.fallback_task is None


def test_normalise_number() -> None:
    assert normalise_number("+8613800000001") == "8613800000001"
    assert normalise_number("12") is None
    assert normalise_number("555 1000") is None


def test_directory_errors_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _dir(tmp_path, "number,class,home\nabc,trading,main\n5551,gold,main\n5552,other,mars\n5551,other,main\n")
    text = str(info.value)
    assert "customers.csv: line 2: number 'abc'" in text
    assert "line 3: unknown class 'gold'" in text
    assert "line 4: unknown home centre 'mars'" in text
    assert "line 5: number 5551 is listed twice" in text
    with pytest.raises(ConfigError, match="no 'class' column"):
        _dir(tmp_path, "number,home\n5551,main\n")


def test_calls_and_esl_sections(tmp_path: Path) -> None:
    config = make_config('[esl]\nhost = "10.0.0.5"\nport = 8022\n')
    assert (config.esl.host, config.esl.port, config.esl.password) == ("10.0.0.5", 8022, None)
    assert config.calls.ring_timeout == 2 and config.calls.ivr == {"1": "sales", "2": "advisory"}
    bad = tmp_path / "bad.toml"
    text = (EXAMPLES / "single_centre_50.toml").read_text().split("[customers]")[0]
    bad.write_text(
        text
        + '\n[calls]\nagent_endpoint = "user/{agent},x=1"\nring_timeout = 0\ndefault_queue = "trade"\n'
        'hold_music = "a b"\nivr = { "1x" = "trading", "2" = "nope" }\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    text = str(info.value)
    for key in (
        "calls.agent_endpoint",
        "calls.ring_timeout",
        "calls.default_queue: unknown queue 'trade'; did you mean 'trading'?",
        "calls.hold_music",
        "calls.ivr.1x",
        "calls.ivr.2: unknown queue 'nope'",
    ):
        assert key in text, key


TRUNK = (
    '\n[[calls.trusted_trunks]]\nname = "sbc"\nnetworks = ["10.20.0.0/16", "192.0.2.7"]\n'
    'class_header = "X-Caller-Class"\nhome_header = "X-Home-Centre"\nnumber_header = "X-Customer-Number"\n'
)


def _headers(source: str, **sip: str) -> dict[str, str]:
    headers = {"Caller-Caller-ID-Number": "5550000", "variable_sip_network_ip": source}
    headers.update({f"variable_sip_h_{name.replace('_', '-')}": value for name, value in sip.items()})
    return headers


def test_sip_headers_are_believed_only_from_trusted_trunks(tmp_path: Path) -> None:
    config = make_config(TRUNK)
    (trunk,) = config.calls.trusted_trunks
    assert trunk.admits("10.20.3.4") and trunk.admits("192.0.2.7") and not trunk.admits("10.21.0.1")
    assert not trunk.admits("") and not trunk.admits("10.20.0.1\r\n")
    directory = _dir(tmp_path, "number,class,home,agent,account\n8613800000001,trading,main,a7,\n")
    # from the SBC: the real customer number behind the trunk's caller ID, looked up
    info = classify(_headers("10.20.3.4", X_Customer_Number="+8613800000001"), config, directory)
    assert (info.cls, info.caller, info.preferred_agent) == ("trading", "8613800000001", "a7")
    info = classify(_headers("192.0.2.7", X_Caller_Class="registered", X_Home_Centre="main"), config, directory)
    assert (info.cls, info.home) == ("registered", "main")
    assert "class registered from a trusted trunk" in info.notes
    # the same headers from anyone else are ignored, and the note says so
    info = classify(_headers("203.0.113.9", X_Caller_Class="trading", X_Customer_Number="8613800000001"), config, directory)
    assert (info.cls, info.caller) == ("other", "5550000")
    assert any("not a trusted trunk" in n and "X-Caller-Class" in n for n in info.notes)
    # hostile or unknown values from a trusted trunk are refused, never passed on
    for hostile in ("trading\r\nX: y", "gold", "%0Atrading", "trading'"):
        info = classify(_headers("10.20.0.1", X_Caller_Class=hostile, X_Home_Centre=hostile), config, directory)
        assert (info.cls, info.home) == ("other", "main")
        assert all("\r" not in n and "\n" not in n for n in info.notes)
    info = classify(_headers("10.20.0.1", X_Customer_Number="555;drop"), config, directory)
    assert info.caller is None and info.cls == "other"


@pytest.mark.parametrize(
    ("toml", "where"),
    [
        ('\n[[calls.trusted_trunks]]\nname = "t"\nnetworks = ["10.0.0.300"]\nclass_header = "X-C"\n', r"calls\.trusted_trunks\[0\]\.networks"),
        ('\n[[calls.trusted_trunks]]\nname = "t"\nnetworks = ["10.0.0.1/8"]\nclass_header = "X-C"\n', "host bits set"),
        ('\n[[calls.trusted_trunks]]\nname = "t"\nnetworks = []\nclass_header = "X-C"\n', "at least one address"),
        ('\n[[calls.trusted_trunks]]\nname = "t"\nnetworks = ["10.0.0.1"]\n', "at least one of class_header"),
        ('\n[[calls.trusted_trunks]]\nname = "t"\nnetworks = ["10.0.0.1"]\nclass_header = "X C"\n', "not a SIP header name"),
        ('\n[[calls.trusted_trunks]]\nnetworks = ["10.0.0.1"]\nclass_header = "X-C"\n', r"calls\.trusted_trunks\[0\]\.name: missing"),
    ],
)
def test_bad_trusted_trunks_are_config_errors(toml: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        make_config(toml)


def test_a_trusted_trunk_header_classifies_a_call_end_to_end() -> None:
    from tests.routing_env import agents_toml, routing_env, wait_until

    trunk = TRUNK.replace('"10.20.0.0/16", "192.0.2.7"', '"127.0.0.0/8"')  # the simulator's SIP peer
    with routing_env(make_config(agents_toml(("a1", "sales = 5")) + trunk)) as env:
        env.router.agent_logout("a1")
        caller = env.call("5550000", variables={"sip_h_X-Caller-Class": "trading"})
        wait_until(lambda: caller in env.router.calls, what="taken")
        assert env.router.calls[caller].info.cls == "trading"
        assert env.router.core.call_info(caller)["cls"] == "trading"

"""The `esl-router` command line: check-config exit codes and output, the demo, --help."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.cli import default_config_path, main
from router.config import load_config
from router.demo import DemoResult, compress, make_callers, run_demo

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NATIONAL = EXAMPLES / "national_27plus1.toml"
SINGLE = EXAMPLES / "single_centre_50.toml"


def test_check_config_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(NATIONAL)]) == 0
    out, err = capsys.readouterr()
    assert "centres: 28 in 6 region(s)" in out
    assert "hq 126" in out  # agents per centre
    assert "complaints" in out and "trading (base 200" in out
    assert out.rstrip().endswith("OK")
    assert err == ""
    assert len(out.splitlines()) <= 25, "one screen"


def test_check_config_single_centre(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(SINGLE)]) == 0
    out = capsys.readouterr().out
    assert "50 agents" in out and "main 50" in out


def test_check_config_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(NATIONAL.read_text(encoding="utf-8").replace("aht = 480.0", "aht = -1.0"))
    assert main(["check-config", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{bad}: queues[5].aht: must be > 0" in err


def test_check_config_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[router]\ncentre = hq\n")
    assert main(["check-config", str(bad)]) == 1
    assert f"{bad}:2:" in capsys.readouterr().err


def test_check_config_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path / "nope.toml")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_check_config_prints_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SINGLE.read_text(encoding="utf-8").replace("hk_stocks = 7, trading = 4", "trading = 4")
    cfg = tmp_path / "warn.toml"
    cfg.write_text(text)
    assert main(["check-config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "warning:" in out and "hk_stocks" in out and out.rstrip().endswith("OK")


@pytest.mark.parametrize("argv", [["--help"], ["check-config", "--help"], ["demo", "--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: esl-router" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["demo", "--calls", "0"], ["check-config"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: esl-router" in capsys.readouterr().err


def test_default_config_is_the_national_example() -> None:
    assert default_config_path() == NATIONAL


@pytest.fixture(scope="module")
def demo_run() -> tuple[DemoResult, str]:
    """One short live demo (the router against the simulator on loopback), shared by the tests."""
    out = io.StringIO()
    result = run_demo(load_config(SINGLE), calls=30, seed=7, out=out, speed=60.0, agents=4)
    return result, out.getvalue()


def test_demo_routes_over_the_simulator_and_summarises(demo_run: tuple[DemoResult, str]) -> None:
    result, out = demo_run
    assert "on a simulated FreeSWITCH at 127.0.0.1:" in out and "4 of 50 agents logged in" in out
    assert " -> " in out and "step 0 (home-centre agent)" in out
    assert "waits: position" in out  # 4 agents for a burst of 30: callers queue
    assert "summary after" in out and "30 calls" in out
    assert "by class:" in out and "trading" in out and "average wait" in out
    assert "routing latency (event -> originate on the socket)" in out


def test_demo_accounts_for_every_call(demo_run: tuple[DemoResult, str]) -> None:
    result, _ = demo_run
    assert len(result.callers) == 30
    assert len(result.answered) + len(result.abandoned) == 30
    stats = result.router.stats
    assert stats.offered == 30 and stats.answered + stats.abandoned == 30
    # a caller whose patience ends as the bridge is made may count as answered by the router
    assert stats.answered >= len(result.answered)
    assert result.router.calls == {}  # every call ended and was closed out
    for caller in result.answered:
        assert caller.wait is not None and caller.wait >= 0 and caller.agent is not None


def test_demo_callers_are_seeded() -> None:
    config = compress(load_config(NATIONAL), 30.0)
    first = make_callers(config, 50, random.Random(3), 30.0)
    assert make_callers(config, 50, random.Random(3), 30.0) == first
    assert make_callers(config, 50, random.Random(4), 30.0) != first
    assert {c.cls for c in first} == {"trading", "registered", "other"}


def test_compress_divides_policy_durations() -> None:
    config = load_config(SINGLE)
    fast = compress(config, 10.0)
    assert fast.queues[0].aht == config.queues[0].aht / 10
    assert [s.after for s in fast.queues[0].steps] == [s.after / 10 for s in config.queues[0].steps]
    assert fast.classes[0].ageing == config.classes[0].ageing * 10
    fast.build_core()  # still a valid policy


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "esl-router"
    if not script.exists():
        pytest.skip("the esl-router console script is not installed in this environment")
    done = subprocess.run(
        [str(script), "check-config", str(SINGLE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "OK" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[router]\n")
    done = subprocess.run(
        [str(script), "check-config", str(bad)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and str(bad) in done.stderr

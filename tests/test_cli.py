"""The `esl-router` command line: check-config exit codes and output, the demo, --help."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.cli import default_config_path, main
from router.clock import SimClock
from router.config import load_config
from router.demo import run_demo

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


def test_demo_runs_and_summarises(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--calls", "40", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert " -> " in out and "step 0 (home-centre agent)" in out
    assert "summary after" in out and "40 calls" in out
    assert "by class:" in out and "trading" in out and "average wait" in out


def test_demo_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--config", str(SINGLE), "--calls", "60", "--seed", "3"])
    first = capsys.readouterr().out
    main(["demo", "--config", str(SINGLE), "--calls", "60", "--seed", "3"])
    assert capsys.readouterr().out == first
    main(["demo", "--config", str(SINGLE), "--calls", "60", "--seed", "4"])
    assert capsys.readouterr().out != first


def test_demo_accounts_for_every_call() -> None:
    clock = SimClock()
    result = run_demo(load_config(NATIONAL), calls=300, seed=11, out=io.StringIO(), clock=clock)
    assert len(result.calls) == 300
    assert len(result.answered) + len(result.abandoned) + len(result.waiting) == 300
    assert result.waiting == []  # the demo runs until every caller is answered or hangs up
    assert clock.now() == result.end > 0
    for call in result.answered:
        assert call.wait is not None and call.wait >= 0
    # overflow happened: some callers were answered outside their home centre
    assert any(result.agent_centre[c.agent] != c.home for c in result.answered if c.agent)


def test_demo_overloaded_single_centre() -> None:
    """More callers than 50 agents can take at once: calls queue, relax and some abandon."""
    out = io.StringIO()
    result = run_demo(load_config(SINGLE), calls=400, seed=2, out=out)
    text = out.getvalue()
    assert "waits: position" in text
    assert result.abandoned
    assert "abandoned" in text.split("summary after")[1]


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

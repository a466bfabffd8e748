"""`esl-router sim` and `esl-router staffing`: outputs, exit codes and messages for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.cli import main
from router.config import load_config
from router.sim.cli import default_profile
from router.sim.profile import check_profile

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SINGLE = EXAMPLES / "single_centre_50.toml"


def test_sim_writes_table_csv_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(
        ["sim", "--config", str(SINGLE), "--profile", str(EXAMPLES / "single_centre_day.toml"),
         "--out", str(out)]
    )  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "class policy: " in stdout and "by class:" in stdout and "09:30-09:45" in stdout
    for name in ("intervals.csv", "summary.json", "report.txt", "service_level.png",
                 "queue_length.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0
    assert "simulating" in stderr  # the progress display (a line per two hours when not a tty)


def test_sim_baseline_brief_and_default_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["sim", "--config", str(SINGLE), "--baseline", "--brief", "--no-plots", "--scale", "0.5",
         "--seed", "4", "--out", str(tmp_path)]
    )  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "FIFO / longest idle (baseline)" in stdout and "25 agents" in stdout
    assert "built-in trading day" in stderr
    assert "  interval " not in stdout  # --brief: no interval table
    assert not (tmp_path / "service_level.png").exists()
    assert "admission: lines" in stdout  # the baseline's centre: the trunk only


def test_sim_admission_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """single_centre_50.toml's line shares refuse "other" callers beyond 12 of its 60 lines:
    the router's admission says so; without admission nobody is refused."""
    day = str(EXAMPLES / "single_centre_day.toml")
    runs = {}
    for mode in ("router", "none"):
        code = main(["sim", "--config", str(SINGLE), "--profile", day, "--admission", mode,
                     "--brief", "--no-plots", "--out", str(tmp_path / mode)])  # fmt: skip
        stdout, stderr = capsys.readouterr()
        assert code == 0, stderr
        assert f"admission: {mode}" in stdout
        runs[mode] = json.loads((tmp_path / mode / "summary.json").read_text())
    assert runs["router"]["refused"] > 0 and "class_max" in runs["router"]["refusals"]
    assert "refused a line:" in (tmp_path / "router" / "report.txt").read_text()
    assert runs["none"]["refused"] == 0 and runs["none"]["refusals"] == {}
    header = (tmp_path / "router" / "intervals.csv").read_text().splitlines()[0]
    assert "answered_callback" in header and "refused_lost" in header and "relaxed" in header


def test_default_profile_fits_any_config() -> None:
    for name in ("single_centre_50.toml", "national_27plus1.toml"):
        config = load_config(EXAMPLES / name)
        profile = default_profile(config)
        check_profile(profile, config)
        assert {s.queue for s in profile.streams} == {q.name for q in config.queues}


def test_sim_bad_profile_names_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[arrivals]\nrates = [["09:00", -40]]\nclasses = {trading = 1}\n'
                   "queues = {trading = 1}\n")  # fmt: skip
    assert main(["sim", "--config", str(SINGLE), "--profile", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "invalid traffic profile" in err
    assert f"{bad}: arrivals.rates[0]: the rate must be >= 0 calls per hour, not -40" in err


def test_sim_time_limit_marks_partial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["sim", "--config", str(EXAMPLES / "national_27plus1.toml"), "--profile",
         str(EXAMPLES / "trading_day.toml"), "--time-limit", "0.000001", "--no-plots",
         "--out", str(tmp_path)]
    )  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert code == 1
    assert stdout.startswith("PARTIAL RESULTS (stopped by the time limit")
    assert "PARTIAL results" in stderr
    assert (tmp_path / "intervals.partial.csv").exists()
    assert not (tmp_path / "intervals.csv").exists()


def test_staffing_formula_and_simulation(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["staffing", "--config", str(SINGLE), "--queue", "trading", "--rate", "200", "--aht",
         "180", "--sl", "0.8", "--t", "20", "--batch-hours", "4", "--batches", "10"]
    )  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "200 calls/h x AHT 180 s = 10.00 Erlang" in stdout
    assert "by formula (Erlang C): 14 agents" in stdout
    assert "by simulation through the routing core: " in stdout
    rows = [line for line in stdout.splitlines() if line.strip()[:2].isdigit()]
    assert [int(r.split()[0]) for r in rows] == [12, 13, 14, 15, 16]
    assert "<- formula" in rows[2]


def test_staffing_with_patience_uses_erlang_a(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["staffing", "--config", str(SINGLE), "--queue", "advisory", "--rate", "60",
         "--patience", "120", "--batch-hours", "4", "--batches", "10"]
    )  # fmt: skip
    stdout = capsys.readouterr().out
    assert code == 0
    assert "AHT 300 s" in stdout and "Erlang A, patience 120 s" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--queue", "nope", "--rate", "10"], "no queue 'nope'"),
        (["--queue", "trading", "--rate", "-10"], "must be > 0"),
        (["--queue", "trading", "--rate", "10", "--sl", "1.2"], "strictly between 0 and 1"),
    ],
)
def test_staffing_bad_input(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["staffing", "--config", str(SINGLE), *args])
    except SystemExit as exc:  # argparse's usage errors
        code = int(str(exc.code))
    assert code in (1, 2)
    assert message in capsys.readouterr().err

"""What the capacity simulator shows a planner: a table, a CSV, and PNG plots of the service level
and the queue lengths over the day. A partial run says so in every one of them (file names get
`.partial`, the table and plots a PARTIAL banner) so it is never mistaken for a complete day."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from router.sim.capacity import LINE_WAIT, Progress, SimResult, Stats
from router.sim.profile import clock_text

__all__ = ["format_report", "progress_printer", "write_csv", "write_outputs", "write_plots"]

DIMENSIONS = (("class", "by class"), ("queue", "by queue"), ("centre", "by home centre"))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _row(name: str, st: Stats) -> str:
    return (
        f"  {name:<16} {st.offered:>9,} {st.answered:>9,} {st.called_back:>7,} "
        f"{st.abandoned:>9,} {st.refused:>8,} "
        f"{_pct(st.answer_rate):>7} {_pct(st.service_level):>7} {_secs(st.asa):>8}"
        + (f" {_pct(st.occupancy):>7}" if st.staffed else "")
    )


def _notes(result: SimResult, out: TextIO) -> None:
    """Admission, callbacks and relaxation of the day, when there were any."""
    day = result.day()
    if result.refusals:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(result.refusals.items()))
        print(
            f"\n refused a line: {day.refused:,} ({reasons}); of them {day.refused_lost:,} lost "
            "(busy message, voicemail, no callback)",
            file=out,
        )
    if day.callbacks:
        print(
            f" callbacks: {day.callbacks:,} requested, {day.called_back:,} connected (mean "
            f"{_secs(day.mean_callback_delay)} after the call), {day.callback_failed:,} given "
            f"up, {day.callbacks - day.called_back - day.callback_failed:,} still pending",
            file=out,
        )
    if result.callback_line_waits:
        print(
            f" callbacks offered to an agent with no line free for them: "
            f"{result.callback_line_waits:,} times (the agent freed, the callback back after "
            f"{LINE_WAIT:g} s)",
            file=out,
        )
    if day.overflowed:
        print(f" overflowed to an extension: {day.overflowed:,}", file=out)
    if day.relaxed:
        print(
            f"\n relaxation: {day.relaxed:,} calls ({_pct(day.relaxed / day.offered)}) were "
            "answered the moment a relaxation step let more agents take them, after waiting "
            f"{day.relax_wait / day.relaxed:.1f} s on average while the agent who took them was "
            "already free (relaxation is by time only: e.g. a wait for an empty home centre)",
            file=out,
        )
        stats = result.stats("centre")
        worst = sorted(
            (
                (st.relax_wait, name, st)
                for k, name in enumerate(result.centres)
                if (st := stats.get((-1, k))) is not None and st.relaxed
            ),
            reverse=True,
        )[:8]
        for _, name, st in worst:
            print(
                f"  home {name:<14} {st.relaxed:>7,} calls ({_pct(st.relaxed / st.offered)} of "
                f"its callers), {st.relax_wait / st.relaxed:5.1f} s each with an agent free",
                file=out,
            )


def format_report(result: SimResult, out: TextIO, *, intervals: bool = True) -> None:
    """The run as a table: the day by class, queue and home centre, then interval by interval."""
    p = result.profile
    if result.partial:
        print(
            f"PARTIAL RESULTS ({result.partial}): figures cover only what was simulated", file=out
        )
    thresholds = ", ".join(f"{c} {p.sl_threshold(c):g} s" for c in result.classes)
    print(
        f"{result.label}: {result.config_path} + {p.path} (scale {p.scale:g}, seed {p.seed}, "
        f"{result.agents:,} agents)",
        file=out,
    )
    rate = result.events / result.wall if result.wall > 0 else 0.0
    print(
        f"simulated {clock_text(p.start)}-{clock_text(result.until if result.partial else p.end)}"
        f" in {result.wall:.1f} s ({result.events:,} events, {rate:,.0f}/s; {result.calls:,} "
        f"calls); SL = share of offered calls answered live within T ({thresholds}); "
        f"answered includes callbacks that reached the customer (via cb); admission: "
        f"{result.admission}",
        file=out,
    )
    header = (
        f"  {'':<16} {'offered':>9} {'answered':>9} {'via cb':>7} {'abandoned':>9} "
        f"{'refused':>8} {'ans%':>7} {'SL':>7} {'ASA':>8}"
    )
    print(f"\n{header} {'occ':>7}", file=out)
    print(_row("all calls", result.day()), file=out)
    for dim, title in DIMENSIONS:
        print(f" {title}:", file=out)
        stats = result.stats(dim)
        for k, name in enumerate(result.names(dim)):
            st = stats.get((-1, k))
            if st is not None and (st.offered or st.staffed):
                print(_row(name, st), file=out)
    _notes(result, out)
    if not intervals:
        return
    samples = _max_waiting_by_interval(result)
    cls_stats = result.stats("class")
    print(
        f"\n  {'interval':<13} {'offered':>8} {'answered':>9} {'via cb':>7} {'abandoned':>9} "
        f"{'refused':>8} {'SL':>7} "
        f"{'ASA':>8} {'occ':>7} {'max wait q':>10}  "
        + " ".join(f"{c + ' SL':>14}" for c in result.classes),
        file=out,
    )
    all_stats = result.stats("all")
    for iv, (t0, t1) in enumerate(result.intervals):
        st = all_stats.get((iv, 0), Stats())
        per_class = " ".join(
            f"{_pct(cls_stats.get((iv, k), Stats()).service_level):>14}"
            for k in range(len(result.classes))
        )
        print(
            f"  {clock_text(t0)}-{clock_text(t1):<7} {st.offered:>8,} {st.answered:>9,} "
            f"{st.called_back:>7,} {st.abandoned:>9,} {st.refused:>8,} "
            f"{_pct(st.service_level):>7} {_secs(st.asa):>8} "
            f"{_pct(st.occupancy):>7} {samples[iv]:>10}  {per_class}",
            file=out,
        )


def _max_waiting_by_interval(result: SimResult) -> list[int]:
    p = result.profile
    peaks = [0] * len(result.intervals)
    for t, counts in zip(result.sample_times, result.samples, strict=True):
        iv = min(len(peaks) - 1, int((t - p.start) // p.interval))
        peaks[iv] = max(peaks[iv], sum(counts))
    return peaks


def _suffix(result: SimResult) -> str:
    return ".partial" if result.partial else ""


def write_csv(result: SimResult, path: Path) -> Path:
    """One row per (interval or the whole day) x (all / class / queue / home centre)."""
    columns = [
        "period", "start", "end", "dimension", "key", "offered", "answered", "abandoned",
        "unresolved", "answer_rate", "service_level", "asa", "occupancy", "agent_hours",
        "busy_agent_hours", "answered_live", "answered_callback", "refused", "refused_lost",
        "callbacks", "callback_failed", "mean_callback_delay", "overflowed", "relaxed",
        "relaxed_idle_wait", "partial",
    ]  # fmt: skip
    p = result.profile
    spans = [("day", -1, p.start, p.end)] + [
        ("interval", iv, t0, t1) for iv, (t0, t1) in enumerate(result.intervals)
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for period, iv, t0, t1 in spans:
            for dim in ("all", "class", "queue", "centre"):
                stats = result.stats(dim)
                for k, name in enumerate(result.names(dim)):
                    st = stats.get((iv, k))
                    if st is None:
                        continue
                    writer.writerow(
                        [
                            period, clock_text(t0), clock_text(t1), dim, name, st.offered,
                            st.answered, st.abandoned, st.unresolved, _num(st.answer_rate),
                            _num(st.service_level), _num(st.asa), _num(st.occupancy),
                            round(st.staffed / 3600, 2), round(st.busy / 3600, 2),
                            st.answered_live, st.called_back, st.refused, st.refused_lost,
                            st.callbacks, st.callback_failed, _num(st.mean_callback_delay),
                            st.overflowed, st.relaxed,
                            _num(st.relax_wait / st.relaxed if st.relaxed else None),
                            "yes" if result.partial else "no",
                        ]
                    )  # fmt: skip
    return path


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def write_plots(result: SimResult, out_dir: Path) -> list[Path]:
    """service_level.png (SL per class by interval, with calls offered) and queue_length.png
    (calls waiting per queue, sampled every minute)."""
    from matplotlib.figure import Figure  # imported here: only the plots need matplotlib

    p = result.profile
    banner = f" — PARTIAL: {result.partial}" if result.partial else ""
    suffix = _suffix(result)
    paths: list[Path] = []

    fig = Figure(figsize=(11, 5.5), layout="constrained")
    ax = fig.subplots()
    edges = [t0 / 3600 for t0, _ in result.intervals] + [result.intervals[-1][1] / 3600]
    volume = ax.twinx()
    all_stats = result.stats("all")
    offered = [all_stats.get((iv, 0), Stats()).offered for iv in range(len(result.intervals))]
    volume.stairs(offered, edges, fill=True, color="0.88", label="calls offered")
    volume.set_ylabel("calls offered per interval")
    ax.set_zorder(volume.get_zorder() + 1)
    ax.patch.set_visible(False)
    cls_stats = result.stats("class")
    series = [("all calls", all_stats, 0)] + [
        (f"{c} (T={p.sl_threshold(c):g}s)", cls_stats, k) for k, c in enumerate(result.classes)
    ]
    for name, stats, k in series:
        values = [
            _or_nan(stats.get((iv, k), Stats()).service_level)
            for iv in range(len(result.intervals))
        ]
        ax.stairs([100 * v for v in values], edges, label=name, linewidth=2 if k == 0 else 1.4)
    ax.set_ylim(0, 105)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("time of day (h)")
    ax.set_ylabel("service level: % answered within T")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(f"Service level over the day — {result.label}, {result.agents:,} agents{banner}")
    path = out_dir / f"service_level{suffix}.png"
    fig.savefig(path, dpi=110)
    paths.append(path)

    fig = Figure(figsize=(11, 5.5), layout="constrained")
    ax = fig.subplots()
    hours = [t / 3600 for t in result.sample_times]
    for q, name in enumerate(result.queues):
        values = [counts[q] for counts in result.samples]
        if any(values):
            ax.plot(hours, values, label=name, linewidth=1.2)
    ax.plot(hours, [sum(c) for c in result.samples], label="all queues", color="black", lw=1.8)
    if any(result.callback_samples):
        ax.plot(hours, result.callback_samples, label="callbacks pending", color="black",
                linestyle="--", linewidth=1.2)  # fmt: skip
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("time of day (h)")
    ax.set_ylabel("callers on hold (sampled every minute)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"Queue length over the day — {result.label}{banner}")
    path = out_dir / f"queue_length{suffix}.png"
    fig.savefig(path, dpi=110)
    paths.append(path)
    return paths


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def write_outputs(result: SimResult, out_dir: Path, *, plots: bool = True) -> list[Path]:
    """The report table (report.txt), the CSV, a JSON summary and the plots, into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = _suffix(result)
    paths = [write_csv(result, out_dir / f"intervals{suffix}.csv")]
    summary = out_dir / f"summary{suffix}.json"
    summary.write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
    paths.append(summary)
    report = out_dir / f"report{suffix}.txt"
    with report.open("w", encoding="utf-8") as fh:
        format_report(result, fh)
    paths.append(report)
    if plots:
        paths.extend(write_plots(result, out_dir))
    return paths


def progress_printer(stream: TextIO | None = None) -> Callable[[Progress], None]:
    """A progress display: a bar redrawn in place on a terminal, a line per simulated hour or two
    otherwise (so logs stay short)."""
    out = stream or sys.stderr
    tty = out.isatty()
    last_hour = [-1]

    def show(p: Progress) -> None:
        done = (p.now - p.start) / (p.end - p.start) if p.end > p.start else 1.0
        done = min(1.0, max(0.0, done))
        text = (
            f"simulating {clock_text(min(p.now, p.end))} / {clock_text(p.end)} "
            f"[{'#' * int(done * 30):<30}] {p.calls:,} calls, {p.waiting:,} waiting, "
            f"{p.wall:.1f} s"
        )
        if tty:
            print(f"\r{text}", end="", file=out, flush=True)
        elif int(p.now // 7200) != last_hour[0] or done == 1.0:
            last_hour[0] = int(p.now // 7200)
            print(text, file=out, flush=True)

    return show

"""The router's own metrics, when it exposes them (Prometheus text format at `--metrics-url`):
scraped before and after the run; the report shows what changed, and the mean of every
histogram or summary over the run (`<name>_sum` / `<name>_count`)."""

from __future__ import annotations

import math
import re
import urllib.request

__all__ = ["MetricsError", "delta", "parse", "scrape"]

_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)")


class MetricsError(RuntimeError):
    """The metrics URL could not be read."""


def parse(text: str) -> dict[str, float]:
    """Samples of a Prometheus text exposition: {'name{labels}': value} (comments skipped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        if match:
            try:
                value = float(match.group(2))
            except ValueError:
                continue
            if math.isfinite(value):
                out[match.group(1)] = value
    return out


def scrape(url: str, timeout: float = 5.0) -> dict[str, float]:
    """Read and parse the metrics at `url`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return parse(resp.read().decode("utf-8", "replace"))
    except (OSError, ValueError) as exc:
        raise MetricsError(f"cannot read the router's metrics at {url}: {exc}") from exc


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What changed over the run, plus `<name>_mean` for every `_sum`/`_count` pair."""
    changed = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
    for key in list(changed):
        base, _, labels = key.partition("{")
        if base.endswith("_sum"):
            count_key = base[: -len("_sum")] + "_count" + ("{" + labels if labels else "")
            count = changed.get(count_key, 0.0)
            if count > 0:
                mean_key = base[: -len("_sum")] + "_mean" + ("{" + labels if labels else "")
                changed[mean_key] = changed[key] / count
    return changed

"""Pending callbacks on disk, so that a router restart (or a successor after a drain) keeps them.

A waiting caller keeps their place across restarts because FreeSWITCH holds the parked channel
and its ``esl_router_enqueued_at``; a callback has no channel, so the router writes every pending
callback to ``[calls.callback] state_file`` (JSON, replaced atomically on each change) and reads it
back on start. An unreadable file is reported and set aside (renamed ``*.bad``), never silently
dropped; an entry that no longer fits the config (its queue was removed) falls back to the
default queue and says so.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["StoredCallback", "load", "save"]

log = logging.getLogger("router.routing")

_UUID = re.compile(r"[A-Za-z0-9-]{1,64}")
_NUMBER = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class StoredCallback:
    """What is needed to queue a callback again in its place."""

    uuid: str
    queue: str
    cls: str
    home: str
    number: str
    why: str
    tries: int
    enqueued_at: float
    retry_at: float | None = None
    preferred_agent: str | None = None


def save(path: Path, callbacks: list[StoredCallback]) -> None:
    """Write `callbacks` to `path` atomically (a crash leaves the old file or the new one)."""
    data = {"version": 1, "callbacks": [vars(cb) for cb in callbacks]}
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: Path) -> list[StoredCallback]:
    """The callbacks in `path` ([] if there is no file). A file that cannot be read is renamed
    ``<name>.bad`` and reported; entries that are malformed are reported and skipped."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["callbacks"]
        if not isinstance(entries, list):
            raise ValueError("'callbacks' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        bad = path.with_name(path.name + ".bad")
        log.error("callback state %s is unreadable (%s): moved to %s; its callbacks are NOT restored", path, exc, bad)
        try:
            os.replace(path, bad)
        except OSError:
            pass
        return []
    result = []
    for i, entry in enumerate(entries):
        try:
            result.append(_entry(entry))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("callback state %s: entry %d skipped: %s", path, i, exc)
    return result


def _entry(entry: Any) -> StoredCallback:
    if not isinstance(entry, dict):
        raise TypeError("not an object")
    cb = StoredCallback(
        uuid=str(entry["uuid"]),
        queue=str(entry["queue"]),
        cls=str(entry["cls"]),
        home=str(entry["home"]),
        number=str(entry["number"]),
        why=str(entry["why"])[:80],
        tries=int(entry["tries"]),
        enqueued_at=float(entry["enqueued_at"]),
        retry_at=None if entry.get("retry_at") is None else float(entry["retry_at"]),
        preferred_agent=None if entry.get("preferred_agent") is None else str(entry["preferred_agent"]),
    )
    if not _UUID.fullmatch(cb.uuid):
        raise ValueError(f"bad uuid {cb.uuid[:60]!r}")
    if not _NUMBER.fullmatch(cb.number):
        raise ValueError(f"bad number {cb.number[:60]!r}")
    times = [cb.enqueued_at] + ([cb.retry_at] if cb.retry_at is not None else [])
    if cb.tries < 0 or not all(math.isfinite(t) and t >= 0 for t in times):
        raise ValueError("bad tries or times")
    return cb

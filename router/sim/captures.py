"""Reading the real FreeSWITCH wire captures (``../shared/esl-captures/``, see its README.md).

The captures are the ground truth the parser and the simulator are tested against. Each capture
``NAME`` has ``NAME.recv.raw`` (everything FreeSWITCH sent, byte-exact) and ``NAME.jsonl`` (one
message per line, both directions). They are looked for at ``ESL_CAPTURES=/path`` if set, else at
``shared/esl-captures`` beside the repository, else in the copy the repository carries
(``tests/data/esl-captures.tar.xz``, unpacked once into ``.cache/``), so that a clone on its own
runs every conformance test.
"""

from __future__ import annotations

import functools
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
_ARCHIVE = _REPO / "tests" / "data" / "esl-captures.tar.xz"


def _locate() -> Path:
    if "ESL_CAPTURES" in os.environ:
        return Path(os.environ["ESL_CAPTURES"])
    beside = _REPO.parent / "shared" / "esl-captures"
    if (beside / "README.md").is_file() or not _ARCHIVE.is_file():
        return beside
    unpacked = _REPO / ".cache" / "esl-captures"
    if not unpacked.is_dir():
        unpacked.parent.mkdir(exist_ok=True)
        # Unpack aside and rename, so an interrupted unpack never looks complete.
        with tempfile.TemporaryDirectory(dir=unpacked.parent) as tmp, tarfile.open(_ARCHIVE) as tar:
            tar.extractall(tmp, filter="data")
            os.replace(Path(tmp) / "esl-captures", unpacked)
    return unpacked


CAPTURES = _locate()
FROM_FS = ("S->C", "FS->app")


@dataclass(frozen=True)
class WireMessage:
    """One message of a capture's .jsonl: direction, time and exact bytes."""

    dir: str
    t: float
    data: bytes


class CapturesMissing(FileNotFoundError):
    """The captures directory is not where it was looked for."""


def require_captures() -> Path:
    """The captures directory; raises `CapturesMissing` (tests skip on it) when absent."""
    if not (CAPTURES / "README.md").is_file():
        raise CapturesMissing(f"FreeSWITCH captures not found at {CAPTURES} (set ESL_CAPTURES)")
    return CAPTURES


def capture_names() -> list[str]:
    """Every capture that has a .recv.raw (empty when the directory is absent)."""
    if not CAPTURES.is_dir():
        return []
    return sorted(p.name[: -len(".recv.raw")] for p in CAPTURES.glob("*.recv.raw"))


@functools.cache
def recv_raw(name: str) -> bytes:
    """Everything FreeSWITCH sent on that connection, byte-exact."""
    return (require_captures() / f"{name}.recv.raw").read_bytes()


@functools.cache
def wire(name: str) -> tuple[WireMessage, ...]:
    """The capture's messages in wire order (both directions)."""
    out = []
    with open(require_captures() / f"{name}.jsonl", encoding="utf-8") as f:
        for line in f:
            obj = json.loads(line)
            data = obj["data"].encode("utf-8")
            if len(data) != obj["len"]:
                raise ValueError(f"{name}.jsonl t={obj['t']}: len {obj['len']} != {len(data)}")
            out.append(WireMessage(obj["dir"], float(obj["t"]), data))
    return tuple(out)


def received(name: str) -> list[WireMessage]:
    """Only what FreeSWITCH sent."""
    return [m for m in wire(name) if m.dir in FROM_FS]


def sent(name: str) -> list[WireMessage]:
    """Only what the client sent."""
    return [m for m in wire(name) if m.dir not in FROM_FS]

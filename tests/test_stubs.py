"""The hand-written stubs `router/_core.pyi` match the compiled extension (`mypy.stubtest`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("router._core")

ROOT = Path(__file__).resolve().parent.parent


def test_stubs_match_the_extension() -> None:
    # No allowlist: every name, signature and default in the .pyi must match the runtime module.
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "router._core"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr

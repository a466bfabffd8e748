"""The FreeSWITCH captures for tests: present, or the test is skipped (failed under CI)."""

import os
from pathlib import Path

import pytest

from router.sim.captures import CapturesMissing, require_captures


def require_or_skip() -> Path:
    """The captures directory. The repository carries a copy, so outside a stripped checkout this
    never skips; under CI a missing copy is a failure, never a silent skip."""
    try:
        return require_captures()
    except CapturesMissing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))

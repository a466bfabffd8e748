"""Injectable clocks: the router reads time only through one of these, so that a simulation can run
a day of traffic in seconds through the real code (the core itself never reads a clock)."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "SimClock", "SystemClock"]


class Clock(Protocol):
    """Something that tells the time in seconds (any epoch, never going backwards)."""

    def now(self) -> float:
        """The current time in seconds."""
        ...


class SystemClock:
    """Wall-clock time (seconds since the Unix epoch)."""

    def now(self) -> float:
        """The current wall-clock time."""
        return time.time()


class SimClock:
    """A simulated clock that moves only when told to."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        """The simulated time."""
        return self._now

    def advance_to(self, t: float) -> None:
        """Move to time `t`; moving backwards is an error (the core rejects it too)."""
        if t < self._now:
            raise ValueError(f"simulated time cannot go back from {self._now} to {t}")
        self._now = t

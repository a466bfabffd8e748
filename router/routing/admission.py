"""Admission / line allocation: does a new caller get one of the centre's trunk lines?

A centre has `lines` trunk lines, shared between caller classes by ``line_shares``: each class
has a reserved minimum (``min``, lines no other class may take while the class is below it) and a
maximum share (``max``). A line is "used" by every call the router holds (waiting, ringing or
talking). A new caller of class ``cls`` is admitted unless (`decide`):

- ``lines_full``: every line is used;
- ``lines_reserved``: the free lines are all held back for other classes below their minimum
  (and ``cls`` is itself at or over its own minimum);
- ``class_max``: ``cls`` already uses its maximum share (not for exempt classes);
- ``expected_wait``: the queue's expected wait for ``cls`` (``core.expected_wait``) is over
  ``[calls] max_expected_wait``, or nobody is staffed to answer it (not for exempt classes).

Exempt classes (``[calls] exempt_classes``, default ``["trading"]``) keep getting through as long
as a line is free for them. ``lines = 0`` means the trunk capacity is not managed by the router.
A refused caller is offered the configured alternative (`CallSettings.refuse_action`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from router.config.model import Centre, LineShare

__all__ = ["REASONS", "decide"]

REASONS = ("lines_full", "lines_reserved", "class_max", "expected_wait")

_EPS = 1e-9


def _reserved(share: LineShare, lines: int) -> int:
    return math.ceil(share.min * lines - _EPS)


def _ceiling(share: LineShare, lines: int) -> int:
    return math.floor(share.max * lines + _EPS)


def decide(
    centre: Centre | None,
    used: Mapping[str, int],
    cls: str,
    ewt: float | None,
    *,
    max_expected_wait: float = 0.0,
    exempt: Collection[str] = (),
) -> str | None:
    """None to admit the caller, else the reason (one of `REASONS`) to refuse them a line.

    `used` counts the lines held by the router's other calls, by class; `ewt` is the queue's
    expected wait for the newcomer (None: nobody staffed); `max_expected_wait` 0 disables that
    check."""
    exempted = cls in exempt
    lines = centre.lines if centre is not None else 0
    if lines > 0:
        assert centre is not None
        shares = centre.line_shares
        mine = used.get(cls, 0)
        free = lines - sum(used.values())
        if free <= 0:
            return "lines_full"
        share = shares.get(cls, LineShare())
        if mine >= _reserved(share, lines):
            held = sum(
                max(0, _reserved(s, lines) - used.get(k, 0)) for k, s in shares.items() if k != cls
            )
            if free - held <= 0:
                return "lines_reserved"
            if not exempted and mine >= _ceiling(share, lines):
                return "class_max"
    if not exempted and max_expected_wait > 0 and (ewt is None or ewt > max_expected_wait):
        return "expected_wait"
    return None

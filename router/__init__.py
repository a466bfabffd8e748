"""esl-router: a FreeSWITCH call-routing engine with a Rust queue and scoring core.

The routing core is the compiled extension `router._core`; this package re-exports it and adds the
I/O around it (config, ESL, state stores, web). Semantics: `docs/routing-policy.md`.
"""

from router._core import (
    Core,
    CoreError,
    DuplicateIdError,
    InternalError,
    InvalidInputError,
    InvalidStateError,
    InvalidTimeError,
    PolicyError,
    UnknownIdError,
)

__all__ = [
    "Core",
    "CoreError",
    "DuplicateIdError",
    "InternalError",
    "InvalidInputError",
    "InvalidStateError",
    "InvalidTimeError",
    "PolicyError",
    "UnknownIdError",
]

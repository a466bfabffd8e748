"""Typed getters for TOML data that record every problem (with its key) instead of raising."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


class Checker:
    """Collects `(key, message)` problems and warnings while reading one file's data.

    Each getter returns the value, or None after recording a problem when the value is wrong.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[str] = []

    def error(self, key: str, message: str) -> None:
        """Record a problem with `key`."""
        self.problems.append((key, message))

    def warn(self, key: str, message: str) -> None:
        """Record a warning (the config stays usable)."""
        self.warnings.append(f"{self.path}: {key}: {message}")

    def table(
        self,
        value: Any,
        key: str,
        allowed: Iterable[str] | None,
        *,
        required: Iterable[str] = (),
    ) -> dict[str, Any] | None:
        """`value` as a table; unknown keys (when `allowed` is given) and missing ones are errors."""
        if not isinstance(value, dict):
            self.error(key, f"must be a table, not {kind(value)}")
            return None
        if allowed is not None:
            allowed = list(allowed)
            for name in value:
                if name not in allowed:
                    self.error(join(key, name), f"unknown key; {choices(name, allowed)}")
        for name in required:
            if name not in value:
                self.error(join(key, name), "missing; add it")
        return value

    def array_of_tables(self, value: Any, key: str) -> list[tuple[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(key, f"must be an array of tables ([[{key}]]), not {kind(value)}")
            return []
        return [(f"{key}[{i}]", item) for i, item in enumerate(value)]

    def number(
        self, tbl: Mapping[str, Any], key: str, name: str, *, default: float | None = None
    ) -> float | None:
        if name not in tbl:
            return default
        v = tbl[name]
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.error(join(key, name), f"must be a number, not {kind(v)}")
            return None
        if not math.isfinite(v):
            self.error(join(key, name), f"must be finite, not {v}")
            return None
        return float(v)

    def integer(
        self,
        tbl: Mapping[str, Any],
        key: str,
        name: str,
        *,
        default: int | None = None,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int | None:
        if name not in tbl:
            return default
        v = tbl[name]
        if isinstance(v, bool) or not isinstance(v, int):
            self.error(join(key, name), f"must be an integer, not {kind(v)}")
            return None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            bounds = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            self.error(join(key, name), f"must be {bounds}, not {v}")
            return None
        return v

    def boolean(self, tbl: Mapping[str, Any], key: str, name: str, *, default: bool) -> bool | None:
        v = tbl.get(name, default)
        if not isinstance(v, bool):
            self.error(join(key, name), f"must be true or false, not {kind(v)}")
            return None
        return v

    def string(
        self, tbl: Mapping[str, Any], key: str, name: str, *, nonempty: bool = False
    ) -> str | None:
        v = tbl.get(name)
        if not isinstance(v, str):
            self.error(join(key, name), f"must be a string, not {kind(v)}")
            return None
        if nonempty and not v.strip():
            self.error(join(key, name), "must not be empty")
            return None
        return v

    def string_list(self, tbl: Mapping[str, Any], key: str, name: str) -> list[str] | None:
        v = tbl.get(name)
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            self.error(join(key, name), f"must be a list of strings, not {kind(v)}")
            return None
        return list(v)

    def choice(
        self, tbl: Mapping[str, Any], key: str, name: str, options: tuple[str, ...], *, default: str
    ) -> str | None:
        if name not in tbl:
            return default
        v = self.string(tbl, key, name)
        if v is not None and v not in options:
            close = difflib.get_close_matches(v, options, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.error(join(key, name), f"{v!r} is not one of {', '.join(options)}{hint}")
            return None
        return v

    def name(
        self, tbl: Mapping[str, Any], key: str, field_name: str, seen: set[str], what: str
    ) -> str | None:
        """A unique, non-empty name (of a class, queue or centre)."""
        if field_name not in tbl:
            return None
        v = self.string(tbl, key, field_name, nonempty=True)
        if v is None:
            return None
        if v in seen:
            self.error(
                join(key, field_name), f"duplicate {what} {v!r}; {what} names must be unique"
            )
            return None
        seen.add(v)
        return v


def join(key: str, name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        name = f'"{name}"'
    return f"{key}.{name}" if key else name


def kind(value: Any) -> str:
    """The TOML name of a value's type, for messages."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a float ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing"
    return type(value).__name__


def choices(name: str, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(name, options, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    if not options:
        return "none are defined"
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"expected one of {shown}"

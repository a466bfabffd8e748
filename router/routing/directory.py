"""The customer directory: who a caller is (class, home centre, own agent), looked up by number.

The embedded default is a CSV file named by ``[customers] file`` in the config, one customer a line:

    number,class,home,agent,account
    8613800000001,trading,gd,gd-trd-0001,A-1001
    8613900000002,registered,bj,,

``number`` and ``class`` are required; ``home`` defaults to the router's own centre, ``agent`` (the
customer's own broker agent, tried first) and ``account`` may be empty. Numbers are stored as
digits only (a leading ``+`` is dropped), so ``+8613800000001`` and ``8613800000001`` are the same
customer. Every line is checked against the config (known class, centre); a bad line is an error
naming the file and line, never a silently skipped customer.

Anything with a `lookup(number)` method can stand in for it (a CRM, a database): see `Directory`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from router.config import Config, ConfigError

__all__ = [
    "CsvDirectory",
    "Customer",
    "Directory",
    "EmptyDirectory",
    "load_directory",
    "normalise_number",
]

_NUMBER = re.compile(r"\+?([0-9]{3,20})")
_TOKEN = re.compile(r"[A-Za-z0-9_.:@+*#/=-]{1,128}")


@dataclass(frozen=True, slots=True)
class Customer:
    """One directory entry."""

    number: str
    cls: str
    home: str
    agent: str | None = None
    account: str | None = None


class Directory(Protocol):
    """Looks customers up by their (normalised) phone number."""

    def lookup(self, number: str) -> Customer | None:
        """The customer with this number, or None for an unknown caller."""
        ...


class EmptyDirectory:
    """No customers: every caller is unknown (class `other`)."""

    def lookup(self, number: str) -> Customer | None:
        """Always None."""
        return None


def normalise_number(raw: str) -> str | None:
    """A caller number as the directory keys it (digits only), or None if it is not a phone
    number at all (empty, ``anonymous``, or anything with letters, spaces or control characters:
    such caller IDs are treated as unknown callers, never passed on)."""
    match = _NUMBER.fullmatch(raw)
    return match.group(1) if match else None


class CsvDirectory:
    """The CSV customer directory, loaded once (reload by loading a new one)."""

    def __init__(self, customers: Iterable[Customer], path: Path | None = None) -> None:
        self.path = path
        self._by_number = {c.number: c for c in customers}

    def __len__(self) -> int:
        return len(self._by_number)

    def lookup(self, number: str) -> Customer | None:
        """The customer with this number (already normalised), or None."""
        return self._by_number.get(number)

    @classmethod
    def load(cls, path: Path, config: Config) -> CsvDirectory:
        """Read and check `path`; raises ConfigError naming the file and every bad line."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ConfigError(path, [("", "no such customer directory; check [customers] file")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(path, [("", f"cannot read the customer directory: {exc}")]) from exc
        rows = csv.reader(text.splitlines())
        header = [h.strip() for h in next(rows, [])]
        problems: list[tuple[str, str]] = []
        for col in ("number", "class"):
            if col not in header:
                problems.append(("line 1", f"the header has no {col!r} column (got {header})"))
        if problems:
            raise ConfigError(path, problems)
        classes = {c.name for c in config.classes}
        centres = {c.name for c in config.centres}
        customers: dict[str, Customer] = {}
        for lineno, row in enumerate(rows, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            where = f"line {lineno}"
            if len(row) > len(header):
                problems.append((where, f"{len(row)} fields but the header has {len(header)}"))
                continue
            rec = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
            number = normalise_number(rec["number"])
            cls_ = rec["class"]
            home = rec.get("home") or config.centre
            agent = rec.get("agent") or None
            account = rec.get("account") or None
            if number is None:
                problems.append((where, f"number {rec['number']!r} is not 3-20 digits"))
            elif number in customers:
                problems.append((where, f"number {number} is listed twice"))
            if cls_ not in classes:
                problems.append((where, f"unknown class {cls_!r}; expected one of {sorted(classes)}"))
            if home not in centres:
                problems.append((where, f"unknown home centre {home!r}"))
            for name, val in (("agent", agent), ("account", account)):
                if val is not None and not _TOKEN.fullmatch(val):
                    problems.append((where, f"{name} {val!r} has characters that are not allowed"))
            if number is not None and number not in customers:
                customers[number] = Customer(number, cls_, home, agent, account)
        if problems:
            raise ConfigError(path, problems)
        return cls(customers.values(), path)


def load_directory(config: Config) -> Directory:
    """The config's customer directory (`EmptyDirectory` when it names none)."""
    if config.customers_file is None:
        return EmptyDirectory()
    return CsvDirectory.load(config.customers_file, config)

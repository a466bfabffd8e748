"""Routing for one centre: classification, the customer directory and the call lifecycle.

`CallRouter` (in `router.routing.lifecycle`) is the entry point: it connects to FreeSWITCH, takes
the calls the dialplan parks and routes them through the core. `classify` and the directory are
usable on their own.
"""

from router.routing.classify import Classification, classify
from router.routing.directory import (
    CsvDirectory,
    Customer,
    Directory,
    EmptyDirectory,
    load_directory,
)
from router.routing.lifecycle import Call, CallRouter
from router.routing.stats import Stats

__all__ = [
    "Call",
    "CallRouter",
    "Classification",
    "CsvDirectory",
    "Customer",
    "Directory",
    "EmptyDirectory",
    "Stats",
    "classify",
    "load_directory",
]

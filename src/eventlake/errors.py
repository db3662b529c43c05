"""The failures eventlake raises on purpose, at the bottom of the layers so every layer can
name them without importing the one above.

``EventlakeError`` is the base of every such failure. Each layer keeps its own subclasses
next to its code (``IngestError``, ``WarehouseError``, ``CommitConflictError``...) and marks
whether retrying later can help: ``transient`` failures (a stream or database out of reach,
writers racing) may succeed on a later attempt, terminal ones (a bad body, a failing test)
will not until something changes. The classes also keep the builtin they always were
(``RuntimeError``, ``ValueError``, ``KeyError``), so existing ``except`` clauses still match.

Only the failures shared across layers are defined here: ``StreamError`` (raised by the
stream backends and by ``GroupCommit``, which the state store uses too) and
``RunFailedError`` (raised by the quality gates and dbt, recorded by the pipeline's runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class EventlakeError(Exception):
    """A failure eventlake raises on purpose; ``transient``: trying again later may succeed."""

    transient: ClassVar[bool] = False


class StreamError(EventlakeError, RuntimeError):
    """The stream could not take or give records (unreachable, throttled past every retry,
    missing). Nothing published by a call that raised is acknowledged."""

    transient = True


class RunFailedError(EventlakeError, RuntimeError):
    """A pipeline that ran to its end with a failing outcome (a dbt test, a quality gate).

    The run is recorded as failed and keeps ``result``, so /status shows what failed."""

    def __init__(self, message: str, result: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.result = dict(result)

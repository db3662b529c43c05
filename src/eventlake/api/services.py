"""What the API holds open for its lifetime: the state database, the streams, the ingestor,
the pipeline runner and the catalog (for health checks).

Each is opened on first use and opening is retried on the next request if it failed: a
service started while its database or stream is down stays up, says so on
``/api/v1/health`` (503, naming the dependency) and starts working when the dependency does,
rather than crash-looping.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from eventlake.config import Settings
from eventlake.ingest import (
    DependencyUnavailableError,
    GroupWriter,
    Ingestor,
    StreamPool,
    load_contracts,
)
from eventlake.pipeline.runs import PipelineRunner
from eventlake.state import StateStore

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

log = logging.getLogger(__name__)

HEALTH_CHECK_TIMEOUT_S = 5.0
# user:password@ in URLs that an error message might quote.
CREDENTIALS_IN_URL = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class Check:
    ok: bool
    error: str | None
    duration_ms: float


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_at = time.time()
        # Fails at start-up on a bad contract: that is a deployment error, not an outage.
        self.datasets = sorted(load_contracts(settings.contracts_dir))
        self.streams = StreamPool(settings)
        self._lock = threading.Lock()
        self._state: StateStore | None = None
        self._ingestor: Ingestor | None = None
        self._writer: GroupWriter | None = None
        self._runner: PipelineRunner | None = None
        self._catalog: Catalog | None = None

    def state(self) -> StateStore:
        if self._state is None:
            with self._lock:
                if self._state is None:
                    try:
                        self._state = StateStore(
                            self.settings.state_database_url,
                            busy_timeout_seconds=self.settings.api.state_busy_timeout_seconds,
                        )
                    except Exception as error:  # a bad URL, a missing driver, no disk
                        message = f"the job database is not available: {describe(error)}"
                        log.error(message)
                        raise DependencyUnavailableError(
                            message, code="state_unavailable"
                        ) from None
        return self._state

    def ingestor(self) -> Ingestor:
        if self._ingestor is None:
            state = self.state()
            with self._lock:
                if self._ingestor is None:
                    self._ingestor = Ingestor(self.settings, state, streams=self.streams)
        return self._ingestor

    def writer(self) -> GroupWriter:
        """The writer of ingest requests, for the event loop (it publishes through the
        ingestor, opened on its threads)."""
        if self._writer is None:
            self._writer = GroupWriter(self.ingestor)
        return self._writer

    def runner(self) -> PipelineRunner:
        if self._runner is None:
            state = self.state()
            with self._lock:
                if self._runner is None:
                    self._runner = PipelineRunner(self.settings, state)
        return self._runner

    def catalog(self) -> Catalog:
        if self._catalog is None:
            from eventlake.lake.catalog import open_catalog  # pyiceberg: only when asked

            catalog = open_catalog(self.settings)
            with self._lock:
                self._catalog = self._catalog or catalog
        return self._catalog

    # --- health ---------------------------------------------------------------------------

    def check_state(self) -> None:
        self.state().check()

    def check_streams(self) -> None:
        for dataset in self.datasets:
            self.streams.get(dataset).check()

    def check_catalog(self) -> None:
        try:
            self.catalog().list_namespaces()
        except Exception:
            self._catalog = None  # a broken catalog object is opened afresh next time
            raise

    async def health(self) -> dict[str, Check]:
        """Every dependency checked at once, each in a worker thread, none waited on for
        longer than HEALTH_CHECK_TIMEOUT_S (a hung one is reported as timed out)."""
        checks: dict[str, Check] = {}
        probes: dict[str, Callable[[], None]] = {
            "stream": self.check_streams,
            "catalog": self.check_catalog,
            "state": self.check_state,
        }
        async with anyio.create_task_group() as group:
            for name, probe in probes.items():
                group.start_soon(_run_check, name, probe, checks)
        return {name: checks[name] for name in probes}

    async def consumer_faults(self) -> list[dict[str, object]]:
        """The consumers that say their batches fail (``consumer_faults`` in the job
        database); none when the database does not answer in time (its check says so)."""
        with anyio.move_on_after(HEALTH_CHECK_TIMEOUT_S):
            try:
                return await anyio.to_thread.run_sync(
                    self.state().consumer_faults, abandon_on_cancel=True
                )
            except Exception as error:
                log.warning("health: the consumers' faults could not be read: %s", describe(error))
        return []

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()  # the group being written, finished before its stream closes
        if self._ingestor is not None:
            self._ingestor.claims.close()  # its streams are ours, closed below
        if self._runner is not None:
            self._runner.close()
        self.streams.close()
        if self._state is not None:
            self._state.close()


async def _run_check(name: str, probe: Callable[[], None], into: dict[str, Check]) -> None:
    began = time.perf_counter()
    error: str | None = f"no answer within {HEALTH_CHECK_TIMEOUT_S:g} s"
    with anyio.move_on_after(HEALTH_CHECK_TIMEOUT_S):
        try:
            await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)
            error = None
        except Exception as exc:
            error = describe(exc)
    if error is not None:
        log.warning("health check %s failed: %s", name, error)
    into[name] = Check(error is None, error, round((time.perf_counter() - began) * 1000, 2))


def describe(error: BaseException) -> str:
    """One line saying what went wrong, without credentials a URL in it might carry."""
    if isinstance(error, DependencyUnavailableError):
        return error.message
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = CREDENTIALS_IN_URL.sub("***@", text)
    return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__

"""Idempotency keys: the first request with a key claims it, the ones after it get the first
answer back (``Idempotency-Key`` on the API's ingest routes).

A claim is a lease. The request that claims a key holds it for ``lease_seconds`` and its
process renews it (``ClaimKeeper``: one thread per API process renewing every claim the
process holds, whatever the request is blocked on) until the answer is stored. A claim whose
owner died (kill -9, a lost host) stops being renewed and a retry takes it over once the
lease ran out: seconds, not minutes. Why a lease and not a process identity checked on
start-up: several API processes, on several hosts, share one state database, and a process
cannot tell whether another host's process is alive; the owner's silence is the only sign
that works everywhere, and it needs nothing but the claim's row (SQLite and PostgreSQL).
Hosts' clocks must agree to well within the lease (as for the consumers' shard leases).

Taking a claim over is a compare-and-set: an UPDATE whose WHERE repeats the "dead" test, so
of two retries racing for a dead claim exactly one changes the row (the other finds the
renewed lease and gets a conflict). The owner's renewals and its release name it, so an
owner that lost its claim can neither extend nor delete the taker's.

A claim also dies ``IDEMPOTENCY_PENDING_SECONDS`` after it was made, renewed or not: a request
stuck that long in a live process (longer than any publish can take) frees its key; claims
made without a lease (by an API from before leases) lapse by that rule only.

The retry that takes a claim over publishes exactly once either way: it looks for the job by
its id (derived from the key), and if the dead request had published without recording it,
publishes a copy with the same job id and event ids, which the consumer drops (see ingest)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from eventlake.errors import EventlakeError
from eventlake.state.database import BUSY_TIMEOUT_SECONDS, Database
from eventlake.state.schema import idempotency

log = logging.getLogger(__name__)

# A claim lapses this long after it was made even while renewed (see above).
IDEMPOTENCY_PENDING_SECONDS = 600.0
# How long a claim holds its key without a renewal: what a retry after its owner died waits.
IDEMPOTENCY_LEASE_SECONDS = 10.0


class IdempotencyConflictError(EventlakeError, RuntimeError):
    """The key is in use by a request still in flight, or was first used with another body.
    In flight, ``retry_after`` is the seconds until a retry could take the claim over (its
    lease runs out, or its age limit) should the owner stop renewing it; else None."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _in_flight(until: float, now: float) -> IdempotencyConflictError:
    return IdempotencyConflictError(
        "a request with this Idempotency-Key is still being processed",
        retry_after=max(0.0, until - now),
    )


def add_claim_columns(engine: Engine) -> None:
    """Add the lease columns to an idempotency table made before them (ADD COLUMN of a
    nullable column: cheap on SQLite and PostgreSQL). Several processes may open an old
    database at once: a column another one just added is fine."""
    present = {column["name"] for column in sa.inspect(engine).get_columns(idempotency.name)}
    for column in (idempotency.c.owner, idempotency.c.expires_at):
        if column.name in present:
            continue
        kind = column.type.compile(dialect=engine.dialect)
        try:
            with engine.begin() as connection:
                connection.execute(
                    sa.text(f"ALTER TABLE {idempotency.name} ADD COLUMN {column.name} {kind}")
                )
        except SQLAlchemyError as error:
            if "duplicate column" not in str(error) and "already exists" not in str(error):
                raise


def _dead(now: float) -> sa.ColumnElement[bool]:
    """A claim nobody holds any more: unanswered, and its lease ran out or it is too old."""
    return idempotency.c.status_code.is_(None) & (
        (idempotency.c.created_at < now - IDEMPOTENCY_PENDING_SECONDS)
        | (idempotency.c.expires_at.is_not(None) & (idempotency.c.expires_at < now))
    )


class IdempotencyKeys(Database):
    def __init__(self, url: str, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
        super().__init__(url, busy_timeout_seconds=busy_timeout_seconds)
        add_claim_columns(self.engine)

    def claim_idempotency_key(
        self,
        source: str,
        key: str,
        fingerprint: str,
        *,
        owner: str | None = None,
        lease_seconds: float = IDEMPOTENCY_LEASE_SECONDS,
    ) -> tuple[int, str] | None:
        """Claim ``key`` for a first request (None), or return the first answer (status,
        body). Raises IdempotencyConflictError while the first request is in flight or when the
        key was used with a different body. With an ``owner`` the claim is a lease of
        ``lease_seconds`` that the owner renews (``renew_idempotency_claims``)."""
        now = time.time()
        expires_at = None if owner is None else now + lease_seconds
        this_key = (idempotency.c.source == source) & (idempotency.c.key == key)
        with self._begin() as connection:
            row = connection.execute(sa.select(idempotency).where(this_key)).first()
            if row is not None:
                if row.fingerprint != fingerprint:
                    raise IdempotencyConflictError(
                        "this Idempotency-Key was first used with a different request body"
                    )
                if row.status_code is not None:
                    return int(row.status_code), str(row.response)
                # Take a dead claim over; the WHERE repeats the test, so of two retries
                # racing for it one changes the row and the other gets a conflict.
                taken = connection.execute(
                    idempotency.update()
                    .where(this_key & _dead(now))
                    .values(created_at=now, owner=owner, expires_at=expires_at)
                )
                if taken.rowcount != 1:
                    # Alive: free once its lease (or its age limit) runs out unrenewed. A
                    # claim that looked dead was just taken by a racing retry: a fresh lease.
                    until = row.created_at + IDEMPOTENCY_PENDING_SECONDS
                    if row.expires_at is not None:
                        until = min(until, row.expires_at)
                    raise _in_flight(until if until >= now else now + lease_seconds, now)
                if row.owner is not None:
                    log.warning("idempotency key of %s taken over from %s", source, row.owner)
                return None
            try:
                connection.execute(
                    idempotency.insert().values(
                        source=source,
                        key=key,
                        fingerprint=fingerprint,
                        created_at=now,
                        owner=owner,
                        expires_at=expires_at,
                    )
                )
            except IntegrityError as error:  # a twin request claimed it a moment ago
                raise _in_flight(now + lease_seconds, now) from error
        return None

    def renew_idempotency_claims(
        self, owner: str, keys: list[tuple[str, str]], lease_seconds: float
    ) -> int:
        """Extend ``owner``'s unanswered claims on ``keys`` (source, key) by ``lease_seconds``
        from now; returns how many it still held."""
        if not keys:
            return 0
        expires_at = time.time() + lease_seconds
        renewed = 0
        with self._begin() as connection:
            for source, key in keys:
                result = connection.execute(
                    idempotency.update()
                    .where(
                        (idempotency.c.source == source)
                        & (idempotency.c.key == key)
                        & (idempotency.c.owner == owner)
                        & idempotency.c.status_code.is_(None)
                    )
                    .values(expires_at=expires_at)
                )
                renewed += result.rowcount
        return renewed

    def store_idempotent_answer(
        self, source: str, key: str, status_code: int, response: str
    ) -> None:
        # Not conditional on the owner: a request whose claim was taken over published the
        # same job (same id, same events), so its answer is as good as the taker's.
        with self._begin() as connection:
            connection.execute(
                idempotency.update()
                .where((idempotency.c.source == source) & (idempotency.c.key == key))
                .values(status_code=status_code, response=response)
            )

    def release_idempotency_key(self, source: str, key: str, owner: str | None = None) -> None:
        """Forget a claim whose request failed before anything was published. With an
        ``owner``, only if that owner still holds it (not a claim another request took over)."""
        condition = (
            (idempotency.c.source == source)
            & (idempotency.c.key == key)
            & idempotency.c.status_code.is_(None)
        )
        if owner is not None:
            condition &= idempotency.c.owner == owner
        with self._begin() as connection:
            connection.execute(idempotency.delete().where(condition))


class ClaimKeeper:
    """One per API process: its identity as a claim owner, and a thread that renews the
    claims its requests hold every third of a lease, so that a request blocked for longer
    than a lease (a slow publish) keeps its key, and a dead process's keys free up a lease
    after its last renewal."""

    def __init__(
        self, keys: IdempotencyKeys, lease_seconds: float = IDEMPOTENCY_LEASE_SECONDS
    ) -> None:
        self.keys = keys
        self.lease_seconds = lease_seconds
        # Unique per process incarnation; host and pid make the logs and the table readable.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._held: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self, source: str, key: str, fingerprint: str) -> tuple[int, str] | None:
        return self.keys.claim_idempotency_key(
            source, key, fingerprint, owner=self.owner, lease_seconds=self.lease_seconds
        )

    @contextmanager
    def held(self, source: str, key: str) -> Iterator[None]:
        """Renew the claim on (source, key) while the block runs."""
        with self._lock:
            self._held[(source, key)] = self._held.get((source, key), 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._renew, name="idempotency-claims", daemon=True
                )
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held[(source, key)] -= 1
                if not self._held[(source, key)]:
                    del self._held[(source, key)]

    def release(self, source: str, key: str) -> None:
        self.keys.release_idempotency_key(source, key, owner=self.owner)

    def _renew(self) -> None:
        while not self._stop.wait(max(self.lease_seconds / 3, 0.05)):
            with self._lock:
                keys = list(self._held)
            try:
                renewed = self.keys.renew_idempotency_claims(self.owner, keys, self.lease_seconds)
            except SQLAlchemyError:
                log.exception("could not renew idempotency claims; retrying")
                continue
            if renewed < len(keys):
                # Answered a moment ago, or taken over after missed renewals (the copy the
                # request publishes carries the same ids; the consumer drops it).
                log.debug(
                    "%d of %d idempotency claims no longer held", len(keys) - renewed, len(keys)
                )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

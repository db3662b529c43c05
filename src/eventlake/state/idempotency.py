"""Idempotency keys: the first request with a key claims it, the ones after it get the first
answer back (``Idempotency-Key`` on the API's ingest routes)."""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from eventlake.errors import EventlakeError
from eventlake.state.database import Database
from eventlake.state.schema import idempotency

# A first request that died between claiming its key and answering frees the key after this:
# longer than any publish can take (the embedded log's lock waits 60 s at most, Kinesis
# retries for less). A retry after that finds the job by its derived id (see ingest).
IDEMPOTENCY_PENDING_SECONDS = 600.0


class IdempotencyConflictError(EventlakeError, RuntimeError):
    """The key is in use by a request still in flight, or was first used with another body."""


class IdempotencyKeys(Database):
    def claim_idempotency_key(
        self, source: str, key: str, fingerprint: str
    ) -> tuple[int, str] | None:
        """Claim ``key`` for a first request (None), or return the first answer (status,
        body). Raises IdempotencyConflictError while the first request is in flight or when the
        key was used with a different body."""
        now = time.time()
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
                if now - row.created_at < IDEMPOTENCY_PENDING_SECONDS:
                    raise IdempotencyConflictError(
                        "a request with this Idempotency-Key is still being processed"
                    )
                connection.execute(idempotency.update().where(this_key).values(created_at=now))
                return None
            try:
                connection.execute(
                    idempotency.insert().values(
                        source=source, key=key, fingerprint=fingerprint, created_at=now
                    )
                )
            except IntegrityError as error:  # a twin request claimed it a moment ago
                raise IdempotencyConflictError(
                    "a request with this Idempotency-Key is still being processed"
                ) from error
        return None

    def store_idempotent_answer(
        self, source: str, key: str, status_code: int, response: str
    ) -> None:
        with self._begin() as connection:
            connection.execute(
                idempotency.update()
                .where((idempotency.c.source == source) & (idempotency.c.key == key))
                .values(status_code=status_code, response=response)
            )

    def release_idempotency_key(self, source: str, key: str) -> None:
        """Forget a claim whose request failed before anything was published."""
        with self._begin() as connection:
            connection.execute(
                idempotency.delete().where(
                    (idempotency.c.source == source)
                    & (idempotency.c.key == key)
                    & idempotency.c.status_code.is_(None)
                )
            )

"""Shard leases and shard windows: how consumers share a stream's shards, as the Kinesis
Client Library does with its lease table.

Each (group, stream, shard) has one row: its owner, a counter, an expiry time and whether the
shard was read to its end. Every change is a conditional UPDATE on the counter the caller last
saw (compare-and-set, as the KCL's conditional writes), and adds one to it: of two consumers
that try to take, steal or renew the same lease, exactly one matches the row, whatever the
database's isolation level. A lease whose renewal fails was taken by another consumer.

Expiry times are the writers' wall clocks: the machines' clocks must agree to well within a
lease's duration (NTP does). The lake's watermark still decides every commit, so a consumer
whose clock is wrong, or which was paused past its lease, can read twice but never land twice.

The windows table holds each shard's deduplication window as bytes with the table and the
position it covers (``eventlake.consumer.window`` decides whether to trust it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from eventlake.state.database import Database
from eventlake.state.schema import shard_leases, shard_windows


@dataclass(frozen=True)
class Lease:
    shard_id: str
    owner: str | None
    counter: int
    expires_at: float
    finished: bool

    def expired(self, now: float) -> bool:
        return self.owner is None or self.expires_at <= now


@dataclass(frozen=True)
class SavedWindow:
    table_uuid: str
    position: int
    checksum: int
    data: bytes


class ShardLeases(Database):
    """The lease table's operations; every one that changes a lease is a compare-and-set."""

    def _lease(self, group: str, stream: str, shard_id: str) -> sa.ColumnElement[bool]:
        return (
            (shard_leases.c.consumer_group == group)
            & (shard_leases.c.stream == stream)
            & (shard_leases.c.shard_id == shard_id)
        )

    def ensure_leases(self, group: str, stream: str, shard_ids: Iterable[str]) -> None:
        """Create the missing rows (unowned, counter 0). Safe to race: a row another consumer
        created meanwhile is left as it is."""
        wanted = set(shard_ids)
        with self._begin() as connection:
            have = set(
                connection.execute(
                    sa.select(shard_leases.c.shard_id).where(
                        (shard_leases.c.consumer_group == group) & (shard_leases.c.stream == stream)
                    )
                ).scalars()
            )
        for shard_id in sorted(wanted - have):
            try:
                with self._begin() as connection:
                    connection.execute(
                        shard_leases.insert().values(
                            consumer_group=group,
                            stream=stream,
                            shard_id=shard_id,
                            owner=None,
                            counter=0,
                            expires_at=0.0,
                            finished=False,
                        )
                    )
            except IntegrityError:
                pass  # another consumer created it first

    def leases(self, group: str, stream: str) -> dict[str, Lease]:
        with self._begin() as connection:
            rows = connection.execute(
                sa.select(shard_leases).where(
                    (shard_leases.c.consumer_group == group) & (shard_leases.c.stream == stream)
                )
            ).all()
        return {
            row.shard_id: Lease(
                row.shard_id, row.owner, int(row.counter), float(row.expires_at), row.finished
            )
            for row in rows
        }

    def _swap(
        self,
        group: str,
        stream: str,
        lease: Lease,
        *,
        owner: str | None,
        expires_at: float,
        finished: bool | None = None,
    ) -> Lease | None:
        """The compare-and-set: change ``lease`` only if its row still has the counter (and
        owner) the caller saw. The new lease, or None when someone changed it first."""
        values: dict[str, object] = {
            "owner": owner,
            "counter": lease.counter + 1,
            "expires_at": expires_at,
        }
        if finished is not None:
            values["finished"] = finished
        owner_was = (
            shard_leases.c.owner.is_(None)
            if lease.owner is None
            else shard_leases.c.owner == lease.owner
        )
        with self._begin() as connection:
            changed = connection.execute(
                shard_leases.update()
                .where(
                    self._lease(group, stream, lease.shard_id)
                    & (shard_leases.c.counter == lease.counter)
                    & owner_was
                )
                .values(**values)
            ).rowcount
        if changed != 1:
            return None
        return Lease(
            lease.shard_id,
            owner,
            lease.counter + 1,
            expires_at,
            lease.finished if finished is None else finished,
        )

    def take_lease(
        self, group: str, stream: str, lease: Lease, worker: str, seconds: float
    ) -> Lease | None:
        """Take ``lease`` as last seen (unowned, expired, or stolen from its owner)."""
        return self._swap(group, stream, lease, owner=worker, expires_at=time.time() + seconds)

    def renew_lease(self, group: str, stream: str, lease: Lease, seconds: float) -> Lease | None:
        """The heartbeat: extend a lease the caller holds; None when it was taken from it."""
        return self._swap(group, stream, lease, owner=lease.owner, expires_at=time.time() + seconds)

    def release_lease(self, group: str, stream: str, lease: Lease) -> Lease | None:
        """Give a lease up (a clean shutdown): the next consumer takes it without waiting."""
        return self._swap(group, stream, lease, owner=None, expires_at=0.0)

    def finish_lease(self, group: str, stream: str, lease: Lease) -> Lease | None:
        """The shard was read to its end and committed: its children may be read now."""
        return self._swap(group, stream, lease, owner=None, expires_at=0.0, finished=True)

    # --- windows ------------------------------------------------------------------------------

    def save_window(self, group: str, stream: str, shard_id: str, window: SavedWindow) -> None:
        """Save a shard's window, unless one saved at a later position is there already (a
        consumer that lost the shard saving late must not replace its new owner's)."""
        row = {
            "table_uuid": window.table_uuid,
            "position": str(window.position),
            "checksum": window.checksum,
            "data": window.data,
            "saved_at": time.time(),
        }
        this = (
            (shard_windows.c.consumer_group == group)
            & (shard_windows.c.stream == stream)
            & (shard_windows.c.shard_id == shard_id)
        )
        try:
            with self._begin() as connection:
                connection.execute(
                    shard_windows.insert().values(
                        consumer_group=group, stream=stream, shard_id=shard_id, **row
                    )
                )
            return
        except IntegrityError:
            pass  # saved before: replace it, unless it is newer
        with self._begin() as connection:
            current = connection.execute(
                sa.select(shard_windows.c.table_uuid, shard_windows.c.position).where(this)
            ).first()
            if current is None or (
                current.table_uuid == window.table_uuid and int(current.position) > window.position
            ):
                return
            # Compare-and-set on the position read: a save that raced this one wins, and the
            # next owner re-learns whatever a window misses (see the consumer).
            connection.execute(
                shard_windows.update()
                .where(this & (shard_windows.c.position == current.position))
                .values(**row)
            )

    def load_window(self, group: str, stream: str, shard_id: str) -> SavedWindow | None:
        with self._begin() as connection:
            row = connection.execute(
                sa.select(shard_windows).where(
                    (shard_windows.c.consumer_group == group)
                    & (shard_windows.c.stream == stream)
                    & (shard_windows.c.shard_id == shard_id)
                )
            ).first()
        if row is None:
            return None
        return SavedWindow(row.table_uuid, int(row.position), int(row.checksum), bytes(row.data))

    def forget_windows(self, group: str, stream: str) -> None:
        """Delete a group's saved windows (they are rebuilt from the stream)."""
        with self._begin() as connection:
            connection.execute(
                shard_windows.delete().where(
                    (shard_windows.c.consumer_group == group) & (shard_windows.c.stream == stream)
                )
            )

"""The deduplication window between runs: one file per consumer, trusted only when it provably
belongs to the table's history.

The file is ``MAGIC``, the header's length, a JSON header (the table's UUID and the stream
positions the window has seen), a CRC-32 of header and window, then the core's window bytes.
It is written atomically (a temporary file of this process, fsync, rename), and only right
after a commit, when window and lake agree.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
import zlib
from pathlib import Path
from typing import Any

import data_processor_rs

from eventlake.config import Settings
from eventlake.consumer.membership import Membership
from eventlake.lake import watermark

log = logging.getLogger(__name__)

WINDOW_MAGIC = b"ELW1"


def window_path(settings: Settings, stream_name: str, membership: Membership) -> Path:
    """Where a consumer keeps its deduplication window between runs."""
    return settings.home / "consumers" / f"{stream_name}.{membership.label}.window"


class WindowFile:
    """Loads and saves one consumer's window at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(
        self, *, table_uuid: str, capacity: int, committed: dict[str, int]
    ) -> tuple[data_processor_rs.Deduplicator, dict[str, int]] | None:
        """The saved window and the positions it covers; None when there is no usable file.

        A window is only trusted when it provably belongs to this table's history: the same
        table (its UUID: not a rebuilt lake, another namespace or a recreated table), the same
        capacity as configured, a checksum that matches, and no position beyond the table's
        watermark ``committed`` (a rolled-back table). Anything else is rebuilt from the
        stream: a wrong window would drop real events as duplicates."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            header, window_bytes = _split_window_file(data)
            problem = _mismatch(header, table_uuid, committed)
            if problem is None:
                window = data_processor_rs.Deduplicator.from_bytes(window_bytes)
                if window.capacity != capacity:
                    problem = f"its capacity {window.capacity:,} is not the configured one"
        except (ValueError, UnicodeDecodeError, KeyError, TypeError) as error:
            problem = f"it is unreadable ({error})"
        if problem is not None:
            log.warning("rebuilding the window from the stream: %s: %s", self.path, problem)
            return None
        return window, dict(header["positions"])

    def save(
        self,
        window: data_processor_rs.Deduplicator,
        *,
        table_uuid: str,
        positions: dict[str, int],
    ) -> None:
        """Write the window with the positions it has seen, atomically."""
        header = {"table_uuid": table_uuid, "positions": positions}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(
            f"{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        )
        with open(temporary, "wb") as out:
            out.write(_window_file(header, window.to_bytes()))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)


def _mismatch(header: dict[str, Any], table_uuid: str, committed: dict[str, int]) -> str | None:
    if header.get("table_uuid") != table_uuid:
        return "it was saved for another table"
    positions = watermark.parse(json.dumps(header["positions"]))
    for key, position in positions.items():
        if position > committed.get(key, 0):
            return f"it has seen {key} up to {position}, beyond the table's watermark"
    return None


def _window_file(header: dict[str, Any], window: bytes) -> bytes:
    """MAGIC, header length, JSON header, CRC-32 of header and window, the window."""
    encoded = json.dumps(header).encode()
    crc = zlib.crc32(window, zlib.crc32(encoded))
    return b"".join(
        [WINDOW_MAGIC, len(encoded).to_bytes(4, "big"), encoded, crc.to_bytes(4, "big"), window]
    )


def _split_window_file(data: bytes) -> tuple[dict[str, Any], bytes]:
    if not data.startswith(WINDOW_MAGIC):
        raise ValueError("not a window file")
    length = int.from_bytes(data[4:8], "big")
    encoded = data[8 : 8 + length]
    crc = int.from_bytes(data[8 + length : 12 + length], "big")
    window = data[12 + length :]
    if zlib.crc32(window, zlib.crc32(encoded)) != crc:
        raise ValueError("checksum mismatch")
    header = json.loads(encoded)
    if not isinstance(header, dict) or not isinstance(header.get("positions"), dict):
        raise ValueError("bad header")
    return header, window

"""API keys: who is calling, as the ``source`` recorded with every batch.

``EVENTLAKE_API_KEYS`` is a comma-separated list of ``name:secret`` or bare ``secret``
entries; a bare secret's name is ``key-`` and the first 8 hex digits of its SHA-256, so that
logs and the lake can tell keys apart without holding them. An entry may give the secret's
SHA-256 instead of the secret (``name:sha256:<64 hex digits>``, or bare ``sha256:<hex>``), so
that the deployment's configuration never holds a usable key: the API keeps only digests
either way. With no keys configured, a key is
generated once, kept in ``EVENTLAKE_HOME/api_key`` (mode 0600) and used from then on: a fresh
clone is never an open endpoint, and ``eventlake serve`` prints the key at start-up.

Keys are compared as SHA-256 digests with ``hmac.compare_digest``, against every configured
key, so neither the time taken nor an error says how close a guess was. Secrets never appear
in logs or answers.

``EVENTLAKE_API_KEYS_FILE`` names a file of more keys in the same format (a mounted secret),
read again when it changes: keys are rotated without restarting the API (:class:`KeyFileRing`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from eventlake.config import Settings

log = logging.getLogger(__name__)

KEY_FILE = "api_key"
# How often a keys file is looked at (a stat) for a change: a revoked key is refused this long
# after the file changed, at most.
KEYS_FILE_CHECK_SECONDS = 2.0
LOCAL_SOURCE = "local"
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# An entry that gives the secret's digest, not the secret: [name:]sha256:<64 hex digits>.
HASHED = re.compile(r"^(?:(?P<name>[^:]*):)?sha256:(?P<digest>[0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class ApiKey:
    source: str
    digest: bytes  # SHA-256 of the secret


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[ApiKey, ...]
    from_settings: bool  # False: the locally generated key

    def identify(self, presented: str | None) -> str | None:
        """The source of the key presented, None when it is not one of ours."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found = None
        for key in self.keys:  # no early exit: every key costs the same
            if hmac.compare_digest(digest, key.digest):
                found = key.source
        return found


class Keys(Protocol):
    """What the API asks of its keys: a :class:`KeyRing` or a :class:`KeyFileRing`."""

    @property
    def from_settings(self) -> bool: ...

    def identify(self, presented: str | None) -> str | None: ...


class KeyFileRing:
    """The keys of EVENTLAKE_API_KEYS and of a keys file, the file read again when it changes
    (its size, time or inode; looked at every KEYS_FILE_CHECK_SECONDS at most, by whichever
    request comes). A file that turns unreadable or malformed keeps the keys last read, logged
    as an error: a bad edit must not lock every client out. Thread-safe."""

    from_settings = True

    def __init__(
        self,
        path: Path,
        fixed: tuple[ApiKey, ...] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.fixed = fixed
        self._clock = clock
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._next_check = 0.0
        # The first read must work: a missing or malformed file stops the start-up.
        self._ring = KeyRing(fixed + self._read(), from_settings=True)
        self._signature = self._stat()

    def identify(self, presented: str | None) -> str | None:
        self._refresh()
        return self._ring.identify(presented)

    def _refresh(self) -> None:
        now = self._clock()
        if now < self._next_check:
            return
        with self._lock:
            if now < self._next_check:
                return
            self._next_check = now + KEYS_FILE_CHECK_SECONDS
            try:
                signature = self._stat()
                if signature == self._signature:
                    return
                keys = self._read()
            except (OSError, ValueError) as error:
                log.error("API keys file %s: %s; keeping the keys last read", self.path, error)
                return
            self._ring = KeyRing(self.fixed + keys, from_settings=True)
            self._signature = signature
            log.info("API keys file %s read again: %d keys", self.path, len(keys))

    def _stat(self) -> tuple[int, int, int]:
        stat = self.path.stat()
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def _read(self) -> tuple[ApiKey, ...]:
        lines = (line.split("#", 1)[0] for line in self.path.read_text().splitlines())
        keys = parse_api_keys(",".join(lines), origin=str(self.path))
        if not keys:
            raise ValueError("holds no key")
        return keys


def parse_api_keys(text: str, *, origin: str = "EVENTLAKE_API_KEYS") -> tuple[ApiKey, ...]:
    """The keys of ``EVENTLAKE_API_KEYS``; ValueError (never quoting a secret) if malformed."""
    keys = []
    for position, entry in enumerate(text.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        hashed = HASHED.match(entry)
        if hashed:
            named = hashed["name"] is not None
            name = hashed["name"] or ""
            digest = bytes.fromhex(hashed["digest"])
        else:
            name, colon, secret = entry.partition(":")
            named = bool(colon)
            if not named:
                name, secret = "", entry
            if not secret:
                raise ValueError(f"{origin} entry {position} has an empty secret")
            digest = hashlib.sha256(secret.encode()).digest()
        if named and not NAME.match(name):
            raise ValueError(
                f"{origin} entry {position}: a key name is 1-64 letters, digits or _.@-"
            )
        keys.append(ApiKey(source=name or f"key-{digest.hex()[:8]}", digest=digest))
    return tuple(keys)


def local_key_path(settings: Settings) -> Path:
    return settings.home / KEY_FILE


def local_api_key(settings: Settings) -> str:
    """The locally generated key, created on first use. Several processes starting at once
    (``--workers``) agree on one key: the file is created exclusively, the losers read it."""
    path = local_key_path(settings)
    try:
        key = path.read_text().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key


def load_key_ring(settings: Settings) -> Keys:
    configured = parse_api_keys(settings.api_keys)
    if settings.api_keys_file is not None:
        return KeyFileRing(settings.api_keys_file, configured)
    if configured:
        return KeyRing(configured, from_settings=True)
    digest = hashlib.sha256(local_api_key(settings).encode()).digest()
    return KeyRing((ApiKey(LOCAL_SOURCE, digest),), from_settings=False)

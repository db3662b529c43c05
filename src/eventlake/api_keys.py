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
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from eventlake.config import Settings

KEY_FILE = "api_key"
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


def parse_api_keys(text: str) -> tuple[ApiKey, ...]:
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
                raise ValueError(f"EVENTLAKE_API_KEYS entry {position} has an empty secret")
            digest = hashlib.sha256(secret.encode()).digest()
        if named and not NAME.match(name):
            raise ValueError(
                f"EVENTLAKE_API_KEYS entry {position}: a key name is 1-64 letters, digits or _.@-"
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


def load_key_ring(settings: Settings) -> KeyRing:
    configured = parse_api_keys(settings.api_keys)
    if configured:
        return KeyRing(configured, from_settings=True)
    digest = hashlib.sha256(local_api_key(settings).encode()).digest()
    return KeyRing((ApiKey(LOCAL_SOURCE, digest),), from_settings=False)

"""The one bounded gunzip (processing/gunzip.py, the core's) where it differs, or could, from
the pure-Python one it replaced (kept by the reference, the oracle): an empty body, garbage
after a member, a bomb, concatenated members; and the errors each caller turns it into."""

from __future__ import annotations

import gzip

import pytest

from eventlake.ingest.errors import BadBodyError, PayloadTooLargeError
from eventlake.ingest.headers import gunzip as api_gunzip
from eventlake.processing.gunzip import GunzipError, gunzip
from eventlake.processing.reference.error import InputError
from eventlake.processing.reference.input import _gunzip as reference_gunzip
from eventlake.stream.envelope import Envelope, EnvelopeError, decode, encode

PAYLOAD = b'{"event_id":"e1","user_id":"u1"}\n' * 200
GOOD = gzip.compress(PAYLOAD)


def outcome(function: object, data: bytes, limit: int) -> bytes | str:
    try:
        return function(data, limit)  # type: ignore[operator,no-any-return]
    except (GunzipError, InputError) as error:
        return str(error.reason)


@pytest.mark.parametrize(
    ("data", "limit", "expected"),
    [
        (b"", 10, b""),  # no bytes: an empty body (the API answers empty_body), not bad_gzip
        (GOOD + gzip.compress(b"more\n"), 1 << 20, PAYLOAD + b"more\n"),
        (GOOD + b"trailing garbage", 1 << 20, "bad_gzip"),
        (GOOD + b"\0" * 8, 1 << 20, "bad_gzip"),  # padding is garbage too
        (GOOD + b"\x1f\x8b", 1 << 20, "bad_gzip"),  # the start of a member that never comes
        (GOOD[:-4], 1 << 20, "bad_gzip"),
        (b"not gzip at all", 1 << 20, "bad_gzip"),
        (GOOD, len(PAYLOAD), PAYLOAD),
        (GOOD, len(PAYLOAD) - 1, "too_large"),
        (gzip.compress(b"\0" * (16 << 20)), 1 << 20, "too_large"),
        (GOOD + gzip.compress(b"x"), len(PAYLOAD), "too_large"),  # the limit spans members
    ],
)
def test_the_core_gunzip_agrees_with_the_reference(
    data: bytes, limit: int, expected: bytes | str
) -> None:
    assert outcome(gunzip, data, limit) == expected
    assert outcome(reference_gunzip, data, limit) == expected


def test_a_bomb_is_refused_with_the_same_message_as_before() -> None:
    with pytest.raises(GunzipError) as raised:
        gunzip(gzip.compress(b" " * 4_000_000), 4096)
    assert raised.value.message == "the body is larger than 4096 bytes once decompressed"
    assert isinstance(raised.value, ValueError)


def test_a_corrupt_body_says_gzip() -> None:
    with pytest.raises(GunzipError) as raised:
        gunzip(GOOD[:-4], 1 << 20)
    assert raised.value.reason == "bad_gzip"
    assert "gzip" in raised.value.message


def test_the_api_and_the_envelope_turn_it_into_their_own_errors() -> None:
    assert api_gunzip(b"", 10) == b""
    with pytest.raises(PayloadTooLargeError, match="decompressed"):
        api_gunzip(GOOD, 10)
    with pytest.raises(BadBodyError) as bad:
        api_gunzip(GOOD + b"x", 1 << 20)
    assert bad.value.code == "bad_gzip"

    envelope = Envelope("events", "0" * 32, "s", 1, "ndjson", encoding="gzip")
    record = encode(envelope, PAYLOAD)
    assert decode(record, max_body_bytes=len(PAYLOAD)) == (envelope, PAYLOAD)
    with pytest.raises(EnvelopeError, match="decompressed"):
        decode(record, max_body_bytes=len(PAYLOAD) - 1)
    with pytest.raises(EnvelopeError, match="gzip"):
        decode(record[:-4], max_body_bytes=1 << 20)

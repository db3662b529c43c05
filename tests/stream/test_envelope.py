"""The stream record's envelope: what ``encode`` writes ``decode`` reads back, and the parts of
one request, encoded with one ``Encoder`` (the header JSON-encoded once), are the same bytes."""

from __future__ import annotations

import pytest

from eventlake.stream.envelope import Encoder, Envelope, EnvelopeError, decode, encode

ENVELOPE = Envelope("events", "job-1", "ci", 1_700_000_000_000_000, "ndjson", parts=3)
BODIES = [b'{"event_id":"a"}\n', b'{"event_id":"b"}\n' * 50, b'{"event_id":"c"}\n']


def test_an_encoders_records_are_encodes_record_for_record() -> None:
    encoder = Encoder(ENVELOPE)
    assert [encoder.encode(body) for body in BODIES] == [encode(ENVELOPE, b) for b in BODIES]
    for body in BODIES:
        assert decode(encoder.encode(body), max_body_bytes=10_000) == (ENVELOPE, body)


def test_an_encoder_gzips_a_part_when_asked_and_keeps_the_others_plain() -> None:
    encoder = Encoder(ENVELOPE)
    plain, gzipped, plain_again = (
        encoder.encode(BODIES[0]),
        encoder.encode(BODIES[1], "gzip"),
        encoder.encode(BODIES[2]),
    )
    assert decode(gzipped, max_body_bytes=10_000) == (
        Envelope("events", "job-1", "ci", 1_700_000_000_000_000, "ndjson", "gzip", parts=3),
        BODIES[1],
    )
    assert len(gzipped) < len(encode(ENVELOPE, BODIES[1]))
    assert plain == encode(ENVELOPE, BODIES[0])
    assert plain_again == encode(ENVELOPE, BODIES[2])


def test_a_record_without_the_header_is_refused() -> None:
    with pytest.raises(EnvelopeError):
        decode(BODIES[0], max_body_bytes=10_000)

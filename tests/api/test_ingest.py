"""POST /api/v1/ingest: what is answered, and what reaches the stream."""

from __future__ import annotations

import csv
import gzip
import io
import json
import secrets
from collections.abc import Callable
from typing import Any

import anyio
import data_processor_rs
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from eventlake.api.auth import local_api_key
from eventlake.api.routes.ingest import read_body
from eventlake.config import Settings, get_settings
from eventlake.ingest import PayloadTooLargeError
from eventlake.stream import open_stream
from eventlake.stream.envelope import Envelope, decode
from tests.api.conftest import event

Published = Callable[..., list[tuple[Envelope, bytes]]]
URL = "/api/v1/ingest?dataset=events"


@pytest.fixture
def one_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-shard stream, for tests that read a request back as ONE stream record (with
    more shards a request is one record per shard its events hash to: tests/api/
    test_routing.py)."""
    monkeypatch.setenv("EVENTLAKE_STREAM__BACKEND__SHARDS", "1")
    get_settings.cache_clear()


def post(
    client: TestClient,
    auth: dict[str, str],
    body: bytes,
    content_type: str | None = "application/json",
    *,
    url: str = URL,
    **headers: str,
) -> Any:
    sent = {**auth, **{k.replace("_", "-"): v for k, v in headers.items()}}
    if content_type is not None:
        sent["Content-Type"] = content_type
    return client.post(url, content=body, headers=sent)


def ndjson(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def as_csv(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in record.items()})
    return out.getvalue().encode()


THREE = [event("e-1"), event("e-2", event_type="purchase", event_value=9.5), event("e-3")]
BODIES = {
    "json object": (json.dumps(THREE[0]).encode(), "application/json", 1),
    "json array": (json.dumps(THREE).encode(), "application/json; charset=utf-8", 3),
    "ndjson": (ndjson(THREE), "application/x-ndjson", 3),
    "jsonl": (ndjson(THREE), "application/jsonl", 3),
    "csv": (as_csv(THREE), "text/csv; charset=UTF-8", 3),
}


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("kind", list(BODIES))
@pytest.mark.usefixtures("one_shard")
def test_each_format_is_published_as_one_record(
    client: TestClient, auth: dict[str, str], published: Published, kind: str, gzipped: bool
) -> None:
    body, content_type, count = BODIES[kind]
    sent = gzip.compress(body) if gzipped else body
    headers = {"content_encoding": "gzip"} if gzipped else {}
    answer = post(client, auth, sent, content_type, **headers)

    assert answer.status_code == 202, answer.text
    reply = answer.json()
    assert reply["status"] == "published"
    assert (reply["received"], reply["accepted"], reply["rejected"]) == (count, count, 0)
    assert reply["reasons"] == []
    assert reply["reasons_truncated"] is False
    assert reply["status_url"] == f"/api/v1/status/{reply['job_id']}"
    [(envelope, stream_body)] = published("events")
    assert envelope.job_id == reply["job_id"]
    assert envelope.dataset == "events"
    assert envelope.source == "local"
    assert envelope.format == {"csv": "csv", "json object": "json", "json array": "json"}.get(
        kind, "ndjson"
    )
    # The stream carries the body decompressed and, every record having an id, untouched.
    assert stream_body == body


@pytest.mark.usefixtures("one_shard")
def test_mixed_valid_and_invalid_is_accepted_with_capped_reasons(
    make_client: Callable[..., TestClient], published: Published
) -> None:
    settings = Settings(api={"max_reasons": 2})
    client = make_client(settings)
    auth = {"X-API-Key": local_api_key(settings)}
    records = [event("ok-1"), event("bad-1", event_type="teleport"), event("ok-2")]
    records += [event("bad-2", event_value=-1), event("bad-3", user_id="")]
    lines = ndjson(records) + b"{not json\n" + b"x" * 500 + b"\n"

    answer = post(client, auth, lines, "application/x-ndjson")

    assert answer.status_code == 202
    reply = answer.json()
    assert (reply["received"], reply["accepted"], reply["rejected"]) == (7, 2, 5)
    assert reply["reasons_truncated"] is True
    assert [r["reason"] for r in reply["reasons"]] == ["not_in_enum", "out_of_range"]
    first = reply["reasons"][0]
    assert (first["record_index"], first["line"], first["field"]) == (1, 2, "event_type")
    assert "teleport" in first["message"]
    # The whole body is published, invalid records included: the consumer dead-letters them.
    [(_, stream_body)] = published("events")
    assert stream_body == lines


def test_reasons_quote_only_an_excerpt(client: TestClient, auth: dict[str, str]) -> None:
    big = event("bad", event_type="nope", properties={"blob": "z" * 5000})
    answer = post(client, auth, json.dumps([big, event("ok")]).encode())
    [reason] = answer.json()["reasons"]
    assert len(reason["excerpt"]) <= 101
    assert reason["excerpt"].endswith("…")


def test_all_invalid_is_422_and_nothing_is_published(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    answer = post(client, auth, json.dumps([event("a", event_type="nope"), {"x": 1}]).encode())

    assert answer.status_code == 422
    reply = answer.json()
    assert reply["error"]["code"] == "no_valid_records"
    assert (reply["status"], reply["received"], reply["accepted"], reply["rejected"]) == (
        "rejected",
        2,
        0,
        2,
    )
    assert [r["reason"] for r in reply["reasons"]] == ["not_in_enum", "missing"]
    assert published("events") == []
    # The job says why, for /status.
    job = client.get(reply["status_url"], headers=auth).json()
    assert job["status"] == "rejected"
    assert job["stages"][0]["stage"] == "rejected"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/json"),
        (b"  \n ", "application/x-ndjson"),
        (b"[]", "application/json"),
        (b"event_id,user_id\n", "text/csv"),
    ],
)
def test_a_body_without_records_is_400(
    client: TestClient, auth: dict[str, str], body: bytes, content_type: str
) -> None:
    answer = post(client, auth, body, content_type)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "empty_body"


def test_unreadable_csv_header_is_400(client: TestClient, auth: dict[str, str]) -> None:
    answer = post(client, auth, b"a,a\n1,2\n", "text/csv")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unreadable_body"


# --- sizes ----------------------------------------------------------------------------------


@pytest.fixture
def small(make_client: Callable[..., TestClient]) -> tuple[TestClient, dict[str, str]]:
    """An app that takes bodies of 4 KiB at most."""
    from eventlake.api.auth import local_api_key

    settings = Settings(api={"max_body_bytes": 4096})
    return make_client(settings), {"X-API-Key": local_api_key(settings)}


def test_a_body_over_the_limit_is_413_by_content_length(
    small: tuple[TestClient, dict[str, str]], published: Published
) -> None:
    client, auth = small
    answer = post(client, auth, json.dumps([event(f"e-{i}") for i in range(40)]).encode())
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert published("events") == []


def test_a_chunked_body_over_the_limit_is_413(small: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = small

    def chunks() -> Any:
        yield b"["
        for i in range(100):
            yield json.dumps(event(f"e-{i}")).encode() + b","
        yield b"{}]"

    answer = client.post(
        URL, content=chunks(), headers={**auth, "Content-Type": "application/json"}
    )
    assert answer.status_code == 413


def test_reading_stops_as_soon_as_the_limit_is_passed() -> None:
    """A client streaming without end is cut off after the limit, not read to the end."""
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)

    async def read() -> None:
        await read_body(request, 10_000)

    with pytest.raises(PayloadTooLargeError):
        anyio.run(read)
    assert received == 11


def test_a_gzip_bomb_is_413(small: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = small
    bomb = gzip.compress(b"[" + b" " * 4_000_000 + b"]", compresslevel=9)
    assert len(bomb) < 4096
    answer = post(client, auth, bomb, content_encoding="gzip")
    assert answer.status_code == 413
    assert "decompressed" in answer.json()["error"]["message"]


def test_a_gzip_body_without_content_encoding_has_the_same_limit(
    small: tuple[TestClient, dict[str, str]],
) -> None:
    client, auth = small
    answer = post(client, auth, gzip.compress(b" " * 4_000_000, compresslevel=9))
    assert answer.status_code == 413


@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(json.dumps([event()]).encode(), mtime=0)[:-10]],
    ids=["garbage", "truncated"],
)
def test_corrupt_gzip_is_400(client: TestClient, auth: dict[str, str], body: bytes) -> None:
    answer = post(client, auth, body, content_encoding="gzip")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "bad_gzip"
    assert "gzip" in error["message"]


def test_concatenated_gzip_members_are_one_body(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    body = gzip.compress(ndjson(THREE[:1])) + gzip.compress(ndjson(THREE[1:]))
    answer = post(client, auth, body, "application/x-ndjson", content_encoding="gzip")
    assert answer.json()["accepted"] == 3


# --- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/xml", "application/json; charset=latin-1", "multipart/x"],
)
def test_unsupported_content_type_is_415(
    client: TestClient, auth: dict[str, str], content_type: str | None
) -> None:
    answer = post(client, auth, json.dumps([event()]).encode(), content_type)
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd"])
def test_unsupported_content_encoding_is_415(
    client: TestClient, auth: dict[str, str], encoding: str
) -> None:
    answer = post(client, auth, json.dumps([event()]).encode(), content_encoding=encoding)
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_encoding"


def test_identity_encoding_is_accepted(client: TestClient, auth: dict[str, str]) -> None:
    answer = post(client, auth, json.dumps([event()]).encode(), content_encoding="identity")
    assert answer.status_code == 202


def test_unknown_dataset_is_404(client: TestClient, auth: dict[str, str]) -> None:
    answer = post(client, auth, b"[]", url="/api/v1/ingest?dataset=orders")
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "unknown_dataset"
    assert "events, products, users" in error["message"]


def test_the_dataset_defaults_to_events(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    answer = post(client, auth, json.dumps([event()]).encode(), url="/api/v1/ingest")
    assert answer.status_code == 202, answer.text
    assert answer.json()["dataset"] == "events"
    assert len(published("events")) == 1


@pytest.mark.parametrize("query", ["?dataset=", "?dataset=../events", "?dataset=Events"])
def test_a_malformed_dataset_is_422(client: TestClient, auth: dict[str, str], query: str) -> None:
    answer = post(client, auth, b"[]", url=f"/api/v1/ingest{query}")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


def test_other_datasets_use_their_contracts(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    at = "2026-01-01T00:00:00Z"
    users = [{"user_id": "u-1", "user_name": "Ada", "created_at": at, "updated_at": at}]
    answer = post(client, auth, json.dumps(users).encode(), url="/api/v1/ingest?dataset=users")
    assert answer.status_code == 202, answer.text
    assert len(published("users")) == 1
    assert published("events") == []


# --- generated event ids --------------------------------------------------------------------


def _validate(body: bytes, body_format: str) -> data_processor_rs.ValidatedBatch:
    contract = data_processor_rs.Contract.default_events()
    return data_processor_rs.validate_schema(
        data_processor_rs.parse_events(body, body_format), contract
    )


@pytest.mark.parametrize(
    ("content_type", "encode", "body_format"),
    [
        ("application/json", lambda rs: json.dumps(rs).encode(), "json"),
        ("application/x-ndjson", ndjson, "ndjson"),
    ],
)
@pytest.mark.usefixtures("one_shard")
def test_json_records_without_an_event_id_get_one(
    client: TestClient,
    auth: dict[str, str],
    published: Published,
    content_type: str,
    encode: Callable[[list[dict[str, Any]]], bytes],
    body_format: str,
) -> None:
    records = [event(None), event("keep-me"), event(None, event_type="nope"), {**event(None)}]
    records[3]["event_id"] = None
    answer = post(client, auth, encode(records), content_type)

    reply = answer.json()
    assert answer.status_code == 202
    assert (reply["accepted"], reply["rejected"]) == (3, 1)
    assert reply["reasons"][0]["reason"] == "not_in_enum"  # its id was filled in too
    [(_, body)] = published("events")
    rows = _validate(body, body_format).to_arrow().to_pylist()
    ids = [row["event_id"] for row in rows]
    assert ids[1] == "keep-me"
    assert len(set(ids)) == 3
    assert all(len(i) == 32 for i in (ids[0], ids[2]))


def test_a_single_json_object_without_an_event_id_gets_one(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    answer = post(client, auth, json.dumps(event(None)).encode())
    assert answer.json()["accepted"] == 1
    [(_, body)] = published("events")
    assert len(json.loads(body)["event_id"]) == 32


@pytest.mark.usefixtures("one_shard")
def test_csv_without_an_event_id_column_gets_one(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    records = [event(None), event(None, event_type="purchase")]
    answer = post(client, auth, as_csv(records), "text/csv")

    assert answer.json()["accepted"] == 2
    [(_, body)] = published("events")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert all(len(row["event_id"]) == 32 for row in rows)
    assert rows[0]["event_id"] != rows[1]["event_id"]


@pytest.mark.usefixtures("one_shard")
def test_csv_empty_event_id_cells_are_filled(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    records = [event("keep-me"), event("x")]
    body = as_csv(records).replace(b"\nx,", b"\n,")
    answer = post(client, auth, body, "text/csv")

    assert answer.json()["accepted"] == 2
    [(_, stream_body)] = published("events")
    rows = list(csv.DictReader(io.StringIO(stream_body.decode())))
    assert rows[0]["event_id"] == "keep-me"
    assert len(rows[1]["event_id"]) == 32


def test_the_fast_path_never_rewrites_the_body(
    client: TestClient,
    auth: dict[str, str],
    published: Published,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every record has its id (some are invalid for other reasons): the body is not
    rewritten, it reaches the stream as sent, whitespace and all."""

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the body was rewritten")

    monkeypatch.setattr("eventlake.ingest.event_ids.fill_ids", fail)
    body = json.dumps([event("a"), event("b", event_type="nope")], indent=4).encode()
    answer = post(client, auth, body)
    assert answer.status_code == 202
    [(_, stream_body)] = published("events")
    assert stream_body == body


def test_only_the_events_contract_gets_generated_ids(
    client: TestClient, auth: dict[str, str]
) -> None:
    users = [{"user_name": "Ada", "created_at": "2026-01-01T00:00:00Z"}]
    answer = post(client, auth, json.dumps(users).encode(), url="/api/v1/ingest?dataset=users")
    assert answer.status_code == 422


# --- idempotency ----------------------------------------------------------------------------


def test_the_same_idempotency_key_replays_the_first_answer(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    body = json.dumps([event("a"), event("b", event_type="nope")]).encode()
    first = post(client, auth, body, idempotency_key="order-42")
    again = post(client, auth, body, idempotency_key="order-42")

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(published("events")) == 1


def test_an_idempotency_key_reused_with_another_body_is_409(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    post(client, auth, json.dumps([event("a")]).encode(), idempotency_key="k-1")
    answer = post(client, auth, json.dumps([event("b")]).encode(), idempotency_key="k-1")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "idempotency_conflict"
    assert len(published("events")) == 1


def test_keys_are_per_source(make_client: Callable[..., TestClient], published: Published) -> None:
    client = make_client(Settings(api_keys="alice:a-secret,bob:b-secret"))
    body = json.dumps([event("a")]).encode()
    for secret in ("a-secret", "b-secret"):
        assert post(client, {"X-API-Key": secret}, body, idempotency_key="k").status_code == 202
    assert len(published("events")) == 2


def test_a_failed_request_releases_its_idempotency_key(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    """Nothing was published, so the client may fix the body and retry with the same key."""
    bad = post(
        client, auth, json.dumps([event("a", event_type="nope")]).encode(), idempotency_key="k"
    )
    good = post(client, auth, json.dumps([event("a")]).encode(), idempotency_key="k")
    assert (bad.status_code, good.status_code) == (422, 202)
    assert len(published("events")) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "ünïcode".encode()])
def test_a_malformed_idempotency_key_is_400(
    client: TestClient, auth: dict[str, str], key: str | bytes
) -> None:
    headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": key}
    answer = client.post(URL, content=json.dumps([event()]).encode(), headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_idempotency_key"


# --- a stream with a record size limit (Kinesis: 1 MiB) -------------------------------------


@pytest.mark.usefixtures("one_shard")
def test_a_batch_too_large_for_a_stream_record_is_gzipped_or_refused(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    ingestor = client.app.state.services.ingestor()  # type: ignore[attr-defined]
    ingestor.max_stream_record_bytes = 20_000
    compressible = json.dumps([event(f"e-{i}") for i in range(200)]).encode()
    assert len(compressible) > 20_000

    answer = post(client, auth, compressible)
    assert answer.status_code == 202
    [(envelope, body)] = published("events")
    assert envelope.encoding == "gzip"
    assert body == compressible

    noise = [event(f"n-{i}", properties={"noise": secrets.token_urlsafe(96)}) for i in range(300)]
    refused = post(client, auth, json.dumps(noise).encode())
    assert refused.status_code == 413
    assert "smaller batches" in refused.json()["error"]["message"]
    assert len(published("events")) == 1


@pytest.mark.usefixtures("one_shard")
def test_large_batches_travel_gzipped_when_configured(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With EVENTLAKE_STREAM__COMPRESS_OVER_BYTES, a batch over the threshold is gzipped in
    the stream (fewer bytes written and fsynced) and decodes to the very body sent."""
    monkeypatch.setenv("EVENTLAKE_STREAM__COMPRESS_OVER_BYTES", "1000")
    get_settings.cache_clear()
    settings = get_settings()
    client = make_client(settings)
    auth = {"X-API-Key": local_api_key(settings)}
    small = json.dumps([event("s-1")]).encode()
    large = json.dumps([event(f"l-{i}") for i in range(50)]).encode()
    assert len(small) < 1000 < len(large)
    for body in (small, large):
        assert post(client, auth, body).status_code == 202
    stream = open_stream(settings, "events")
    records = [
        r.data
        for shard in stream.shards()
        for r in stream.reader(shard.shard_id, None).read(100).records
    ]
    encodings = sorted(decode(data, max_body_bytes=1 << 20)[0].encoding for data in records)
    assert encodings == ["gzip", "identity"]
    bodies = sorted(decode(data, max_body_bytes=1 << 20)[1] for data in records)
    assert bodies == sorted([small, large])
    raw_sizes = sorted(len(data) for data in records)
    assert raw_sizes[1] < len(large) / 3  # gzip really shrank it

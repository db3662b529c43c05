"""A JSON array body cut off before its ``]`` is a transport failure: 400 ``truncated_body``,
nothing published, no job, the Idempotency-Key released; the retry with the whole body and
the same key is accepted once. Through the app's HTTP interface (TestClient)."""

from __future__ import annotations

import gzip
import json

import pytest
from fastapi.testclient import TestClient

from eventlake.config import Settings
from eventlake.state import StateStore
from tests.api.conftest import event
from tests.api.test_ingest import Published, post

EVENTS = [event(f"cut-{i}", properties={"page": f"/p/{i}", "n": 12.5 + i}) for i in range(5)]
WHOLE = json.dumps(EVENTS).encode()
SECOND = WHOLE.index(b'{"event_id": "cut-1"')
SECOND_PAGE = WHOLE.index(b"/p/1")
SECOND_NUMBER = WHOLE.index(b"13.5")


def cuts() -> dict[str, bytes]:
    """Where a body can end inside its array."""
    return {
        "after the bracket": WHOLE[:1],
        "between elements": WHOLE[: SECOND - 2],  # after the first element's '}'
        "after a comma": WHOLE[: SECOND - 1],
        "inside a string": WHOLE[: SECOND_PAGE + 2],
        "inside a number": WHOLE[: SECOND_NUMBER + 3],  # "13." : the fraction is missing
        "before the bracket": WHOLE[:-1],
    }


def jobs(settings: Settings) -> list[dict[str, object]]:
    state = StateStore(settings.state_database_url)
    try:
        return state.recent_jobs()
    finally:
        state.close()


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("where", list(cuts()))
def test_a_cut_off_array_is_400_and_the_whole_retry_lands_once(
    client: TestClient,
    auth: dict[str, str],
    settings: Settings,
    published: Published,
    where: str,
    gzipped: bool,
) -> None:
    cut, whole = cuts()[where], WHOLE
    headers = {"idempotency_key": f"order-{where}-{gzipped}"}
    if gzipped:
        cut, whole = gzip.compress(cut, mtime=0), gzip.compress(whole, mtime=0)
        headers["content_encoding"] = "gzip"

    answer = post(client, auth, cut, **headers)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "truncated_body"
    assert f"at byte {len(cuts()[where])}, line 1" in error["message"]
    assert published() == [], "nothing of a cut-off body is published"
    assert jobs(settings) == [], "and no job is created"

    retry = post(client, auth, whole, **headers)
    assert retry.status_code == 202, retry.text
    assert retry.json()["accepted"] == len(EVENTS)
    replay = post(client, auth, whole, **headers)
    assert replay.status_code == 202
    assert replay.headers["Idempotent-Replayed"] == "true"
    landed = [record["event_id"] for _envelope, body in published() for record in json.loads(body)]
    assert sorted(landed) == sorted(e["event_id"] for e in EVENTS), "each event once"


def test_malformed_records_in_a_whole_body_are_still_rejected_not_refused(
    client: TestClient, auth: dict[str, str], published: Published
) -> None:
    """A syntax error before the end, or trailing characters after the ']', is the records'
    fault: 202 with them rejected, as before."""
    good = json.dumps(EVENTS[0]).encode()
    for body in (
        b"[" + good + b', {"event_id": tru}, ' + good + b"]",
        b"[" + good + b"] trailing",
    ):
        answer = post(client, auth, body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["rejected"] == 1
        assert answer.json()["reasons"][0]["reason"] == "invalid_json"


def test_a_cut_off_last_ndjson_line_is_a_rejected_record(
    client: TestClient, auth: dict[str, str]
) -> None:
    """NDJSON has no bracket to miss: a last line without its newline is normal, and a
    malformed last line is that record's fault."""
    body = b"".join(json.dumps(e).encode() + b"\n" for e in EVENTS[:2]) + b'{"event_id": "x'
    answer = post(client, auth, body, "application/x-ndjson")
    assert answer.status_code == 202
    assert (answer.json()["accepted"], answer.json()["rejected"]) == (2, 1)

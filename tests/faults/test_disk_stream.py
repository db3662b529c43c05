"""The stream's disk fills up under the API (issue 18, "Faults"): the embedded stream's file
on a small tmpfs, ``eventlake serve`` as a process, the disk filled to its last byte.

While it is full every request is answered 503 ``stream_unavailable`` with Retry-After (never
500, never 202 for a batch the stream did not take), and its Idempotency-Key is released; once
a filler file is deleted the same API process (no restart) takes the retries and new requests,
and every request that got a 202 lands in the lake exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlake.config import get_settings
from eventlake.consumer import drain
from tests.faults.disk import api_process, child_env, ids_of, lake_ids, post, small_disk

pytestmark = pytest.mark.slow


def test_a_full_stream_disk_answers_503_and_everything_accepted_lands_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("EVENTLAKE_STREAM__BACKEND__PATH", str(disk.path / "stream.db"))
        get_settings.cache_clear()
        settings = get_settings()
        env = child_env(settings)
        accepted: list[str] = []
        with api_process(env, tmp_path) as (client, api):
            for n in range(5):
                answer = post(client, f"before-{n}")
                assert answer.status_code == 202, answer.text
                accepted.append(f"before-{n}")

            disk.fill()
            refused: list[str] = []
            for n in range(10):
                name = f"full-{n}"
                answer = post(client, name, key=n % 2 == 0)
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"]["code"] == "stream_unavailable"
                assert "disk is full" in answer.json()["error"]["message"]
                assert int(answer.headers["Retry-After"]) >= 1
                refused.append(name)
            # Still full: a retry with the same key is refused again, not a 409 (the claim
            # was released with the refusal).
            again = post(client, "full-0")
            assert again.status_code == 503, again.text

            disk.free()
            # The same process, no restart: the retries of the refused requests go through
            # (those with a key as first answers, not replays), and so do new ones.
            for name in refused:
                keyed = int(name.rsplit("-", 1)[1]) % 2 == 0
                answer = post(client, name, key=keyed)
                assert answer.status_code == 202, answer.text
                assert "Idempotent-Replayed" not in answer.headers
                accepted.append(name)
            for n in range(3):
                answer = post(client, f"after-{n}")
                assert answer.status_code == 202, answer.text
                accepted.append(f"after-{n}")
            assert "Traceback" not in api.output(), api.output()[-3000:]

        drain(settings)
        landed = lake_ids(settings)
        expected = [event_id for name in accepted for event_id in ids_of(name)]
        assert len(landed) == len(set(landed)), "an event landed twice"
        assert sorted(landed) == sorted(expected)

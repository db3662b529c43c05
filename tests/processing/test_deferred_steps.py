"""The steps' batches are computed when first asked for (``processor_core::deferred``): a chain
of calls looked at only at its end runs in one pass, as ``process`` does. What a user sees must
not depend on it: the same rows and rejections whichever batch is looked at first or twice, the
ingest time of the ``transform_batch`` call, errors from the call that raised them before, and a
window that changes when ``Deduplicator.deduplicate`` is called. (The differential tests compare
a chain looked at only at its end with the reference too.)"""

from __future__ import annotations

import gzip
import time
from concurrent.futures import ThreadPoolExecutor

import data_processor_rs as rs
import pytest

from eventlake.contracts import load_contract

CONTRACT = load_contract("events")
EVENT = (
    '{{"event_id":"{id}","user_id":"u1","event_type":"{kind}",'
    '"event_timestamp":"2026-01-0{day}T10:00:00Z"}}'
)
BODY = "\n".join(
    [
        EVENT.format(id="e1", kind="page_view", day=1),
        EVENT.format(id="e2", kind="search", day=2),
        "not json",
        EVENT.format(id="e1", kind="page_view", day=1),  # a duplicate
        EVENT.format(id="e3", kind="no-such-kind", day=3),  # rejected by the contract
        EVENT.format(id="e4", kind="purchase", day=4),
    ]
).encode()


def chain(
    body: bytes = BODY,
) -> tuple[rs.ParsedBatch, rs.ValidatedBatch, rs.TransformedBatch, rs.TransformedBatch]:
    parsed = rs.parse_events(body)
    validated = rs.validate_schema(parsed, CONTRACT)
    transformed = rs.transform_batch(validated, job_id="j", source="s", ingested_at_us=7)
    return parsed, validated, transformed, rs.deduplicate(transformed)


def test_the_end_of_a_chain_first_or_each_step_first_gives_the_same_batches() -> None:
    fused = rs.process(BODY, CONTRACT, job_id="j", source="s", ingested_at_us=7)
    parsed, validated, transformed, deduplicated = chain()
    end_first = (deduplicated.to_arrow(), deduplicated.rejected, deduplicated.num_duplicates)
    # Then the earlier batches, looked at after the end of their chain.
    assert (len(parsed), parsed.num_rejected, parsed.format) == (5, 1, "ndjson")
    assert (len(validated), validated.num_rejected, len(transformed)) == (4, 2, 4)
    assert end_first == (fused.to_arrow(), fused.rejected, 1)

    parsed, validated, transformed, _ = chain()
    assert (len(parsed), len(validated), len(transformed)) == (5, 4, 4)
    deduplicated = rs.deduplicate(transformed)  # of a batch already computed
    assert (deduplicated.to_arrow(), deduplicated.rejected) == end_first[:2]
    assert deduplicated.num_duplicates == 1
    assert transformed.num_duplicates == 0


def test_a_batch_used_twice_gives_the_same_result_each_time() -> None:
    parsed, validated, transformed, deduplicated = chain()
    assert deduplicated.to_arrow() == deduplicated.to_arrow()
    assert rs.deduplicate(deduplicated).to_arrow() == deduplicated.to_arrow()
    assert rs.deduplicate(deduplicated).num_duplicates == 1  # counted once, not twice
    again = rs.transform_batch(validated, job_id="other", source="s", ingested_at_us=7)
    assert set(again.to_arrow().column("_job_id").to_pylist()) == {"other"}
    assert set(transformed.to_arrow().column("_job_id").to_pylist()) == {"j"}
    other = rs.validate_schema(parsed, rs.Contract.default_events())
    assert other.to_arrow() == validated.to_arrow()
    assert other.rejected == validated.rejected


def test_many_threads_asking_at_once_get_one_result() -> None:
    body = b"\n".join([BODY] * 2_000)
    *_, deduplicated = chain(body)
    with ThreadPoolExecutor(8) as pool:
        tables = list(pool.map(lambda _: deduplicated.to_arrow(), range(8)))
    assert all(table == tables[0] for table in tables)
    assert tables[0].num_rows == 3


def test_the_ingest_time_is_the_transform_calls() -> None:
    validated = rs.validate_schema(rs.parse_events(BODY), CONTRACT)
    before = time.time_ns() // 1000
    transformed = rs.transform_batch(validated)
    after = time.time_ns() // 1000
    time.sleep(0.05)
    stamped = transformed.to_arrow().column("_ingested_at").cast("int64").to_pylist()
    assert set(stamped) == {stamped[0]}
    assert before <= stamped[0] <= after


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x1f\x8b not gzip", "bad_gzip"),
        (gzip.compress(b"x" * 2_000), "too_large"),
        (b"user_id,user_id\nu1,u2\n", "bad_csv_header"),
    ],
)
def test_a_body_that_cannot_be_read_fails_its_parse_call(body: bytes, reason: str) -> None:
    with pytest.raises(rs.InputError) as raised:
        rs.parse_events(body, max_decompressed_bytes=1_000)
    assert raised.value.reason == reason  # type: ignore[attr-defined]


def test_a_window_changes_when_it_deduplicates_not_when_the_rows_are_read() -> None:
    window = rs.Deduplicator(100)
    *_, transformed, _ = chain()
    deduplicated = window.deduplicate(transformed)
    assert len(window) == 3  # e1, e2, e4: before anything reads the rows
    assert deduplicated.num_duplicates == 1
    *_, transformed, _ = chain()
    assert len(window.deduplicate(transformed)) == 0
    assert len(window) == 3

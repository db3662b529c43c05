"""Files through the core in chunks: chunk boundaries lose nothing, line numbers and record
indexes stay in file terms, and duplicates are caught across chunks."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from eventlake.contracts import load_contract
from eventlake.pipeline.process_files import detect_file_format, ndjson_chunks, process_file


def event(i: int, **changes: object) -> str:
    base = {
        "event_id": f"e{i}",
        "user_id": "u1",
        "event_type": "login",
        "event_timestamp": "2026-11-03T10:15:30Z",
    }
    return json.dumps(base | changes)


@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1 << 20])
def test_chunks_reassemble_the_file_and_count_lines(tmp_path: Path, chunk_bytes: int) -> None:
    path = tmp_path / "e.ndjson"
    content = b"a\n\nbbbb\ncc\r\nlast-without-newline"
    path.write_bytes(content)
    chunks = list(ndjson_chunks(path, chunk_bytes))
    assert b"".join(chunk for chunk, _ in chunks) == content
    offset = 0
    for chunk, lines_before in chunks:
        assert content[:offset].count(b"\n") == lines_before
        assert chunk.endswith(b"\n") or chunk.endswith(b"last-without-newline")
        offset += len(chunk)


def test_chunk_size_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_bytes(b"x\n")
    with pytest.raises(ValueError, match="positive"):
        list(ndjson_chunks(path, 0))


def test_many_chunks_keep_file_line_numbers_and_dedup_across_chunks(tmp_path: Path) -> None:
    lines = [event(i) for i in range(50)]
    lines[10] = "{broken"
    lines[40] = event(3)  # a duplicate of line 4, far away in another chunk
    lines[45] = event(45, event_type="unknown")
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    report = process_file(path, load_contract("events"), output_dir=out, chunk_bytes=300)
    assert (report.received, report.landed, report.rejected, report.duplicates) == (50, 47, 2, 1)
    assert report.reconciles
    assert report.rejected_by_reason == {"invalid_json": 1, "not_in_enum": 1}
    rejected = pq.read_table(out / "events_rejected").to_pylist()
    assert [(r["record_index"], r["line"], r["reason"]) for r in rejected] == [
        (10, 11, "invalid_json"),
        (45, 46, "not_in_enum"),
    ]
    landed = pq.read_table(out / "events").column("event_id").to_pylist()
    assert len(landed) == len(set(landed)) == 47


def test_a_second_run_replaces_the_output(tmp_path: Path) -> None:
    path, out = tmp_path / "events.ndjson", tmp_path / "out"
    path.write_text(event(1) + "\n{bad\n")
    process_file(path, load_contract("events"), output_dir=out)
    path.write_text(event(1) + "\n")
    report = process_file(path, load_contract("events"), output_dir=out)
    assert report.rejected == 0
    assert not list((out / "events_rejected").glob("*.parquet")), "stale rejections are gone"
    assert pq.read_table(out / "events").num_rows == 1


def test_gzip_csv_and_json_files_are_one_batch(tmp_path: Path) -> None:
    gz = tmp_path / "events.ndjson.gz"
    gz.write_bytes(gzip.compress((event(1) + "\n" + event(2) + "\n").encode()))
    assert process_file(gz, load_contract("events")).landed == 2
    csv_file = tmp_path / "events.csv"
    csv_file.write_text("event_id,user_id,event_type,event_timestamp\ne1,u1,login,1700000000\n")
    assert process_file(csv_file, load_contract("events")).landed == 1
    assert [detect_file_format(Path(n)) for n in ("a.jsonl", "a.json.gz", "a.csv", "a.txt")] == [
        "ndjson",
        "json",
        "csv",
        "auto",
    ]


def test_into_the_lake_once_and_a_resume_with_other_chunks_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventlake.config import Settings
    from eventlake.lake import Lake, WatermarkOverlapError
    from tests.lake.conftest import sample_body

    path = tmp_path / "events.ndjson"
    path.write_bytes(sample_body(600))
    lake = Lake(Settings(home=tmp_path / "home"))
    contract = load_contract("events")
    first = process_file(path, contract, lake=lake, chunk_bytes=20_000)
    assert first.committed_batches > 3
    assert first.skipped_batches == 0
    assert lake.table("events").scan().to_arrow().num_rows == first.landed
    again = process_file(path, contract, lake=lake, chunk_bytes=20_000)
    assert again.committed_batches == 0
    assert again.skipped_batches == first.committed_batches

    # A run that dies after two chunks, resumed with other chunk boundaries: positions are
    # byte offsets, so the first new chunk straddles the watermark and is refused.
    other = Lake(Settings(home=tmp_path / "other"))
    real_commit = Lake.commit_processed
    calls = []

    def dies_after_two(self: Lake, *args: object, **kwargs: object) -> object:
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real_commit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Lake, "commit_processed", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        process_file(path, contract, lake=other, chunk_bytes=20_000)
    monkeypatch.undo()
    landed = other.table("events").scan().to_arrow().num_rows
    with pytest.raises(WatermarkOverlapError, match="committed up to"):
        process_file(path, contract, lake=other, chunk_bytes=50_000)
    assert other.table("events").scan().to_arrow().num_rows == landed
    resumed = process_file(path, contract, lake=other, chunk_bytes=20_000)
    assert resumed.skipped_batches == 2
    assert other.table("events").scan().to_arrow().num_rows == first.landed

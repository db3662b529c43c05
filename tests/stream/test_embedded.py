"""The embedded stream on real SQLite files, with real threads and real processes.

This module is also the child process of the multi-process tests::

    python -m tests.stream.test_embedded PATH STREAM PREFIX COUNT THREADS [--wait]

publishes COUNT records per thread (keys PREFIX-THREAD-N, data derived from the key) and
prints ``shard seq key`` for each record once ``publish`` acknowledged it. With ``--wait`` it
starts once a line arrives on stdin, so that two children really write at the same time.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eventlake.config import EmbeddedStreamSettings, Settings, StreamSettings
from eventlake.stream import SharedStream, embedded, open_stream, ordered_shards, readable_shards
from eventlake.stream.base import (
    GroupCommit,
    OutgoingRecord,
    PublishedRecord,
    ShardInfo,
    StreamError,
    StreamRecord,
)
from eventlake.stream.embedded import EmbeddedStream, shard_ordinal
from tests.stream.group_watch import watch_queue

ROOT = Path(__file__).resolve().parents[2]
HOUR = timedelta(hours=1)


def payload(key: str) -> bytes:
    return (key + "|").encode() * 100


def make_stream(
    path: Path,
    name: str = "s",
    shards: int = 4,
    trim_every: timedelta = timedelta(minutes=1),
    clock: Callable[[], float] = time.time,
) -> EmbeddedStream:
    stream = EmbeddedStream(
        path, name, shards=shards, retention=HOUR, trim_every=trim_every, clock=clock
    )
    stream.ensure()
    return stream


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[EmbeddedStream]:
    s = make_stream(tmp_path / "stream.db")
    yield s
    s.close()


def read_all(stream: EmbeddedStream, shard_id: str, after: int | None = None) -> list[StreamRecord]:
    reader = stream.reader(shard_id, after)
    out: list[StreamRecord] = []
    while batch := reader.read(100).records:
        out.extend(batch)
    return out


def read_everything(stream: EmbeddedStream) -> dict[str, list[StreamRecord]]:
    return {shard.shard_id: read_all(stream, shard.shard_id) for shard in stream.shards()}


def assert_gap_free(records: dict[str, list[StreamRecord]]) -> None:
    for shard_id, shard_records in records.items():
        seqs = [r.sequence_number for r in shard_records]
        assert seqs == list(range(1, len(seqs) + 1)), shard_id


def test_round_trip(stream: EmbeddedStream) -> None:
    before = datetime.now(UTC)
    published = stream.publish(
        [OutgoingRecord("a", b"first"), OutgoingRecord("b", b"second"), OutgoingRecord("a", b"3")]
    )
    assert [p.shard_id for p in published] == [
        f"shard-{shard_ordinal(k, 4):04d}" for k in ("a", "b", "a")
    ]
    assert published[2].sequence_number > published[0].sequence_number
    everything = read_everything(stream)
    found = {(r.shard_id, r.sequence_number): r for recs in everything.values() for r in recs}
    for record, data in zip(published, [b"first", b"second", b"3"], strict=True):
        got = found[(record.shard_id, record.sequence_number)]
        assert got.data == data
        assert before - timedelta(seconds=1) <= got.arrived_at <= datetime.now(UTC)
    assert [s.shard_id for s in stream.shards()] == [f"shard-{i:04d}" for i in range(4)]
    assert not any(s.closed or s.parent_shard_ids for s in stream.shards())
    stream.check()


def test_order_and_monotonic_sequence_per_shard(stream: EmbeddedStream) -> None:
    sent: dict[str, list[bytes]] = defaultdict(list)
    for call in range(20):
        batch = [OutgoingRecord(f"key-{i % 7}", f"{call}-{i}".encode()) for i in range(10)]
        for record, result in zip(batch, stream.publish(batch), strict=True):
            sent[result.shard_id].append(record.data)
    everything = read_everything(stream)
    assert_gap_free(everything)
    for shard_id, records in everything.items():
        assert [r.data for r in records] == sent[shard_id]


def test_same_key_same_shard_and_keys_spread(stream: EmbeddedStream) -> None:
    results = stream.publish([OutgoingRecord("user-42", b"x") for _ in range(5)])
    assert len({r.shard_id for r in results}) == 1
    spread = Counter(
        r.shard_id for r in stream.publish([OutgoingRecord(f"k{i}", b"") for i in range(2000)])
    )
    assert len(spread) == 4
    assert min(spread.values()) > 400  # 500 each on average
    # Stable across processes and runs: MD5, split like Kinesis hash key ranges.
    assert [shard_ordinal(k, 4) for k in ("a", "b", "user-42")] == [
        int.from_bytes(hashlib.md5(k.encode(), usedforsecurity=False).digest(), "big") // 2**126
        for k in ("a", "b", "user-42")
    ]


def test_shards_say_their_hash_ranges_and_explicit_hash_keys_pick_them(
    stream: EmbeddedStream,
) -> None:
    """The ranges tile the 128-bit space as Kinesis's do; an explicit hash key overrides the
    partition key's hash (the API routes each part of a request so)."""
    shards = stream.shards()
    ranges = [shard.hash_range for shard in shards]
    assert ranges[0] is not None
    assert ranges[0][0] == 0
    assert ranges[-1] is not None
    assert ranges[-1][1] == 2**128 - 1
    for before, after in itertools.pairwise(ranges):
        assert before is not None
        assert after is not None
        assert after[0] == before[1] + 1
    keys = [r[0] for r in ranges if r] + [r[1] for r in ranges if r]
    published = stream.publish([OutgoingRecord("same-key", b"x", key) for key in keys])
    owners = [s.shard_id for s in shards] * 2
    assert [p.shard_id for p in published] == owners
    with pytest.raises(StreamError, match="hash key"):
        stream.publish([OutgoingRecord("k", b"x", 2**128)])


def test_read_from_any_position_and_limits(tmp_path: Path) -> None:
    stream = make_stream(tmp_path / "s.db", shards=1)
    stream.publish([OutgoingRecord("k", f"r{i}".encode()) for i in range(1, 11)])
    for after in (None, 0, 3, 9, 10):
        start = after or 0
        assert [r.sequence_number for r in read_all(stream, "shard-0000", after)] == list(
            range(start + 1, 11)
        )
    # A position the shard never reached comes from another stream (stream.db replaced):
    # an error, not a silent wait for numbers that were handed out long ago.
    with pytest.raises(StreamError, match="not the stream those positions came from"):
        stream.reader("shard-0000", 50).read(10)
    reader = stream.reader("shard-0000", 4)
    batch = reader.read(3)
    assert [r.data for r in batch.records] == [b"r5", b"r6", b"r7"]
    assert batch.behind == 3
    assert not batch.at_end
    assert reader.read(100).behind == 0
    with pytest.raises(StreamError, match="no shard"):
        stream.reader("shard-0009", None)
    stream.close()


def test_reader_picks_up_later_records(stream: EmbeddedStream) -> None:
    shard = stream.publish([OutgoingRecord("k", b"one")])[0].shard_id
    reader = stream.reader(shard, None)
    assert [r.data for r in reader.read(10).records] == [b"one"]
    empty = reader.read(10)
    assert empty.records == []
    assert empty.behind == 0
    stream.publish([OutgoingRecord("k", b"two"), OutgoingRecord("k", b"three")])
    assert [r.data for r in reader.read(10).records] == [b"two", b"three"]


def test_many_threads_publish_concurrently(stream: EmbeddedStream) -> None:
    threads, calls = 16, 25
    acked: list[tuple[PublishedRecord, str]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def publisher(t: int) -> None:
        try:
            for n in range(calls):
                keys = [f"t{t}-n{n}-{i}" for i in range(1 + n % 3)]
                results = stream.publish([OutgoingRecord(k, payload(k)) for k in keys])
                with lock:
                    acked.extend(zip(results, keys, strict=True))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=publisher, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    positions = [(p.shard_id, p.sequence_number) for p, _ in acked]
    assert len(set(positions)) == len(positions)
    everything = read_everything(stream)
    assert_gap_free(everything)
    stored = {(r.shard_id, r.sequence_number): r.data for rs in everything.values() for r in rs}
    assert len(stored) == len(acked) == threads * sum(1 + n % 3 for n in range(calls))
    for result, key in acked:
        assert stored[(result.shard_id, result.sequence_number)] == payload(key)


def test_group_commit_groups_callers_and_fails_a_whole_group() -> None:
    groups: list[list[int]] = []
    gate, writing = threading.Event(), threading.Event()

    def write(items: list[int]) -> list[int]:
        writing.set()
        gate.wait(5)  # hold the first write until everyone queued behind it
        groups.append(items)
        if -1 in items:
            raise RuntimeError("disk on fire")
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(write)
    queued = watch_queue(group)
    results: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            results[i] = group.submit([i, i])
        except StreamError as error:
            results[i] = error

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert writing.wait(10)  # the first caller leads, alone, and is held in its write
    assert queued.acquire(timeout=10)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 9)]
    for t in others:
        t.start()
    for _ in others:  # every other caller waits in the queue behind it
        assert queued.acquire(timeout=10)
    gate.set()
    for t in [first, *others]:
        t.join()
    assert results == {i: [i * 10, i * 10] for i in range(9)}
    assert len(groups) == 2, "the eight waiting callers share one write"

    gate.set()
    failing: list[object] = []
    bad = threading.Thread(target=lambda: failing.append(_catch(group, [-1])))
    bad.start()
    bad.join()
    assert isinstance(failing[0], StreamError)
    assert "disk on fire" in str(failing[0])
    assert group.submit([7]) == [70], "a failed write does not poison the next"


def _catch(group: GroupCommit[int, int], items: list[int]) -> object:
    try:
        return group.submit(items)
    except StreamError as error:
        return error


def child_command(
    path: Path, name: str, prefix: str, count: int, threads: int, *flags: str
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.stream.test_embedded",
        str(path),
        name,
        prefix,
        str(count),
        str(threads),
        *flags,
    ]


def parse_acks(out: str) -> list[tuple[str, int, str]]:
    acks = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:  # a line cut short by SIGKILL was never acknowledged
            acks.append((parts[0], int(parts[1]), parts[2]))
    return acks


def test_two_processes_publish_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    make_stream(path).close()
    children = [
        subprocess.Popen(
            child_command(path, "s", f"p{i}", 60, 4, "--wait"),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for child in children:  # both ready (imported, file open) before either starts
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    acks = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        acks.extend(parse_acks(out))
    assert len(acks) == 2 * 60 * 4
    stream = make_stream(path)
    everything = read_everything(stream)
    assert_gap_free(everything)
    stored = {(r.shard_id, r.sequence_number): r.data for rs in everything.values() for r in rs}
    assert len(stored) == len(acks)
    for shard_id, seq, key in acks:
        assert stored[(shard_id, seq)] == payload(key)
    # The two writers took turns within shards, not one after the other.
    for records in everything.values():
        writers = [r.data[:2] for r in records]
        assert sum(a != b for a, b in itertools.pairwise(writers)) > 2
    stream.close()


def test_acknowledged_records_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    make_stream(path).close()
    child = subprocess.Popen(
        child_command(path, "s", "c", 1_000_000, 4),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while len(lines) < 300 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        lines.append(line)
    os.kill(child.pid, signal.SIGKILL)
    rest, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err
    acks = parse_acks("".join(lines) + rest)
    assert len(acks) >= 300, err

    stream = make_stream(path)
    stored = {
        (r.shard_id, r.sequence_number): r.data
        for rs in read_everything(stream).values()
        for r in rs
    }
    for shard_id, seq, key in acks:
        assert stored.get((shard_id, seq)) == payload(key), (shard_id, seq, key)
    # The reopened log keeps counting where the killed writer stopped.
    again = stream.publish([OutgoingRecord("after-crash", b"x")])[0]
    assert again.sequence_number == 1 + max(
        seq for shard_id, seq in stored if shard_id == again.shard_id
    )
    stream.close()


def test_retention_deletes_old_records_only(tmp_path: Path) -> None:
    now = [1_000_000.0]
    path = tmp_path / "r.db"
    stream = make_stream(path, shards=2, trim_every=timedelta(0), clock=lambda: now[0])
    neighbour = make_stream(path, name="other", shards=2, clock=lambda: now[0])
    old = stream.publish([OutgoingRecord(f"k{i}", b"old") for i in range(20)])
    neighbour.publish([OutgoingRecord("k", b"kept")])
    now[0] += 1.5 * 3600  # the old records are now past the hour of retention
    young = stream.publish([OutgoingRecord(f"k{i}", b"young") for i in range(20)])
    remaining = read_everything(stream)
    assert sorted(r.data for rs in remaining.values() for r in rs) == [b"young"] * 20
    assert [r.data for rs in read_everything(neighbour).values() for r in rs] == [b"kept"]
    # Numbers are never reused, even for a shard whose every record was deleted.
    last_old = {p.shard_id: p.sequence_number for p in old}
    for p in young:
        assert p.sequence_number > last_old.get(p.shard_id, 0)
    now[0] += 2 * 3600
    assert stream.delete_expired() == 20
    assert read_everything(stream) == {"shard-0000": [], "shard-0001": []}
    assert stream.publish([OutgoingRecord("k0", b"next")])[0].sequence_number > max(
        p.sequence_number for p in young
    )


def test_a_group_is_stored_as_batches_and_read_record_by_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One publish's records of a shard are one row (a batch), cut at MAX_BATCH_BYTES;
    readers still get records one by one, from any position, with any limit."""
    monkeypatch.setattr(embedded, "MAX_BATCH_BYTES", 1_000)
    path = tmp_path / "b.db"
    stream = make_stream(path, shards=1)
    datas = [f"r{i:02d}|".encode() * 60 for i in range(30)]  # 240 bytes each
    stream.publish([OutgoingRecord("k", data) for data in datas])
    stream.publish([OutgoingRecord("k", b"alone")])
    with sqlite3.connect(path) as conn:
        batches = conn.execute("SELECT first_seq, last_seq FROM batches ORDER BY last_seq")
        assert batches.fetchall() == [(1, 4), (5, 8), (9, 12), (13, 16), (17, 20), (21, 24),
                                      (25, 28), (29, 30), (31, 31)]  # fmt: skip
    assert [r.data for r in read_all(stream, "shard-0000")] == [*datas, b"alone"]
    for after, limit in ((0, 1), (2, 3), (3, 7), (29, 5), (31, 5)):
        batch = stream.reader("shard-0000", after).read(limit)
        expected = list(range(after + 1, min(after + limit, 31) + 1))
        assert [r.sequence_number for r in batch.records] == expected
        assert batch.behind == 31 - (expected[-1] if expected else after)
    stream.close()


def test_a_file_from_before_batches_is_read_then_continues(tmp_path: Path) -> None:
    """A stream.db written when the log kept one row per record (table ``records``): its
    records are read first, then the batches after them; retention deletes both."""
    now = [1_000_000.0]
    path = tmp_path / "old.db"
    stream = make_stream(path, shards=1, trim_every=timedelta(hours=9), clock=lambda: now[0])
    with sqlite3.connect(path) as conn:  # what the earlier layout left in the file
        conn.execute(
            "CREATE TABLE records (shard INTEGER NOT NULL, seq INTEGER NOT NULL,"
            " arrived_us INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (shard, seq))"
        )
        (row_id,) = conn.execute("SELECT id FROM shards").fetchone()
        conn.executemany(
            "INSERT INTO records VALUES (?, ?, ?, ?)",
            [(row_id, seq, int(now[0] * 1e6), f"old{seq}".encode()) for seq in (1, 2, 3)],
        )
        conn.execute("UPDATE shards SET last_seq = 3")
    now[0] += 0.5 * 3600  # the old rows are within the hour of retention: the publish keeps them
    published = stream.publish([OutgoingRecord("k", b"new4"), OutgoingRecord("k", b"new5")])
    assert [p.sequence_number for p in published] == [4, 5]
    records = read_all(stream, "shard-0000")
    assert [(r.sequence_number, r.data) for r in records] == [
        (1, b"old1"), (2, b"old2"), (3, b"old3"), (4, b"new4"), (5, b"new5"),
    ]  # fmt: skip
    reader = stream.reader("shard-0000", 1)
    assert [r.data for r in reader.read(3).records] == [b"old2", b"old3", b"new4"]
    now[0] += 0.75 * 3600
    assert stream.delete_expired() == 3  # the old rows are past the hour, the new ones not
    assert [r.data for r in read_all(stream, "shard-0000")] == [b"new4", b"new5"]
    now[0] += 0.5 * 3600
    assert stream.delete_expired() == 2
    assert read_all(stream, "shard-0000") == []
    stream.close()


def test_retention_runs_at_most_once_per_interval(tmp_path: Path) -> None:
    now = [1_000_000.0]
    stream = make_stream(tmp_path / "r.db", shards=1, clock=lambda: now[0])
    stream.publish([OutgoingRecord("k", b"old")])  # the first publish trims (nothing yet)
    now[0] += 2 * 3600
    stream.publish([OutgoingRecord("k", b"new")])  # within the minute: no trim
    assert len(read_all(stream, "shard-0000")) == 2
    assert stream.delete_expired() == 1


def test_several_streams_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "stream.db"
    a = make_stream(path, name="a", shards=2)
    b = make_stream(path, name="b", shards=3)
    a.publish([OutgoingRecord("k", b"a1"), OutgoingRecord("k", b"a2")])
    b.publish([OutgoingRecord("k", b"b1")])
    assert len(b.shards()) == 3
    assert [r.data for rs in read_everything(a).values() for r in rs] == [b"a1", b"a2"]
    assert [(r.data, r.sequence_number) for rs in read_everything(b).values() for r in rs] == [
        (b"b1", 1)
    ]
    # An existing stream keeps its shards whatever a later opener asks for.
    assert len(make_stream(path, name="a", shards=8).shards()) == 2


def test_empty_zero_byte_and_large_records(stream: EmbeddedStream) -> None:
    assert stream.publish([]) == []
    big = os.urandom(2 * 1_048_576)
    results = stream.publish([OutgoingRecord("k", b""), OutgoingRecord("k", big)])
    records = read_all(stream, results[0].shard_id)
    assert [r.data for r in records] == [b"", big]


def test_garbage_file_missing_and_closed_streams_raise_stream_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a SQLite database, just bytes " * 200)
    broken = EmbeddedStream(garbage, "s", shards=2, retention=HOUR)
    for action in (
        broken.ensure,
        broken.check,
        broken.shards,
        lambda: broken.publish([OutgoingRecord("k", b"x")]),
    ):
        with pytest.raises(StreamError, match="not a database"):
            action()

    missing = EmbeddedStream(tmp_path / "fresh.db", "nobody", shards=2, retention=HOUR)
    with pytest.raises(StreamError, match="does not exist"):
        missing.check()
    with pytest.raises(StreamError, match="does not exist"):
        missing.publish([OutgoingRecord("k", b"x")])

    stream = make_stream(tmp_path / "ok.db")
    reader = stream.reader("shard-0000", None)
    stream.close()
    for action in (
        stream.check,
        lambda: stream.publish([OutgoingRecord("k", b"x")]),
        lambda: reader.read(10),
    ):
        with pytest.raises(StreamError, match="closed"):
            action()


def test_open_stream_shares_one_embedded_stream_per_file(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    api = open_stream(settings, "events")
    consumer = open_stream(settings, "events")
    assert isinstance(api, SharedStream)
    assert isinstance(consumer, SharedStream)
    shared = api.stream
    assert isinstance(shared, EmbeddedStream)
    assert consumer.stream is shared, "one group commit for every holder in the process"
    assert api.name == shared.name == "eventlake-events"
    assert shared.path == (tmp_path / "stream.db").resolve()
    assert open_stream(settings, "users").stream is not shared
    api.ensure()
    first = api.publish([OutgoingRecord("k", b"x")])[0]

    # The API shutting down does not close the stream under the consumer...
    api.close()
    with pytest.raises(StreamError, match="closed"):
        api.publish([OutgoingRecord("k", b"y")])
    assert not shared.closed
    assert [r.data for r in consumer.reader(first.shard_id, None).read(10).records] == [b"x"]
    # ...the last holder's close does, and the next open_stream opens a new one.
    consumer.close()
    consumer.close()  # closing twice releases one share only
    assert shared.closed
    reopened = open_stream(settings, "events")
    assert isinstance(reopened, SharedStream)
    assert reopened.stream is not shared
    assert len(reopened.reader(first.shard_id, None).read(10).records) == 1
    reopened.close()

    custom = Settings(
        home=tmp_path,
        stream=StreamSettings(
            name_prefix="lab",
            backend=EmbeddedStreamSettings(path=tmp_path / "elsewhere.db", shards=3),
        ),
    )
    other = open_stream(custom, "events")
    other.ensure()
    assert other.name == "lab-events"
    assert len(other.shards()) == 3
    assert (tmp_path / "elsewhere.db").exists()
    other.close()


def test_readable_shards_follow_parents() -> None:
    shards = [
        ShardInfo("s-3", ("s-1", "s-2")),  # a merge of two children
        ShardInfo("s-1", ("s-0",)),
        ShardInfo("s-2", ("s-0",)),
        ShardInfo("s-0", (), closed=True),
        ShardInfo("s-9", ("s-expired",)),  # its parent aged out of the listing
        ShardInfo("s-5"),
    ]
    ordered = [s.shard_id for s in ordered_shards(shards)]
    assert ordered == ["s-0", "s-1", "s-2", "s-3", "s-5", "s-9"]
    assert readable_shards(shards, set()) == ["s-0", "s-5", "s-9"]
    assert readable_shards(shards, {"s-0"}) == ["s-1", "s-2", "s-5", "s-9"]
    assert readable_shards(shards, {"s-0", "s-1"}) == ["s-2", "s-5", "s-9"]
    assert readable_shards(shards, {"s-0", "s-1", "s-2"}) == ["s-3", "s-5", "s-9"]


def _child() -> None:
    path, name, prefix, count, threads = sys.argv[1:6]
    stream = EmbeddedStream(Path(path), name, shards=4, retention=HOUR)
    if "--wait" in sys.argv[6:]:
        stream.check()
        print("ready", flush=True)
        sys.stdin.readline()
    lock = threading.Lock()

    def publish(thread: int) -> None:
        for n in range(int(count)):
            keys = [f"{prefix}-{thread}-{n}"]
            results = stream.publish([OutgoingRecord(k, payload(k)) for k in keys])
            acked = zip(results, keys, strict=True)
            lines = "".join(f"{r.shard_id} {r.sequence_number} {k}\n" for r, k in acked)
            with lock:
                sys.stdout.write(lines)
                sys.stdout.flush()

    workers = [threading.Thread(target=publish, args=(t,)) for t in range(int(threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stream.close()


if __name__ == "__main__":
    _child()

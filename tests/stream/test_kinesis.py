"""The Kinesis stream against moto's server over real HTTP.

moto never fails an entry or throttles, so the retry paths are proven by botocore event hooks
on a real client: they rewrite a request or an answer on its way, the rest is real traffic.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]

from eventlake.config import KinesisStreamSettings, Settings, StreamSettings
from eventlake.stream import SharedStream, open_stream, ordered_shards, readable_shards
from eventlake.stream.base import OutgoingRecord, StreamError, StreamRecord
from eventlake.stream.embedded import shard_ordinal
from eventlake.stream.kinesis import KinesisStream
from tests.aws import AwsEnv
from tests.stream.group_watch import watch_queue


def make_stream(
    aws_env: AwsEnv, shards: int = 2, client: Any = None, **kwargs: Any
) -> KinesisStream:
    stream = KinesisStream(
        f"eventlake-test-{uuid.uuid4().hex[:12]}",
        region=aws_env.region,
        endpoint_url=aws_env.endpoint_url,
        shards=shards,
        client=client,
        backoff_base_s=0.001,
        backoff_cap_s=0.01,
        **kwargs,
    )
    stream.ensure()
    return stream


def read_shard(
    stream: KinesisStream, shard_id: str, after: int | None = None
) -> list[StreamRecord]:
    """Every record of a shard: until at_end for a closed shard, until empty for an open one."""
    reader = stream.reader(shard_id, after)
    out: list[StreamRecord] = []
    while True:
        batch = reader.read(1000)
        out.extend(batch.records)
        if batch.at_end or not batch.records:
            return out


def read_everything(stream: KinesisStream) -> dict[str, list[StreamRecord]]:
    return {s.shard_id: read_shard(stream, s.shard_id) for s in stream.shards()}


def records(n: int, prefix: str = "r", keys: int = 10) -> list[OutgoingRecord]:
    return [OutgoingRecord(f"key-{i % keys}", f"{prefix}-{i}".encode()) for i in range(n)]


class Calls:
    """Counts an operation's calls and the entries each PutRecords carried."""

    def __init__(self, client: Any, operation: str) -> None:
        self.entries: list[list[str]] = []
        client.meta.events.register(f"before-parameter-build.kinesis.{operation}", self._seen)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        self.entries.append([r["Data"].decode() for r in params.get("Records", [])])


def error_response(code: str, status: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    http = AWSResponse("http://moto", status, {}, None)
    return http, {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def test_create_publish_read_round_trip(aws_env: AwsEnv) -> None:
    stream = make_stream(aws_env)
    stream.ensure()  # a second ensure finds it ACTIVE
    stream.check()
    published = stream.publish(
        [OutgoingRecord("a", b"one"), OutgoingRecord("b", b""), OutgoingRecord("a", b"three")]
    )
    assert published[2].shard_id == published[0].shard_id
    assert published[2].sequence_number > published[0].sequence_number
    shards = stream.shards()
    assert len(shards) == 2
    assert not any(s.closed or s.parent_shard_ids for s in shards)
    found = {
        (r.shard_id, r.sequence_number): r for rs in read_everything(stream).values() for r in rs
    }
    for result, data in zip(published, [b"one", b"", b"three"], strict=True):
        record = found[(result.shard_id, result.sequence_number)]
        assert record.data == data
        assert isinstance(record.arrived_at, datetime)
        assert record.arrived_at.utcoffset() is not None
    assert stream.publish([]) == []
    stream.close()


def test_missing_stream_is_an_error_when_creating_is_off(aws_env: AwsEnv) -> None:
    stream = KinesisStream(
        f"eventlake-missing-{uuid.uuid4().hex[:8]}",
        region=aws_env.region,
        endpoint_url=aws_env.endpoint_url,
        create_missing=False,
    )
    with pytest.raises(StreamError, match="does not exist"):
        stream.ensure()
    with pytest.raises(StreamError, match="does not exist"):
        stream.check()


def test_1200_records_in_one_call_are_chunked_and_arrive_once_in_order(aws_env: AwsEnv) -> None:
    client = aws_env.client("kinesis")
    calls = Calls(client, "PutRecords")
    stream = make_stream(aws_env, client=client)
    sent = records(1200)
    published = stream.publish(sent)
    assert len(calls.entries) >= 3
    assert all(len(entries) <= 500 for entries in calls.entries)
    assert sorted(e for entries in calls.entries for e in entries) == sorted(
        r.data.decode() for r in sent
    )
    assert len({(p.shard_id, p.sequence_number) for p in published}) == 1200
    expected: dict[str, list[bytes]] = defaultdict(list)
    for record, result in zip(sent, published, strict=True):
        expected[result.shard_id].append(record.data)
    everything = read_everything(stream)
    for shard_id, shard_records in everything.items():
        assert [r.data for r in shard_records] == expected[shard_id]
        assert [r.sequence_number for r in shard_records] == sorted(
            r.sequence_number for r in shard_records
        )
    assert sum(len(rs) for rs in everything.values()) == 1200


def test_calls_stay_under_five_mib(aws_env: AwsEnv) -> None:
    client = aws_env.client("kinesis")
    calls = Calls(client, "PutRecords")
    stream = make_stream(aws_env, client=client)
    big = [OutgoingRecord(f"k{i}", bytes([i]) * 1_000_000) for i in range(8)]
    published = stream.publish(big)
    assert [len(entries) for entries in calls.entries] == [5, 3]
    found = {
        (r.shard_id, r.sequence_number): r.data
        for rs in read_everything(stream).values()
        for r in rs
    }
    assert [found[(p.shard_id, p.sequence_number)] for p in published] == [r.data for r in big]


def test_a_record_over_one_mib_publishes_nothing(aws_env: AwsEnv) -> None:
    client = aws_env.client("kinesis")
    calls = Calls(client, "PutRecords")
    stream = make_stream(aws_env, client=client)
    too_big = OutgoingRecord("key", b"x" * (1_048_576 - 2))  # with its 3-byte key: over
    with pytest.raises(StreamError, match="record 1"):
        stream.publish([OutgoingRecord("k", b"fine"), too_big])
    with pytest.raises(StreamError, match="partition key"):
        stream.publish([OutgoingRecord("", b"no key")])
    with pytest.raises(StreamError, match="partition key"):
        stream.publish([OutgoingRecord("k" * 257, b"long key")])
    assert calls.entries == []
    assert all(rs == [] for rs in read_everything(stream).values())
    # The largest record Kinesis takes goes through.
    exact = OutgoingRecord("key", b"y" * (1_048_576 - 3))
    assert len(stream.publish([exact])) == 1


def test_partial_failure_resends_only_the_failed_entries(aws_env: AwsEnv) -> None:
    """The first PutRecords drops entries 1 and 3 before sending and reports them failed,
    as Kinesis does for throttled entries: they never landed, the others did."""
    client = aws_env.client("kinesis")
    sent_per_call: list[list[str]] = []
    dropped: list[int] = []

    def drop_some(params: dict[str, Any], **_: Any) -> None:
        sent_per_call.append([r["Data"].decode() for r in params["Records"]])
        if len(sent_per_call) == 1:
            dropped.extend([1, 3])
            params["Records"] = [r for i, r in enumerate(params["Records"]) if i not in dropped]

    def report_failed(parsed: dict[str, Any], **_: Any) -> None:
        if len(sent_per_call) == 1 and "Records" in parsed:
            for i in dropped:
                parsed["Records"].insert(
                    i,
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": "Rate exceeded for shard",
                    },
                )
            parsed["FailedRecordCount"] = len(dropped)

    client.meta.events.register("before-parameter-build.kinesis.PutRecords", drop_some)
    client.meta.events.register("after-call.kinesis.PutRecords", report_failed)
    stream = make_stream(aws_env, client=client)
    sent = [OutgoingRecord(f"k{i}", f"d{i}".encode()) for i in range(6)]
    published = stream.publish(sent)

    assert sent_per_call == [[f"d{i}" for i in range(6)], ["d1", "d3"]]
    everything = read_everything(stream)
    stored = {(r.shard_id, r.sequence_number): r.data for rs in everything.values() for r in rs}
    assert Counter(stored.values()) == Counter(r.data for r in sent)  # each exactly once
    assert [stored[(p.shard_id, p.sequence_number)] for p in published] == [r.data for r in sent]


def test_throttled_calls_are_retried(aws_env: AwsEnv) -> None:
    client = aws_env.client("kinesis")
    attempts: list[str] = []

    def throttle_twice(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        attempts.append("call")
        if len(attempts) <= 2:
            return error_response("ProvisionedThroughputExceededException")
        return None

    client.meta.events.register("before-call.kinesis.PutRecords", throttle_twice)
    stream = make_stream(aws_env, client=client)
    published = stream.publish(records(5))
    assert len(attempts) == 3
    assert sum(len(rs) for rs in read_everything(stream).values()) == len(published) == 5


def test_throttling_past_every_attempt_raises(aws_env: AwsEnv) -> None:
    client = aws_env.client("kinesis")
    client.meta.events.register(
        "before-call.kinesis.PutRecords",
        lambda **_: error_response("ProvisionedThroughputExceededException"),
    )
    stream = make_stream(aws_env, client=client, max_attempts=3)
    with pytest.raises(StreamError, match="after 3 attempts"):
        stream.publish(records(2))


def test_other_errors_are_not_retried(aws_env: AwsEnv) -> None:
    client = aws_env.client("kinesis")
    calls: list[int] = []

    def deny(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        calls.append(1)
        return error_response("AccessDeniedException")

    client.meta.events.register("before-call.kinesis.PutRecords", deny)
    stream = make_stream(aws_env, client=client)
    with pytest.raises(StreamError, match="AccessDenied"):
        stream.publish(records(2))
    assert len(calls) == 1


def test_read_after_a_sequence_number(aws_env: AwsEnv) -> None:
    stream = make_stream(aws_env, shards=1)
    published = stream.publish(records(10))
    shard = published[0].shard_id
    after = published[3].sequence_number
    assert [r.data for r in read_shard(stream, shard, after)] == [
        f"r-{i}".encode() for i in range(4, 10)
    ]
    reader = stream.reader(shard, published[-1].sequence_number)
    batch = reader.read(100)
    assert batch.records == []
    assert not batch.at_end
    assert batch.behind == 0
    stream.publish([OutgoingRecord("key-0", b"later")])
    assert [r.data for r in reader.read(100).records] == [b"later"]


def test_expired_and_throttled_reads_resume_from_the_last_record(aws_env: AwsEnv) -> None:
    client = aws_env.client("kinesis")
    stream = make_stream(aws_env, shards=1, client=client)
    stream.publish(records(6))
    shard = stream.shards()[0].shard_id
    reader = stream.reader(shard, None)
    assert [r.data for r in reader.read(2).records] == [b"r-0", b"r-1"]

    injected = ["ExpiredIteratorException", "ProvisionedThroughputExceededException"]

    def fail_next(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        return error_response(injected.pop(0)) if injected else None

    client.meta.events.register("before-call.kinesis.GetRecords", fail_next)
    assert [r.data for r in reader.read(2).records] == [b"r-2", b"r-3"]
    assert not injected
    assert [r.data for r in reader.read(10).records] == [b"r-4", b"r-5"]


def test_resharding_parents_close_and_are_read_first(aws_env: AwsEnv) -> None:
    client = aws_env.client("kinesis")
    stream = make_stream(aws_env, shards=1, client=client)
    before = stream.publish(records(10, "before"))
    parent = before[0].shard_id
    client.split_shard(StreamName=stream.name, ShardToSplit=parent, NewStartingHashKey=str(2**127))
    after = stream.publish(records(10, "after"))

    shards = {s.shard_id: s for s in stream.shards()}
    assert shards[parent].closed
    children = sorted(s.shard_id for s in shards.values() if s.parent_shard_ids == (parent,))
    assert len(children) == 2
    assert not any(shards[c].closed for c in children)
    listing = list(shards.values())
    assert ordered_shards(listing)[0].shard_id == parent
    assert readable_shards(listing, set()) == [parent]
    assert readable_shards(listing, {parent}) == children

    # Drain the parent: the reader reports at_end and keeps doing so.
    reader = stream.reader(parent, None)
    drained: list[StreamRecord] = []
    for _ in range(20):
        batch = reader.read(7)
        drained.extend(batch.records)
        if batch.at_end:
            break
    assert batch.at_end
    assert reader.read(7).at_end
    collected = drained + [r for c in children for r in read_shard(stream, c)]
    # moto keeps routing keys to the closed parent; whichever shard holds them, each record
    # of both publishes is read exactly once.
    assert Counter(r.data for r in collected) == Counter(
        f"{p}-{i}".encode() for p in ("before", "after") for i in range(10)
    )
    assert len(before) + len(after) == 20

    # A merge has two parents: the merged shard waits for both.
    client.merge_shards(
        StreamName=stream.name, ShardToMerge=children[0], AdjacentShardToMerge=children[1]
    )
    listing = stream.shards()
    merged = [s for s in listing if set(s.parent_shard_ids) == set(children)]
    assert len(merged) == 1
    assert readable_shards(listing, {parent, children[0]}) == [children[1]]
    assert readable_shards(listing, {parent, *children}) == [merged[0].shard_id]


def test_routing_matches_the_embedded_stream(aws_env: AwsEnv) -> None:
    """Both backends split the MD5 space evenly: a key lands on the same shard ordinal."""
    stream = make_stream(aws_env, shards=4)
    keys = [f"user-{i}" for i in range(200)]
    published = stream.publish([OutgoingRecord(k, b"") for k in keys])
    ordinals = sorted({p.shard_id for p in published})
    assert len(ordinals) == 4
    for key, result in zip(keys, published, strict=True):
        assert ordinals.index(result.shard_id) == shard_ordinal(key, 4)


def test_shards_say_their_hash_ranges_and_explicit_hash_keys_pick_them(aws_env: AwsEnv) -> None:
    """ListShards' HashKeyRange reaches ShardInfo; PutRecords' ExplicitHashKey picks the shard
    whose range holds it, whatever the partition key."""
    stream = make_stream(aws_env, shards=4)
    shards = stream.shards()
    ranges = sorted((s.hash_range, s.shard_id) for s in shards if s.hash_range)
    assert len(ranges) == 4
    assert ranges[0][0][0] == 0
    starts = [(start, shard_id) for (start, _), shard_id in ranges]
    keys = [start for start, _ in starts] + [start + 12345 for start, _ in starts]
    published = stream.publish([OutgoingRecord("one-key", b"x", key) for key in keys])
    assert [p.shard_id for p in published] == [shard_id for _, shard_id in starts] * 2
    with pytest.raises(StreamError, match="hash key"):
        stream.publish([OutgoingRecord("k", b"x", -1)])
    stream.close()


def test_open_stream_chooses_kinesis(aws_env: AwsEnv) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = Settings(
        stream=StreamSettings(
            name_prefix=prefix,
            backend=KinesisStreamSettings(
                kind="kinesis", region=aws_env.region, endpoint_url=aws_env.endpoint_url, shards=3
            ),
        )
    )
    handle = open_stream(settings, "events")
    assert isinstance(handle, SharedStream)
    stream = handle.stream
    assert isinstance(stream, KinesisStream)
    assert handle.name == stream.name == f"{prefix}-events"
    second = open_stream(settings, "events")
    assert isinstance(second, SharedStream)
    assert second.stream is stream  # one client and one group per process
    handle.ensure()
    assert len(handle.shards()) == 3
    handle.publish([OutgoingRecord("k", b"via settings")])
    assert [r.data for rs in read_everything(stream).values() for r in rs] == [b"via settings"]
    handle.close()
    second.close()
    assert stream.closed


def test_a_failed_chunk_fails_only_its_own_callers(aws_env: AwsEnv) -> None:
    """Concurrent publishes share one PutRecords group, chunked at 5 MiB. When one chunk
    fails for good, only the callers with a record in it are told so: the others' records are
    in the stream, and telling them "nothing was published" would make clients send them again.
    """
    client = aws_env.client("kinesis")
    gate = threading.Event()
    first = threading.Event()

    def hold_first_and_refuse_poison(params: dict[str, Any], **_: Any) -> Any:
        if not first.is_set():
            first.set()
            gate.wait(30)  # the other callers queue up behind this call meanwhile
        body = params.get("body", b"")
        if base64.b64encode(b"poison") in (body if isinstance(body, bytes) else body.encode()):
            return error_response("InternalFailure", 500)
        return None

    client.meta.events.register("before-call.kinesis.PutRecords", hold_first_and_refuse_poison)
    stream = make_stream(aws_env, client=client, max_attempts=1)
    queued = watch_queue(stream._group)
    big = [bytes([65 + i]) * 1_000_000 for i in range(6)]  # five fill one 5 MiB chunk
    results: dict[str, object] = {}

    def call(name: str, data: bytes) -> None:
        try:
            results[name] = stream.publish([OutgoingRecord(name, data)])
        except StreamError as error:
            results[name] = error

    leader = threading.Thread(target=call, args=("leader", b"small"))
    leader.start()
    assert first.wait(30)
    assert queued.acquire(timeout=30)  # the leader's own call
    followers = [(f"r{i}", data) for i, data in enumerate(big)] + [("poison", b"poison")]
    threads = []
    for name, data in followers:
        thread = threading.Thread(target=call, args=(name, data))
        thread.start()
        threads.append(thread)
        assert queued.acquire(timeout=30)  # queued in this order: the poison in the last chunk
    gate.set()
    for thread in [leader, *threads]:
        thread.join(60)

    stored = {r.data for shard in read_everything(stream).values() for r in shard}
    assert isinstance(results["poison"], StreamError)
    for name, data in followers[:-1]:
        stored_it = data in stored
        assert stored_it != isinstance(results[name], StreamError), (name, results[name])
    assert sum(data in stored for _, data in followers[:-1]) >= 5

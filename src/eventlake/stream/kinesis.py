"""AWS Kinesis Data Streams behind the Stream protocol, on boto3.

PutRecords is not all-or-nothing: a call can succeed with some entries failed (throttled or
an internal failure). Only those entries are sent again, with exponential backoff and full
jitter, for a bounded number of attempts; a publish that still has failed entries raises
StreamError, so nothing it sent is acknowledged (what did land is a duplicate for the
consumer's deduplication, never a loss). A retried entry lands after entries that followed it
in the request, so within a partition key order holds except across such a retry: the lake's
per-shard watermarks and event-id deduplication do not rely on it.

Every retry is ours, with this backoff and within ``max_attempts`` (the stream settings'
retry_attempts): throttling, entries failed inside a 200 answer (botocore cannot see those),
5xx answers and dropped connections. botocore's own retries are off on the client built here:
left on, they retried each throttled call again with their own backoff (up to seconds per
try), so that a throttled publish held its API request many times longer than our settings
say before the client got its 503.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC
from typing import Any

from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    HTTPClientError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from eventlake.stream.base import (
    GroupCommit,
    OutgoingRecord,
    PublishedRecord,
    ShardBatch,
    ShardInfo,
    StreamError,
    StreamRecord,
    publish_checked_each,
)

# Service limits (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html).
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1_048_576  # data and partition keys together
MAX_RECORD_BYTES = 1_048_576  # data and partition key together
MAX_PARTITION_KEY_CHARS = 256
MAX_GET_RECORDS = 10_000
HASH_SPACE = 2**128  # hash keys: MD5 of the partition key, or an explicit one

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "KMSThrottlingException",
    }
)
USABLE_STATUSES = frozenset({"ACTIVE", "UPDATING"})  # a stream being resharded takes writes
# How stale the cached shard listing may be when deciding that a closed shard is drained.
SHARD_LISTING_MAX_AGE_S = 30.0


def make_client(region: str, endpoint_url: str | None = None) -> Any:
    """A Kinesis client without botocore's retries: ours handle throttling and transient
    failures (see the module doc)."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    return boto3.client(
        "kinesis",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1},  # one call: no retry
            max_pool_connections=64,
            connect_timeout=5,
            read_timeout=30,
        ),
    )


class KinesisStream:
    """One Kinesis data stream. Thread-safe: boto3 clients may be shared between threads."""

    gap_free = False  # sequence numbers grow with gaps

    def __init__(
        self,
        name: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        shards: int = 2,
        create_missing: bool = True,
        client: Any = None,
        max_attempts: int = 8,
        backoff_base_s: float = 0.1,
        backoff_cap_s: float = 5.0,
        active_timeout_s: float = 300.0,
    ) -> None:
        self.name = name
        self.region = region
        self.shard_count = shards
        self.create_missing = create_missing
        self.max_attempts = max(1, max_attempts)
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._active_timeout_s = active_timeout_s
        self._owns_client = client is None
        self._closed = False
        self._client = client if client is not None else make_client(region, endpoint_url)
        self._listing_lock = threading.Lock()
        self._ending: dict[str, int | None] = {}  # shard id -> EndingSequenceNumber
        self._listed_at = float("-inf")
        self._group: GroupCommit[OutgoingRecord, PublishedRecord] = GroupCommit(
            self._put, max_items=4 * MAX_RECORDS_PER_CALL
        )

    # -- the Stream protocol ---------------------------------------------------------------

    def ensure(self) -> None:
        deadline = time.monotonic() + self._active_timeout_s
        created = False
        pause = 0.05  # a new stream takes seconds on AWS, none on look-alikes
        while True:
            try:
                summary = self._call("describe the stream", self._client.describe_stream_summary)
                status = summary["StreamDescriptionSummary"]["StreamStatus"]
            except _MissingError:
                if not self.create_missing:
                    raise StreamError(
                        f"Kinesis stream {self.name!r} does not exist and creating it is off"
                    ) from None
                if created:  # not visible yet (AWS is eventually consistent)
                    status = "CREATING"
                else:
                    self._create()
                    created = True
                    continue
            if status in USABLE_STATUSES:
                return
            if status == "DELETING":
                raise StreamError(f"Kinesis stream {self.name!r} is being deleted")
            if time.monotonic() > deadline:
                raise StreamError(
                    f"Kinesis stream {self.name!r} still {status} after "
                    f"{self._active_timeout_s:.0f} s"
                )
            time.sleep(pause)
            pause = min(2 * pause, 1.0)

    def publish(self, records: Sequence[OutgoingRecord]) -> list[PublishedRecord]:
        if self._closed:
            raise StreamError(f"Kinesis stream {self.name!r} is closed")
        if not records:
            return []
        # Checked in the caller's thread so that one bad request never fails its group.
        _validate_all(records)
        return self._group.submit(records)

    def publish_each(
        self, batches: Sequence[Sequence[OutgoingRecord]]
    ) -> list[list[PublishedRecord] | StreamError]:
        if self._closed:
            raise StreamError(f"Kinesis stream {self.name!r} is closed")
        return publish_checked_each(batches, _validate_all, self._group)

    def shards(self) -> list[ShardInfo]:
        listed: list[ShardInfo] = []
        ending: dict[str, int | None] = {}
        kwargs: dict[str, Any] = {"StreamName": self.name}
        while True:
            page = self._call("list shards", self._client.list_shards, named=False, **kwargs)
            for shard in page.get("Shards", []):
                parents = tuple(
                    shard[key]
                    for key in ("ParentShardId", "AdjacentParentShardId")
                    if shard.get(key)
                )
                end = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
                ending[shard["ShardId"]] = None if end is None else int(end)
                keys = shard.get("HashKeyRange")
                listed.append(
                    ShardInfo(
                        shard_id=shard["ShardId"],
                        parent_shard_ids=parents,
                        closed=end is not None,
                        hash_range=None
                        if keys is None
                        else (int(keys["StartingHashKey"]), int(keys["EndingHashKey"])),
                    )
                )
            token = page.get("NextToken")
            if not token:
                break
            # ListShards refuses StreamName together with NextToken.
            kwargs = {"NextToken": token}
        with self._listing_lock:
            self._ending = ending
            self._listed_at = time.monotonic()
        return listed

    def reader(self, shard_id: str, after: int | None) -> KinesisShardReader:
        return KinesisShardReader(self, shard_id, after)

    def check(self) -> None:
        try:
            summary = self._call("describe the stream", self._client.describe_stream_summary)
        except _MissingError:
            raise StreamError(f"Kinesis stream {self.name!r} does not exist") from None
        status = summary["StreamDescriptionSummary"]["StreamStatus"]
        if status not in USABLE_STATUSES:
            raise StreamError(f"Kinesis stream {self.name!r} is {status}")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the client this stream built (one passed in belongs to the caller)."""
        self._closed = True
        if self._owns_client:
            self._client.close()

    # -- publishing ------------------------------------------------------------------------

    def _put(self, records: list[OutgoingRecord]) -> list[PublishedRecord | StreamError]:
        """PutRecords for a whole group of publish calls, in chunks within the limits. A
        record that could not be stored gets the error in place of its result, so that only
        its caller is told it failed: the others' records are in the stream."""
        results: list[PublishedRecord | None] = [None] * len(records)
        errors: dict[int, StreamError] = {}
        for chunk in _chunks(records):
            try:
                self._put_chunk(records, chunk, results)
            except StreamError as error:
                errors.update({i: error for i in chunk if results[i] is None})
        return [
            result if result is not None else errors.get(i, StreamError("not acknowledged"))
            for i, result in enumerate(results)
        ]

    def _put_chunk(
        self,
        records: list[OutgoingRecord],
        chunk: list[int],
        results: list[PublishedRecord | None],
    ) -> None:
        pending = chunk
        for attempt in range(self.max_attempts):
            if attempt:
                self._sleep_backoff(attempt)
            entries = [_entry(records[i]) for i in pending]
            try:
                answer = self._client.put_records(StreamName=self.name, Records=entries)
            except (ClientError, BotoCoreError) as error:
                if _retryable(error):
                    continue
                raise StreamError(f"PutRecords to {self.name!r} failed: {error}") from error
            answered = answer.get("Records", [])
            if len(answered) != len(pending):
                raise StreamError(
                    f"PutRecords answered {len(answered)} entries for {len(pending)} records"
                )
            failed: list[int] = []
            for index, entry in zip(pending, answered, strict=True):
                if entry.get("ErrorCode"):
                    failed.append(index)
                else:
                    results[index] = PublishedRecord(entry["ShardId"], int(entry["SequenceNumber"]))
            if not failed:
                return
            pending = failed
        raise StreamError(
            f"PutRecords to {self.name!r}: {len(pending)} records still failed or throttled "
            f"after {self.max_attempts} attempts"
        )

    def _create(self) -> None:
        try:
            self._client.create_stream(StreamName=self.name, ShardCount=self.shard_count)
        except ClientError as error:
            if _code(error) != "ResourceInUseException":  # created meanwhile by someone else
                raise StreamError(f"cannot create Kinesis stream {self.name!r}: {error}") from error
        except BotoCoreError as error:
            raise StreamError(f"cannot create Kinesis stream {self.name!r}: {error}") from error

    # -- shared helpers --------------------------------------------------------------------

    def _call(
        self, doing: str, operation: Callable[..., Any], *, named: bool = True, **kwargs: Any
    ) -> Any:
        """``operation`` (with the stream's name when ``named``), retried when throttled;
        _MissingError when the stream or shard does not exist, StreamError for anything else."""
        if named:
            kwargs["StreamName"] = self.name
        for attempt in range(self.max_attempts):
            if attempt:
                self._sleep_backoff(attempt)
            try:
                return operation(**kwargs)
            except (ClientError, BotoCoreError) as error:
                if _retryable(error):
                    continue
                if _code(error) == "ResourceNotFoundException":
                    raise _MissingError(str(error)) from error
                raise StreamError(f"cannot {doing} of {self.name!r}: {error}") from error
        raise StreamError(
            f"cannot {doing} of {self.name!r}: throttled or failed {self.max_attempts} times"
        )

    def _sleep_backoff(self, attempt: int) -> None:
        """Exponential backoff with full jitter: concurrent writers spread out instead of
        retrying in lockstep against the same shard."""
        ceiling = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (attempt - 1))
        time.sleep(random.uniform(0, ceiling))  # noqa: S311 — backoff jitter, not a secret

    def _shard_iterator(self, shard_id: str, after: int | None) -> str:
        kwargs: dict[str, Any] = {"ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            kwargs["StartingSequenceNumber"] = str(after)
        try:
            answer = self._call("get a shard iterator", self._client.get_shard_iterator, **kwargs)
        except _MissingError as missing:
            raise StreamError(f"no shard {shard_id!r} in {self.name!r}: {missing}") from None
        return str(answer["ShardIterator"])

    def _drained(self, shard_id: str, position: int | None) -> bool:
        """Whether ``shard_id`` is closed and nothing lies after ``position``.

        Kinesis says so by leaving out NextShardIterator; look-alikes (moto) never do, so the
        closed shard's EndingSequenceNumber, from a recent listing, settles it as well. Every
        sequence number is positive: None (nothing read yet) compares as 0."""
        with self._listing_lock:
            stale = (
                shard_id not in self._ending
                or time.monotonic() - self._listed_at > SHARD_LISTING_MAX_AGE_S
            )
        if stale:
            self.shards()
        with self._listing_lock:
            ending = self._ending.get(shard_id)
        return ending is not None and (position or 0) >= ending


class KinesisShardReader:
    """GetRecords on one shard from a position; one reader per consuming thread."""

    def __init__(self, stream: KinesisStream, shard_id: str, after: int | None) -> None:
        self.shard_id = shard_id
        self._stream = stream
        self._position = after
        self._iterator: str | None = None
        self._at_end = False

    @property
    def position(self) -> int | None:
        """The last sequence number read (or the starting one; None: the shard's start)."""
        return self._position

    def read(self, limit: int) -> ShardBatch:
        if self._at_end:
            return ShardBatch(records=[], at_end=True, behind=0)
        stream = self._stream
        answer: Any = None
        for attempt in range(stream.max_attempts):
            if self._iterator is None:
                self._iterator = stream._shard_iterator(self.shard_id, self._position)
            try:
                answer = stream._client.get_records(
                    ShardIterator=self._iterator, Limit=min(max(1, limit), MAX_GET_RECORDS)
                )
                break
            except (ClientError, BotoCoreError) as error:
                if _code(error) == "ExpiredIteratorException":
                    # Iterators live five minutes: start again from the last record read.
                    self._iterator = None
                    continue
                if _retryable(error):
                    stream._sleep_backoff(attempt + 1)
                    continue
                raise StreamError(f"GetRecords on {self.shard_id!r} failed: {error}") from error
        if answer is None:
            raise StreamError(
                f"GetRecords on {self.shard_id!r}: throttled or failed {stream.max_attempts} times"
            )
        records = [
            StreamRecord(
                shard_id=self.shard_id,
                sequence_number=int(item["SequenceNumber"]),
                data=bytes(item["Data"]),
                arrived_at=item["ApproximateArrivalTimestamp"].astimezone(UTC),
            )
            for item in answer.get("Records", [])
        ]
        if records:
            self._position = records[-1].sequence_number
        self._iterator = answer.get("NextShardIterator")
        if self._iterator is None or (
            not records and stream._drained(self.shard_id, self._position)
        ):
            self._at_end = True
        behind = answer.get("MillisBehindLatest")
        return ShardBatch(
            records=records, at_end=self._at_end, behind=None if behind is None else int(behind)
        )


class _MissingError(Exception):
    """The stream or shard does not exist (ResourceNotFoundException)."""


def _code(error: Any) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _retryable(error: ClientError | BotoCoreError) -> bool:
    """Throttled, a 5xx answer, or the connection lost or timed out: worth another try. A
    PutRecords whose answer was lost may have stored its records: the retry stores them again,
    a duplicate the consumer's deduplication drops, never a loss."""
    if isinstance(error, BotoCoreError):
        return isinstance(error, (BotoConnectionError, HTTPClientError))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return _code(error) in THROTTLING_CODES or status >= 500


def _validate_all(records: Sequence[OutgoingRecord]) -> None:
    for position, record in enumerate(records):
        _validate(position, record)


def _validate(position: int, record: OutgoingRecord) -> None:
    key_chars = len(record.partition_key)
    if not 1 <= key_chars <= MAX_PARTITION_KEY_CHARS:
        raise StreamError(
            f"record {position}: a partition key has 1 to {MAX_PARTITION_KEY_CHARS} "
            f"characters, not {key_chars}"
        )
    key = record.explicit_hash_key
    if key is not None and not 0 <= key < HASH_SPACE:
        raise StreamError(f"record {position}: a hash key is between 0 and 2**128 - 1, not {key}")
    size = _size(record)
    if size > MAX_RECORD_BYTES:
        raise StreamError(
            f"record {position}: {size} bytes of data and key, over Kinesis's "
            f"{MAX_RECORD_BYTES} per record"
        )


def _entry(record: OutgoingRecord) -> dict[str, Any]:
    """One PutRecords entry; an explicit hash key picks the shard (a decimal string)."""
    entry: dict[str, Any] = {"Data": record.data, "PartitionKey": record.partition_key}
    if record.explicit_hash_key is not None:
        entry["ExplicitHashKey"] = str(record.explicit_hash_key)
    return entry


def _size(record: OutgoingRecord) -> int:
    return len(record.data) + len(record.partition_key.encode())


def _chunks(records: list[OutgoingRecord]) -> Iterator[list[int]]:
    """Indices of ``records`` in runs that each fit one PutRecords call, in order."""
    chunk: list[int] = []
    size = 0
    for index, record in enumerate(records):
        record_size = _size(record)
        if chunk and (
            len(chunk) == MAX_RECORDS_PER_CALL or size + record_size > MAX_BYTES_PER_CALL
        ):
            yield chunk
            chunk, size = [], 0
        chunk.append(index)
        size += record_size
    if chunk:
        yield chunk

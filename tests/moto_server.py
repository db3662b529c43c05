"""moto's server with Kinesis's reshard semantics: the one change the tests make to moto.

Run as a script (``python tests/moto_server.py -H HOST -p PORT``, as ``tests/aws.py`` does):
it patches moto's Kinesis model in this process, then runs ``moto.server.main``. Nothing else
in moto is changed.

Why: on real Kinesis, SplitShard and MergeShards close the parents (their sequence range gets
an EndingSequenceNumber), the parents keep the records they hold, and from then on PutRecord(s)
put a record on the OPEN shard whose hash key range holds its key. moto 5.x instead

- picks the first shard, open or closed, whose range holds the key (``Stream.get_shard_for_key``),
  so records keep going to a split parent and its children stay empty; and its ranges are
  half-open (``start <= key < end``) where Kinesis's are inclusive, so a key equal to a
  shard's EndingHashKey finds no shard at all;
- re-puts a split parent's records (``Stream.split_shard``) and copies merged parents' records
  (``Stream.merge_shards``) into the new shards. With the routing fixed, that would move
  records already read from a parent into its children: the consumer would read them twice.

So: the shard for a key is the open one whose inclusive range holds it, and a split or merge
leaves every record where it is. That is all Kinesis's reshard semantics needs here
(``tests/consumer/test_consumer_kinesis_scaleout.py`` reshards mid-run).

Opt-in, off by default: with ``EVENTLAKE_TEST_MOTO_CALLS`` naming a file, every signed request
is appended to it as one JSON line (its access key id, service and operation's raw parts), for
``tests/deploy/test_iam_policies.py``, which derives each role's IAM actions from them.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
from collections import OrderedDict
from typing import Any

from moto.kinesis import models
from moto.kinesis.exceptions import InvalidArgumentError
from moto.utilities.utils import md5_hash


def _open_shard_for_key(
    self: models.Stream, partition_key: str, explicit_hash_key: str
) -> models.Shard | None:
    """Kinesis's choice: the OPEN shard whose (inclusive) range holds the key's hash. The key's
    checks and its hash are moto's own (``Stream.get_shard_for_key``)."""
    if not isinstance(partition_key, str) or len(partition_key) > 256:
        raise InvalidArgumentError("partition_key")
    if explicit_hash_key:
        if not isinstance(explicit_hash_key, str):
            raise InvalidArgumentError("explicit_hash_key")
        int_key = int(explicit_hash_key)
        if int_key >= 2**128:
            raise InvalidArgumentError("explicit_hash_key")
    else:
        int_key = int(md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
    for shard in self.shards.values():
        if shard.is_open and shard.starting_hash <= int_key <= shard.ending_hash:
            return shard
    return None


def _keeping_records(reshard: Any) -> Any:
    """``reshard`` (moto's split or merge) with the parents' records hidden from it while it
    runs, so that it moves or copies none of them: they stay in the closed parents."""

    def wrapper(self: models.Stream, first: str, second: str) -> None:
        parents = [s for s in (self.shards.get(first), self.shards.get(second)) if s is not None]
        kept = [parent.records for parent in parents]
        for parent in parents:
            parent.records = OrderedDict()
        try:
            reshard(self, first, second)
        finally:
            for parent, records in zip(parents, kept, strict=True):
                parent.records = records

    return wrapper


def patch() -> None:
    models.Stream.get_shard_for_key = _open_shard_for_key  # type: ignore[method-assign]
    models.Stream.split_shard = _keeping_records(models.Stream.split_shard)  # type: ignore[method-assign]
    models.Stream.merge_shards = _keeping_records(models.Stream.merge_shards)  # type: ignore[method-assign]


CALLS_FILE = "EVENTLAKE_TEST_MOTO_CALLS"
RESOURCE_FIELDS = ("StreamName", "StreamARN", "DatabaseName", "Name", "CatalogId")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]*/[^/]*/([^/]+)/")


def record_calls(path: str) -> None:
    """Append one JSON line per signed request to ``path``: who called (the access key id),
    which service (the signature's scope) and the request's operation parts; the test maps
    them to operations (tests/deploy/aws_calls.py). Unsigned requests (moto's own API) are
    left out."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatch = DomainDispatcherApplication.__call__
    lock = threading.Lock()

    def recording(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        signed = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if signed is not None:
            action, names = None, {}
            content_type = environ.get("CONTENT_TYPE", "")
            if content_type.startswith(
                ("application/x-www-form-urlencoded", "application/x-amz-json")
            ):
                body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                environ["wsgi.input"] = io.BytesIO(body)
                if content_type.startswith("application/x-amz-json"):
                    # The names a call's IAM resource is made of (the stream, the table).
                    fields = json.loads(body or b"{}")
                    names = {k: v for k, v in fields.items() if k in RESOURCE_FIELDS}
                    for named in ("TableInput", "DatabaseInput"):
                        if isinstance(fields.get(named), dict):
                            names["Name"] = fields[named].get("Name")
                else:  # query-protocol services (STS, SQS...) name the operation in the body
                    found = re.search(rb"(?:^|&)Action=([A-Za-z0-9]+)", body)
                    action = found.group(1).decode() if found else None
            line = {
                "key": signed.group(1),
                "service": signed.group(2),
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "query": environ.get("QUERY_STRING", ""),
                "target": environ.get("HTTP_X_AMZ_TARGET"),
                "action": action,
                "copy_source": environ.get("HTTP_X_AMZ_COPY_SOURCE"),
                "names": names,
            }
            with lock, open(path, "a") as calls:
                calls.write(json.dumps(line) + "\n")
        return dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = recording  # type: ignore[method-assign]


if __name__ == "__main__":
    from moto.server import main

    patch()
    if os.environ.get(CALLS_FILE):
        record_calls(os.environ[CALLS_FILE])
    main()

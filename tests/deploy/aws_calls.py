"""The recording moto server's call log (tests/moto_server.py, ``EVENTLAKE_TEST_MOTO_CALLS``)
turned into what IAM must allow: for each call, the IAM action(s) it needs and on which
resource ARNs (and, for s3:ListBucket, the prefix IAM's ``s3:prefix`` condition sees).

The maps are from AWS's Service Authorization Reference: Kinesis and Glue operations are
their own action; S3's REST operations are told apart by method, path and query, and several
share an action (a multipart upload is s3:PutObject, HeadObject is s3:GetObject, ListObjectsV2
is s3:ListBucket). KMS is implied: the streams and buckets are encrypted with the deployment's
key (SSE-KMS), which moto does not enforce, so its actions are derived from the calls that
need them rather than recorded.
"""

from __future__ import annotations

import json
import urllib.parse
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Need:
    """One permission a call needs: an IAM action on a resource, in a request context."""

    action: str
    resource: str
    operation: str  # the API operation it came from, for messages
    context: tuple[tuple[str, str], ...] = ()  # condition keys the request carries


@dataclass(frozen=True)
class Arns:
    """How the deployment's names become ARNs (moto's account, the test's region)."""

    region: str
    account_id: str
    kms_key_arn: str
    encrypted_buckets: frozenset[str] = field(default_factory=frozenset)

    def stream(self, name: str) -> str:
        return f"arn:aws:kinesis:{self.region}:{self.account_id}:stream/{name}"

    def glue(self, *path: str) -> list[str]:
        """The ARNs a Glue catalog call is authorised against: the catalog, then the database
        and the table when the call names them."""
        base = f"arn:aws:glue:{self.region}:{self.account_id}"
        arns = [f"{base}:catalog"]
        if path:
            arns.append(f"{base}:database/{path[0]}")
        if len(path) > 1:
            arns.append(f"{base}:table/{path[0]}/{path[1]}")
        return arns


# Glue operations by what they name: the database (Name or DatabaseName), the database and
# table (DatabaseName, Name), every table of a database, or the catalog alone.
GLUE_DATABASE_OPERATIONS = frozenset(
    {"CreateDatabase", "GetDatabase", "UpdateDatabase", "DeleteDatabase"}
)
GLUE_TABLE_OPERATIONS = frozenset({"CreateTable", "GetTable", "UpdateTable", "DeleteTable"})
GLUE_TABLES_OPERATIONS = frozenset({"GetTables"})
GLUE_CATALOG_OPERATIONS = frozenset({"GetDatabases"})


def read_calls(path: Path) -> dict[str, list[dict[str, object]]]:
    """The log's lines by access key id."""
    calls: dict[str, list[dict[str, object]]] = defaultdict(list)
    if path.exists():
        for line in path.read_text().splitlines():
            call = json.loads(line)
            calls[str(call["key"])].append(call)
    return dict(calls)


def needs(calls: Iterable[dict[str, object]], arns: Arns) -> list[Need]:
    """Every permission a key's calls needed, KMS included."""
    found: list[Need] = []
    calls = list(calls)
    # GetRecords names no stream (its iterator does): it reads the streams the key asked
    # iterators of.
    iterated = sorted(
        {
            arns.stream(str(_names(c)["StreamName"]))
            for c in calls
            if str(c.get("target", "")).endswith(".GetShardIterator") and "StreamName" in _names(c)
        }
    )
    for call in calls:
        target = call.get("target")
        if isinstance(target, str) and target.startswith("Kinesis_"):
            found += _kinesis(target.split(".", 1)[1], _names(call), iterated, arns)
        elif isinstance(target, str) and target.startswith("AWSGlue."):
            found += _glue(target.split(".", 1)[1], _names(call), arns)
        elif call.get("service") == "s3" and not target:
            found += _s3(call, arns)
        else:
            operation = target or f"{call.get('service')}:{call.get('action')}"
            raise AssertionError(f"no IAM mapping for {operation}: add it to aws_calls.py")
    return found


def _names(call: dict[str, object]) -> dict[str, object]:
    names = call.get("names") or {}
    assert isinstance(names, dict)
    return names


def _kinesis(
    operation: str, names: dict[str, object], iterated: list[str], arns: Arns
) -> list[Need]:
    where = f"kinesis {operation}"
    if "StreamARN" in names:
        streams = [str(names["StreamARN"])]
    elif "StreamName" in names:
        streams = [arns.stream(str(names["StreamName"]))]
    else:
        streams = iterated
        assert streams, f"{where} names no stream and follows no GetShardIterator"
    found = [Need(f"kinesis:{operation}", stream, where) for stream in streams]
    # SSE-KMS streams: a producer's records are encrypted with a data key, a reader's
    # decrypted (https://docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html).
    if operation == "PutRecords" or operation == "PutRecord":
        found.append(Need("kms:GenerateDataKey", arns.kms_key_arn, f"{where} (SSE-KMS)"))
    if operation == "GetRecords":
        found.append(Need("kms:Decrypt", arns.kms_key_arn, f"{where} (SSE-KMS)"))
    return found


def _glue(operation: str, names: dict[str, object], arns: Arns) -> list[Need]:
    where = f"glue {operation}"
    if operation in GLUE_CATALOG_OPERATIONS:
        resources = arns.glue()
    elif operation in GLUE_DATABASE_OPERATIONS:
        resources = arns.glue(str(names.get("Name") or names["DatabaseName"]))
    elif operation in GLUE_TABLE_OPERATIONS:
        resources = arns.glue(str(names["DatabaseName"]), str(names["Name"]))
    elif operation in GLUE_TABLES_OPERATIONS:
        resources = arns.glue(str(names["DatabaseName"]), "*")
    else:
        raise AssertionError(f"no IAM mapping for glue {operation}: add it to aws_calls.py")
    return [Need(f"glue:{operation}", resource, where) for resource in resources]


def s3_operation(method: str, key: str, query: dict[str, list[str]], copy: bool) -> str:
    """S3's REST operation, from the request's method, whether it names a key, and its query."""
    if not key:  # the bucket
        if method == "GET" and "list-type" in query:
            return "ListObjectsV2"
        if method == "GET" and "location" in query:
            return "GetBucketLocation"
        if method == "GET" and "uploads" in query:
            return "ListMultipartUploads"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        return {"GET": "ListObjects", "HEAD": "HeadBucket", "PUT": "CreateBucket"}[method]
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPartCopy" if copy else "UploadPart"
        return "CopyObject" if copy else "PutObject"
    if method == "POST":
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "GET" and "uploadId" in query:
        return "ListParts"
    return {"GET": "GetObject", "HEAD": "HeadObject"}[method]


# S3 operations -> IAM actions (several operations share one action).
S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "CreateBucket": "s3:CreateBucket",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "CopyObject": "s3:PutObject",  # and s3:GetObject on the source, below
    "UploadPartCopy": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",
}
# SSE-KMS objects: writing needs a data key; reading, and a multipart upload's parts, decrypt
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
S3_KMS = {
    "GetObject": ("kms:Decrypt",),
    "PutObject": ("kms:GenerateDataKey",),
    "CopyObject": ("kms:Decrypt", "kms:GenerateDataKey"),
    "CreateMultipartUpload": ("kms:Decrypt", "kms:GenerateDataKey"),
    "UploadPart": ("kms:Decrypt", "kms:GenerateDataKey"),
    "CompleteMultipartUpload": ("kms:Decrypt", "kms:GenerateDataKey"),
}


def _s3(call: dict[str, object], arns: Arns) -> list[Need]:
    path = urllib.parse.unquote(str(call["path"]))
    bucket, _, key = path.lstrip("/").partition("/")
    query = urllib.parse.parse_qs(str(call.get("query") or ""), keep_blank_values=True)
    copy_source = call.get("copy_source")
    operation = s3_operation(str(call["method"]), key, query, bool(copy_source))
    where = f"s3 {operation}"
    action = S3_ACTIONS[operation]
    if not key:
        context = ()
        if action == "s3:ListBucket":
            context = (("s3:prefix", query.get("prefix", [""])[0]),)
        found = [Need(action, f"arn:aws:s3:::{bucket}", where, context)]
    else:
        found = [Need(action, f"arn:aws:s3:::{bucket}/{key}", where)]
    if copy_source:
        source = urllib.parse.unquote(str(copy_source)).lstrip("/").split("?")[0]
        found.append(Need("s3:GetObject", f"arn:aws:s3:::{source}", f"{where} (its source)"))
    if bucket in arns.encrypted_buckets:
        found += [
            Need(kms, arns.kms_key_arn, f"{where} (SSE-KMS)") for kms in S3_KMS.get(operation, ())
        ]
    return found

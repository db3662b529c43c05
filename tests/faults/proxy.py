"""A fault-injecting HTTP proxy in front of the moto server, switched by the test at run time.

Point an AWS client's endpoint (boto3, pyarrow's S3, pyiceberg's Glue: the settings'
``s3_endpoint``, ``glue_endpoint`` and the Kinesis ``endpoint_url``) at ``proxy.url`` instead
of the moto server's: every request goes through unchanged until a test adds a ``Fault``.
A fault matches requests (by method, path, the JSON protocol's ``X-Amz-Target``, or S3 for
requests without a target) and does one of:

- ``status``: answer with an error (500, 503, or 400 for throttling) and the body the service
  would send: S3's XML ``<Error>``, or the JSON ``__type`` of Kinesis and Glue; the request
  never reaches moto;
- ``delay``: wait, then pass the request on (a slow service);
- ``drop_request``: read ``after_bytes`` of the request body, then reset the connection
  (an upload cut off midway); the request never reaches moto;
- ``drop_response``: pass the request on, then reset the connection instead of answering
  (the service did it, the client cannot know: an unknown outcome);
- ``throttle_entries`` (Kinesis PutRecords): each entry is refused with a share of
  ``entry_share``: only the others reach moto, and the answer (200) gives the refused ones
  ``ProvisionedThroughputExceededException`` in place, as Kinesis does under load.

A fault fires for a ``share`` of the matching requests, at most ``limit`` times (None: until
removed); ``fired`` counts them, so a test can assert that its fault was really met.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

Action = Literal["status", "delay", "drop_request", "drop_response", "throttle_entries"]
# Headers that belong to one hop: the proxy sets its own.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "upgrade"}
)
ERROR_CODES = {
    500: "InternalError",
    503: "ServiceUnavailable",
    400: "ProvisionedThroughputExceededException",
}


@dataclass
class Fault:
    action: Action
    method: str | None = None  # "PUT", "POST"...
    path_contains: str | None = None
    target_contains: str | None = None  # in X-Amz-Target, e.g. "PutRecords", "UpdateTable"
    s3: bool = False  # only requests without X-Amz-Target (S3's REST protocol)
    status: int = 500
    code: str | None = None  # the error code in the body; default by status
    delay_s: float = 0.0
    after_bytes: int = 0
    entry_share: float = 0.5
    share: float = 1.0
    limit: int | None = None
    fired: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def matches(self, method: str, path: str, target: str | None) -> bool:
        if path.startswith("/moto-api"):
            return False  # moto's own API (its health probe, its reset) is never faulted
        if self.s3 and target is not None:
            return False
        if self.method is not None and method != self.method:
            return False
        if self.path_contains is not None and self.path_contains not in path:
            return False
        return self.target_contains is None or (
            target is not None and self.target_contains in target
        )

    def take(self) -> bool:
        """Whether this matching request gets the fault (counted when it does)."""
        with self.lock:
            if self.limit is not None and self.fired >= self.limit:
                return False
            if self.share < 1.0 and random.random() >= self.share:  # noqa: S311 — test jitter
                return False
            self.fired += 1
            return True


class FaultProxy:
    """A threaded proxy on a loopback port to ``upstream`` (the moto server's URL)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.requests = 0
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        """Back to pass-through."""
        with self._lock:
            self._faults.clear()

    def fault_for(self, method: str, path: str, target: str | None) -> Fault | None:
        with self._lock:
            self.requests += 1
            faults = list(self._faults)
        for fault in faults:
            if fault.matches(method, path, target) and fault.take():
                return fault
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs expect

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the test output is for the test

    def do_GET(self) -> None:
        self._proxy()

    def do_PUT(self) -> None:
        self._proxy()

    def do_POST(self) -> None:
        self._proxy()

    def do_DELETE(self) -> None:
        self._proxy()

    def do_HEAD(self) -> None:
        self._proxy()

    def _proxy(self) -> None:
        target = self.headers.get("X-Amz-Target")
        fault = self.owner.fault_for(self.command, self.path, target)
        if fault is not None and fault.action == "drop_request":
            self._read_body(limit=fault.after_bytes)
            self._reset()
            return
        body = self._read_body()
        if fault is not None and fault.action == "status":
            self._answer_error(fault, target)
            return
        if fault is not None and fault.action == "delay":
            time.sleep(fault.delay_s)
        if fault is not None and fault.action == "throttle_entries":
            status, headers, answer = self._put_some(body, fault.entry_share)
        else:
            status, headers, answer = self._forward(body)
        if fault is not None and fault.action == "drop_response":
            self._reset()
            return
        self.send_response(status)
        for name, value in headers:
            # A HEAD answer's Content-Length is the object's size: passed on as it is.
            if name.lower() not in HOP_BY_HOP and (
                name.lower() != "content-length" or self.command == "HEAD"
            ):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    def _read_body(self, limit: int | None = None) -> bytes:
        """The request body (Content-Length or chunked, decoded), or its first ``limit``
        bytes."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                if limit is not None and sum(map(len, chunks)) >= limit:
                    break
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length if limit is None else min(limit, length))

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(
            self.owner.upstream_host, self.owner.upstream_port, timeout=60
        )
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            # The signature covered Host as the client sent it: kept as it is (moto does not
            # check signatures, and routes by the path and headers).
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _put_some(
        self, body: bytes, entry_share: float
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """PutRecords with a share of its entries refused (throttled), the others forwarded."""
        request = json.loads(body)
        entries = request["Records"]
        refused = {i for i in range(len(entries)) if random.random() < entry_share}  # noqa: S311
        kept = [entry for i, entry in enumerate(entries) if i not in refused]
        headers: list[tuple[str, str]] = [("Content-Type", "application/x-amz-json-1.1")]
        stored: list[dict[str, str]] = []
        if kept:
            forwarded = json.dumps({**request, "Records": kept}).encode()
            status, headers, answer = self._forward(forwarded)
            if status != 200:
                return status, headers, answer
            stored = json.loads(answer)["Records"]
        results = []
        for i in range(len(entries)):
            if i in refused:
                results.append(
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": "Rate exceeded for shard (injected by the fault proxy)",
                    }
                )
            else:
                results.append(stored.pop(0))
        failed = sum("ErrorCode" in r for r in results)
        answer = json.dumps({"FailedRecordCount": failed, "Records": results}).encode()
        return 200, headers, answer

    def _answer_error(self, fault: Fault, target: str | None) -> None:
        code = fault.code or ERROR_CODES.get(fault.status, "InternalError")
        message = f"injected by the test's fault proxy ({fault.status})"
        if target is None:  # S3: REST with XML errors
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{message}</Message>"
                "<RequestId>fault-proxy</RequestId></Error>"
            ).encode()
            content_type = "application/xml"
        else:  # Kinesis, Glue: the JSON protocol
            body = json.dumps({"__type": code, "message": message}).encode()
            content_type = "application/x-amz-json-1.1"
        self.send_response(fault.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-ErrorType", code)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0): the client sees the connection cut, not an
        orderly end of an answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

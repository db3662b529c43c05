"""The ``http`` fuzz harness: any request a server could hand the real ASGI app.

The app (``eventlake.api.app.create_app``, its lifespan run once) on the settings' home (a
throwaway one under ``make fuzz``), called directly with an ASGI scope and ``receive`` /
``send``, so that what an HTTP client would refuse to send still reaches it: any method, a
path among the routes (with a fuzzed segment or query) or a fuzzed one, Content-Type,
Content-Encoding, Content-Length, Idempotency-Key (none, fresh, one reused across inputs, or
fuzzed bytes), authentication (none, the key as X-API-Key, Bearer or Basic password, a wrong
key, fuzzed bytes), and a body sent in one or several chunks, gzipped or not, or cut off by
the client's disconnect. Header values are any bytes but CR, LF and NUL (an HTTP/1.1 server
refuses those before the app sees them).

Must hold for every input: the app answers (one ``http.response.start``, then a body to its
end) within ``WALL_LIMIT_SECONDS``, never 500, never lets an exception out, and a 2xx comes
only from a request that carried a valid key or needs none.
"""

from __future__ import annotations

import base64
import gzip
import os
import time
from typing import Any

from tests.fuzz.harnesses import CONTENT_TYPES, CPU_LIMIT_SECONDS, ENCODINGS, Input

# A request that waits longer than this is a hang (a health check's own limit is 5 s).
WALL_LIMIT_SECONDS = 8.0
METHODS = ["GET", "POST", "POST", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "BREW"]
# {} is a segment drawn from the input.
PATHS = [
    "/api/v1/ingest",
    "/api/v1/ingest",
    "/api/v1/ingest?dataset={}",
    "/api/v1/ingest?dataset=users",
    "/api/v1/status/{}",
    "/api/v1/trigger/{}",
    "/api/v1/metrics",
    "/api/v1/health",
    "/metrics",
    "/reports/dbt/{}",
    "/reports/quality/{}",
    "/openapi.json",
    "/{}",
    "/api/v1/{}",
]
# Runs a pipeline on the path's name would run dbt and the consumer for seconds: the trigger is
# fuzzed on names that are not a pipeline (its 404, its pattern's 422, its auth).
PIPELINE_STANDIN = "no_such_pipeline"
OPEN_PATHS = ("/api/v1/health", "/metrics", "/openapi.json", "/docs", "/redoc")


def _segment(choice: Input) -> bytes:
    """Up to 31 bytes of the input, for a path segment or a query value."""
    length = choice.pick(list(range(32)))
    start = min(choice.at, len(choice.data))
    choice.at = start + length
    return choice.data[start : start + length]


def _header_value(raw: bytes) -> bytes:
    return bytes(b for b in raw if b not in b"\r\n\0")


class HttpHarness:
    """The app's lifespan entered once; each input is one request through ``app(scope, ...)``."""

    def __init__(self) -> None:
        from anyio.from_thread import start_blocking_portal

        from eventlake.api.app import create_app
        from eventlake.api.auth import local_api_key
        from eventlake.config import get_settings
        from eventlake.pipeline.runs import PIPELINES

        settings = get_settings()
        self.pipelines = set(PIPELINES)
        self.key = local_api_key(settings).encode()
        self.app = create_app(settings)
        self._portal_context = start_blocking_portal()
        self.portal = self._portal_context.__enter__()
        self._lifespan = self.portal.wrap_async_context_manager(
            self.app.router.lifespan_context(self.app)
        )
        self._lifespan.__enter__()
        self.inputs = 0

    def __call__(self, data: bytes) -> None:
        self.inputs += 1
        choice = Input(data)
        method = choice.pick(METHODS)
        template = choice.pick(PATHS)
        segment = _segment(choice) if "{}" in template else b""
        text = segment.decode("latin-1")
        if template == "/api/v1/trigger/{}" and text in self.pipelines:
            text = PIPELINE_STANDIN
        path, _, query = template.replace("{}", text).partition("?")
        headers: list[tuple[bytes, bytes]] = []
        content_type = choice.pick([*CONTENT_TYPES, "fuzz"])
        if content_type == "fuzz":
            headers.append((b"content-type", _header_value(_segment(choice))))
        elif content_type is not None:
            headers.append((b"content-type", content_type.encode()))
        encoding = choice.pick([*ENCODINGS, "fuzz"])
        if encoding == "fuzz":
            headers.append((b"content-encoding", _header_value(_segment(choice))))
        elif encoding is not None:
            headers.append((b"content-encoding", encoding.encode()))
        idempotency = choice.pick(["none", "none", "fresh", "reused", "fuzz"])
        if idempotency == "fresh":
            headers.append((b"idempotency-key", f"fuzz-{os.getpid()}-{self.inputs}".encode()))
        elif idempotency == "reused":
            headers.append((b"idempotency-key", b"fuzz-reused"))
        elif idempotency == "fuzz":
            headers.append((b"idempotency-key", _header_value(_segment(choice))))
        auth = choice.pick(["key", "key", "bearer", "basic", "none", "wrong", "fuzz"])
        authorised = auth in ("key", "bearer", "basic")
        if auth == "key":
            headers.append((b"x-api-key", self.key))
        elif auth == "bearer":
            headers.append((b"authorization", b"Bearer " + self.key))
        elif auth == "basic":
            headers.append((b"authorization", b"Basic " + base64.b64encode(b"me:" + self.key)))
        elif auth == "wrong":
            headers.append((b"x-api-key", b"el_" + b"0" * 40))
        elif auth == "fuzz":
            name = choice.pick([b"x-api-key", b"authorization"])
            headers.append((name, _header_value(_segment(choice))))
        # 0: the bytes as they are; 1: gzipped; 2: a gzip header on bytes that are not gzip.
        wrapping = choice.pick([0, 0, 1, 2])
        chunks = choice.pick([1, 1, 2, 3])
        length = choice.pick(["true", "true", "none", "short", "long", "fuzz"])
        disconnect = choice.pick([False] * 7 + [True])
        body = choice.rest()
        if wrapping == 1:
            body = gzip.compress(body, compresslevel=1)
        elif wrapping == 2:
            body = b"\x1f\x8b" + body
        declared = {
            "true": str(len(body)).encode(),
            "short": str(max(0, len(body) - 1)).encode(),
            "long": str(len(body) + 7).encode(),
            "fuzz": _header_value(body[:12]),
        }.get(length)
        if declared is not None:
            headers.append((b"content-length", declared))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("latin-1"),
            "root_path": "",
            "query_string": query.encode("latin-1"),
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        step = max(1, -(-len(body) // chunks))
        parts = [body[at : at + step] for at in range(0, len(body), step)] or [b""]
        started_cpu, started = time.process_time(), time.monotonic()
        status, sent = self.portal.call(self._request, scope, parts, disconnect)
        spent = time.process_time() - started_cpu
        waited = time.monotonic() - started
        described = f"{method} {path!r}?{query!r} {headers!r} body {body[:200]!r}"
        # A client gone mid-body may get no answer; every other request gets one, in time.
        late = f"no answer in {WALL_LIMIT_SECONDS:g} s: {described}"
        assert status is not None or disconnect, late
        assert status != 500, f"500 ({sent[:300]!r}) for {described}"
        if status is not None and 200 <= status < 300 and not path.startswith(OPEN_PATHS):
            assert authorised, f"{status} without a valid key: {described}"
        assert spent < CPU_LIMIT_SECONDS, f"{spent:.1f} CPU-s ({waited:.1f} s) for {described}"

    async def _request(
        self, scope: dict[str, Any], parts: list[bytes], disconnect: bool
    ) -> tuple[int | None, bytes]:
        """The app's status and body for the request, or None when it did not answer in time
        (or answered without finishing its body)."""
        import anyio

        incoming = [
            {"type": "http.request", "body": part, "more_body": at < len(parts) - 1}
            for at, part in enumerate(parts)
        ]
        if disconnect:  # the client went away mid-body
            incoming[-1]["more_body"] = True
            incoming.append({"type": "http.disconnect"})
        finished = anyio.Event()
        status: int | None = None
        sent = bytearray()

        async def receive() -> dict[str, Any]:
            if incoming:
                return incoming.pop(0)
            await finished.wait()  # what a server does: disconnect once the answer is out
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                assert status is None, "a second http.response.start"
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                assert status is not None, "a body before http.response.start"
                sent.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    finished.set()

        with anyio.move_on_after(WALL_LIMIT_SECONDS):
            await self.app(scope, receive, send)
            return (status if finished.is_set() else None), bytes(sent)
        return None, bytes(sent)

    def close(self) -> None:
        self._lifespan.__exit__(None, None, None)
        self._portal_context.__exit__(None, None, None)

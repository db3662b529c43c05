"""Property-based: requests generated from the app's own OpenAPI schema never get a 5xx."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from eventlake.api.app import create_app
from eventlake.api.auth import local_api_key
from eventlake.config import Settings

# The schema is loaded when this module is collected, before any fixture runs, so the app has
# a home of its own rather than the per-test one. schemathesis keeps it running until exit.
HOME = Path(tempfile.mkdtemp(prefix="eventlake-schemathesis-"))
atexit.register(shutil.rmtree, HOME, ignore_errors=True)
SETTINGS = Settings(home=HOME)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(SETTINGS))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context: schemathesis.SerializationContext, value: Any) -> bytes:
    """NDJSON as generated: a string as is, anything else as one JSON line."""
    if isinstance(value, bytes):
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("utf-8", "surrogatepass")


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"X-API-Key": local_api_key(SETTINGS)}, checks=[not_a_server_error]
    )

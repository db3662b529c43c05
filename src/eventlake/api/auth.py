"""API keys, as the API checks them. The logic lives in ``eventlake.api_keys``, below the
API, so that the dashboard and the CLI can read the local key without importing the API."""

from eventlake.api_keys import (
    KEY_FILE,
    LOCAL_SOURCE,
    NAME,
    ApiKey,
    KeyFileRing,
    KeyRing,
    Keys,
    load_key_ring,
    local_api_key,
    local_key_path,
    parse_api_keys,
)

__all__ = [
    "KEY_FILE",
    "LOCAL_SOURCE",
    "NAME",
    "ApiKey",
    "KeyFileRing",
    "KeyRing",
    "Keys",
    "load_key_ring",
    "local_api_key",
    "local_key_path",
    "parse_api_keys",
]

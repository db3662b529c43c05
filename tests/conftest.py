"""Shared fixtures. AWS: a moto server over real HTTP (see ``tests/aws.py``); Snowflake: a
fakesnow server (``tests/fakesnow.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eventlake.config import get_settings
from tests.aws import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    AwsEnv,
    MotoServer,
    start_moto_server,
)
from tests.fakesnow import FakesnowServer, start_fakesnow


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Every test gets its own EVENTLAKE_HOME: nothing reads or writes the developer's lake."""
    monkeypatch.setenv("EVENTLAKE_HOME", str(tmp_path_factory.mktemp("eventlake-home")))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server per session; its log goes to a temp file, not the test output."""
    server = start_moto_server(tmp_path_factory.mktemp("moto") / "server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> AwsEnv:
    """Fake credentials in the environment and fresh bucket/database names for this test.

    Nothing is reset between tests: isolation comes from the unique names.
    """
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    return AwsEnv.fresh(moto_server.endpoint_url)


@pytest.fixture(scope="session")
def fakesnow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesnowServer]:
    """One fakesnow server per session (Snowflake's protocol, see ``tests/fakesnow.py``);
    each user of it works in a database of its own."""
    server = start_fakesnow(tmp_path_factory.mktemp("fakesnow") / "server.log")
    try:
        yield server
    finally:
        server.stop()

"""Shared fixtures and the suite's tiers. AWS: a moto server over real HTTP (see
``tests/aws.py``); Snowflake: a fakesnow server (``tests/fakesnow.py``).

Tiers (docs/testing.md): ``make test`` runs every test; ``make test-fast`` leaves out the
``slow`` ones (dbt, Airflow, a browser, the app run as a process) and the ``integration`` ones
(a server the tests start: moto, fakesnow, PostgreSQL). The marks are given here, by folder and
by fixture, so a new test lands in the right tier without being marked by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
from tests.hypothesis_profiles import FAST as HYPOTHESIS_FAST_PROFILE

__all__ = ["HYPOTHESIS_FAST_PROFILE"]  # imported for its registration of the profile


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


# --- Tiers and parallel runs (pytest-xdist) ---------------------------------------------------

TESTS = Path(__file__).parent
# Folders whose every test runs Airflow or the app as a process.
SLOW_FOLDERS = frozenset({"airflow", "e2e", "container", "package", "faults"})
# Modules (and single tests) that start processes of their own, or run Great Expectations: the
# cost is start-up, not the check. Paths are relative to tests/.
SLOW_MODULES = {
    "lake/test_crash_and_race.py": "writer processes killed mid-commit",
    "pipeline/test_serve.py": "the API, a consumer and the dashboard as processes",
    "api/test_state_locked.py": "another process holding the job database's lock for seconds",
    "consumer/test_consumer_process.py": "`eventlake consume` as a process",
    "test_loadtest.py": "Locust against the API",
    "quality/test_gates.py": "Great Expectations",
    "quality/test_quality_cli.py": "Great Expectations",
}
SLOW_TESTS = {
    "test_sample_data.py::test_blocks_give_the_same_stream_in_any_number_of_processes": (
        "worker processes"
    ),
}
# Session fixtures that start a server: a test using one (directly or through another fixture)
# is an integration test.
SERVER_FIXTURES = frozenset(
    {"moto_server", "fakesnow_server", "postgres_server", "recording_moto", "own_postgres"}
)
# The longest modules first (make test's --durations), so that under `-n` they start at
# once and the short modules fill the gaps around them, instead of one of them starting last
# and leaving the other workers idle at the end (longest-processing-time-first scheduling).
# The image and the compose stack are apart: the stack reuses the image, whose build it
# would otherwise wait for. Every other module keeps its place, after these.
LONGEST_FIRST = (
    "airflow/test_dags.py",
    "package/test_wheel.py",
    "container/test_image.py",
    "warehouse/test_transform.py",
    "container/test_stack.py",
    "warehouse/test_snowflake_sql.py",
    "api/test_trigger_airflow.py",
    "processing/test_differential.py",
    "faults/test_aws_faults.py",
    "deploy/test_iam_policies.py",
    "faults/test_state_outage.py",
    "quality/test_quality_cli.py",
    "dashboard/test_app.py",
)


# A wrapper, so the marks are in place before any other plugin's hook runs: `-m` deselects by
# them.
@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    for item in items:
        path = item.path.relative_to(TESTS)
        test = f"{path.as_posix()}::{item.name.split('[')[0]}"
        if path.parts[0] in SLOW_FOLDERS or path.as_posix() in SLOW_MODULES or test in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
    result = yield
    # After the other hooks (deselection by -m included): the order is the last word.
    rank = {module: index for index, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.relative_to(TESTS).as_posix(), len(rank)))
    return result


def pytest_make_parametrize_id(val: object, argname: str) -> str | None:
    """A gzip body's id without its header's timestamp: gzip.compress() stamps the time, so two
    xdist workers collecting a second apart would name the test differently, and xdist refuses
    to run collections that differ."""
    if isinstance(val, bytes) and val.startswith(b"\x1f\x8b"):
        return f"{argname}-gzip-{len(val)}-bytes"
    return None

"""The state tests' databases: each test gets an empty one of its own, on SQLite (the default)
and on the session's throwaway PostgreSQL cluster (``tests/postgres.py``)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from eventlake.state import StateStore, open_state
from tests.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]

# The Postgres runs start a server: integration tier (the tiers in tests/conftest.py read the
# fixtures a test names, and this one is only asked for at run time).
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


@pytest.fixture(params=BACKENDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty job state database of this test's own, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def state(state_url: str) -> Iterator[StateStore]:
    """The state store on ``state_url``, closed after the test."""
    store = open_state(state_url)
    try:
        yield store
    finally:
        store.close()

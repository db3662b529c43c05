"""Consumer fixtures: settings with their own EVENTLAKE_HOME, and its job database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eventlake.config import Settings
from eventlake.state import StateStore, open_state


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("home"))


@pytest.fixture
def state(settings: Settings) -> Iterator[StateStore]:
    store = open_state(settings.state_database_url)
    yield store
    store.close()

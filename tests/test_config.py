"""Settings read from the environment, as a deployment sets them: one variable at a time."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from eventlake.config import (
    EmbeddedStreamSettings,
    GlueCatalogSettings,
    KinesisStreamSettings,
    Settings,
    SqlCatalogSettings,
)


@pytest.fixture(autouse=True)
def no_eventlake_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the variables a test sets: a developer's own EVENTLAKE_* must not leak in."""
    for name in list(os.environ):
        if name.startswith("EVENTLAKE_"):
            monkeypatch.delenv(name)


def test_one_nested_field_alone_applies_to_the_default_stream_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTLAKE_STREAM__BACKEND__SHARDS", "7")
    backend = Settings().stream.backend
    assert isinstance(backend, EmbeddedStreamSettings)
    assert backend.shards == 7


def test_one_nested_field_alone_applies_to_the_default_catalog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTLAKE_LAKE__CATALOG__URI", "sqlite:////tmp/elsewhere.db")
    catalog = Settings().lake.catalog
    assert isinstance(catalog, SqlCatalogSettings)
    assert catalog.uri == "sqlite:////tmp/elsewhere.db"


def test_a_named_kind_still_chooses_its_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLAKE_STREAM__BACKEND__KIND", "kinesis")
    monkeypatch.setenv("EVENTLAKE_STREAM__BACKEND__SHARDS", "8")
    monkeypatch.setenv("EVENTLAKE_LAKE__CATALOG__KIND", "glue")
    monkeypatch.setenv("EVENTLAKE_LAKE__CATALOG__WAREHOUSE", "s3://bucket/lake")
    settings = Settings()
    assert isinstance(settings.stream.backend, KinesisStreamSettings)
    assert settings.stream.backend.shards == 8
    assert isinstance(settings.lake.catalog, GlueCatalogSettings)
    assert settings.lake.catalog.warehouse == "s3://bucket/lake"


def test_fields_of_another_backend_without_its_kind_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Defaulting the kind must not make a Kinesis field silently mean the embedded stream.
    monkeypatch.setenv("EVENTLAKE_STREAM__BACKEND__ENDPOINT_URL", "http://127.0.0.1:5000")
    with pytest.raises(ValidationError, match="endpoint_url"):
        Settings()


@pytest.mark.parametrize(
    ("variable", "value", "location", "kinds"),
    [
        ("EVENTLAKE_STREAM__BACKEND__KIND", "kafka", "stream.backend", "'embedded', 'kinesis'"),
        ("EVENTLAKE_LAKE__CATALOG__KIND", "hive", "lake.catalog", "'sql', 'glue'"),
    ],
)
def test_an_unknown_kind_is_a_clear_error(
    variable: str, value: str, location: str, kinds: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    text = str(raised.value)
    assert location in text
    assert f"kind must be one of {kinds}" in text
    assert value in text


def test_one_dedup_window_serves_the_consumer_and_files(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().dedup_window == 2_000_000  # the consumer's default, kept
    monkeypatch.setenv("EVENTLAKE_DEDUP_WINDOW", "7")
    assert Settings().dedup_window == 7


def test_the_consumers_former_dedup_window_variable_still_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTLAKE_CONSUMER__DEDUP_WINDOW", "5")
    monkeypatch.setenv("EVENTLAKE_CONSUMER__READ_LIMIT", "9")
    settings = Settings()
    assert (settings.dedup_window, settings.consumer.read_limit) == (5, 9)
    monkeypatch.setenv("EVENTLAKE_DEDUP_WINDOW", "7")  # the one setting wins over the old one
    assert Settings().dedup_window == 7
    monkeypatch.delenv("EVENTLAKE_DEDUP_WINDOW")
    monkeypatch.setenv("EVENTLAKE_CONSUMER__DEDUP_WINDOW", "-1")
    with pytest.raises(ValidationError):  # still checked
        Settings()

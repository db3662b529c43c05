"""The extras: which one a missing module belongs to, and the one-line message that says so.

The real thing (a venv without the extras) is tests/package/test_wheel.py; these are the
helper's rules, checked in the development environment where every extra is installed.
"""

from __future__ import annotations

import tomllib

import pytest

from eventlake.config import PROJECT_ROOT
from eventlake.extras import EXTRA_MODULES, MissingExtraError, needs_extra, require_extra


def test_every_extra_is_installed_for_development() -> None:
    for extra in EXTRA_MODULES:
        require_extra(extra, "eventlake test")


def test_the_helper_knows_exactly_the_extras_of_pyproject() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"])
    assert extras - {"all", "postgres"} == set(EXTRA_MODULES)  # postgres: no command needs it
    (everything,) = project["optional-dependencies"]["all"]
    assert set(everything.removeprefix("eventlake[").removesuffix("]").split(",")) == extras - {
        "all"
    }


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("dbt", "warehouse"),
        ("dbt.cli.main", "warehouse"),
        ("great_expectations", "warehouse"),
        ("dbt.adapters.snowflake", "snowflake"),
        ("snowflake", "snowflake"),
        ("streamlit", "dashboard"),
        ("plotly.express", "dashboard"),
        ("boto3", "aws"),
        ("botocore", "aws"),
    ],
)
def test_a_missing_module_names_its_extra(module: str, extra: str) -> None:
    with pytest.raises(MissingExtraError) as raised, needs_extra("eventlake transform"):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)
    assert str(raised.value) == (
        f"`eventlake transform` needs the {extra} extra: pip install 'eventlake[{extra}]'"
    )


def test_a_module_shared_by_two_extras_names_the_commands_own() -> None:
    with (
        pytest.raises(MissingExtraError, match=r"eventlake\[dashboard\]"),
        needs_extra("eventlake dashboard", "dashboard"),
    ):
        raise ModuleNotFoundError("No module named 'duckdb'", name="duckdb")


def test_any_other_missing_module_is_left_alone() -> None:
    with pytest.raises(ModuleNotFoundError) as raised, needs_extra("eventlake transform"):
        raise ModuleNotFoundError("No module named 'not_an_extra'", name="not_an_extra")
    assert not isinstance(raised.value, MissingExtraError)


def test_an_extra_not_installed_stops_the_command_before_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(EXTRA_MODULES, "warehouse", ("not_installed_anywhere",))
    with pytest.raises(MissingExtraError, match=r"pip install 'eventlake\[warehouse\]'"):
        require_extra("warehouse", "eventlake quality")
    entered = False
    with pytest.raises(MissingExtraError), needs_extra("eventlake quality", "warehouse"):
        entered = True
    assert not entered

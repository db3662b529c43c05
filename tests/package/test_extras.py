"""The extras, as the installed package's metadata declares them, and the one-line message.

The real thing (a venv without the extras) is tests/package/test_wheel.py; these check the
helper against pyproject in the development environment, where every extra is installed.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from eventlake import extras
from eventlake.config import PROJECT_ROOT
from eventlake.extras import MissingExtraError, require_extra

PROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert found
    return found[0]


def test_the_extras_are_pyprojects() -> None:
    assert set(extras.extras()) == set(PROJECT["optional-dependencies"])


@pytest.mark.parametrize("extra", ["aws", "warehouse", "dashboard", "postgres"])
def test_each_extra_installs_what_pyproject_lists(extra: str) -> None:
    listed = {_name(r) for r in PROJECT["optional-dependencies"][extra]}
    assert set(extras.distributions(extra)) == listed


def test_an_extra_that_names_another_includes_it() -> None:
    snowflake = set(extras.distributions("snowflake"))
    assert {"dbt-snowflake", "snowflake-connector-python"} <= snowflake
    assert set(extras.distributions("warehouse")) <= snowflake  # eventlake[warehouse]
    everything = set(extras.distributions("all"))
    for extra in ("aws", "snowflake", "warehouse", "dashboard", "postgres"):
        assert set(extras.distributions(extra)) <= everything


def test_every_extra_is_installed_for_development() -> None:
    for extra in extras.extras():
        require_extra(extra, "eventlake test")


def test_an_extra_not_installed_says_which_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extras, "installed", lambda name: name != "streamlit")
    with pytest.raises(MissingExtraError) as raised:
        require_extra("dashboard", "eventlake dashboard")
    assert str(raised.value) == (
        "`eventlake dashboard` needs the dashboard extra: pip install 'eventlake[dashboard]'"
    )
    require_extra("warehouse", "eventlake transform")  # streamlit is not one of its


def test_an_unknown_extra_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no extra 'warehous'"):
        require_extra("warehous", "eventlake transform")

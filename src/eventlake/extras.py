"""Optional dependencies (pyproject's extras) and the one-line error when one is missing.

The core install (``pip install eventlake``) is the API, the consumer, the lake and the
embedded defaults. The rest comes in extras, the way dlt and pyiceberg ship theirs:
``[warehouse]`` (dbt with DuckDB, Great Expectations), ``[snowflake]`` (the prod target),
``[dashboard]`` (Streamlit), ``[aws]`` (Kinesis, S3, Glue), ``[postgres]`` and ``[all]``. A
command checks the extras it needs before it starts (``eventlake.cli.common.require_extras``),
so a missing one reads::

    `eventlake transform` needs the warehouse extra: pip install 'eventlake[warehouse]'

rather than a ``ModuleNotFoundError`` traceback from deep inside an import, or from dbt's
child process.

What an extra holds is read from the installed package's own metadata (its ``Requires-Dist``
lines, written from pyproject's ``[project.optional-dependencies]``): pyproject stays the one
list.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata

from eventlake.errors import EventlakeError

DISTRIBUTION = "eventlake"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class MissingExtraError(EventlakeError, ModuleNotFoundError):
    """A command needs an extra that is not installed; the message says how to install it."""

    def __init__(self, command: str, extra: str) -> None:
        super().__init__(f"`{command}` needs the {extra} extra: pip install 'eventlake[{extra}]'")
        self.command = command
        self.extra = extra


@cache
def extras() -> tuple[str, ...]:
    """The extras eventlake declares; empty when it runs from sources never installed."""
    try:
        return tuple(metadata.metadata(DISTRIBUTION).get_all("Provides-Extra") or ())
    except metadata.PackageNotFoundError:
        return ()


@cache
def distributions(extra: str) -> tuple[str, ...]:
    """The distributions ``extra`` installs, by name (``dbt-core``, ``boto3``, …)."""
    if extra not in extras():
        return ()
    marker = re.compile(rf"""extra\s*==\s*['"]{re.escape(extra)}['"]""")
    names = []
    for requirement in metadata.requires(DISTRIBUTION) or ():
        spec, _, markers = requirement.partition(";")
        found = _NAME.match(spec.strip())
        if found and marker.search(markers):
            names.append(found[0])
    return tuple(names)


def installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def require_extra(extra: str, command: str) -> None:
    """Raise ``MissingExtraError`` unless every distribution of ``extra`` is installed.

    An unknown extra is a programming error (ValueError), unless eventlake itself is not
    installed (sources on the path): then there is nothing to check against."""
    if extras() and extra not in extras():
        raise ValueError(f"eventlake has no extra {extra!r}; it has {', '.join(extras())}")
    if not all(installed(name) for name in distributions(extra)):
        raise MissingExtraError(command, extra)

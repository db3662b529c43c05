"""Optional dependencies (pyproject's extras) and the one-line error when one is missing.

The core install (``pip install eventlake``) is the API, the consumer, the lake and the
embedded defaults. The rest comes in extras, the way dlt and pyiceberg ship theirs:
``[warehouse]`` (dbt with DuckDB, Great Expectations), ``[snowflake]`` (the prod target),
``[dashboard]`` (Streamlit), ``[aws]`` (Kinesis, S3, Glue) and ``[all]``. A command that needs
one runs inside ``needs_extra``, so a missing extra reads::

    `eventlake transform` needs the warehouse extra: pip install 'eventlake[warehouse]'

rather than a ``ModuleNotFoundError`` traceback from deep inside an import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec

from eventlake.errors import EventlakeError

# The modules each extra installs, as imported (pyproject's [project.optional-dependencies]
# lists the distributions). Checked up front, so a command fails before it starts work, and
# also when an import fails mid-way (dbt runs as a child process: its absence shows only here).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "warehouse": ("dbt.cli", "dbt.adapters.duckdb", "duckdb", "great_expectations", "pandas"),
    "snowflake": ("dbt.adapters.snowflake", "snowflake.connector"),
    "dashboard": ("streamlit", "plotly", "duckdb", "pandas"),
    "aws": ("boto3", "botocore"),
}


class MissingExtraError(EventlakeError, ModuleNotFoundError):
    """A command needs an extra that is not installed; the message says how to install it."""

    def __init__(self, command: str, extra: str) -> None:
        super().__init__(f"`{command}` needs the {extra} extra: pip install 'eventlake[{extra}]'")
        self.command = command
        self.extra = extra


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package (``dbt`` of ``dbt.cli``) is missing
        return False


def require_extra(extra: str, command: str) -> None:
    """Raise ``MissingExtraError`` unless every module of ``extra`` can be imported."""
    if not all(_installed(module) for module in EXTRA_MODULES[extra]):
        raise MissingExtraError(command, extra)


def _extra_of(module: str | None, preferred: tuple[str, ...]) -> str | None:
    """The extra that installs ``module`` (or a package of it, or one above it), if any: the
    closest match, among the command's own extras first."""
    if not module:
        return None
    order = [*preferred, *(extra for extra in EXTRA_MODULES if extra not in preferred)]
    best: tuple[int, str] | None = None
    for extra in order:
        for known in EXTRA_MODULES[extra]:
            related = module == known or module.startswith(known + ".")
            if related or known.startswith(module + "."):
                score = len(known) if related else len(module)
                if best is None or score > best[0]:
                    best = (score, extra)
    return best[1] if best else None


@contextmanager
def needs_extra(command: str, *extras: str) -> Iterator[None]:
    """Run ``command``'s work with ``extras`` installed: checked on entry, and an import of a
    module of any extra failing inside becomes the same one-line ``MissingExtraError``."""
    for extra in extras:
        require_extra(extra, command)
    try:
        yield
    except MissingExtraError:
        raise
    except ModuleNotFoundError as error:
        missing = _extra_of(error.name, extras)
        if missing is None:
            raise
        raise MissingExtraError(command, missing) from error

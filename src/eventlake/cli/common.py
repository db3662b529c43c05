"""What every command shares: the consoles, one way to fail, the settings, the lake and the
job state opened with an error a person can act on.

Nothing heavy is imported here at module level: ``eventlake --help``, ``--version`` and every
usage error load this module, and must not pay for pandas, pyiceberg or sqlalchemy (seconds of
start-up; tests/test_cli_imports.py holds the line). The lake, the job state and their error
types are imported when a command first needs them."""

import functools
import os
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from pyiceberg.exceptions import CommitFailedException
    from sqlalchemy.exc import SQLAlchemyError

    from eventlake.config import Settings
    from eventlake.lake import CommitConflictError, Lake
    from eventlake.state import StateStore

    # Spelled out, not tuple[type[Exception], ...]: mypy accepts `*lake_errors()` in an except
    # clause only when it knows every member.
    LakeErrors = tuple[
        type[CommitConflictError],
        type[CommitFailedException],
        type[SQLAlchemyError],
        type[NotImplementedError],
    ]

console = Console()
err_console = Console(stderr=True)


@functools.cache
def lake_errors() -> "LakeErrors":
    """Failures of the lake that a person can act on: said in one line, exit code 1.

    A function rather than a constant so that the lake's libraries load only once a command
    reaches the lake; an ``except (..., *lake_errors())`` clause calls it only when an
    exception is on its way out."""
    from pyiceberg.exceptions import CommitFailedException
    from sqlalchemy.exc import SQLAlchemyError

    from eventlake.lake import CommitConflictError

    return (CommitConflictError, CommitFailedException, SQLAlchemyError, NotImplementedError)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Say ``message`` on stderr as the command's error; the caller raises what it returns.

    The message is text, never Rich markup (a path, a setting or `eventlake[warehouse]` may
    hold brackets), and is not wrapped however narrow the terminal: a command in it must stay
    copyable."""
    err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def require_extras(command: str, *extras: str) -> None:
    """Stop before the command starts, in one line (exit 1), when an extra it needs is not
    installed: `eventlake transform` needs the warehouse extra: pip install ..."""
    from eventlake.extras import MissingExtraError, require_extra

    try:
        for extra in dict.fromkeys(extras):
            require_extra(extra, command)
    except MissingExtraError as exc:
        raise fail(str(exc)) from None


def backend_extras(settings: "Settings", *, warehouse: bool = False) -> tuple[str, ...]:
    """The extras the configured backends need: aws for Kinesis, Glue or an s3:// warehouse,
    postgres for the job state or the catalog on PostgreSQL; with ``warehouse``, the
    warehouse extra, and snowflake too on the prod target."""
    extras = []
    catalog = settings.lake.catalog
    s3_warehouse = (getattr(catalog, "warehouse", None) or "").startswith("s3")
    if settings.stream.backend.kind == "kinesis" or catalog.kind == "glue" or s3_warehouse:
        extras.append("aws")
    urls = (settings.state_database_url, getattr(catalog, "uri", None) or "")
    if any(url.startswith("postgresql") for url in urls):
        extras.append("postgres")
    if warehouse:
        extras.append("warehouse")
        if settings.warehouse.target == "prod":
            extras.append("snowflake")
    return tuple(extras)


def load_settings() -> "Settings":
    """The settings, or a clear error (exit 2) naming the EVENTLAKE_* variable at fault."""
    from pydantic import ValidationError

    from eventlake.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        raise fail(f"invalid EVENTLAKE_* settings:\n{exc}", code=2) from None


def auto_workers(events: int) -> int:
    if events < 100_000:
        return 1  # starting processes would cost more than it saves
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus - 1))  # one CPU stays with this process, which writes


def open_lake(settings: "Settings", command: str, tables: list[str] | None = None) -> "Lake":
    """The lake, once the extras its backends need are known to be installed (``command``
    names the command in the message when one is missing)."""
    require_extras(command, *backend_extras(settings))
    from eventlake.lake import Lake
    from eventlake.lake.catalog import describe as describe_catalog

    try:
        lake = Lake(settings)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot open the lake ({describe_catalog(settings)}): {exc}") from None
    known = lake.table_names()
    for name in tables or []:
        if name not in known:
            listed = ", ".join(known) or "none yet: run `eventlake run` or `eventlake process`"
            raise fail(f"no table {name!r} in the lake; tables: {listed}", code=2)
    return lake


def open_state(settings: "Settings") -> "StateStore":
    from sqlalchemy.exc import SQLAlchemyError

    from eventlake.state import StateStore

    try:
        settings.home.mkdir(parents=True, exist_ok=True)  # state.db lives there by default
        return StateStore(settings.state_database_url)
    except (SQLAlchemyError, ValueError, OSError) as exc:
        raise fail(f"cannot open the job state: {exc}") from None

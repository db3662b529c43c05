"""``eventlake consume``: the streams into the lake, exactly once."""

from typing import Annotated

import typer

from eventlake.cli.common import (
    backend_extras,
    console,
    err_console,
    fail,
    lake_errors,
    load_settings,
    require_extras,
)


def consume(
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", "-d", help="Datasets to consume (repeatable); default all."),
    ] = None,
    until_caught_up: Annotated[
        bool,
        typer.Option("--until-caught-up", help="Stop once every shard is read (batch runs)."),
    ] = False,
) -> None:
    """Read the streams, run the Rust core, commit to the lake exactly once.

    Joins the dataset's consumers: the shards are shared by leases in the state database, so
    start as many as needed, on any machine that shares it (PostgreSQL). Runs until SIGTERM or
    Ctrl-C (the batch in hand is committed first, the leases given back), or with
    --until-caught-up until every shard is read. A database or catalog out of reach is waited
    for (said on stderr, retried with backoff); with --until-caught-up it is an error."""
    import signal
    import threading

    from eventlake.contracts import DATASETS

    settings = load_settings()
    require_extras("eventlake consume", *backend_extras(settings))
    for name in dataset or ():
        if name not in DATASETS:
            raise typer.BadParameter(
                f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}",
                param_hint="'--dataset'",
            )
    # The consumer brings the lake (pyiceberg, pyarrow, pandas): loaded once the arguments are
    # known to be good, so that a usage error is reported in a fraction of a second.
    from sqlalchemy.exc import SQLAlchemyError

    from eventlake.consumer import BatchReport
    from eventlake.consumer import consume as consume_streams
    from eventlake.state import driver_message, state_database_of
    from eventlake.stream.base import StreamError

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        err_console.print(f"{signal.Signals(signum).name}: finishing the batch in hand")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def show(batch: BatchReport) -> None:
        status = "already in the lake" if batch.skipped else f"snapshot {batch.snapshot_id}"
        console.print(
            f"{batch.dataset}: {batch.records:,} records, {batch.received:,} events → "
            f"{batch.landed:,} landed, {batch.dead_lettered:,} rejected, "
            f"{batch.duplicates:,} duplicates in {batch.seconds:.2f} s ({status})",
            highlight=False,
        )

    console.print(
        f"consuming {', '.join(dataset or DATASETS)} with the other consumers "
        f"({'until caught up' if until_caught_up else 'until stopped'})",
        highlight=False,
    )
    try:
        report = consume_streams(
            settings,
            datasets=dataset or None,
            until_caught_up=until_caught_up,
            stop=stop,
            on_batch=show,
        )
    except (StreamError, ValueError, OSError, *lake_errors()) as exc:
        raise fail(str(exc)) from None
    except SQLAlchemyError as exc:  # a drain (a service waits for its databases)
        database = state_database_of(exc) or "the lake's SQL catalog"
        raise fail(f"{database} is not available: {driver_message(exc)}") from None
    landed = report.landed
    console.print(f"done in {report.seconds:.1f} s: {landed:,} events landed", highlight=False)

"""The ``eventlake`` command line. Thin: every command parses its arguments, calls the library
and renders the result. A module per command (``eventlake.cli.generate``, ...); this one only
registers them.

Commands:

* ``eventlake generate`` — deterministic sample data (:mod:`eventlake.sample_data`).
* ``eventlake process FILE...`` — run files through the Rust core (:mod:`eventlake.pipeline`).
* ``eventlake run`` — the main job on embedded defaults: API and consumer, traffic over HTTP,
  the pipeline's tasks after each of two loads, a summary (:mod:`eventlake.pipeline.main_job`);
  with ``--serve``, then the API, a consumer and the dashboard until Ctrl-C or SIGTERM.
* ``eventlake lake inspect|compact|expire`` — look after the Iceberg tables
  (:mod:`eventlake.lake.maintenance`).
* ``eventlake serve`` — the HTTP API (:mod:`eventlake.api`).
* ``eventlake consume`` — the streams into the lake, exactly once (:mod:`eventlake.consumer`).
* ``eventlake transform`` — the dbt star schema from the lake (:mod:`eventlake.warehouse`);
  exit code 1 when a model or test fails.
* ``eventlake quality`` — the Great Expectations gates over the warehouse
  (:mod:`eventlake.quality`); exit code 1 when one fails.
* ``eventlake dashboard`` — the Streamlit dashboard (:mod:`eventlake.dashboard`).
* ``eventlake task TASK_ID`` — one step of a DAG as its Airflow task runs it, the summary as
  one JSON line (what the image runs for each task in production: :mod:`eventlake.cli.task`).

Bad input (a negative count, a share outside [0, 1], an unknown format) is reported as a usage
error (exit code 2) and problems while writing as an error message (exit code 1); never as a
traceback.
"""

from typing import Annotated

import typer

from eventlake import __version__
from eventlake.cli import (
    consume,
    dashboard,
    generate,
    lake,
    process,
    quality,
    run,
    serve,
    task,
    transform,
)
from eventlake.cli.common import console, err_console

__all__ = ["app", "console", "err_console"]

app = typer.Typer(
    name="eventlake",
    help="eventlake: an event pipeline with a Rust processing core.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"eventlake {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """eventlake: an event pipeline with a Rust processing core."""


# In the order `eventlake --help` lists them.
for command in (
    generate.generate,
    process.process,
    run.run,
    serve.serve,
    consume.consume,
    transform.transform,
    quality.quality,
    dashboard.dashboard,
    task.task,
):
    app.command()(command)
app.add_typer(lake.app, name="lake")

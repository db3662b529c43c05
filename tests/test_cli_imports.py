"""The command line starts without its heavy libraries.

`eventlake --help`, `--version` and every usage error must not load pandas, pyiceberg,
sqlalchemy, dbt and the rest: that costs seconds in every CLI process the tests, the Airflow
tasks and a person start, and a core install without the extras (dbt, Great Expectations,
Streamlit) must still be able to run them. A command loads what it needs when it runs. Each
case runs in a fresh interpreter, since this one has long imported everything."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.core
import typer.main

from eventlake.cli import app

# Top-level packages that only a command's body may import.
HEAVY = (
    "pandas",
    "pyarrow",
    "pyiceberg",
    "sqlalchemy",
    "duckdb",
    "dbt",
    "great_expectations",
    "streamlit",
    "boto3",
    "fastapi",
    "uvicorn",
    "polars",
)

# Runs the CLI in-process in a fresh interpreter (argv None: only imports it), then writes the
# exit code and the modules loaded to the file named by its second argument.
PROBE = """
import json, sys
argv, report = json.loads(sys.argv[1]), sys.argv[2]
code = 0
try:
    from eventlake.cli import app
    if argv is not None:
        app(argv, prog_name="eventlake")
except SystemExit as exc:
    code = exc.code
with open(report, "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "EVENTLAKE_HOME": str(home), "COLUMNS": "200"}


def _import_chains(importtime: str, offenders: list[str]) -> list[str]:
    """For each offender, who imported it: `-X importtime` prints a module after everything it
    imports, one indentation step deeper, so a module's importer is the next line less deep."""
    lines = []
    for line in importtime.splitlines():
        match = re.match(r"import time:\s*\d+ \|\s*\d+ \|( *)(\S+)", line)
        if match:
            lines.append((len(match[1]), match[2]))
    chains = []
    for package in offenders:
        named = [i for i, (_, name) in enumerate(lines) if name == package]
        first = (named or [i for i, (_, name) in enumerate(lines) if name.startswith(package)])[0]
        depth, chain = lines[first][0], [lines[first][1]]
        for level, name in lines[first + 1 :]:
            if level < depth:
                chain.append(name)
                depth = level
        chains.append(" <- ".join(chain))
    return chains


def _probe(tmp_path: Path, argv: list[str] | None) -> int:
    """Run the probe; fail naming every heavy package it loaded and its importers."""
    report = tmp_path / "probe.json"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE, json.dumps(argv), str(report)],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert report.exists(), result.stderr[-3000:]
    probed = json.loads(report.read_text())
    loaded = {name.split(".")[0] for name in probed["modules"]}
    offenders = [package for package in HEAVY if package in loaded]
    ran = "import eventlake.cli" if argv is None else " ".join(["eventlake", *argv])
    assert not offenders, (
        f"`{ran}` imported {', '.join(offenders)}; import them "
        "inside the command that needs them. Imported by:\n"
        + "\n".join(_import_chains(result.stderr, offenders))
    )
    code = probed["code"]
    return code if isinstance(code, int) else (0 if code is None else 1)


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    assert _probe(tmp_path, None) == 0


@pytest.mark.parametrize(
    ("argv", "exit_code"),
    [
        ([], 2),  # no_args_is_help: the help, as a usage error
        (["--help"], 0),
        (["--version"], 0),
        (["lake", "--help"], 0),
        (["consume", "--help"], 0),
        # Usage errors, found by typer's validation or the command's first checks.
        (["nonsense"], 2),
        (["generate", "--events", "-1"], 2),
        (["serve", "--port", "70000"], 2),
        (["process", "missing.ndjson"], 2),
        (["process", "--dataset", "orders", "missing.ndjson"], 2),
        (["lake", "expire", "events", "--older-than", "soon"], 2),
        (["consume", "--until-caught-up", "--member", "2/2"], 2),
        (["consume", "--until-caught-up", "--dataset", "orders"], 2),
    ],
)
def test_help_version_and_usage_errors_load_no_heavy_library(
    tmp_path: Path, argv: list[str], exit_code: int
) -> None:
    assert _probe(tmp_path, argv) == exit_code


def test_help_lists_every_command(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("eventlake")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "eventlake.cli"]
    result = subprocess.run(
        [*command, "--help"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^│ (\S+)  ", result.stdout.split("Commands")[1], re.MULTILINE)
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    assert listed == list(group.commands)
    assert len(listed) == 10

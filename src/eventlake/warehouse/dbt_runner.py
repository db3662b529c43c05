"""Run the dbt project (`resources/dbt_project/` in the package) and gather what it did:
`eventlake transform`.

dbt runs in a child process, one per transform (its build, then docs generate, one after the
other in it: `dbt_child`), not through `dbtRunner` in this process: the child gets exactly the
settings it should (the API's worker thread must not change this process's environment for
it), a run that hangs can be stopped, dbt's global state does not outlive the run, and the
DuckDB file is released when it ends.
The child's JSON log drives the progress bar; `run_results.json` after each command is the
record of what was built and tested. One transform at a time per warehouse: a file lock under
HOME makes a second one wait (DuckDB would refuse it a write lock mid-build).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventlake.config import RESOURCES, Settings
from eventlake.errors import EventlakeError
from eventlake.warehouse.dbt_child import EXIT_KEY

# Read only: dbt's target/ and logs/ go under HOME (dbt_paths), so the installed package's
# folder is never written.
DBT_PROJECT_DIR = RESOURCES / "dbt_project"
# The settings the dbt-duckdb plugin reads the lake with (see dbt_plugin.py).
SETTINGS_ENV = "EVENTLAKE_SETTINGS_JSON"
# Longer than any build of the sample; a hung warehouse connection must not hang a DAG task.
DEFAULT_TIMEOUT_SECONDS = 3600.0

# `dbt build` is `dbt seed`, `dbt snapshot`, `dbt run` and `dbt test` in one pass, in
# dependency order, so a failed test skips what depends on it. Then the docs site from the
# same manifest, which also records each table's columns. `run_dbt` runs any single command
# (seed, run, test, ...) the same way.
TRANSFORM_STEPS: tuple[tuple[str, ...], ...] = (
    ("build",),
    ("docs", "generate", "--no-compile"),
)
# Commands whose run_results describe work done; `docs generate` lists every node it
# compiled as "success", which is not a model built.
COUNTED_COMMANDS = frozenset({"seed", "snapshot", "run", "test", "build"})

Progress = Callable[[str, int, int], None]
"""Called as nodes finish: (the node's description, nodes finished, nodes in the command)."""


class DbtError(EventlakeError, RuntimeError):
    """dbt could not run at all (bad project, no connection), as opposed to a failing test."""


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    resource_type: str  # model, test, seed, snapshot
    name: str
    status: str  # success, error, skipped, pass, fail, warn
    message: str | None
    seconds: float
    rows_affected: int | None = None
    failures: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.resource_type,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 3),
            "rows_affected": self.rows_affected,
            "failures": self.failures,
        }


@dataclass
class CommandResult:
    args: tuple[str, ...]
    returncode: int
    seconds: float
    nodes: list[NodeResult] = field(default_factory=list)
    error: str | None = None

    @property
    def command(self) -> str:
        return "dbt " + " ".join(self.args)


@dataclass
class TransformReport:
    """What `eventlake transform` did: per command, and per model, snapshot, seed and test."""

    target: str
    commands: list[CommandResult]
    seconds: float
    docs_dir: Path
    log_path: Path

    @property
    def nodes(self) -> list[NodeResult]:
        return [node for command in self.commands for node in command.nodes]

    def counts(self) -> dict[str, dict[str, int]]:
        """{"model": {"success": 8}, "test": {"pass": 50, "fail": 1}, ...}."""
        counts: dict[str, Counter[str]] = {}
        for node in self.nodes:
            counts.setdefault(node.resource_type, Counter())[node.status] += 1
        return {kind: dict(sorted(c.items())) for kind, c in sorted(counts.items())}

    @property
    def problems(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("error", "fail")]

    @property
    def ok(self) -> bool:
        return all(c.returncode == 0 and c.error is None for c in self.commands) and not (
            self.problems
        )

    def summary(self) -> dict[str, Any]:
        counts = self.counts()
        tests = counts.get("test", {})
        return {
            "ok": self.ok,
            "target": self.target,
            "seconds": round(self.seconds, 2),
            "models_built": counts.get("model", {}).get("success", 0),
            "snapshots_built": counts.get("snapshot", {}).get("success", 0),
            "seeds_loaded": counts.get("seed", {}).get("success", 0),
            "tests_passed": tests.get("pass", 0),
            "tests_failed": tests.get("fail", 0) + tests.get("error", 0),
            "tests_warned": tests.get("warn", 0),
            "skipped": sum(c.get("skipped", 0) for c in counts.values()),
            "counts": counts,
            "commands": [
                {
                    "command": c.command,
                    "returncode": c.returncode,
                    "seconds": round(c.seconds, 2),
                    "error": c.error,
                }
                for c in self.commands
            ],
            "problems": [n.to_dict() for n in self.problems],
            "docs": str(self.docs_dir / "index.html"),
            "log": str(self.log_path),
        }


def dbt_paths(settings: Settings) -> tuple[Path, Path]:
    """Where dbt writes its artifacts and docs site, and its log: under HOME, not the repo."""
    home = settings.home.resolve()
    return home / "reports" / "dbt", home / "logs" / "dbt"


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The child's environment: this one, plus everything the project's profiles.yml and the
    lake plugin read, derived from ``settings`` (not from this process's environment)."""
    target_dir, log_dir = dbt_paths(settings)
    env = dict(os.environ)
    env.pop("EVENTLAKE_WAREHOUSE__THREADS", None)
    if settings.warehouse.threads is not None:
        env["EVENTLAKE_WAREHOUSE__THREADS"] = str(settings.warehouse.threads)
    env.update(
        {
            "EVENTLAKE_HOME": str(settings.home.resolve()),
            "EVENTLAKE_WAREHOUSE__TARGET": settings.warehouse.target,
            "EVENTLAKE_WAREHOUSE__DUCKDB_PATH": str(settings.duckdb_path),
            SETTINGS_ENV: settings.model_dump_json(exclude={"api_keys", "quality", "airflow"}),
            "DBT_TARGET_PATH": str(target_dir),
            "DBT_LOG_PATH": str(log_dir),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_VERSION_CHECK": "false",
            "DBT_USE_COLORS": "false",
            "DBT_PARTIAL_PARSE": "true",
        }
    )
    return env


class DbtProcess:
    """A dbt child (`dbt_child`) that runs commands one after another, paying dbt's start-up
    once: `with DbtProcess(settings) as dbt: dbt.run(["build"])`. The child ends with the block,
    so dbt's global state does not outlive it and the DuckDB file is released."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.target_dir, self.log_dir = dbt_paths(settings)
        self._child: subprocess.Popen[str] | None = None

    def __enter__(self) -> DbtProcess:
        self.target_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._child = subprocess.Popen(
            [sys.executable, "-m", "eventlake.warehouse.dbt_child"],
            cwd=DBT_PROJECT_DIR,
            env=dbt_environment(self.settings),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        return self

    def __exit__(self, *exc: object) -> None:
        child = self._child
        if child is None:
            return
        with suppress(OSError):  # it has gone already
            child.stdin.close()  # type: ignore[union-attr]
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()  # type: ignore[union-attr]

    def run(
        self,
        args: Sequence[str],
        *,
        progress: Progress | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> CommandResult:
        """One dbt command against the project; its results from run_results.json."""
        child = self._child
        # Only inside the with block.
        assert child is not None  # noqa: S101
        assert child.stdin is not None  # noqa: S101
        assert child.stdout is not None  # noqa: S101
        # Left in place for dbt's own readers; a command that writes none (docs generate) keeps
        # the build's, so only a file newer than this command's start is this command's.
        results_file = self.target_dir / "run_results.json"
        started_ns = time.time_ns()
        command = [
            "--log-format",
            "json",
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
        ]
        began = time.perf_counter()
        errors: list[str] = []
        # A timer, not a check between log lines: a child that hangs writes no more lines.
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            child.kill()

        watchdog = threading.Timer(timeout, stop)
        watchdog.start()
        returncode: int | None = None
        try:
            try:
                child.stdin.write(json.dumps(command) + "\n")
                child.stdin.flush()
            except OSError:
                pass  # the child has exited: its last lines and exit code say why
            tally = _Tally()
            for line in child.stdout:
                returncode = _exit_code(line)
                if returncode is not None:
                    break
                tally.follow(line, progress, errors)
            if returncode is None:  # the child ended before the command did
                returncode = child.wait()
        finally:
            watchdog.cancel()
        if timed_out.is_set():
            errors.append(f"dbt was stopped after {timeout:g} s (timeout)")
        seconds = time.perf_counter() - began
        result = CommandResult(tuple(args), returncode, seconds)
        if (
            args[0] in COUNTED_COMMANDS
            and results_file.exists()
            and results_file.stat().st_mtime_ns >= started_ns
        ):
            result.nodes = _read_run_results(results_file)
        failed_nodes = any(n.status in ("error", "fail") for n in result.nodes)
        if returncode != 0 and not failed_nodes:
            # dbt failed outside any node (project, profile, connection): nothing it reported
            # explains it, so its error lines do (once each: the child repeats what dbt logged).
            result.error = "; ".join(list(dict.fromkeys(errors))[-5:]) or (
                f"dbt exited with code {returncode}"
            )
        return result


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    progress: Progress | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> CommandResult:
    """One dbt command in a child of its own."""
    with DbtProcess(settings) as dbt:
        return dbt.run(args, progress=progress, timeout=timeout)


def _exit_code(line: str) -> int | None:
    """The child's exit line's code; None for any other line (dbt's log)."""
    if EXIT_KEY not in line:
        return None
    try:
        return int(json.loads(line)[EXIT_KEY])
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class _Tally:
    """Follows dbt's JSON log: nodes finished out of the command's total."""

    finished: int = 0
    total: int = 0

    def follow(self, line: str, progress: Progress | None, errors: list[str]) -> None:
        try:
            event = json.loads(line)
            info, data = event["info"], event.get("data", {})
        except (ValueError, KeyError, TypeError):
            if line.strip():
                errors.append(line.strip()[:500])
            return
        if info.get("level") == "error":
            errors.append(str(info.get("msg", "")).strip()[:500])
        self.total = max(self.total, int(data.get("total") or 0))
        node = data.get("node_info") or {}
        name = str(info.get("name", ""))
        if name.endswith("Result") and node.get("node_status") not in (None, "started"):
            self.finished += 1
            if progress is not None:
                node_name = str(node.get("node_name", ""))
                progress(node_name, self.finished, max(self.total, self.finished))


def _read_run_results(path: Path) -> list[NodeResult]:
    document = json.loads(path.read_text(encoding="utf-8"))
    nodes = []
    for result in document.get("results", []):
        unique_id = str(result["unique_id"])
        resource_type, _, rest = unique_id.partition(".")
        adapter = result.get("adapter_response") or {}
        nodes.append(
            NodeResult(
                unique_id=unique_id,
                resource_type=resource_type,
                name=rest.split(".")[1] if "." in rest else rest,
                status=str(result["status"]),
                message=result.get("message"),
                seconds=float(result.get("execution_time") or 0.0),
                rows_affected=adapter.get("rows_affected"),
                failures=result.get("failures"),
            )
        )
    return nodes


def transform(
    settings: Settings,
    *,
    progress: Callable[[str], Progress] | None = None,
    steps: Sequence[Sequence[str]] = TRANSFORM_STEPS,
) -> TransformReport:
    """build (seeds, snapshots, models, tests), then docs generate. A command that cannot run
    at all stops the sequence; failing tests do not stop the docs (they document the failure).

    ``progress(command)`` returns the callback for that command's nodes."""
    target_dir, log_dir = dbt_paths(settings)
    began = time.perf_counter()
    commands: list[CommandResult] = []
    with warehouse_lock(settings), DbtProcess(settings) as dbt:
        for args in steps:
            command = "dbt " + " ".join(args)
            result = dbt.run(args, progress=progress(command) if progress else None)
            commands.append(result)
            if result.error is not None:
                break
    return TransformReport(
        target=settings.warehouse.target,
        commands=commands,
        seconds=time.perf_counter() - began,
        docs_dir=target_dir,
        log_path=log_dir / "dbt.log",
    )


@contextmanager
def warehouse_lock(settings: Settings) -> Iterator[None]:
    """Held while dbt writes the warehouse: a CLI transform and a triggered one take turns."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.home / "warehouse.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def transform_pipeline(
    settings: Settings, *, progress: Callable[[str], Progress] | None = None
) -> dict[str, Any]:
    """`transform` as a pipeline: its summary, or RunFailedError (carrying the summary) when a
    command failed or a model or test did."""
    from eventlake.errors import RunFailedError

    report = transform(settings, progress=progress)
    summary = report.summary()
    if not report.ok:
        raise RunFailedError(describe_failure(report), summary)
    return summary


def describe_failure(report: TransformReport) -> str:
    broken = [c for c in report.commands if c.error is not None]
    if broken:
        return f"{broken[0].command} failed: {broken[0].error}"
    shown = ", ".join(f"{n.name} ({n.status})" for n in report.problems[:5])
    more = len(report.problems) - 5
    return f"dbt: {len(report.problems)} failed: {shown}" + (
        f" and {more} more" if more > 0 else ""
    )


def settings_for_plugin(environ: Mapping[str, str] = os.environ) -> Settings:
    """The settings `eventlake transform` handed to dbt, or the environment's own when dbt is
    run by hand."""
    serialized = environ.get(SETTINGS_ENV)
    if serialized:
        return Settings.model_validate_json(serialized)
    return Settings()

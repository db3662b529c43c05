"""The wheels, installed outside the checkout: what a user gets from `pip install eventlake`.

Both wheels are built (eventlake with hatchling, data-processor-rs with maturin: the release
build `make setup` left in target/ is reused, so it takes seconds) and installed into fresh
virtual environments in temporary folders, at the versions of uv.lock, from uv's cache:

* with every extra: `eventlake run` (the whole main job, what `make run` runs: API, stream,
  consumer, lake, dbt, quality gates) from another temporary working folder, on embedded
  defaults; it reconciles, records its runs, builds the warehouse from exactly what landed,
  and writes nothing into the installed package (dbt's target/ and logs/ go under HOME);
* the core alone: the API, the consumer and the lake import and run (`eventlake run
  --no-warehouse`); a command that needs an extra says which one, in one line, exit code 1.

The extension's wheel is a manylinux one by auditwheel's own reading: its tag is the one the
libraries it links allow, and it needs no shared library outside the manylinux policy.

The environments are not byte-compiled at install (50 s for every extra); the processes write
the bytecode of what they import, which is far less.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from eventlake.config import PROJECT_ROOT, Settings
from eventlake.lake import Lake
from eventlake.state import StateStore

pytestmark = pytest.mark.slow

UV_TOOL = PROJECT_ROOT / ".tools" / "bin" / "uv"
# The workspace's override (pyproject [tool.uv]): the lock's pathspec, which dbt 1.11 declares
# too old for; a user's plain install resolves an older pathspec instead.
OVERRIDES = "pathspec>=1.0,<1.1\n"
# Libraries of the extras: none is installed by the core, and the API, the CLI and the consumer
# import none of them at start.
EXTRA_DISTRIBUTIONS = (
    "dbt-core",
    "great-expectations",
    "streamlit",
    "plotly",
    "boto3",
    "duckdb",
    "pandas",
    "snowflake-connector-python",
)
# (pandas is left out: pyarrow and pyiceberg load it whenever it is installed.)
HEAVY_MODULES = ("dbt", "great_expectations", "streamlit", "plotly", "boto3", "duckdb")
TIMEOUT_S = 900


def uv() -> str:
    found = str(UV_TOOL) if UV_TOOL.exists() else shutil.which("uv")
    assert found, "uv is not installed: run make setup"
    return found


def run(command: Sequence[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


@dataclass(frozen=True)
class Wheels:
    eventlake: Path
    data_processor_rs: Path


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def package(self) -> Path:
        return self.root / "lib" / "python3.11" / "site-packages" / "eventlake"

    def env(self, home: Path) -> dict[str, str]:
        """Nothing of the checkout or the test's own settings: only this venv, on defaults."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("EVENTLAKE_", "SNOWFLAKE_", "AWS_", "UV_", "DBT_"))
            and key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME")
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{os.defpath}"
        env["EVENTLAKE_HOME"] = str(home)
        env["COLUMNS"] = "200"  # the summary's tables, unwrapped
        return env

    def run(
        self, args: Sequence[str], cwd: Path, home: Path, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if check:
            return run(command, cwd=cwd, env=self.env(home))
        return subprocess.run(
            command,
            cwd=cwd,
            env=self.env(home),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    dist = tmp_path_factory.mktemp("dist")
    run([uv(), "build", "--wheel", "--out-dir", dist, PROJECT_ROOT], cwd=PROJECT_ROOT)
    # The extension with .venv's maturin, as make setup built it: cargo finds target/release
    # fresh and only packages it. (`uv build` would use an isolated maturin, whose cargo
    # invocation differs enough to recompile and re-link the core: minutes.)
    maturin = Path(sys.executable).with_name("maturin")
    manifest = PROJECT_ROOT / "crates" / "data_processor_rs" / "Cargo.toml"
    build = [maturin, "build", "--release", "--locked", "--quiet", "--manifest-path", manifest]
    # Under the lock deploy/docker/build.sh takes: maturin rewrites target/maturin/ outside
    # cargo's lock, and the image's build may be packaging the same library at the same time.
    lock = PROJECT_ROOT / "target" / "maturin.lock"
    run(["flock", lock, *build, "--out", dist], cwd=PROJECT_ROOT)
    (eventlake,) = dist.glob("eventlake-*.whl")
    (core,) = dist.glob("data_processor_rs-*.whl")
    return Wheels(eventlake, core)


def make_venv(where: Path, wheels: Wheels, extras: str | None) -> Venv:
    """A fresh venv with the wheels at uv.lock's versions (constraints exported from it)."""
    pins, overrides = where / "constraints.txt", where / "overrides.txt"
    extra_flags = ["--all-extras"] if extras else []
    export = [uv(), "export", "--frozen", "--no-dev", "--no-emit-workspace", "--no-hashes"]
    run([*export, *extra_flags, "-o", pins, "-q"], cwd=PROJECT_ROOT)
    overrides.write_text(OVERRIDES)
    venv = Venv(where / "venv")
    env = {**os.environ, "UV_COMPILE_BYTECODE": "0"}
    run([uv(), "venv", "-q", "--python", sys.executable, venv.root], env=env)
    eventlake = f"eventlake[{extras}] @ {wheels.eventlake.as_uri()}" if extras else wheels.eventlake
    install = [uv(), "pip", "install", "-q", "--python", venv.bin / "python"]
    requirements = [eventlake, wheels.data_processor_rs]
    run([*install, "-c", pins, "--overrides", overrides, *requirements], env=env)
    return venv


@pytest.fixture(scope="module")
def full_venv(tmp_path_factory: pytest.TempPathFactory, wheels: Wheels) -> Venv:
    return make_venv(tmp_path_factory.mktemp("eventlake-all"), wheels, "all")


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory, wheels: Wheels) -> Venv:
    return make_venv(tmp_path_factory.mktemp("eventlake-core"), wheels, None)


def package_files(package: Path) -> set[str]:
    return {
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if "__pycache__" not in path.parts
    }


def test_the_wheel_ships_the_contracts_and_the_dbt_project(wheels: Wheels) -> None:
    names = set(zipfile.ZipFile(wheels.eventlake).namelist())
    for contract in ("events", "users", "products"):
        assert f"eventlake/resources/contracts/{contract}.yaml" in names
    project = "eventlake/resources/dbt_project"
    for path in ("dbt_project.yml", "profiles.yml", "models/marts/fact_events.sql"):
        assert f"{project}/{path}" in names
    assert not [name for name in names if "/target/" in name or "/logs/" in name]


def test_the_extension_wheel_is_manylinux_by_auditwheel(wheels: Wheels) -> None:
    """auditwheel (what PyPI's manylinux rules are checked with) reads the wheel's ELF: the
    platform tag its symbol versions allow is a manylinux one and the tag the wheel is named
    with, and no library it links is outside the policy's (libc, libm, ...), which would make
    it fail on another distribution."""
    auditwheel = Path(sys.executable).with_name("auditwheel")
    shown = run([auditwheel, "show", "--json", wheels.data_processor_rs])
    report = json.loads(shown.stdout)
    assert report["overall_tag"].startswith("manylinux_"), report
    assert report["overall_tag"] in wheels.data_processor_rs.name
    assert report["external_libs"] == {}, "libraries outside the manylinux policy"
    assert not report["pure"]


def test_the_main_job_runs_installed_far_from_the_checkout(full_venv: Venv, tmp_path: Path) -> None:
    """`eventlake run` (what `make run` runs), installed: the API and the consumer as real
    processes, traffic over HTTP, the data pipeline's tasks after each of two loads, the
    summary; then the lake, the warehouse and the recorded runs, read with the app's code."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    home = workdir / "home"
    before = package_files(full_venv.package)
    show = "import eventlake; print(eventlake.__file__)"
    where = full_venv.run(["python", "-c", show], workdir, home)
    assert Path(where.stdout.strip()).is_relative_to(full_venv.root)

    result = full_venv.run(["eventlake", "run", "--events", "3000", "--seed", "4"], workdir, home)

    out = result.stdout
    assert "Every generated event is accounted for, exactly once" in out
    assert "sent over HTTP" in out
    assert re.search(r"dbt +│ \d+ models, \d+ tests passed, 0 failed", out)  # packaged
    assert "quality gate passed" in out
    assert package_files(full_venv.package) == before, "the installed package was written to"
    assert [p.name for p in workdir.iterdir()] == ["home"]  # nothing left in the working folder

    settings = Settings(home=home)
    # Both loads' dbt builds and gates are recorded runs (what the dashboard shows).
    state = StateStore(settings.state_database_url)
    try:
        transform, quality = state.last_run("transform"), state.last_run("quality")
        runs = state.recent_jobs(kind="run")
    finally:
        state.close()
    assert transform is not None
    assert quality is not None
    assert transform["status"] == quality["status"] == "succeeded"
    assert transform["detail"]["result"]["tests_failed"] == 0
    assert transform["detail"]["result"]["tests_passed"] > 40
    assert quality["detail"]["result"]["success"] is True
    # Each load's data pipeline is a recorded run too, as a triggered one is, with each
    # step's result under its name.
    assert sorted(run["name"] for run in runs) == (
        ["pipeline"] * 2 + ["quality"] * 2 + ["transform"] * 2
    )
    pipelines = [run for run in runs if run["name"] == "pipeline"]
    assert {(run["status"], run["source"]) for run in pipelines} == {("succeeded", "make-run")}
    assert pipelines[0]["detail"]["result"]["run_dbt"] == transform["detail"]["result"]
    landed = Lake(settings).table("events").scan(selected_fields=("event_id",)).to_arrow()
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        facts = warehouse.execute("select count(*) from marts.fact_events").fetchall()[0][0]
        renamed = warehouse.execute(
            "select count(*) from (select user_id from marts.dim_users "
            "group by user_id having count(*) = 2)"
        ).fetchall()[0][0]
    assert facts == landed.num_rows == len(set(landed.column("event_id").to_pylist()))
    assert renamed == 20  # the sample's user renames, sent in the second load
    # The traffic went through the API and the consumer: every job is committed.
    api_log = (home / "logs" / "api.log").read_text()
    assert "POST /api/v1/ingest" in api_log
    assert (home / "reports" / "dashboard" / "refreshed.json").exists()


def test_the_api_and_the_cli_start_without_the_extras_libraries(
    full_venv: Venv, tmp_path: Path
) -> None:
    script = (
        "import sys, eventlake.api.app, eventlake.cli, eventlake.consumer, eventlake.lake; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY_MODULES)!r}))"
    )
    result = full_venv.run(["python", "-c", script], tmp_path, tmp_path / "home")
    assert result.stdout.strip() == "[]"


def test_the_core_install_has_none_of_the_extras(core_venv: Venv, tmp_path: Path) -> None:
    script = (
        "import importlib.metadata as m; "
        "print(sorted(d.metadata['Name'].lower() for d in m.distributions()))"
    )
    installed = core_venv.run(["python", "-c", script], tmp_path, tmp_path / "home").stdout
    assert "'eventlake'" in installed
    assert [name for name in EXTRA_DISTRIBUTIONS if f"'{name}'" in installed] == []


def test_the_core_install_runs_the_api_consumer_and_lake(core_venv: Venv, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert "transform" in core_venv.run(["eventlake", "--help"], tmp_path, home).stdout
    core_venv.run(["python", "-c", "import eventlake.api.app, eventlake.consumer"], tmp_path, home)
    lake_only = ["eventlake", "run", "--no-warehouse", "--events", "2000"]
    result = core_venv.run(lake_only, tmp_path, home)
    assert "Every generated event is accounted for, exactly once" in result.stdout


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        (["transform"], "warehouse"),
        (["quality"], "warehouse"),
        (["dashboard"], "dashboard"),
        (["run", "--events", "2000"], "warehouse"),
        (["transform", "--target", "prod"], "warehouse"),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, list) else value,
)
def test_a_command_without_its_extra_says_which_to_install(
    core_venv: Venv, tmp_path: Path, command: list[str], extra: str
) -> None:
    result = core_venv.run(["eventlake", *command], tmp_path, tmp_path / "home", check=False)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: `eventlake {command[0]}` needs the {extra} extra: "
        f"pip install 'eventlake[{extra}]'\n"
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("command", "settings", "extra"),
    [
        (["consume"], {"EVENTLAKE_STREAM__BACKEND__KIND": "kinesis"}, "aws"),
        (
            ["lake", "inspect"],
            {
                "EVENTLAKE_LAKE__CATALOG__KIND": "glue",
                "EVENTLAKE_LAKE__CATALOG__WAREHOUSE": "s3://b",
            },
            "aws",
        ),
        (
            ["process", "events.ndjson"],
            {"EVENTLAKE_LAKE__CATALOG__WAREHOUSE": "s3://b/lake"},
            "aws",
        ),
        (["serve"], {"EVENTLAKE_STATE_URL": "postgresql+psycopg://db/eventlake"}, "postgres"),
    ],
    ids=["kinesis-consume", "glue-lake", "s3-process", "postgres-serve"],
)
def test_a_backend_without_its_extra_says_which_to_install(
    core_venv: Venv, tmp_path: Path, command: list[str], settings: dict[str, str], extra: str
) -> None:
    (tmp_path / "events.ndjson").write_text('{"event_id": "e1"}\n')
    env = {**core_venv.env(tmp_path / "home"), **settings}
    result = subprocess.run(
        [str(core_venv.bin / "eventlake"), *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    label = " ".join(command[:2] if command[0] == "lake" else command[:1])
    assert result.stderr == (
        f"Error: `eventlake {label}` needs the {extra} extra: pip install 'eventlake[{extra}]'\n"
    )

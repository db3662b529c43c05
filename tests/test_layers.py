"""The layer contract in pyproject.toml (``[tool.importlinter]``) holds, and it has teeth: an
upward import, or a cycle between sibling modules, added to a copy of the package makes
``lint-imports`` fail, naming the import. ``make lint`` runs the same command."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGE = ROOT / "src" / "eventlake"


def _lint_imports(config: Path, package_parent: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with ``config``, reading the ``eventlake`` found in ``package_parent``
    (first on the path, ahead of the installed one)."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache", "--no-logo"],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package's sources and of the project's contract, to break at will."""
    copy = tmp_path_factory.mktemp("layers")
    shutil.copytree(PACKAGE, copy / "eventlake", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _source_of(copy: Path, module: str) -> Path:
    """The file of ``module`` in the copy (tests that edit it restore it: they share the copy)."""
    path = copy / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        path = copy / Path(*module.split(".")) / "__init__.py"
    return path


def test_the_project_keeps_its_layer_contract() -> None:
    result = _lint_imports(ROOT / "pyproject.toml", ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Layers point down KEPT" in result.stdout
    assert "No import cycles between sibling modules KEPT" in result.stdout


def test_every_layer_of_the_issue_is_in_the_contract() -> None:
    """The order of DESIGN.md / issue 13, top to bottom (siblings in any order)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    rows = [{name.strip() for name in row.split("|")} for row in layers["layers"]]

    def row_of(name: str) -> int:
        (index,) = [i for i, row in enumerate(rows) if name in row]
        return index

    expected = [
        ("api", "cli"),
        ("pipeline",),
        ("dashboard", "quality"),
        ("warehouse",),
        ("consumer", "ingest"),
        ("lake",),
        ("stream",),
        ("state",),
        ("contracts",),
        ("config",),
    ]
    positions = [{row_of(name) for name in group} for group in expected]
    assert all(len(p) == 1 for p in positions), positions
    order = [p.pop() for p in positions]
    assert order == sorted(order), order
    assert len(set(order)) == len(order), order


# (module, line appended to it, the import lint-imports must name)
UPWARD_IMPORTS = [
    # The upward imports this contract was written to remove.
    (
        "eventlake.quality.gate",
        "from eventlake.pipeline.runs import PIPELINES",
        "eventlake.quality.gate -> eventlake.pipeline.runs",
    ),
    (
        "eventlake.state.store",
        "from eventlake.stream.base import Stream",
        "eventlake.state.store -> eventlake.stream.base",
    ),
    (
        "eventlake.dashboard.health",
        "from eventlake.api.auth import KeyRing",
        "eventlake.dashboard.health -> eventlake.api.auth",
    ),
    # Independent siblings do not import each other either.
    (
        "eventlake.dashboard.queries",
        "from eventlake.quality import QualityError",
        "eventlake.dashboard.queries -> eventlake.quality",
    ),
    # A function-level import is an import all the same.
    (
        "eventlake.config",
        "def _late() -> None:\n    from eventlake.contracts import DATASETS",
        "eventlake.config -> eventlake.contracts",
    ),
]


def test_an_upward_import_breaks_the_contract(package_copy: Path) -> None:
    """All the upward imports at once (one lint-imports run); each one is named."""
    originals = {}
    for module, line, _ in UPWARD_IMPORTS:
        path = _source_of(package_copy, module)
        originals.setdefault(path, path.read_text())
        path.write_text(f"{path.read_text()}\n{line}\n")
    try:
        result = _lint_imports(package_copy / "pyproject.toml", package_copy)
    finally:
        for path, text in originals.items():
            path.write_text(text)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Layers point down BROKEN" in result.stdout
    for _, _, expected in UPWARD_IMPORTS:
        assert expected in result.stdout, result.stdout


def test_a_cycle_inside_a_layer_breaks_the_contract(package_copy: Path) -> None:
    """pipeline/tasks.py importing pipeline/runs.py (which imports tasks) was such a cycle."""
    path = _source_of(package_copy, "eventlake.pipeline.tasks")
    original = path.read_text()
    path.write_text(f"{original}\nfrom eventlake.pipeline.runs import PIPELINES  # noqa: E402\n")
    try:
        result = _lint_imports(package_copy / "pyproject.toml", package_copy)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No import cycles between sibling modules BROKEN" in result.stdout
    assert "eventlake.pipeline" in result.stdout


def test_a_new_top_level_module_must_be_placed(package_copy: Path) -> None:
    """The contract is exhaustive: a module nobody placed in a layer fails the lint."""
    stray = package_copy / "eventlake" / "stray.py"
    stray.write_text('"""Not in any layer."""\n')
    try:
        result = _lint_imports(package_copy / "pyproject.toml", package_copy)
    finally:
        stray.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "eventlake.stray" in result.stdout


# The DAG files sit with the API and the CLI at the top, but they are not a package, so
# import-linter cannot see them: this check does the same for them. A DAG reaches the app only
# through the pipeline's entry point (their tasks run in the app's interpreter).
DAGS = ROOT / "dags"
DAG_MAY_IMPORT = "eventlake.pipeline"


def eventlake_imports(path: Path) -> set[str]:
    """Every ``eventlake`` module a file imports, at any depth (inside functions too)."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
    return {name for name in imported if name == "eventlake" or name.startswith("eventlake.")}


def _outside_the_pipeline(path: Path) -> set[str]:
    return {
        name
        for name in eventlake_imports(path)
        if name != DAG_MAY_IMPORT and not name.startswith(DAG_MAY_IMPORT + ".")
    }


def test_the_dags_import_only_the_pipeline() -> None:
    files = sorted(DAGS.glob("*.py"))
    assert files, f"no DAG files in {DAGS}"
    assert any(eventlake_imports(path) for path in files), "the DAGs no longer call the pipeline"
    assert {path.name: _outside_the_pipeline(path) for path in files} == {
        path.name: set() for path in files
    }


def test_a_dag_importing_a_lower_layer_is_caught(tmp_path: Path) -> None:
    planted = tmp_path / "dag_planted.py"
    planted.write_text(
        (DAGS / "app_env.py").read_text()
        + "\n\ndef _shortcut():\n    from eventlake.lake import Lake\n    return Lake\n"
    )
    assert _outside_the_pipeline(planted) == {"eventlake.lake"}

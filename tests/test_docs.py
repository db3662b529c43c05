"""The documentation is a checked tree: every setting, every command and every link.

Each check is a small function that returns what is wrong, tested twice: on the real tree
(nothing wrong) and on a bad example (the problem found), so a check that can never fail
would show here.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import typer
from pydantic import BaseModel, Discriminator, Field, Tag

from eventlake import settings_reference
from eventlake.cli import app
from eventlake.config import PROJECT_ROOT, RESOURCES, Settings, SnowflakeSettings

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
CONTRACTS = RESOURCES / "contracts"

# Variables the code reads: eventlake's own and the Snowflake connection's.
VARIABLE = re.compile(r"\b(?:EVENTLAKE|SNOWFLAKE)_[A-Z0-9_]*")
# A Markdown link or image: [text](target) or [text](target "title").
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# A repository path the docs name in code style: `src/eventlake/lake/writer.py`.
NAMED_PATH = re.compile(
    r"`((?:src|tests|dags|crates|benchmarks|loadtest|airflow|docs)"
    r"/[\w./-]*)`"
)
# A repository path written in a YAML comment or description: `docs/contracts.md`.
YAML_PATH = re.compile(r"(?<![\w./-])((?:[\w.-]+/)+[\w.-]+\.(?:md|ya?ml|py|sql))\b")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def documentation_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in markdown_files())


# --- settings ---------------------------------------------------------------------------


def variables_in(texts: Iterable[str]) -> set[str]:
    return {name for text in texts for name in VARIABLE.findall(text)}


def variables_read_by_the_code() -> set[str]:
    """Every EVENTLAKE_*/SNOWFLAKE_* name the package (the dbt project in it too) or the DAGs
    spell out."""
    places = [PROJECT_ROOT / "src", PROJECT_ROOT / "dags"]
    suffixes = {".py", ".yml", ".yaml", ".sql"}
    texts = (
        path.read_text(encoding="utf-8")
        for place in places
        for path in place.rglob("*")
        if path.suffix in suffixes and "target" not in path.parts and path.is_file()
    )
    # A name ending in `_` is a prefix (EVENTLAKE_*), not a variable.
    return {name for name in variables_in(texts) if not name.endswith("_")}


def undocumented_variables(variables: Iterable[str], reference: str) -> list[str]:
    """Variables the reference does not list as a row of its own."""
    return sorted(name for name in set(variables) if f"| `{name}` |" not in reference)


def unknown_variables(text: str, known: set[str]) -> list[str]:
    """Names the docs mention that no setting has (stale ones, like a renamed variable).

    A name ending in `_` is a prefix (`EVENTLAKE_LAKE__CATALOG__*`): it must start a known one.
    """
    unknown = set()
    for name in VARIABLE.findall(text):
        if name.endswith("_"):
            if not any(variable.startswith(name) for variable in known):
                unknown.add(name)
        elif name not in known:
            unknown.add(name)
    return sorted(unknown)


def test_the_configuration_reference_is_generated_from_the_settings() -> None:
    assert CONFIGURATION.read_text(encoding="utf-8") == settings_reference.render(), (
        "docs/configuration.md is stale: run `make docs`"
    )
    assert settings_reference.main(["--check"]) == 0


def test_the_staleness_check_fails_on_an_edited_reference(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(settings_reference.render().replace("2,000,000", "9"), encoding="utf-8")
    assert settings_reference.main(["--check", "--path", str(stale)]) == 1
    assert settings_reference.main(["--path", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == settings_reference.render()


def test_every_setting_has_a_description() -> None:
    assert settings_reference.undescribed(Settings) == []
    assert settings_reference.undescribed(SnowflakeSettings) == []


class _Quiet(BaseModel):
    kind: Literal["quiet"] = "quiet"
    level: int = 3  # no description


class _Loud(BaseModel):
    kind: Literal["loud"] = Field(description="The loud one.")
    volume: int = Field(default=11, description="How loud.")


class _BadSettings(BaseModel):
    described: int = Field(default=1, description="Has one.")
    bare: str = "x"
    backend: Annotated[
        Annotated[_Quiet, Tag("quiet")] | Annotated[_Loud, Tag("loud")],
        Discriminator(lambda value: "quiet"),
    ] = Field(default_factory=_Quiet, description="Chosen by kind.")


def test_the_description_check_finds_bare_fields_in_nested_backends() -> None:
    assert settings_reference.undescribed(_BadSettings) == [
        "bare",
        "backend.kind",
        "backend.level",
    ]


def test_every_setting_is_in_the_reference() -> None:
    reference = CONFIGURATION.read_text(encoding="utf-8")
    assert undocumented_variables(settings_reference.documented_variables(), reference) == []
    read_by_the_code = variables_read_by_the_code()
    assert "EVENTLAKE_WAREHOUSE__TARGET" in read_by_the_code  # dbt_project/profiles.yml
    assert "EVENTLAKE_API_URL" in read_by_the_code  # the dashboard
    assert undocumented_variables(read_by_the_code, reference) == []


def test_the_settings_check_finds_a_missing_variable() -> None:
    reference = "| `EVENTLAKE_HOME` | path |\n"
    assert undocumented_variables(["EVENTLAKE_HOME", "EVENTLAKE_NEW"], reference) == [
        "EVENTLAKE_NEW"
    ]


def test_the_docs_name_only_settings_that_exist() -> None:
    known = settings_reference.documented_variables()
    assert unknown_variables(documentation_text(), known) == []


def test_the_docs_check_finds_a_stale_variable() -> None:
    known = {"EVENTLAKE_WAREHOUSE__TARGET", "EVENTLAKE_HOME"}
    text = (
        "set `EVENTLAKE_DBT_TARGET`, `EVENTLAKE_WAREHOUSE__*`, `EVENTLAKE_NOPE__*`, EVENTLAKE_HOME"
    )
    assert unknown_variables(text, known) == ["EVENTLAKE_DBT_TARGET", "EVENTLAKE_NOPE__"]


# --- the command line ---------------------------------------------------------------------


def command_paths(command: Any, path: tuple[str, ...] = ("eventlake",)) -> Iterator[str]:
    """`eventlake lake inspect`, ...: every command a user can type, sub-apps walked."""
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield " ".join(path)
        return
    for name, subcommand in sorted(subcommands.items()):
        if not getattr(subcommand, "hidden", False):
            yield from command_paths(subcommand, (*path, name))


def undocumented_commands(cli: typer.Typer, text: str) -> list[str]:
    return [path for path in command_paths(typer.main.get_command(cli)) if path not in text]


def test_every_command_is_in_the_readme() -> None:
    paths = list(command_paths(typer.main.get_command(app)))
    assert "eventlake lake inspect" in paths  # sub-apps are walked
    assert "eventlake generate" in paths
    readme = README.read_text(encoding="utf-8")
    assert undocumented_commands(app, readme) == [], "commands missing from the README"


def test_the_command_check_finds_an_undocumented_subcommand() -> None:
    cli = typer.Typer()
    cli.command("serve")(lambda: None)
    tables = typer.Typer()
    tables.command("inspect")(lambda: None)
    tables.command("vacuum")(lambda: None)
    cli.add_typer(tables, name="lake")
    text = "Run `eventlake serve`, then `eventlake lake inspect`."
    assert undocumented_commands(cli, text) == ["eventlake lake vacuum"]


# --- links --------------------------------------------------------------------------------


def link_targets(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        # Code blocks show syntax, not links.
        text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
        return MARKDOWN_LINK.findall(text)
    return YAML_PATH.findall(text)


def heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lowercased, punctuation dropped, spaces to
    hyphens (the heading "`make run`: the main job" is #make-run-the-main-job)."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def broken_links(path: Path, root: Path = PROJECT_ROOT) -> list[str]:
    """Relative links that point at nothing. Markdown links are relative to their file; paths
    in YAML are relative to the repository, as they are written there. An anchor into a
    Markdown page must name one of its headings.
    """
    broken = []
    for target in link_targets(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL: https:, mailto:
        relative, _, anchor = target.partition("#")
        base = path.parent if path.suffix == ".md" else root
        linked = base / relative if relative else path
        if not linked.exists() or (
            anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked)
        ):
            broken.append(f"{path.relative_to(root)}: {target}")
    return broken


def documents_with_links() -> list[Path]:
    return [*markdown_files(), *sorted(CONTRACTS.glob("*.yaml"))]


def test_every_relative_link_resolves() -> None:
    documents = documents_with_links()
    assert CONTRACTS / "events.yaml" in documents
    assert "docs/contracts.md" in link_targets(CONTRACTS / "events.yaml")
    broken = [problem for path in documents for problem in broken_links(path)]
    assert broken == []


def test_the_link_check_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("# Here\n## `make run`: the job\n", "utf-8")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Top\n[ok](here.md#make-run-the-job) [url](https://example.com) [anchor](#top)\n"
        "[up](../docs/here.md) [gone](missing.md) [gone too](../src/nothing.py#L3)\n"
        "![img](img/none.png) [no heading](here.md#there) [none here](#bottom)\n"
        "```\n[in code](not-a-link.md)\n```\n",
        encoding="utf-8",
    )
    contract = tmp_path / "contract.yaml"
    contract.write_text("# See docs/here.md and docs/absent.md for every key.\n")
    assert broken_links(page, tmp_path) == [
        "docs/page.md: missing.md",
        "docs/page.md: ../src/nothing.py#L3",
        "docs/page.md: img/none.png",
        "docs/page.md: here.md#there",
        "docs/page.md: #bottom",
    ]
    assert broken_links(contract, tmp_path) == ["contract.yaml: docs/absent.md"]


@pytest.mark.parametrize("page", ["README.md"])
def test_the_readme_stays_an_overview(page: str) -> None:
    lines = (PROJECT_ROOT / page).read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 180, "the README is an overview: move the details to docs/"


# --- paths the docs name ------------------------------------------------------------------


def git_ignores(path: str) -> bool:
    """Build outputs the docs name on purpose (dbt's `target/`) are ignored by git."""
    result = subprocess.run(["git", "check-ignore", "--quiet", path], cwd=PROJECT_ROOT, check=False)
    return result.returncode == 0


def missing_paths(
    text: str, root: Path = PROJECT_ROOT, generated: Callable[[str], bool] = git_ignores
) -> list[str]:
    """Repository paths named in the docs that do not exist (a module moved, a file renamed)."""
    named = sorted(set(NAMED_PATH.findall(text)))
    return [path for path in named if not (root / path).exists() and not generated(path)]


def test_every_path_the_docs_name_exists() -> None:
    assert missing_paths(documentation_text()) == []


def test_the_path_check_finds_a_moved_module(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "new.py").write_text("")
    text = "`src/pkg/new.py`, `src/pkg/old.py`, `dbt_project/target/`, `README.md`, `docs/`"
    generated = {"dbt_project/target/"}.__contains__
    assert missing_paths(text, tmp_path, generated) == ["docs/", "src/pkg/old.py"]

"""The configuration reference, docs/configuration.md, generated from the settings themselves.

Every variable, its type, default and meaning come from ``eventlake.config``: the field's
``description``, its constraints and its default. So the reference cannot drift from the code:
``make docs`` rewrites the file, and tests/test_docs.py fails when the file differs from what
this module renders, or when a setting has no description.

    python -m eventlake.settings_reference           # rewrite docs/configuration.md
    python -m eventlake.settings_reference --check   # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from eventlake.config import PROJECT_ROOT, RESOURCES, Settings, SnowflakeSettings

REFERENCE_PATH = PROJECT_ROOT / "docs" / "configuration.md"


@dataclass(frozen=True)
class ReadElsewhere:
    """A variable read outside the settings classes (by dbt's profile, the dashboard, Airflow)."""

    name: str
    default: str
    read_by: str
    description: str


# Not fields of a settings class, so they carry their description here. tests/test_docs.py
# fails when a variable named in the code is in neither the classes nor this list.
READ_ELSEWHERE = (
    ReadElsewhere(
        "SNOWFLAKE_SCHEMA",
        "`ANALYTICS`",
        "resources/dbt_project/profiles.yml",
        "The prod target's schema, for what has no layer of its own (the models land in "
        "`STAGING`, `INTERMEDIATE`, `MARTS`, `SNAPSHOTS`, `REFERENCE`).",
    ),
    ReadElsewhere(
        "SNOWFLAKE_LAKE_DATABASE",
        "the target's database",
        "resources/dbt_project/models/staging/_staging__sources.yml",
        "The Snowflake database that holds the lake's Iceberg tables.",
    ),
    ReadElsewhere(
        "SNOWFLAKE_LAKE_SCHEMA",
        "`LAKE`",
        "resources/dbt_project/models/staging/_staging__sources.yml",
        "The Snowflake schema that holds the lake's Iceberg tables.",
    ),
    ReadElsewhere(
        "EVENTLAKE_API_URL",
        "`http://127.0.0.1:8000`",
        "the dashboard",
        "The API whose live metrics the pipeline-health tab shows and whose report sites it links.",
    ),
    ReadElsewhere(
        "EVENTLAKE_API_KEY",
        "the local API's key file, HOME/api_key",
        "the dashboard",
        "The key the dashboard sends that API (`eventlake run --serve` sets it).",
    ),
    ReadElsewhere(
        "EVENTLAKE_APP_PYTHON",
        "`.venv/bin/python`",
        "the Airflow DAGs (dags/app_env.py)",
        "The app's interpreter, which the DAGs' tasks run in (Airflow has its own environment).",
    ),
    ReadElsewhere(
        "EVENTLAKE_AIRFLOW_TASKS",
        "`local`",
        "the Airflow DAGs (dags/app_env.py)",
        "Where each DAG task runs its step: `local` (the app's environment on the Airflow "
        "worker) or `ecs` (an ECS task of the image, `eventlake task <task id>`).",
    ),
    ReadElsewhere(
        "EVENTLAKE_ECS_CLUSTER",
        "none (required with `ecs`)",
        "the Airflow DAGs (dags/app_env.py)",
        "The ECS cluster the DAG tasks run in (name or ARN).",
    ),
    ReadElsewhere(
        "EVENTLAKE_ECS_TASK_DEFINITION",
        "none (required with `ecs`)",
        "the Airflow DAGs (dags/app_env.py)",
        "The batch task definition the DAG tasks run (family, family:revision or ARN).",
    ),
    ReadElsewhere(
        "EVENTLAKE_ECS_CONTAINER",
        "`eventlake`",
        "the Airflow DAGs (dags/app_env.py)",
        "The container of that task definition whose command becomes `task <task id>`.",
    ),
    ReadElsewhere(
        "EVENTLAKE_ECS_SUBNETS",
        "none (required with `ecs`)",
        "the Airflow DAGs (dags/app_env.py)",
        "The DAG tasks' subnets, comma-separated `subnet-...` ids (no public IP).",
    ),
    ReadElsewhere(
        "EVENTLAKE_ECS_SECURITY_GROUPS",
        "none (required with `ecs`)",
        "the Airflow DAGs (dags/app_env.py)",
        "The DAG tasks' security groups, comma-separated `sg-...` ids.",
    ),
    ReadElsewhere(
        "EVENTLAKE_ECS_LOG_GROUP",
        "none (required with `ecs`)",
        "the Airflow DAGs (dags/app_env.py)",
        "The container's CloudWatch log group (its `awslogs-group`): Airflow follows it, and "
        "its last line is the XCom.",
    ),
    ReadElsewhere(
        "EVENTLAKE_ECS_LOG_STREAM_PREFIX",
        "none (required with `ecs`)",
        "the Airflow DAGs (dags/app_env.py)",
        "The container's `awslogs-stream-prefix`.",
    ),
    ReadElsewhere(
        "EVENTLAKE_SETTINGS_JSON",
        "none",
        "the dbt-duckdb plugin",
        "Internal: `eventlake transform` passes its settings to the dbt child process in it. "
        "Not set by hand.",
    ),
)


@dataclass(frozen=True)
class Setting:
    """One environment variable of a settings class."""

    variable: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class Section:
    """A table of settings under a heading: one nested model, or one backend of a union."""

    title: str
    intro: str
    settings: tuple[Setting, ...]


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """The models a field holds: one for a nested model, one per backend for a union."""
    return [
        arg for arg in _flatten(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)
    ]


def _flatten(annotation: Any) -> list[Any]:
    """The members of a union (through ``Annotated``), or the annotation alone."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [member for arg in typing.get_args(annotation) for member in _flatten(arg)]
    return [annotation]


def _type_name(annotation: Any) -> str:
    members = [arg for arg in _flatten(annotation) if arg is not type(None)]
    names: list[str] = []
    for arg in members:
        if typing.get_origin(arg) is Literal:
            names.extend(f"`{value}`" for value in typing.get_args(arg))
        elif arg is SecretStr:
            names.append("secret")
        elif arg is Path:
            names.append("path")
        else:
            names.append(getattr(arg, "__name__", str(arg)))
    return " or ".join(names)


def _constraints(field_name: str, field: FieldInfo) -> str:
    """The limits pydantic enforces, as a reader would write them."""
    parts = []
    for item in field.metadata:
        for kind, attribute, symbol in (
            (annotated_types.Ge, "ge", "≥"),
            (annotated_types.Gt, "gt", ">"),
            (annotated_types.Le, "le", "≤"),
            (annotated_types.Lt, "lt", "<"),
        ):
            if isinstance(item, kind):
                bound = getattr(item, attribute)
                parts.append(f"{symbol} {_number(bound, in_bytes=field_name.endswith('_bytes'))}")
        if isinstance(item, annotated_types.MinLen):
            parts.append("not empty" if item.min_length == 1 else f"≥ {item.min_length} characters")
        if isinstance(item, annotated_types.MaxLen):
            parts.append(f"≤ {item.max_length} characters")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            parts.append(f"matching `{pattern}`")
    return ", ".join(parts)


def _number(value: float, *, in_bytes: bool = False) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = f"{value:,}" if isinstance(value, int) else repr(value)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if in_bytes and isinstance(value, int) and value >= size and value % size == 0:
            return f"{text} ({value // size} {unit})"
    return text


def _default(field_name: str, field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, int | float):
        return _number(value, in_bytes=field_name.endswith("_bytes"))
    if isinstance(value, Path):
        # Package data by its place in the package, other paths relative to the repository,
        # so the file is the same in every clone and install.
        if value.is_absolute() and value.is_relative_to(RESOURCES):
            return f"`{value.relative_to(RESOURCES.parent.parent)}` in the package"
        if value.is_absolute() and value.is_relative_to(PROJECT_ROOT):
            return f"`{value.relative_to(PROJECT_ROOT)}` in the repository"
        return f"`./{value}`"
    if isinstance(value, BaseModel):
        return f"`{getattr(value, 'kind', type(value).__name__)}`"
    if value == "":
        return "empty"
    return f"`{value}`"


def _cell(text: str) -> str:
    """Markdown table cells cannot hold a bare `|` or a line break."""
    return " ".join(text.replace("|", "\\|").split())


def _setting(variable: str, field_name: str, field: FieldInfo) -> Setting:
    type_name = _type_name(field.annotation)
    limits = _constraints(field_name, field)
    return Setting(
        variable=variable,
        type=f"{type_name}, {limits}" if limits else type_name,
        default=_default(field_name, field),
        description=field.description or "",
    )


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def sections(model: type[BaseModel], prefix: str, title: str) -> Iterator[Section]:
    """The model's own settings, then one section per nested model and per backend of a union."""
    own = tuple(
        _setting(prefix + name.upper(), name, field)
        for name, field in model.model_fields.items()
        if not _models_of(field.annotation)
    )
    if own:
        yield Section(title, _doc(model), own)
    for name, field in model.model_fields.items():
        nested = _models_of(field.annotation)
        nested_prefix = f"{prefix}{name.upper()}__"
        if len(nested) == 1:
            yield from sections(nested[0], nested_prefix, f"`{nested_prefix}*`")
            continue
        default_kind = _default(name, field)
        for backend in nested:
            kind = backend.model_fields["kind"].annotation
            (value,) = typing.get_args(kind)
            chosen = " (the default)" if default_kind == f"`{value}`" else ""
            yield from sections(backend, nested_prefix, f"`{nested_prefix}KIND={value}`{chosen}")


def all_sections() -> list[Section]:
    return [
        *sections(Settings, "EVENTLAKE_", "`EVENTLAKE_*`"),
        *sections(SnowflakeSettings, "SNOWFLAKE_", "`SNOWFLAKE_*`: the prod warehouse"),
    ]


def documented_variables() -> set[str]:
    """Every variable the reference lists."""
    names = {setting.variable for section in all_sections() for setting in section.settings}
    return names | {variable.name for variable in READ_ELSEWHERE}


def undescribed(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Fields without a description, nested models and every backend of a union included."""
    missing = []
    for name, field in model.model_fields.items():
        if not (field.description or "").strip():
            missing.append(prefix + name)
        for nested in _models_of(field.annotation):
            missing.extend(undescribed(nested, f"{prefix}{name}."))
    return missing


HEADER = """\
# Configuration

<!-- Generated by `make docs` (python -m eventlake.settings_reference) from the settings'
descriptions in src/eventlake/config.py. Do not edit by hand: tests/test_docs.py fails when
this file differs from what the settings say. -->

Settings come from environment variables: `EVENTLAKE_*` for eventlake
(`eventlake.config.Settings`, built by `get_settings()`), and the `SNOWFLAKE_*` variables
dbt's profile reads for the `prod` warehouse. Nested settings use `__`
(`EVENTLAKE_LAKE__ZSTD_LEVEL=3`). None is needed: on the defaults a fresh clone runs end to
end, with all state under `EVENTLAKE_HOME`, and nothing needs credentials.

A backend is chosen by its `KIND`; its other fields may be set alone, and then apply to the
default backend (`EVENTLAKE_STREAM__BACKEND__SHARDS=8` is the embedded stream with 8 shards).
A field of a backend that is not chosen, a kind that does not exist or a malformed value stops
every command with a message naming the setting. In AWS, credentials come from the usual chain
(environment, profile, instance role); they are never read into these settings or printed.
HOME below is `EVENTLAKE_HOME`.
"""


def render() -> str:
    """The whole of docs/configuration.md."""
    lines = [HEADER]
    for section in all_sections():
        lines += ["", f"## {section.title}", ""]
        if section.intro:
            lines += [section.intro, ""]
        lines += ["| variable | type | default | what it does |", "|---|---|---|---|"]
        lines += [
            f"| `{s.variable}` | {_cell(s.type)} | {_cell(s.default)} | {_cell(s.description)} |"
            for s in section.settings
        ]
    lines += [
        "",
        "## Read elsewhere",
        "",
        "Variables that are not eventlake settings: dbt's profile, the dashboard and the "
        "Airflow DAGs read them directly.",
        "",
        "| variable | default | read by | what it does |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{v.name}` | {_cell(v.default)} | {_cell(v.read_by)} | {_cell(v.description)} |"
        for v in READ_ELSEWHERE
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    parser.add_argument("--path", type=Path, default=REFERENCE_PATH)
    args = parser.parse_args(argv)
    text = render()
    current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
    if args.check:
        if current != text:
            print(f"{args.path} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run suites over pandas frames with Great Expectations 1.x and build the Data Docs.

An ephemeral context (nothing written but the Data Docs), one pandas data source, per suite a
dataframe asset, a whole-dataframe batch definition, the suite, a validation definition and a
checkpoint. One checkpoint per suite: a checkpoint passes the same batch parameters (the
dataframe) to all its validations. The Data Docs site is built once, from every suite's stored
result, after the last one: an UpdateDataDocsAction per checkpoint rebuilt the whole site after
each suite (8 builds, a third of the gate's time).

Great Expectations is imported inside the functions: it takes ~16 s, which no other command
should pay. Its analytics are off (GX_ANALYTICS_ENABLED=False) so nothing calls the network.
The Data Docs HTML loads its CSS and JS from CDNs: offline it shows unstyled, still readable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventlake.quality.report import ExpectationResult, SuiteResult, describe_value
from eventlake.quality.sources import Frame
from eventlake.quality.suites import Suite

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )

SITE_NAME = "eventlake"
# How many unexpected values a result keeps (GX's SUMMARY format), and how many we show.
SHOWN_VALUES = 5


def run_suites(
    suites: Sequence[Suite], frames: Mapping[str, Frame], data_docs_dir: Path
) -> tuple[SuiteResult, ...]:
    """Validate ``frames[suite.name]`` against each suite; Data Docs go to ``data_docs_dir``."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    for site in list(context.variables.data_docs_sites or {}):
        context.delete_data_docs_site(site)  # the default site is a temporary folder
    context.add_data_docs_site(
        SITE_NAME,
        {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas("eventlake_warehouse")
    results = []
    for spec in suites:
        frame = frames[spec.name]
        batch = source.add_dataframe_asset(name=spec.name).add_batch_definition_whole_dataframe(
            "whole table"
        )
        suite = context.suites.add(
            gx.ExpectationSuite(
                name=spec.name,
                expectations=[
                    ExpectationConfiguration(
                        type=e.type, kwargs=dict(e.kwargs), notes=e.notes or None
                    ).to_domain_obj()
                    for e in spec.expectations
                ],
                notes=spec.description,
            )
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=spec.name, data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"quality {spec.name}",
                validation_definitions=[definition],
                result_format={"result_format": "SUMMARY"},
            )
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        expectation_results = [
            _expectation_result(spec.name, result)
            for validation in outcome.run_results.values()
            for result in validation.results
        ]
        results.append(SuiteResult(spec.name, len(frame), tuple(expectation_results)))
    context.build_data_docs(site_names=[SITE_NAME])
    return tuple(results)


def _expectation_result(suite: str, result: ExpectationValidationResult) -> ExpectationResult:
    config = result.expectation_config
    assert config is not None  # noqa: S101 — a checkpoint's results carry their expectation
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    column = kwargs.get("column")
    if column is None and "column_A" in kwargs:
        column = f"{kwargs['column_A']} = {kwargs['column_B']}"
    error = _error(result.exception_info)
    return ExpectationResult(
        suite=suite,
        expectation=config.type,
        column=None if column is None else str(column),
        success=bool(result.success),
        observed=f"not evaluated: {error}" if error else _observed(result.result),
        kwargs=kwargs,
        error=error,
    )


def _error(info: Mapping[str, Any] | None) -> str | None:
    """The exception message, whether GX reports it flat or per metric."""
    if not info:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info["raised_exception"] else None
    for detail in info.values():
        if isinstance(detail, Mapping) and detail.get("raised_exception"):
            return str(detail.get("exception_message"))
    return None


def _observed(result: Mapping[str, Any]) -> str:
    if "unexpected_count" in result:
        count = int(result["unexpected_count"])
        total = int(result.get("element_count") or 0)
        if count == 0:
            return f"0 of {total:,} rows unexpected"
        examples = list(result.get("partial_unexpected_list") or [])[:SHOWN_VALUES]
        shown = ", ".join(describe_value(v) for v in examples)
        percent = float(result.get("unexpected_percent") or 0.0)
        share = f"{percent:.1f}%" if percent >= 0.1 else f"{percent:.2g}%"
        return f"{count:,} of {total:,} rows ({share}), e.g. {shown}"
    if "observed_value" in result:
        observed = f"observed {describe_value(result['observed_value'])}"
        missing = (result.get("details") or {}).get("mismatched", {}).get("missing")
        return f"{observed}; missing {describe_value(missing)}" if missing else observed
    return "no details"

//! The processing steps as functions: `parse_events`, `validate_schema`, `transform_batch`, and
//! `process`, the fused path (parse → validate → transform → deduplicate in one pass). The
//! steps' batches are computed when first asked for: a chain looked at only at its end runs
//! as `process` does (`processor_core::deferred`).

use std::sync::Arc;

use processor_core as core;
use processor_core::deferred::{Parsed, Transformed, Validated};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use crate::batch::{PyParsedBatch, PyTransformedBatch, PyValidatedBatch};
use crate::contract::contract_arg;
use crate::dedup::PyDeduplicator;
use crate::errors::py_err;

// The defaults in the signatures below are literals so that Python sees them (and stubtest
// can check the .pyi); these keep them equal to the core's.
const _: () = assert!(core::parse::DEFAULT_MAX_RECORD_BYTES == 1_048_576);
const _: () = assert!(core::parse::DEFAULT_MAX_DECOMPRESSED_BYTES == 1_073_741_824);
const _: () = assert!(core::iceberg::DEFAULT_ZSTD_LEVEL == 1);

pub(crate) fn parse_options(
    format: &str,
    max_record_bytes: usize,
    max_decompressed_bytes: usize,
) -> core::Result<core::ParseOptions> {
    Ok(core::ParseOptions {
        format: core::Format::parse_name(format)?,
        max_record_bytes,
        max_decompressed_bytes,
        truncated_is_error: false,
    })
}

#[pyfunction]
#[pyo3(signature = (data, format = "auto", *, max_record_bytes = 1_048_576, max_decompressed_bytes = 1_073_741_824))]
pub(crate) fn parse_events(
    py: Python<'_>,
    data: PyBackedBytes,
    format: &str,
    max_record_bytes: usize,
    max_decompressed_bytes: usize,
) -> PyResult<PyParsedBatch> {
    let options = parse_options(format, max_record_bytes, max_decompressed_bytes).map_err(|e| py_err(py, e))?;
    let parsed = py.detach(|| Parsed::new(Arc::new(data), &options)).map_err(|e| py_err(py, e))?;
    Ok(PyParsedBatch { inner: Arc::new(parsed) })
}

#[pyfunction]
#[pyo3(signature = (batch, contract = None))]
pub(crate) fn validate_schema(
    py: Python<'_>,
    batch: &PyParsedBatch,
    contract: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyValidatedBatch> {
    let contract = contract_arg(py, contract)?;
    Ok(PyValidatedBatch { inner: Arc::new(Validated::new(batch.inner.clone(), contract)) })
}

#[pyfunction]
#[pyo3(signature = (batch, *, job_id = "", source = "", ingested_at_us = None))]
pub(crate) fn transform_batch(
    batch: &PyValidatedBatch,
    job_id: &str,
    source: &str,
    ingested_at_us: Option<i64>,
) -> PyTransformedBatch {
    let options = core::TransformOptions { job_id: job_id.to_string(), source: source.to_string(), ingested_at_us };
    PyTransformedBatch { inner: Arc::new(Transformed::new(batch.inner.clone(), &options)) }
}

#[pyfunction]
#[pyo3(signature = (
    data, contract = None, *, format = "auto", job_id = "", source = "",
    ingested_at_us = None, deduplicator = None,
    max_record_bytes = 1_048_576,
    max_decompressed_bytes = 1_073_741_824,
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn process(
    py: Python<'_>,
    data: PyBackedBytes,
    contract: Option<&Bound<'_, PyAny>>,
    format: &str,
    job_id: &str,
    source: &str,
    ingested_at_us: Option<i64>,
    deduplicator: Option<&PyDeduplicator>,
    max_record_bytes: usize,
    max_decompressed_bytes: usize,
) -> PyResult<PyTransformedBatch> {
    let contract = contract_arg(py, contract)?;
    let options = parse_options(format, max_record_bytes, max_decompressed_bytes).map_err(|e| py_err(py, e))?;
    let transform_options =
        core::TransformOptions { job_id: job_id.to_string(), source: source.to_string(), ingested_at_us };
    let result = py.detach(|| match deduplicator {
        Some(d) => core::process(Arc::new(data), contract, &options, &transform_options, Some(&mut d.lock())),
        None => core::process(Arc::new(data), contract, &options, &transform_options, None),
    });
    Ok(PyTransformedBatch { inner: Arc::new(Transformed::ready(result.map_err(|e| py_err(py, e))?)) })
}

//! Routing events, not requests: `validate_events` (validation that also notes where each
//! record lies) and `route` (the body cut into one part per shard owning its events' keys).

use std::sync::Arc;

use processor_core as core;
use processor_core::deferred::Validated;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::batch::PyValidatedBatch;
use crate::contract::contract_arg;
use crate::errors::py_err;
use crate::steps::parse_options;

/// Where each record of a validated body lies (and the format it was read as), kept in Rust
/// for `route`.
#[pyclass(frozen, name = "RecordExtents", module = "data_processor_rs")]
pub(crate) struct PyRecordExtents {
    inner: Arc<core::routing::Extents>,
}

#[pymethods]
impl PyRecordExtents {
    fn __len__(&self) -> usize {
        self.inner.spans.len()
    }
    fn __repr__(&self) -> String {
        format!("RecordExtents(format={:?}, records={})", self.inner.format.as_str(), self.inner.spans.len())
    }
}

/// Parse and validate a body in one pass (as `parse_events` then `validate_schema`), noting
/// where each record lies. `truncated_is_error`: a JSON array body cut off before its `]`
/// raises InputError (`truncated_body`) instead of rejecting its last record.
#[pyfunction]
#[pyo3(signature = (data, contract = None, format = "auto", *, max_record_bytes = 1_048_576, max_decompressed_bytes = 1_073_741_824, truncated_is_error = false))]
pub(crate) fn validate_events(
    py: Python<'_>,
    data: PyBackedBytes,
    contract: Option<&Bound<'_, PyAny>>,
    format: &str,
    max_record_bytes: usize,
    max_decompressed_bytes: usize,
    truncated_is_error: bool,
) -> PyResult<(PyValidatedBatch, PyRecordExtents)> {
    let contract = contract_arg(py, contract)?;
    let options = parse_options(format, max_record_bytes, max_decompressed_bytes).map_err(|e| py_err(py, e))?;
    let options = core::ParseOptions { truncated_is_error, ..options };
    let (batch, extents) =
        py.detach(|| core::validate_with_extents(Arc::new(data), &options, contract)).map_err(|e| py_err(py, e))?;
    let batch = PyValidatedBatch { inner: Arc::new(Validated::ready(batch)) };
    Ok((batch, PyRecordExtents { inner: Arc::new(extents) }))
}

/// One part as Python sees it: (shard index, explicit hash key, bytes or None for the whole
/// body as sent, records).
type PyPart = (usize, u128, Option<Py<PyBytes>>, usize);

/// The parts of a body validated by `validate_events` (`batch`, `extents`), for shards whose
/// hash ranges start at `starts` (sorted, the first at 0), in the order of their first
/// records; None when the body cannot be cut.
#[pyfunction]
pub(crate) fn route(
    py: Python<'_>,
    data: PyBackedBytes,
    batch: &PyValidatedBatch,
    extents: &PyRecordExtents,
    starts: Vec<u128>,
) -> Option<Vec<PyPart>> {
    let (validated, record_extents) = (batch.batch(py), extents.inner.clone());
    let parts = py.detach(|| core::route(&data, &validated, &record_extents, &starts));
    parts.map(|parts| {
        parts
            .into_iter()
            .map(|part| {
                let body = part.body.map(|bytes| PyBytes::new(py, &bytes).unbind());
                (part.shard, part.hash_key, body, part.records)
            })
            .collect()
    })
}

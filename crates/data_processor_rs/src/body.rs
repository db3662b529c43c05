//! The body as a whole, for callers that handle bodies themselves: the bounded `gunzip`, and
//! `record_extents` (where each record lies, as the parser counts them, for rewriting records).

use std::sync::Arc;

use processor_core as core;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::errors::py_err;
use crate::steps::parse_options;

/// Decompress gzip data (every member), refusing to produce more than `limit` bytes:
/// InputError reason `bad_gzip` (corrupt or truncated) or `too_large`.
#[pyfunction]
pub(crate) fn gunzip<'py>(py: Python<'py>, data: PyBackedBytes, limit: usize) -> PyResult<Bound<'py, PyBytes>> {
    let out = py.detach(|| core::gunzip(&data, limit)).map_err(|e| py_err(py, e))?;
    Ok(PyBytes::new(py, &out))
}

/// The byte range (start, end) of every record of a body, by record index, as offsets into the
/// body once decompressed (a byte-order mark counts).
#[pyfunction]
#[pyo3(signature = (data, format = "auto", *, max_record_bytes = 1_048_576, max_decompressed_bytes = 1_073_741_824))]
pub(crate) fn record_extents(
    py: Python<'_>,
    data: PyBackedBytes,
    format: &str,
    max_record_bytes: usize,
    max_decompressed_bytes: usize,
) -> PyResult<Vec<(usize, usize)>> {
    let options = parse_options(format, max_record_bytes, max_decompressed_bytes).map_err(|e| py_err(py, e))?;
    py.detach(|| core::record_extents(Arc::new(data), &options)).map_err(|e| py_err(py, e))
}

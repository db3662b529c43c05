//! The dead-letter table's shape, from the core: the schema of rejected records, the schema of
//! the dead-letter table, and every reason code a dead-letter row can carry.

use processor_core as core;
use pyo3::prelude::*;

use crate::arrow::schema_to_pyarrow;

/// The schema of a batch's `rejected` (record_index, line, field, reason, message, raw).
#[pyfunction]
pub(crate) fn rejected_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    schema_to_pyarrow(py, &core::rejection::rejected_schema())
}

/// The dead-letter table: dataset, job_id, received_at, source, then the rejected schema.
#[pyfunction]
pub(crate) fn dead_letter_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    schema_to_pyarrow(py, &core::dead_letter_schema())
}

/// Every reason a dead-letter row can carry: a record's, a whole body's, the stream's own.
#[pyfunction]
pub(crate) fn dead_letter_reasons() -> Vec<&'static str> {
    core::dead_letter_reasons()
}

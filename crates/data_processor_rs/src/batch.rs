//! The batches that stay in Rust between steps: `ParsedBatch`, `ValidatedBatch`,
//! `TransformedBatch`, each readable as Arrow (`to_arrow`, `__arrow_c_array__`). Each is
//! computed when first asked for (`processor_core::deferred`), without the GIL.

use std::sync::Arc;

use arrow_array::RecordBatch;
use processor_core as core;
use processor_core::deferred::{Parsed, Transformed, Validated};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::arrow::{batch_capsules, to_pyarrow};
use crate::contract::PyContract;

/// Records parsed from one body, kept in Rust; not yet checked against a contract.
#[pyclass(frozen, name = "ParsedBatch", module = "data_processor_rs")]
pub(crate) struct PyParsedBatch {
    pub(crate) inner: Arc<Parsed>,
}

impl PyParsedBatch {
    fn batch(&self, py: Python<'_>) -> Arc<core::ParsedBatch> {
        py.detach(|| self.inner.batch())
    }
}

#[pymethods]
impl PyParsedBatch {
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.format().as_str()
    }
    #[getter]
    fn num_rejected(&self, py: Python<'_>) -> usize {
        self.batch(py).rejected.len()
    }
    #[getter]
    fn num_received(&self, py: Python<'_>) -> u64 {
        self.batch(py).received()
    }
    #[getter]
    fn rejected<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &core::rejection::rejected_to_arrow(&self.batch(py).rejected))
    }
    fn __len__(&self, py: Python<'_>) -> usize {
        self.batch(py).len()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let batch = self.batch(py);
        format!("ParsedBatch(format={:?}, records={}, rejected={})", self.format(), batch.len(), batch.rejected.len())
    }
}

/// Rows that passed the contract, typed, kept in Rust; plus every rejection so far.
#[pyclass(frozen, name = "ValidatedBatch", module = "data_processor_rs")]
pub(crate) struct PyValidatedBatch {
    pub(crate) inner: Arc<Validated>,
}

#[pymethods]
impl PyValidatedBatch {
    #[getter]
    fn contract(&self) -> PyContract {
        PyContract { inner: self.inner.contract().clone() }
    }
    #[getter]
    fn num_rejected(&self, py: Python<'_>) -> usize {
        self.batch(py).rejected.len()
    }
    #[getter]
    fn num_received(&self, py: Python<'_>) -> u64 {
        self.batch(py).received()
    }
    #[getter]
    fn rejected<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &core::rejection::rejected_to_arrow(&self.batch(py).rejected))
    }
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &self.record_batch(py)?)
    }
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema; // the protocol lets a producer keep its own schema
        batch_capsules(py, &self.record_batch(py)?)
    }
    fn __len__(&self, py: Python<'_>) -> usize {
        self.batch(py).num_rows
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let batch = self.batch(py);
        format!(
            "ValidatedBatch(contract={:?}, rows={}, rejected={})",
            batch.contract.name,
            batch.num_rows,
            batch.rejected.len()
        )
    }
}

impl PyValidatedBatch {
    pub(crate) fn batch(&self, py: Python<'_>) -> Arc<core::ValidatedBatch> {
        py.detach(|| self.inner.batch())
    }

    pub(crate) fn record_batch(&self, py: Python<'_>) -> PyResult<RecordBatch> {
        self.batch(py).to_record_batch().map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

/// Rows ready for the lake: normalised, partition column derived, metadata added.
#[pyclass(frozen, name = "TransformedBatch", module = "data_processor_rs")]
pub(crate) struct PyTransformedBatch {
    pub(crate) inner: Arc<Transformed>,
}

impl PyTransformedBatch {
    pub(crate) fn batch(&self, py: Python<'_>) -> Arc<core::TransformedBatch> {
        py.detach(|| self.inner.batch())
    }
}

#[pymethods]
impl PyTransformedBatch {
    #[getter]
    fn contract(&self) -> PyContract {
        PyContract { inner: self.inner.contract().clone() }
    }
    #[getter]
    fn num_rejected(&self, py: Python<'_>) -> usize {
        self.batch(py).rejected.len()
    }
    #[getter]
    fn num_duplicates(&self, py: Python<'_>) -> u64 {
        self.batch(py).duplicates
    }
    #[getter]
    fn num_received(&self, py: Python<'_>) -> u64 {
        self.batch(py).received()
    }
    #[getter]
    fn rejected<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &core::rejection::rejected_to_arrow(&self.batch(py).rejected))
    }
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &self.batch(py).batch)
    }
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema;
        batch_capsules(py, &self.batch(py).batch)
    }
    fn __len__(&self, py: Python<'_>) -> usize {
        self.batch(py).batch.num_rows()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let batch = self.batch(py);
        format!(
            "TransformedBatch(contract={:?}, rows={}, rejected={}, duplicates={})",
            batch.contract.name,
            batch.batch.num_rows(),
            batch.rejected.len(),
            batch.duplicates
        )
    }
}

//! The batches that stay in Rust between steps: `ParsedBatch`, `ValidatedBatch`,
//! `TransformedBatch`, each readable as Arrow (`to_arrow`, `__arrow_c_array__`).

use std::sync::Arc;

use arrow_array::RecordBatch;
use processor_core as core;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::arrow::{batch_capsules, to_pyarrow};
use crate::contract::PyContract;

/// Records parsed from one body, kept in Rust; not yet checked against a contract.
#[pyclass(frozen, name = "ParsedBatch", module = "data_processor_rs")]
pub(crate) struct PyParsedBatch {
    pub(crate) inner: Arc<core::ParsedBatch>,
}

#[pymethods]
impl PyParsedBatch {
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.format.as_str()
    }
    #[getter]
    fn num_rejected(&self) -> usize {
        self.inner.rejected.len()
    }
    #[getter]
    fn num_received(&self) -> u64 {
        self.inner.received()
    }
    #[getter]
    fn rejected<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &core::rejection::rejected_to_arrow(&self.inner.rejected))
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    fn __repr__(&self) -> String {
        format!("ParsedBatch(format={:?}, records={}, rejected={})", self.format(), self.__len__(), self.num_rejected())
    }
}

/// Rows that passed the contract, typed, kept in Rust; plus every rejection so far.
#[pyclass(frozen, name = "ValidatedBatch", module = "data_processor_rs")]
pub(crate) struct PyValidatedBatch {
    pub(crate) inner: Arc<core::ValidatedBatch>,
}

#[pymethods]
impl PyValidatedBatch {
    #[getter]
    fn contract(&self) -> PyContract {
        PyContract { inner: self.inner.contract.clone() }
    }
    #[getter]
    fn num_rejected(&self) -> usize {
        self.inner.rejected.len()
    }
    #[getter]
    fn num_received(&self) -> u64 {
        self.inner.received()
    }
    #[getter]
    fn rejected<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &core::rejection::rejected_to_arrow(&self.inner.rejected))
    }
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &self.record_batch()?)
    }
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema; // the protocol lets a producer keep its own schema
        batch_capsules(py, &self.record_batch()?)
    }
    fn __len__(&self) -> usize {
        self.inner.num_rows
    }
    fn __repr__(&self) -> String {
        format!(
            "ValidatedBatch(contract={:?}, rows={}, rejected={})",
            self.inner.contract.name,
            self.inner.num_rows,
            self.inner.rejected.len()
        )
    }
}

impl PyValidatedBatch {
    pub(crate) fn record_batch(&self) -> PyResult<RecordBatch> {
        self.inner.to_record_batch().map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

/// Rows ready for the lake: normalised, partition column derived, metadata added.
#[pyclass(frozen, name = "TransformedBatch", module = "data_processor_rs")]
pub(crate) struct PyTransformedBatch {
    pub(crate) inner: Arc<core::TransformedBatch>,
}

#[pymethods]
impl PyTransformedBatch {
    #[getter]
    fn contract(&self) -> PyContract {
        PyContract { inner: self.inner.contract.clone() }
    }
    #[getter]
    fn num_rejected(&self) -> usize {
        self.inner.rejected.len()
    }
    #[getter]
    fn num_duplicates(&self) -> u64 {
        self.inner.duplicates
    }
    #[getter]
    fn num_received(&self) -> u64 {
        self.inner.received()
    }
    #[getter]
    fn rejected<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &core::rejection::rejected_to_arrow(&self.inner.rejected))
    }
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &self.inner.batch)
    }
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema;
        batch_capsules(py, &self.inner.batch)
    }
    fn __len__(&self) -> usize {
        self.inner.batch.num_rows()
    }
    fn __repr__(&self) -> String {
        format!(
            "TransformedBatch(contract={:?}, rows={}, rejected={}, duplicates={})",
            self.inner.contract.name,
            self.inner.batch.num_rows(),
            self.inner.rejected.len(),
            self.inner.duplicates
        )
    }
}

//! `Deduplicator` (the window of keys remembered across batches) and `deduplicate` (within one).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use processor_core as core;
use processor_core::deferred::Transformed;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::batch::PyTransformedBatch;
use crate::errors::py_err;

/// Remembers dedup keys across batches, at most `capacity` of them, oldest forgotten first.
#[pyclass(frozen, name = "Deduplicator", module = "data_processor_rs")]
pub(crate) struct PyDeduplicator {
    pub(crate) inner: Mutex<core::Deduplicator>,
}

impl PyDeduplicator {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, core::Deduplicator> {
        // A panic while holding the lock cannot leave the set half-updated in a way that
        // loses events (at worst a key is remembered twice), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[pymethods]
impl PyDeduplicator {
    #[new]
    #[pyo3(signature = (capacity = 10_000_000))]
    fn new(capacity: usize) -> Self {
        PyDeduplicator { inner: Mutex::new(core::Deduplicator::new(capacity)) }
    }
    #[getter]
    fn capacity(&self) -> usize {
        self.lock().capacity()
    }
    fn __len__(&self) -> usize {
        self.lock().len()
    }
    fn deduplicate(&self, py: Python<'_>, batch: &PyTransformedBatch) -> PyTransformedBatch {
        let inner = batch.inner.clone();
        // The window changes now, as it is asked to: the batch is computed first if need be
        // (before the window is locked, so that other batches can use it meanwhile).
        let output = py.detach(|| {
            let input = inner.batch();
            self.lock().deduplicate(&input)
        });
        PyTransformedBatch { inner: Arc::new(Transformed::ready(output)) }
    }
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.lock().to_bytes())
    }
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let inner = core::Deduplicator::from_bytes(data).map_err(|e| py_err(py, e))?;
        Ok(PyDeduplicator { inner: Mutex::new(inner) })
    }
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let bytes = self.lock().to_bytes();
        py.detach(|| core::dedup::save_state(&path, &bytes))
            .map_err(|e| PyOSError::new_err(format!("cannot save deduplicator state to {}: {e}", path.display())))
    }
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let bytes = std::fs::read(&path)
            .map_err(|e| PyOSError::new_err(format!("cannot read deduplicator state {}: {e}", path.display())))?;
        Self::from_bytes(py, &bytes)
    }
    fn __repr__(&self) -> String {
        let inner = self.lock();
        format!("Deduplicator(capacity={}, remembered={})", inner.capacity(), inner.len())
    }
}

#[pyfunction]
pub(crate) fn deduplicate(py: Python<'_>, batch: &PyTransformedBatch) -> PyTransformedBatch {
    let inner = batch.inner.clone();
    PyTransformedBatch { inner: Arc::new(py.detach(|| inner.deduplicated())) }
}

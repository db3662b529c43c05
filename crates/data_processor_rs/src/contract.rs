//! `Contract`, and the `contract=` argument every step takes.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use processor_core as core;
use pyo3::prelude::*;

use crate::arrow::schema_to_pyarrow;
use crate::errors::py_err;

/// A validated data contract (fields, types, constraints, dedup key, partitioning).
#[pyclass(frozen, name = "Contract", module = "data_processor_rs")]
pub(crate) struct PyContract {
    pub(crate) inner: Arc<core::Contract>,
}

pub(crate) fn default_events_contract() -> Arc<core::Contract> {
    static DEFAULT: OnceLock<Arc<core::Contract>> = OnceLock::new();
    DEFAULT.get_or_init(|| Arc::new(core::Contract::default_events())).clone()
}

#[pymethods]
impl PyContract {
    #[staticmethod]
    #[pyo3(signature = (text, source = "<string>"))]
    fn from_yaml(py: Python<'_>, text: &str, source: &str) -> PyResult<Self> {
        let inner = core::Contract::from_yaml(text, source).map_err(|e| py_err(py, e))?;
        Ok(PyContract { inner: Arc::new(inner) })
    }

    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = core::Contract::from_file(&path).map_err(|e| py_err(py, e))?;
        Ok(PyContract { inner: Arc::new(inner) })
    }

    #[staticmethod]
    fn default_events() -> Self {
        PyContract { inner: default_events_contract() }
    }

    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    #[getter]
    fn version(&self) -> u32 {
        self.inner.version
    }

    #[getter]
    fn dedup_key(&self) -> Vec<String> {
        self.inner.dedup_key.clone()
    }

    #[getter]
    fn field_names(&self) -> Vec<String> {
        self.inner.fields.iter().map(|f| f.name.clone()).collect()
    }

    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    fn arrow_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        schema_to_pyarrow(py, &core::transformed_schema(&self.inner))
    }

    fn __repr__(&self) -> String {
        format!(
            "Contract(name={:?}, version={}, fields={})",
            self.inner.name,
            self.inner.version,
            self.inner.fields.len()
        )
    }
}

/// Contract | str | PathLike | None → a contract (None: the shipped events contract).
pub(crate) fn contract_arg(py: Python<'_>, contract: Option<&Bound<'_, PyAny>>) -> PyResult<Arc<core::Contract>> {
    match contract {
        None => Ok(default_events_contract()),
        Some(obj) if obj.is_none() => Ok(default_events_contract()),
        Some(obj) => match obj.cast::<PyContract>() {
            Ok(c) => Ok(c.get().inner.clone()),
            Err(_) => {
                let path: PathBuf = obj.extract().map_err(|_| {
                    pyo3::exceptions::PyTypeError::new_err(
                        "contract must be a Contract, a path to a YAML contract, or None",
                    )
                })?;
                let inner = core::Contract::from_file(&path).map_err(|e| py_err(py, e))?;
                Ok(Arc::new(inner))
            }
        },
    }
}

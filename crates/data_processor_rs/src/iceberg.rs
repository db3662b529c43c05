//! `write_iceberg`: a batch encoded as Iceberg Parquet data files (`DataFile`), in memory, at
//! the paths the core lays out.

use std::collections::HashMap;

use processor_core as core;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMapping};

use crate::arrow::{import_array, import_stream, type_name, BatchInput};
use crate::batch::{PyTransformedBatch, PyValidatedBatch};
use crate::errors::py_err;

/// One Parquet data file of an Iceberg table, encoded in memory and not yet stored.
#[pyclass(frozen, name = "DataFile", module = "data_processor_rs")]
pub(crate) struct PyDataFile {
    #[pyo3(get)]
    path: String,
    #[pyo3(get)]
    partition_day: Option<i32>,
    #[pyo3(get)]
    record_count: u64,
    #[pyo3(get)]
    file_size_in_bytes: usize,
    data: Py<PyBytes>,
}

#[pymethods]
impl PyDataFile {
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }
    fn __repr__(&self) -> String {
        let day = self.partition_day.map_or("None".to_string(), |d| d.to_string());
        format!(
            "DataFile(path={:?}, partition_day={day}, record_count={}, file_size_in_bytes={})",
            self.path, self.record_count, self.file_size_in_bytes
        )
    }
}

/// Our own batches as they are; anything else through the Arrow PyCapsule interface: a record
/// batch or struct array (`__arrow_c_array__`) or a stream of them (`__arrow_c_stream__`, e.g.
/// a pyarrow.Table).
fn batch_arg(obj: &Bound<'_, PyAny>) -> PyResult<BatchInput> {
    if let Ok(batch) = obj.cast::<PyTransformedBatch>() {
        return Ok(BatchInput::one(batch.get().batch(obj.py()).batch.clone()));
    }
    if let Ok(batch) = obj.cast::<PyValidatedBatch>() {
        return Ok(BatchInput::one(batch.get().record_batch(obj.py())?));
    }
    let py = obj.py();
    if obj.hasattr(intern!(py, "__arrow_c_array__"))? {
        return Ok(BatchInput::one(import_array(obj)?));
    }
    if obj.hasattr(intern!(py, "__arrow_c_stream__"))? {
        return import_stream(obj);
    }
    Err(PyTypeError::new_err(format!(
        "batch must be a TransformedBatch, a ValidatedBatch or an Arrow record batch or table (an object with \
         __arrow_c_array__ or __arrow_c_stream__), not {}",
        type_name(obj)
    )))
}

fn field_ids_arg(obj: &Bound<'_, PyAny>) -> PyResult<HashMap<String, i32>> {
    let mapping = obj.cast::<PyMapping>().map_err(|_| {
        PyTypeError::new_err(format!("field_ids must be a mapping of column name to field id, not {}", type_name(obj)))
    })?;
    let mut ids = HashMap::with_capacity(mapping.len()?);
    for item in mapping.items()?.iter() {
        let (key, value) = item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
        let name: String = key.extract().map_err(|_| {
            PyTypeError::new_err(format!("field_ids keys must be column names (str), not {}", type_name(&key)))
        })?;
        let id: i64 = value.extract().map_err(|_| {
            PyTypeError::new_err(format!("field_ids[{name:?}] must be an int, not {}", type_name(&value)))
        })?;
        let id = i32::try_from(id).map_err(|_| {
            PyValueError::new_err(format!("field_ids[{name:?}] = {id} is not a 32-bit Iceberg field id"))
        })?;
        ids.insert(name, id);
    }
    Ok(ids)
}

/// A file or folder name given by the caller: one path segment (the rule is the core's).
fn path_segment(what: &str, value: &str) -> PyResult<()> {
    core::iceberg::check_path_segment(what, value).map_err(PyValueError::new_err)
}

#[pyfunction]
#[pyo3(signature = (
    batch, table_path, field_ids, *, file_prefix,
    partition_source = None, partition_name = None, zstd_level = 1, threads = 1,
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_iceberg(
    py: Python<'_>,
    batch: &Bound<'_, PyAny>,
    table_path: &str,
    field_ids: &Bound<'_, PyAny>,
    file_prefix: &str,
    partition_source: Option<String>,
    partition_name: Option<&str>,
    zstd_level: i32,
    threads: usize,
) -> PyResult<Vec<PyDataFile>> {
    if threads == 0 {
        return Err(PyValueError::new_err("threads must be at least 1"));
    }
    match (&partition_source, partition_name) {
        (Some(source), None) => {
            return Err(PyValueError::new_err(format!(
                "partition_name is required with partition_source={source:?}: it names the partition folders \
                 (partition_name=day)"
            )))
        }
        (None, Some(name)) => {
            return Err(PyValueError::new_err(format!(
                "partition_name={name:?} is given without a partition_source to derive the day from"
            )))
        }
        _ => {}
    }
    path_segment("file_prefix", file_prefix)?;
    if let Some(name) = partition_name {
        path_segment("partition_name", name)?;
    }
    let options = core::DataFileOptions {
        field_ids: field_ids_arg(field_ids)?,
        partition_source,
        zstd_level,
        max_row_group_rows: core::iceberg::DEFAULT_MAX_ROW_GROUP_ROWS,
        threads,
    };
    let input = batch_arg(batch)?;
    let files = py
        .detach(|| input.into_batch().and_then(|batch| core::encode_data_files(&batch, &options)))
        .map_err(|e| py_err(py, e))?;
    Ok(files
        .into_iter()
        .enumerate()
        .map(|(n, file)| PyDataFile {
            path: core::iceberg::data_file_path(table_path, partition_name, file_prefix, n, file.partition_day),
            partition_day: file.partition_day,
            record_count: file.record_count,
            file_size_in_bytes: file.bytes.len(),
            data: PyBytes::new(py, &file.bytes).unbind(),
        })
        .collect())
}

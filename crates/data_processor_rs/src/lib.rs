//! `data_processor_rs`: the Python face of eventlake's Rust core (`processor-core`).
//!
//! Thin on purpose: argument conversion, the GIL released around the work, batches kept in
//! Rust between steps and handed out as Arrow through the C Data Interface (PyCapsules), and
//! the core's errors mapped onto a small exception tree. The whole Python surface is listed
//! in the `#[pymodule]` at the bottom.

use std::collections::HashMap;
use std::ffi::CStr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{Array, RecordBatch, RecordBatchReader, StructArray};
use arrow_data::ffi::FFI_ArrowArray;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{DataType, Schema, SchemaRef};
use processor_core as core;
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyCapsule, PyMapping, PyTuple};

create_exception!(
    data_processor_rs,
    ProcessorError,
    PyValueError,
    "Base class of every error raised by data_processor_rs."
);
create_exception!(data_processor_rs, ContractError, ProcessorError, "A data contract is malformed.");
create_exception!(data_processor_rs, InputError, ProcessorError, "The body as a whole cannot be read.");

/// Map a core error onto the exception tree, with its details as attributes.
fn py_err(py: Python<'_>, err: core::CoreError) -> PyErr {
    let message = err.to_string();
    match err {
        core::CoreError::Contract { path, field, reason } => {
            let exc = ContractError::new_err(message);
            let value = exc.value(py);
            let _ = value.setattr("path", path);
            let _ = value.setattr("field", field);
            let _ = value.setattr("reason", reason);
            exc
        }
        core::CoreError::Input { reason, .. } => {
            let exc = InputError::new_err(message);
            let _ = exc.value(py).setattr("reason", reason.as_str());
            exc
        }
        core::CoreError::Write { .. } => ProcessorError::new_err(message),
    }
}

const ARROW_SCHEMA: &CStr = c"arrow_schema";
const ARROW_ARRAY: &CStr = c"arrow_array";
const ARROW_ARRAY_STREAM: &CStr = c"arrow_array_stream";

/// The Arrow PyCapsule interface pair (schema, array) for a record batch, as a struct array.
fn batch_capsules<'py>(py: Python<'py>, batch: &RecordBatch) -> PyResult<Bound<'py, PyTuple>> {
    let struct_array = StructArray::from(batch.clone());
    let data_type = DataType::Struct(batch.schema().fields().clone());
    let schema = FFI_ArrowSchema::try_from(&data_type).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let array = FFI_ArrowArray::new(&struct_array.to_data());
    // The capsules own the structs; dropping one that pyarrow has not moved out releases it.
    let schema = PyCapsule::new_with_value(py, schema, ARROW_SCHEMA)?;
    let array = PyCapsule::new_with_value(py, array, ARROW_ARRAY)?;
    PyTuple::new(py, [schema.into_any(), array.into_any()])
}

fn to_pyarrow<'py>(py: Python<'py>, batch: &RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let capsules = batch_capsules(py, batch)?;
    py.import("pyarrow")?.getattr("RecordBatch")?.call_method1("_import_from_c_capsule", capsules)
}

fn schema_to_pyarrow<'py>(py: Python<'py>, schema: &Schema) -> PyResult<Bound<'py, PyAny>> {
    let ffi = FFI_ArrowSchema::try_from(schema).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let capsule = PyCapsule::new_with_value(py, ffi, ARROW_SCHEMA)?;
    py.import("pyarrow")?.getattr("Schema")?.call_method1("_import_from_c_capsule", (capsule,))
}

/// A validated data contract (fields, types, constraints, dedup key, partitioning).
#[pyclass(frozen, name = "Contract", module = "data_processor_rs")]
struct PyContract {
    inner: Arc<core::Contract>,
}

fn default_events_contract() -> Arc<core::Contract> {
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
fn contract_arg(py: Python<'_>, contract: Option<&Bound<'_, PyAny>>) -> PyResult<Arc<core::Contract>> {
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

/// Records parsed from one body, kept in Rust; not yet checked against a contract.
#[pyclass(frozen, name = "ParsedBatch", module = "data_processor_rs")]
struct PyParsedBatch {
    inner: Arc<core::ParsedBatch>,
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
struct PyValidatedBatch {
    inner: Arc<core::ValidatedBatch>,
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
    fn record_batch(&self) -> PyResult<RecordBatch> {
        let schema = core::transform::validated_schema(&self.inner.contract);
        RecordBatch::try_new(schema, self.inner.columns.clone()).map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

/// Rows ready for the lake: normalised, partition column derived, metadata added.
#[pyclass(frozen, name = "TransformedBatch", module = "data_processor_rs")]
struct PyTransformedBatch {
    inner: Arc<core::TransformedBatch>,
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

/// Remembers dedup keys across batches, at most `capacity` of them, oldest forgotten first.
#[pyclass(frozen, name = "Deduplicator", module = "data_processor_rs")]
struct PyDeduplicator {
    inner: Mutex<core::Deduplicator>,
}

impl PyDeduplicator {
    fn lock(&self) -> std::sync::MutexGuard<'_, core::Deduplicator> {
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
        let input = batch.inner.clone();
        let output = py.detach(|| self.lock().deduplicate(&input));
        PyTransformedBatch { inner: Arc::new(output) }
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
        py.detach(|| {
            // Write next to the target and rename: a crash never leaves a half-written state.
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, &path)
        })
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

// The defaults in the signatures below are literals so that Python sees them (and stubtest
// can check the .pyi); these keep them equal to the core's.
const _: () = assert!(core::parse::DEFAULT_MAX_RECORD_BYTES == 1_048_576);
const _: () = assert!(core::parse::DEFAULT_MAX_DECOMPRESSED_BYTES == 1_073_741_824);
const _: () = assert!(core::iceberg::DEFAULT_ZSTD_LEVEL == 1);

fn parse_options(
    format: &str,
    max_record_bytes: usize,
    max_decompressed_bytes: usize,
) -> core::Result<core::ParseOptions> {
    Ok(core::ParseOptions { format: core::Format::parse_name(format)?, max_record_bytes, max_decompressed_bytes })
}

#[pyfunction]
#[pyo3(signature = (data, format = "auto", *, max_record_bytes = 1_048_576, max_decompressed_bytes = 1_073_741_824))]
fn parse_events(
    py: Python<'_>,
    data: PyBackedBytes,
    format: &str,
    max_record_bytes: usize,
    max_decompressed_bytes: usize,
) -> PyResult<PyParsedBatch> {
    let options = parse_options(format, max_record_bytes, max_decompressed_bytes).map_err(|e| py_err(py, e))?;
    let parsed = py.detach(|| core::parse(Arc::new(data), &options)).map_err(|e| py_err(py, e))?;
    Ok(PyParsedBatch { inner: Arc::new(parsed) })
}

#[pyfunction]
#[pyo3(signature = (batch, contract = None))]
fn validate_schema(
    py: Python<'_>,
    batch: &PyParsedBatch,
    contract: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyValidatedBatch> {
    let contract = contract_arg(py, contract)?;
    let parsed = batch.inner.clone();
    let validated = py.detach(|| core::validate(&parsed, contract));
    Ok(PyValidatedBatch { inner: Arc::new(validated) })
}

#[pyfunction]
#[pyo3(signature = (batch, *, job_id = "", source = "", ingested_at_us = None))]
fn transform_batch(
    py: Python<'_>,
    batch: &PyValidatedBatch,
    job_id: &str,
    source: &str,
    ingested_at_us: Option<i64>,
) -> PyTransformedBatch {
    let options = core::TransformOptions { job_id: job_id.to_string(), source: source.to_string(), ingested_at_us };
    let validated = batch.inner.clone();
    let transformed = py.detach(|| core::transform(&validated, &options));
    PyTransformedBatch { inner: Arc::new(transformed) }
}

#[pyfunction]
fn deduplicate(py: Python<'_>, batch: &PyTransformedBatch) -> PyTransformedBatch {
    let input = batch.inner.clone();
    PyTransformedBatch { inner: Arc::new(py.detach(|| core::deduplicate(&input))) }
}

#[pyfunction]
#[pyo3(signature = (
    data, contract = None, *, format = "auto", job_id = "", source = "",
    ingested_at_us = None, deduplicator = None,
    max_record_bytes = 1_048_576,
    max_decompressed_bytes = 1_073_741_824,
))]
#[allow(clippy::too_many_arguments)]
fn process(
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
    Ok(PyTransformedBatch { inner: Arc::new(result.map_err(|e| py_err(py, e))?) })
}

/// One Parquet data file of an Iceberg table, encoded in memory and not yet stored.
#[pyclass(frozen, name = "DataFile", module = "data_processor_rs")]
struct PyDataFile {
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

/// Rows handed to `write_iceberg`, still to be joined into one record batch (without the GIL).
struct BatchInput {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl BatchInput {
    fn one(batch: RecordBatch) -> Self {
        BatchInput { schema: batch.schema(), batches: vec![batch] }
    }

    fn into_batch(mut self) -> core::Result<RecordBatch> {
        if self.batches.len() == 1 {
            return Ok(self.batches.pop().expect("one batch"));
        }
        arrow_select::concat::concat_batches(&self.schema, &self.batches)
            .map_err(|e| core::CoreError::Write { message: format!("cannot join the stream's batches: {e}") })
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_string())
}

/// Our own batches as they are; anything else through the Arrow PyCapsule interface: a record
/// batch or struct array (`__arrow_c_array__`) or a stream of them (`__arrow_c_stream__`, e.g.
/// a pyarrow.Table).
fn batch_arg(obj: &Bound<'_, PyAny>) -> PyResult<BatchInput> {
    if let Ok(batch) = obj.cast::<PyTransformedBatch>() {
        return Ok(BatchInput::one(batch.get().inner.batch.clone()));
    }
    if let Ok(batch) = obj.cast::<PyValidatedBatch>() {
        return Ok(BatchInput::one(batch.get().record_batch()?));
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

fn import_array(obj: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
    let name = type_name(obj);
    let pair = obj.call_method0(intern!(obj.py(), "__arrow_c_array__"))?;
    let capsules = pair
        .cast::<PyTuple>()
        .ok()
        .filter(|t| t.len() == 2)
        .and_then(|t| {
            Some((
                t.get_item(0).ok()?.cast_into::<PyCapsule>().ok()?,
                t.get_item(1).ok()?.cast_into::<PyCapsule>().ok()?,
            ))
        })
        .ok_or_else(|| {
            PyTypeError::new_err(format!("{name}.__arrow_c_array__() did not return (schema, array) capsules"))
        })?;
    let schema = capsules.0.pointer_checked(Some(ARROW_SCHEMA))?.cast::<FFI_ArrowSchema>();
    let array = capsules.1.pointer_checked(Some(ARROW_ARRAY))?.cast::<FFI_ArrowArray>();
    // SAFETY: the capsules carry the names the Arrow PyCapsule interface gives to an
    // ArrowSchema and an ArrowArray. The array is moved out of its capsule (which is left
    // holding a released struct, as the interface expects of a consumer); the schema is only
    // borrowed, while its capsule is alive.
    let data = unsafe { arrow_array::ffi::from_ffi(FFI_ArrowArray::from_raw(array.as_ptr()), schema.as_ref()) }
        .map_err(|e| PyValueError::new_err(format!("cannot import the Arrow array of {name}: {e}")))?;
    if !matches!(data.data_type(), DataType::Struct(_)) {
        return Err(PyTypeError::new_err(format!(
            "{name} exports an Arrow array of type {}, not a record batch or struct array",
            data.data_type()
        )));
    }
    let array = StructArray::from(data);
    if array.null_count() > 0 {
        return Err(PyValueError::new_err(format!(
            "{name} exports a struct array with {} null rows; a record batch has none",
            array.null_count()
        )));
    }
    Ok(RecordBatch::from(array))
}

fn import_stream(obj: &Bound<'_, PyAny>) -> PyResult<BatchInput> {
    let name = type_name(obj);
    let capsule = obj.call_method0(intern!(obj.py(), "__arrow_c_stream__"))?;
    let capsule = capsule
        .cast::<PyCapsule>()
        .map_err(|_| PyTypeError::new_err(format!("{name}.__arrow_c_stream__() did not return a capsule")))?;
    let stream = capsule.pointer_checked(Some(ARROW_ARRAY_STREAM))?.cast::<FFI_ArrowArrayStream>();
    // SAFETY: the capsule carries the name the Arrow PyCapsule interface gives to an
    // ArrowArrayStream; the stream is moved out, leaving a released struct in the capsule.
    // The stream is read with the GIL held, in case its producer needs it.
    let reader = unsafe { RecordBatchStreamReader::from_raw(stream.as_ptr()) }
        .map_err(|e| PyTypeError::new_err(format!("{name} does not export a stream of record batches: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(format!("cannot read the Arrow stream of {name}: {e}")))?;
    Ok(BatchInput { schema, batches })
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

/// A file or folder name given by the caller: one path segment.
fn path_segment(what: &str, value: &str) -> PyResult<()> {
    if value.is_empty() || value.contains('/') {
        return Err(PyValueError::new_err(format!("{what} must be a non-empty name without '/', not {value:?}")));
    }
    Ok(())
}

fn data_file_path(
    table_path: &str,
    partition_name: Option<&str>,
    file_prefix: &str,
    n: usize,
    day: Option<i32>,
) -> String {
    let base = table_path.trim_end_matches('/');
    match partition_name {
        Some(name) => {
            let value = day.map_or_else(|| "null".to_string(), core::iceberg::day_to_iso_date);
            format!("{base}/data/{name}={value}/{file_prefix}-{n:05}.parquet")
        }
        None => format!("{base}/data/{file_prefix}-{n:05}.parquet"),
    }
}

#[pyfunction]
#[pyo3(signature = (
    batch, table_path, field_ids, *, file_prefix,
    partition_source = None, partition_name = None, zstd_level = 1, threads = 1,
))]
#[allow(clippy::too_many_arguments)]
fn write_iceberg(
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
            path: data_file_path(table_path, partition_name, file_prefix, n, file.partition_day),
            partition_day: file.partition_day,
            record_count: file.record_count,
            file_size_in_bytes: file.bytes.len(),
            data: PyBytes::new(py, &file.bytes).unbind(),
        })
        .collect())
}

#[pymodule]
fn data_processor_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ProcessorError", py.get_type::<ProcessorError>())?;
    m.add("ContractError", py.get_type::<ContractError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add_class::<PyContract>()?;
    m.add_class::<PyParsedBatch>()?;
    m.add_class::<PyValidatedBatch>()?;
    m.add_class::<PyTransformedBatch>()?;
    m.add_class::<PyDeduplicator>()?;
    m.add_class::<PyDataFile>()?;
    m.add_function(wrap_pyfunction!(parse_events, m)?)?;
    m.add_function(wrap_pyfunction!(validate_schema, m)?)?;
    m.add_function(wrap_pyfunction!(transform_batch, m)?)?;
    m.add_function(wrap_pyfunction!(deduplicate, m)?)?;
    m.add_function(wrap_pyfunction!(process, m)?)?;
    m.add_function(wrap_pyfunction!(write_iceberg, m)?)?;
    Ok(())
}

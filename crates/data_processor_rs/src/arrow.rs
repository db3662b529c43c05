//! Arrow across the boundary, through the C Data Interface (PyCapsules): record batches out to
//! pyarrow, and record batches or streams of them in from any producer.

use std::ffi::CStr;

use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{Array, RecordBatch, RecordBatchReader, StructArray};
use arrow_data::ffi::FFI_ArrowArray;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{DataType, Schema, SchemaRef};
use processor_core as core;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

pub(crate) const ARROW_SCHEMA: &CStr = c"arrow_schema";
pub(crate) const ARROW_ARRAY: &CStr = c"arrow_array";
pub(crate) const ARROW_ARRAY_STREAM: &CStr = c"arrow_array_stream";

/// The Arrow PyCapsule interface pair (schema, array) for a record batch, as a struct array.
pub(crate) fn batch_capsules<'py>(py: Python<'py>, batch: &RecordBatch) -> PyResult<Bound<'py, PyTuple>> {
    let struct_array = StructArray::from(batch.clone());
    let data_type = DataType::Struct(batch.schema().fields().clone());
    let schema = FFI_ArrowSchema::try_from(&data_type).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let array = FFI_ArrowArray::new(&struct_array.to_data());
    // The capsules own the structs; dropping one that pyarrow has not moved out releases it.
    let schema = PyCapsule::new_with_value(py, schema, ARROW_SCHEMA)?;
    let array = PyCapsule::new_with_value(py, array, ARROW_ARRAY)?;
    PyTuple::new(py, [schema.into_any(), array.into_any()])
}

pub(crate) fn to_pyarrow<'py>(py: Python<'py>, batch: &RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let capsules = batch_capsules(py, batch)?;
    py.import("pyarrow")?.getattr("RecordBatch")?.call_method1("_import_from_c_capsule", capsules)
}

pub(crate) fn schema_to_pyarrow<'py>(py: Python<'py>, schema: &Schema) -> PyResult<Bound<'py, PyAny>> {
    let ffi = FFI_ArrowSchema::try_from(schema).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let capsule = PyCapsule::new_with_value(py, ffi, ARROW_SCHEMA)?;
    py.import("pyarrow")?.getattr("Schema")?.call_method1("_import_from_c_capsule", (capsule,))
}

/// Rows handed to `write_iceberg`, still to be joined into one record batch (without the GIL).
pub(crate) struct BatchInput {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl BatchInput {
    pub(crate) fn one(batch: RecordBatch) -> Self {
        BatchInput { schema: batch.schema(), batches: vec![batch] }
    }

    pub(crate) fn into_batch(mut self) -> core::Result<RecordBatch> {
        if self.batches.len() == 1 {
            return Ok(self.batches.pop().expect("one batch"));
        }
        arrow_select::concat::concat_batches(&self.schema, &self.batches)
            .map_err(|e| core::CoreError::Write { message: format!("cannot join the stream's batches: {e}") })
    }
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_string())
}

pub(crate) fn import_array(obj: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
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

pub(crate) fn import_stream(obj: &Bound<'_, PyAny>) -> PyResult<BatchInput> {
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

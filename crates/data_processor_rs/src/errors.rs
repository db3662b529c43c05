//! The exception tree: the core's one error enum mapped onto three named exceptions that
//! subclass ValueError, with the error's details as attributes (never a string to parse).

use processor_core as core;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    data_processor_rs,
    ProcessorError,
    PyValueError,
    "Base class of every error raised by data_processor_rs."
);
create_exception!(data_processor_rs, ContractError, ProcessorError, "A data contract is malformed.");
create_exception!(data_processor_rs, InputError, ProcessorError, "The body as a whole cannot be read.");

/// Map a core error onto the exception tree, with its details as attributes.
pub(crate) fn py_err(py: Python<'_>, err: core::CoreError) -> PyErr {
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

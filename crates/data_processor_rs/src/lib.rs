//! `data_processor_rs`: the Python face of eventlake's Rust core (`processor-core`).
//!
//! Thin on purpose: argument conversion, the GIL released around the work, batches kept in
//! Rust between steps and handed out as Arrow through the C Data Interface (PyCapsules), and
//! the core's errors mapped onto a small exception tree. One module per concept; this file
//! only lists the whole Python surface, in the `#[pymodule]` below.

mod arrow;
mod batch;
mod body;
mod contract;
mod dead_letters;
mod dedup;
mod errors;
mod iceberg;
mod routing;
mod steps;

use pyo3::prelude::*;

#[pymodule]
fn data_processor_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Exceptions
    m.add("ProcessorError", py.get_type::<errors::ProcessorError>())?;
    m.add("ContractError", py.get_type::<errors::ContractError>())?;
    m.add("InputError", py.get_type::<errors::InputError>())?;
    // Classes
    m.add_class::<contract::PyContract>()?;
    m.add_class::<batch::PyParsedBatch>()?;
    m.add_class::<batch::PyValidatedBatch>()?;
    m.add_class::<batch::PyTransformedBatch>()?;
    m.add_class::<dedup::PyDeduplicator>()?;
    m.add_class::<iceberg::PyDataFile>()?;
    m.add_class::<routing::PyRecordExtents>()?;
    // The steps
    m.add_function(wrap_pyfunction!(steps::parse_events, m)?)?;
    m.add_function(wrap_pyfunction!(steps::validate_schema, m)?)?;
    m.add_function(wrap_pyfunction!(steps::transform_batch, m)?)?;
    m.add_function(wrap_pyfunction!(dedup::deduplicate, m)?)?;
    m.add_function(wrap_pyfunction!(steps::process, m)?)?;
    m.add_function(wrap_pyfunction!(iceberg::write_iceberg, m)?)?;
    // What callers outside the steps share with the core
    m.add_function(wrap_pyfunction!(body::gunzip, m)?)?;
    m.add_function(wrap_pyfunction!(body::record_extents, m)?)?;
    // Routing events, not requests
    m.add_function(wrap_pyfunction!(routing::validate_events, m)?)?;
    m.add_function(wrap_pyfunction!(routing::route, m)?)?;
    m.add_function(wrap_pyfunction!(dead_letters::rejected_schema, m)?)?;
    m.add_function(wrap_pyfunction!(dead_letters::dead_letter_schema, m)?)?;
    m.add_function(wrap_pyfunction!(dead_letters::dead_letter_reasons, m)?)?;
    Ok(())
}

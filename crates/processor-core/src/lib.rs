//! eventlake's processing core: parse → validate → transform → deduplicate, into Arrow.
//!
//! Pure Rust, no Python: tested with `cargo test`, benchmarked with criterion. The exact
//! behaviour of each step is specified in `docs/processing.md`; the Python binding crate
//! (`data_processor_rs`) is a thin layer over this one.

pub mod contract;
pub mod error;
pub mod json;

pub use contract::{Contract, Field, FieldType};
pub use error::{CoreError, InputErrorKind, Result};
pub mod input;
pub mod parse;
pub mod rejection;
pub mod timestamp;
pub mod validate;

pub use input::Format;
pub use parse::{parse, Body, ParseOptions, ParsedBatch};
pub use rejection::{Reason, Rejection};
pub use validate::{validate, ValidatedBatch};
pub mod dedup;
pub mod transform;

pub use dedup::{deduplicate, Deduplicator};
pub use transform::{transform, transformed_schema, TransformOptions, TransformedBatch};

use std::sync::Arc;

/// parse → validate → transform → deduplicate (within the batch, and across batches when a
/// deduplicator is given).
pub fn process(
    body: Body,
    contract: Arc<Contract>,
    parse_options: &ParseOptions,
    transform_options: &TransformOptions,
    deduplicator: Option<&mut Deduplicator>,
) -> Result<TransformedBatch> {
    let (_format, validated) = validate::parse_and_validate(body, parse_options, contract)?;
    let transformed = transform(&validated, transform_options);
    drop(validated);
    Ok(match deduplicator {
        Some(dedup) => dedup.deduplicate(&transformed),
        None => deduplicate(&transformed),
    })
}

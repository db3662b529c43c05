//! eventlake's processing core: parse → validate → transform → deduplicate, into Arrow, and
//! Arrow into Iceberg Parquet data files.
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
pub mod iceberg;
pub mod transform;

pub use dedup::{deduplicate, Deduplicator};
pub use iceberg::{encode_data_files, DataFileOptions, EncodedDataFile};
pub use transform::{transform, transformed_schema, TransformOptions, TransformedBatch};

use std::sync::Arc;

/// parse → validate → transform → deduplicate (within the batch, and across batches when a
/// deduplicator is given), in one pass over the body: the same result as the four steps.
pub fn process(
    body: Body,
    contract: Arc<Contract>,
    parse_options: &ParseOptions,
    transform_options: &TransformOptions,
    deduplicator: Option<&mut Deduplicator>,
) -> Result<TransformedBatch> {
    let window = deduplicator.as_deref();
    let (validated, duplicates, new_keys) = validate::parse_validate_dedup(body, parse_options, contract, window)?;
    let mut transformed = transform(&validated, transform_options);
    transformed.duplicates = duplicates;
    if let Some(dedup) = deduplicator {
        dedup.remember_all(&new_keys);
    }
    Ok(transformed)
}

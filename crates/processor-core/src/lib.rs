//! eventlake's processing core: parse → validate → transform → deduplicate, into Arrow, and
//! Arrow into Iceberg Parquet data files.
//!
//! Pure Rust, no Python: tested with `cargo test`, benchmarked with criterion. The exact
//! behaviour of each step is specified in `docs/processing.md`; the Python binding crate
//! (`data_processor_rs`) is a thin layer over this one.
//!
//! Modules only point down (tests/test_rust_modules.py checks it), bottom first:
//! - foundations: `error`, `json`, `timestamp`, `rejection`, `contract`, `input`, `pages`;
//! - `batch`: the batch types the steps pass on;
//! - the steps: `parse`, `dedup`, `validate`, `transform`; `extents` (record byte ranges,
//!   from the parser) and `iceberg` (Parquet files);
//! - `routing`: a body validated and cut into one part per shard (it composes parse and
//!   validate, as `process` does);
//! - `process`: the fused path, composing the steps;
//! - `deferred`: the steps one call at a time, each batch computed when first asked for
//!   (the fused path when nothing looked in between).

pub mod batch;
pub mod contract;
pub mod dedup;
pub mod deferred;
pub mod error;
pub mod extents;
pub mod iceberg;
pub mod input;
pub mod json;
pub mod pages;
pub mod parse;
pub mod process;
pub mod rejection;
pub mod routing;
pub mod timestamp;
pub mod transform;
pub mod validate;

pub use batch::{TransformedBatch, ValidatedBatch};
pub use contract::{Contract, Field, FieldType};
pub use dedup::{deduplicate, Deduplicator};
pub use error::{CoreError, InputErrorKind, Result};
pub use extents::record_extents;
pub use iceberg::{encode_data_files, DataFileOptions, EncodedDataFile};
pub use input::{gunzip, Format};
pub use parse::{parse, read_body, Body, ParseOptions, ParsedBatch, ReadBody};
pub use process::process;
pub use rejection::{dead_letter_reasons, dead_letter_schema, Reason, Rejection};
pub use routing::{route, validate_with_extents};
pub use transform::{transform, transformed_schema, TransformOptions};
pub use validate::validate;

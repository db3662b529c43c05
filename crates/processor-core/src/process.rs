//! The fused path: parse → validate → transform → deduplicate in one pass over the body, with
//! the same result as the four steps run one after the other. It sits above the steps and
//! composes them; no step depends on it.

use std::sync::Arc;

use crate::batch::{TransformedBatch, ValidatedBatch};
use crate::contract::Contract;
use crate::dedup::Deduplicator;
use crate::error::Result;
use crate::parse::{parse_with, Body, ParseOptions};
use crate::transform::{transform, TransformOptions};
use crate::validate::Validator;

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
    let (validated, duplicates, new_keys) = parse_validate_dedup(body, parse_options, contract, window)?;
    let mut transformed = transform(&validated, transform_options);
    transformed.duplicates = duplicates;
    if let Some(dedup) = deduplicator {
        dedup.remember_all(&new_keys);
    }
    Ok(transformed)
}

/// Parse, validate and deduplicate in one pass, without keeping the parsed records: the fast
/// path. Returns the batch, the duplicates dropped and the keys first seen (for the window).
pub fn parse_validate_dedup(
    body: Body,
    options: &ParseOptions,
    contract: Arc<Contract>,
    window: Option<&Deduplicator>,
) -> Result<(ValidatedBatch, u64, Vec<u128>)> {
    // Records average a couple of hundred bytes; the estimate only sizes the first buffers.
    let body_bytes = (*body).as_ref().len();
    let mut validator = Validator::new(contract, body_bytes / 200 + 16, body_bytes).deduplicating(window);
    parse_with(body, options, &mut validator)?;
    Ok(validator.finish_deduplicated())
}

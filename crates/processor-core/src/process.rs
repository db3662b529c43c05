//! The fused path: parse → validate → transform → deduplicate in one pass over the body, with
//! the same result as the four steps run one after the other. It sits above the steps and
//! composes them; no step depends on it.

use std::sync::Arc;

use crate::batch::{TransformedBatch, ValidatedBatch};
use crate::contract::Contract;
use crate::dedup::Deduplicator;
use crate::error::Result;
use crate::parse::{read_body, Body, ParseOptions, ReadBody};
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
    process_read(&read_body(body, parse_options)?, contract, transform_options, deduplicator)
}

/// [`process`] of a body already read.
pub fn process_read(
    body: &ReadBody,
    contract: Arc<Contract>,
    transform_options: &TransformOptions,
    deduplicator: Option<&mut Deduplicator>,
) -> Result<TransformedBatch> {
    let window = deduplicator.as_deref();
    let (validated, duplicates, new_keys) = parse_validate_dedup(body, contract, window)?;
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
    body: &ReadBody,
    contract: Arc<Contract>,
    window: Option<&Deduplicator>,
) -> Result<(ValidatedBatch, u64, Vec<u128>)> {
    let mut validator = validator_for(body, contract).deduplicating(window);
    body.parse_with(&mut validator)?;
    Ok(validator.finish_deduplicated())
}

/// Parse and validate in one pass, without keeping the parsed records: the same batch as
/// [`crate::validate()`] of [`crate::parse()`].
pub fn parse_validate(body: &ReadBody, contract: Arc<Contract>) -> Result<ValidatedBatch> {
    let mut validator = validator_for(body, contract);
    body.parse_with(&mut validator)?;
    Ok(validator.finish(Vec::new()))
}

fn validator_for<'w>(body: &ReadBody, contract: Arc<Contract>) -> Validator<'w> {
    // Records average a couple of hundred bytes; the estimate only sizes the first buffers.
    let body_bytes = body.bytes().len();
    Validator::new(contract, body_bytes / 200 + 16, body_bytes)
}

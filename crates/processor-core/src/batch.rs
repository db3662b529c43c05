//! The batches that pass between the steps: validated rows (typed columns in contract order)
//! and transformed rows (the lake's row shape), each with every rejection so far. Their own
//! module so that the steps depend on them, never on each other.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};

use crate::contract::Contract;
use crate::rejection::Rejection;

/// Rows that passed the contract, as typed columns in contract order.
#[derive(Debug, Clone)]
pub struct ValidatedBatch {
    pub contract: Arc<Contract>,
    pub columns: Vec<ArrayRef>,
    pub num_rows: usize,
    pub rejected: Vec<Rejection>,
}

impl ValidatedBatch {
    pub fn received(&self) -> u64 {
        (self.num_rows + self.rejected.len()) as u64
    }
}

#[derive(Debug, Clone)]
pub struct TransformedBatch {
    pub contract: Arc<Contract>,
    pub batch: RecordBatch,
    pub rejected: Vec<Rejection>,
    /// Rows removed by deduplication so far.
    pub duplicates: u64,
}

impl TransformedBatch {
    pub fn received(&self) -> u64 {
        self.batch.num_rows() as u64 + self.rejected.len() as u64 + self.duplicates
    }
}

//! The batches that pass between the steps: validated rows (typed columns in contract order)
//! and transformed rows (the lake's row shape), each with every rejection so far. Their own
//! module so that the steps depend on them, never on each other.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field as ArrowField, Schema, SchemaRef, TimeUnit};

use crate::contract::{Contract, Field, FieldType};
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

    /// The rows as one Arrow record batch (schema: [`validated_schema`]).
    pub fn to_record_batch(&self) -> std::result::Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(validated_schema(&self.contract), self.columns.clone())
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

pub(crate) fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

pub fn arrow_type(field_type: FieldType) -> DataType {
    match field_type {
        FieldType::String | FieldType::Json => DataType::Utf8,
        FieldType::Int => DataType::Int64,
        FieldType::Float => DataType::Float64,
        FieldType::Bool => DataType::Boolean,
        FieldType::Timestamp => utc_micros(),
        FieldType::Date => DataType::Date32,
    }
}

/// A non-nullable field is never null in a batch: absent or null, the record is rejected.
pub(crate) fn column_nullable(field: &Field) -> bool {
    field.nullable
}

/// The columns a validated batch holds, in contract order.
pub fn validated_schema(contract: &Contract) -> SchemaRef {
    Arc::new(Schema::new(
        contract
            .fields
            .iter()
            .map(|f| ArrowField::new(&f.name, arrow_type(f.field_type), column_nullable(f)))
            .collect::<Vec<_>>(),
    ))
}

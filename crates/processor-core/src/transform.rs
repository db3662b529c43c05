//! Transform: validated columns → the lake's row shape. Nothing here can fail: the partition
//! column is derived and ingest metadata appended (enum values arrive normalised already).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::batch::{column_nullable, utc_micros, validated_schema, TransformedBatch, ValidatedBatch};
use crate::contract::Contract;
use crate::timestamp::day_of;

pub const JOB_ID_COLUMN: &str = "_job_id";
pub const INGESTED_AT_COLUMN: &str = "_ingested_at";
pub const SOURCE_COLUMN: &str = "_source";

#[derive(Debug, Clone, Default)]
pub struct TransformOptions {
    pub job_id: String,
    pub source: String,
    /// One ingest time for the whole batch; now when None.
    pub ingested_at_us: Option<i64>,
}

impl TransformOptions {
    /// The same options with the ingest time fixed: now, when none is given. For a transform
    /// run later than it was asked for, which must stamp the time it was asked.
    pub fn fixed_now(&self) -> TransformOptions {
        TransformOptions { ingested_at_us: Some(self.ingested_at_us.unwrap_or_else(now_micros)), ..self.clone() }
    }
}

/// The columns of a transformed batch: contract fields, partition column, metadata.
pub fn transformed_schema(contract: &Contract) -> SchemaRef {
    let mut fields: Vec<Field> = validated_schema(contract).fields().iter().map(|f| f.as_ref().clone()).collect();
    if let Some(partition) = &contract.partition {
        let source = &contract.fields[contract.field_index(&partition.field).expect("checked when loading")];
        fields.push(Field::new(&partition.column, DataType::Date32, column_nullable(source)));
    }
    fields.push(Field::new(JOB_ID_COLUMN, DataType::Utf8, false));
    fields.push(Field::new(INGESTED_AT_COLUMN, utc_micros(), false));
    fields.push(Field::new(SOURCE_COLUMN, DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

fn now_micros() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    now.as_micros() as i64
}

pub fn transform(validated: &ValidatedBatch, options: &TransformOptions) -> TransformedBatch {
    let contract = &validated.contract;
    let rows = validated.num_rows;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(validated.columns.len() + 4);
    // Enum values were trimmed and lowercased as they were validated; the columns carry over.
    columns.extend(validated.columns.iter().cloned());
    if let Some(partition) = &contract.partition {
        let index = contract.field_index(&partition.field).expect("checked when loading");
        let source = &validated.columns[index];
        let days: ArrayRef = match source.data_type() {
            DataType::Date32 => source.clone(),
            _ => Arc::new(source.as_primitive::<TimestampMicrosecondType>().unary::<_, Date32Type>(day_of)),
        };
        columns.push(days);
    }
    let ingested_at = options.ingested_at_us.unwrap_or_else(now_micros);
    columns.push(Arc::new(StringArray::from_iter_values(std::iter::repeat_n(options.job_id.as_str(), rows))));
    columns.push(Arc::new(TimestampMicrosecondArray::from_value(ingested_at, rows).with_timezone("UTC")));
    columns.push(Arc::new(StringArray::from_iter_values(std::iter::repeat_n(options.source.as_str(), rows))));
    let batch =
        RecordBatch::try_new(transformed_schema(contract), columns).expect("columns follow the contract's schema");
    TransformedBatch { contract: contract.clone(), batch, rejected: validated.rejected.clone(), duplicates: 0 }
}

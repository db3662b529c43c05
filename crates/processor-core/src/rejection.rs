//! Rejected records: a bad record is never dropped, it is kept with where and why.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::InputErrorKind;

/// The raw text kept for a rejected record is cut to this many bytes.
pub const MAX_RAW_BYTES: usize = 65_536;

/// Why a record was rejected. The names (`as_str`) are stable: they are stored in the
/// dead-letter table and compared with the Python reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    InvalidJson,
    InvalidUtf8,
    NotAnObject,
    DuplicateKey,
    TooDeep,
    TooLarge,
    RaggedRow,
    Missing,
    Null,
    WrongType,
    OutOfRange,
    TooShort,
    TooLong,
    NotInEnum,
    BadTimestamp,
    BadDate,
    ExtraField,
}

impl Reason {
    /// Every reason a single record is rejected for.
    pub const ALL: [Reason; 17] = [
        Reason::InvalidJson,
        Reason::InvalidUtf8,
        Reason::NotAnObject,
        Reason::DuplicateKey,
        Reason::TooDeep,
        Reason::TooLarge,
        Reason::RaggedRow,
        Reason::Missing,
        Reason::Null,
        Reason::WrongType,
        Reason::OutOfRange,
        Reason::TooShort,
        Reason::TooLong,
        Reason::NotInEnum,
        Reason::BadTimestamp,
        Reason::BadDate,
        Reason::ExtraField,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidJson => "invalid_json",
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::NotAnObject => "not_an_object",
            Reason::DuplicateKey => "duplicate_key",
            Reason::TooDeep => "too_deep",
            Reason::TooLarge => "too_large",
            Reason::RaggedRow => "ragged_row",
            Reason::Missing => "missing",
            Reason::Null => "null",
            Reason::WrongType => "wrong_type",
            Reason::OutOfRange => "out_of_range",
            Reason::TooShort => "too_short",
            Reason::TooLong => "too_long",
            Reason::NotInEnum => "not_in_enum",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::BadDate => "bad_date",
            Reason::ExtraField => "extra_field",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// 0-based position of the record in the input, counting good and bad records.
    pub record_index: u64,
    /// 1-based line where the record starts.
    pub line: u64,
    pub field: Option<String>,
    pub reason: Reason,
    pub message: String,
    pub raw: String,
}

/// The record's text for the dead-letter table: cut to [`MAX_RAW_BYTES`], invalid UTF-8
/// replaced by U+FFFD, and cut again to [`MAX_RAW_BYTES`] at a character boundary (each
/// replaced byte takes three).
pub fn raw_text(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_RAW_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if text.len() > MAX_RAW_BYTES {
        let mut end = MAX_RAW_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

pub fn rejected_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("record_index", DataType::Int64, false),
        Field::new("line", DataType::Int64, false),
        Field::new("field", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]))
}

/// The rejections as one Arrow record batch (schema: [`rejected_schema`]), ordered by record.
pub fn rejected_to_arrow(rejected: &[Rejection]) -> RecordBatch {
    let mut sorted: Vec<&Rejection> = rejected.iter().collect();
    sorted.sort_by_key(|r| r.record_index);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(sorted.iter().map(|r| r.record_index as i64))),
        Arc::new(Int64Array::from_iter_values(sorted.iter().map(|r| r.line as i64))),
        Arc::new(StringArray::from_iter(sorted.iter().map(|r| r.field.as_deref()))),
        Arc::new(StringArray::from_iter_values(sorted.iter().map(|r| r.reason.as_str()))),
        Arc::new(StringArray::from_iter_values(sorted.iter().map(|r| r.message.as_str()))),
        Arc::new(StringArray::from_iter_values(sorted.iter().map(|r| r.raw.as_str()))),
    ];
    RecordBatch::try_new(rejected_schema(), columns).expect("columns match the rejected schema")
}

/// A stream record whose envelope cannot be read (not JSON, another dataset's).
pub const UNREADABLE_RECORD: &str = "unreadable_record";
/// A body that cannot be read for a reason that has no code of its own.
pub const UNREADABLE_BODY: &str = "unreadable_body";
/// A stream record that expired from the stream before it was processed.
pub const EXPIRED_IN_STREAM: &str = "expired_in_stream";

/// Every `reason` a dead-letter row can carry: a single record's [`Reason`]; a whole body's
/// [`InputErrorKind`] (one row for the body); or one of the stream's own,
/// [`UNREADABLE_RECORD`], [`UNREADABLE_BODY`] and [`EXPIRED_IN_STREAM`]. Distinct, in that order.
pub fn dead_letter_reasons() -> Vec<&'static str> {
    let body = [
        InputErrorKind::BadGzip,
        InputErrorKind::TooLarge,
        InputErrorKind::BadCsvHeader,
        InputErrorKind::UnknownFormat,
    ];
    let mut reasons: Vec<&'static str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    for reason in body.iter().map(|k| k.as_str()).chain([UNREADABLE_RECORD, UNREADABLE_BODY, EXPIRED_IN_STREAM]) {
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    reasons
}

/// The dead-letter table: where and when a rejection came from (dataset, job, arrival time,
/// source), then the rejection itself ([`rejected_schema`]).
pub fn dead_letter_schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("dataset", DataType::Utf8, false),
        Field::new("job_id", DataType::Utf8, false),
        Field::new("received_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("source", DataType::Utf8, false),
    ];
    fields.extend(rejected_schema().fields().iter().map(|f| f.as_ref().clone()));
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_and_complete() {
        let reasons = dead_letter_reasons();
        let mut unique = reasons.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), reasons.len());
        assert_eq!(reasons.len(), 17 + 3 + 3, "too_large is both a record's and a body's reason");
        assert_eq!(&reasons[..2], ["invalid_json", "invalid_utf8"]);
        assert_eq!(&reasons[reasons.len() - 3..], [UNREADABLE_RECORD, UNREADABLE_BODY, EXPIRED_IN_STREAM]);
    }

    #[test]
    fn dead_letters_are_rejections_with_their_origin() {
        let schema = dead_letter_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["dataset", "job_id", "received_at", "source", "record_index", "line", "field", "reason", "message", "raw"]
        );
        let nullable: Vec<&str> =
            schema.fields().iter().filter(|f| f.is_nullable()).map(|f| f.name().as_str()).collect();
        assert_eq!(nullable, ["field"]);
    }
}

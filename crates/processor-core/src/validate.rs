//! Validate: parsed records → typed Arrow columns for the rows that keep the contract, and a
//! rejection (field, reason) for each that does not. Only the contract's fields are decoded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::ArrayRef;

use crate::contract::{Contract, ExtraFields, Field, FieldType};
use crate::json::{compact, scan_value, skip_ws, unescape, JsonKind};
use crate::parse::{ParsedBatch, ParsedRecord, Value, MAX_DEPTH};
use crate::rejection::{Reason, Rejection};
use crate::timestamp::{self, TimestampError};

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

/// Enum values are compared trimmed of ASCII whitespace and ASCII-lowercased.
pub fn normalize_enum(value: &str) -> Cow<'_, str> {
    let trimmed = value.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// One decoded value of a contract field.
enum Decoded<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Micros(i64),
    Days(i32),
    Json(Cow<'a, str>),
}

struct Problem {
    reason: Reason,
    message: String,
}

fn problem(reason: Reason, message: impl Into<String>) -> Problem {
    Problem {
        reason,
        message: message.into(),
    }
}

enum Column {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Micros(TimestampMicrosecondBuilder),
    Days(Date32Builder),
}

impl Column {
    fn new(field_type: FieldType, capacity: usize) -> Column {
        match field_type {
            FieldType::String | FieldType::Json => {
                Column::Str(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            FieldType::Int => Column::Int(Int64Builder::with_capacity(capacity)),
            FieldType::Float => Column::Float(Float64Builder::with_capacity(capacity)),
            FieldType::Bool => Column::Bool(BooleanBuilder::with_capacity(capacity)),
            FieldType::Timestamp => Column::Micros(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            FieldType::Date => Column::Days(Date32Builder::with_capacity(capacity)),
        }
    }

    fn append(&mut self, value: &Decoded<'_>) {
        match (self, value) {
            (Column::Str(b), Decoded::Str(s) | Decoded::Json(s)) => b.append_value(s),
            (Column::Str(b), Decoded::Null) => b.append_null(),
            (Column::Int(b), Decoded::Int(v)) => b.append_value(*v),
            (Column::Int(b), Decoded::Null) => b.append_null(),
            (Column::Float(b), Decoded::Float(v)) => b.append_value(*v),
            (Column::Float(b), Decoded::Null) => b.append_null(),
            (Column::Bool(b), Decoded::Bool(v)) => b.append_value(*v),
            (Column::Bool(b), Decoded::Null) => b.append_null(),
            (Column::Micros(b), Decoded::Micros(v)) => b.append_value(*v),
            (Column::Micros(b), Decoded::Null) => b.append_null(),
            (Column::Days(b), Decoded::Days(v)) => b.append_value(*v),
            (Column::Days(b), Decoded::Null) => b.append_null(),
            _ => unreachable!("a decoded value always matches its column's type"),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Column::Str(mut b) => Arc::new(b.finish()),
            Column::Int(mut b) => Arc::new(b.finish()),
            Column::Float(mut b) => Arc::new(b.finish()),
            Column::Bool(mut b) => Arc::new(b.finish()),
            Column::Micros(mut b) => Arc::new(b.finish()),
            Column::Days(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Finds a contract field by key: a linear scan for the usual handful of fields, a map beyond.
struct FieldLookup<'c> {
    names: Vec<&'c [u8]>,
    map: Option<HashMap<&'c [u8], usize>>,
}

impl<'c> FieldLookup<'c> {
    fn new(contract: &'c Contract) -> Self {
        let names: Vec<&[u8]> = contract.fields.iter().map(|f| f.name.as_bytes()).collect();
        let map =
            (names.len() > 16).then(|| names.iter().enumerate().map(|(i, n)| (*n, i)).collect());
        FieldLookup { names, map }
    }

    #[inline]
    fn find(&self, key: &[u8]) -> Option<usize> {
        match &self.map {
            Some(map) => map.get(key).copied(),
            None => self.names.iter().position(|n| *n == key),
        }
    }
}

pub fn validate(parsed: &ParsedBatch, contract: Arc<Contract>) -> ValidatedBatch {
    let capacity = parsed.records.len();
    let mut columns: Vec<Column> = contract
        .fields
        .iter()
        .map(|f| Column::new(f.field_type, capacity))
        .collect();
    let lookup = FieldLookup::new(&contract);
    let mut rejected = parsed.rejected.clone();
    let mut slots: Vec<Option<Value>> = vec![None; contract.fields.len()];
    let mut decoded: Vec<Decoded<'_>> = Vec::with_capacity(contract.fields.len());
    let mut num_rows = 0;

    for record in &parsed.records {
        slots.iter_mut().for_each(|s| *s = None);
        let mut extra: Option<&[u8]> = None;
        for entry in &parsed.entries[record.entries.clone()] {
            let key = parsed.text(entry.key);
            match lookup.find(key) {
                Some(i) => slots[i] = Some(entry.value),
                None if extra.is_none() && contract.extra_fields == ExtraFields::Reject => {
                    extra = Some(key)
                }
                None => {}
            }
        }
        decoded.clear();
        let mut failure = None;
        for (field, slot) in contract.fields.iter().zip(&slots) {
            match decode_field(parsed, field, *slot) {
                Ok(value) => decoded.push(value),
                Err(p) => {
                    failure = Some((Some(field.name.clone()), p));
                    break;
                }
            }
        }
        if failure.is_none() {
            if let Some(key) = extra {
                let key = String::from_utf8_lossy(key).into_owned();
                let message = format!("{key:?} is not a field of the {} contract", contract.name);
                failure = Some((Some(key), problem(Reason::ExtraField, message)));
            }
        }
        match failure {
            Some((field, p)) => rejected.push(rejection(parsed, record, field, p)),
            None => {
                for (column, value) in columns.iter_mut().zip(&decoded) {
                    column.append(value);
                }
                num_rows += 1;
            }
        }
    }
    rejected.sort_by_key(|r| r.record_index);
    ValidatedBatch {
        contract,
        columns: columns.into_iter().map(Column::finish).collect(),
        num_rows,
        rejected,
    }
}

fn rejection(
    parsed: &ParsedBatch,
    record: &ParsedRecord,
    field: Option<String>,
    p: Problem,
) -> Rejection {
    Rejection {
        record_index: record.index,
        line: record.line,
        field,
        reason: p.reason,
        message: p.message,
        raw: parsed.raw_of(record),
    }
}

fn decode_field<'a>(
    parsed: &'a ParsedBatch,
    field: &Field,
    slot: Option<Value>,
) -> Result<Decoded<'a>, Problem> {
    let name = &field.name;
    let value = match slot {
        None if field.required => {
            return Err(problem(Reason::Missing, format!("{name} is required")))
        }
        None => return Ok(Decoded::Null),
        Some(
            Value::EmptyCell
            | Value::Json {
                kind: JsonKind::Null,
                ..
            },
        ) if field.nullable => return Ok(Decoded::Null),
        Some(
            Value::EmptyCell
            | Value::Json {
                kind: JsonKind::Null,
                ..
            },
        ) => return Err(problem(Reason::Null, format!("{name} may not be null"))),
        Some(value) => value,
    };
    let decoded = match value {
        Value::Json {
            start,
            end,
            kind,
            has_whitespace,
        } => decode_json(&parsed.bytes()[start..end], kind, has_whitespace, field)?,
        Value::Cell(start, end) => decode_cell(&parsed.arena[start..end], field)?,
        Value::EmptyCell => unreachable!("handled above"),
    };
    check_constraints(&decoded, field)?;
    Ok(decoded)
}

fn type_name(kind: JsonKind) -> &'static str {
    match kind {
        JsonKind::Object => "an object",
        JsonKind::Array => "an array",
        JsonKind::String { .. } => "a string",
        JsonKind::Number { integer: true } => "an integer",
        JsonKind::Number { integer: false } => "a decimal number",
        JsonKind::Bool => "a boolean",
        JsonKind::Null => "null",
    }
}

fn wrong_type(field: &Field, got: &str) -> Problem {
    let want = match field.field_type {
        FieldType::String => "a string",
        FieldType::Int => "an integer",
        FieldType::Float => "a number",
        FieldType::Bool => "true or false",
        FieldType::Timestamp => "an ISO-8601 string or epoch number",
        FieldType::Date => "a YYYY-MM-DD string",
        FieldType::Json => "any JSON value",
    };
    problem(
        Reason::WrongType,
        format!("{} must be {want}, got {got}", field.name),
    )
}

fn json_string(raw: &[u8], escaped: bool) -> Cow<'_, str> {
    let body = &raw[1..raw.len() - 1];
    if escaped {
        Cow::Owned(unescape(body).expect("unpaired surrogates were rejected when parsing"))
    } else {
        Cow::Borrowed(
            std::str::from_utf8(body).expect("records were checked to be UTF-8 when parsing"),
        )
    }
}

fn parse_int(text: &str, field: &Field) -> Result<i64, Problem> {
    text.parse::<i64>().map_err(|_| {
        problem(
            Reason::OutOfRange,
            format!("{}: {text} is outside the 64-bit integer range", field.name),
        )
    })
}

fn parse_float(text: &str, field: &Field) -> Result<f64, Problem> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(problem(
            Reason::OutOfRange,
            format!("{}: {text} is not a finite 64-bit float", field.name),
        )),
    }
}

fn timestamp_problem(err: TimestampError, field: &Field, text: &str) -> Problem {
    match err {
        TimestampError::Bad => problem(
            Reason::BadTimestamp,
            format!("{}: {text:?} is not an ISO-8601 timestamp", field.name),
        ),
        TimestampError::OutOfRange => problem(
            Reason::OutOfRange,
            format!("{}: {text} is outside years 1 to 9999", field.name),
        ),
    }
}

fn decode_json<'a>(
    raw: &'a [u8],
    kind: JsonKind,
    has_whitespace: bool,
    field: &Field,
) -> Result<Decoded<'a>, Problem> {
    // Safe: the record was checked to be UTF-8 when parsing.
    let text = || std::str::from_utf8(raw).expect("checked when parsing");
    Ok(match (field.field_type, kind) {
        (FieldType::String, JsonKind::String { escaped }) => {
            Decoded::Str(json_string(raw, escaped))
        }
        (FieldType::Int, JsonKind::Number { integer: true }) => {
            Decoded::Int(parse_int(text(), field)?)
        }
        (FieldType::Float, JsonKind::Number { .. }) => Decoded::Float(parse_float(text(), field)?),
        (FieldType::Bool, JsonKind::Bool) => Decoded::Bool(raw[0] == b't'),
        (FieldType::Timestamp, JsonKind::String { escaped }) => {
            let s = json_string(raw, escaped);
            Decoded::Micros(timestamp::parse_iso(&s).map_err(|e| timestamp_problem(e, field, &s))?)
        }
        (FieldType::Timestamp, JsonKind::Number { integer }) => {
            Decoded::Micros(epoch(text(), integer, field)?)
        }
        (FieldType::Date, JsonKind::String { escaped }) => {
            let s = json_string(raw, escaped);
            let days = timestamp::parse_date(&s).ok_or_else(|| {
                problem(
                    Reason::BadDate,
                    format!("{}: {s:?} is not a YYYY-MM-DD date", field.name),
                )
            })?;
            Decoded::Days(days)
        }
        (FieldType::Json, _) if has_whitespace => Decoded::Json(Cow::Owned(compact(raw))),
        (FieldType::Json, _) => Decoded::Json(Cow::Borrowed(text())),
        (_, kind) => return Err(wrong_type(field, type_name(kind))),
    })
}

fn epoch(text: &str, integer: bool, field: &Field) -> Result<i64, Problem> {
    let result = if integer {
        match text.parse::<i64>() {
            Ok(n) => timestamp::from_epoch_int(n),
            Err(_) => Err(TimestampError::OutOfRange),
        }
    } else {
        match text.parse::<f64>() {
            Ok(x) => timestamp::from_epoch_float(x),
            Err(_) => Err(TimestampError::OutOfRange),
        }
    };
    result.map_err(|e| timestamp_problem(e, field, text))
}

fn is_int_text(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_decimal_text(s: &str) -> bool {
    match s.strip_prefix('-').unwrap_or(s).split_once('.') {
        Some((int, frac)) => {
            is_int_text(int) && !int.starts_with('-') && is_int_text(frac) && !frac.starts_with('-')
        }
        None => false,
    }
}

/// `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`
fn is_float_text(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - frac_start;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

fn decode_cell<'a>(cell: &'a str, field: &Field) -> Result<Decoded<'a>, Problem> {
    let quoted = || format!("{cell:?}");
    Ok(match field.field_type {
        FieldType::String => Decoded::Str(Cow::Borrowed(cell)),
        FieldType::Int if is_int_text(cell) => Decoded::Int(parse_int(cell, field)?),
        FieldType::Float if is_float_text(cell) => Decoded::Float(parse_float(cell, field)?),
        FieldType::Bool if cell.eq_ignore_ascii_case("true") => Decoded::Bool(true),
        FieldType::Bool if cell.eq_ignore_ascii_case("false") => Decoded::Bool(false),
        FieldType::Timestamp if is_int_text(cell) => Decoded::Micros(epoch(cell, true, field)?),
        FieldType::Timestamp if is_decimal_text(cell) => {
            Decoded::Micros(epoch(cell, false, field)?)
        }
        FieldType::Timestamp => Decoded::Micros(
            timestamp::parse_iso(cell).map_err(|e| timestamp_problem(e, field, cell))?,
        ),
        FieldType::Date => Decoded::Days(timestamp::parse_date(cell).ok_or_else(|| {
            problem(
                Reason::BadDate,
                format!("{}: {cell:?} is not a YYYY-MM-DD date", field.name),
            )
        })?),
        FieldType::Json => {
            let bytes = cell.as_bytes();
            let start = skip_ws(bytes, 0);
            let bad =
                |message: &str| problem(Reason::InvalidJson, format!("{}: {message}", field.name));
            let info = scan_value(bytes, start).map_err(|e| bad(e.message))?;
            if skip_ws(bytes, info.end) != bytes.len() {
                return Err(bad("trailing characters after the JSON value"));
            }
            if info.lone_surrogate {
                return Err(bad("a \\u escape is an unpaired surrogate"));
            }
            if info.depth + 1 > MAX_DEPTH {
                return Err(problem(
                    Reason::TooDeep,
                    format!("{}: nesting deeper than {MAX_DEPTH}", field.name),
                ));
            }
            Decoded::Json(Cow::Owned(compact(&bytes[start..info.end])))
        }
        _ => return Err(wrong_type(field, &quoted())),
    })
}

/// `v < min` for an integer, exactly (no rounding through f64).
fn int_below(v: i64, min: f64) -> bool {
    let m = min.ceil();
    if m > i64::MAX as f64 {
        true
    } else if m < i64::MIN as f64 {
        false
    } else {
        v < m as i64
    }
}

fn int_above(v: i64, max: f64) -> bool {
    let m = max.floor();
    if m >= i64::MAX as f64 {
        false
    } else if m < i64::MIN as f64 {
        true
    } else {
        v > m as i64
    }
}

fn check_constraints(value: &Decoded<'_>, field: &Field) -> Result<(), Problem> {
    let name = &field.name;
    match value {
        Decoded::Str(s) => {
            if field.min_length.is_some() || field.max_length.is_some() {
                let len = if s.is_ascii() {
                    s.len()
                } else {
                    s.chars().count()
                };
                if let Some(min) = field.min_length {
                    if len < min as usize {
                        return Err(problem(
                            Reason::TooShort,
                            format!("{name} has {len} characters, fewer than {min}"),
                        ));
                    }
                }
                if let Some(max) = field.max_length {
                    if len > max as usize {
                        return Err(problem(
                            Reason::TooLong,
                            format!("{name} has {len} characters, more than {max}"),
                        ));
                    }
                }
            }
            if let Some(values) = &field.enum_values {
                let normalized = normalize_enum(s);
                if !values.iter().any(|v| v.as_str() == normalized) {
                    return Err(problem(
                        Reason::NotInEnum,
                        format!("{name}: {s:?} is not one of {}", values.join(", ")),
                    ));
                }
            }
        }
        Decoded::Int(v) => {
            if field.min.is_some_and(|min| int_below(*v, min)) {
                return Err(problem(
                    Reason::OutOfRange,
                    format!(
                        "{name}: {v} is below the minimum {}",
                        field.min.unwrap_or_default()
                    ),
                ));
            }
            if field.max.is_some_and(|max| int_above(*v, max)) {
                return Err(problem(
                    Reason::OutOfRange,
                    format!(
                        "{name}: {v} is above the maximum {}",
                        field.max.unwrap_or_default()
                    ),
                ));
            }
        }
        Decoded::Float(v) => {
            if field.min.is_some_and(|min| *v < min) {
                return Err(problem(
                    Reason::OutOfRange,
                    format!(
                        "{name}: {v} is below the minimum {}",
                        field.min.unwrap_or_default()
                    ),
                ));
            }
            if field.max.is_some_and(|max| *v > max) {
                return Err(problem(
                    Reason::OutOfRange,
                    format!(
                        "{name}: {v} is above the maximum {}",
                        field.max.unwrap_or_default()
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_text_grammar() {
        for ok in ["1", "-1", "+1.5", "1.", ".5", "1e5", "1.E-5", "007"] {
            assert!(is_float_text(ok), "{ok}");
            assert!(
                ok.parse::<f64>().is_ok(),
                "Rust must parse what the grammar admits: {ok}"
            );
        }
        for bad in [
            "", ".", "e5", "1e", "inf", "nan", "1_000", " 1", "1 ", "--1", "0x10",
        ] {
            assert!(!is_float_text(bad), "{bad}");
        }
    }

    #[test]
    fn exact_integer_bounds() {
        assert!(int_below(-1, 0.0));
        assert!(!int_below(0, 0.0));
        assert!(int_below(0, 0.5));
        assert!(int_above(1_000_000_000_000_000_001, 1e18));
        assert!(!int_above(i64::MAX, 9.3e18));
    }

    #[test]
    fn enum_normalisation_is_ascii_only() {
        assert_eq!(normalize_enum("  Page_View\t"), "page_view");
        assert_eq!(normalize_enum("\u{a0}x"), "\u{a0}x");
    }
}

//! Decoding one field's value (a JSON value or a CSV cell) as its contract type, and the
//! contract's constraints on it: the value, or the problem that rejects the row.

use std::borrow::Cow;

use crate::contract::{normalize_enum, Field, FieldType};
use crate::json::{compact, scan_value, skip_ws, unescape, JsonKind};
use crate::parse::{FieldValue, MAX_DEPTH};
use crate::rejection::Reason;
use crate::timestamp::{self, TimestampError};

/// One decoded value of a contract field.
pub(super) enum Decoded<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Micros(i64),
    Days(i32),
}

pub(super) struct Problem {
    pub(super) reason: Reason,
    pub(super) message: String,
}

pub(super) fn problem(reason: Reason, message: impl Into<String>) -> Problem {
    Problem { reason, message: message.into() }
}

pub(super) fn decode_field<'a>(
    field: &Field,
    value: Option<FieldValue<'a>>,
) -> std::result::Result<Decoded<'a>, Problem> {
    let name = &field.name;
    let value = match value {
        None if field.required => return Err(problem(Reason::Missing, format!("{name} is required"))),
        None if field.nullable => return Ok(Decoded::Null),
        None => return Err(problem(Reason::Null, format!("{name} is absent and may not be null"))),
        Some(FieldValue::EmptyCell | FieldValue::Json { kind: JsonKind::Null, .. }) if field.nullable => {
            return Ok(Decoded::Null)
        }
        Some(FieldValue::EmptyCell | FieldValue::Json { kind: JsonKind::Null, .. }) => {
            return Err(problem(Reason::Null, format!("{name} may not be null")))
        }
        Some(value) => value,
    };
    let decoded = match value {
        FieldValue::Json { raw, kind, has_whitespace } => decode_json(raw, kind, has_whitespace, field)?,
        FieldValue::Cell(text) => decode_cell(text, field)?,
        FieldValue::EmptyCell => unreachable!("handled above"),
    };
    check_constraints(&decoded, field)?;
    match (decoded, &field.enum_values) {
        (Decoded::Str(sent), Some(values)) => {
            // Kept as compared: trimmed and lowercased (docs/processing.md, "Transform").
            let normalized = match sent {
                Cow::Borrowed(text) => normalize_enum(text),
                Cow::Owned(text) => Cow::Owned(normalize_enum(&text).into_owned()),
            };
            if !values.iter().any(|v| v.as_str() == normalized) {
                let message = if values.len() <= 12 {
                    format!("{name}: {normalized:?} is not one of {}", values.join(", "))
                } else {
                    format!("{name}: {normalized:?} is not one of the {} allowed values", values.len())
                };
                return Err(problem(Reason::NotInEnum, message));
            }
            Ok(Decoded::Str(normalized))
        }
        (decoded, _) => Ok(decoded),
    }
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
    problem(Reason::WrongType, format!("{} must be {want}, got {got}", field.name))
}

/// Text from a record that parsing already checked to be UTF-8, cut at ASCII delimiters
/// (quotes, commas, brackets), so it is UTF-8 too; checking again would cost a pass per field.
#[inline]
pub(super) fn checked_utf8(bytes: &[u8]) -> &str {
    debug_assert!(std::str::from_utf8(bytes).is_ok());
    // SAFETY: see above; the parser rejects a record whose bytes are not UTF-8 before any of
    // its fields reach validation, and every field boundary is an ASCII byte.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

fn json_string(raw: &[u8], escaped: bool) -> Cow<'_, str> {
    let body = &raw[1..raw.len() - 1];
    if escaped {
        Cow::Owned(unescape(body).expect("unpaired surrogates were rejected when parsing"))
    } else {
        Cow::Borrowed(checked_utf8(body))
    }
}

fn parse_int(text: &str, field: &Field) -> std::result::Result<i64, Problem> {
    text.parse::<i64>()
        .map_err(|_| problem(Reason::OutOfRange, format!("{}: {text} is outside the 64-bit integer range", field.name)))
}

fn parse_float(text: &str, field: &Field) -> std::result::Result<f64, Problem> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(problem(Reason::OutOfRange, format!("{}: {text} is not a finite 64-bit float", field.name))),
    }
}

fn timestamp_problem(err: TimestampError, field: &Field, text: &str) -> Problem {
    match err {
        TimestampError::Bad => {
            problem(Reason::BadTimestamp, format!("{}: {text:?} is not an ISO-8601 timestamp", field.name))
        }
        TimestampError::OutOfRange => {
            problem(Reason::OutOfRange, format!("{}: {text} is outside years 1 to 9999", field.name))
        }
    }
}

fn decode_json<'a>(
    raw: &'a [u8],
    kind: JsonKind,
    has_whitespace: bool,
    field: &Field,
) -> std::result::Result<Decoded<'a>, Problem> {
    // Safe: the record was checked to be UTF-8 when parsing.
    let text = || checked_utf8(raw);
    Ok(match (field.field_type, kind) {
        (FieldType::String, JsonKind::String { escaped }) => Decoded::Str(json_string(raw, escaped)),
        (FieldType::Int, JsonKind::Number { integer: true }) => Decoded::Int(parse_int(text(), field)?),
        (FieldType::Float, JsonKind::Number { .. }) => Decoded::Float(parse_float(text(), field)?),
        (FieldType::Bool, JsonKind::Bool) => Decoded::Bool(raw[0] == b't'),
        (FieldType::Timestamp, JsonKind::String { escaped }) => {
            let s = json_string(raw, escaped);
            Decoded::Micros(timestamp::parse_iso(&s).map_err(|e| timestamp_problem(e, field, &s))?)
        }
        (FieldType::Timestamp, JsonKind::Number { integer }) => Decoded::Micros(epoch(text(), integer, field)?),
        (FieldType::Date, JsonKind::String { escaped }) => Decoded::Days(date(&json_string(raw, escaped), field)?),
        (FieldType::Json, _) if has_whitespace => Decoded::Str(Cow::Owned(compact(raw))),
        (FieldType::Json, _) => Decoded::Str(Cow::Borrowed(text())),
        (_, kind) => return Err(wrong_type(field, type_name(kind))),
    })
}

fn date(text: &str, field: &Field) -> std::result::Result<i32, Problem> {
    timestamp::parse_date(text).map_err(|err| match err {
        TimestampError::Bad => problem(Reason::BadDate, format!("{}: {text:?} is not a YYYY-MM-DD date", field.name)),
        TimestampError::OutOfRange => {
            problem(Reason::OutOfRange, format!("{}: {text} is outside years 1 to 9999", field.name))
        }
    })
}

fn epoch(text: &str, integer: bool, field: &Field) -> std::result::Result<i64, Problem> {
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
        Some((int, frac)) => is_int_text(int) && !int.starts_with('-') && is_int_text(frac) && !frac.starts_with('-'),
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

fn decode_cell<'a>(cell: &'a str, field: &Field) -> std::result::Result<Decoded<'a>, Problem> {
    let quoted = || format!("{cell:?}");
    Ok(match field.field_type {
        FieldType::String => Decoded::Str(Cow::Borrowed(cell)),
        FieldType::Int if is_int_text(cell) => Decoded::Int(parse_int(cell, field)?),
        FieldType::Float if is_float_text(cell) => Decoded::Float(parse_float(cell, field)?),
        FieldType::Bool if cell.eq_ignore_ascii_case("true") => Decoded::Bool(true),
        FieldType::Bool if cell.eq_ignore_ascii_case("false") => Decoded::Bool(false),
        FieldType::Timestamp if is_int_text(cell) => Decoded::Micros(epoch(cell, true, field)?),
        FieldType::Timestamp if is_decimal_text(cell) => Decoded::Micros(epoch(cell, false, field)?),
        FieldType::Timestamp => {
            Decoded::Micros(timestamp::parse_iso(cell).map_err(|e| timestamp_problem(e, field, cell))?)
        }
        FieldType::Date => Decoded::Days(date(cell, field)?),
        FieldType::Json => {
            let bytes = cell.as_bytes();
            let start = skip_ws(bytes, 0);
            let bad = |message: &str| problem(Reason::InvalidJson, format!("{}: {message}", field.name));
            let info = scan_value(bytes, start).map_err(|e| bad(e.message))?;
            if skip_ws(bytes, info.end) != bytes.len() {
                return Err(bad("trailing characters after the JSON value"));
            }
            if info.lone_surrogate {
                return Err(bad("a \\u escape is an unpaired surrogate"));
            }
            if info.depth > MAX_DEPTH {
                return Err(bad(&format!("nesting deeper than {MAX_DEPTH}")));
            }
            Decoded::Str(Cow::Owned(compact(&bytes[start..info.end])))
        }
        _ => return Err(wrong_type(field, &quoted())),
    })
}

/// `v < min` for an integer, exactly (no rounding through f64).
/// 2^63: `i64::MAX as f64` rounds up to it, so bounds are compared against it with `>=`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

fn int_below(v: i64, min: f64) -> bool {
    let m = min.ceil();
    if m >= TWO_POW_63 {
        true
    } else if m < i64::MIN as f64 {
        false
    } else {
        v < m as i64
    }
}

fn int_above(v: i64, max: f64) -> bool {
    let m = max.floor();
    if m >= TWO_POW_63 {
        false
    } else if m < i64::MIN as f64 {
        true
    } else {
        v > m as i64
    }
}

fn check_constraints(value: &Decoded<'_>, field: &Field) -> std::result::Result<(), Problem> {
    let name = &field.name;
    match value {
        Decoded::Str(s) if field.min_length.is_some() || field.max_length.is_some() => {
            let len = if s.is_ascii() { s.len() } else { s.chars().count() };
            if let Some(min) = field.min_length {
                if len < min as usize {
                    return Err(problem(Reason::TooShort, format!("{name} has {len} characters, fewer than {min}")));
                }
            }
            if let Some(max) = field.max_length {
                if len > max as usize {
                    return Err(problem(Reason::TooLong, format!("{name} has {len} characters, more than {max}")));
                }
            }
        }
        Decoded::Int(v) => {
            if field.min.is_some_and(|min| int_below(*v, min)) {
                return Err(problem(
                    Reason::OutOfRange,
                    format!("{name}: {v} is below the minimum {}", field.min.unwrap_or_default()),
                ));
            }
            if field.max.is_some_and(|max| int_above(*v, max)) {
                return Err(problem(
                    Reason::OutOfRange,
                    format!("{name}: {v} is above the maximum {}", field.max.unwrap_or_default()),
                ));
            }
        }
        Decoded::Float(v) => {
            if field.min.is_some_and(|min| *v < min) {
                return Err(problem(
                    Reason::OutOfRange,
                    format!("{name}: {v} is below the minimum {}", field.min.unwrap_or_default()),
                ));
            }
            if field.max.is_some_and(|max| *v > max) {
                return Err(problem(
                    Reason::OutOfRange,
                    format!("{name}: {v} is above the maximum {}", field.max.unwrap_or_default()),
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
            assert!(ok.parse::<f64>().is_ok(), "Rust must parse what the grammar admits: {ok}");
        }
        for bad in ["", ".", "e5", "1e", "inf", "nan", "1_000", " 1", "1 ", "--1", "0x10"] {
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
        assert!(int_below(i64::MAX, TWO_POW_63), "2^63 is above every int64");
        assert!(!int_above(i64::MAX, TWO_POW_63));
        assert!(int_above(i64::MIN, -TWO_POW_63 - 4096.0));
    }
}

//! The usual value of a field, decoded straight into its column: a plain string within its
//! bounds, an ISO timestamp, compact JSON. Each contract field gets a [`UsualValue`] once, when
//! the validator is built; a value it does not cover goes to [`super::decode::decode_field`],
//! the one implementation of the rules. This only skips, for the valid common case, the
//! general path's intermediate values (an owned-or-borrowed string, a result carrying a
//! message) and its checks that cannot fail there, so the column receives the same bytes.

use crate::contract::{normalize_enum, Field, FieldType};
use crate::json::{same_key, JsonKind};
use crate::parse::FieldValue;
use crate::timestamp;

use super::decode::checked_utf8;
use super::{Column, ColumnData};

/// What a field's value can skip the general path with (see the module docs).
pub(super) enum UsualValue {
    /// A JSON string without escapes whose text is already what the column keeps.
    Str {
        /// Length bounds in characters; only checked on ASCII text, where a byte is one.
        min_len: usize,
        max_len: usize,
        bounded: bool,
        /// An enum's values that are their own normal form (trimmed, lowercase), as bytes:
        /// text equal to one of them normalises to itself and is allowed as sent.
        allowed: Option<Vec<Vec<u8>>>,
    },
    /// An ISO-8601 string without escapes, or an integer epoch.
    Timestamp,
    /// Any JSON value but null, written without whitespace between its tokens: kept as sent.
    Json,
    /// Always the general path.
    General,
}

impl UsualValue {
    pub(super) fn for_field(field: &Field) -> UsualValue {
        match field.field_type {
            FieldType::String => UsualValue::Str {
                min_len: field.min_length.map_or(0, |n| n as usize),
                max_len: field.max_length.map_or(usize::MAX, |n| n as usize),
                bounded: field.min_length.is_some() || field.max_length.is_some(),
                allowed: field.enum_values.as_ref().map(|values| {
                    values.iter().filter(|v| normalize_enum(v) == v.as_str()).map(|v| v.as_bytes().to_vec()).collect()
                }),
            },
            FieldType::Timestamp => UsualValue::Timestamp,
            // Length bounds or an enum on a JSON field apply to its text: the general path.
            FieldType::Json
                if field.min_length.is_none() && field.max_length.is_none() && field.enum_values.is_none() =>
            {
                UsualValue::Json
            }
            _ => UsualValue::General,
        }
    }

    /// Append `value` to `column` when it is a usual value; false (nothing appended) when it
    /// must take the general path.
    #[inline]
    pub(super) fn append(&self, value: FieldValue<'_>, column: &mut Column) -> bool {
        let FieldValue::Json { raw, kind, has_whitespace } = value else { return false };
        match (self, kind) {
            (UsualValue::Str { min_len, max_len, bounded, allowed }, JsonKind::String { escaped: false }) => {
                let text = &raw[1..raw.len() - 1];
                if *bounded && (!text.is_ascii() || text.len() < *min_len || text.len() > *max_len) {
                    return false;
                }
                if let Some(allowed) = allowed {
                    if !allowed.iter().any(|v| same_key(v, text)) {
                        return false;
                    }
                }
                column.push_text(text);
                true
            }
            (UsualValue::Timestamp, JsonKind::String { escaped: false }) => {
                match timestamp::parse_iso(checked_utf8(&raw[1..raw.len() - 1])) {
                    Ok(micros) => column.push_int(micros),
                    Err(_) => return false,
                }
                true
            }
            (UsualValue::Timestamp, JsonKind::Number { integer: true }) => {
                match checked_utf8(raw).parse::<i64>().map(timestamp::from_epoch_int) {
                    Ok(Ok(micros)) => column.push_int(micros),
                    _ => return false,
                }
                true
            }
            (UsualValue::Json, JsonKind::Null) => false,
            (UsualValue::Json, _) if !has_whitespace => {
                column.push_text(raw);
                true
            }
            _ => false,
        }
    }
}

impl Column {
    /// A present string value (string and JSON columns).
    #[inline]
    fn push_text(&mut self, text: &[u8]) {
        self.note_presence(true);
        let ColumnData::Str { offsets, data } = &mut self.data else {
            unreachable!("text goes to string and JSON columns only")
        };
        data.extend_from_slice(text);
        offsets.push(data.len() as i32);
    }

    /// A null, as [`Column::append`] appends [`super::decode::Decoded::Null`].
    #[inline]
    pub(super) fn push_null(&mut self) {
        self.append(super::decode::Decoded::Null);
    }

    /// A present 64-bit value (integer and timestamp columns).
    #[inline]
    fn push_int(&mut self, value: i64) {
        self.note_presence(true);
        let (ColumnData::Int(v) | ColumnData::Micros(v)) = &mut self.data else {
            unreachable!("64-bit integers go to integer and timestamp columns only")
        };
        v.push(value);
    }
}

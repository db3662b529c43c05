//! Validate: parsed records → typed Arrow columns for the rows that keep the contract, and a
//! rejection (field, reason) for each that does not. Only the contract's fields are decoded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};

use crate::batch::ValidatedBatch;
use crate::contract::{normalize_enum, Contract, ExtraFields, Field, FieldType};
use crate::dedup::{key_hash, BatchKeys, Deduplicator, KeyPart};
use crate::json::{compact, scan_value, skip_ws, unescape, JsonKind};
use crate::parse::{FieldValue, ParsedBatch, RecordView, Sink, MAX_DEPTH};
use crate::rejection::{Reason, Rejection};
use crate::timestamp::{self, TimestampError};

/// One decoded value of a contract field.
enum Decoded<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Micros(i64),
    Days(i32),
}

struct Problem {
    reason: Reason,
    message: String,
}

fn problem(reason: Reason, message: impl Into<String>) -> Problem {
    Problem { reason, message: message.into() }
}

/// A column under construction. Plain vectors rather than Arrow builders: a row that fails
/// on a later field is rolled back by truncating, and the vectors become Arrow buffers as is.
enum ColumnData {
    Str { offsets: Vec<i32>, data: Vec<u8> },
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool(Vec<bool>),
    Micros(Vec<i64>),
    Days(Vec<i32>),
}

struct Column {
    data: ColumnData,
    valid: Vec<bool>,
    nulls: usize,
}

impl Column {
    fn new(field_type: FieldType, capacity: usize) -> Column {
        let data = match field_type {
            FieldType::String | FieldType::Json => {
                let mut offsets = Vec::with_capacity(capacity + 1);
                offsets.push(0);
                ColumnData::Str { offsets, data: Vec::with_capacity(capacity * 24) }
            }
            FieldType::Int => ColumnData::Int(Vec::with_capacity(capacity)),
            FieldType::Float => ColumnData::Float(Vec::with_capacity(capacity)),
            FieldType::Bool => ColumnData::Bool(Vec::with_capacity(capacity)),
            FieldType::Timestamp => ColumnData::Micros(Vec::with_capacity(capacity)),
            FieldType::Date => ColumnData::Days(Vec::with_capacity(capacity)),
        };
        Column { data, valid: Vec::with_capacity(capacity), nulls: 0 }
    }

    #[inline]
    fn append(&mut self, value: Decoded<'_>) {
        let is_null = matches!(value, Decoded::Null);
        self.valid.push(!is_null);
        self.nulls += is_null as usize;
        match (&mut self.data, value) {
            (ColumnData::Str { offsets, data }, Decoded::Str(s)) => {
                data.extend_from_slice(s.as_bytes());
                offsets.push(data.len() as i32);
            }
            (ColumnData::Str { offsets, data }, Decoded::Null) => offsets.push(data.len() as i32),
            (ColumnData::Int(v) | ColumnData::Micros(v), Decoded::Int(x) | Decoded::Micros(x)) => v.push(x),
            (ColumnData::Int(v) | ColumnData::Micros(v), Decoded::Null) => v.push(0),
            (ColumnData::Float(v), Decoded::Float(x)) => v.push(x),
            (ColumnData::Float(v), Decoded::Null) => v.push(0.0),
            (ColumnData::Bool(v), Decoded::Bool(x)) => v.push(x),
            (ColumnData::Bool(v), Decoded::Null) => v.push(false),
            (ColumnData::Days(v), Decoded::Days(x)) => v.push(x),
            (ColumnData::Days(v), Decoded::Null) => v.push(0),
            _ => unreachable!("a decoded value always matches its column's type"),
        }
    }

    /// The value at `row` as a key part (for deduplication while validating).
    fn key_part(&self, row: usize) -> KeyPart<'_> {
        if !self.valid[row] {
            return KeyPart::Null;
        }
        match &self.data {
            ColumnData::Str { offsets, data } => {
                KeyPart::Str(checked_utf8(&data[offsets[row] as usize..offsets[row + 1] as usize]))
            }
            ColumnData::Int(v) => KeyPart::Int(v[row]),
            ColumnData::Micros(v) => KeyPart::Micros(v[row]),
            ColumnData::Float(v) => KeyPart::Float(v[row]),
            ColumnData::Bool(v) => KeyPart::Bool(v[row]),
            ColumnData::Days(v) => KeyPart::Days(v[row]),
        }
    }

    /// Once the size of a row is known, reserve room for the rows still to come, so that
    /// string buffers grow once instead of doubling (each doubling copies and faults in pages).
    /// A column's text can never outgrow the body it comes from (`max_bytes`); failing to
    /// reserve only means growing by doubling after all.
    fn reserve_for(&mut self, rows_so_far: usize, rows_expected: usize, max_bytes: usize) {
        if let ColumnData::Str { data, .. } = &mut self.data {
            let per_row = data.len() / rows_so_far.max(1);
            let wanted = (rows_expected.saturating_mul(per_row) / 8 * 9).min(max_bytes);
            let _ = data.try_reserve(wanted.saturating_sub(data.len()));
        }
    }

    /// Drop the values appended after the first `rows` (a row that failed half-way).
    fn truncate(&mut self, rows: usize) {
        if self.valid.len() <= rows {
            return;
        }
        self.nulls -= self.valid[rows..].iter().filter(|v| !**v).count();
        self.valid.truncate(rows);
        match &mut self.data {
            ColumnData::Str { offsets, data } => {
                offsets.truncate(rows + 1);
                data.truncate(*offsets.last().expect("offsets start with 0") as usize);
            }
            ColumnData::Int(v) | ColumnData::Micros(v) => v.truncate(rows),
            ColumnData::Float(v) => v.truncate(rows),
            ColumnData::Bool(v) => v.truncate(rows),
            ColumnData::Days(v) => v.truncate(rows),
        }
    }

    fn finish(self) -> ArrayRef {
        let nulls = (self.nulls > 0).then(|| NullBuffer::from(self.valid));
        match self.data {
            ColumnData::Str { offsets, data } => {
                // Safe to skip re-validation: offsets grow monotonically and every value was a &str.
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Arc::new(unsafe { StringArray::new_unchecked(offsets, data.into(), nulls) })
            }
            ColumnData::Int(v) => Arc::new(Int64Array::new(v.into(), nulls)),
            ColumnData::Float(v) => Arc::new(Float64Array::new(v.into(), nulls)),
            ColumnData::Bool(v) => Arc::new(BooleanArray::new(v.into(), nulls)),
            ColumnData::Micros(v) => Arc::new(TimestampMicrosecondArray::new(v.into(), nulls).with_timezone("UTC")),
            ColumnData::Days(v) => Arc::new(Date32Array::new(v.into(), nulls)),
        }
    }
}

/// Finds a contract field by key. Producers send keys in the same order record after record,
/// so the field found at each key position last time is tried first; then a linear scan for
/// the usual handful of fields, or a map beyond that.
struct FieldLookup {
    names: Vec<Vec<u8>>,
    map: Option<HashMap<Vec<u8>, usize>>,
    hints: Vec<usize>,
}

/// Key positions beyond this are not worth a hint.
const MAX_HINTS: usize = 64;

impl FieldLookup {
    fn new(contract: &Contract) -> Self {
        let names: Vec<Vec<u8>> = contract.fields.iter().map(|f| f.name.as_bytes().to_vec()).collect();
        let map = (names.len() > 16).then(|| names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect());
        FieldLookup { names, map, hints: Vec::new() }
    }

    #[inline]
    fn find(&mut self, position: usize, key: &[u8]) -> Option<usize> {
        if let Some(&hint) = self.hints.get(position) {
            if self.names[hint] == key {
                return Some(hint);
            }
        }
        let found = match &self.map {
            Some(map) => map.get(key).copied(),
            None => self.names.iter().position(|n| n.as_slice() == key),
        };
        if let (Some(slot), true) = (found, position < MAX_HINTS) {
            if self.hints.len() <= position {
                self.hints.resize(position + 1, 0);
            }
            self.hints[position] = slot;
        }
        found
    }
}

/// Drops duplicate rows as they are validated (the fused path), hashing keys exactly as
/// [`crate::dedup::key_hashes`] does on a transformed batch.
struct RowDedup<'w> {
    /// The dedup key's field indexes.
    key_fields: Vec<usize>,
    keys: BatchKeys<'w>,
    buffer: Vec<u8>,
    /// The key of the last row, checked when the next record arrives (or at the end): its
    /// slot is prefetched meanwhile, so the random memory access overlaps with parsing.
    pending: Option<u128>,
}

impl RowDedup<'_> {
    fn row_hash(&mut self, columns: &[Column], row: usize) -> u128 {
        // Enum values are stored normalised, as transform leaves them: the hash matches.
        if let [field] = self.key_fields[..] {
            return key_hash(&[columns[field].key_part(row)], &mut self.buffer);
        }
        let parts: Vec<KeyPart<'_>> = self.key_fields.iter().map(|&field| columns[field].key_part(row)).collect();
        key_hash(&parts, &mut self.buffer)
    }
}

/// Validates records as they come (a [`Sink`]), building the typed columns.
pub struct Validator<'w> {
    contract: Arc<Contract>,
    lookup: FieldLookup,
    columns: Vec<Column>,
    slots: Vec<Option<usize>>,
    num_rows: usize,
    rows_expected: usize,
    /// The body's size: no column's text can be larger.
    body_bytes: usize,
    rejected: Vec<Rejection>,
    dedup: Option<RowDedup<'w>>,
}

/// Rows after which the string buffers are sized for the whole batch.
const SIZING_ROWS: usize = 1024;

impl<'w> Validator<'w> {
    pub fn new(contract: Arc<Contract>, capacity: usize, body_bytes: usize) -> Validator<'w> {
        Validator {
            lookup: FieldLookup::new(&contract),
            columns: contract.fields.iter().map(|f| Column::new(f.field_type, capacity)).collect(),
            slots: vec![None; contract.fields.len()],
            num_rows: 0,
            rows_expected: capacity,
            body_bytes,
            rejected: Vec::new(),
            dedup: None,
            contract,
        }
    }

    /// Also drop duplicates as rows are validated: within the batch, and against `window`.
    pub fn deduplicating(mut self, window: Option<&'w Deduplicator>) -> Validator<'w> {
        if !self.contract.dedup_key.is_empty() {
            let key_fields = self
                .contract
                .dedup_key
                .iter()
                .map(|name| self.contract.field_index(name).expect("checked when loading"))
                .collect();
            let keys = BatchKeys::new(self.rows_expected, window);
            self.dedup = Some(RowDedup { key_fields, keys, buffer: Vec::with_capacity(64), pending: None });
        }
        self
    }

    /// The batch, the duplicates dropped, and the keys first seen in it (for the window).
    pub fn finish_deduplicated(mut self) -> (ValidatedBatch, u64, Vec<u128>) {
        self.resolve_pending_duplicate();
        let (duplicates, new_keys) = match self.dedup.take() {
            Some(dedup) => (dedup.keys.duplicates, dedup.keys.into_new_keys()),
            None => (0, Vec::new()),
        };
        (self.finish(Vec::new()), duplicates, new_keys)
    }

    pub fn finish(self, mut rejected_before: Vec<Rejection>) -> ValidatedBatch {
        let mut rejected = self.rejected;
        if !rejected_before.is_empty() {
            rejected_before.append(&mut rejected);
            rejected = rejected_before;
            rejected.sort_by_key(|r| r.record_index);
        }
        ValidatedBatch {
            contract: self.contract,
            columns: self.columns.into_iter().map(Column::finish).collect(),
            num_rows: self.num_rows,
            rejected,
        }
    }

    /// Drop the last row if its key was seen before (see [`RowDedup::pending`]).
    fn resolve_pending_duplicate(&mut self) {
        let Some(dedup) = &mut self.dedup else { return };
        let Some(hash) = dedup.pending.take() else { return };
        if !dedup.keys.first_sighting(hash) {
            self.num_rows -= 1;
            for column in &mut self.columns {
                column.truncate(self.num_rows);
            }
        }
    }

    fn fail(&mut self, record: &RecordView<'_>, field: Option<String>, p: Problem) {
        for column in &mut self.columns {
            column.truncate(self.num_rows);
        }
        self.rejected.push(Rejection {
            record_index: record.index,
            line: record.line,
            field,
            reason: p.reason,
            message: p.message,
            raw: record.raw(),
        });
    }
}

impl Sink for Validator<'_> {
    const RETAINS_RECORDS: bool = false;

    fn accept(&mut self, record: &RecordView<'_>) {
        self.resolve_pending_duplicate();
        self.slots.iter_mut().for_each(|s| *s = None);
        let mut extra = None;
        for i in 0..record.num_fields() {
            match self.lookup.find(i, record.key(i)) {
                Some(slot) => self.slots[slot] = Some(i),
                None if extra.is_none() && self.contract.extra_fields == ExtraFields::Reject => extra = Some(i),
                None => {}
            }
        }
        let mut failure = None;
        for (f, field) in self.contract.fields.iter().enumerate() {
            let value = self.slots[f].map(|i| record.value(i));
            match decode_field(field, value) {
                Ok(decoded) => self.columns[f].append(decoded),
                Err(p) => {
                    failure = Some((field.name.clone(), p));
                    break;
                }
            }
        }
        if failure.is_none() {
            if let Some(i) = extra {
                let key = String::from_utf8_lossy(record.key(i)).into_owned();
                let message = format!("{key:?} is not a field of the {} contract", self.contract.name);
                failure = Some((key, problem(Reason::ExtraField, message)));
            }
        }
        if let Some((field, p)) = failure {
            return self.fail(record, Some(field), p);
        }
        if let Some(dedup) = &mut self.dedup {
            let hash = dedup.row_hash(&self.columns, self.num_rows);
            dedup.keys.prefetch(hash);
            dedup.pending = Some(hash);
        }
        self.num_rows += 1;
        if self.num_rows == SIZING_ROWS && self.rows_expected > 2 * SIZING_ROWS {
            for column in &mut self.columns {
                column.reserve_for(SIZING_ROWS, self.rows_expected, self.body_bytes);
            }
        }
    }

    fn reject(&mut self, rejection: Rejection) {
        self.rejected.push(rejection);
    }
}

/// Validate a parsed batch against a contract.
pub fn validate(parsed: &ParsedBatch, contract: Arc<Contract>) -> ValidatedBatch {
    let mut validator = Validator::new(contract, parsed.len(), parsed.bytes().len());
    parsed.replay(&mut validator);
    validator.finish(parsed.rejected.clone())
}

fn decode_field<'a>(field: &Field, value: Option<FieldValue<'a>>) -> std::result::Result<Decoded<'a>, Problem> {
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
fn checked_utf8(bytes: &[u8]) -> &str {
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

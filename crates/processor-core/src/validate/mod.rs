//! Validate: parsed records → typed Arrow columns for the rows that keep the contract, and a
//! rejection (field, reason) for each that does not. Only the contract's fields are decoded.

mod decode;
mod usual;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};

use crate::batch::ValidatedBatch;
use crate::contract::{Contract, ExtraFields, FieldType};
use crate::dedup::{key_hash, BatchKeys, Deduplicator, KeyPart};
use crate::json::same_key;
use crate::pages;
use crate::parse::{ParsedBatch, RecordView, Sink};
use crate::rejection::{Reason, Rejection};

use decode::{checked_utf8, decode_field, problem, Decoded, Problem};
use usual::UsualValue;

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
    /// Which values are present: empty until the first null (most columns never see one),
    /// then one flag per value.
    valid: Vec<bool>,
    nulls: usize,
}

impl Column {
    fn new(field_type: FieldType, capacity: usize) -> Column {
        let data = match field_type {
            FieldType::String | FieldType::Json => {
                let mut offsets = pages::with_capacity(capacity + 1);
                offsets.push(0);
                ColumnData::Str { offsets, data: pages::with_capacity(capacity * 24) }
            }
            FieldType::Int => ColumnData::Int(pages::with_capacity(capacity)),
            FieldType::Float => ColumnData::Float(pages::with_capacity(capacity)),
            FieldType::Bool => ColumnData::Bool(pages::with_capacity(capacity)),
            FieldType::Timestamp => ColumnData::Micros(pages::with_capacity(capacity)),
            FieldType::Date => ColumnData::Days(pages::with_capacity(capacity)),
        };
        Column { data, valid: Vec::new(), nulls: 0 }
    }

    /// The number of values appended.
    fn len(&self) -> usize {
        match &self.data {
            ColumnData::Str { offsets, .. } => offsets.len() - 1,
            ColumnData::Int(v) | ColumnData::Micros(v) => v.len(),
            ColumnData::Float(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Days(v) => v.len(),
        }
    }

    /// Note whether the value about to be appended is present (see [`Column::valid`]).
    #[inline]
    fn note_presence(&mut self, present: bool) {
        if !present || !self.valid.is_empty() {
            self.note_presence_flagged(present);
        }
    }

    #[inline(never)]
    fn note_presence_flagged(&mut self, present: bool) {
        if self.valid.is_empty() {
            // The first null: every value before it was present.
            self.valid.resize(self.len(), true);
        }
        self.valid.push(present);
        self.nulls += usize::from(!present);
    }

    #[inline]
    fn append(&mut self, value: Decoded<'_>) {
        self.note_presence(!matches!(value, Decoded::Null));
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
        if self.valid.get(row) == Some(&false) {
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
    /// reserve only means growing by doubling after all. The new room is on huge pages, as the
    /// first was: grown in place, the allocator's new pages would be small.
    fn reserve_for(&mut self, rows_so_far: usize, rows_expected: usize, max_bytes: usize) {
        if let ColumnData::Str { data, .. } = &mut self.data {
            let per_row = data.len() / rows_so_far.max(1);
            let wanted = (rows_expected.saturating_mul(per_row) / 8 * 9).min(max_bytes);
            let _ = pages::try_reserve(data, wanted.saturating_sub(data.len()));
        }
    }

    /// Drop the value of `row` (a duplicate found after the row after it was appended).
    fn remove_row(&mut self, row: usize) {
        if row + 1 >= self.len() {
            return self.truncate(row);
        }
        if self.valid.len() > row && !self.valid.remove(row) {
            self.nulls -= 1;
        }
        match &mut self.data {
            ColumnData::Str { offsets, data } => {
                let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                data.drain(start..end);
                offsets.remove(row + 1);
                for offset in &mut offsets[row + 1..] {
                    *offset -= (end - start) as i32;
                }
            }
            ColumnData::Int(v) | ColumnData::Micros(v) => drop(v.remove(row)),
            ColumnData::Float(v) => drop(v.remove(row)),
            ColumnData::Bool(v) => drop(v.remove(row)),
            ColumnData::Days(v) => drop(v.remove(row)),
        }
    }

    /// Drop the values appended after the first `rows` (a row that failed half-way).
    fn truncate(&mut self, rows: usize) {
        if self.len() <= rows {
            return;
        }
        if self.valid.len() > rows {
            self.nulls -= self.valid[rows..].iter().filter(|v| !**v).count();
            self.valid.truncate(rows);
        }
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

    #[inline(always)]
    fn find(&mut self, position: usize, key: &[u8]) -> Option<usize> {
        if let Some(&hint) = self.hints.get(position) {
            if same_key(&self.names[hint], key) {
                return Some(hint);
            }
        }
        self.find_and_remember(position, key)
    }

    /// [`Self::find`] without the hint, which it then updates.
    #[inline(never)]
    fn find_and_remember(&mut self, position: usize, key: &[u8]) -> Option<usize> {
        let found = match &self.map {
            Some(map) => map.get(key).copied(),
            None => self.names.iter().position(|n| same_key(n, key)),
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
    /// The keys of the last rows not checked yet, oldest first: a row's key is checked when
    /// the record after next arrives (or at the end), and its slot prefetched meanwhile, so
    /// that the random memory access overlaps with a whole record's work.
    pending: [Option<u128>; 2],
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
    /// Per contract field: the values decoded without the general path.
    usual: Vec<UsualValue>,
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
            usual: contract.fields.iter().map(UsualValue::for_field).collect(),
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
            self.dedup = Some(RowDedup { key_fields, keys, buffer: Vec::with_capacity(64), pending: [None; 2] });
        }
        self
    }

    /// The batch, the duplicates dropped, and the keys first seen in it (for the window).
    pub fn finish_deduplicated(mut self) -> (ValidatedBatch, u64, Vec<u128>) {
        self.resolve_pending_duplicate();
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

    /// Check the oldest pending key (see [`RowDedup::pending`]), and drop its row if the key
    /// was seen before.
    fn resolve_pending_duplicate(&mut self) {
        let Some(dedup) = &mut self.dedup else { return };
        let [older, newer] = dedup.pending;
        dedup.pending = [newer, None];
        let (hash, row) = match (older, newer) {
            (Some(hash), Some(_)) => (hash, self.num_rows - 2),
            (Some(hash), None) => (hash, self.num_rows - 1),
            (None, Some(_)) => return, // one pending: it waits for the record after next
            (None, None) => return,
        };
        if !dedup.keys.first_sighting(hash) {
            self.num_rows -= 1;
            for column in &mut self.columns {
                column.remove_row(row);
            }
        }
    }

    /// The row of a record whose fields are all contract fields with usual values (or absent
    /// and nullable), decoded in the record's key order: one pass over its members, no
    /// table of slots to fill first. False, with some columns half-appended, for anything else.
    #[inline]
    fn accept_usual(&mut self, record: &RecordView<'_>) -> bool {
        let fields = &self.contract.fields;
        if fields.len() > 64 {
            return false;
        }
        let mut seen = 0u64;
        for i in 0..record.num_fields() {
            let Some(f) = self.lookup.find(i, record.key(i)) else {
                if self.contract.extra_fields == ExtraFields::Reject {
                    return false;
                }
                continue;
            };
            if seen & (1 << f) != 0 {
                return false;
            }
            seen |= 1 << f;
            let value = record.value(i);
            if !self.usual[f].append(value, &mut self.columns[f]) {
                match decode_field(&fields[f], Some(value)) {
                    Ok(decoded) => self.columns[f].append(decoded),
                    Err(_) => return false,
                }
            }
        }
        let all = if fields.len() == 64 { u64::MAX } else { (1u64 << fields.len()) - 1 };
        let mut missing = all & !seen;
        while missing != 0 {
            let f = missing.trailing_zeros() as usize;
            missing &= missing - 1;
            // An absent field is null when it is optional and nullable (decode_field's rule).
            if fields[f].required || !fields[f].nullable {
                return false;
            }
            self.columns[f].push_null();
        }
        true
    }

    /// The row of any record, or its rejection (false): fields decoded in the contract's
    /// order, the first problem named.
    fn accept_general(&mut self, record: &RecordView<'_>) -> bool {
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
            self.fail(record, Some(field), p);
            return false;
        }
        true
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
        if self.dedup.as_ref().is_some_and(|dedup| dedup.pending[1].is_some()) {
            self.resolve_pending_duplicate();
        }
        if !self.accept_usual(record) {
            // Undo what the usual path appended; the general path decides, field by field in
            // the contract's order, and names the first problem.
            for column in &mut self.columns {
                column.truncate(self.num_rows);
            }
            if !self.accept_general(record) {
                return;
            }
        }
        if let Some(dedup) = &mut self.dedup {
            let hash = dedup.row_hash(&self.columns, self.num_rows);
            dedup.keys.prefetch(hash);
            let slot = if dedup.pending[0].is_none() { 0 } else { 1 };
            dedup.pending[slot] = Some(hash);
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

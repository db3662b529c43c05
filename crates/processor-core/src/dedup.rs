//! Deduplicate by the contract's key: keep the first row of each key within a batch, and with
//! a [`Deduplicator`], across batches over a bounded window of remembered keys.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::DataType;
use xxhash_rust::xxh3::xxh3_128;

use crate::error::{CoreError, InputErrorKind, Result};
use crate::transform::TransformedBatch;

/// Key hashes are xxh3-128 output already: hashing them again would only cost time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

type KeySet = HashSet<u128, BuildHasherDefault<KeyHasher>>;

/// The 128-bit hash of each row's key (the contract's dedup_key columns, in order).
pub fn key_hashes(transformed: &TransformedBatch) -> Vec<u128> {
    let batch = &transformed.batch;
    let columns: Vec<&ArrayRef> = transformed
        .contract
        .dedup_key
        .iter()
        .map(|name| batch.column_by_name(name).expect("dedup key fields are columns"))
        .collect();
    if let [only] = columns.as_slice() {
        if let Some(strings) = only.as_string_opt::<i32>() {
            // The common case (one string key): hash the bytes directly.
            return strings.iter().map(|v| xxh3_128(v.unwrap_or_default().as_bytes())).collect();
        }
    }
    let mut buffer = Vec::with_capacity(64);
    (0..batch.num_rows())
        .map(|row| {
            buffer.clear();
            for column in &columns {
                encode_value(column, row, &mut buffer);
            }
            xxh3_128(&buffer)
        })
        .collect()
}

/// A self-delimiting encoding, so that ("ab", "c") and ("a", "bc") differ.
fn encode_value(column: &ArrayRef, row: usize, out: &mut Vec<u8>) {
    if column.is_null(row) {
        out.push(0);
        return;
    }
    match column.data_type() {
        DataType::Utf8 => {
            let s = column.as_string::<i32>().value(row);
            out.push(1);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        DataType::Int64 => {
            out.push(2);
            out.extend_from_slice(&column.as_primitive::<Int64Type>().value(row).to_le_bytes());
        }
        DataType::Timestamp(..) => {
            out.push(3);
            out.extend_from_slice(&column.as_primitive::<TimestampMicrosecondType>().value(row).to_le_bytes());
        }
        DataType::Float64 => {
            out.push(4);
            out.extend_from_slice(&column.as_primitive::<Float64Type>().value(row).to_bits().to_le_bytes());
        }
        DataType::Date32 => {
            out.push(5);
            out.extend_from_slice(&column.as_primitive::<Date32Type>().value(row).to_le_bytes());
        }
        DataType::Boolean => {
            out.push(6);
            out.push(column.as_boolean().value(row) as u8);
        }
        other => unreachable!("contract types map to known Arrow types, not {other}"),
    }
}

fn keep_rows(transformed: &TransformedBatch, keep: Vec<bool>) -> TransformedBatch {
    let dropped = keep.iter().filter(|k| !**k).count() as u64;
    if dropped == 0 {
        return transformed.clone();
    }
    let mask = BooleanArray::from(keep);
    let batch: RecordBatch =
        arrow_select::filter::filter_record_batch(&transformed.batch, &mask).expect("the mask has one entry per row");
    TransformedBatch {
        contract: transformed.contract.clone(),
        batch,
        rejected: transformed.rejected.clone(),
        duplicates: transformed.duplicates + dropped,
    }
}

/// Keep the first row of each key; the others are counted as duplicates.
pub fn deduplicate(transformed: &TransformedBatch) -> TransformedBatch {
    if transformed.contract.dedup_key.is_empty() {
        return transformed.clone();
    }
    let hashes = key_hashes(transformed);
    let mut seen = KeySet::with_capacity_and_hasher(hashes.len(), Default::default());
    let keep: Vec<bool> = hashes.iter().map(|h| seen.insert(*h)).collect();
    keep_rows(transformed, keep)
}

/// Remembers up to `capacity` keys across batches, forgetting the oldest first.
#[derive(Debug, Clone)]
pub struct Deduplicator {
    capacity: usize,
    seen: KeySet,
    order: VecDeque<u128>,
}

const STATE_MAGIC: &[u8; 8] = b"ELDEDUP1";

impl Deduplicator {
    pub fn new(capacity: usize) -> Deduplicator {
        let initial = capacity.min(1 << 20);
        Deduplicator {
            capacity,
            seen: KeySet::with_capacity_and_hasher(initial, Default::default()),
            order: VecDeque::with_capacity(initial),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn contains_hash(&self, hash: u128) -> bool {
        self.seen.contains(&hash)
    }

    /// Within the batch keep-first; then drop rows whose key is remembered; remember the rest.
    pub fn deduplicate(&mut self, transformed: &TransformedBatch) -> TransformedBatch {
        if transformed.contract.dedup_key.is_empty() {
            return transformed.clone();
        }
        let hashes = key_hashes(transformed);
        let mut in_batch = KeySet::with_capacity_and_hasher(hashes.len(), Default::default());
        let keep: Vec<bool> = hashes.iter().map(|h| in_batch.insert(*h) && !self.seen.contains(h)).collect();
        for (hash, kept) in hashes.iter().zip(&keep) {
            if *kept {
                self.remember(*hash);
            }
        }
        keep_rows(transformed, keep)
    }

    fn remember(&mut self, hash: u128) {
        if self.capacity == 0 {
            return;
        }
        if self.seen.insert(hash) {
            self.order.push_back(hash);
        }
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
    }

    /// `ELDEDUP1`, capacity, count (u64 little-endian), then the hashes oldest first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + 16 * self.order.len());
        out.extend_from_slice(STATE_MAGIC);
        out.extend_from_slice(&(self.capacity as u64).to_le_bytes());
        out.extend_from_slice(&(self.order.len() as u64).to_le_bytes());
        for hash in &self.order {
            out.extend_from_slice(&hash.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(data: &[u8]) -> Result<Deduplicator> {
        let bad = |why: &str| CoreError::input(InputErrorKind::BadState, format!("not a deduplicator state: {why}"));
        if data.len() < 24 || &data[..8] != STATE_MAGIC {
            return Err(bad("missing the ELDEDUP1 header"));
        }
        let read_u64 = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
        let capacity = usize::try_from(read_u64(8)).map_err(|_| bad("capacity too large"))?;
        let count = read_u64(16);
        if count > capacity as u64 {
            return Err(bad("more keys than its capacity"));
        }
        if (data.len() - 24) as u64 != count.saturating_mul(16) {
            return Err(bad("truncated or padded"));
        }
        let mut dedup = Deduplicator::new(capacity);
        for chunk in data[24..].chunks_exact(16) {
            dedup.remember(u128::from_le_bytes(chunk.try_into().expect("16 bytes")));
        }
        Ok(dedup)
    }
}

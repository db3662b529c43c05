//! Deduplicate by the contract's key: keep the first row of each key within a batch, and with
//! a [`Deduplicator`], across batches over a bounded window of remembered keys.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::DataType;
use xxhash_rust::xxh3::xxh3_128;

use crate::batch::TransformedBatch;
use crate::error::{CoreError, InputErrorKind, Result};
use crate::pages;

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

/// The keys of one batch, in arrival order, with an open-addressing index over them.
///
/// A batch of a million keys is probed at random, so what costs is memory touched: each slot
/// is 8 bytes (a 32-bit fingerprint of the hash and the key's position), not the 16-byte
/// hash, and the table stays under 5/8 full. A fingerprint match is confirmed against the
/// full 128-bit hash, so a duplicate is only ever a true 128-bit match.
struct BatchKeySet {
    slots: pages::ZeroedTable,
    keys: Vec<u128>,
}

impl BatchKeySet {
    fn with_capacity(keys: usize) -> Self {
        let slots = (keys.max(8) * 8 / 5).next_power_of_two();
        BatchKeySet { slots: pages::ZeroedTable::new(slots), keys: pages::with_capacity(keys) }
    }

    #[inline]
    fn fingerprint(hash: u128) -> u64 {
        (hash >> 96) as u64
    }

    /// The slot for `hash`: where it is, or the empty slot where it belongs.
    #[inline]
    fn find(&self, hash: u128) -> (usize, bool) {
        let mask = self.slots.len() - 1;
        let fingerprint = Self::fingerprint(hash);
        let mut i = (hash as usize) & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return (i, false);
            }
            if slot >> 32 == fingerprint && self.keys[(slot as u32 - 1) as usize] == hash {
                return (i, true);
            }
            i = (i + 1) & mask;
        }
    }

    /// Ask the memory system for `hash`'s slot now, to be probed a record later.
    #[inline]
    fn prefetch(&self, hash: u128) {
        #[cfg(target_arch = "x86_64")]
        {
            let slot = &self.slots[(hash as usize) & (self.slots.len() - 1)];
            // SAFETY: a prefetch is only a hint; the pointer is to a live element.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(slot as *const u64 as *const i8)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = hash;
    }

    /// True when the key was not there (and is now).
    #[inline]
    fn insert(&mut self, hash: u128) -> bool {
        if (self.keys.len() + 1) * 8 > self.slots.len() * 5 {
            self.grow();
        }
        let (i, present) = self.find(hash);
        if !present {
            self.keys.push(hash);
            self.slots[i] = (Self::fingerprint(hash) << 32) | self.keys.len() as u64;
        }
        !present
    }

    fn grow(&mut self) {
        self.slots = pages::ZeroedTable::new(self.slots.len() * 2);
        for position in 0..self.keys.len() {
            let hash = self.keys[position];
            let (i, _) = self.find(hash);
            self.slots[i] = (Self::fingerprint(hash) << 32) | (position as u64 + 1);
        }
    }
}

/// One value of a key, as the hash sees it.
#[derive(Debug, Clone, Copy)]
pub enum KeyPart<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    Micros(i64),
    Float(f64),
    Days(i32),
    Bool(bool),
}

/// The 128-bit hash of a key. A single string is hashed as its bytes (the common case, and
/// the fastest); anything else through a self-delimiting encoding, so that ("ab", "c") and
/// ("a", "bc") differ. Validation (the fused path) and [`key_hashes`] must agree: both use this.
pub fn key_hash(parts: &[KeyPart<'_>], buffer: &mut Vec<u8>) -> u128 {
    if let [KeyPart::Str(s)] = parts {
        return xxh3_128(s.as_bytes());
    }
    buffer.clear();
    for part in parts {
        match *part {
            KeyPart::Null => buffer.push(0),
            KeyPart::Str(s) => {
                buffer.push(1);
                buffer.extend_from_slice(&(s.len() as u64).to_le_bytes());
                buffer.extend_from_slice(s.as_bytes());
            }
            KeyPart::Int(v) => {
                buffer.push(2);
                buffer.extend_from_slice(&v.to_le_bytes());
            }
            KeyPart::Micros(v) => {
                buffer.push(3);
                buffer.extend_from_slice(&v.to_le_bytes());
            }
            KeyPart::Float(v) => {
                // -0.0 == 0.0 as a key: normalise before hashing the bits.
                let v = if v == 0.0 { 0.0f64 } else { v };
                buffer.push(4);
                buffer.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            KeyPart::Days(v) => {
                buffer.push(5);
                buffer.extend_from_slice(&v.to_le_bytes());
            }
            KeyPart::Bool(v) => {
                buffer.push(6);
                buffer.push(v as u8);
            }
        }
    }
    xxh3_128(buffer)
}

fn key_part(column: &ArrayRef, row: usize) -> KeyPart<'_> {
    if column.is_null(row) {
        return KeyPart::Null;
    }
    match column.data_type() {
        DataType::Utf8 => KeyPart::Str(column.as_string::<i32>().value(row)),
        DataType::Int64 => KeyPart::Int(column.as_primitive::<Int64Type>().value(row)),
        DataType::Timestamp(..) => KeyPart::Micros(column.as_primitive::<TimestampMicrosecondType>().value(row)),
        DataType::Float64 => KeyPart::Float(column.as_primitive::<Float64Type>().value(row)),
        DataType::Date32 => KeyPart::Days(column.as_primitive::<Date32Type>().value(row)),
        DataType::Boolean => KeyPart::Bool(column.as_boolean().value(row)),
        other => unreachable!("contract types map to known Arrow types, not {other}"),
    }
}

/// The hash of each row's key (the contract's dedup_key columns, in order).
pub fn key_hashes(transformed: &TransformedBatch) -> Vec<u128> {
    let batch = &transformed.batch;
    let columns: Vec<&ArrayRef> = transformed
        .contract
        .dedup_key
        .iter()
        .map(|name| batch.column_by_name(name).expect("dedup key fields are columns"))
        .collect();
    let mut buffer = Vec::with_capacity(64);
    let mut parts = Vec::with_capacity(columns.len());
    (0..batch.num_rows())
        .map(|row| {
            parts.clear();
            parts.extend(columns.iter().map(|column| key_part(column, row)));
            key_hash(&parts, &mut buffer)
        })
        .collect()
}

/// Which keys a batch has seen: its own so far, and (read-only) a deduplicator's window.
/// Keys new to both are remembered in order, for the window to take after the batch.
pub struct BatchKeys<'w> {
    in_batch: BatchKeySet,
    window: Option<&'w Deduplicator>,
    pub duplicates: u64,
}

impl<'w> BatchKeys<'w> {
    pub fn new(capacity: usize, window: Option<&'w Deduplicator>) -> Self {
        BatchKeys { in_batch: BatchKeySet::with_capacity(capacity), window, duplicates: 0 }
    }

    /// True for the first sighting of a key; false (and counted) for a duplicate.
    #[inline]
    pub fn first_sighting(&mut self, hash: u128) -> bool {
        let new = !self.window.is_some_and(|w| w.contains_hash(hash)) && self.in_batch.insert(hash);
        if !new {
            self.duplicates += 1;
        }
        new
    }

    /// Start fetching what [`Self::first_sighting`] will need for `hash`.
    #[inline]
    pub fn prefetch(&self, hash: u128) {
        self.in_batch.prefetch(hash);
    }

    /// The keys first seen in this batch, in order.
    pub fn into_new_keys(self) -> Vec<u128> {
        self.in_batch.keys
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
    let mut keys = BatchKeys::new(hashes.len(), None);
    let keep: Vec<bool> = hashes.iter().map(|h| keys.first_sighting(*h)).collect();
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
        let mut keys = BatchKeys::new(hashes.len(), Some(self));
        let keep: Vec<bool> = hashes.iter().map(|h| keys.first_sighting(*h)).collect();
        let new_keys = keys.into_new_keys();
        self.remember_all(&new_keys);
        keep_rows(transformed, keep)
    }

    /// Remember keys (oldest first), forgetting the oldest beyond the capacity.
    pub fn remember_all(&mut self, hashes: &[u128]) {
        for &hash in hashes {
            self.remember(hash);
        }
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

    /// Save the window to `path` atomically (see [`save_state`]).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        save_state(path, &self.to_bytes())
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

/// Write a saved window (from [`Deduplicator::to_bytes`]) next to `path` and rename it over
/// `path`: a crash never leaves a half-written state, only the old one or the new one.
pub fn save_state(path: &Path, state: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, state)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_window_replaces_the_old_one_whole() {
        let dir = std::env::temp_dir().join(format!("eventlake-dedup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("window.bin");
        let mut dedup = Deduplicator::new(4);
        dedup.remember_all(&[1, 2, 3]);
        std::fs::write(&path, b"old state").unwrap();
        dedup.save(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), dedup.to_bytes());
        assert!(!path.with_extension("tmp").exists(), "the temporary file is renamed, not left");
        let loaded = Deduplicator::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
        assert!(loaded.contains_hash(2) && loaded.len() == 3);
        let missing = dir.join("no-such-dir").join("window.bin");
        assert!(dedup.save(&missing).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn batch_key_set_finds_every_key_once_across_growth() {
        let mut set = BatchKeySet::with_capacity(1);
        for k in 0..10_000u128 {
            let key = k.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
            assert!(set.insert(key), "{k} is new");
        }
        for k in 0..10_000u128 {
            let key = k.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
            assert!(!set.insert(key), "{k} was seen");
        }
        assert_eq!(set.keys.len(), 10_000);
        assert!(set.slots.len() * 5 >= 10_000 * 8, "stays under 5/8 full");
        // Same fingerprint, different hash: both kept.
        let mut set = BatchKeySet::with_capacity(4);
        assert!(set.insert(7 << 96 | 1));
        assert!(set.insert(7 << 96 | 2));
        assert!(!set.insert(7 << 96 | 1));
    }
}

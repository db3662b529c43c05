//! Routing events, not requests: which shard each record of a body belongs to, and the body cut
//! into one part per shard, in one pass over it.
//!
//! Each valid record goes to the shard owning the hash of its deduplication key, so that every
//! copy of an event reaches the same shard whichever request carried it. The hash lives in
//! Kinesis's space of hash keys (0 to 2**128 - 1, which shards split into ranges): Iceberg's
//! bucket hash of the key's text (32-bit murmur3 of its UTF-8 bytes, `& 0x7fffffff`, modulo
//! 2**31 - 1, as Iceberg's bucket transform computes it) shifted left by 97. A single string key
//! is hashed as its text; any other key as a canonical JSON text of its typed values (the text
//! Python's `json.dumps(values, separators=(",", ":"), ensure_ascii=False)` writes), so that two
//! copies the core would call duplicates hash alike.
//!
//! The body is cut where the parser found its records ([`validate_with_extents`] validates and
//! notes each record's bytes in the same pass): a JSON array part is an array of its elements,
//! an NDJSON part its lines, a CSV part the header and its rows, each record's bytes as sent, so
//! that the consumer's core accepts and rejects exactly what the API's did. Rejected records
//! have no trustworthy key: they travel in the first part (the part of the body's first valid
//! record). A body whose records all go to one shard is one part: the body itself.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::Array;

use crate::batch::ValidatedBatch;
use crate::contract::{Contract, FieldType};
use crate::error::Result;
use crate::input::{content_start, is_gzip, Format};
use crate::parse::{parse_with, Body, ParseOptions, RecordView, Sink};
use crate::rejection::Rejection;
use crate::validate::Validator;

/// Iceberg's bucket hash is 31 bits (murmur3 & 0x7fffffff) taken modulo this.
pub const BUCKETS: u32 = (1 << 31) - 1;
/// `bucket << SPREAD` spans the 128-bit hash key space: (2**31 - 1) << 97 < 2**128.
pub const SPREAD: u32 = 97;

/// Where each record of a body lies (`start..end`, by record index, accepted or rejected, as
/// [`crate::record_extents`] reports them), and the format the parser read the body as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extents {
    pub format: Format,
    pub spans: Vec<(usize, usize)>,
}

/// Parse and validate a body in one pass (as [`crate::parse()`] then [`crate::validate()`]
/// would, with the same result), noting where each record lies for [`route`].
pub fn validate_with_extents(
    body: Body,
    options: &ParseOptions,
    contract: Arc<Contract>,
) -> Result<(ValidatedBatch, Extents)> {
    let body_bytes = (*body).as_ref().len();
    let capacity = body_bytes / 200 + 16; // records run to a couple of hundred bytes
    let mut sink = WithExtents { validator: Validator::new(contract, capacity, body_bytes), spans: Vec::new() };
    let format = parse_with(body, options, &mut sink)?;
    Ok((sink.validator.finish(Vec::new()), Extents { format, spans: sink.spans }))
}

/// The validator, listening to the parser's record boundaries too.
struct WithExtents<'w> {
    validator: Validator<'w>,
    spans: Vec<(usize, usize)>,
}

impl Sink for WithExtents<'_> {
    const RETAINS_RECORDS: bool = false;

    fn accept(&mut self, record: &RecordView<'_>) {
        self.validator.accept(record);
    }

    fn reject(&mut self, rejection: Rejection) {
        self.validator.reject(rejection);
    }

    fn extent(&mut self, index: u64, start: usize, end: usize) {
        debug_assert_eq!(index as usize, self.spans.len(), "records are numbered in order");
        self.spans.push((start, end));
    }
}

/// One stream record of a request: the records of one shard, in body order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The index of the shard (in `starts`, see [`route`]).
    pub shard: usize,
    /// The explicit hash key: the part's first record's (`bucket << SPREAD`).
    pub hash_key: u128,
    /// Records in the part, rejected ones included.
    pub records: usize,
    /// The part's bytes; None when the part is the whole body as sent.
    pub body: Option<Vec<u8>>,
}

/// The parts of `body`, in the order of their first records, for shards whose ranges start at
/// `starts` (sorted, the first at 0). None when the body cannot be cut: the contract has no
/// dedup key, no record is valid, the body is gzip (the extents are into what it inflates
/// to), the extents do not match the batch, or a CSV body has no header before its rows.
pub fn route(body: &[u8], batch: &ValidatedBatch, extents: &Extents, starts: &[u128]) -> Option<Vec<Part>> {
    let buckets = record_buckets(batch)?;
    split(body, extents.format, &buckets, &extents.spans, starts)
}

/// The bucket of every record's key by record index (None for a rejected record); None when
/// the contract has no dedup key or the rejections do not fit the batch.
pub fn record_buckets(batch: &ValidatedBatch) -> Option<Vec<Option<u32>>> {
    let contract = &batch.contract;
    if contract.dedup_key.is_empty() {
        return None;
    }
    let keys: Vec<usize> = contract.dedup_key.iter().map(|name| contract.field_index(name)).collect::<Option<_>>()?;
    let valid = valid_buckets(batch, &keys);
    let received = batch.num_rows + batch.rejected.len();
    let mut buckets = vec![Some(0); received];
    for rejection in &batch.rejected {
        *buckets.get_mut(rejection.record_index as usize)? = None;
    }
    let mut valid = valid.into_iter();
    for slot in buckets.iter_mut().filter(|b| b.is_some()) {
        *slot = Some(valid.next()?);
    }
    Some(buckets)
}

/// The bucket of each valid row's key, in row order.
fn valid_buckets(batch: &ValidatedBatch, keys: &[usize]) -> Vec<u32> {
    let fields = &batch.contract.fields;
    if let [key] = keys[..] {
        if fields[key].field_type == FieldType::String {
            // The usual key (`event_id`): its text as is, no copy.
            let column = batch.columns[key].as_string::<i32>();
            return (0..batch.num_rows).map(|row| bucket(column.value(row).as_bytes())).collect();
        }
    }
    let columns: Vec<(&dyn Array, FieldType)> =
        keys.iter().map(|&key| (batch.columns[key].as_ref(), fields[key].field_type)).collect();
    let mut text = String::with_capacity(64);
    (0..batch.num_rows)
        .map(|row| {
            key_text(&columns, row, &mut text);
            bucket(text.as_bytes())
        })
        .collect()
}

/// The canonical JSON text of one row's key values, as Python's `json.dumps` writes the list
/// of them (timestamps and dates as their integers, which is what the core's key compares).
pub fn key_text(columns: &[(&dyn Array, FieldType)], row: usize, out: &mut String) {
    out.clear();
    out.push('[');
    for (i, &(column, field_type)) in columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if column.is_null(row) {
            out.push_str("null");
            continue;
        }
        match field_type {
            FieldType::String | FieldType::Json => push_json_string(out, column.as_string::<i32>().value(row)),
            FieldType::Int => push_display(out, column.as_primitive::<Int64Type>().value(row)),
            FieldType::Timestamp => push_display(out, column.as_primitive::<TimestampMicrosecondType>().value(row)),
            FieldType::Date => push_display(out, column.as_primitive::<Date32Type>().value(row)),
            FieldType::Float => push_python_float(out, column.as_primitive::<Float64Type>().value(row)),
            FieldType::Bool => out.push_str(if column.as_boolean().value(row) { "true" } else { "false" }),
        }
    }
    out.push(']');
}

fn push_display(out: &mut String, value: impl std::fmt::Display) {
    write!(out, "{value}").expect("writing to a String");
}

/// A JSON string as Python's `json.dumps(..., ensure_ascii=False)` writes it: only `"`, `\`
/// and control characters escaped.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => push_display(out, format_args!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float as Python's `repr` (and so `json.dumps`) writes it: the shortest digits that read
/// back as the same float, in positional notation from 1e-4 up to 1e16, in exponent notation
/// (`1e+16`, `1.5e-05`) outside; `-0.0` as `0.0` (the core's key calls them equal).
fn push_python_float(out: &mut String, value: f64) {
    let value = value + 0.0; // IEEE: -0.0 + 0.0 is 0.0
    if value.is_nan() {
        return out.push_str("NaN");
    }
    if value.is_infinite() {
        return out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    }
    // Rust's `{:e}` writes the shortest round-trip digits too: "-1.2345e-7", "0e0".
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} writes an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} writes an integer exponent");
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    let point = exponent + 1; // the value is 0.DIGITS × 10^point
    out.push_str(sign);
    if -4 < point && point <= 16 {
        if point <= 0 {
            out.push_str("0.");
            (0..-point).for_each(|_| out.push('0'));
            out.push_str(&digits);
        } else if point as usize >= digits.len() {
            out.push_str(&digits);
            (digits.len()..point as usize).for_each(|_| out.push('0'));
            out.push_str(".0");
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            push_display(out, format_args!("{whole}.{fraction}"));
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        push_display(out, format_args!("e{exponent_sign}{:02}", exponent.abs()));
    }
}

/// Iceberg's bucket of a key's text: `(murmur3_32(text) & 0x7fffffff) % (2**31 - 1)`.
pub fn bucket(text: &[u8]) -> u32 {
    (murmur3_32(text, 0) & 0x7fff_ffff) % BUCKETS
}

/// A bucket's place in the hash key space.
pub fn hash_key(bucket: u32) -> u128 {
    u128::from(bucket) << SPREAD
}

/// The hash key of one key's text (a single string key's value).
pub fn key_hash(text: &str) -> u128 {
    hash_key(bucket(text.as_bytes()))
}

/// MurmurHash3's x86 32-bit hash, the one Iceberg's bucket transform uses.
fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mix = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut hash = seed;
    let blocks = data.chunks_exact(4);
    let tail = blocks.remainder();
    for block in blocks {
        hash ^= mix(u32::from_le_bytes(block.try_into().expect("a block is 4 bytes")));
        hash = hash.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    if !tail.is_empty() {
        let k = tail.iter().rev().fold(0u32, |k, &byte| (k << 8) | u32::from(byte));
        hash ^= mix(k);
    }
    hash ^= data.len() as u32;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

/// The index of the shard whose range holds `hash_key` (`starts` sorted, the first at 0).
pub fn owner(starts: &[u128], hash_key: u128) -> usize {
    starts.partition_point(|&start| start <= hash_key).saturating_sub(1)
}

/// The parts of `body` given every record's bucket (None: rejected) and extents: see [`route`].
pub fn split(
    body: &[u8],
    format: Format,
    buckets: &[Option<u32>],
    extents: &[(usize, usize)],
    starts: &[u128],
) -> Option<Vec<Part>> {
    let first = buckets.iter().flatten().copied().next()?;
    // Rejected records ride with the first part, on the shard of the first valid record.
    let keyed: Vec<u32> = buckets.iter().map(|b| b.unwrap_or(first)).collect();
    let owners: Vec<usize> = keyed.iter().map(|&b| owner(starts, hash_key(b))).collect();
    if owners.iter().all(|&o| o == owners[0]) {
        return Some(vec![Part { shard: owners[0], hash_key: hash_key(first), records: keyed.len(), body: None }]);
    }
    if is_gzip(body) || extents.len() != keyed.len() || extents.iter().any(|&(s, e)| s > e || e > body.len()) {
        return None;
    }
    let framing = Framing::of(body, format, extents)?;
    // Shards in the order of their first records, each with its records' indexes.
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (index, &shard) in owners.iter().enumerate() {
        match groups.iter_mut().find(|(s, _)| *s == shard) {
            Some((_, records)) => records.push(index),
            None => groups.push((shard, vec![index])),
        }
    }
    let parts = groups
        .into_iter()
        .map(|(shard, records)| Part {
            shard,
            // The first part's first record is the body's first valid one: never a stand-in.
            hash_key: hash_key(keyed[records[0]]),
            records: records.len(),
            body: Some(framing.assemble(body, extents, &records)),
        })
        .collect();
    Some(parts)
}

/// How a part's body is made of its records' bytes.
enum Framing<'b> {
    /// NDJSON: each record on its line.
    Lines,
    /// A JSON array of the records.
    Array,
    /// CSV: the header (the bytes before the first row, without line ends), then each row.
    Csv { header: &'b [u8] },
}

impl<'b> Framing<'b> {
    fn of(body: &'b [u8], format: Format, extents: &[(usize, usize)]) -> Option<Framing<'b>> {
        match format {
            Format::Ndjson => Some(Framing::Lines),
            Format::Json => Some(Framing::Array),
            Format::Csv => {
                let start = content_start(body);
                let first_row = extents.first()?.0.max(start);
                let mut header = &body[start..first_row];
                while let [rest @ .., b'\r' | b'\n'] = header {
                    header = rest;
                }
                (!header.is_empty()).then_some(Framing::Csv { header })
            }
        }
    }

    fn assemble(&self, body: &[u8], extents: &[(usize, usize)], records: &[usize]) -> Vec<u8> {
        let spans = records.iter().map(|&i| &body[extents[i].0..extents[i].1]);
        let size: usize = records.iter().map(|&i| extents[i].1 - extents[i].0 + 1).sum();
        match self {
            Framing::Lines => {
                let mut out = Vec::with_capacity(size);
                for span in spans {
                    out.extend_from_slice(span);
                    out.push(b'\n');
                }
                out
            }
            Framing::Array => {
                let mut out = Vec::with_capacity(size + 2);
                out.push(b'[');
                for (i, span) in spans.enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(span);
                }
                out.push(b']');
                out
            }
            Framing::Csv { header } => {
                let mut out = Vec::with_capacity(header.len() + 1 + size);
                out.extend_from_slice(header);
                out.push(b'\n');
                for span in spans {
                    out.extend_from_slice(span);
                    out.push(b'\n');
                }
                out
            }
        }
    }
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;

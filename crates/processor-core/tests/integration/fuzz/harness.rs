//! The fuzz harnesses: one function per target, each taking the fuzzer's bytes and asserting
//! what must hold for every input (no panic, every record accounted for, agreement with an
//! oracle). Shared by two drivers, so that the smoke in `make test` runs exactly what the
//! fuzzer runs:
//! - `crates/processor-core/fuzz/fuzz_targets/*.rs` (cargo-fuzz, libFuzzer: `make fuzz`)
//!   include this file with `#[path]`;
//! - `super` (tests/integration/fuzz) replays each target's corpus and a few thousand
//!   generated inputs through them in the ordinary `cargo test` build.
//!
//! Only the crate's public API is used. Where an input needs options (a format, a contract),
//! its first byte chooses them and the rest is the body.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use processor_core::json::{compact, scan_value, skip_ws, unescape, JsonKind};
use processor_core::timestamp::{self, TimestampError};
use processor_core::*;

/// A harness: it panics when an input breaks a rule.
pub type Harness = fn(&[u8]);

/// Every harness, by its cargo-fuzz target name (the corpus folder's name too).
pub const TARGETS: [(&str, Harness); 9] = [
    ("json_scanner", json_scanner),
    ("ndjson", ndjson),
    ("csv", csv),
    ("gzip", gzip),
    ("timestamp", timestamp),
    ("contract", contract),
    ("process_body", process_body),
    ("differential", differential),
    ("dedup_state", dedup_state),
];

fn body(bytes: &[u8]) -> Body {
    Arc::new(bytes.to_vec())
}

/// The first byte (options) and the rest (the body); an empty input is option 0, no body.
fn split(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, data),
    }
}

/// A contract with every field type and every check: the validator's every branch is
/// reachable from the body alone.
const ALL_TYPES: &str = "
name: all
dedup_key: [s, i]
extra_fields: reject
partition: {field: t, granularity: day, column: t_day}
fields:
  - {name: s, type: string, required: true, nullable: false, min_length: 1, max_length: 8}
  - {name: i, type: int, required: true, nullable: false, min: -5, max: 1000}
  - {name: f, type: float, min: 0.5, max: 2.5}
  - {name: b, type: bool}
  - {name: t, type: timestamp, required: true}
  - {name: d, type: date}
  - {name: j, type: json}
  - {name: e, type: string, enum: [alpha, beta]}
";

/// The shipped contracts and [`ALL_TYPES`], loaded once.
fn contracts() -> &'static [Arc<Contract>; 4] {
    static CONTRACTS: OnceLock<[Arc<Contract>; 4]> = OnceLock::new();
    CONTRACTS.get_or_init(|| {
        // Relative to this file: the fuzz crate and the test binary find them alike.
        let load = |text: &str, name: &str| Arc::new(Contract::from_yaml(text, name).unwrap());
        [
            Arc::new(Contract::default_events()),
            load(include_str!("../../../../../src/eventlake/resources/contracts/users.yaml"), "users.yaml"),
            load(include_str!("../../../../../src/eventlake/resources/contracts/products.yaml"), "products.yaml"),
            Arc::new(Contract::from_yaml(ALL_TYPES, "all.yaml").unwrap()),
        ]
    })
}

/// Options from the selector byte: bits 0-1 the format (auto, json, ndjson, csv), bit 2 the
/// ingest edge's truncated-body error, bit 3 a small record limit (64 bytes), bits 4-5 the
/// contract.
fn options(selector: u8) -> (ParseOptions, Arc<Contract>) {
    let format = [None, Some(Format::Json), Some(Format::Ndjson), Some(Format::Csv)][(selector & 3) as usize];
    let options = ParseOptions {
        format,
        truncated_is_error: selector & 4 != 0,
        max_record_bytes: if selector & 8 != 0 { 64 } else { parse::DEFAULT_MAX_RECORD_BYTES },
        // Small enough that a gzip bomb in the corpus costs milliseconds, not a gigabyte.
        max_decompressed_bytes: 1 << 20,
    };
    (options, contracts()[(selector >> 4 & 3) as usize].clone())
}

/// Parse a body and check what every parse must give: each record counted once, as accepted
/// or rejected, at the place [`record_extents`] finds it.
fn check_parse(bytes: &[u8], options: &ParseOptions) -> Option<ParsedBatch> {
    let parsed = parse(body(bytes), options);
    let extents = record_extents(body(bytes), options);
    let parsed = match (parsed, extents) {
        (Ok(parsed), Ok(extents)) => {
            assert_eq!(parsed.received(), extents.len() as u64, "the extents count every record");
            let size = parsed.bytes().len();
            for window in extents.windows(2) {
                assert!(window[0].1 <= window[1].0, "records are in order and do not overlap: {extents:?}");
            }
            assert!(extents.iter().all(|&(start, end)| start <= end && end <= size), "{extents:?} in {size}");
            parsed
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "parse and record_extents fail alike");
            return None;
        }
        (a, b) => panic!("parse {a:?} but record_extents {b:?}"),
    };
    let mut indexes: Vec<u64> = parsed.rejected.iter().map(|r| r.record_index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), parsed.rejected.len(), "one rejection per record");
    assert!(indexes.last().is_none_or(|&last| last < parsed.received()));
    for rejection in &parsed.rejected {
        assert!(rejection.raw.len() <= rejection::MAX_RAW_BYTES);
    }
    Some(parsed)
}

/// Validation keeps the count, and a validated batch is a well-formed Arrow batch.
fn check_validate(parsed: &ParsedBatch, contract: Arc<Contract>) {
    let validated = validate(parsed, contract);
    assert_eq!(validated.received(), parsed.received());
    let batch = validated.to_record_batch().expect("validated columns match the contract's schema");
    assert_eq!(batch.num_rows(), validated.num_rows);
}

/// The JSON scanner against serde_json: a value the scanner accepts is JSON to serde_json too
/// (bar the documented differences: lone surrogates, numbers beyond f64, nesting past
/// serde_json's recursion limit), and a whole input serde_json accepts is one value to the
/// scanner. Strings decode to serde_json's text and compact forms read back the same.
pub fn json_scanner(data: &[u8]) {
    let start = skip_ws(data, 0);
    let scanned = scan_value(data, start);
    let serde = serde_json::from_slice::<serde_json::Value>(data);
    match &scanned {
        Ok(info) => {
            assert!(info.end > start && info.end <= data.len());
            let raw = &data[start..info.end];
            let comparable = info.depth < 100 && !info.lone_surrogate && std::str::from_utf8(raw).is_ok();
            if comparable {
                match serde_json::from_slice::<serde_json::Value>(raw) {
                    Ok(value) => {
                        let text = compact(raw);
                        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).ok(), Some(value.clone()));
                        if let (JsonKind::String { .. }, serde_json::Value::String(decoded)) = (info.kind, &value) {
                            let inner = &raw[1..raw.len() - 1];
                            assert_eq!(unescape(inner).as_deref(), Some(decoded.as_str()));
                        }
                    }
                    // Python's json reads 1e400 as inf; serde_json refuses it.
                    Err(err) => assert!(err.to_string().contains("number out of range"), "{err}: {raw:?}"),
                }
            }
            if serde.is_ok() {
                assert_eq!(skip_ws(data, info.end), data.len(), "serde_json read one value: so must the scanner");
            }
        }
        Err(err) => {
            assert!(err.pos <= data.len());
            if let Ok(value) = &serde {
                // serde_json decodes a lone surrogate escape to an error, never to a value;
                // only nesting beyond its limit could differ, and it refuses that itself.
                panic!("serde_json read {value:?} where the scanner found {err:?}");
            }
        }
    }
}

/// NDJSON bodies (format forced, and auto-detected with the selector's other options).
pub fn ndjson(data: &[u8]) {
    let (selector, bytes) = split(data);
    let (mut options, contract) = options(selector);
    options.format = if selector & 1 == 0 { Some(Format::Ndjson) } else { None };
    if let Some(parsed) = check_parse(bytes, &options) {
        check_validate(&parsed, contract);
    }
}

/// CSV bodies: a header, then rows.
pub fn csv(data: &[u8]) {
    let (selector, bytes) = split(data);
    let (mut options, contract) = options(selector);
    options.format = Some(Format::Csv);
    if let Some(parsed) = check_parse(bytes, &options) {
        check_validate(&parsed, contract);
    }
}

/// The bounded gunzip: never more than its limit, and compressing then gunzipping gives the
/// bytes back. The raw input is tried as gzip too (corrupt members, trailing garbage, bombs).
pub fn gzip(data: &[u8]) {
    let limit = 1 << 16;
    match gunzip(data, limit) {
        Ok(out) => assert!(out.len() <= limit),
        Err(CoreError::Input { reason: InputErrorKind::BadGzip | InputErrorKind::TooLarge, .. }) => {}
        Err(other) => panic!("gunzip: {other:?}"),
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    let gz = encoder.finish().unwrap();
    match gunzip(&gz, limit) {
        Ok(out) => assert_eq!(out, data),
        Err(CoreError::Input { reason: InputErrorKind::TooLarge, .. }) => assert!(data.len() > limit),
        Err(other) => panic!("gunzip of a good member: {other:?}"),
    }
    // Through the parser, as a body: the same records as the plain body.
    let options = ParseOptions { max_decompressed_bytes: limit, ..ParseOptions::default() };
    if data.len() <= limit && !data.starts_with(&input::GZIP_MAGIC) {
        let plain = parse(body(data), &options).map(|p| p.rejected);
        let zipped = parse(body(&gz), &options).map(|p| p.rejected);
        assert_eq!(plain, zipped);
    }
    let _ = parse(body(data), &options);
}

/// Timestamps and dates: no panic; a parsed value is in range and on the day the calendar
/// functions give; a date is a timestamp at midnight.
pub fn timestamp(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(micros) = timestamp::parse_iso(text) {
        assert!((timestamp::MIN_MICROS..=timestamp::MAX_MICROS).contains(&micros));
        let day = timestamp::day_of(micros) as i64;
        let (year, month, date) = timestamp::civil_from_days(day);
        assert!((1..=9999).contains(&year), "{text}: {year}");
        assert_eq!(timestamp::days_from_civil(year, month, date), day);
    }
    match timestamp::parse_date(text) {
        Ok(day) => {
            let midnight = timestamp::parse_iso(&format!("{text}T00:00:00Z"));
            assert_eq!(midnight, Ok(day as i64 * timestamp::MICROS_PER_DAY), "{text}");
        }
        Err(TimestampError::OutOfRange) => assert!(text.starts_with("0000-")),
        Err(TimestampError::Bad) => {}
    }
    // The first eight bytes as epoch numbers: in range or an error, never a wrapped value.
    let mut eight = [0u8; 8];
    let n = data.len().min(8);
    eight[..n].copy_from_slice(&data[..n]);
    for micros in
        [timestamp::from_epoch_int(i64::from_le_bytes(eight)), timestamp::from_epoch_float(f64::from_le_bytes(eight))]
            .into_iter()
            .flatten()
    {
        assert!((timestamp::MIN_MICROS..=timestamp::MAX_MICROS).contains(&micros));
    }
}

/// Contract text: an error or a contract that works: its normalised JSON loads back to the
/// same contract, its schemas build, and a record goes through `process` with it.
pub fn contract(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(contract) = Contract::from_yaml(text, "fuzz.yaml") else {
        return;
    };
    let json = contract.to_json();
    let again = Contract::from_yaml(&json, "fuzz.json").expect("a normalised contract loads");
    assert_eq!(again.to_json(), json);
    let _ = transformed_schema(&contract);
    let record = contract.fields.iter().map(|f| format!("{:?}: null", f.name)).collect::<Vec<_>>().join(", ");
    let out = process(
        body(format!("{{{record}}}\n{{}}\n[1]\n").as_bytes()),
        Arc::new(contract),
        &ParseOptions::default(),
        &TransformOptions::default(),
        None,
    )
    .expect("an NDJSON body is readable");
    assert_eq!(out.received(), 3);
}

/// The fused path on any body: every record accounted for, once.
pub fn process_body(data: &[u8]) {
    let (selector, bytes) = split(data);
    let (options, contract) = options(selector);
    let transform_options = TransformOptions { ingested_at_us: Some(1), ..TransformOptions::default() };
    let Ok(out) = process(body(bytes), contract, &options, &transform_options, None) else {
        return;
    };
    let extents = record_extents(body(bytes), &options).expect("process read the body");
    assert_eq!(out.received(), extents.len() as u64);
    let mut indexes: Vec<u64> = out.rejected.iter().map(|r| r.record_index).collect();
    indexes.dedup();
    assert_eq!(indexes.len(), out.rejected.len(), "one rejection per record, in record order");
}

/// The fused path (`process`) against the steps (parse → validate → transform → deduplicate),
/// within one batch and across two batches with a window: the same rows, the same
/// rejections (record, line, field, reason, message and raw text, in the same order), the
/// same duplicate counts, the same window afterwards.
pub fn differential(data: &[u8]) {
    let (selector, bytes) = split(data);
    let (options, contract) = options(selector);
    let transform_options = TransformOptions { job_id: "j".into(), source: "s".into(), ingested_at_us: Some(1) };
    let steps = |window: Option<&mut Deduplicator>| {
        parse(body(bytes), &options).map(|parsed| {
            let transformed = transform(&validate(&parsed, contract.clone()), &transform_options);
            match window {
                Some(window) => window.deduplicate(&transformed),
                None => deduplicate(&transformed),
            }
        })
    };
    let fused = |window: Option<&mut Deduplicator>| {
        process(body(bytes), contract.clone(), &options, &transform_options, window)
    };
    let same = |a: Result<TransformedBatch>, b: Result<TransformedBatch>| match (a, b) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.batch, b.batch, "the same rows");
            assert_eq!(a.rejected, b.rejected, "the same rejections");
            assert_eq!(a.duplicates, b.duplicates, "the same duplicates");
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("fused {a:?} but steps {b:?}"),
    };
    same(fused(None), steps(None));
    // A window smaller than the batch forgets while it remembers.
    let capacity = (selector >> 6) as usize * 2;
    let (mut fused_window, mut steps_window) = (Deduplicator::new(capacity), Deduplicator::new(capacity));
    for _ in 0..2 {
        same(fused(Some(&mut fused_window)), steps(Some(&mut steps_window)));
        assert_eq!(fused_window.to_bytes(), steps_window.to_bytes(), "the same window");
    }
}

/// A saved deduplication window (the consumer's file): an error, or a window that saves to
/// bytes that load back to the same window (a file with a key twice keeps it once).
pub fn dedup_state(data: &[u8]) {
    if let Ok(window) = Deduplicator::from_bytes(data) {
        let saved = window.to_bytes();
        if window.len() as u64 * 16 + 24 == data.len() as u64 {
            assert_eq!(saved, data, "a window without repeated keys saves to the same bytes");
        }
        assert_eq!(Deduplicator::from_bytes(&saved).expect("a saved window loads").to_bytes(), saved);
    }
}

//! Tests of `routing`: the hash against Iceberg's, the key texts against Python's, and bodies
//! cut into parts that the core reads back as it read the whole.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};

use super::*;
use crate::parse::parse;
use crate::validate::validate;

/// Four shards splitting the hash key space evenly (as the embedded stream's do).
fn four() -> Vec<u128> {
    (0..4u128).map(|i| i << 126).collect()
}

fn event(id: &str, event_type: &str) -> String {
    format!(
        r#"{{"event_id": "{id}", "user_id": "u-1", "event_type": "{event_type}", "event_timestamp": "2026-11-01T12:00:00Z"}}"#
    )
}

fn body_of(ids: &[String], format: Format, bad: Option<usize>) -> Vec<u8> {
    let kind = |i: usize| if Some(i) == bad { "teleport" } else { "page_view" };
    match format {
        Format::Json => {
            format!("[\n {}\n]", (0..ids.len()).map(|i| event(&ids[i], kind(i))).collect::<Vec<_>>().join(",\n "))
        }
        Format::Ndjson => (0..ids.len()).map(|i| event(&ids[i], kind(i)) + "\r\n").collect(),
        Format::Csv => {
            let rows: String =
                (0..ids.len()).map(|i| format!("{},\"u\r\n1\",{},2026-11-01T12:00:00Z\r\n", ids[i], kind(i))).collect();
            format!("\u{FEFF}event_id,user_id,event_type,event_timestamp\r\n{rows}")
        }
    }
    .into_bytes()
}

fn validated(body: &[u8], format: Format) -> (ValidatedBatch, Extents) {
    let options = ParseOptions { format: Some(format), ..ParseOptions::default() };
    validate_with_extents(Arc::new(body.to_vec()), &options, Arc::new(Contract::default_events())).unwrap()
}

/// The event ids and rejection count the core reads from a body.
fn read(body: &[u8], format: Format) -> (Vec<String>, usize) {
    let (batch, _) = validated(body, format);
    let ids = batch.columns[0].as_string::<i32>().iter().map(|v| v.unwrap().to_string()).collect();
    (ids, batch.rejected.len())
}

fn shard_of(id: &str) -> usize {
    owner(&four(), key_hash(id))
}

#[test]
fn murmur3_and_the_bucket_match_icebergs_spec() {
    // Iceberg's spec, appendix B: the hash of 34 (a long, 8 bytes little-endian), of
    // "iceberg", of the bytes 00 01 02 03 (-188683207 as a signed int).
    assert_eq!(murmur3_32(&34i64.to_le_bytes(), 0), 2017239379);
    assert_eq!(murmur3_32(b"iceberg", 0), 1210000089);
    assert_eq!(murmur3_32(&[0, 1, 2, 3], 0), (-188683207i32) as u32);
    assert_eq!(bucket(b"iceberg"), 1210000089);
    // The top bit dropped, then modulo 2**31 - 1: every bucket is below BUCKETS.
    assert!((0..1000).all(|i| bucket(format!("k-{i}").as_bytes()) < BUCKETS));
    assert_eq!(hash_key(BUCKETS - 1) >> SPREAD, u128::from(BUCKETS - 1));
    assert!(hash_key(BUCKETS - 1).checked_add(1 << SPREAD).is_some(), "the spread fits 128 bits");
}

#[test]
fn owners_follow_the_shards_ranges() {
    let starts = four();
    assert_eq!(owner(&starts, 0), 0);
    assert_eq!(owner(&starts, (1 << 126) - 1), 0);
    assert_eq!(owner(&starts, 1 << 126), 1);
    assert_eq!(owner(&starts, u128::MAX), 3);
    assert_eq!(owner(&[0], u128::MAX), 0);
}

#[test]
fn key_texts_are_pythons_json_of_the_typed_values() {
    let text = |columns: Vec<(ArrayRef, FieldType)>, row: usize| {
        let columns: Vec<(&dyn Array, FieldType)> = columns.iter().map(|(a, t)| (a.as_ref(), *t)).collect();
        let mut out = String::new();
        key_text(&columns, row, &mut out);
        out
    };
    let micros: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![1_700_000_000_000_000]).with_timezone("UTC"));
    let user: ArrayRef = Arc::new(StringArray::from(vec!["u \"q\" \\ \n\t\u{1}é"]));
    assert_eq!(
        text(vec![(user, FieldType::String), (micros, FieldType::Timestamp)], 0),
        "[\"u \\\"q\\\" \\\\ \\n\\t\\u0001é\",1700000000000000]"
    );
    let others: Vec<(ArrayRef, FieldType)> = vec![
        (Arc::new(Int64Array::from(vec![-5])), FieldType::Int),
        (Arc::new(BooleanArray::from(vec![true])), FieldType::Bool),
        (Arc::new(Date32Array::from(vec![20_000])), FieldType::Date),
    ];
    assert_eq!(text(others, 0), "[-5,true,20000]");
    // Floats as Python's repr: json.dumps([x]) for each.
    let floats = [
        (0.0, "0.0"),
        (-0.0, "0.0"),
        (1.0, "1.0"),
        (-2.5, "-2.5"),
        (0.1, "0.1"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1234567890123456.0, "1234567890123456.0"),
        (1e16, "1e+16"),
        (1.2345678901234568e17, "1.2345678901234568e+17"),
        (1e300, "1e+300"),
        (f64::INFINITY, "Infinity"),
        (f64::NAN, "NaN"),
    ];
    for (value, python) in floats {
        let column: ArrayRef = Arc::new(Float64Array::from(vec![value]));
        assert_eq!(text(vec![(column, FieldType::Float)], 0), format!("[{python}]"), "{value}");
    }
}

#[test]
fn the_one_pass_validates_as_parse_then_validate() {
    for format in [Format::Json, Format::Ndjson, Format::Csv] {
        let ids: Vec<String> = (0..20).map(|i| format!("e-{i}")).collect();
        let mut body = body_of(&ids, format, Some(3));
        if format == Format::Ndjson {
            body.extend_from_slice(b"{broken\n[1]\n");
        }
        let (batch, extents) = validated(&body, format);
        let options = ParseOptions { format: Some(format), ..ParseOptions::default() };
        let two_steps =
            validate(&parse(Arc::new(body.clone()), &options).unwrap(), Arc::new(Contract::default_events()));
        assert_eq!(batch.to_record_batch().unwrap(), two_steps.to_record_batch().unwrap());
        let reasons = |b: &ValidatedBatch| b.rejected.iter().map(|r| (r.record_index, r.reason)).collect::<Vec<_>>();
        assert_eq!(reasons(&batch), reasons(&two_steps));
        assert_eq!(extents.spans, crate::record_extents(Arc::new(body.clone()), &options).unwrap());
        assert_eq!(extents.format, format);
    }
}

#[test]
fn a_body_is_cut_by_shard_every_record_once_in_order() {
    let ids: Vec<String> = (0..40).map(|i| format!("e-{i}")).collect();
    for format in [Format::Json, Format::Ndjson, Format::Csv] {
        let body = body_of(&ids, format, Some(5)); // record 5 is rejected: it rides in the first part
        let (batch, extents) = validated(&body, format);
        let parts = route(&body, &batch, &extents, &four()).unwrap();
        assert_eq!(parts.len(), 4, "{format:?}");
        assert_eq!(parts.iter().map(|p| p.records).sum::<usize>(), 40);
        let mut seen = Vec::new();
        for (number, part) in parts.iter().enumerate() {
            let (part_ids, rejected) = read(part.body.as_ref().unwrap(), format);
            assert_eq!(rejected, usize::from(number == 0), "{format:?}");
            assert_eq!(part.records, part_ids.len() + rejected);
            let order: Vec<usize> = part_ids.iter().map(|i| i[2..].parse().unwrap()).collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "body order kept: {order:?}");
            assert!(part_ids.iter().all(|id| shard_of(id) == part.shard));
            assert_eq!(owner(&four(), part.hash_key), part.shard);
            assert_eq!(part.hash_key, key_hash(&part_ids[0]), "a part's hash key is its first record's");
            seen.extend(part_ids);
        }
        seen.sort();
        let mut expected: Vec<String> = ids.iter().filter(|i| *i != "e-5").cloned().collect();
        expected.sort();
        assert_eq!(seen, expected, "every valid record in exactly one part");
        assert_eq!(read(parts[0].body.as_ref().unwrap(), format).0[0], "e-0", "the first part holds the first record");
    }
}

#[test]
fn parts_keep_each_records_bytes_and_the_framing() {
    let ids: Vec<String> = (0..12).map(|i| format!("e-{i}")).collect();
    let csv = body_of(&ids, Format::Csv, None);
    let (batch, extents) = validated(&csv, Format::Csv);
    let parts = route(&csv, &batch, &extents, &four()).unwrap();
    for part in &parts {
        let text = String::from_utf8(part.body.clone().unwrap()).unwrap();
        // No byte-order mark, the header's line end normalised, the quoted CRLF kept in its row.
        assert!(text.starts_with("event_id,user_id,event_type,event_timestamp\n"), "{text}");
        assert_eq!(text.matches("\"u\r\n1\"").count(), part.records);
        assert!(text.ends_with("Z\n"));
    }
    let ndjson = body_of(&ids, Format::Ndjson, None);
    let (batch, extents) = validated(&ndjson, Format::Ndjson);
    for part in route(&ndjson, &batch, &extents, &four()).unwrap() {
        let text = String::from_utf8(part.body.unwrap()).unwrap();
        assert!(!text.contains('\r') && text.ends_with("}\n") && text.lines().count() == part.records);
    }
    let json = body_of(&ids, Format::Json, None);
    let (batch, extents) = validated(&json, Format::Json);
    for part in route(&json, &batch, &extents, &four()).unwrap() {
        let text = String::from_utf8(part.body.unwrap()).unwrap();
        assert!(text.starts_with("[{\"event_id\"") && text.ends_with("}]") && text.contains("},{"), "{text}");
    }
}

#[test]
fn a_body_on_one_shard_is_the_body_as_sent() {
    let ids: Vec<String> = (0..400).map(|i| format!("k-{i}")).filter(|id| shard_of(id) == 2).take(10).collect();
    for format in [Format::Json, Format::Ndjson, Format::Csv] {
        let body = body_of(&ids, format, Some(4));
        let (batch, extents) = validated(&body, format);
        let parts = route(&body, &batch, &extents, &four()).unwrap();
        assert_eq!(parts, vec![Part { shard: 2, hash_key: key_hash(&ids[0]), records: 10, body: None }]);
    }
    // One shard in all: the same.
    let body = body_of(&["a".into(), "b".into()], Format::Json, None);
    let (batch, extents) = validated(&body, Format::Json);
    assert_eq!(route(&body, &batch, &extents, &[0]).unwrap()[0].body, None);
}

#[test]
fn bodies_that_cannot_be_cut() {
    let ids: Vec<String> = (0..30).map(|i| format!("z-{i}")).collect();
    // Nothing valid: no part at all (the API publishes nothing then).
    let body = body_of(&ids[..1], Format::Json, Some(0));
    let (batch, extents) = validated(&body, Format::Json);
    assert_eq!(route(&body, &batch, &extents, &four()), None);
    // Gzip inside gzip: the core's offsets are into what it inflates to, not into this body.
    let plain = body_of(&ids, Format::Ndjson, None);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzip, &plain).unwrap();
    let gzip = gzip.finish().unwrap();
    let (batch, extents) = validated(&gzip, Format::Ndjson);
    assert_eq!(batch.num_rows, 30);
    assert_eq!(route(&gzip, &batch, &extents, &four()), None);
    // Extents that do not match the batch.
    let (batch, extents) = validated(&plain, Format::Ndjson);
    assert_eq!(
        route(&plain, &batch, &Extents { format: Format::Ndjson, spans: extents.spans[1..].to_vec() }, &four()),
        None
    );
    // A contract without a dedup key routes nothing.
    let contract = Contract::from_yaml("name: e\nfields:\n  - {name: a, type: string}\n", "x").unwrap();
    let options = ParseOptions { format: Some(Format::Ndjson), ..ParseOptions::default() };
    let body = b"{\"a\": \"1\"}\n{\"a\": \"2\"}\n".to_vec();
    let (batch, extents) = validate_with_extents(Arc::new(body.clone()), &options, Arc::new(contract)).unwrap();
    assert_eq!(route(&body, &batch, &extents, &four()), None);
}

#[test]
fn broken_records_are_counted_alike_in_the_parts() {
    let events: Vec<String> = (0..10).map(|i| event(&format!("t-{i}"), "page_view")).collect();
    let rows: Vec<String> = (0..10).map(|i| format!("t-{i},u,page_view,2026-11-01T12:00:00Z")).collect();
    let bodies: Vec<(Format, Vec<u8>)> = vec![
        (Format::Json, format!("[{},{{\"event_id\": \"x\"", events.join(",")).into_bytes()),
        (
            Format::Json,
            format!("[{},{{\"event_id\": \"x\", \"a\": [1,2}}, 5, \"s\", null]", events.join(",")).into_bytes(),
        ),
        (
            Format::Json,
            [format!("[{},{{\"event_id\": \"x\", \"a\": \"", events.join(",")).as_bytes(), b"\xff\"}]"].concat(),
        ),
        (Format::Ndjson, [events.join("\n").as_bytes(), b"\n{\"event_id\": \"x\"\n\n  \n{]\n\xff\n"].concat()),
        (
            Format::Csv,
            format!("event_id,user_id,event_type,event_timestamp\n{}\n\"open,u\nx\n,,,\n", rows.join("\n"))
                .into_bytes(),
        ),
    ];
    for (format, body) in bodies {
        let (whole, extents) = validated(&body, format);
        let parts = route(&body, &whole, &extents, &four()).unwrap();
        assert!(parts.len() > 1);
        let mut counts = (0, 0, 0);
        for part in parts {
            let (batch, _) = validated(part.body.as_ref().unwrap(), format);
            counts = (counts.0 + batch.received(), counts.1 + batch.num_rows, counts.2 + batch.rejected.len());
        }
        assert_eq!(
            counts,
            (whole.received(), whole.num_rows, whole.rejected.len()),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn keys_of_several_fields_route_by_their_typed_values() {
    // Two spellings of one timestamp are one key for the core, and one shard here.
    let contract = Contract::from_yaml(
        "name: e\ndedup_key: [user_id, at]\nfields:\n  - {name: user_id, type: string, required: true, nullable: false}\n  - {name: at, type: timestamp, required: true, nullable: false}\n",
        "x",
    )
    .unwrap();
    let body = b"{\"user_id\": \"u\", \"at\": \"2023-11-14T22:13:20Z\"}\n{\"user_id\": \"u\", \"at\": \"2023-11-14T23:13:20+01:00\"}\n";
    let options = ParseOptions { format: Some(Format::Ndjson), ..ParseOptions::default() };
    let (batch, _) = validate_with_extents(Arc::new(body.to_vec()), &options, Arc::new(contract)).unwrap();
    let buckets = record_buckets(&batch).unwrap();
    assert_eq!(buckets[0], Some(bucket(b"[\"u\",1700000000000000]")));
    assert_eq!(buckets[0], buckets[1]);
}

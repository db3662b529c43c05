//! End-to-end behaviour of the core on bad and hostile input: nothing panics, nothing hangs,
//! every record is accounted for.

use std::io::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use processor_core::*;

fn events() -> Arc<Contract> {
    Arc::new(Contract::default_events())
}

fn body(bytes: impl Into<Vec<u8>>) -> Body {
    Arc::new(bytes.into())
}

fn run(bytes: impl Into<Vec<u8>>) -> TransformedBatch {
    process(body(bytes), events(), &ParseOptions::default(), &TransformOptions::default(), None).unwrap()
}

fn reasons(batch: &TransformedBatch) -> Vec<(u64, &'static str)> {
    batch.rejected.iter().map(|r| (r.line, r.reason.as_str())).collect()
}

const GOOD: &str = r#"{"event_id":"e1","user_id":"u1","event_type":"login","event_timestamp":"2026-11-03T10:15:30Z"}"#;

#[test]
fn a_good_record_lands_with_metadata() {
    let out = process(
        body(GOOD),
        events(),
        &ParseOptions::default(),
        &TransformOptions { job_id: "job-1".into(), source: "api".into(), ingested_at_us: Some(7) },
        None,
    )
    .unwrap();
    assert_eq!(out.batch.num_rows(), 1);
    assert_eq!(out.batch.column_by_name("_job_id").unwrap().as_string::<i32>().value(0), "job-1");
    assert_eq!(out.received(), 1);
}

#[test]
fn truncated_json_keeps_what_came_before() {
    let text = format!("[{GOOD},\n{GOOD}, {{\"event_id\": \"e3\"");
    let out = run(text);
    assert_eq!(out.batch.num_rows(), 1, "the second copy is a duplicate of the first");
    assert_eq!(out.duplicates, 1);
    assert_eq!(reasons(&out), vec![(2, "invalid_json")]);
}

#[test]
fn trailing_garbage_is_one_rejected_record() {
    let out = run(format!("[{GOOD}] trailing"));
    assert_eq!(out.batch.num_rows(), 1);
    assert_eq!(reasons(&out), vec![(1, "invalid_json")]);
    assert_eq!(out.rejected[0].raw, "trailing");
}

#[test]
fn deep_nesting_is_rejected_without_overflowing_the_stack() {
    let deep =
        format!("{}\n{{\"event_id\":\"e2\",\"properties\":{}1{}}}\n", GOOD, "[".repeat(100_000), "]".repeat(100_000));
    let out = run(deep);
    assert_eq!(out.batch.num_rows(), 1);
    assert_eq!(reasons(&out), vec![(2, "too_deep")]);
}

#[test]
fn huge_strings_and_records_are_bounded() {
    let huge = format!("{{\"event_id\":\"{}\"}}", "x".repeat(2 << 20));
    let out = run(format!("{huge}\n{GOOD}\n"));
    assert_eq!(reasons(&out), vec![(1, "too_large")]);
    assert!(out.rejected[0].raw.len() <= rejection::MAX_RAW_BYTES);
    assert_eq!(out.batch.num_rows(), 1);
}

#[test]
fn invalid_utf8_and_a_bom_are_handled() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(GOOD.as_bytes());
    bytes.extend_from_slice(b"\n{\"event_id\":\"\xff\xfe\"}\n");
    let out = run(bytes);
    assert_eq!(out.batch.num_rows(), 1);
    assert_eq!(reasons(&out), vec![(2, "invalid_utf8")]);
    assert!(out.rejected[0].raw.contains('\u{FFFD}'));
}

#[test]
fn csv_with_quoted_newlines_and_ragged_rows() {
    let csv = "event_id,user_id,event_type,event_timestamp,properties\n\
               e1,\"two\nlines, \"\"quoted\"\"\",login,2026-11-03T10:15:30Z,\"{\"\"a\"\": [1, 2]}\"\n\
               e2,u1,login\n\
               e3,u1,login,1700000000,\n";
    let out = run(csv);
    assert_eq!(out.batch.num_rows(), 2);
    assert_eq!(reasons(&out), vec![(4, "ragged_row")]);
    let users = out.batch.column_by_name("user_id").unwrap().as_string::<i32>();
    assert_eq!(users.value(0), "two\nlines, \"quoted\"");
    let props = out.batch.column_by_name("properties").unwrap().as_string::<i32>();
    assert_eq!(props.value(0), "{\"a\":[1,2]}");
}

#[test]
fn numbers_out_of_range_and_strings_for_numbers() {
    let lines = [
        r#"{"event_id":"a","user_id":"u","event_type":"login","event_timestamp":1e400}"#,
        r#"{"event_id":"b","user_id":"u","event_type":"login","event_timestamp":"2026-11-03T10:15:30Z","event_value":"12.5"}"#,
        r#"{"event_id":"c","user_id":"u","event_type":"login","event_timestamp":"2026-11-03T10:15:30Z","event_value":-1}"#,
        r#"{"event_id":"d","user_id":"u","event_type":"login","event_timestamp":99999999999999999999999}"#,
    ];
    let out = run(lines.join("\n"));
    assert_eq!(out.batch.num_rows(), 0);
    let got: Vec<_> = out.rejected.iter().map(|r| (r.field.as_deref().unwrap(), r.reason.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("event_timestamp", "out_of_range"),
            ("event_value", "wrong_type"),
            ("event_value", "out_of_range"),
            ("event_timestamp", "out_of_range")
        ]
    );
}

#[test]
fn a_gzip_bomb_is_refused_not_inflated() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; 50 << 20]).unwrap();
    let gz = encoder.finish().unwrap();
    let options = ParseOptions { max_decompressed_bytes: 1 << 20, ..ParseOptions::default() };
    let err = parse(body(gz), &options).unwrap_err();
    assert!(matches!(err, CoreError::Input { reason: InputErrorKind::TooLarge, .. }), "{err:?}");
}

#[test]
fn random_bytes_never_panic_and_every_record_is_counted() {
    // A tiny deterministic generator: no dev-dependency needed for a smoke fuzz.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"{}[]\":,\\ \n\r\tu0123456789abcdefnlrtse.-+E\xff\xc3\x80";
    for _ in 0..20_000 {
        let len = (next() % 48) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        for format in [None, Some(Format::Json), Some(Format::Ndjson), Some(Format::Csv)] {
            let options = ParseOptions { format, ..ParseOptions::default() };
            if let Ok(parsed) = parse(body(bytes.clone()), &options) {
                let validated = validate(&parsed, events());
                assert_eq!(validated.received(), parsed.received());
                let mut indexes: Vec<u64> = validated.rejected.iter().map(|r| r.record_index).collect();
                indexes.dedup();
                assert_eq!(indexes.len(), validated.rejected.len(), "one rejection per record");
            }
        }
    }
}

#[test]
fn deduplicator_state_round_trips_and_rejects_garbage() {
    let mut dedup = Deduplicator::new(10);
    let first = dedup.deduplicate(&run(GOOD));
    assert_eq!(first.batch.num_rows(), 1);
    let restored = Deduplicator::from_bytes(&dedup.to_bytes()).unwrap();
    assert_eq!(restored.len(), 1);
    let mut restored = restored;
    let again = restored.deduplicate(&run(GOOD));
    assert_eq!((again.batch.num_rows(), again.duplicates), (0, 1));
    for garbage in [&b""[..], b"ELDEDUP1", b"XXXXXXXX\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"] {
        assert!(Deduplicator::from_bytes(garbage).is_err());
    }
    let mut truncated = dedup.to_bytes();
    truncated.pop();
    assert!(Deduplicator::from_bytes(&truncated).is_err());
}

#[test]
fn steps_and_fused_path_agree() {
    let text = format!("{GOOD}\n{GOOD}\nnot json\n{{\"event_id\":\"x\"}}\n");
    let parsed = parse(body(text.clone()), &ParseOptions::default()).unwrap();
    let options = TransformOptions { ingested_at_us: Some(1), ..TransformOptions::default() };
    let steps = deduplicate(&transform(&validate(&parsed, events()), &options));
    let fused = process(body(text), events(), &ParseOptions::default(), &options, None).unwrap();
    assert_eq!(steps.batch, fused.batch);
    assert_eq!(steps.rejected, fused.rejected);
    assert_eq!(steps.duplicates, fused.duplicates);
}

fn one_field_contract(yaml_field: &str) -> Arc<Contract> {
    Arc::new(Contract::from_yaml(&format!("name: t\nfields:\n  - {yaml_field}\n"), "t.yaml").unwrap())
}

#[test]
fn a_character_split_across_csv_cells_is_invalid_utf8_not_a_panic() {
    let parsed = parse(body(&b"a,b\n\xc3,\xa9\nx,y\n"[..]), &ParseOptions::default()).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed.rejected.len(), 1);
    assert_eq!(parsed.rejected[0].reason, Reason::InvalidUtf8);
}

#[test]
fn many_blank_lines_are_skipped_in_linear_time() {
    let mut text = String::from(GOOD);
    text.push_str(&"\n \r".repeat(300_000));
    text.push('\n');
    text.push_str(&GOOD.replace("e1", "e2"));
    let out = run(text);
    assert_eq!((out.batch.num_rows(), out.rejected.len()), (2, 0));
}

#[test]
fn large_records_do_not_make_the_column_buffers_explode() {
    let contract = one_field_contract("{name: s, type: string}");
    let line = format!("{{\"s\":\"{}\"}}\n", "a".repeat(120_000));
    let text = line.repeat(1_100);
    let out = process(body(text), contract, &ParseOptions::default(), &TransformOptions::default(), None).unwrap();
    assert_eq!(out.batch.num_rows(), 1_100);
}

#[test]
fn raw_text_stays_within_its_cap_after_replacement_characters() {
    let mut line = b"{\"s\":\"".to_vec();
    line.extend(std::iter::repeat_n(0xff, 200_000));
    line.extend_from_slice(b"\"}");
    let out = run(line);
    assert_eq!(out.rejected[0].reason, Reason::InvalidUtf8);
    let raw = &out.rejected[0].raw;
    assert!(raw.len() <= rejection::MAX_RAW_BYTES, "{}", raw.len());
    assert!(raw.starts_with("{\"s\":\"\u{FFFD}"));
}

#[test]
fn csv_json_cells_nest_up_to_the_limit() {
    let contract = one_field_contract("{name: j, type: json}");
    let cell = |depth: usize| format!("\"{}{}\"", "[".repeat(depth), "]".repeat(depth));
    let text = format!("j\n{}\n{}\n", cell(64), cell(65));
    let out = process(body(text), contract, &ParseOptions::default(), &TransformOptions::default(), None).unwrap();
    assert_eq!(out.batch.num_rows(), 1);
    assert_eq!((out.rejected[0].line, out.rejected[0].reason), (3, Reason::InvalidJson));
}

#[test]
fn an_integer_minimum_of_two_to_the_63_rejects_every_int64() {
    let contract = one_field_contract("{name: n, type: int, min: 9223372036854775808}");
    let out = process(
        body(&b"{\"n\": 9223372036854775807}"[..]),
        contract,
        &ParseOptions::default(),
        &TransformOptions::default(),
        None,
    )
    .unwrap();
    assert_eq!(out.rejected[0].reason, Reason::OutOfRange);
}

#[test]
fn a_huge_enum_is_refused_quickly() {
    let values: Vec<String> = (0..20_000).map(|i| format!("v{i}")).collect();
    let yaml = format!("name: t\nfields:\n  - {{name: s, type: string, enum: [{}]}}\n", values.join(", "));
    assert!(matches!(Contract::from_yaml(&yaml, "t.yaml"), Err(CoreError::Contract { .. })));
}

/// Fields in any order, values that take the direct route into their column and values that
/// need the general rules (normalising, counting characters, compacting, epochs, the first
/// problem in the contract's order): the rows and rejections the rules say.
#[test]
fn fields_decode_by_the_contracts_rules_whatever_route_their_values_take() {
    let contract = Arc::new(
        Contract::from_yaml(
            "name: t\nextra_fields: reject\nfields:\n\
             \x20 - {name: kind, type: string, required: true, nullable: false, enum: [a_b, c], max_length: 6}\n\
             \x20 - {name: label, type: string, min_length: 2, max_length: 3}\n\
             \x20 - {name: at, type: timestamp, required: true, nullable: false}\n\
             \x20 - {name: doc, type: json}\n",
            "t.yaml",
        )
        .unwrap(),
    );
    let at = r#""at":"2026-01-02T03:04:05Z""#;
    let lines = [
        format!(r#"{{"kind":"a_b",{at}}}"#),
        r#"{"at":1767323045000,"kind":" A_B "}"#.to_string(),
        format!(r#"{{"label":"éé","doc":{{"x": [1, 2]}},"kind":"c",{at}}}"#),
        format!(r#"{{"doc":null,"label":"abc","kind":"a_b",{at}}}"#),
        format!(r#"{{"label":"éééé","kind":"a_b",{at}}}"#),
        format!(r#"{{"label":"abcd","kind":"a_b",{at}}}"#),
        r#"{"at":"nope","kind":"zz"}"#.to_string(),
        format!(r#"{{"kind":"C",{at},"zzz":1}}"#),
        r#"{"kind":"a_b"}"#.to_string(),
        format!(r#"{{"kind":"a_b","label":null,{at},"doc":[]}}"#),
    ];
    let options = TransformOptions { ingested_at_us: Some(1), ..TransformOptions::default() };
    let out = process(body(lines.join("\n")), contract, &ParseOptions::default(), &options, None).unwrap();
    let rejected: Vec<_> =
        out.rejected.iter().map(|r| (r.line, r.field.as_deref().unwrap_or(""), r.reason.as_str())).collect();
    assert_eq!(
        rejected,
        [
            (5, "label", "too_long"),
            (6, "label", "too_long"),
            (7, "kind", "not_in_enum"),
            (8, "zzz", "extra_field"),
            (9, "at", "missing"),
        ]
    );
    let batch = &out.batch;
    let text = |name: &str| -> Vec<Option<String>> {
        batch.column_by_name(name).unwrap().as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
    };
    let some = |v: &str| Some(v.to_string());
    assert_eq!(text("kind"), [some("a_b"), some("a_b"), some("c"), some("a_b"), some("a_b")]);
    assert_eq!(text("label"), [None, None, some("éé"), some("abc"), None]);
    assert_eq!(text("doc"), [None, None, some(r#"{"x":[1,2]}"#), None, some("[]")]);
    let micros = batch.column_by_name("at").unwrap().as_primitive::<arrow_array::types::TimestampMicrosecondType>();
    let expected = 1_767_323_045_000_000;
    assert_eq!(micros.values().to_vec(), [expected; 5]);
}

/// Duplicates next to each other, three in a row, around rejected records and last in the
/// body, rows with and without nulls: the fused path drops what the deduplication step drops.
#[test]
fn duplicates_in_any_position_are_dropped_as_the_step_drops_them() {
    let record = |id: &str, product: Option<&str>| {
        let product = product.map_or(String::new(), |p| format!(r#","product_id":"{p}""#));
        format!(
            r#"{{"event_id":"{id}","user_id":"u","event_type":"login","event_timestamp":"2026-11-03T10:15:30Z"{product}}}"#
        )
    };
    let lines = [
        record("a", None),
        record("a", Some("p1")),
        record("b", Some("p2")),
        record("b", None),
        record("b", Some("p3")),
        "not json".to_string(),
        record("c", None),
        "{}".to_string(),
        record("c", Some("p4")),
        record("d", Some("p5")),
        record("a", None),
        record("e", None),
        record("e", Some("p6")),
    ];
    let text = lines.join("\n");
    let options = TransformOptions { ingested_at_us: Some(1), ..TransformOptions::default() };
    let parsed = parse(body(text.clone()), &ParseOptions::default()).unwrap();
    let steps = deduplicate(&transform(&validate(&parsed, events()), &options));
    let fused = process(body(text), events(), &ParseOptions::default(), &options, None).unwrap();
    assert_eq!(fused.batch, steps.batch);
    assert_eq!(fused.rejected, steps.rejected);
    assert_eq!((fused.duplicates, steps.duplicates), (6, 6));
    let ids = fused.batch.column_by_name("event_id").unwrap().as_string::<i32>();
    let products = fused.batch.column_by_name("product_id").unwrap().as_string::<i32>();
    let rows: Vec<_> = ids.iter().zip(products.iter()).map(|(i, p)| (i.unwrap(), p)).collect();
    assert_eq!(rows, [("a", None), ("b", Some("p2")), ("c", None), ("d", Some("p5")), ("e", None)]);
}

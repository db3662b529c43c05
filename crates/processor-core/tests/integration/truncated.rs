//! A JSON array body cut off before its `]` (`truncated_is_error`): the ingest edge answers it
//! as a transport failure, so every cut must be told apart from a syntax error in the middle.

use std::io::Write;
use std::sync::Arc;

use processor_core::*;

fn body(bytes: impl Into<Vec<u8>>) -> Body {
    Arc::new(bytes.into())
}

fn strict() -> ParseOptions {
    ParseOptions { truncated_is_error: true, ..ParseOptions::default() }
}

/// The error's kind and message, or None when the body parsed.
fn truncated(bytes: &[u8]) -> Option<String> {
    match parse(body(bytes.to_vec()), &strict()) {
        Ok(_) => None,
        Err(CoreError::Input { reason: InputErrorKind::TruncatedBody, message }) => Some(message),
        Err(other) => panic!("{:?}: unexpected {other:?}", String::from_utf8_lossy(bytes)),
    }
}

/// Every kind of token a cut can fall inside: escapes, a surrogate pair, numbers with
/// fraction and exponent, literals, nesting, whitespace between everything.
const WHOLE: &str = concat!(
    "[ {\"event_id\": \"e\\\"1\\u00e9\\ud83d\\ude00\", \"event_value\": -12.5e+3, \"ok\": true,\n",
    "   \"nested\": {\"a\": [1, 0.25, -0, 1E-2, false, null], \"b\": {}} , \"empty\": []},\n",
    "  {\"event_id\":\"e2\",\"n\":7} ,\t{\"event_id\": \"e3\"} ]",
);

#[test]
fn every_cut_inside_the_array_is_truncated() {
    let whole = WHOLE.as_bytes();
    assert_eq!(truncated(whole), None);
    let parsed = parse(body(whole.to_vec()), &strict()).unwrap();
    assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
    // From right after '[' to right before ']': each prefix ends inside the outer array.
    for cut in 1..whole.len() {
        let prefix = &whole[..cut];
        assert!(truncated(prefix).is_some(), "cut at {cut}: {:?}", String::from_utf8_lossy(prefix));
        // Without the option nothing changes: the cut-off part is a rejected record.
        let lenient = parse(body(prefix.to_vec()), &ParseOptions::default()).unwrap();
        assert!(!lenient.rejected.is_empty(), "cut at {cut}");
    }
}

#[test]
fn the_message_says_where_the_body_was_cut() {
    let message = truncated(b"[{\"a\": 1},\n {\"b\": \"x").unwrap();
    assert!(message.contains("at byte 20, line 2, after 1 complete elements"), "{message}");
    let message = truncated(b"[").unwrap();
    assert!(message.contains("at byte 1, line 1, after 0 complete elements"), "{message}");
    let message = truncated(b"[{\"a\": 1}, {\"b\": 2}\n").unwrap();
    assert!(message.contains("after 2 complete elements"), "{message}");
}

#[test]
fn a_cut_gzip_json_body_is_truncated_once_inflated() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&WHOLE.as_bytes()[..40]).unwrap();
    let gz = encoder.finish().unwrap();
    assert!(matches!(parse(body(gz), &strict()), Err(CoreError::Input { reason: InputErrorKind::TruncatedBody, .. })));
}

#[test]
fn syntax_errors_before_the_end_and_trailing_garbage_stay_rejections() {
    for text in [
        r#"[{"a": 1} {"b": 2}]"#,
        r#"[{"a": tru}]"#,
        r#"[{"a": tx"#,
        r#"[{"a": 1.}]"#,
        r#"[{"a": 1 ."#,
        "[1 .",
        "[1.x",
        r#"[{"a": "\q"#,
        r#"[{"a": "\u12g"#,
        "[{\"a\": \"\u{1}",
        r#"[{"a" 1"#,
        r#"[{1"#,
        r#"[{"a": 1}] trailing"#,
        r#"[{"a": 1}] ["#,
        r#"[{"a": 1},]"#,
    ] {
        let parsed = parse(body(text), &strict());
        let parsed = parsed.unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        assert!(!parsed.rejected.is_empty(), "{text:?}");
    }
}

#[test]
fn only_json_arrays_have_a_bracket_to_miss() {
    // One object, NDJSON and CSV: a cut-off last record is a rejected record, as before.
    for (text, format) in [
        (r#"{"event_id": "e1""#, Some(Format::Json)),
        ("{\"a\": 1}\n{\"a\": ", Some(Format::Ndjson)),
        ("a,b\n1,2\n3", Some(Format::Csv)),
        ("a,b\n1,\"2", Some(Format::Csv)),
    ] {
        let options = ParseOptions { format, ..strict() };
        assert!(parse(body(text), &options).is_ok(), "{text:?}");
    }
}

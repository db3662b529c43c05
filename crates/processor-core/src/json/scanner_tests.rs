//! Tests of the scanner (json/scanner.rs).
use super::*;

fn ok(text: &str) -> ValueInfo {
    scan_value(text.as_bytes(), 0).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
}
fn bad(text: &str) -> ScanError {
    scan_value(text.as_bytes(), 0).expect_err(text)
}

#[test]
fn scans_values_and_reports_kind_end_and_depth() {
    assert_eq!(ok("{}").depth, 1);
    assert_eq!(ok(r#"{"a": [1, {"b": null}]}"#).depth, 3);
    assert_eq!(ok("12 ").end, 2);
    assert_eq!(ok("-0.5e+3").kind, JsonKind::Number { integer: false });
    assert_eq!(ok("-0").kind, JsonKind::Number { integer: true });
    assert_eq!(ok(r#""a\nb""#).kind, JsonKind::String { escaped: true });
    assert_eq!(ok("true").kind, JsonKind::Bool);
    assert_eq!(ok("[ ]").end, 3);
}

#[test]
fn numbers_stop_where_pythons_grammar_stops() {
    assert_eq!(ok("01").end, 1);
    assert_eq!(ok("1.").end, 1);
    assert_eq!(ok("1e").end, 1);
    assert_eq!(ok("1.5E-2x").end, 6);
    assert_eq!(bad("-").pos, 0);
    assert_eq!(bad(".5").pos, 0);
}

#[test]
fn an_error_says_whether_the_input_ended_first() {
    for text in ["{", "[1,", r#""ab"#, r#""\"#, r#""\u12"#, "-", "tr", r#"{"a""#, "[1.", "[1e-", "[ "] {
        assert!(bad(text).at_end, "{text:?}");
    }
    for text in ["[1 2]", "[1.]", "tx", r#""\x""#, r#""\u12g"#, "{1", r#"{"a" 1"#, "[1 ."] {
        assert!(!bad(text).at_end, "{text:?}");
    }
}

#[test]
fn rejects_what_rfc_8259_rejects() {
    for text in [
        "{",
        "[1,]",
        r#"{"a" 1}"#,
        r#"{"a":1,}"#,
        "NaN",
        "Infinity",
        "tru",
        "\"a\u{1}\"",
        r#""\x""#,
        r#""\u12g4""#,
        "[1 2]",
        "{1:2}",
        "\"abc",
    ] {
        bad(text);
    }
}

#[test]
fn deep_nesting_is_scanned_without_recursion() {
    let deep = "[".repeat(200_000) + &"]".repeat(200_000);
    assert_eq!(ok(&deep).depth, 200_000);
    let unterminated = "[".repeat(200_000);
    bad(&unterminated);
}

#[test]
fn flags_unpaired_surrogates() {
    assert!(ok(r#""\ud800""#).lone_surrogate);
    assert!(ok(r#""\udc00\ud800""#).lone_surrogate);
    assert!(!ok(r#""\ud83d\ude00""#).lone_surrogate);
}

#[test]
fn collects_top_level_members() {
    let text = br#"{ "a" : 1 , "b\u0062": { "x" : [ 1 ] }, "c":"s"}"#;
    let mut members = Vec::new();
    let info = scan_record(text, 0, &mut members).unwrap();
    assert_eq!(info.end, text.len());
    assert_eq!(members.len(), 3);
    let value = |m: &Member| std::str::from_utf8(&text[m.value_start..m.value_end]).unwrap();
    let key = |m: &Member| std::str::from_utf8(&text[m.key_start..m.key_end]).unwrap();
    assert_eq!((key(&members[0]), value(&members[0])), ("a", "1"));
    assert_eq!((key(&members[1]), value(&members[1])), (r"b\u0062", r#"{ "x" : [ 1 ] }"#));
    assert!(members[1].key_escaped && members[1].has_whitespace);
    assert_eq!(members[1].kind, JsonKind::Object);
    assert_eq!((key(&members[2]), value(&members[2])), ("c", r#""s""#));
    assert!(!members[2].has_whitespace);
}

#[test]
fn swar_skip_finds_the_first_stop_byte() {
    for text in
        ["abcdefghijklmnop\"", "abcdefgh\\ijk", "ab\u{1}cdefghijkl", "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}xyz\"", "short\""]
    {
        let bytes = text.as_bytes();
        let expected = bytes.iter().position(|&b| STRING_STOP[b as usize]).unwrap_or(bytes.len());
        assert_eq!(skip_plain_string_bytes(bytes, 0), expected, "{text:?}");
    }
    let plain = "x".repeat(37);
    assert_eq!(skip_plain_string_bytes(plain.as_bytes(), 0), 37);
}

#[test]
fn the_first_stop_says_whether_it_is_the_closing_quote() {
    let long = "y".repeat(40);
    let cases = [
        (format!("{long}\"{long}"), Some(40)),
        (format!("{long}\\\"{long}"), None),
        (format!("{long}\"tail"), None),
        (format!("ab\"{long}"), Some(2)),
        (format!("ab\u{1}\"{long}"), None),
        ("short\"".to_string(), None),
    ];
    for (text, quote_at) in cases {
        match find_string_stop(text.as_bytes(), 0) {
            StringStop::Quote(at) => assert_eq!(Some(at), quote_at, "{text:?}"),
            StringStop::Other(at) => {
                assert_eq!(quote_at, None, "{text:?}");
                // Either the scan gave up (under sixteen bytes left) or the stop is not a quote.
                let gave_up = text.len() - at < 16;
                assert!(gave_up || text.as_bytes()[at] != b'"', "{text:?}");
            }
        }
    }
}

#[test]
fn compact_records_scan_as_the_general_loop_scans_them() {
    let records = [
        (r#"{}"#, true),
        (r#"{"a":1,"b":"x","c":{"d":[1, 2]},"e":true,"f":null,"g":-1.5e3,"h":false}"#, true),
        (r#"{"k\u0041":"\ud800","n":[{"x": {}}],"o":"\ud83d\ude00"}"#, true),
        (r#"{"p":{"q":"r"},"s":[],"t":"a\"b"}"#, true),
        (r#"{"p":{"q":"r","n":-2,"b":true,"z":null,"e":{}},"s":{}}"#, true),
        (r#"{"p":{"q":{"r":"s"}},"u":{"v":[1]},"w":{"x":"\ud800"}}"#, true),
        (r#"{"p":{"q": "r"},"s":{"t":1 }}"#, true),
        (r#"{"p":{"q":"r",}}"#, false),
        (r#"{"p":{"q":"r"}"#, false),
        (r#"{"a":1.}"#, false),
        (r#"{"a":1 }"#, false),
        (r#"{ "a":1}"#, false),
        (r#"{"a" :1}"#, false),
        (r#"{"a":tru}"#, false),
        (r#"{"a":{"b":1}"#, false),
        (r#"{"a":01}"#, false),
        ("{\"a\":\"\u{1}\"}", false),
        (r#"[1]"#, false),
        (r#""s""#, false),
        (r#"{"a":1,}"#, false),
    ];
    for (text, compact) in records {
        let buf = text.as_bytes();
        let mut fast = Vec::new();
        let mut general = Vec::new();
        let taken = Scanner { buf, lone_surrogate: false, whitespace: false }
            .compact_object(0, Some(&mut Vec::new()))
            .is_some();
        assert_eq!(taken, compact, "{text}: compact path taken");
        let scanned = scan_record(buf, 0, &mut fast);
        let expected = Scanner { buf, lone_surrogate: false, whitespace: false }.value(0, Some(&mut general));
        assert_eq!(scanned, expected, "{text}");
        assert_eq!(fast, general, "{text}");
    }
}

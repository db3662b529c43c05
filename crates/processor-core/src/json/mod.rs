//! A validating JSON scanner (RFC 8259) that finds the extent of a value without building it.
//!
//! Parsing a record into a tree only to read seven fields is where Python's time goes. This
//! scanner checks the syntax of the whole value in one pass, iteratively (deep nesting cannot
//! overflow the stack), and for the record's own object it notes where each top-level member's
//! key and value lie, so validation decodes only the fields the contract asks for.
//! Number grammar and error positions follow Python's `json` module, the reference oracle.

mod scanner;

use scanner::hex4;
pub use scanner::{scan_record, scan_value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    Object,
    Array,
    /// `escaped`: the string holds backslash escapes and must be decoded, not borrowed.
    String {
        escaped: bool,
    },
    /// `integer`: written without fraction or exponent.
    Number {
        integer: bool,
    },
    Bool,
    Null,
}

/// A top-level member of a record object: byte ranges into the scanned buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub key_start: usize,
    pub key_end: usize,
    pub key_escaped: bool,
    pub value_start: usize,
    pub value_end: usize,
    pub kind: JsonKind,
    /// Whitespace between the tokens of the value (so its compact form must be rebuilt).
    pub has_whitespace: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueInfo {
    pub kind: JsonKind,
    pub end: usize,
    /// Nesting depth: a scalar is 0, `{}` is 1, `{"a": []}` is 2.
    pub depth: usize,
    /// A `\uD800`-style escape without its pair: valid syntax, but not representable text.
    pub lone_surrogate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanError {
    pub pos: usize,
    pub message: &'static str,
    /// The input ended before the value did: more bytes could still have made it valid (a
    /// body cut off in transit, as opposed to a syntax error).
    pub at_end: bool,
}

/// Whether `buf[i..]` is the dangling start of a number's fraction or exponent (`.`, `e`,
/// `e-`, ...) right after its digits, running to the end of the input: the number was cut
/// there. The scanner's number grammar (Python's, greedy) ends the number before it.
pub fn number_cut_at(buf: &[u8], i: usize) -> bool {
    let after_digit = i > 0 && buf[i - 1].is_ascii_digit();
    after_digit && matches!(&buf[i..], b"." | b"e" | b"E" | b"e+" | b"e-" | b"E+" | b"E-")
}

/// Whether two keys are the same bytes. Keys are short: compared with a couple of word loads
/// inline rather than a call to `memcmp`, which costs more than the comparison for them.
#[inline]
pub fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    match n {
        // Two overlapping loads cover every byte.
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => a == b,
    }
}

#[inline]
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[inline]
pub fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && is_ws(buf[i]) {
        i += 1;
    }
    i
}
/// Decode the body of a JSON string (between the quotes) that holds escapes.
/// Returns None for an unpaired surrogate (the scanner has flagged those records already).
pub fn unescape(body: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let simple = match body.get(i + 1)? {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        let unit = hex4(body, i + 2)?;
        i += 6;
        let code = if (0xD800..0xDC00).contains(&unit) {
            if body.get(i) == Some(&b'\\') && body.get(i + 1) == Some(&b'u') {
                let low = hex4(body, i + 2)?;
                if !(0xDC00..0xE000).contains(&low) {
                    return None;
                }
                i += 6;
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            } else {
                return None;
            }
        } else if (0xDC00..0xE000).contains(&unit) {
            return None;
        } else {
            unit
        };
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(char::from_u32(code)?.encode_utf8(&mut utf8).as_bytes());
    }
    String::from_utf8(out).ok()
}

/// The compact form of a scanned, valid JSON value: whitespace outside strings removed.
pub fn compact(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'"' {
            // Copy the whole string, escapes and all, in one go.
            let start = i;
            i += 1;
            while let Some(k) = memchr::memchr2(b'"', b'\\', &raw[i..]) {
                i += k;
                if raw[i] == b'\\' {
                    i += 2;
                } else {
                    i += 1;
                    break;
                }
            }
            out.extend_from_slice(&raw[start..i.min(raw.len())]);
        } else {
            if !is_ws(b) {
                out.push(b);
            }
            i += 1;
        }
    }
    String::from_utf8(out).expect("compacting valid UTF-8 JSON keeps it valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_pairs_of_surrogates_and_refuses_unpaired_ones() {
        assert_eq!(unescape(br"\ud83d\ude00 \u00e9\n").as_deref(), Some("😀 é\n"));
        assert_eq!(unescape(br"\ud800"), None);
    }

    #[test]
    fn compacts_whitespace_outside_strings() {
        assert_eq!(compact(br#"{ "x" : [ 1 , "a b" ] }"#), r#"{"x":[1,"a b"]}"#);
        assert_eq!(compact(br#"[ "a\" b" , "\\" ]"#), r#"["a\" b","\\"]"#);
    }

    #[test]
    fn same_key_compares_every_byte_at_every_length() {
        let text = b"abcdefghijklmnopqrstuvwxyz0123456789";
        for n in 0..=text.len() {
            let a = &text[..n];
            let mut b = a.to_vec();
            assert!(same_key(a, &b), "{n}");
            for at in 0..n {
                b[at] = b'_';
                assert!(!same_key(a, &b), "{n} bytes, differing at {at}");
                b[at] = a[at];
            }
            if n > 0 {
                assert!(!same_key(a, &text[..n - 1]), "{n} bytes against {}", n - 1);
            }
        }
    }
}

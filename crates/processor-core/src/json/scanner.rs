//! The scanner: one pass over a JSON value, checking its syntax and noting its extent, depth,
//! and (for a record's own object) where each top-level member lies.

use super::{number_cut_at, skip_ws, JsonKind, Member, ScanError, ValueInfo};

/// Bytes that end a run of plain string content: quote, backslash, control characters.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Skip string content up to the next quote, backslash or control byte, sixteen bytes at a
/// time (SSE2, part of every x86-64) where sixteen remain, then eight at a time (SWAR):
/// strings are most of a record's bytes, and most are short enough for one SSE2 step.
#[inline]
fn skip_plain_string_bytes(buf: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is in the x86-64 baseline, and each unaligned 16-byte load lies within
        // `buf` (the loop runs while i + 16 <= len).
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let control_max = _mm_set1_epi8(0x1f);
            while i + 16 <= buf.len() {
                let v = _mm_loadu_si128(buf.as_ptr().add(i).cast());
                // A byte is a control character when min(byte, 0x1f) is the byte itself.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, control_max), v);
                let stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
                let mask = _mm_movemask_epi8(stop) as u32;
                if mask != 0 {
                    return i + mask.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
    }
    while i + 8 <= buf.len() {
        let w = u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
        let quote = w ^ (ONES * b'"' as u64);
        let backslash = w ^ (ONES * b'\\' as u64);
        // A byte is flagged when it is zero (for quote/backslash) or below 0x20; flags above
        // the first true one may be spurious, so only the lowest flag is used.
        let flags = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (w.wrapping_sub(ONES * 0x20) & !w))
            & HIGHS;
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < buf.len() && !STRING_STOP[buf[i] as usize] {
        i += 1;
    }
    i
}

/// The open containers while scanning (true = object, false = array): a bit per level for
/// the first 64 levels, so that a record costs no allocation; a vector beyond.
#[derive(Default)]
struct NestStack {
    len: usize,
    bits: u64,
    spill: Vec<bool>,
}

impl NestStack {
    #[inline]
    fn push(&mut self, is_object: bool) {
        if self.len < 64 {
            self.bits = (self.bits & !(1 << self.len)) | ((is_object as u64) << self.len);
        } else {
            self.spill.push(is_object);
        }
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) {
        if self.len > 64 {
            self.spill.pop();
        }
        self.len = self.len.saturating_sub(1);
    }

    #[inline]
    fn last(&self) -> Option<bool> {
        match self.len {
            0 => None,
            n if n <= 64 => Some(self.bits & (1 << (n - 1)) != 0),
            _ => self.spill.last().copied(),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.len
    }
}

struct Scanner<'a> {
    buf: &'a [u8],
    lone_surrogate: bool,
    whitespace: bool,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn ws(&mut self, i: usize) -> usize {
        let j = skip_ws(self.buf, i);
        if j != i {
            self.whitespace = true;
        }
        j
    }

    fn err<T>(pos: usize, message: &'static str) -> Result<T, ScanError> {
        Err(ScanError { pos, message, at_end: false })
    }

    /// An error where the input ended before the value did (see [`ScanError::at_end`]).
    fn err_at_end<T>(pos: usize, message: &'static str, at_end: bool) -> Result<T, ScanError> {
        Err(ScanError { pos, message, at_end })
    }

    /// `i` is at the opening quote. Returns (end after the closing quote, had escapes).
    /// Inline for the usual string, plain text up to its closing quote; escapes, stray bytes
    /// and errors go to [`Self::string_rest`].
    #[inline(always)]
    fn string(&mut self, start: usize) -> Result<(usize, bool), ScanError> {
        let i = skip_plain_string_bytes(self.buf, start + 1);
        if self.buf.get(i) == Some(&b'"') {
            return Ok((i + 1, false));
        }
        self.string_rest(start, i)
    }

    /// The rest of the string opened at `start`, from `i`: an escape, a control character
    /// or the end of the input.
    #[inline(never)]
    fn string_rest(&mut self, start: usize, mut i: usize) -> Result<(usize, bool), ScanError> {
        let buf = self.buf;
        let mut escaped = false;
        loop {
            match buf.get(i) {
                None => return Self::err_at_end(start, "unterminated string", true),
                Some(b'"') => return Ok((i + 1, escaped)),
                Some(b'\\') => {
                    escaped = true;
                    match buf.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let Some(unit) = hex4(buf, i + 2) else {
                                // Fewer than four hex digits, all there is: cut inside the escape.
                                let rest = &buf[(i + 2).min(buf.len())..];
                                let cut = rest.len() < 4 && rest.iter().all(u8::is_ascii_hexdigit);
                                return Self::err_at_end(i, "invalid \\uXXXX escape", cut);
                            };
                            i += 6;
                            if (0xD800..0xDC00).contains(&unit) {
                                let low = if buf.get(i) == Some(&b'\\') && buf.get(i + 1) == Some(&b'u') {
                                    hex4(buf, i + 2)
                                } else {
                                    None
                                };
                                match low {
                                    Some(low) if (0xDC00..0xE000).contains(&low) => i += 6,
                                    _ => self.lone_surrogate = true,
                                }
                            } else if (0xDC00..0xE000).contains(&unit) {
                                self.lone_surrogate = true;
                            }
                        }
                        _ => return Self::err_at_end(i, "invalid escape", i + 1 >= buf.len()),
                    }
                }
                Some(_) => return Self::err(i, "control character in string"),
            }
            i = skip_plain_string_bytes(buf, i);
        }
    }

    /// Python's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, matched
    /// greedily; what follows is the caller's business (as with `raw_decode`).
    #[inline]
    fn number(&self, start: usize) -> Result<(usize, bool), ScanError> {
        let buf = self.buf;
        let digit = |i: usize| buf.get(i).is_some_and(u8::is_ascii_digit);
        let mut i = start;
        if buf.get(i) == Some(&b'-') {
            i += 1;
        }
        match buf.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while digit(i) {
                    i += 1;
                }
            }
            _ => return Self::err_at_end(start, "invalid number", i >= buf.len()),
        }
        let mut integer = true;
        if buf.get(i) == Some(&b'.') && digit(i + 1) {
            i += 2;
            while digit(i) {
                i += 1;
            }
            integer = false;
        }
        if matches!(buf.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(buf.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if digit(j) {
                i = j;
                while digit(i) {
                    i += 1;
                }
                integer = false;
            }
        }
        Ok((i, integer))
    }

    fn literal(&self, i: usize, word: &'static [u8]) -> Result<usize, ScanError> {
        if self.buf[i..].starts_with(word) {
            Ok(i + word.len())
        } else {
            // `tr` at the end of the input is `true` cut short.
            Self::err_at_end(i, "invalid literal", word.starts_with(&self.buf[i..]))
        }
    }

    /// Scan one value at `start` (no leading whitespace). When `members` is given and the value
    /// is an object, its top-level members are appended to it.
    fn value(&mut self, start: usize, mut members: Option<&mut Vec<Member>>) -> Result<ValueInfo, ScanError> {
        let buf = self.buf;
        let mut stack = NestStack::default();
        let mut depth = 0usize;
        let mut i = start;
        let mut root_kind = None;
        // The member of the root object being scanned: (key_start, key_end, key_escaped, value_start, kind).
        let mut member: Option<(usize, usize, bool, usize, JsonKind)> = None;
        let mut member_ws = false;

        'value: loop {
            // i is at the first byte of a value.
            let at_member_value = stack.len() == 1 && stack.last() == Some(true);
            if at_member_value {
                member_ws = self.whitespace;
                self.whitespace = false;
            }
            let kind = match buf.get(i) {
                Some(b'{') => {
                    stack.push(true);
                    depth = depth.max(stack.len());
                    JsonKind::Object
                }
                Some(b'[') => {
                    stack.push(false);
                    depth = depth.max(stack.len());
                    JsonKind::Array
                }
                Some(b'"') => {
                    let (end, escaped) = self.string(i)?;
                    i = end;
                    JsonKind::String { escaped }
                }
                Some(b'-' | b'0'..=b'9') => {
                    let (end, integer) = self.number(i)?;
                    i = end;
                    JsonKind::Number { integer }
                }
                Some(b't') => {
                    i = self.literal(i, b"true")?;
                    JsonKind::Bool
                }
                Some(b'f') => {
                    i = self.literal(i, b"false")?;
                    JsonKind::Bool
                }
                Some(b'n') => {
                    i = self.literal(i, b"null")?;
                    JsonKind::Null
                }
                None => return Self::err_at_end(i, "unexpected end of input, expected a value", true),
                Some(_) => return Self::err(i, "expected a value"),
            };
            if root_kind.is_none() {
                root_kind = Some(kind);
            }
            if at_member_value {
                if let Some(m) = member.as_mut() {
                    m.4 = kind;
                }
            }
            let opened = matches!(kind, JsonKind::Object | JsonKind::Array);
            if opened {
                i += 1;
                i = self.ws(i);
                let close = if kind == JsonKind::Object { b'}' } else { b']' };
                if buf.get(i) == Some(&close) {
                    i += 1;
                    stack.pop();
                } else if kind == JsonKind::Object {
                    i = self.key(i, stack.len() == 1, &mut member)?;
                    continue 'value;
                } else {
                    continue 'value;
                }
            }
            // A value just ended at i: close containers and move to the next value.
            loop {
                if stack.len() == 1 && stack.last() == Some(true) {
                    if let (Some(members), Some((ks, ke, kesc, vs, vkind))) = (members.as_deref_mut(), member.take()) {
                        members.push(Member {
                            key_start: ks,
                            key_end: ke,
                            key_escaped: kesc,
                            value_start: vs,
                            value_end: i,
                            kind: vkind,
                            has_whitespace: self.whitespace,
                        });
                    }
                    self.whitespace = member_ws;
                }
                let Some(top_is_object) = stack.last() else {
                    return Ok(ValueInfo {
                        kind: root_kind.expect("a value was scanned"),
                        end: i,
                        depth,
                        lone_surrogate: self.lone_surrogate,
                    });
                };
                i = self.ws(i);
                match buf.get(i) {
                    Some(b',') => {
                        i = self.ws(i + 1);
                        if top_is_object {
                            i = self.key(i, stack.len() == 1, &mut member)?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if top_is_object => {
                        i += 1;
                        stack.pop();
                    }
                    Some(b']') if !top_is_object => {
                        i += 1;
                        stack.pop();
                    }
                    None => return Self::err_at_end(i, "unexpected end of input", true),
                    Some(_) => {
                        let message = if top_is_object { "expected ',' or '}'" } else { "expected ',' or ']'" };
                        return Self::err_at_end(i, message, number_cut_at(buf, i));
                    }
                }
            }
        }
    }

    /// `i` is where a key must start. Scans `"key" :` and the whitespace after it.
    #[inline]
    fn key(
        &mut self,
        i: usize,
        is_root_member: bool,
        member: &mut Option<(usize, usize, bool, usize, JsonKind)>,
    ) -> Result<usize, ScanError> {
        if self.buf.get(i) != Some(&b'"') {
            return Self::err_at_end(i, "expected a string key", i >= self.buf.len());
        }
        let (end, escaped) = self.string(i)?;
        let j = self.ws(end);
        if self.buf.get(j) != Some(&b':') {
            return Self::err_at_end(j, "expected ':'", j >= self.buf.len());
        }
        let j = self.ws(j + 1);
        if is_root_member {
            *member = Some((i + 1, end - 1, escaped, j, JsonKind::Null));
        }
        Ok(j)
    }
}

pub(super) fn hex4(buf: &[u8], i: usize) -> Option<u32> {
    let digits = buf.get(i..i + 4)?;
    let mut value = 0u32;
    for &d in digits {
        value = value * 16 + (d as char).to_digit(16)?;
    }
    Some(value)
}

/// Scan one JSON value starting exactly at `start`.
pub fn scan_value(buf: &[u8], start: usize) -> Result<ValueInfo, ScanError> {
    Scanner { buf, lone_surrogate: false, whitespace: false }.value(start, None)
}

/// Scan one JSON value at `start`, and if it is an object, collect its top-level members.
pub fn scan_record(buf: &[u8], start: usize, members: &mut Vec<Member>) -> Result<ValueInfo, ScanError> {
    Scanner { buf, lone_surrogate: false, whitespace: false }.value(start, Some(members))
}
#[cfg(test)]
mod tests {
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
        for text in [
            "abcdefghijklmnop\"",
            "abcdefgh\\ijk",
            "ab\u{1}cdefghijkl",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}xyz\"",
            "short\"",
        ] {
            let bytes = text.as_bytes();
            let expected = bytes.iter().position(|&b| STRING_STOP[b as usize]).unwrap_or(bytes.len());
            assert_eq!(skip_plain_string_bytes(bytes, 0), expected, "{text:?}");
        }
        let plain = "x".repeat(37);
        assert_eq!(skip_plain_string_bytes(plain.as_bytes(), 0), 37);
    }
}

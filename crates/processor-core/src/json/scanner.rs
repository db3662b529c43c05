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

/// Where a string's first run of plain content stops, from [`find_string_stop`].
enum StringStop {
    /// At the closing quote: the usual string, without escapes.
    Quote(usize),
    /// At an escape, a control character or the end of the input, or where the fast scan
    /// gave up (fewer than sixteen bytes left): the caller looks at the byte itself.
    Other(usize),
}

/// Where the next quote, backslash or control byte is, sixteen bytes at a time (SSE2), telling
/// whether it is a quote from the vector compare itself: for a string's first run, reading the
/// stop byte back would add a load to the chain of dependent steps every string waits on.
#[inline(always)]
fn find_string_stop(buf: &[u8], i: usize) -> StringStop {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        let mut i = i;
        // SAFETY: SSE2 is in the x86-64 baseline, and each unaligned 16-byte load lies within
        // `buf` (the loop runs while i + 16 <= len).
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let control_max = _mm_set1_epi8(0x1f);
            while i + 16 <= buf.len() {
                let v = _mm_loadu_si128(buf.as_ptr().add(i).cast());
                let quotes = _mm_cmpeq_epi8(v, quote);
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, control_max), v);
                let stop = _mm_or_si128(_mm_or_si128(quotes, _mm_cmpeq_epi8(v, backslash)), control);
                let mask = _mm_movemask_epi8(stop) as u32;
                if mask != 0 {
                    let at = i + mask.trailing_zeros() as usize;
                    let first = mask & mask.wrapping_neg();
                    return if _mm_movemask_epi8(quotes) as u32 & first != 0 {
                        StringStop::Quote(at)
                    } else {
                        StringStop::Other(at)
                    };
                }
                i += 16;
            }
        }
        StringStop::Other(i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    StringStop::Other(i)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Skip string content up to the next quote, backslash or control byte, sixteen bytes at a
/// time (SSE2, part of every x86-64: [`find_string_stop`]) where sixteen remain, then eight at
/// a time (SWAR): strings are most of a record's bytes, and most are short enough for one SSE2
/// step.
#[inline]
fn skip_plain_string_bytes(buf: &[u8], i: usize) -> usize {
    // `Other` is a stop byte or where fewer than sixteen bytes were left: on a stop byte the
    // loops below return at once.
    let mut i = match find_string_stop(buf, i) {
        StringStop::Quote(at) => return at,
        StringStop::Other(at) => at,
    };
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
        match find_string_stop(self.buf, start + 1) {
            StringStop::Quote(i) => Ok((i + 1, false)),
            StringStop::Other(i) => self.string_rest(start, skip_plain_string_bytes(self.buf, i)),
        }
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
    /// is an object, its top-level members are appended to it (and `self.whitespace` tracks
    /// whitespace member by member); without, `self.whitespace` ends up telling whether there
    /// was whitespace anywhere between the value's tokens.
    fn value(&mut self, start: usize, mut members: Option<&mut Vec<Member>>) -> Result<ValueInfo, ScanError> {
        let buf = self.buf;
        let mut stack = NestStack::default();
        let mut depth = 0usize;
        let mut i = start;
        let mut root_kind = None;
        // The member of the root object being scanned: (key_start, key_end, key_escaped, value_start, kind).
        let mut member: Option<(usize, usize, bool, usize, JsonKind)> = None;
        let mut member_ws = false;
        let collecting = members.is_some();

        'value: loop {
            // i is at the first byte of a value.
            let at_member_value = collecting && stack.len() == 1 && stack.last() == Some(true);
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
                if collecting && stack.len() == 1 && stack.last() == Some(true) {
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

    /// A record as producers usually write it, an object without whitespace between its own
    /// tokens, scanned member by member without the general loop's bookkeeping, its members
    /// appended to `members`. A nested object of scalars written the same way is scanned the
    /// same way (`members` None: no containers inside); other nested values go through the
    /// general loop. None for anything else (whitespace, a syntax error, not an object): the
    /// caller scans the value again with [`Self::value`], which names the problem. What it
    /// returns is what [`Self::value`] returns for the same value.
    fn compact_object(&mut self, start: usize, mut members: Option<&mut Vec<Member>>) -> Option<ValueInfo> {
        let buf = self.buf;
        if buf.get(start) != Some(&b'{') {
            return None;
        }
        let mut depth = 1;
        let mut i = start + 1;
        if buf.get(i) == Some(&b'}') {
            return Some(ValueInfo { kind: JsonKind::Object, end: i + 1, depth, lone_surrogate: false });
        }
        loop {
            if buf.get(i) != Some(&b'"') {
                return None;
            }
            let (key_end, key_escaped) = self.string(i).ok()?;
            if buf.get(key_end) != Some(&b':') {
                return None;
            }
            let value_start = key_end + 1;
            let mut has_whitespace = false;
            let (value_end, kind) = match *buf.get(value_start)? {
                b'"' => {
                    let (end, escaped) = self.string(value_start).ok()?;
                    (end, JsonKind::String { escaped })
                }
                b'-' | b'0'..=b'9' => {
                    let (end, integer) = self.number(value_start).ok()?;
                    (end, JsonKind::Number { integer })
                }
                b'{' | b'[' if members.is_some() => {
                    let fresh = || Scanner { buf, lone_surrogate: false, whitespace: false };
                    let mut nested = fresh();
                    let flat = if buf[value_start] == b'{' { nested.compact_object(value_start, None) } else { None };
                    let info = match flat {
                        Some(info) => info,
                        None => {
                            nested = fresh();
                            nested.value(value_start, None).ok()?
                        }
                    };
                    self.lone_surrogate |= info.lone_surrogate;
                    has_whitespace = nested.whitespace;
                    depth = depth.max(1 + info.depth);
                    (info.end, info.kind)
                }
                b't' => (self.literal(value_start, b"true").ok()?, JsonKind::Bool),
                b'f' => (self.literal(value_start, b"false").ok()?, JsonKind::Bool),
                b'n' => (self.literal(value_start, b"null").ok()?, JsonKind::Null),
                _ => return None,
            };
            if let Some(members) = members.as_deref_mut() {
                members.push(Member {
                    key_start: i + 1,
                    key_end: key_end - 1,
                    key_escaped,
                    value_start,
                    value_end,
                    kind,
                    has_whitespace,
                });
            }
            match buf.get(value_end) {
                Some(b',') => i = value_end + 1,
                Some(b'}') => {
                    let info = ValueInfo {
                        kind: JsonKind::Object,
                        end: value_end + 1,
                        depth,
                        lone_surrogate: self.lone_surrogate,
                    };
                    return Some(info);
                }
                _ => return None,
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
    let before = members.len();
    if let Some(info) = (Scanner { buf, lone_surrogate: false, whitespace: false }).compact_object(start, Some(members))
    {
        return Ok(info);
    }
    members.truncate(before);
    Scanner { buf, lone_surrogate: false, whitespace: false }.value(start, Some(members))
}
#[cfg(test)]
#[path = "scanner_tests.rs"]
mod tests;

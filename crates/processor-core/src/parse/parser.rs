//! The parser proper: NDJSON, JSON and CSV bodies walked record by record into a sink.

use std::collections::HashSet;

use crate::error::{CoreError, InputErrorKind, Result};
use crate::input::{content_start, detect_format, Format};
use crate::json::{is_ws, number_cut_at, scan_record, skip_ws, unescape, JsonKind, Member, ValueInfo};
use crate::rejection::{raw_text, Reason, Rejection};

use super::{csv_row, Entry, ParseOptions, RecordView, Sink, ValueKind, MAX_DEPTH};

pub(crate) fn parse_into<S: Sink>(bytes: &[u8], options: &ParseOptions, sink: &mut S) -> Result<(Format, String)> {
    let start = content_start(bytes);
    let format = options.format.unwrap_or_else(|| detect_format(&bytes[start..]));
    let mut parser = Parser {
        bytes,
        max_record_bytes: options.max_record_bytes,
        truncated_is_error: options.truncated_is_error,
        sink,
        arena: String::new(),
        members: Vec::new(),
        scratch: Vec::new(),
        index: 0,
        body_is_utf8: std::str::from_utf8(bytes).is_ok(),
    };
    if skip_ws(bytes, start) < bytes.len() {
        match format {
            Format::Ndjson => parser.ndjson(start),
            Format::Json => parser.json(start)?,
            Format::Csv => parser.csv(start)?,
        }
    }
    Ok((format, parser.arena))
}

struct Parser<'a, S: Sink> {
    bytes: &'a [u8],
    max_record_bytes: usize,
    truncated_is_error: bool,
    sink: &'a mut S,
    arena: String,
    members: Vec<Member>,
    scratch: Vec<Entry>,
    index: u64,
    /// One check of the whole body spares a check per record in the usual, all-UTF-8 case.
    body_is_utf8: bool,
}

fn lines_between(bytes: &[u8], from: usize, to: usize) -> u64 {
    memchr::memchr_iter(b'\n', &bytes[from..to]).count() as u64
}

fn trim_end_ws(bytes: &[u8], mut end: usize, start: usize) -> usize {
    while end > start && is_ws(bytes[end - 1]) {
        end -= 1;
    }
    end
}

impl<'a, S: Sink> Parser<'a, S> {
    fn next_index(&mut self) -> u64 {
        let index = self.index;
        self.index += 1;
        index
    }

    fn reject(&mut self, index: u64, line: u64, reason: Reason, message: String, raw: &[u8]) {
        self.sink.reject(Rejection { record_index: index, line, field: None, reason, message, raw: raw_text(raw) });
    }

    fn emit(&mut self, index: u64, line: u64, raw: Option<(u32, u32)>) {
        self.sink.accept(&RecordView { index, line, body: self.bytes, arena: &self.arena, fields: &self.scratch, raw });
        self.scratch.clear();
    }

    /// The checks every record gets before its syntax matters: size, then encoding.
    fn size_and_encoding(&self, span: &[u8]) -> Option<(Reason, String)> {
        if span.len() > self.max_record_bytes {
            return Some((
                Reason::TooLarge,
                format!("record is {} bytes, more than the {} allowed", span.len(), self.max_record_bytes),
            ));
        }
        if !self.body_is_utf8 {
            if let Err(err) = std::str::from_utf8(span) {
                return Some((Reason::InvalidUtf8, format!("invalid UTF-8 at byte {}", err.valid_up_to())));
            }
        }
        None
    }

    /// The checks after a record's JSON syntax is known good; accept it or reject it.
    fn finish_json(&mut self, index: u64, line: u64, span: (usize, usize), info: ValueInfo) {
        let raw = &self.bytes[span.0..span.1];
        let plain_keys = !self.members.iter().any(|m| m.key_escaped);
        let problem = if info.depth > MAX_DEPTH {
            Some((Reason::TooDeep, format!("nesting depth {} is deeper than {MAX_DEPTH}", info.depth)))
        } else if info.lone_surrogate {
            Some((Reason::InvalidJson, "a \\u escape is an unpaired surrogate".to_string()))
        } else if info.kind != JsonKind::Object {
            Some((Reason::NotAnObject, "a record must be a JSON object".to_string()))
        } else {
            self.duplicate_key(plain_keys)
                .map(|key| (Reason::DuplicateKey, format!("key {key:?} appears more than once")))
        };
        if let Some((reason, message)) = problem {
            self.reject(index, line, reason, message, raw);
            return;
        }
        self.scratch.clear();
        if !S::RETAINS_RECORDS {
            // Nothing holds on to the previous record's decoded keys.
            self.arena.clear();
        }
        if plain_keys {
            // The usual record: every key as it is in the body.
            self.scratch.extend(self.members.iter().map(|m| Entry {
                key_start: m.key_start as u32,
                key_end: m.key_end as u32,
                value_start: m.value_start as u32,
                value_end: m.value_end as u32,
                kind: ValueKind::Json(m.kind),
                key_in_arena: false,
                has_whitespace: m.has_whitespace,
            }));
            self.emit(index, line, Some((span.0 as u32, span.1 as u32)));
            return;
        }
        for i in 0..self.members.len() {
            let m = self.members[i];
            let (key_start, key_end, key_in_arena) = if m.key_escaped {
                let decoded = unescape(&self.bytes[m.key_start..m.key_end]).expect("surrogates were rejected above");
                let s = self.arena.len();
                self.arena.push_str(&decoded);
                (s, self.arena.len(), true)
            } else {
                (m.key_start, m.key_end, false)
            };
            self.scratch.push(Entry {
                key_start: key_start as u32,
                key_end: key_end as u32,
                value_start: m.value_start as u32,
                value_end: m.value_end as u32,
                kind: ValueKind::Json(m.kind),
                key_in_arena,
                has_whitespace: m.has_whitespace,
            });
        }
        self.emit(index, line, Some((span.0 as u32, span.1 as u32)));
    }

    /// The first key of the current record's members that appears twice, decoded.
    /// `plain_keys`: no key of the record has escapes.
    fn duplicate_key(&self, plain_keys: bool) -> Option<String> {
        let bytes = self.bytes;
        let members = &self.members;
        let raw = |m: &Member| &bytes[m.key_start..m.key_end];
        if members.len() <= 16 && plain_keys {
            // The usual record: a handful of plain keys, compared as they are: by a summary
            // first (length, first and last eight bytes), which decides for keys of up to 16
            // bytes; longer keys whose summaries match are compared in full.
            let mut summaries = [KeySummary::default(); 16];
            for (summary, m) in summaries.iter_mut().zip(members) {
                *summary = KeySummary::of(raw(m));
            }
            let summaries = &summaries[..members.len()];
            let same = |a: usize, b: usize| {
                summaries[a] == summaries[b] && (summaries[a].len <= 16 || raw(&members[a]) == raw(&members[b]))
            };
            let found = (1..members.len()).find(|&i| (0..i).any(|j| same(j, i)));
            return found.map(|i| String::from_utf8_lossy(raw(&members[i])).into_owned());
        }
        let key = |m: &Member| -> std::borrow::Cow<'_, [u8]> {
            if m.key_escaped {
                std::borrow::Cow::Owned(unescape(raw(m)).unwrap_or_default().into_bytes())
            } else {
                std::borrow::Cow::Borrowed(raw(m))
            }
        };
        // Escaped or many keys: a set keeps a hostile record from costing quadratic time.
        let mut seen = HashSet::with_capacity(members.len());
        let found = (0..members.len()).find(|&i| !seen.insert(key(&members[i])));
        found.map(|i| String::from_utf8_lossy(&key(&members[i])).into_owned())
    }

    fn ndjson(&mut self, start: usize) {
        let bytes = self.bytes;
        let mut line_start = start;
        let mut line_no = 0u64;
        while line_start < bytes.len() {
            line_no += 1;
            let newline = memchr::memchr(b'\n', &bytes[line_start..]).map(|i| line_start + i);
            let mut end = newline.unwrap_or(bytes.len());
            if end > line_start && bytes[end - 1] == b'\r' {
                end -= 1;
            }
            let next = newline.map_or(bytes.len(), |i| i + 1);
            // Bounded by the line: on a run of blank lines, an unbounded skip would be quadratic.
            let first = skip_ws(&bytes[..end], line_start);
            if first < end {
                self.ndjson_line(line_start, end, first, line_no);
            }
            line_start = next;
        }
    }

    fn ndjson_line(&mut self, start: usize, end: usize, first: usize, line: u64) {
        let index = self.next_index();
        self.sink.extent(index, start, end);
        let span = &self.bytes[start..end];
        if let Some((reason, message)) = self.size_and_encoding(span) {
            self.reject(index, line, reason, message, span);
            return;
        }
        self.members.clear();
        // Scan within the line only, so a value cannot run on into the next line.
        let line_bytes = &self.bytes[..end];
        let mut members = std::mem::take(&mut self.members);
        let scanned = scan_record(line_bytes, first, &mut members);
        self.members = members;
        match scanned {
            Ok(info) if skip_ws(line_bytes, info.end) == end => self.finish_json(index, line, (start, end), info),
            Ok(info) => {
                let message = format!("trailing characters after the JSON value at column {}", info.end - start + 1);
                self.reject(index, line, Reason::InvalidJson, message, span);
            }
            Err(err) => {
                let message = format!("{} at column {}", err.message, err.pos.min(end) - start + 1);
                self.reject(index, line, Reason::InvalidJson, message, span);
            }
        }
    }

    /// A JSON array that ends before its `]`, after `complete` whole elements: an error when
    /// asked for, else `None` and the caller rejects the rest of the body as it does any
    /// syntax error.
    fn truncated(&self, complete: u64) -> Option<CoreError> {
        self.truncated_is_error.then(|| {
            let end = self.bytes.len();
            let line = 1 + lines_between(self.bytes, 0, end);
            CoreError::input(
                InputErrorKind::TruncatedBody,
                format!(
                    "the body ends inside its JSON array (at byte {end}, line {line}, after {complete} \
                     complete elements): it was cut off; send the whole body again"
                ),
            )
        })
    }

    fn json(&mut self, start: usize) -> Result<()> {
        let bytes = self.bytes;
        let first = skip_ws(bytes, start);
        let mut line = 1 + lines_between(bytes, 0, first);
        if bytes[first] != b'[' {
            // One object (or one malformed value): the whole body is the record.
            let end = trim_end_ws(bytes, bytes.len(), first);
            self.ndjson_line(first, end, first, line);
            return Ok(());
        }
        let mut i = skip_ws(bytes, first + 1);
        let mut counted = first;
        let at = |i: usize, line: &mut u64, counted: &mut usize| {
            *line += lines_between(bytes, *counted, i);
            *counted = i;
        };
        if bytes.get(i) == Some(&b']') {
            i += 1;
        } else {
            loop {
                at(i, &mut line, &mut counted);
                let index = self.next_index();
                let mut members = std::mem::take(&mut self.members);
                members.clear();
                let scanned = scan_record(bytes, i, &mut members);
                self.members = members;
                let info = match scanned {
                    Ok(info) => info,
                    Err(err) => {
                        if err.at_end {
                            if let Some(error) = self.truncated(index) {
                                return Err(error);
                            }
                        }
                        let end = trim_end_ws(bytes, bytes.len(), i);
                        self.sink.extent(index, i, end);
                        let message = format!("{}; the rest of the body from here is rejected", err.message);
                        self.reject(index, line, Reason::InvalidJson, message, &bytes[i..end]);
                        return Ok(());
                    }
                };
                let span = (i, info.end);
                self.sink.extent(index, span.0, span.1);
                match self.size_and_encoding(&bytes[span.0..span.1]) {
                    Some((reason, message)) => self.reject(index, line, reason, message, &bytes[span.0..span.1]),
                    None => self.finish_json(index, line, span, info),
                }
                i = skip_ws(bytes, info.end);
                match bytes.get(i) {
                    Some(b',') => i = skip_ws(bytes, i + 1),
                    Some(b']') => {
                        i += 1;
                        break;
                    }
                    None => {
                        at(i, &mut line, &mut counted);
                        if let Some(error) = self.truncated(index + 1) {
                            return Err(error);
                        }
                        let index = self.next_index();
                        self.sink.extent(index, i, i);
                        self.reject(index, line, Reason::InvalidJson, "the array is not closed with ']'".into(), b"");
                        return Ok(());
                    }
                    Some(_) => {
                        at(i, &mut line, &mut counted);
                        // `[1.` or `[1e`: the last element, a number, was cut short.
                        if number_cut_at(bytes, i) {
                            if let Some(error) = self.truncated(index + 1) {
                                return Err(error);
                            }
                        }
                        let index = self.next_index();
                        let end = trim_end_ws(bytes, bytes.len(), i);
                        self.sink.extent(index, i, end);
                        let message =
                            "expected ',' or ']' after an array element; the rest of the body from here is rejected"
                                .to_string();
                        self.reject(index, line, Reason::InvalidJson, message, &bytes[i..end]);
                        return Ok(());
                    }
                }
            }
        }
        let rest = skip_ws(bytes, i);
        if rest < bytes.len() {
            at(rest, &mut line, &mut counted);
            let index = self.next_index();
            let end = trim_end_ws(bytes, bytes.len(), rest);
            self.sink.extent(index, rest, end);
            self.reject(
                index,
                line,
                Reason::InvalidJson,
                "trailing characters after the JSON array".into(),
                &bytes[rest..end],
            );
        }
        Ok(())
    }

    fn csv(&mut self, start: usize) -> Result<()> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&self.bytes[start..]);
        let mut record = csv::ByteRecord::new();
        // Lines are counted from the start of the content (after a BOM, which has no newline).
        let read = |reader: &mut csv::Reader<&[u8]>, record: &mut csv::ByteRecord| {
            reader
                .read_byte_record(record)
                .map_err(|err| CoreError::input(InputErrorKind::BadCsvHeader, format!("the CSV cannot be read: {err}")))
        };
        if !read(&mut reader, &mut record)? {
            return Ok(());
        }
        let mut header: Vec<(u32, u32)> = Vec::with_capacity(record.len());
        for (i, name) in record.iter().enumerate() {
            let name = std::str::from_utf8(name).map_err(|_| {
                CoreError::input(
                    InputErrorKind::BadCsvHeader,
                    format!("CSV header column {} is not valid UTF-8", i + 1),
                )
            })?;
            if name.is_empty() {
                return Err(CoreError::input(
                    InputErrorKind::BadCsvHeader,
                    format!("CSV header column {} is empty", i + 1),
                ));
            }
            if header.iter().any(|&(s, e)| &self.arena[s as usize..e as usize] == name) {
                return Err(CoreError::input(
                    InputErrorKind::BadCsvHeader,
                    format!("CSV header names column {name:?} twice"),
                ));
            }
            let s = self.arena.len();
            self.arena.push_str(name);
            header.push((s as u32, self.arena.len() as u32));
        }
        let header_end = self.arena.len();
        let mut lines = CsvLines { pos: start, line: 1 };
        while read(&mut reader, &mut record)? {
            let index = self.next_index();
            let offset = start + record.position().map_or(0, |p| p.byte() as usize);
            let line = lines.line_at(self.bytes, offset);
            let (row_start, row_end) = csv_row_span(self.bytes, offset, start + reader.position().byte() as usize);
            self.sink.extent(index, row_start, row_end);
            let cell_bytes = record.as_slice().len();
            let problem = if cell_bytes > self.max_record_bytes {
                Some((
                    Reason::TooLarge,
                    format!("row is {cell_bytes} bytes, more than the {} allowed", self.max_record_bytes),
                ))
            } else if record.iter().any(|cell| std::str::from_utf8(cell).is_err()) {
                Some((Reason::InvalidUtf8, "the row is not valid UTF-8".to_string()))
            } else if record.len() != header.len() {
                Some((Reason::RaggedRow, format!("row has {} cells, the header has {}", record.len(), header.len())))
            } else {
                None
            };
            if let Some((reason, message)) = problem {
                let raw = csv_row(record.iter().map(|c| String::from_utf8_lossy(c)));
                let rejection =
                    Rejection { record_index: index, line, field: None, reason, message, raw: raw_text(&raw) };
                self.sink.reject(rejection);
                continue;
            }
            if !S::RETAINS_RECORDS {
                self.arena.truncate(header_end);
            }
            for (cell, &(key_start, key_end)) in record.iter().zip(&header) {
                let s = self.arena.len();
                self.arena.push_str(std::str::from_utf8(cell).expect("checked above"));
                self.scratch.push(Entry {
                    key_start,
                    key_end,
                    value_start: s as u32,
                    value_end: self.arena.len() as u32,
                    kind: if cell.is_empty() { ValueKind::EmptyCell } else { ValueKind::Cell },
                    key_in_arena: true,
                    has_whitespace: false,
                });
            }
            self.emit(index, line, None);
        }
        Ok(())
    }
}

/// A key's length and its first and last eight bytes (four, or each byte, when shorter):
/// equal for equal keys, and for keys of up to 16 bytes equal only for equal keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct KeySummary {
    len: usize,
    head: u64,
    tail: u64,
}

impl KeySummary {
    #[inline]
    fn of(key: &[u8]) -> KeySummary {
        let n = key.len();
        let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().expect("8 bytes"));
        let half = |at: usize| u64::from(u32::from_le_bytes(key[at..at + 4].try_into().expect("4 bytes")));
        // Overlapping loads rather than a copy into a padded word (a call to memcpy).
        let (head, tail) = match n {
            8.. => (word(0), word(n - 8)),
            4..=7 => (half(0), half(n - 4)),
            _ => (key.iter().fold(0, |acc, &b| acc << 8 | u64::from(b)), 0),
        };
        KeySummary { len: n, head, tail }
    }
}

/// Line numbers for CSV rows, counting `\n`, `\r\n` and a lone `\r` as line ends (the csv
/// crate counts only `\n`, and places a row after CRLF at its `\n`).
struct CsvLines {
    pos: usize,
    line: u64,
}

impl CsvLines {
    fn line_at(&mut self, bytes: &[u8], mut offset: usize) -> u64 {
        // A row never starts with a line end: skip the one the reader stopped in front of.
        while offset < bytes.len() && matches!(bytes[offset], b'\r' | b'\n') {
            offset += 1;
        }
        while self.pos < offset {
            match bytes[self.pos] {
                b'\n' => self.line += 1,
                b'\r' if bytes.get(self.pos + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.line
    }
}

/// A CSV row's bytes, from where the reader placed it to where it stopped after it, without
/// the line ends around it (the reader places a row in front of the line end before it).
fn csv_row_span(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && matches!(bytes[start], b'\r' | b'\n') {
        start += 1;
    }
    while end > start && matches!(bytes[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    (start, end)
}

//! Parse: bytes → records that point into the body, or rejections. Nothing is decoded that
//! validation will not need; the body is kept once and shared.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use crate::error::{CoreError, InputErrorKind, Result};
use crate::input::{content_start, detect_format, gunzip, is_gzip, Format};
use crate::json::{is_ws, scan_record, skip_ws, unescape, JsonKind, Member, ValueInfo};
use crate::rejection::{raw_text, Reason, Rejection};

/// The input bytes, shared between the batch stages without copying (a Python `bytes` object
/// in the binding, a `Vec<u8>` after gunzip).
pub type Body = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Deepest nesting a record may have; its own object is depth 1.
pub const MAX_DEPTH: usize = 64;
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 1 << 30;

#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    pub format: Option<Format>,
    pub max_record_bytes: usize,
    pub max_decompressed_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            format: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
        }
    }
}

/// How a value was written, packed into a byte for [`Entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Json(JsonKind),
    /// A CSV cell (unquoted, unescaped) in the arena.
    Cell,
    /// An empty CSV cell.
    EmptyCell,
}

/// One field of a record as the parser found it: byte ranges of its key and value, in the
/// body or in the arena (decoded keys, CSV cells). Kept small: a batch holds millions.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    key_start: u32,
    key_end: u32,
    value_start: u32,
    value_end: u32,
    kind: ValueKind,
    key_in_arena: bool,
    has_whitespace: bool,
}

/// A field value as validation sees it.
#[derive(Debug, Clone, Copy)]
pub enum FieldValue<'a> {
    /// A JSON value, already syntax-checked; `has_whitespace` means its compact form differs.
    Json {
        raw: &'a [u8],
        kind: JsonKind,
        has_whitespace: bool,
    },
    Cell(&'a str),
    EmptyCell,
}

/// One record, as handed to a [`Sink`]: its position, fields and raw text.
pub struct RecordView<'a> {
    pub index: u64,
    pub line: u64,
    body: &'a [u8],
    arena: &'a str,
    fields: &'a [Entry],
    /// The record's text in the body (JSON); None for CSV rows, re-encoded from their cells.
    raw: Option<(u32, u32)>,
}

impl<'a> RecordView<'a> {
    pub fn num_fields(&self) -> usize {
        self.fields.len()
    }

    pub fn key(&self, i: usize) -> &'a [u8] {
        let e = &self.fields[i];
        let (s, t) = (e.key_start as usize, e.key_end as usize);
        if e.key_in_arena {
            &self.arena.as_bytes()[s..t]
        } else {
            &self.body[s..t]
        }
    }

    pub fn value(&self, i: usize) -> FieldValue<'a> {
        let e = &self.fields[i];
        let (s, t) = (e.value_start as usize, e.value_end as usize);
        match e.kind {
            ValueKind::Json(kind) => FieldValue::Json { raw: &self.body[s..t], kind, has_whitespace: e.has_whitespace },
            ValueKind::Cell => FieldValue::Cell(&self.arena[s..t]),
            ValueKind::EmptyCell => FieldValue::EmptyCell,
        }
    }

    /// The record's text for a rejection.
    pub fn raw(&self) -> String {
        match self.raw {
            Some((s, e)) => raw_text(&self.body[s as usize..e as usize]),
            None => {
                let cells = (0..self.fields.len()).map(|i| match self.value(i) {
                    FieldValue::Cell(text) => text,
                    _ => "",
                });
                raw_text(&csv_row(cells))
            }
        }
    }
}

/// Where parsed records go: collected into a [`ParsedBatch`], or validated on the spot.
pub trait Sink {
    /// False lets the parser reuse its arena after each record (nothing keeps a view).
    const RETAINS_RECORDS: bool;
    fn accept(&mut self, record: &RecordView<'_>);
    fn reject(&mut self, rejection: Rejection);
    /// Record `index` spans `bytes[start..end]` of the (decompressed) body, accepted or not:
    /// told before the record is accepted or rejected. Only [`crate::extents`] listens.
    #[inline]
    fn extent(&mut self, index: u64, start: usize, end: usize) {
        let _ = (index, start, end);
    }
}

#[derive(Debug, Clone)]
struct StoredRecord {
    index: u64,
    line: u64,
    entries: Range<u32>,
    raw: Option<(u32, u32)>,
}

/// Records parsed from one body, pointing into it; not yet checked against a contract.
pub struct ParsedBatch {
    pub body: Body,
    pub format: Format,
    records: Vec<StoredRecord>,
    entries: Vec<Entry>,
    arena: String,
    pub rejected: Vec<Rejection>,
}

impl std::fmt::Debug for ParsedBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedBatch")
            .field("format", &self.format)
            .field("records", &self.records.len())
            .field("rejected", &self.rejected.len())
            .finish()
    }
}

impl ParsedBatch {
    pub fn bytes(&self) -> &[u8] {
        (*self.body).as_ref()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records received: parsed so far plus rejected.
    pub fn received(&self) -> u64 {
        (self.records.len() + self.rejected.len()) as u64
    }

    /// Replay the parsed records into a sink (validation of a stored batch).
    pub fn replay<S: Sink>(&self, sink: &mut S) {
        let body = self.bytes();
        for record in &self.records {
            sink.accept(&RecordView {
                index: record.index,
                line: record.line,
                body,
                arena: &self.arena,
                fields: &self.entries[record.entries.start as usize..record.entries.end as usize],
                raw: record.raw,
            });
        }
    }
}

/// Collects records into a [`ParsedBatch`].
#[derive(Default)]
struct Collector {
    records: Vec<StoredRecord>,
    entries: Vec<Entry>,
    rejected: Vec<Rejection>,
}

impl Sink for Collector {
    const RETAINS_RECORDS: bool = true;
    fn accept(&mut self, record: &RecordView<'_>) {
        let first = self.entries.len() as u32;
        self.entries.extend_from_slice(record.fields);
        self.records.push(StoredRecord {
            index: record.index,
            line: record.line,
            entries: first..self.entries.len() as u32,
            raw: record.raw,
        });
    }
    fn reject(&mut self, rejection: Rejection) {
        self.rejected.push(rejection);
    }
}

/// Largest body the parser takes: offsets are 32-bit, and Arrow string columns are too.
pub const MAX_BODY_BYTES: usize = i32::MAX as usize;

/// Gunzip and strip a BOM; the body the parser reads, and where its content starts.
pub(crate) fn prepare(body: Body, options: &ParseOptions) -> Result<Body> {
    let body: Body = if is_gzip((*body).as_ref()) {
        Arc::new(gunzip((*body).as_ref(), options.max_decompressed_bytes.min(MAX_BODY_BYTES))?)
    } else {
        body
    };
    if (*body).as_ref().len() > MAX_BODY_BYTES {
        return Err(CoreError::input(
            InputErrorKind::TooLarge,
            format!("a body may hold at most {MAX_BODY_BYTES} bytes; split it into several batches"),
        ));
    }
    Ok(body)
}

/// Parse a body into a batch. Only a body that cannot be read at all is an error.
pub fn parse(body: Body, options: &ParseOptions) -> Result<ParsedBatch> {
    let body = prepare(body, options)?;
    let bytes: &[u8] = (*body).as_ref();
    // Events run to a couple of hundred bytes with about eight fields: sized so that a typical
    // batch never reallocates (each reallocation copies and faults in fresh pages).
    let estimated_records = bytes.len() / 200 + 16;
    let mut collector = Collector {
        records: Vec::with_capacity(estimated_records),
        entries: Vec::with_capacity(estimated_records * 8),
        rejected: Vec::new(),
    };
    let (format, arena) = parse_into(bytes, options, &mut collector)?;
    let Collector { records, entries, rejected } = collector;
    Ok(ParsedBatch { body: body.clone(), format, records, entries, arena, rejected })
}

/// Parse a body straight into a sink; returns the format and the parser's arena.
pub fn parse_with<S: Sink>(body: Body, options: &ParseOptions, sink: &mut S) -> Result<Format> {
    let body = prepare(body, options)?;
    parse_into((*body).as_ref(), options, sink).map(|(format, _)| format)
}

pub(crate) fn parse_into<S: Sink>(bytes: &[u8], options: &ParseOptions, sink: &mut S) -> Result<(Format, String)> {
    let start = content_start(bytes);
    let format = options.format.unwrap_or_else(|| detect_format(&bytes[start..]));
    let mut parser = Parser {
        bytes,
        max_record_bytes: options.max_record_bytes,
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
            Format::Json => parser.json(start),
            Format::Csv => parser.csv(start)?,
        }
    }
    Ok((format, parser.arena))
}

struct Parser<'a, S: Sink> {
    bytes: &'a [u8],
    max_record_bytes: usize,
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
        let problem = if info.depth > MAX_DEPTH {
            Some((Reason::TooDeep, format!("nesting depth {} is deeper than {MAX_DEPTH}", info.depth)))
        } else if info.lone_surrogate {
            Some((Reason::InvalidJson, "a \\u escape is an unpaired surrogate".to_string()))
        } else if info.kind != JsonKind::Object {
            Some((Reason::NotAnObject, "a record must be a JSON object".to_string()))
        } else {
            self.duplicate_key().map(|key| (Reason::DuplicateKey, format!("key {key:?} appears more than once")))
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
    fn duplicate_key(&self) -> Option<String> {
        let bytes = self.bytes;
        let members = &self.members;
        let raw = |m: &Member| &bytes[m.key_start..m.key_end];
        if members.len() <= 16 && !members.iter().any(|m| m.key_escaped) {
            // The usual record: a handful of plain keys, compared as they are.
            let found = (1..members.len()).find(|&i| members[..i].iter().any(|m| raw(m) == raw(&members[i])));
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

    fn json(&mut self, start: usize) {
        let bytes = self.bytes;
        let first = skip_ws(bytes, start);
        let mut line = 1 + lines_between(bytes, 0, first);
        if bytes[first] != b'[' {
            // One object (or one malformed value): the whole body is the record.
            let end = trim_end_ws(bytes, bytes.len(), first);
            self.ndjson_line(first, end, first, line);
            return;
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
                        let end = trim_end_ws(bytes, bytes.len(), i);
                        self.sink.extent(index, i, end);
                        let message = format!("{}; the rest of the body from here is rejected", err.message);
                        self.reject(index, line, Reason::InvalidJson, message, &bytes[i..end]);
                        return;
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
                        let index = self.next_index();
                        self.sink.extent(index, i, i);
                        self.reject(index, line, Reason::InvalidJson, "the array is not closed with ']'".into(), b"");
                        return;
                    }
                    Some(_) => {
                        at(i, &mut line, &mut counted);
                        let index = self.next_index();
                        let end = trim_end_ws(bytes, bytes.len(), i);
                        self.sink.extent(index, i, end);
                        let message =
                            "expected ',' or ']' after an array element; the rest of the body from here is rejected"
                                .to_string();
                        self.reject(index, line, Reason::InvalidJson, message, &bytes[i..end]);
                        return;
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

/// A row re-encoded as CSV (minimal quoting), for the rejected record's raw text.
pub fn csv_row<S: AsRef<str>>(cells: impl Iterator<Item = S>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let cells: Vec<S> = cells.collect();
    writer.write_record(cells.iter().map(|c| c.as_ref().as_bytes())).expect("writing to memory");
    let mut out = writer.into_inner().expect("writing to memory");
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    out
}

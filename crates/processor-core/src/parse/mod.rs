//! Parse: bytes → records that point into the body, or rejections. Nothing is decoded that
//! validation will not need; the body is kept once and shared.
mod parser;

use std::ops::Range;
use std::sync::Arc;

use crate::error::{CoreError, InputErrorKind, Result};
use crate::input::{content_start, detect_format, gunzip, is_gzip, Format};
use crate::json::JsonKind;
use crate::rejection::{raw_text, Rejection};

pub(crate) use parser::parse_into;

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
    /// A JSON array body that ends before its `]` (between elements or inside one) is an
    /// [`InputErrorKind::TruncatedBody`] error instead of a rejected last record: for the
    /// ingest edge, where such a body was cut off in transit and the client must resend it.
    pub truncated_is_error: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            format: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            truncated_is_error: false,
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

    #[inline(always)]
    pub fn key(&self, i: usize) -> &'a [u8] {
        let e = &self.fields[i];
        let (s, t) = (e.key_start as usize, e.key_end as usize);
        if e.key_in_arena {
            &self.arena.as_bytes()[s..t]
        } else {
            &self.body[s..t]
        }
    }

    #[inline(always)]
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

/// A body read once (gunzipped, its size checked, its format chosen), to be parsed when its
/// records are wanted, as often as they are: the steps' batches keep one until asked for more.
#[derive(Clone)]
pub struct ReadBody {
    body: Body,
    options: ParseOptions,
}

impl std::fmt::Debug for ReadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBody").field("bytes", &self.bytes().len()).field("options", &self.options).finish()
    }
}

/// Read a body for parsing: the errors of a body that cannot be read at all (gzip, size).
pub fn read_body(body: Body, options: &ParseOptions) -> Result<ReadBody> {
    let body = prepare(body, options)?;
    let bytes: &[u8] = (*body).as_ref();
    let format = options.format.unwrap_or_else(|| detect_format(&bytes[content_start(bytes)..]));
    Ok(ReadBody { body, options: ParseOptions { format: Some(format), ..*options } })
}

impl ReadBody {
    pub fn bytes(&self) -> &[u8] {
        (*self.body).as_ref()
    }

    pub fn format(&self) -> Format {
        self.options.format.expect("chosen when read")
    }

    /// Whether parsing may still fail once the body is read: a CSV header can be unreadable,
    /// and a JSON array cut off is an error when asked for. Otherwise every problem is a
    /// rejected record, and the parse can wait without an error moving to a later call.
    pub fn parse_can_fail(&self) -> bool {
        self.format() == Format::Csv || self.options.truncated_is_error
    }

    /// The records, collected into a batch. Errors only as [`Self::parse_can_fail`] says.
    pub fn parse(&self) -> Result<ParsedBatch> {
        let bytes = self.bytes();
        // Events run to a couple of hundred bytes with about eight fields: sized so that a
        // typical batch never reallocates (each reallocation copies and faults in fresh pages).
        let estimated_records = bytes.len() / 200 + 16;
        let mut collector = Collector {
            records: Vec::with_capacity(estimated_records),
            entries: Vec::with_capacity(estimated_records * 8),
            rejected: Vec::new(),
        };
        let (format, arena) = parse_into(bytes, &self.options, &mut collector)?;
        let Collector { records, entries, rejected } = collector;
        Ok(ParsedBatch { body: self.body.clone(), format, records, entries, arena, rejected })
    }

    /// The records, straight into a sink. Errors only as [`Self::parse_can_fail`] says.
    pub fn parse_with<S: Sink>(&self, sink: &mut S) -> Result<Format> {
        parse_into(self.bytes(), &self.options, sink).map(|(format, _)| format)
    }
}

/// Parse a body into a batch. Only a body that cannot be read at all is an error.
pub fn parse(body: Body, options: &ParseOptions) -> Result<ParsedBatch> {
    read_body(body, options)?.parse()
}

/// Parse a body straight into a sink; returns the format.
pub fn parse_with<S: Sink>(body: Body, options: &ParseOptions, sink: &mut S) -> Result<Format> {
    read_body(body, options)?.parse_with(sink)
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

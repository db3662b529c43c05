//! The body as a whole: gzip, byte-order mark, format detection.

use std::io::Read;

use crate::error::{CoreError, InputErrorKind, Result};
use crate::json::{scan_value, skip_ws};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Ndjson,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }

    /// `auto` is None: detect from the body.
    pub fn parse_name(name: &str) -> Result<Option<Format>> {
        match name {
            "auto" => Ok(None),
            "json" => Ok(Some(Format::Json)),
            "ndjson" | "jsonl" => Ok(Some(Format::Ndjson)),
            "csv" => Ok(Some(Format::Csv)),
            other => Err(CoreError::input(
                InputErrorKind::UnknownFormat,
                format!("unknown format {other:?}: use auto, json, ndjson or csv"),
            )),
        }
    }
}

pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&GZIP_MAGIC)
}

/// Gunzip (all members), refusing to produce more than `limit` bytes: a small body must not
/// be able to exhaust memory (a "zip bomb").
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity((data.len() * 4).min(limit));
    let decoder = flate2::read::MultiGzDecoder::new(data);
    let read = decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|err| CoreError::input(InputErrorKind::BadGzip, format!("the gzip body is corrupt: {err}")))?;
    if read > limit {
        return Err(CoreError::input(
            InputErrorKind::TooLarge,
            format!("the gzip body decompresses to more than {limit} bytes"),
        ));
    }
    Ok(out)
}

/// Where the content starts once a UTF-8 byte-order mark is skipped.
pub fn content_start(data: &[u8]) -> usize {
    if data.starts_with(BOM) {
        BOM.len()
    } else {
        0
    }
}

/// `[` is a JSON array; `{` is one JSON object if nothing but whitespace follows the first
/// value (or the first value is malformed), NDJSON otherwise; anything else is CSV. An empty
/// body is NDJSON (with no records).
pub fn detect_format(content: &[u8]) -> Format {
    let start = skip_ws(content, 0);
    match content.get(start) {
        None => Format::Ndjson,
        Some(b'[') => Format::Json,
        Some(b'{') => match scan_value(content, start) {
            Ok(info) if skip_ws(content, info.end) < content.len() => Format::Ndjson,
            _ => Format::Json,
        },
        _ => Format::Csv,
    }
}

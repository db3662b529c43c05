//! Record extents: where each record of a body lies, by record index as the core counts them.
//!
//! Whoever rewrites records of a body (filling in a missing id) needs the same record
//! boundaries the parser uses, or record N of the rewrite is not record N of the rejections.
//! These come from the parser itself, so they cannot disagree with it.

use crate::error::Result;
use crate::parse::{parse_into, prepare, Body, ParseOptions, RecordView, Sink};
use crate::rejection::Rejection;

/// The byte range `start..end` of every record, in record order (index `i` is record `i`,
/// accepted or rejected alike), as offsets into the body once decompressed (a UTF-8
/// byte-order mark counts). A JSON array element spans its value; an NDJSON record its line
/// without the line end; a CSV row its text without line ends. A record that is only a
/// parse error (the unread rest of a broken array) spans what was rejected, possibly nothing.
/// Errors as [`crate::parse()`] does, for a body that cannot be read at all.
pub fn record_extents(body: Body, options: &ParseOptions) -> Result<Vec<(usize, usize)>> {
    let body = prepare(body, options)?;
    let mut extents = Extents(Vec::new());
    parse_into((*body).as_ref(), options, &mut extents)?;
    Ok(extents.0)
}

struct Extents(Vec<(usize, usize)>);

impl Sink for Extents {
    const RETAINS_RECORDS: bool = false;

    fn accept(&mut self, _record: &RecordView<'_>) {}

    fn reject(&mut self, _rejection: Rejection) {}

    fn extent(&mut self, index: u64, start: usize, end: usize) {
        debug_assert_eq!(index as usize, self.0.len(), "records are numbered in order");
        self.0.push((start, end));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::input::Format;
    use crate::parse::parse;

    fn extents(body: &[u8], format: Option<Format>) -> Vec<(usize, usize)> {
        let options = ParseOptions { format, ..ParseOptions::default() };
        record_extents(Arc::new(body.to_vec()), &options).unwrap()
    }

    fn texts(body: &[u8], format: Option<Format>) -> Vec<&str> {
        extents(body, format).iter().map(|&(s, e)| std::str::from_utf8(&body[s..e]).unwrap()).collect()
    }

    #[test]
    fn json_array_elements_span_their_values() {
        let body = b" [ {\"a\":1} ,\n  {\"a\":[2]}, 3 ]";
        assert_eq!(texts(body, None), vec!["{\"a\":1}", "{\"a\":[2]}", "3"]);
        assert_eq!(texts(b"[{\"a\":1}, {\"a\"", None), vec!["{\"a\":1}", "{\"a\""]);
        assert_eq!(texts(b"[{\"a\":1}", None), vec!["{\"a\":1}", ""]);
        assert_eq!(texts(b"[{\"a\":1}] x ", None), vec!["{\"a\":1}", "x"]);
        assert_eq!(texts(b"  {\"a\": 1}\n", None), vec!["{\"a\": 1}"]);
        assert!(extents(b"[]", None).is_empty());
    }

    #[test]
    fn ndjson_records_span_their_lines() {
        let body = b"{\"a\":1}\r\n\n  \n {\"a\":2} \nnot json\n";
        assert_eq!(texts(body, None), vec!["{\"a\":1}", " {\"a\":2} ", "not json"]);
    }

    #[test]
    fn csv_rows_span_their_text() {
        let body = b"\xEF\xBB\xBFa,b\r\n1,2\r\n\r\n\"x\ny\",3\n4\n";
        let spans = extents(body, None);
        assert_eq!(spans[0].0, 3 + 5, "offsets count the byte-order mark");
        assert_eq!(texts(body, None), vec!["1,2", "\"x\ny\",3", "4"]);
    }

    #[test]
    fn one_extent_per_record_the_parser_counts() {
        let bodies: [&[u8]; 4] =
            [b"[{\"a\":1},{\"a\":2},{\"a\" 3}]", b"{\"a\":1}\n{\"a\":2,\"a\":3}\n[1]\n", b"a,b\n1,2\n3\n4,5,6\n", b""];
        for body in bodies {
            let parsed = parse(Arc::new(body.to_vec()), &ParseOptions::default()).unwrap();
            assert_eq!(extents(body, None).len() as u64, parsed.received(), "{}", String::from_utf8_lossy(body));
        }
    }
}

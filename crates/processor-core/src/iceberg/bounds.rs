//! The column-chunk statistics of top-level string and binary columns, computed here rather
//! than by the Parquet writer, and exactly as it would have computed them.
//!
//! Why: the writer finds a byte-array chunk's min and max by comparing every value with both
//! through a `memcmp` call each; on the events (ids, JSON properties, user and product ids)
//! that was about 30% of the encoding time (perf, 1M events). Here each value's first 8 bytes
//! are compared as one big-endian integer, inline, and only a tie compares the rest, which finds
//! the same min and max in a fraction of the time. The writer is told to keep no statistics for
//! these columns, and the chunk's metadata is then given what it would have held: the same
//! min/max (truncated to `statistics_truncate_length` as the writer truncates, UTF-8 aware), null
//! count, unencoded byte count and definition-level histogram. A file is byte for byte what the
//! writer alone writes (the tests compare them).

use arrow_array::cast::AsArray;
use arrow_array::types::{ByteArrayType, GenericBinaryType, GenericStringType};
use arrow_array::{Array, GenericByteArray};
use arrow_buffer::ArrowNativeType;
use arrow_schema::DataType;
use parquet::basic::{ConvertedType, LogicalType};
use parquet::data_type::ByteArray;
use parquet::errors::Result as ParquetResult;
use parquet::file::metadata::{ColumnChunkMetaData, LevelHistogram};
use parquet::file::statistics::{Statistics, ValueStatistics};

/// The least and greatest value of a column chunk; None when it holds none (all null).
type MinMax<'a> = Option<(&'a [u8], &'a [u8])>;

/// What the statistics of a byte-array column chunk are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ByteArrayBounds<'a> {
    min_max: MinMax<'a>,
    nulls: u64,
    /// The bytes of the non-null values, unencoded (Parquet's size statistics).
    value_bytes: i64,
}

/// Whether this module computes the statistics of a top-level column of this type (the
/// writer's own computation stays for every other column).
pub(super) fn has_own_bounds(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary)
}

/// The bounds of `column`, one of the types `has_own_bounds` accepts; None for the others.
pub(super) fn byte_array_bounds(column: &dyn Array) -> Option<ByteArrayBounds<'_>> {
    match column.data_type() {
        DataType::Utf8 => Some(bounds_of::<GenericStringType<i32>>(column.as_string::<i32>())),
        DataType::LargeUtf8 => Some(bounds_of::<GenericStringType<i64>>(column.as_string::<i64>())),
        DataType::Binary => Some(bounds_of::<GenericBinaryType<i32>>(column.as_binary::<i32>())),
        DataType::LargeBinary => Some(bounds_of::<GenericBinaryType<i64>>(column.as_binary::<i64>())),
        _ => None,
    }
}

fn bounds_of<T: ByteArrayType>(array: &GenericByteArray<T>) -> ByteArrayBounds<'_> {
    let offsets = array.value_offsets();
    let data = array.value_data();
    let value = |row: usize| &data[offsets[row].as_usize()..offsets[row + 1].as_usize()];
    let (min_max, value_bytes) = match array.nulls().filter(|nulls| nulls.null_count() > 0) {
        None => min_max((0..array.len()).map(value)),
        Some(nulls) => min_max(nulls.valid_indices().map(value)),
    };
    ByteArrayBounds { min_max, nulls: array.null_count() as u64, value_bytes }
}

/// The least and greatest of `values`, and their total length.
fn min_max<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> (MinMax<'a>, i64) {
    let Some(first) = values.next() else {
        return (None, 0);
    };
    let (mut min, mut max) = (first, first);
    let (mut min_prefix, mut max_prefix) = (prefix(first), prefix(first));
    let mut value_bytes = first.len() as i64;
    for value in values {
        value_bytes += value.len() as i64;
        let p = prefix(value);
        // Most values fall strictly between the bounds' prefixes: two integer compares.
        if p < min_prefix || (p == min_prefix && greater(min, value)) {
            (min, min_prefix) = (value, p);
        }
        if p > max_prefix || (p == max_prefix && greater(value, max)) {
            (max, max_prefix) = (value, p);
        }
    }
    (Some((min, max)), value_bytes)
}

/// A value's first 8 bytes as a big-endian integer, zero-padded: when two prefixes differ
/// they order their values as the bytes do (a shorter value padded with zeros is smaller than
/// any longer one it starts, or equal to it, which then compares the rest).
#[inline]
fn prefix(value: &[u8]) -> u64 {
    match value.first_chunk::<8>() {
        Some(bytes) => u64::from_be_bytes(*bytes),
        None => {
            let mut bytes = [0u8; 8];
            bytes[..value.len()].copy_from_slice(value);
            u64::from_be_bytes(bytes)
        }
    }
}

/// `a > b`, bytewise (Parquet's unsigned order of byte arrays), 8 bytes at a time and inline:
/// a slice comparison would call `memcmp`, and columns of one repeated value (a job id, a
/// source) tie on every value.
#[inline]
fn greater(a: &[u8], b: &[u8]) -> bool {
    let (mut a_rest, mut b_rest) = (a, b);
    while let (Some((a8, a_tail)), Some((b8, b_tail))) =
        (a_rest.split_first_chunk::<8>(), b_rest.split_first_chunk::<8>())
    {
        let (x, y) = (u64::from_be_bytes(*a8), u64::from_be_bytes(*b8));
        if x != y {
            return x > y;
        }
        (a_rest, b_rest) = (a_tail, b_tail);
    }
    // One of the rests is under 8 bytes: if the padded prefixes tie, it starts the other.
    let (x, y) = (prefix(a_rest), prefix(b_rest));
    if x != y {
        return x > y;
    }
    a_rest.len() > b_rest.len()
}

/// `metadata` (of a chunk written with statistics off) with the statistics the writer would
/// have given it at `EnabledStatistics::Chunk`.
pub(super) fn with_statistics(
    metadata: ColumnChunkMetaData,
    bounds: &ByteArrayBounds<'_>,
    truncate_length: Option<usize>,
) -> ParquetResult<ColumnChunkMetaData> {
    let descr = metadata.column_descr_ptr();
    let utf8 = descr.logical_type_ref() == Some(&LogicalType::String) || descr.converted_type() == ConvertedType::UTF8;
    let statistics = match bounds.min_max {
        Some((min, max)) => {
            let (min, min_truncated) = truncate_min(min, truncate_length, utf8);
            let (max, max_truncated) = truncate_max(max, truncate_length, utf8);
            ValueStatistics::new(
                Some(ByteArray::from(min)),
                Some(ByteArray::from(max)),
                None,
                Some(bounds.nulls),
                false,
            )
            .with_min_is_exact(!min_truncated)
            .with_max_is_exact(!max_truncated)
        }
        None => ValueStatistics::new(None, None, None, Some(bounds.nulls), false),
    };
    // A top-level column: definition level 0 is a null, 1 a value (none for a required one).
    let definition_levels = LevelHistogram::try_new(descr.max_def_level()).map(|_| {
        let values = bounds.nulls as i64;
        LevelHistogram::from(vec![values, metadata.num_values() - values])
    });
    metadata
        .into_builder()
        .set_statistics(Statistics::ByteArray(statistics))
        .set_unencoded_byte_array_data_bytes(Some(bounds.value_bytes))
        .set_definition_level_histogram(definition_levels)
        .build()
}

/// The writer's lower bound of at most `length` bytes (`truncate_min_value`): a prefix, cut at
/// a character boundary for UTF-8.
fn truncate_min(value: &[u8], length: Option<usize>, utf8: bool) -> (Vec<u8>, bool) {
    let truncated = length.filter(|&l| value.len() > l).and_then(|l| match std::str::from_utf8(value) {
        Ok(text) if utf8 => (1..=l).rfind(|&at| text.is_char_boundary(at)).map(|at| value[..at].to_vec()),
        _ => Some(value[..l].to_vec()),
    });
    match truncated {
        Some(bound) => (bound, true),
        None => (value.to_vec(), false),
    }
}

/// The writer's upper bound of at most `length` bytes (`truncate_max_value`): a prefix with its
/// last character (UTF-8) or byte incremented; the value itself when none can be.
fn truncate_max(value: &[u8], length: Option<usize>, utf8: bool) -> (Vec<u8>, bool) {
    let truncated = length.filter(|&l| value.len() > l).and_then(|l| match std::str::from_utf8(value) {
        Ok(text) if utf8 => {
            // A UTF-8 character is at most 4 bytes: a boundary is within 3 bytes of `l`.
            let at = (l.saturating_sub(3)..=l).rfind(|&at| text.is_char_boundary(at))?;
            increment_utf8(text.get(..at)?)
        }
        _ => increment_bytes(value[..l].to_vec()),
    });
    match truncated {
        Some(bound) => (bound, true),
        None => (value.to_vec(), false),
    }
}

/// The text with its last character that can be incremented without changing its UTF-8
/// width incremented, and what followed it dropped; None if no character can be.
fn increment_utf8(text: &str) -> Option<Vec<u8>> {
    text.char_indices().rev().find_map(|(at, c)| {
        let next = char::from_u32(c as u32 + 1).filter(|next| next.len_utf8() == c.len_utf8())?;
        let mut bound = text.as_bytes()[..at + c.len_utf8()].to_vec();
        next.encode_utf8(&mut bound[at..]);
        Some(bound)
    })
}

/// The bytes incremented as a big-endian number; None if they are all 0xFF.
fn increment_bytes(mut bytes: Vec<u8>) -> Option<Vec<u8>> {
    for byte in bytes.iter_mut().rev() {
        let (incremented, overflow) = byte.overflowing_add(1);
        *byte = incremented;
        if !overflow {
            return Some(bytes);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::arrow_writer::ArrowWriterOptions;
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::ParquetMetaDataReader;
    use parquet::file::properties::WriterProperties;

    use super::super::{write_parquet, writer_properties, DataFileOptions};
    use super::*;

    #[test]
    fn greater_and_prefix_order_as_bytes_do() {
        let values: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"\0\0\0\0\0\0\0\0\0",
            b"a",
            b"a\0",
            b"ab",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghi",
            b"abcdefgi",
            b"\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            b"{\"page\":\"/\"}",
            b"{\"page\":\"/c\"}",
        ];
        for a in &values {
            for b in &values {
                assert_eq!(greater(a, b), a > b, "{a:?} > {b:?}");
                if prefix(a) != prefix(b) {
                    assert_eq!(prefix(a) > prefix(b), a > b, "prefixes of {a:?}, {b:?}");
                }
            }
        }
    }

    #[test]
    fn truncation_matches_the_writer_on_edge_cases() {
        // The writer's cases (parquet's column writer tests): at a boundary, inside a 4-byte
        // character, a character that cannot be incremented, bytes that all overflow.
        assert_eq!(truncate_min("héllo".as_bytes(), Some(2), true), ("h".as_bytes().to_vec(), true));
        assert_eq!(truncate_max("héllo".as_bytes(), Some(2), true), ("i".as_bytes().to_vec(), true));
        assert_eq!(truncate_max("a\u{10FFFF}b".as_bytes(), Some(5), true), ("b".as_bytes().to_vec(), true));
        assert_eq!(truncate_max(&[0xFF, 0xFF, 0xFF], Some(2), false), (vec![0xFF, 0xFF, 0xFF], false));
        assert_eq!(truncate_max(&[0x01, 0xFF, 0x00], Some(2), false), (vec![0x02, 0x00], true));
        assert_eq!(truncate_min(b"short", Some(64), true), (b"short".to_vec(), false));
        assert_eq!(truncate_min(b"anything", None, true), (b"anything".to_vec(), false));
    }

    /// Random values of every shape the statistics care about: empty, short, longer than the
    /// truncation length, multi-byte characters at the cut, 0xFF bytes, nulls.
    fn values(seed: u64, rows: usize, nulls: bool) -> Vec<Option<Vec<u8>>> {
        const PIECES: [&str; 9] = ["a", "z", "{\"page\":\"/", "é", "€", "😀", "\u{10FFFF}", "0", "~"];
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..rows)
            .map(|_| {
                if nulls && next() % 5 == 0 {
                    return None;
                }
                let pieces = (next() % 40) as usize;
                Some((0..pieces).flat_map(|_| PIECES[(next() % 9) as usize].as_bytes().to_vec()).collect())
            })
            .collect()
    }

    fn batch(rows: usize) -> RecordBatch {
        use arrow_array::{BinaryArray, Int64Array, LargeBinaryArray, LargeStringArray, StringArray};
        let text = |seed, nulls| -> Vec<Option<String>> {
            values(seed, rows, nulls).into_iter().map(|v| v.map(|v| String::from_utf8(v).unwrap())).collect()
        };
        let mut binary = values(3, rows, true);
        for value in binary.iter_mut().flatten().step_by(7) {
            value.extend_from_slice(&[0xFF; 70]);
        }
        let columns: Vec<(&str, ArrayRef, bool)> = vec![
            ("text", Arc::new(StringArray::from(text(1, true))), true),
            ("required_text", Arc::new(StringArray::from(text(2, false))), false),
            ("large_text", Arc::new(LargeStringArray::from(text(4, true))), true),
            ("binary", Arc::new(BinaryArray::from_iter(binary.iter().map(|v| v.as_deref()))), true),
            (
                "large_binary",
                Arc::new(LargeBinaryArray::from_iter(values(5, rows, false).iter().map(|v| v.as_deref()))),
                true,
            ),
            ("all_null", Arc::new(StringArray::from(vec![None::<&str>; rows])), true),
            ("number", Arc::new(Int64Array::from_iter_values((0..rows as i64).map(|i| i * 3 % 101))), false),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, column, nullable)| Field::new(*name, column.data_type().clone(), *nullable))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, c, _)| c).collect()).unwrap()
    }

    /// The file as the Parquet writer writes it with its own statistics, nothing computed here.
    fn written_by_the_writer_alone(batch: &RecordBatch, properties: WriterProperties) -> Vec<u8> {
        let options = ArrowWriterOptions::new()
            .with_properties(properties)
            .with_skip_arrow_metadata(true)
            .with_schema_root("table".to_string());
        let mut writer = ArrowWriter::try_new_with_options(Vec::new(), batch.schema(), options).unwrap();
        writer.write(batch).unwrap();
        writer.into_inner().unwrap()
    }

    #[test]
    fn files_are_byte_for_byte_what_the_writer_alone_writes() {
        let batch = batch(3000);
        for (rows_per_group, dictionary, truncate) in
            [(1_048_576, true, Some(64)), (700, false, Some(64)), (1000, true, Some(5)), (3000, false, None)]
        {
            let options = DataFileOptions { max_row_group_rows: rows_per_group, ..DataFileOptions::default() };
            let properties = writer_properties(&options)
                .unwrap()
                .set_dictionary_enabled(dictionary)
                .set_statistics_truncate_length(truncate);
            let ours = write_parquet(&batch, properties.clone()).unwrap();
            let theirs = written_by_the_writer_alone(&batch, properties.build());
            assert!(
                ours == theirs,
                "files differ: {rows_per_group} rows per group, dictionary {dictionary}, {truncate:?}"
            );
            // And the statistics are there (not equal by both lacking them).
            let metadata = ParquetMetaDataReader::new().parse_and_finish(&bytes::Bytes::from(ours)).unwrap();
            let chunk = metadata.row_group(0).column(0);
            let statistics = chunk.statistics().expect("statistics");
            assert!(statistics.min_bytes_opt().is_some() && statistics.null_count_opt().unwrap() > 0);
        }
    }
}

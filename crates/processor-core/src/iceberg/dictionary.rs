//! Which columns to write without a dictionary, judged on a sample of their values.

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

/// Rows sampled per column to judge whether a dictionary pays.
const DICTIONARY_SAMPLE: usize = 1024;

/// The top-level columns of `batch` whose values are (nearly) all distinct, judged on a sample
/// of rows; they are written without a dictionary.
///
/// With the dictionary on, the writer hashes and interns every value until the dictionary
/// outgrows its page limit and only then falls back to plain encoding, per file: for event ids,
/// event timestamps or free-form JSON that is work (about a fifth of the encoding time of a
/// month of events split by day) for a dictionary that is dropped, or kept when it is larger
/// than the values. A column keeps its dictionary when the sample suggests its values repeat
/// (on average twice or more) and the dictionary would fit in its page; when in doubt (a
/// skewed column whose popular values repeat) the writer's default, the dictionary, stays.
pub(super) fn columns_without_dictionary(batch: &RecordBatch, dictionary_page_limit: usize) -> Vec<String> {
    let rows = batch.num_rows();
    if rows < DICTIONARY_SAMPLE {
        return Vec::new(); // small files: the dictionary costs little either way
    }
    // Rows drawn at (fixed) random, with replacement: an even stride can resonate with a
    // periodic column and see no repeats at all; a row drawn twice counts as a repeat, as it
    // should for the estimate below.
    let sample = (0..DICTIONARY_SAMPLE).scan(0x9E37_79B9_7F4A_7C15_u64, |state, _| {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        Some((*state % rows as u64) as usize)
    });
    batch
        .schema_ref()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(_, column)| {
            let Some((sampled, distinct, value_bytes)) = sample_distinct(column.as_ref(), sample.clone()) else {
                return false;
            };
            if sampled < 64 {
                return false; // mostly null
            }
            // Among `s` values drawn from `D` equally common ones, about s²/2D pairs repeat.
            let repeats = (sampled - distinct) as f64;
            let estimated_distinct =
                if repeats == 0.0 { f64::INFINITY } else { (sampled as f64).powi(2) / (2.0 * repeats) };
            let non_null = (rows - column.null_count()) as f64;
            let dictionary_bytes = estimated_distinct * value_bytes as f64 / sampled as f64;
            estimated_distinct > non_null / 2.0 || dictionary_bytes > dictionary_page_limit as f64
        })
        .map(|(field, _)| field.name().clone())
        .collect()
}

/// (non-null values sampled, distinct among them, their bytes in a dictionary page) for the
/// column types that Parquet dictionary-encodes; None for the others.
fn sample_distinct(column: &dyn Array, rows: impl Iterator<Item = usize>) -> Option<(usize, usize, usize)> {
    // A byte array is stored with a 4-byte length in the dictionary page.
    const LENGTH: usize = 4;
    match column.data_type() {
        DataType::Utf8 => {
            let array = column.as_string::<i32>();
            Some(count_distinct(column, rows, |i| array.value(i).as_bytes(), LENGTH))
        }
        DataType::LargeUtf8 => {
            let array = column.as_string::<i64>();
            Some(count_distinct(column, rows, |i| array.value(i).as_bytes(), LENGTH))
        }
        DataType::Utf8View => {
            let array = column.as_string_view();
            Some(count_distinct(column, rows, |i| array.value(i).as_bytes(), LENGTH))
        }
        DataType::Binary => {
            let array = column.as_binary::<i32>();
            Some(count_distinct(column, rows, |i| array.value(i), LENGTH))
        }
        DataType::LargeBinary => {
            let array = column.as_binary::<i64>();
            Some(count_distinct(column, rows, |i| array.value(i), LENGTH))
        }
        DataType::BinaryView => {
            let array = column.as_binary_view();
            Some(count_distinct(column, rows, |i| array.value(i), LENGTH))
        }
        data_type if data_type.is_primitive() => {
            let width = data_type.primitive_width()?;
            let data = column.to_data();
            let start = data.offset().checked_mul(width)?;
            let end = start.checked_add(data.len().checked_mul(width)?)?;
            let values = data.buffers().first()?.as_slice().get(start..end)?;
            Some(count_distinct(column, rows, |i| &values[i * width..(i + 1) * width], 0))
        }
        _ => None,
    }
}

fn count_distinct<'a>(
    column: &dyn Array,
    rows: impl Iterator<Item = usize>,
    value: impl Fn(usize) -> &'a [u8],
    overhead: usize,
) -> (usize, usize, usize) {
    let mut hashes = Vec::with_capacity(DICTIONARY_SAMPLE);
    let mut bytes = 0;
    for row in rows.filter(|&row| column.is_valid(row)) {
        let value = value(row);
        bytes += value.len() + overhead;
        hashes.push(xxhash_rust::xxh3::xxh3_64(value));
    }
    let sampled = hashes.len();
    hashes.sort_unstable();
    hashes.dedup();
    (sampled, hashes.len(), bytes)
}

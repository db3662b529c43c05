//! Encode Arrow batches as Iceberg Parquet data files, in memory.
//!
//! The bytes are handed back rather than written: the caller stores them through its
//! Iceberg FileIO (local directory or S3 alike) and commits them to the table. Each file:
//!
//! - carries every column's Iceberg field id in its Parquet schema (`field_id`), and no
//!   embedded Arrow schema, so readers resolve columns by id as Iceberg requires;
//! - keeps Arrow nullability (a non-nullable column is a REQUIRED Parquet column);
//! - is ZSTD-compressed, with min/max statistics per column chunk (what Iceberg's data-file
//!   metrics are built from), float columns included (see `float_columns_with_type_defined_stats`);
//! - is dictionary-encoded, except for the columns whose values a sample shows to be (nearly)
//!   all distinct (see `columns_without_dictionary`);
//! - holds the rows of one partition when a partition source is given: Iceberg's `day`
//!   transform of a timestamp (days since 1970-01-01, floor division) or of a date.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{Array, Int32Array, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{ArrowWriter, PARQUET_FIELD_ID_META_KEY};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use crate::error::{CoreError, Result};
use crate::timestamp::{civil_from_days, day_of};

/// How to encode a batch as Iceberg data files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFileOptions {
    /// Column name → Iceberg field id. Every top-level column of the batch needs one; nested
    /// fields must already carry `PARQUET:field_id` metadata. Names not in the batch are ignored.
    pub field_ids: HashMap<String, i32>,
    /// A column of type `Timestamp(Microsecond, _)` or `Date32`; rows are grouped into one file
    /// per day (Iceberg's `day` transform), rows with a null source into a file of their own.
    pub partition_source: Option<String>,
    pub zstd_level: i32,
    pub max_row_group_rows: usize,
    /// Files are encoded on up to this many threads (at least 1). Partition files are
    /// independent, so a batch spanning many days scales with cores.
    pub threads: usize,
}

pub const DEFAULT_ZSTD_LEVEL: i32 = 1;
pub const DEFAULT_MAX_ROW_GROUP_ROWS: usize = 1_048_576;

impl Default for DataFileOptions {
    fn default() -> Self {
        DataFileOptions {
            field_ids: HashMap::new(),
            partition_source: None,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            max_row_group_rows: DEFAULT_MAX_ROW_GROUP_ROWS,
            threads: 1,
        }
    }
}

/// One Parquet file, whole, with what the Iceberg manifest needs beyond the file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedDataFile {
    /// The day (since 1970-01-01) every row of the file falls in; None when the batch is not
    /// partitioned or for the rows whose partition source is null.
    pub partition_day: Option<i32>,
    pub record_count: u64,
    pub bytes: Vec<u8>,
}

/// The Parquet `created_by` of every file written here.
pub fn created_by() -> String {
    format!("eventlake data_processor_rs {}", env!("CARGO_PKG_VERSION"))
}

/// A day number as Iceberg spells it in partition paths (Java's `LocalDate.toString()`):
/// `2026-11-03`, `-0001-12-31`, `+10000-01-01`.
pub fn day_to_iso_date(day: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(day));
    if y > 9999 {
        format!("+{y}-{m:02}-{d:02}")
    } else if y < 0 {
        format!("-{:04}-{m:02}-{d:02}", -y)
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// A file or folder name given by a caller: one non-empty path segment, so that it cannot
/// climb out of or into another folder of the table. The error says what is wrong.
pub fn check_path_segment(what: &str, value: &str) -> std::result::Result<(), String> {
    if value.is_empty() || value.contains('/') {
        return Err(format!("{what} must be a non-empty name without '/', not {value:?}"));
    }
    Ok(())
}

/// Where the `n`th data file of a write goes, under the table's `data/` folder:
/// `{table}/data/{partition_name}={day as ISO date, or null}/{prefix}-{n:05}.parquet` when the
/// table is partitioned (Hive-style, as Iceberg writers lay it out), else `{table}/data/{prefix}-{n:05}.parquet`.
pub fn data_file_path(
    table_path: &str,
    partition_name: Option<&str>,
    file_prefix: &str,
    n: usize,
    day: Option<i32>,
) -> String {
    let base = table_path.trim_end_matches('/');
    match partition_name {
        Some(name) => {
            let value = day.map_or_else(|| "null".to_string(), day_to_iso_date);
            format!("{base}/data/{name}={value}/{file_prefix}-{n:05}.parquet")
        }
        None => format!("{base}/data/{file_prefix}-{n:05}.parquet"),
    }
}

fn write_error(message: impl Into<String>) -> CoreError {
    CoreError::Write { message: message.into() }
}

/// Encode `batch` as Iceberg Parquet data files: one file, or one per partition day (in
/// ascending day order, the null group last) when a partition source is given. Rows keep their
/// input order within a file. An empty batch gives no files.
pub fn encode_data_files(batch: &RecordBatch, options: &DataFileOptions) -> Result<Vec<EncodedDataFile>> {
    // Every check runs before the first row is looked at, so a mistake in the options shows on
    // an empty batch as it would on a full one.
    let schema = schema_with_field_ids(batch.schema_ref(), &options.field_ids)?;
    let properties = writer_properties(options)?;
    let dictionary_page_limit = properties.clone().build().dictionary_page_size_limit();
    let days = match &options.partition_source {
        Some(name) => Some(partition_days(batch, name)?),
        None => None,
    };
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let batch = RecordBatch::try_new_with_options(
        schema,
        batch.columns().to_vec(),
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
    .map_err(|e| write_error(format!("the batch does not match its own schema: {e}")))?;

    let (batch, groups) = match days {
        None => {
            let len = batch.num_rows();
            (batch, vec![Group { day: None, start: 0, len }])
        }
        Some(days) => group_by_day(&batch, &days)?,
    };
    let encode = |group: &Group| -> Result<EncodedDataFile> {
        let slice = batch.slice(group.start, group.len);
        let mut file_properties = properties.clone();
        for name in columns_without_dictionary(&slice, dictionary_page_limit) {
            file_properties = file_properties.set_column_dictionary_enabled(ColumnPath::new(vec![name]), false);
        }
        Ok(EncodedDataFile {
            partition_day: group.day,
            record_count: group.len as u64,
            bytes: write_parquet(&slice, file_properties.build())?,
        })
    };
    let threads = options.threads.clamp(1, groups.len().max(1));
    if threads == 1 {
        return groups.iter().map(encode).collect();
    }
    // Deal the files out, biggest first, to the least loaded thread; then put them in order.
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(groups[i].len));
    let mut shares: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); threads];
    for i in order {
        let lightest = shares.iter_mut().min_by_key(|(rows, _)| *rows).expect("threads >= 1");
        lightest.0 += groups[i].len;
        lightest.1.push(i);
    }
    let mut encoded: Vec<Option<Result<EncodedDataFile>>> = (0..groups.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = shares
            .iter()
            .map(|(_, indexes)| {
                let (encode, groups) = (&encode, &groups);
                scope.spawn(move || indexes.iter().map(|&i| (i, encode(&groups[i]))).collect::<Vec<_>>())
            })
            .collect();
        for worker in workers {
            for (i, file) in worker.join().expect("an encoding thread panicked") {
                encoded[i] = Some(file);
            }
        }
    });
    encoded.into_iter().map(|file| file.expect("every group was encoded")).collect()
}

/// The batch's schema with each column's field id in its metadata (`PARQUET:field_id`), which
/// the Parquet writer turns into the schema's `field_id`s.
fn schema_with_field_ids(schema: &SchemaRef, field_ids: &HashMap<String, i32>) -> Result<SchemaRef> {
    let mut seen: HashMap<i32, String> = HashMap::new();
    let mut fields: Vec<FieldRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let name = field.name();
        let Some(&id) = field_ids.get(name) else {
            let mut known: Vec<&str> = field_ids.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(write_error(format!(
                "column '{name}' has no Iceberg field id (ids were given for: {})",
                if known.is_empty() { "no column".to_string() } else { known.join(", ") }
            )));
        };
        claim_id(&mut seen, id, name)?;
        check_nested_ids(name, field.data_type(), &mut seen)?;
        let mut metadata = field.metadata().clone();
        metadata.insert(PARQUET_FIELD_ID_META_KEY.to_string(), id.to_string());
        fields.push(Arc::new(field.as_ref().clone().with_metadata(metadata)));
    }
    Ok(Arc::new(Schema::new_with_metadata(Fields::from(fields), schema.metadata().clone())))
}

fn claim_id(seen: &mut HashMap<i32, String>, id: i32, path: &str) -> Result<()> {
    if let Some(other) = seen.insert(id, path.to_string()) {
        return Err(write_error(format!("field id {id} is given to both '{other}' and '{path}'")));
    }
    Ok(())
}

/// Nested fields (struct members, list elements, map keys and values) need field ids too; they
/// cannot be named in a flat map, so they must arrive with `PARQUET:field_id` metadata (as
/// pyiceberg's `schema_to_pyarrow` gives them).
fn check_nested_ids(path: &str, data_type: &DataType, seen: &mut HashMap<i32, String>) -> Result<()> {
    let check_child = |child: &Field, seen: &mut HashMap<i32, String>| -> Result<()> {
        let child_path = format!("{path}.{}", child.name());
        let id = child.metadata().get(PARQUET_FIELD_ID_META_KEY).and_then(|v| v.parse::<i32>().ok());
        let Some(id) = id else {
            return Err(write_error(format!(
                "nested field '{child_path}' has no Iceberg field id: nested fields must carry \
                 '{PARQUET_FIELD_ID_META_KEY}' metadata"
            )));
        };
        claim_id(seen, id, &child_path)?;
        check_nested_ids(&child_path, child.data_type(), seen)
    };
    match data_type {
        DataType::Struct(children) => children.iter().try_for_each(|child| check_child(child, seen)),
        DataType::List(child)
        | DataType::LargeList(child)
        | DataType::ListView(child)
        | DataType::LargeListView(child)
        | DataType::FixedSizeList(child, _) => check_child(child, seen),
        DataType::Map(entries, _) => match entries.data_type() {
            // The entries struct is Parquet's repeated key_value group, which has no id.
            DataType::Struct(children) => children.iter().try_for_each(|child| check_child(child, seen)),
            other => Err(write_error(format!("map column '{path}' has entries of type {other}, not a struct"))),
        },
        DataType::Dictionary(_, values) => check_nested_ids(path, values, seen),
        _ => Ok(()),
    }
}

fn writer_properties(options: &DataFileOptions) -> Result<WriterPropertiesBuilder> {
    let level = ZstdLevel::try_new(options.zstd_level)
        .map_err(|e| write_error(format!("zstd_level {} is not usable: {e}", options.zstd_level)))?;
    if options.max_row_group_rows == 0 {
        return Err(write_error("max_row_group_rows must be at least 1"));
    }
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(options.max_row_group_rows))
        .set_created_by(created_by()))
}

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
fn columns_without_dictionary(batch: &RecordBatch, dictionary_page_limit: usize) -> Vec<String> {
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

/// Iceberg's `day` transform of the partition source, one value per row (null where the
/// source is null).
fn partition_days(batch: &RecordBatch, name: &str) -> Result<Int32Array> {
    let Some((index, field)) = batch.schema_ref().column_with_name(name) else {
        let columns: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        return Err(write_error(format!(
            "partition source column '{name}' is not in the batch (columns: {})",
            columns.join(", ")
        )));
    };
    let column = batch.column(index);
    match field.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Ok(column.as_primitive::<TimestampMicrosecondType>().unary::<_, Int32Type>(day_of))
        }
        DataType::Date32 => Ok(column.as_primitive::<Date32Type>().reinterpret_cast::<Int32Type>()),
        other => Err(write_error(format!(
            "partition source column '{name}' has type {other}; the day transform needs \
             Timestamp(Microsecond, _) or Date32"
        ))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Group {
    day: Option<i32>,
    start: usize,
    len: usize,
}

/// Sort key of a row's day: ascending days, nulls after every day.
fn sort_key(days: &Int32Array, row: usize) -> i64 {
    if days.is_valid(row) {
        i64::from(days.value(row))
    } else {
        i64::MAX
    }
}

/// The batch with its rows ordered by day (stably: input order within a day), and the run of
/// rows of each day. A batch already in that order is not copied.
fn group_by_day(batch: &RecordBatch, days: &Int32Array) -> Result<(RecordBatch, Vec<Group>)> {
    let rows = days.len();
    let sorted = (1..rows).all(|row| sort_key(days, row - 1) <= sort_key(days, row));
    if sorted {
        return Ok((batch.clone(), runs(days, 0..rows)));
    }
    if rows > u32::MAX as usize {
        return Err(write_error(format!("a batch of {rows} rows is too large to partition (at most 2^32 - 1)")));
    }
    let order = stable_order(days);
    let sorted_batch = arrow_select::take::take_record_batch(batch, &order)
        .map_err(|e| write_error(format!("cannot reorder rows by partition: {e}")))?;
    let groups = runs(days, order.values().iter().map(|&row| row as usize));
    Ok((sorted_batch, groups))
}

/// Row indices in (day, input position) order. A counting sort when the days span a range no
/// wider than the batch (any realistic batch: a month of events is ~30 buckets); otherwise a
/// comparison sort, so that a few far-apart days cannot ask for a huge count table.
fn stable_order(days: &Int32Array) -> UInt32Array {
    let rows = days.len();
    let valid = (0..rows).filter(|&row| days.is_valid(row));
    let (min, max) = valid.fold((i64::MAX, i64::MIN), |(lo, hi), row| {
        let day = i64::from(days.value(row));
        (lo.min(day), hi.max(day))
    });
    let span = if min <= max { (max - min + 1) as u64 } else { 0 };
    if span <= rows.max(1024) as u64 {
        // Bucket `span` holds the nulls, after every day.
        let span = span as usize;
        let bucket = |row: usize| if days.is_valid(row) { (i64::from(days.value(row)) - min) as usize } else { span };
        let mut starts = vec![0u32; span + 2];
        for row in 0..rows {
            starts[bucket(row) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut order = vec![0u32; rows];
        for row in 0..rows {
            let slot = &mut starts[bucket(row)];
            order[*slot as usize] = row as u32;
            *slot += 1;
        }
        UInt32Array::from(order)
    } else {
        let mut order: Vec<u32> = (0..rows as u32).collect();
        // Keys are unique with the row index as tie-break, so an unstable sort is stable here.
        order.sort_unstable_by_key(|&row| (sort_key(days, row as usize), row));
        UInt32Array::from(order)
    }
}

/// Runs of equal days along `order` (row indices of the original batch, already sorted).
fn runs(days: &Int32Array, order: impl Iterator<Item = usize>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (position, row) in order.enumerate() {
        let day = days.is_valid(row).then(|| days.value(row));
        match groups.last_mut() {
            Some(group) if group.day == day => group.len += 1,
            _ => groups.push(Group { day, start: position, len: 1 }),
        }
    }
    groups
}

fn write_parquet(batch: &RecordBatch, properties: WriterProperties) -> Result<Vec<u8>> {
    let parquet_error = |e: parquet::errors::ParquetError| write_error(format!("cannot encode Parquet: {e}"));
    // The root is named as Iceberg's own writers name it; readers go by field ids, not names.
    let options = ArrowWriterOptions::new()
        .with_properties(properties)
        .with_skip_arrow_metadata(true)
        .with_schema_root("table".to_string());
    let mut writer = ArrowWriter::try_new_with_options(Vec::new(), batch.schema(), options).map_err(parquet_error)?;
    writer.write(batch).map_err(parquet_error)?;
    let metadata = writer.finish().map_err(parquet_error)?;
    let mut bytes = std::mem::take(writer.inner_mut());
    let legacy = float_columns_with_type_defined_stats(&metadata);
    if legacy.iter().any(|&l| l) {
        // Only a footer that parses completely is changed; otherwise it stays as written.
        let _ = column_orders::use_type_defined_order(&mut bytes, &legacy);
    }
    Ok(bytes)
}

/// The FLOAT and DOUBLE leaf columns whose every column chunk has min/max statistics that are
/// valid under the type-defined order too (none NaN: only an all-NaN chunk has NaN bounds).
///
/// Why: the Parquet writer labels float columns with the new `IEEE_754_TOTAL_ORDER` column
/// order (PARQUET-2249), and readers that predate it, pyarrow 26 among them (and so pyiceberg's
/// data-file metrics), ignore the min/max of a column whose order they do not know. The bounds
/// the writer computes skip NaN and compare by value, which is what the type-defined order
/// (`TYPE_DEFINED_ORDER`, signed comparison) specifies, with -0.0/+0.0 left to the reader's
/// rules for zeros; so those columns can carry the order every reader understands.
fn float_columns_with_type_defined_stats(metadata: &parquet::file::metadata::ParquetMetaData) -> Vec<bool> {
    use parquet::basic::Type as PhysicalType;
    use parquet::file::statistics::Statistics;
    let descr = metadata.file_metadata().schema_descr();
    (0..descr.num_columns())
        .map(|i| {
            matches!(descr.column(i).physical_type(), PhysicalType::FLOAT | PhysicalType::DOUBLE)
                && metadata.row_groups().iter().all(|row_group| match row_group.column(i).statistics() {
                    Some(Statistics::Float(s)) => ![s.min_opt(), s.max_opt()].into_iter().flatten().any(|v| v.is_nan()),
                    Some(Statistics::Double(s)) => {
                        ![s.min_opt(), s.max_opt()].into_iter().flatten().any(|v| v.is_nan())
                    }
                    Some(_) => false,
                    None => true,
                })
        })
        .collect()
}

/// Just enough of Thrift's compact protocol to find `FileMetaData.column_orders` in a Parquet
/// footer and relabel `IEEE_754_TOTAL_ORDER` (union field 2, an empty struct) as
/// `TYPE_DEFINED_ORDER` (union field 1, an empty struct): one byte each, the same length.
mod column_orders {
    const STOP: u8 = 0;
    const STRUCT: u8 = 12;
    const LIST: u8 = 9;
    /// Field header of union field 2 / field 1, both structs, delta-encoded from field 0.
    const IEEE_754_TOTAL_ORDER: u8 = (2 << 4) | STRUCT;
    const TYPE_DEFINED_ORDER: u8 = (1 << 4) | STRUCT;
    const COLUMN_ORDERS_FIELD: i16 = 7;
    const MAX_DEPTH: u32 = 64;

    struct Reader<'a> {
        buf: &'a [u8],
        pos: usize,
    }

    impl Reader<'_> {
        fn byte(&mut self) -> Option<u8> {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            Some(b)
        }

        fn skip(&mut self, n: usize) -> Option<()> {
            let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len())?;
            self.pos = end;
            Some(())
        }

        fn varint(&mut self) -> Option<u64> {
            let mut value = 0u64;
            for shift in (0..64).step_by(7) {
                let b = self.byte()?;
                value |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return Some(value);
                }
            }
            None
        }

        /// The next field of a struct: `Some(None)` at its end, `None` if malformed.
        fn field(&mut self, last_id: &mut i16) -> Option<Option<(i16, u8)>> {
            let header = self.byte()?;
            if header == STOP {
                return Some(None);
            }
            let delta = i16::from(header >> 4);
            let id = if delta == 0 {
                let zigzag = u16::try_from(self.varint()?).ok()?;
                ((zigzag >> 1) as i16) ^ -((zigzag & 1) as i16)
            } else {
                last_id.checked_add(delta)?
            };
            *last_id = id;
            Some(Some((id, header & 0x0f)))
        }

        fn list_header(&mut self) -> Option<(usize, u8)> {
            let header = self.byte()?;
            let size = match header >> 4 {
                15 => usize::try_from(self.varint()?).ok()?,
                size => usize::from(size),
            };
            Some((size, header & 0x0f))
        }

        /// Skip a value of compact type `kind`; `in_collection`: booleans take a byte there,
        /// while in a field header they are the type itself.
        fn skip_value(&mut self, kind: u8, in_collection: bool, depth: u32) -> Option<()> {
            if depth > MAX_DEPTH {
                return None;
            }
            match kind {
                1 | 2 if in_collection => self.skip(1),
                1 | 2 => Some(()),
                3 => self.skip(1),
                4..=6 => self.varint().map(|_| ()),
                7 => self.skip(8),
                8 => {
                    let len = usize::try_from(self.varint()?).ok()?;
                    self.skip(len)
                }
                9 | 10 => {
                    let (size, element) = self.list_header()?;
                    (0..size).try_for_each(|_| self.skip_value(element, true, depth + 1))
                }
                11 => {
                    let size = self.varint()?;
                    if size == 0 {
                        return Some(());
                    }
                    let kinds = self.byte()?;
                    (0..size).try_for_each(|_| {
                        self.skip_value(kinds >> 4, true, depth + 1)?;
                        self.skip_value(kinds & 0x0f, true, depth + 1)
                    })
                }
                STRUCT => {
                    let mut last_id = 0;
                    while let Some((_, kind)) = self.field(&mut last_id)? {
                        self.skip_value(kind, false, depth + 1)?;
                    }
                    Some(())
                }
                _ => None,
            }
        }
    }

    /// Relabel the column order of each leaf column `i` with `columns[i]` set, when it is
    /// `IEEE_754_TOTAL_ORDER`. `None` (and the file untouched) if the footer is not as expected.
    pub(super) fn use_type_defined_order(file: &mut [u8], columns: &[bool]) -> Option<()> {
        let n = file.len();
        if n < 12 || &file[n - 4..] != b"PAR1" {
            return None;
        }
        let footer_len = usize::try_from(u32::from_le_bytes(file[n - 8..n - 4].try_into().ok()?)).ok()?;
        let start = (n - 8).checked_sub(footer_len)?;
        let mut reader = Reader { buf: &file[start..n - 8], pos: 0 };
        let mut patches = Vec::new();
        let mut last_id = 0;
        while let Some((id, kind)) = reader.field(&mut last_id)? {
            if id != COLUMN_ORDERS_FIELD || kind != LIST {
                reader.skip_value(kind, false, 0)?;
                continue;
            }
            let (size, element) = reader.list_header()?;
            if element != STRUCT || size != columns.len() {
                return None;
            }
            for &relabel in columns {
                let at = reader.pos;
                let mut union_id = 0;
                let (_, kind) = reader.field(&mut union_id)??;
                reader.skip_value(kind, false, 1)?;
                if reader.field(&mut union_id)?.is_some() {
                    return None; // a union holds one field
                }
                if relabel && reader.buf[at] == IEEE_754_TOTAL_ORDER && reader.buf.get(at + 1) == Some(&STOP) {
                    patches.push(start + at);
                }
            }
        }
        for at in patches {
            file[at] = TYPE_DEFINED_ORDER;
        }
        Some(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_malformed_footer_is_left_alone_without_panicking() {
            // FileMetaData { 7: column_orders = [IEEE, TYPE_DEFINED] }, then STOP.
            let footer = [0x79, 0x2C, 0x2C, 0x00, 0x00, 0x1C, 0x00, 0x00, 0x00];
            let file = |footer: &[u8]| {
                let mut file = b"PAR1".to_vec();
                file.extend_from_slice(footer);
                file.extend_from_slice(&(footer.len() as u32).to_le_bytes());
                file.extend_from_slice(b"PAR1");
                file
            };
            let mut good = file(&footer);
            assert_eq!(use_type_defined_order(&mut good, &[true, true]), Some(()));
            assert_eq!(good, file(&[0x79, 0x2C, 0x1C, 0x00, 0x00, 0x1C, 0x00, 0x00, 0x00]));
            let mut kept = file(&footer);
            assert_eq!(use_type_defined_order(&mut kept, &[false, true]), Some(()));
            assert_eq!(kept, file(&footer));
            assert_eq!(use_type_defined_order(&mut file(&footer), &[true]), None, "column count differs");
            for cut in 0..footer.len() {
                let mut truncated = file(&footer[..cut]);
                let before = truncated.clone();
                assert_eq!(use_type_defined_order(&mut truncated, &[true, true]), None, "cut at {cut}");
                assert_eq!(truncated, before);
            }
            // Every single-byte corruption either parses or is refused; none panics.
            for at in 0..footer.len() {
                for value in [0x00, 0x0F, 0x15, 0x19, 0x1B, 0x8F, 0xF9, 0xFF] {
                    let mut corrupt = footer;
                    corrupt[at] = value;
                    let _ = use_type_defined_order(&mut file(&corrupt), &[true, true]);
                }
            }
            assert_eq!(use_type_defined_order(&mut b"PAR1".to_vec(), &[]), None);
            assert_eq!(use_type_defined_order(&mut [0xFF; 12].to_vec(), &[]), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_as_iceberg_spells_them() {
        assert_eq!(day_to_iso_date(0), "1970-01-01");
        assert_eq!(day_to_iso_date(-1), "1969-12-31");
        assert_eq!(day_to_iso_date(20_760), "2026-11-03");
        assert_eq!(day_to_iso_date(11_016), "2000-02-29");
        assert_eq!(day_to_iso_date(-719_528), "0000-01-01");
        assert_eq!(day_to_iso_date(-719_529), "-0001-12-31");
        assert_eq!(day_to_iso_date(2_932_897), "+10000-01-01");
        for day in [i32::MIN, i32::MAX] {
            assert!(!day_to_iso_date(day).is_empty());
        }
        // Every day of a few centuries round-trips through the civil calendar.
        for day in -200_000..200_000 {
            let text = day_to_iso_date(day);
            let (y, rest) = text.split_at(text.len() - 6);
            let (m, d) = (&rest[1..3], &rest[4..6]);
            let days = crate::timestamp::days_from_civil(y.parse().unwrap(), m.parse().unwrap(), d.parse().unwrap());
            assert_eq!(days, i64::from(day), "{text}");
        }
    }

    #[test]
    fn data_file_paths() {
        assert_eq!(data_file_path("s3://b/t/", None, "f", 3, None), "s3://b/t/data/f-00003.parquet");
        assert_eq!(
            data_file_path("/lake/events", Some("day"), "job1", 0, Some(20_760)),
            "/lake/events/data/day=2026-11-03/job1-00000.parquet"
        );
        assert_eq!(data_file_path("t", Some("day"), "p", 12, None), "t/data/day=null/p-00012.parquet");
        assert!(check_path_segment("file_prefix", "job-1").is_ok());
        for bad in ["", "a/b", "/"] {
            let message = check_path_segment("file_prefix", bad).unwrap_err();
            assert_eq!(message, format!("file_prefix must be a non-empty name without '/', not {bad:?}"));
        }
    }

    #[test]
    fn counting_and_comparison_orders_agree() {
        let days = Int32Array::from(vec![Some(5), None, Some(3), Some(5), Some(-2), None, Some(3)]);
        let expected = vec![4u32, 2, 6, 0, 3, 1, 5];
        assert_eq!(stable_order(&days).values().to_vec(), expected);
        let wide = Int32Array::from(vec![Some(i32::MAX), None, Some(i32::MIN), Some(i32::MAX), Some(0)]);
        assert_eq!(stable_order(&wide).values().to_vec(), vec![2u32, 4, 0, 3, 1]);
        let all_null = Int32Array::from(vec![None, None, None]);
        assert_eq!(stable_order(&all_null).values().to_vec(), vec![0u32, 1, 2]);
    }
}

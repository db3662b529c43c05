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

mod bounds;
mod column_orders;
mod dictionary;
mod partition;
mod paths;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowWriterOptions};
use parquet::arrow::{ArrowWriter, PARQUET_FIELD_ID_META_KEY};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use crate::error::{CoreError, Result};

use dictionary::columns_without_dictionary;
use partition::{group_by_day, partition_days, Group};
pub use paths::{check_path_segment, data_file_path, day_to_iso_date};

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

pub(super) fn write_error(message: impl Into<String>) -> CoreError {
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
            bytes: write_parquet(&slice, file_properties)?,
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

/// Bytes kept free for the footer (a few hundred bytes per column and row group) after the pages.
const FOOTER_ROOM: usize = 64 * 1024;

fn write_parquet(batch: &RecordBatch, properties: WriterPropertiesBuilder) -> Result<Vec<u8>> {
    let parquet_error = |e: parquet::errors::ParquetError| write_error(format!("cannot encode Parquet: {e}"));
    let schema = batch.schema();
    // The statistics of these columns are computed in `bounds`, not by the writer (see there).
    let own_bounds: Vec<bool> = schema.fields().iter().map(|f| bounds::has_own_bounds(f.data_type())).collect();
    let mut properties = properties;
    for (field, _) in schema.fields().iter().zip(&own_bounds).filter(|(_, own)| **own) {
        properties = properties
            .set_column_statistics_enabled(ColumnPath::new(vec![field.name().clone()]), EnabledStatistics::None);
    }
    let properties = properties.build();
    let truncate_length = properties.statistics_truncate_length();
    let group_rows = properties.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
    // The root is named as Iceberg's own writers name it; readers go by field ids, not names.
    let options = ArrowWriterOptions::new()
        .with_properties(properties)
        .with_skip_arrow_metadata(true)
        .with_schema_root("table".to_string());
    let writer = ArrowWriter::try_new_with_options(Vec::new(), schema.clone(), options).map_err(parquet_error)?;
    // Column by column, so that each chunk's statistics can be filled in before it is stored.
    let (mut file, columns) = writer.into_serialized_writer().map_err(parquet_error)?;
    let mut start = 0;
    while start < batch.num_rows() {
        let group = batch.slice(start, group_rows.min(batch.num_rows() - start));
        start += group.num_rows();
        let mut writers =
            columns.create_column_writers(file.flushed_row_groups().len()).map_err(parquet_error)?.into_iter();
        let mut chunks = Vec::with_capacity(writers.len());
        for ((field, column), own) in schema.fields().iter().zip(group.columns()).zip(&own_bounds) {
            for leaf in compute_leaves(field, column).map_err(parquet_error)? {
                let mut writer = writers.next().ok_or_else(|| write_error("fewer column writers than columns"))?;
                writer.write(&leaf).map_err(parquet_error)?;
                let mut chunk = writer.close().map_err(parquet_error)?;
                if let Some(bounds) = own.then(|| bounds::byte_array_bounds(column.as_ref())).flatten() {
                    let close = chunk.close_mut();
                    close.metadata = bounds::with_statistics(close.metadata.clone(), &bounds, truncate_length)
                        .map_err(parquet_error)?;
                }
                chunks.push(chunk);
            }
        }
        // The file grows by this row group's pages: room for them at once, rather than the
        // buffer doubling (and copying what it holds) a few times on the way.
        let pages: i64 = chunks.iter().map(|chunk| chunk.close().metadata.compressed_size()).sum();
        file.inner_mut().reserve(usize::try_from(pages).unwrap_or(0) + FOOTER_ROOM);
        let mut row_group = file.next_row_group().map_err(parquet_error)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group).map_err(parquet_error)?;
        }
        row_group.close().map_err(parquet_error)?;
    }
    let metadata = file.finish().map_err(parquet_error)?;
    let mut bytes = std::mem::take(file.inner_mut());
    let legacy = column_orders::float_columns_with_type_defined_stats(&metadata);
    if legacy.iter().any(|&l| l) {
        // Only a footer that parses completely is changed; otherwise it stays as written.
        let _ = column_orders::use_type_defined_order(&mut bytes, &legacy);
    }
    Ok(bytes)
}

//! Iceberg data files: what comes back out of the Parquet bytes is what went in, carrying the
//! field ids, codec, statistics and partition grouping Iceberg needs; bad options are errors
//! that name the column, never panics.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch,
    StringArray, StructArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::PARQUET_FIELD_ID_META_KEY;
use parquet::basic::{Compression, Repetition};
use parquet::file::metadata::ParquetMetaData;
use processor_core::iceberg::created_by;
use processor_core::timestamp::day_of;
use processor_core::*;

const DAY: i64 = 86_400_000_000;

/// A small batch of every type the contracts produce, nullable and not.
fn sample(timestamps: Vec<Option<i64>>) -> RecordBatch {
    let n = timestamps.len();
    let schema = Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new(
            "event_timestamp",
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("event_value", DataType::Float64, true),
        Field::new("count", DataType::Int64, false),
        Field::new("flag", DataType::Boolean, true),
        Field::new("day", DataType::Date32, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("e{i}")))),
        Arc::new(TimestampMicrosecondArray::from(timestamps.clone()).with_timezone("UTC")),
        Arc::new(Float64Array::from_iter((0..n).map(|i| (i % 3 != 0).then_some(i as f64 * 1.5)))),
        Arc::new(Int64Array::from_iter_values((0..n).map(|i| i as i64 * 7 - 20))),
        Arc::new(BooleanArray::from_iter((0..n).map(|i| (i % 4 != 1).then_some(i % 2 == 0)))),
        Arc::new(Date32Array::from_iter(timestamps.iter().map(|t| t.map(day_of)))),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn ids(batch: &RecordBatch) -> HashMap<String, i32> {
    batch.schema().fields().iter().enumerate().map(|(i, f)| (f.name().clone(), i as i32 + 1)).collect()
}

fn options(batch: &RecordBatch, partition_source: Option<&str>) -> DataFileOptions {
    DataFileOptions {
        field_ids: ids(batch),
        partition_source: partition_source.map(str::to_string),
        ..DataFileOptions::default()
    }
}

fn read(bytes: &[u8]) -> (RecordBatch, Arc<ParquetMetaData>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(bytes)).unwrap();
    let metadata = builder.metadata().clone();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().collect::<std::result::Result<_, _>>().unwrap();
    (arrow_select::concat::concat_batches(&schema, &batches).unwrap(), metadata)
}

/// Column by column, values and types (nullability is checked on the Parquet schema).
fn assert_same_rows(actual: &RecordBatch, expected: &RecordBatch) {
    assert_eq!(actual.num_rows(), expected.num_rows());
    assert_eq!(actual.num_columns(), expected.num_columns());
    for (i, field) in expected.schema().fields().iter().enumerate() {
        assert_eq!(actual.schema().field(i).name(), field.name());
        assert_eq!(actual.column(i).to_data(), expected.column(i).to_data(), "column {}", field.name());
    }
}

fn rows_where(batch: &RecordBatch, keep: impl Fn(usize) -> bool) -> RecordBatch {
    let mask = BooleanArray::from_iter((0..batch.num_rows()).map(|i| Some(keep(i))));
    arrow_select::filter::filter_record_batch(batch, &mask).unwrap()
}

fn write_message(err: CoreError) -> String {
    match err {
        CoreError::Write { message } => message,
        other => panic!("expected a write error, got {other:?}"),
    }
}

#[test]
fn an_unpartitioned_batch_round_trips_as_one_file() {
    let batch = sample((0..100).map(|i| Some(1_700_000_000_000_000 + i * 3_600_000_000)).collect());
    let files = encode_data_files(&batch, &options(&batch, None)).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].partition_day, None);
    assert_eq!(files[0].record_count, 100);
    let (back, metadata) = read(&files[0].bytes);
    assert_same_rows(&back, &batch);
    assert_eq!(metadata.file_metadata().num_rows(), 100);
}

#[test]
fn the_parquet_schema_carries_field_ids_and_nullability_and_no_arrow_schema() {
    let batch = sample(vec![Some(0), None, Some(DAY)]);
    let mut field_ids = ids(&batch);
    field_ids.insert("not_in_the_batch".into(), 99);
    let files = encode_data_files(&batch, &DataFileOptions { field_ids, ..DataFileOptions::default() }).unwrap();
    let (_, metadata) = read(&files[0].bytes);
    let file = metadata.file_metadata();
    let descr = file.schema_descr();
    assert_eq!(descr.num_columns(), batch.num_columns());
    assert_eq!(descr.root_schema().name(), "table");
    for (i, field) in batch.schema().fields().iter().enumerate() {
        let info = descr.column(i).self_type().get_basic_info().clone();
        assert_eq!(info.name(), field.name());
        assert!(info.has_id(), "{} has no field id", field.name());
        assert_eq!(info.id(), i as i32 + 1);
        let expected = if field.is_nullable() { Repetition::OPTIONAL } else { Repetition::REQUIRED };
        assert_eq!(info.repetition(), expected, "{}", field.name());
    }
    let keys: Vec<&str> = file.key_value_metadata().into_iter().flatten().map(|kv| kv.key.as_str()).collect();
    assert!(!keys.contains(&"ARROW:schema"), "the arrow schema must not be embedded: {keys:?}");
    assert_eq!(file.created_by(), Some(created_by().as_str()));
    assert!(created_by().starts_with("eventlake data_processor_rs "));
}

#[test]
fn every_column_chunk_is_zstd_with_min_max_statistics() {
    let batch = sample((0..1000).map(|i| Some(i * 1_000_000)).collect());
    for level in [1, 3] {
        let options = DataFileOptions { zstd_level: level, ..options(&batch, None) };
        let files = encode_data_files(&batch, &options).unwrap();
        let (_, metadata) = read(&files[0].bytes);
        for row_group in metadata.row_groups() {
            for column in row_group.columns() {
                assert!(matches!(column.compression(), Compression::ZSTD(_)), "{:?}", column.compression());
                let stats = column.statistics().expect("statistics per column chunk");
                assert!(stats.min_bytes_opt().is_some() && stats.max_bytes_opt().is_some(), "{stats:?}");
                assert!(stats.null_count_opt().is_some());
            }
        }
        let value_stats = metadata.row_group(0).column(2).statistics().unwrap();
        assert_eq!(value_stats.null_count_opt(), Some(334));
    }
}

#[test]
fn rows_are_grouped_by_day_including_before_1970_and_nulls() {
    let times = vec![
        Some(3 * DAY + 5),
        None,
        Some(-1),       // 1969-12-31T23:59:59.999999: day -1
        Some(0),        // day 0
        Some(-DAY),     // day -1
        Some(-DAY - 1), // day -2
        Some(3 * DAY),  // day 3
        None,
        Some(DAY - 1),  // day 0
        Some(-2 * DAY), // day -2
    ];
    let batch = sample(times.clone());
    let files = encode_data_files(&batch, &options(&batch, Some("event_timestamp"))).unwrap();
    let days: Vec<Option<i32>> = files.iter().map(|f| f.partition_day).collect();
    assert_eq!(days, vec![Some(-2), Some(-1), Some(0), Some(3), None]);
    let counts: Vec<u64> = files.iter().map(|f| f.record_count).collect();
    assert_eq!(counts, vec![2, 2, 2, 2, 2]);
    for file in &files {
        let (back, _) = read(&file.bytes);
        let expected = rows_where(&batch, |i| times[i].map(day_of) == file.partition_day);
        assert_same_rows(&back, &expected);
    }
}

#[test]
fn a_date32_source_partitions_by_its_own_days() {
    let times: Vec<Option<i64>> = (0..50).map(|i| if i % 10 == 9 { None } else { Some((i % 4) * DAY) }).collect();
    let batch = sample(times.clone());
    let files = encode_data_files(&batch, &options(&batch, Some("day"))).unwrap();
    assert_eq!(
        files.iter().map(|f| f.partition_day).collect::<Vec<_>>(),
        vec![Some(0), Some(1), Some(2), Some(3), None]
    );
    assert_eq!(files.iter().map(|f| f.record_count).sum::<u64>(), 50);
    for file in &files {
        let (back, _) = read(&file.bytes);
        let days = back.column_by_name("day").unwrap().as_primitive::<Date32Type>();
        assert!(days.iter().all(|d| d == file.partition_day));
    }
}

#[test]
fn many_rows_over_a_month_in_random_order_keep_their_order_within_each_day() {
    // A deterministic shuffle of days over 30 days, with some nulls.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let times: Vec<Option<i64>> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (!state.is_multiple_of(97)).then(|| 20_000 * DAY + (state % (30 * DAY as u64)) as i64)
        })
        .collect();
    let batch = sample(times.clone());
    let files = encode_data_files(&batch, &options(&batch, Some("event_timestamp"))).unwrap();
    assert_eq!(files.len(), 31);
    assert_eq!(files.last().unwrap().partition_day, None);
    let days: Vec<i32> = files.iter().filter_map(|f| f.partition_day).collect();
    assert_eq!(days, (20_000..20_030).collect::<Vec<_>>());
    for file in [&files[0], &files[17], &files[30]] {
        let (back, _) = read(&file.bytes);
        let expected = rows_where(&batch, |i| times[i].map(day_of) == file.partition_day);
        assert_same_rows(&back, &expected);
    }
    assert_eq!(files.iter().map(|f| f.record_count).sum::<u64>(), 200_000);
}

#[test]
fn days_far_apart_take_the_comparison_sort_and_agree() {
    let times = vec![Some(i64::MAX), None, Some(i64::MIN), Some(0), Some(i64::MAX - 1), Some(i64::MIN + 1)];
    let batch = sample(times.clone());
    let files = encode_data_files(&batch, &options(&batch, Some("event_timestamp"))).unwrap();
    let days: Vec<Option<i32>> = files.iter().map(|f| f.partition_day).collect();
    assert_eq!(days, vec![Some(day_of(i64::MIN)), Some(0), Some(day_of(i64::MAX)), None]);
    let (back, _) = read(&files[0].bytes);
    assert_same_rows(&back, &rows_where(&batch, |i| i == 2 || i == 5));
}

#[test]
fn a_batch_already_in_day_order_is_split_without_reordering() {
    let times = vec![Some(0), Some(1), Some(DAY), Some(DAY), Some(5 * DAY), None, None];
    let batch = sample(times);
    let files = encode_data_files(&batch, &options(&batch, Some("event_timestamp"))).unwrap();
    assert_eq!(files.iter().map(|f| f.record_count).collect::<Vec<_>>(), vec![2, 2, 1, 2]);
    let (back, _) = read(&files[1].bytes);
    assert_same_rows(&back, &batch.slice(2, 2));
}

#[test]
fn a_whole_batch_of_null_sources_is_one_null_file() {
    let batch = sample(vec![None, None, None]);
    let files = encode_data_files(&batch, &options(&batch, Some("event_timestamp"))).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!((files[0].partition_day, files[0].record_count), (None, 3));
}

#[test]
fn an_empty_batch_gives_no_files_but_still_checks_the_options() {
    let batch = sample(vec![]);
    assert_eq!(encode_data_files(&batch, &options(&batch, Some("event_timestamp"))).unwrap(), vec![]);
    assert_eq!(encode_data_files(&batch, &options(&batch, None)).unwrap(), vec![]);
    let err = encode_data_files(&batch, &DataFileOptions::default()).unwrap_err();
    assert!(write_message(err).contains("'event_id'"));
}

#[test]
fn a_column_without_a_field_id_is_an_error_naming_it() {
    let batch = sample(vec![Some(0)]);
    let mut options = options(&batch, None);
    options.field_ids.remove("event_value");
    let message = write_message(encode_data_files(&batch, &options).unwrap_err());
    assert!(message.contains("column 'event_value' has no Iceberg field id"), "{message}");
}

#[test]
fn a_field_id_given_twice_is_an_error() {
    let batch = sample(vec![Some(0)]);
    let mut options = options(&batch, None);
    options.field_ids.insert("flag".into(), 1);
    let message = write_message(encode_data_files(&batch, &options).unwrap_err());
    assert!(message.contains("field id 1 is given to both") && message.contains("'flag'"), "{message}");
}

#[test]
fn a_partition_source_that_is_missing_or_of_the_wrong_type_is_an_error() {
    let batch = sample(vec![Some(0)]);
    let message = write_message(encode_data_files(&batch, &options(&batch, Some("nope"))).unwrap_err());
    assert!(message.contains("partition source column 'nope' is not in the batch"), "{message}");
    for (column, type_name) in [("event_id", "Utf8"), ("count", "Int64")] {
        let message = write_message(encode_data_files(&batch, &options(&batch, Some(column))).unwrap_err());
        assert!(message.contains(&format!("'{column}' has type {type_name}")), "{message}");
    }
    let seconds = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("ts", DataType::Timestamp(arrow_schema::TimeUnit::Second, None), false)])),
        vec![Arc::new(arrow_array::TimestampSecondArray::from(vec![1]))],
    )
    .unwrap();
    let message = write_message(encode_data_files(&seconds, &options(&seconds, Some("ts"))).unwrap_err());
    assert!(
        message.contains("'ts' has type Timestamp(s)") || message.contains("'ts' has type Timestamp(Second"),
        "{message}"
    );
}

#[test]
fn unusable_settings_are_errors_not_panics() {
    let batch = sample(vec![Some(0)]);
    let zero_rows = DataFileOptions { max_row_group_rows: 0, ..options(&batch, None) };
    assert!(write_message(encode_data_files(&batch, &zero_rows).unwrap_err()).contains("max_row_group_rows"));
    for level in [23, -200_000] {
        let bad_level = DataFileOptions { zstd_level: level, ..options(&batch, None) };
        assert!(write_message(encode_data_files(&batch, &bad_level).unwrap_err()).contains("zstd_level"));
    }
}

#[test]
fn row_groups_are_capped() {
    let batch = sample((0..2500).map(|i| Some(i * 1000)).collect());
    let options = DataFileOptions { max_row_group_rows: 1000, ..options(&batch, None) };
    let files = encode_data_files(&batch, &options).unwrap();
    let (back, metadata) = read(&files[0].bytes);
    let sizes: Vec<i64> = metadata.row_groups().iter().map(|rg| rg.num_rows()).collect();
    assert_eq!(sizes, vec![1000, 1000, 500]);
    assert_same_rows(&back, &batch);
}

fn with_id(field: Field, id: i32) -> Field {
    field.with_metadata(HashMap::from([(PARQUET_FIELD_ID_META_KEY.to_string(), id.to_string())]))
}

#[test]
fn nested_fields_need_ids_in_their_metadata() {
    let point_fields = |x_id: Option<i32>| {
        let x = Field::new("x", DataType::Int32, false);
        Fields::from(vec![
            match x_id {
                Some(id) => with_id(x, id),
                None => x,
            },
            with_id(Field::new("y", DataType::Utf8, true), 11),
        ])
    };
    let build = |x_id: Option<i32>| {
        let fields = point_fields(x_id);
        let point = StructArray::new(
            fields.clone(),
            vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(StringArray::from(vec![Some("a"), None]))],
            None,
        );
        let tags = ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
        ]);
        let tags_field =
            Field::new("tags", DataType::List(Arc::new(with_id(Field::new("item", DataType::Int32, true), 12))), true);
        let tags = ListArray::new(
            match tags_field.data_type() {
                DataType::List(f) => f.clone(),
                _ => unreachable!(),
            },
            tags.offsets().clone(),
            tags.values().clone(),
            tags.nulls().cloned(),
        );
        let schema = Schema::new(vec![Field::new("point", DataType::Struct(fields), false), tags_field]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(point) as ArrayRef, Arc::new(tags)]).unwrap()
    };
    let field_ids = HashMap::from([("point".to_string(), 1), ("tags".to_string(), 2)]);
    let good = build(Some(10));
    let files =
        encode_data_files(&good, &DataFileOptions { field_ids: field_ids.clone(), ..DataFileOptions::default() })
            .unwrap();
    let (back, metadata) = read(&files[0].bytes);
    assert_eq!(back.num_rows(), 2);
    let leaf_ids: Vec<i32> =
        metadata.file_metadata().schema_descr().columns().iter().map(|c| c.self_type().get_basic_info().id()).collect();
    assert_eq!(leaf_ids, vec![10, 11, 12]);

    let bad = build(None);
    let message = write_message(
        encode_data_files(&bad, &DataFileOptions { field_ids, ..DataFileOptions::default() }).unwrap_err(),
    );
    assert!(message.contains("nested field 'point.x' has no Iceberg field id"), "{message}");
}

#[test]
fn the_events_pipeline_output_round_trips() {
    let body = (0..300)
        .map(|i| {
            format!(
                r#"{{"event_id":"e{i}","user_id":"u{}","event_type":"purchase","event_timestamp":{},"event_value":{}}}"#,
                i % 7,
                1_767_225_600 + i * 7_200,
                i as f64 / 4.0
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let contract = Arc::new(Contract::default_events());
    let out = process(
        Arc::new(body.into_bytes()),
        contract,
        &ParseOptions::default(),
        &TransformOptions { job_id: "job".into(), source: "test".into(), ingested_at_us: Some(1) },
        None,
    )
    .unwrap();
    assert_eq!(out.batch.num_rows(), 300);
    let options = options(&out.batch, Some("event_timestamp"));
    let files = encode_data_files(&out.batch, &options).unwrap();
    assert_eq!(files.len(), 25); // 300 events two hours apart
    let timestamps = out.batch.column_by_name("event_timestamp").unwrap().as_primitive::<TimestampMicrosecondType>();
    for file in &files {
        let (back, _) = read(&file.bytes);
        let expected = rows_where(&out.batch, |i| Some(day_of(timestamps.value(i))) == file.partition_day);
        assert_same_rows(&back, &expected);
        let event_date = back.column_by_name("event_date").unwrap().as_primitive::<Date32Type>();
        assert!(event_date.iter().all(|d| d == file.partition_day));
    }
}

#[test]
fn float_columns_carry_the_type_defined_order_unless_a_chunk_is_all_nan() {
    use parquet::basic::{ColumnOrder, SortOrder};
    let schema = Arc::new(Schema::new(vec![
        Field::new("plain", DataType::Float64, true),
        Field::new("some_nan", DataType::Float64, false),
        Field::new("all_nan", DataType::Float64, false),
        Field::new("single", DataType::Float32, true),
        Field::new("n", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(vec![Some(-0.0), None, Some(2.5), Some(-7.25)])),
            Arc::new(Float64Array::from(vec![1.0, f64::NAN, -3.0, 0.0])),
            Arc::new(Float64Array::from(vec![f64::NAN; 4])),
            Arc::new(arrow_array::Float32Array::from(vec![None, None, None, None])),
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        ],
    )
    .unwrap();
    let files = encode_data_files(&batch, &options(&batch, None)).unwrap();
    let (back, metadata) = read(&files[0].bytes);
    let orders = metadata.file_metadata().column_orders().unwrap().clone();
    let type_defined = ColumnOrder::TYPE_DEFINED_ORDER(SortOrder::SIGNED);
    assert_eq!(orders, vec![type_defined, type_defined, ColumnOrder::IEEE_754_TOTAL_ORDER, type_defined, type_defined]);
    let stats = |i: usize| metadata.row_group(0).column(i).statistics().unwrap().clone();
    match (stats(0), stats(1)) {
        (parquet::file::statistics::Statistics::Double(plain), parquet::file::statistics::Statistics::Double(nan)) => {
            assert_eq!((plain.min_opt(), plain.max_opt()), (Some(&-7.25), Some(&2.5)));
            assert_eq!((nan.min_opt(), nan.max_opt()), (Some(&-3.0), Some(&1.0)));
        }
        other => panic!("{other:?}"),
    }
    // NaN compares unequal to itself: the columns holding NaN (and no nulls) by their bits.
    for i in 0..batch.num_columns() {
        let (actual, expected) = (back.column(i).to_data(), batch.column(i).to_data());
        if i == 1 || i == 2 {
            assert_eq!(actual.buffers(), expected.buffers(), "column {i}");
        } else {
            assert_eq!(actual, expected, "column {i}");
        }
    }
}

#[test]
fn distinct_columns_skip_the_dictionary_and_repeating_ones_keep_it() {
    let rows = 20_000;
    let schema = Arc::new(Schema::new(vec![
        Field::new("unique_text", DataType::Utf8, false),
        Field::new("unique_int", DataType::Int64, false),
        Field::new("few_text", DataType::Utf8, false),
        Field::new("few_int", DataType::Int64, true),
        Field::new("some_text", DataType::Utf8, false),
        Field::new("flag", DataType::Boolean, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("{:016x}", i * 2_654_435_761_u64)))),
            Arc::new(Int64Array::from_iter_values((0..rows).map(|i| i as i64 * 1_000_003))),
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| ["a", "b", "c"][i as usize % 3]))),
            Arc::new(Int64Array::from_iter((0..rows).map(|i| (i % 5 != 0).then_some(i as i64 % 40)))),
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("user-{}", i % 1_500)))),
            Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 2 == 0)))),
        ],
    )
    .unwrap();
    let files = encode_data_files(&batch, &options(&batch, None)).unwrap();
    let (back, metadata) = read(&files[0].bytes);
    assert_same_rows(&back, &batch);
    let has_dictionary: Vec<bool> =
        metadata.row_group(0).columns().iter().map(|c| c.dictionary_page_offset().is_some()).collect();
    assert_eq!(has_dictionary[..5], [false, false, true, true, true]);
    // Small files keep the writer's default: dictionary first, plain once it outgrows its page.
    let small = batch.slice(0, 500);
    let files = encode_data_files(&small, &options(&small, None)).unwrap();
    let (_, metadata) = read(&files[0].bytes);
    assert!(metadata.row_group(0).column(0).dictionary_page_offset().is_some());
}

#[test]
fn threads_give_the_same_files_in_the_same_order() {
    // 40 days of rows, interleaved, so that every thread gets several files.
    let micros: Vec<i64> = (0..4000).map(|i| (i % 40) * 86_400_000_000 + i).collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
            Field::new("n", DataType::Int64, false),
        ])),
        vec![
            Arc::new(TimestampMicrosecondArray::from(micros.clone()).with_timezone("UTC")),
            Arc::new(Int64Array::from_iter_values(0..4000)),
        ],
    )
    .unwrap();
    let one = encode_data_files(&batch, &options(&batch, Some("ts"))).unwrap();
    for threads in [2, 3, 64] {
        let many = encode_data_files(&batch, &DataFileOptions { threads, ..options(&batch, Some("ts")) }).unwrap();
        assert_eq!(many, one, "{threads} threads");
    }
    assert_eq!(one.len(), 40);
}

//! Iceberg's `day` partitioning: a day per row, and the batch grouped into runs of one day.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int32Type, TimestampMicrosecondType};
use arrow_array::{Array, Int32Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, TimeUnit};

use super::write_error;
use crate::error::Result;
use crate::timestamp::day_of;

/// Iceberg's `day` transform of the partition source, one value per row (null where the
/// source is null).
pub(super) fn partition_days(batch: &RecordBatch, name: &str) -> Result<Int32Array> {
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
pub(super) struct Group {
    pub(super) day: Option<i32>,
    pub(super) start: usize,
    pub(super) len: usize,
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
pub(super) fn group_by_day(batch: &RecordBatch, days: &Int32Array) -> Result<(RecordBatch, Vec<Group>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

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

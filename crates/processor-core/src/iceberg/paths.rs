//! Where data files go: Iceberg's partition paths and the checks on caller-given names.

use crate::timestamp::civil_from_days;

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
}

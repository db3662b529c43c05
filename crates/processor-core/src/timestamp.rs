//! Timestamps and dates: the ISO-8601 subset and epoch rules of docs/processing.md, to UTC
//! microseconds. Hand-written rather than chrono's parser so that the grammar is exactly the
//! documented one, and identical to the Python reference's.

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
pub const MIN_MICROS: i64 = -62_135_596_800 * MICROS_PER_SECOND;
pub const MAX_MICROS: i64 = 253_402_300_799 * MICROS_PER_SECOND + 999_999;
/// Epoch numbers at or beyond this magnitude are milliseconds, below it seconds.
pub const MILLIS_THRESHOLD: i64 = 100_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampError {
    /// Not in the grammar, or not a real date/time.
    Bad,
    /// Well-formed but outside years 1..9999.
    OutOfRange,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
#[inline]
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian (year, month, day) of a day since 1970-01-01: the inverse of
/// [`days_from_civil`] (Howard Hinnant's civil_from_days).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

#[inline]
fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

#[inline]
fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    let mut value = 0u32;
    for &b in part {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + (b - b'0') as u32;
    }
    Some(value)
}

/// `YYYY-MM-DD` → (year, month, day), checked against the calendar.
#[inline]
fn date_parts(s: &[u8]) -> Option<(i64, u32, u32)> {
    let year = digits(s, 0, 4)? as i64;
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(s, 5, 2)?;
    let day = digits(s, 8, 2)?;
    // Year 0 is read (proleptic Gregorian, a leap year) so that it is reported as out of range.
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((year, month, day))
}

/// A date field: exactly `YYYY-MM-DD`, a real date, year 1..9999. Days since the epoch.
pub fn parse_date(s: &str) -> Result<i32, TimestampError> {
    let b = s.as_bytes();
    if b.len() != 10 {
        return Err(TimestampError::Bad);
    }
    let (y, m, d) = date_parts(b).ok_or(TimestampError::Bad)?;
    if y == 0 {
        return Err(TimestampError::OutOfRange);
    }
    Ok(days_from_civil(y, m, d) as i32)
}

/// `YYYY-MM-DD(T| )HH:MM[:SS[.f{1,9}]][Z|z|±HH:MM|±HHMM|±HH]` → UTC microseconds.
pub fn parse_iso(s: &str) -> Result<i64, TimestampError> {
    use TimestampError::Bad;
    let b = s.as_bytes();
    let (year, month, day) = date_parts(b).ok_or(Bad)?;
    if !matches!(b.get(10), Some(b'T' | b' ')) {
        return Err(Bad);
    }
    let hour = digits(b, 11, 2).ok_or(Bad)?;
    if b.get(13) != Some(&b':') {
        return Err(Bad);
    }
    let minute = digits(b, 14, 2).ok_or(Bad)?;
    let mut i = 16;
    let mut second = 0;
    let mut micros = 0i64;
    if b.get(i) == Some(&b':') {
        second = digits(b, i + 1, 2).ok_or(Bad)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n = i - start;
            if n == 0 || n > 9 {
                return Err(Bad);
            }
            // Truncate to microseconds: take (up to) six digits, pad with zeros.
            for k in 0..6 {
                let d = if k < n { (b[start + k] - b'0') as i64 } else { 0 };
                micros = micros * 10 + d;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(Bad);
    }
    let offset_minutes: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (h, m) = match rest.len() {
                2 => (digits(rest, 0, 2).ok_or(Bad)?, 0),
                4 => (digits(rest, 0, 2).ok_or(Bad)?, digits(rest, 2, 2).ok_or(Bad)?),
                5 if rest[2] == b':' => (digits(rest, 0, 2).ok_or(Bad)?, digits(rest, 3, 2).ok_or(Bad)?),
                _ => return Err(Bad),
            };
            if h > 23 || m > 59 {
                return Err(Bad);
            }
            let total = (h * 60 + m) as i64;
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        Some(_) => return Err(Bad),
    };
    let days = days_from_civil(year, month, day);
    let local =
        days * MICROS_PER_DAY + (hour as i64 * 3600 + minute as i64 * 60 + second as i64) * MICROS_PER_SECOND + micros;
    let utc = local - offset_minutes * 60 * MICROS_PER_SECOND;
    check_range(utc)
}

fn check_range(micros: i64) -> Result<i64, TimestampError> {
    if (MIN_MICROS..=MAX_MICROS).contains(&micros) {
        Ok(micros)
    } else {
        Err(TimestampError::OutOfRange)
    }
}

/// An integer epoch: milliseconds at or beyond 1e11 in magnitude, otherwise seconds.
pub fn from_epoch_int(n: i64) -> Result<i64, TimestampError> {
    let scaled = if n.unsigned_abs() >= MILLIS_THRESHOLD as u64 {
        n.checked_mul(1_000)
    } else {
        n.checked_mul(MICROS_PER_SECOND)
    };
    check_range(scaled.ok_or(TimestampError::OutOfRange)?)
}

/// A float epoch, computed in float64 and truncated toward zero.
pub fn from_epoch_float(x: f64) -> Result<i64, TimestampError> {
    if !x.is_finite() {
        return Err(TimestampError::OutOfRange);
    }
    let scaled = if x.abs() >= MILLIS_THRESHOLD as f64 { x * 1_000.0 } else { x * 1_000_000.0 };
    let truncated = scaled.trunc();
    // Beyond ±2^63 the cast would saturate; such values are far outside the year range anyway.
    if truncated < MIN_MICROS as f64 || truncated > MAX_MICROS as f64 {
        return Err(TimestampError::OutOfRange);
    }
    check_range(truncated as i64)
}

/// The UTC day (days since the epoch) of a timestamp in microseconds: floor division, so that
/// 1969-12-31T23:59:59Z is day -1, not day 0 (Iceberg's `day` transform, and the partition
/// column's value).
pub fn day_of(micros: i64) -> i32 {
    // |i64::MIN / MICROS_PER_DAY| < 2^27: always fits.
    micros.div_euclid(MICROS_PER_DAY) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-719_529), (-1, 12, 31));
        for day in -800_000..800_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn day_of_floors() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(MICROS_PER_DAY - 1), 0);
        assert_eq!(day_of(MICROS_PER_DAY), 1);
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(-MICROS_PER_DAY), -1);
        assert_eq!(day_of(-MICROS_PER_DAY - 1), -2);
        assert_eq!(day_of(i64::MIN), -106_751_992);
        assert_eq!(day_of(i64::MAX), 106_751_991);
    }

    #[test]
    fn iso_grammar() {
        let base = 1_700_000_000 * MICROS_PER_SECOND; // 2023-11-14T22:13:20Z
        assert_eq!(parse_iso("2023-11-14T22:13:20Z"), Ok(base));
        assert_eq!(parse_iso("2023-11-14 22:13:20"), Ok(base));
        assert_eq!(parse_iso("2023-11-15T00:13:20+02:00"), Ok(base));
        assert_eq!(parse_iso("2023-11-15T00:13:20+0200"), Ok(base));
        assert_eq!(parse_iso("2023-11-15T00:13:20+02"), Ok(base));
        assert_eq!(parse_iso("2023-11-14T21:13:20-01:00"), Ok(base));
        assert_eq!(parse_iso("2023-11-14T22:13Z"), Ok(base - 20 * MICROS_PER_SECOND));
        assert_eq!(parse_iso("2023-11-14T22:13:20.1234569z"), Ok(base + 123_456));
        assert_eq!(parse_iso("2023-11-14T22:13:20.5"), Ok(base + 500_000));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T23:60:00Z",
            "2023-11-14T23:59:60Z",
            "2023-11-14",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20.1234567890Z",
            "2023-11-14t22:13:20Z",
            "2023-11-14T22:13:20+24:00",
            "2023-11-14T22:13:20+2",
            "2023-11-14T22:13:20Zx",
            " 2023-11-14T22:13:20Z",
            "2023-1-14T22:13:20Z",
            "yesterday",
            "",
        ] {
            assert_eq!(parse_iso(bad), Err(TimestampError::Bad), "{bad}");
        }
        assert!(parse_iso("2024-02-29T00:00:00Z").is_ok());
        assert_eq!(parse_iso("0001-01-01T00:00:00+00:01"), Err(TimestampError::OutOfRange));
        assert_eq!(parse_iso("9999-12-31T23:59:59.999999Z"), Ok(MAX_MICROS));
    }

    #[test]
    fn epochs() {
        assert_eq!(from_epoch_int(1_700_000_000), Ok(1_700_000_000 * MICROS_PER_SECOND));
        assert_eq!(from_epoch_int(1_700_000_000_123), Ok(1_700_000_000_123_000));
        assert_eq!(from_epoch_int(99_999_999_999), Ok(99_999_999_999 * MICROS_PER_SECOND));
        assert_eq!(from_epoch_int(-1), Ok(-MICROS_PER_SECOND));
        assert_eq!(from_epoch_int(i64::MAX), Err(TimestampError::OutOfRange));
        assert_eq!(from_epoch_float(1.5), Ok(1_500_000));
        assert_eq!(from_epoch_float(-1.5), Ok(-1_500_000));
        assert_eq!(from_epoch_float(f64::INFINITY), Err(TimestampError::OutOfRange));
        assert_eq!(from_epoch_float(1e300), Err(TimestampError::OutOfRange));
        assert_eq!(day_of(-1), -1);
        assert_eq!(parse_date("2024-02-29"), Ok(19_782));
        assert_eq!(parse_date("2023-02-29"), Err(TimestampError::Bad));
        assert_eq!(parse_date("0000-02-29"), Err(TimestampError::OutOfRange));
    }
}

//! Just enough of Thrift's compact protocol to find `FileMetaData.column_orders` in a Parquet
//! footer and relabel `IEEE_754_TOTAL_ORDER` (union field 2, an empty struct) as
//! `TYPE_DEFINED_ORDER` (union field 1, an empty struct): one byte each, the same length.
//!
//! Also which float columns may carry that order: see `float_columns_with_type_defined_stats`.

/// The FLOAT and DOUBLE leaf columns whose every column chunk has min/max statistics that are
/// valid under the type-defined order too (none NaN: only an all-NaN chunk has NaN bounds).
///
/// Why: the Parquet writer labels float columns with the new `IEEE_754_TOTAL_ORDER` column
/// order (PARQUET-2249), and readers that predate it, pyarrow 26 among them (and so pyiceberg's
/// data-file metrics), ignore the min/max of a column whose order they do not know. The bounds
/// the writer computes skip NaN and compare by value, which is what the type-defined order
/// (`TYPE_DEFINED_ORDER`, signed comparison) specifies, with -0.0/+0.0 left to the reader's
/// rules for zeros; so those columns can carry the order every reader understands.
pub(super) fn float_columns_with_type_defined_stats(metadata: &parquet::file::metadata::ParquetMetaData) -> Vec<bool> {
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

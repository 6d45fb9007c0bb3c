//! PostgreSQL `COPY … FROM STDIN` text format: one [`CopyTable`] is one batch of rows of one table.
//!
//! Format (PostgreSQL docs, "COPY", text format): columns separated by a tab, rows ended by a
//! newline, `\N` for NULL, and backslash, tab, newline and carriage return inside a value written
//! as `\\`, `\t`, `\n`, `\r`. Geometry goes in as EWKT (`SRID=4326;POINT(lon lat)`), which the
//! `geometry` input function accepts, with 7 decimals (about 1 cm).

use std::fmt::Write as _;

use chrono::NaiveDate;
use geo::{LineString, MultiPolygon, Point, Polygon};

/// One batch of rows for `COPY {table} ({columns}) FROM STDIN`.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyTable {
    pub table: &'static str,
    pub columns: &'static [&'static str],
    /// The rows, in COPY text format, each ended by `\n`.
    pub data: Vec<u8>,
    pub rows: u64,
}

impl CopyTable {
    pub fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        Self {
            table,
            columns,
            data: Vec::new(),
            rows: 0,
        }
    }

    /// The statement that loads this batch: `COPY table (a, b) FROM STDIN`.
    pub fn copy_statement(&self) -> String {
        format!(
            "COPY {} ({}) FROM STDIN",
            self.table,
            self.columns.join(", ")
        )
    }

    /// Starts a row; add one field per column, then call [`Row::end`].
    pub fn row(&mut self) -> Row<'_> {
        Row {
            table: self,
            fields: 0,
        }
    }
}

/// A row being written; fields are added in column order.
#[must_use = "a row is only counted once `end` is called"]
pub struct Row<'a> {
    table: &'a mut CopyTable,
    fields: usize,
}

impl Row<'_> {
    /// Adds one field (any [`CopyValue`], `Option` of one for a nullable column).
    pub fn field<V: CopyValue>(mut self, value: V) -> Self {
        if self.fields > 0 {
            self.table.data.push(b'\t');
        }
        value.write_copy(&mut self.table.data);
        self.fields += 1;
        self
    }

    /// Adds a NULL field.
    pub fn null(self) -> Self {
        self.field(None::<i64>)
    }

    /// Ends the row.
    pub fn end(self) {
        debug_assert_eq!(
            self.fields,
            self.table.columns.len(),
            "row of {} has the wrong number of fields",
            self.table.table
        );
        self.table.data.push(b'\n');
        self.table.rows += 1;
    }
}

/// A value that can be written as one COPY text field.
pub trait CopyValue {
    fn write_copy(&self, out: &mut Vec<u8>);
}

/// Writes `s` escaped for the COPY text format.
pub fn escape_into(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

impl CopyValue for str {
    fn write_copy(&self, out: &mut Vec<u8>) {
        escape_into(self, out);
    }
}
impl CopyValue for String {
    fn write_copy(&self, out: &mut Vec<u8>) {
        escape_into(self, out);
    }
}
impl<T: CopyValue + ?Sized> CopyValue for &T {
    fn write_copy(&self, out: &mut Vec<u8>) {
        (**self).write_copy(out);
    }
}
impl<T: CopyValue> CopyValue for Option<T> {
    fn write_copy(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.write_copy(out),
            None => out.extend_from_slice(b"\\N"),
        }
    }
}

macro_rules! display_value {
    ($($t:ty),*) => {$(
        impl CopyValue for $t {
            fn write_copy(&self, out: &mut Vec<u8>) {
                push_fmt(out, format_args!("{self}"));
            }
        }
    )*};
}
display_value!(i16, i32, i64, u8, u16, u32, u64, usize, f64);

impl CopyValue for bool {
    fn write_copy(&self, out: &mut Vec<u8>) {
        out.push(if *self { b't' } else { b'f' });
    }
}

impl CopyValue for NaiveDate {
    fn write_copy(&self, out: &mut Vec<u8>) {
        push_fmt(out, format_args!("{}", self.format("%Y-%m-%d")));
    }
}

/// A `numeric` with one decimal, e.g. `dose_mg numeric(8, 1)`.
#[derive(Debug, Clone, Copy)]
pub struct Decimal1(pub f64);
impl CopyValue for Decimal1 {
    fn write_copy(&self, out: &mut Vec<u8>) {
        push_fmt(out, format_args!("{:.1}", self.0));
    }
}

/// A `numeric` with two decimals, e.g. `subsidy_yuan numeric(10, 2)`.
#[derive(Debug, Clone, Copy)]
pub struct Decimal2(pub f64);
impl CopyValue for Decimal2 {
    fn write_copy(&self, out: &mut Vec<u8>) {
        push_fmt(out, format_args!("{:.2}", self.0));
    }
}

impl CopyValue for Point<f64> {
    fn write_copy(&self, out: &mut Vec<u8>) {
        push_fmt(
            out,
            format_args!("SRID=4326;POINT({:.7} {:.7})", self.x(), self.y()),
        );
    }
}

impl CopyValue for LineString<f64> {
    fn write_copy(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SRID=4326;LINESTRING");
        write_ring(self, out);
    }
}

impl CopyValue for MultiPolygon<f64> {
    fn write_copy(&self, out: &mut Vec<u8>) {
        if self.0.is_empty() {
            out.extend_from_slice(b"SRID=4326;MULTIPOLYGON EMPTY");
            return;
        }
        out.extend_from_slice(b"SRID=4326;MULTIPOLYGON(");
        for (i, polygon) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_polygon(polygon, out);
        }
        out.push(b')');
    }
}

fn write_polygon(polygon: &Polygon<f64>, out: &mut Vec<u8>) {
    out.push(b'(');
    write_ring(polygon.exterior(), out);
    for ring in polygon.interiors() {
        out.push(b',');
        write_ring(ring, out);
    }
    out.push(b')');
}

fn write_ring(ring: &LineString<f64>, out: &mut Vec<u8>) {
    out.push(b'(');
    for (i, c) in ring.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_fmt(out, format_args!("{:.7} {:.7}", c.x, c.y));
    }
    out.push(b')');
}

/// Formats into the byte buffer without an intermediate `String` per field.
fn push_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    struct Adapter<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for Adapter<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    // Writing into a Vec cannot fail; the Result only exists for the trait.
    let _ = Adapter(out).write_fmt(args);
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{line_string, point, polygon};

    fn one_field<V: CopyValue>(v: V) -> String {
        let mut out = Vec::new();
        v.write_copy(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn backslash_tab_newline_and_carriage_return_are_escaped() {
        assert_eq!(one_field("a\\b\tc\nd\re"), "a\\\\b\\tc\\nd\\re");
        assert_eq!(one_field("察布查尔 镇"), "察布查尔 镇");
    }

    #[test]
    fn none_is_written_as_backslash_n_and_a_literal_backslash_n_is_not() {
        assert_eq!(one_field(None::<&str>), "\\N");
        assert_eq!(one_field(Some("\\N")), "\\\\N");
    }

    #[test]
    fn rows_are_tab_separated_and_counted() {
        static COLS: &[&str] = &["a", "b", "c", "d", "e"];
        let mut t = CopyTable::new("t", COLS);
        let d = NaiveDate::from_ymd_opt(2025, 3, 7).unwrap();
        t.row()
            .field(1_i64)
            .field(true)
            .field(d)
            .field(Decimal1(12.34))
            .null()
            .end();
        t.row()
            .field(-2_i32)
            .field(false)
            .field(Some(d))
            .field(Decimal1(5.0))
            .field("x")
            .end();
        assert_eq!(t.rows, 2);
        assert_eq!(
            String::from_utf8(t.data).unwrap(),
            "1\tt\t2025-03-07\t12.3\t\\N\n-2\tf\t2025-03-07\t5.0\tx\n"
        );
        assert_eq!(
            CopyTable::new("t", COLS).copy_statement(),
            "COPY t (a, b, c, d, e) FROM STDIN"
        );
    }

    #[test]
    fn geometry_is_ewkt_with_seven_decimals() {
        assert_eq!(
            one_field(point!(x: 81.15, y: 43.8407)),
            "SRID=4326;POINT(81.1500000 43.8407000)"
        );
        let ls = line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)];
        assert_eq!(
            one_field(ls),
            "SRID=4326;LINESTRING(1.0000000 2.0000000,3.0000000 4.0000000)"
        );
        let mp = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)],
        ]);
        assert_eq!(
            one_field(mp),
            "SRID=4326;MULTIPOLYGON(((0.0000000 0.0000000,1.0000000 0.0000000,1.0000000 1.0000000,0.0000000 0.0000000)))"
        );
    }
}

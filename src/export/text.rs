//! The terminal writer: the view's title and sentences, then each table
//! aligned (text left, numbers right), one format per column.

use super::format::ColumnFormat;
use super::{Show, Table, View};

/// Control characters of a name from a file, shown escaped so that a
/// terminal never runs them (ESC, BEL, …).
pub fn printable(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A view for a terminal; `detail` adds the long tables.
pub fn write(v: &View, detail: bool) -> String {
    let mut out = String::new();
    if !v.title.is_empty() {
        out.push_str(&printable(&v.title));
        out.push('\n');
    }
    for l in &v.lines {
        out.push_str(&printable(l));
        out.push('\n');
    }
    for t in v.tables.iter().filter(|t| detail || t.show == Show::Always) {
        out.push('\n');
        if !t.title.is_empty() {
            out.push_str(&printable(&t.title));
            out.push('\n');
        }
        out.push_str(&table(t, "  "));
        for n in &t.notes {
            out.push_str("  ");
            out.push_str(&printable(n));
            out.push('\n');
        }
    }
    if !v.footer.is_empty() {
        out.push('\n');
    }
    for l in &v.footer {
        out.push_str(&printable(l));
        out.push('\n');
    }
    for (i, p) in v.parts.iter().enumerate() {
        if i > 0 || !out.trim().is_empty() {
            out.push('\n');
        }
        out.push_str(&write(p, detail));
    }
    out
}

/// The formatted cells of a table, column by column.
pub fn cells(t: &Table) -> Vec<Vec<String>> {
    let formats: Vec<ColumnFormat> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let column: Vec<&super::Cell> = t.rows.iter().filter_map(|r| r.get(i)).collect();
            ColumnFormat::of(c.unit, &column)
        })
        .collect();
    t.rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(&formats)
                .zip(&t.columns)
                .map(|((c, f), column)| printable(&shown(c, f, column)))
                .collect()
        })
        .collect()
}

/// A cell in its column's format: an empty number is `-`, an empty text
/// nothing; a difference has its sign, a difference of shares is in
/// percentage points.
fn shown(c: &super::Cell, f: &ColumnFormat, column: &super::Column) -> String {
    let empty = if column.unit.is_numeric() { "-" } else { "" };
    let s = f.show(c, empty);
    match c {
        super::Cell::Num(x) if column.signed => {
            let s = if column.unit == super::Unit::Share {
                s.replace('%', " pts")
            } else {
                s
            };
            let zero = !s.chars().any(|d| d.is_ascii_digit() && d != '0');
            if *x > 0.0 && !zero {
                format!("+{s}")
            } else {
                s
            }
        }
        _ => s,
    }
}

/// A table with two spaces between columns and `indent` before each line.
pub fn table(t: &Table, indent: &str) -> String {
    let rows = cells(t);
    let headers: Vec<String> = t.columns.iter().map(|c| printable(&c.header)).collect();
    let n = headers.len();
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            std::iter::once(&headers[i])
                .chain(rows.iter().filter_map(|r| r.get(i)))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let right: Vec<bool> = t.columns.iter().map(|c| c.unit.is_numeric()).collect();
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        out.push_str(indent);
        for (i, w) in widths.iter().enumerate() {
            let c = cells.get(i).map_or("", String::as_str);
            let pad = w - c.chars().count();
            if i > 0 {
                out.push_str("  ");
            }
            if right[i] {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            } else {
                out.push_str(c);
                if i + 1 < n {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    };
    line(&headers);
    for r in &rows {
        line(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Cell, Unit, col};
    use super::*;

    #[test]
    fn tables_align_and_escape() {
        let mut t = Table::new(
            "t",
            "",
            vec![
                col("name", "name", Unit::Text),
                col("v", "value", Unit::Count),
            ],
        );
        t.row(vec![Cell::from("a\u{1b}[2J"), Cell::Num(1.0)]);
        t.row(vec![Cell::from("long name"), Cell::Num(12.5)]);
        assert_eq!(
            table(&t, ""),
            "name        value\na\\u{1b}[2J    1.0\nlong name    12.5\n"
        );
    }
}

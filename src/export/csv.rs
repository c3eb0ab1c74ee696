//! The CSV writer: one table, a header of keys with their unit
//! (`revenue_usd`, `p_hit_share`), plain numbers, sensible rounding, and
//! text that cannot start a spreadsheet formula.

use super::{Cell, Table, Unit};

/// Neutralises a text cell a spreadsheet would take for a formula (it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return): a leading
/// apostrophe makes it text, as OWASP advises.
pub fn safe_text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// How a CSV file is punctuated: the field delimiter and the decimal mark
/// (a comma for the locales whose spreadsheets expect one, with `;`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub decimal_comma: bool,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect {
            delimiter: b',',
            decimal_comma: false,
        }
    }
}

/// A number as CSV writes it: whole numbers bare, others rounded for their
/// unit (cents, six places of a share), trailing zeros dropped.
pub fn number(x: f64, unit: Unit) -> String {
    if !x.is_finite() {
        return String::new();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let decimals = match unit {
        Unit::Money => 2,
        Unit::Share => 6,
        Unit::Ratio => 4,
        Unit::Weeks | Unit::Days => 2,
        Unit::Count => 3,
        Unit::Number(d) => usize::from(d),
        Unit::Text => 6,
    };
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// The header key of a column.
pub fn key(c: &super::Column) -> String {
    format!("{}{}", c.key, c.unit.suffix())
}

/// A table as CSV in a dialect.
pub fn write(t: &Table, dialect: Dialect) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .delimiter(dialect.delimiter)
        .from_writer(Vec::new());
    let header: Vec<String> = t.columns.iter().map(key).collect();
    let _ = w.write_record(&header);
    for r in &t.rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&t.columns)
            .map(|(c, col)| match c {
                Cell::Text(s) => safe_text(s),
                Cell::Num(x) if dialect.decimal_comma => number(*x, col.unit).replace('.', ","),
                Cell::Num(x) => number(*x, col.unit),
                Cell::Empty => String::new(),
            })
            .collect();
        let _ = w.write_record(&cells);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::col;
    use super::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        let mut t = Table::new(
            "t",
            "",
            vec![
                col("variant", "variant", Unit::Text),
                col("delta", "Δ", Unit::Money),
            ],
        );
        t.row(vec![Cell::from("+cmd|' /C calc'!A0"), Cell::Num(-1234.567)]);
        t.row(vec![Cell::from("=1+1"), Cell::Num(2.0)]);
        assert_eq!(
            write(&t, Dialect::default()),
            "variant,delta_usd\n'+cmd|' /C calc'!A0,-1234.57\n'=1+1,2\n"
        );
        let european = Dialect {
            delimiter: b';',
            decimal_comma: true,
        };
        assert_eq!(
            write(&t, european),
            "variant;delta_usd\n'+cmd|' /C calc'!A0;-1234,57\n'=1+1;2\n"
        );
        assert_eq!(number(0.123456789, Unit::Share), "0.123457");
        assert_eq!(number(1.5, Unit::Count), "1.5");
        assert_eq!(number(f64::NAN, Unit::Count), "");
    }
}

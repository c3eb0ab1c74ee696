//! The xlsx writer: one sheet per table, the header frozen, numbers
//! written as numbers with a format for their unit (money, percentages,
//! counts), columns as wide as their contents, and a chart where a table
//! asks for one.

use rust_xlsxwriter::{
    Chart, ChartType, DocProperties, ExcelDateTime, Format as CellFormat, Workbook, XlsxError,
};

use super::{Cell, ExportError, Table, Unit, View};

/// Excel's number format for a unit.
fn number_format(u: Unit) -> &'static str {
    match u {
        Unit::Money => "\"$\"#,##0",
        Unit::Share => "0.0%",
        Unit::Ratio => "0.0\"×\"",
        Unit::Count => "#,##0.0",
        Unit::Weeks | Unit::Days => "0.0",
        Unit::Number(0) => "0",
        Unit::Number(1) => "0.0",
        Unit::Number(_) => "0.00",
        Unit::Text => "@",
    }
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str, taken: &[String]) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(28)
        .collect();
    let mut out = clean.clone();
    let mut k = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&out)) {
        out = format!("{clean}-{k}");
        k += 1;
    }
    out
}

fn sheet(book: &mut Workbook, t: &Table, name: &str) -> Result<(), XlsxError> {
    let ws = book.add_worksheet();
    ws.set_name(name)?;
    let bold = CellFormat::new().set_bold();
    let formats: Vec<CellFormat> = t
        .columns
        .iter()
        .map(|c| CellFormat::new().set_num_format(number_format(c.unit)))
        .collect();
    let mut widths: Vec<usize> = t
        .columns
        .iter()
        .map(|c| super::csv::key(c).chars().count())
        .collect();
    for (j, c) in t.columns.iter().enumerate() {
        ws.write_string_with_format(0, j as u16, super::csv::key(c), &bold)?;
    }
    for (i, r) in t.rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (j, c) in r.iter().enumerate() {
            let col = j as u16;
            match c {
                Cell::Text(s) => {
                    ws.write_string(row, col, s)?;
                    widths[j] = widths[j].max(s.chars().count());
                }
                Cell::Num(x) => {
                    ws.write_number_with_format(row, col, *x, &formats[j])?;
                    widths[j] = widths[j].max(format!("{x:.0}").len() + 4);
                }
                Cell::Empty => {}
            }
        }
    }
    for (j, w) in widths.iter().enumerate() {
        ws.set_column_width(j as u16, (*w as f64 + 2.0).min(60.0))?;
    }
    ws.set_freeze_panes(1, 0)?;
    if let Some((cat, values)) = &t.chart
        && !t.rows.is_empty()
    {
        let last = t.rows.len() as u32;
        let mut chart = Chart::new(ChartType::Column);
        for v in values {
            chart
                .add_series()
                .set_name((name, 0, *v as u16))
                .set_categories((name, 1, *cat as u16, last, *cat as u16))
                .set_values((name, 1, *v as u16, last, *v as u16));
        }
        let title = t.title.trim().trim_end_matches(':');
        chart
            .title()
            .set_name(if title.is_empty() { t.name } else { title });
        ws.insert_chart(1, t.columns.len() as u16 + 1, &chart)?;
    }
    Ok(())
}

/// The workbook of a view: every table, in order.
pub fn write(v: &View) -> Result<Vec<u8>, ExportError> {
    let mut book = Workbook::new();
    // A fixed creation date: the same result gives the same bytes.
    let created =
        ExcelDateTime::from_ymd(2000, 1, 1).map_err(|e| ExportError::Xlsx(e.to_string()))?;
    book.set_properties(
        &DocProperties::new()
            .set_title(super::text::printable(&v.title))
            .set_creation_datetime(&created),
    );
    let mut taken: Vec<String> = Vec::new();
    let err = |e: XlsxError| ExportError::Xlsx(e.to_string());
    for t in &v.tables {
        let name = sheet_name(t.name, &taken);
        sheet(&mut book, t, &name).map_err(err)?;
        taken.push(name);
    }
    if v.tables.is_empty() {
        book.add_worksheet();
    }
    book.save_to_buffer().map_err(err)
}

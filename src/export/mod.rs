//! One export layer: every result becomes a [`View`] once — a title, a few
//! sentences and named [`Table`]s of typed cells — and one writer per
//! [`Format`] turns it into bytes: an aligned terminal table ([`text`]),
//! CSV ([`csv`]), versioned JSON ([`json`]), an xlsx workbook ([`xlsx`]);
//! the board report renders the same tables as HTML ([`html`]).
//!
//! Cells carry a [`Unit`], not a formatted string, so each writer formats a
//! column one way: the terminal and HTML pick one money scale per column
//! and state it; CSV writes plain numbers with the unit in the header
//! (`revenue_usd`, `p_hit_share`); xlsx writes numbers with a number
//! format. Adding a format is one file and one arm of [`Format`].

pub mod csv;
pub mod format;
pub mod html;
pub mod json;
pub mod text;
pub mod xlsx;

use serde::Serialize;

/// What a command writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns for a terminal.
    #[default]
    Table,
    /// Comma-separated values (one table) with a header row.
    Csv,
    /// One JSON document with `schema_version` and `kind`.
    Json,
    /// An xlsx workbook: one sheet per table.
    Xlsx,
}

impl Format {
    pub const NAMES: [&'static str; 4] = ["table", "csv", "json", "xlsx"];

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "table" => Some(Format::Table),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    /// Whether the bytes are binary (not for a terminal).
    pub fn is_binary(self) -> bool {
        self == Format::Xlsx
    }
}

/// What a column holds, which decides how every writer shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Text,
    /// A count or a mean count (leads, wins).
    Count,
    /// Dollars.
    Money,
    /// A probability or a share, from 0 to 1.
    Share,
    /// A multiple (ROI 3.4×).
    Ratio,
    /// Weeks (lags, ages).
    Weeks,
    /// Calendar days (actuals).
    Days,
    /// A plain number with this many decimals (a score, a week index).
    Number(u8),
}

impl Unit {
    /// The suffix a CSV or JSON header gets, saying the unit.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Money => "_usd",
            Unit::Share => "_share",
            Unit::Ratio => "_x",
            Unit::Weeks => "_weeks",
            Unit::Days => "_days",
            Unit::Text | Unit::Count | Unit::Number(_) => "",
        }
    }

    pub fn is_numeric(self) -> bool {
        self != Unit::Text
    }
}

/// A column: its key (CSV header and xlsx name, before the unit suffix),
/// what the terminal calls it, and its unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub key: String,
    pub header: String,
    pub unit: Unit,
    /// A difference: shown with its sign, shares in percentage points.
    pub signed: bool,
}

impl Column {
    /// The column as a difference.
    pub fn signed(mut self) -> Column {
        self.signed = true;
        self
    }
}

/// Shorthand for a column.
pub fn col(key: &str, header: &str, unit: Unit) -> Column {
    Column {
        key: key.to_string(),
        header: header.to_string(),
        unit,
        signed: false,
    }
}

/// A cell: text, a number in its column's unit, or nothing.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Num(f64),
    Empty,
}

impl From<f64> for Cell {
    fn from(x: f64) -> Cell {
        if x.is_finite() {
            Cell::Num(x)
        } else {
            Cell::Empty
        }
    }
}

impl From<Option<f64>> for Cell {
    fn from(x: Option<f64>) -> Cell {
        x.map_or(Cell::Empty, Cell::from)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<u32> for Cell {
    fn from(x: u32) -> Cell {
        Cell::Num(f64::from(x))
    }
}

impl From<u64> for Cell {
    fn from(x: u64) -> Cell {
        Cell::Num(x as f64)
    }
}

impl From<usize> for Cell {
    fn from(x: usize) -> Cell {
        Cell::Num(x as f64)
    }
}

/// Whether the terminal shows a table by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    Always,
    /// Only when asked (`--weekly`, `--reports`): it is long.
    Detail,
}

/// A named table of a view.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Its name: the CSV `--table` and the xlsx sheet.
    pub name: &'static str,
    /// A line above it on the terminal (empty: none).
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Lines under it on the terminal.
    pub notes: Vec<String>,
    pub show: Show,
    /// A chart for the xlsx sheet: the category column and value columns.
    pub chart: Option<(usize, Vec<usize>)>,
}

impl Table {
    pub fn new(name: &'static str, title: impl Into<String>, columns: Vec<Column>) -> Table {
        Table {
            name,
            title: title.into(),
            columns,
            rows: Vec::new(),
            notes: Vec::new(),
            show: Show::Always,
            chart: None,
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len(), "table {}", self.name);
        self.rows.push(cells);
    }

    pub fn detail(mut self) -> Table {
        self.show = Show::Detail;
        self
    }

    pub fn note(mut self, n: impl Into<String>) -> Table {
        self.notes.push(n.into());
        self
    }

    /// A column chart in the xlsx sheet: `values` by `category` (keys).
    pub fn with_chart(mut self, category: &str, values: &[&str]) -> Table {
        let at = |k: &str| self.columns.iter().position(|c| c.key == k);
        if let Some(cat) = at(category) {
            let vals: Vec<usize> = values.iter().filter_map(|k| at(k)).collect();
            debug_assert_eq!(vals.len(), values.len(), "chart of {}", self.name);
            self.chart = Some((cat, vals));
        }
        self
    }

    /// The same rows with only the columns of these keys, in this order.
    pub fn select(&self, name: &'static str, keys: &[&str]) -> Table {
        let idx: Vec<usize> = keys
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| c.key == *k))
            .collect();
        Table {
            name,
            title: String::new(),
            columns: idx.iter().map(|i| self.columns[*i].clone()).collect(),
            rows: self
                .rows
                .iter()
                .map(|r| idx.iter().map(|i| r[*i].clone()).collect())
                .collect(),
            notes: Vec::new(),
            show: Show::Always,
            chart: None,
        }
    }

    /// The rows whose text in column `key` is `value`.
    pub fn rows_where(&self, key: &str, value: &str) -> Table {
        let Some(i) = self.columns.iter().position(|c| c.key == key) else {
            return Table {
                rows: Vec::new(),
                ..self.clone()
            };
        };
        Table {
            rows: self
                .rows
                .iter()
                .filter(|r| r[i] == Cell::Text(value.to_string()))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }
}

/// A result as the writers see it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    pub title: String,
    /// Sentences under the title.
    pub lines: Vec<String>,
    pub tables: Vec<Table>,
    /// Sentences at the end (warnings, how quantiles are taken).
    pub footer: Vec<String>,
    /// Views of their own shown after this one on a terminal (one per file
    /// checked); CSV and xlsx use this view's tables only.
    pub parts: Vec<View>,
}

impl View {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// A result a command writes.
pub trait Exportable: Serialize {
    /// What it is, for the JSON `kind` and `revplan schema`.
    const KIND: &'static str;
    /// Its view; `detail` adds the long tables to the terminal.
    fn view(&self) -> View;
    /// The table CSV writes when none is named.
    fn primary(&self) -> &'static str;
}

/// How to write: the format, which table for CSV, the CSV dialect and
/// whether the terminal shows the detail tables.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOptions {
    pub format: Format,
    pub table: Option<String>,
    pub csv: csv::Dialect,
    pub detail: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            format: Format::Table,
            table: None,
            csv: csv::Dialect::default(),
            detail: false,
        }
    }
}

impl WriteOptions {
    pub fn of(format: Format) -> WriteOptions {
        WriteOptions {
            format,
            ..WriteOptions::default()
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExportError {
    #[error("no table named `{name}`; this output has: {known}")]
    NoTable { name: String, known: String },
    #[error("cannot write the workbook: {0}")]
    Xlsx(String),
}

/// The bytes of a result in a format.
pub fn write<T: Exportable>(x: &T, opts: &WriteOptions) -> Result<Vec<u8>, ExportError> {
    match opts.format {
        Format::Json => Ok(json::write(x).into_bytes()),
        Format::Table => Ok(text::write(&x.view(), opts.detail).into_bytes()),
        Format::Csv => {
            let view = x.view();
            let name = opts.table.as_deref().unwrap_or(x.primary());
            let table = view.table(name).ok_or_else(|| ExportError::NoTable {
                name: name.to_string(),
                known: view
                    .tables
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            Ok(csv::write(table, opts.csv).into_bytes())
        }
        Format::Xlsx => xlsx::write(&x.view()),
    }
}

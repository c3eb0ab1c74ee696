//! Output plumbing shared by every command: formats, aligned text tables,
//! number formatting, CSV rows and atomic file writes.
//!
//! Reports are plain serializable values; each command turns one into a
//! table, CSV or JSON here, and [`write_atomic`] puts the bytes in place so
//! that an interrupted run never leaves a half-written file.

use std::io::Write;
use std::path::Path;

/// What a command prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    #[default]
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON document.
    Json,
}

/// A table of text, right-aligning numeric columns.
#[derive(Clone, Debug, Default)]
pub struct TextTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Columns to right-align (numbers).
    pub right: Vec<bool>,
}

impl TextTable {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> TextTable {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        let right = (0..headers.len()).map(|i| i > 0).collect();
        TextTable {
            headers,
            rows: Vec::new(),
            right,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with two spaces between columns and `indent` before each line.
    pub fn render(&self, indent: &str) -> String {
        let n = self.headers.len();
        let width = |i: usize| {
            std::iter::once(&self.headers[i])
                .chain(self.rows.iter().filter_map(|r| r.get(i)))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..n).map(width).collect();
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            out.push_str(indent);
            for (i, w) in widths.iter().enumerate() {
                let c = cells.get(i).map_or("", String::as_str);
                let pad = w - c.chars().count();
                if i > 0 {
                    out.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
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
        line(&self.headers, &mut out);
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

/// Dollars, short: $950, $12.3K, $7.50M, $1.20B.
pub fn money(x: f64) -> String {
    let sign = if x <= -0.5 { "-" } else { "" };
    let a = x.abs();
    if a >= 1e9 {
        format!("{sign}${:.2}B", a / 1e9)
    } else if a >= 1e6 {
        format!("{sign}${:.2}M", a / 1e6)
    } else if a >= 1e4 {
        format!("{sign}${:.1}K", a / 1e3)
    } else if a >= 999.5 {
        format!("{sign}${}", thousands(a.round() as u64))
    } else {
        format!("{sign}${:.0}", if a < 0.5 { 0.0 } else { a })
    }
}

/// An integer with thousands separators: 26,825.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count for people: 26,825 from 100 up, one decimal below (259.9 wins
/// is a mean, 12.5 is not 13).
pub fn count(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let a = x.abs();
    if a >= 99.95 {
        format!("{sign}{}", thousands(a.round() as u64))
    } else {
        format!("{sign}{a:.1}")
    }
}

/// A probability as a percentage with one decimal.
pub fn pct(p: f64) -> String {
    format!("{:.1}%", 100.0 * p)
}

/// Writes files into a folder (created if missing), each atomically;
/// returns their paths.
pub fn write_files(
    dir: &Path,
    files: &[(String, &[u8])],
) -> Result<Vec<std::path::PathBuf>, (std::path::PathBuf, std::io::Error)> {
    std::fs::create_dir_all(dir).map_err(|e| (dir.to_path_buf(), e))?;
    let mut out = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomic(&path, bytes).map_err(|e| (path.clone(), e))?;
        out.push(path);
    }
    Ok(out)
}

/// Every chart as `<name>.svg` and `<name>.png`.
pub fn chart_files(charts: &[crate::chart::Chart]) -> Vec<(String, &[u8])> {
    charts
        .iter()
        .flat_map(|c| {
            [
                (format!("{}.svg", c.name), c.svg.as_bytes()),
                (format!("{}.png", c.name), c.png.as_slice()),
            ]
        })
        .collect()
}

/// Writes `bytes` to `path` through a temporary file in the same folder
/// and a rename, so readers see the old file or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// CSV text from a header and rows, quoted where needed.
pub fn csv_text(header: &[String], rows: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A number for CSV and tables: no exponent, at most `decimals` places,
/// trailing zeros kept so columns line up.
pub fn num(x: f64, decimals: usize) -> String {
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut t = TextTable::new(["name", "value"]);
        t.row(vec!["a".into(), "1.0".into()]);
        t.row(vec!["long name".into(), "12.5".into()]);
        assert_eq!(
            t.render(""),
            "name       value\na            1.0\nlong name   12.5\n"
        );
    }

    #[test]
    fn money_is_short_and_signed() {
        assert_eq!(money(950.0), "$950");
        assert_eq!(money(7_009.4), "$7,009");
        assert_eq!(money(999.7), "$1,000");
        assert_eq!(money(-2_500.0), "-$2,500");
        assert_eq!(money(12_345.0), "$12.3K");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(26_825), "26,825");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count(259.94), "260");
        assert_eq!(count(12.46), "12.5");
        assert_eq!(count(-4_705.2), "-4,705");
        assert_eq!(money(7_500_000.0), "$7.50M");
        assert_eq!(money(-1.2e9), "-$1.20B");
    }

    #[test]
    fn atomic_writes_replace_whole_files() {
        let dir = std::env::temp_dir().join(format!("revplan-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let s = csv_text(
            &["a".into(), "b".into()],
            &[vec!["x, y".into(), "1".into()]],
        );
        assert_eq!(s, "a,b\n\"x, y\",1\n");
    }
}

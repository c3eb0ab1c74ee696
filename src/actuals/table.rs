//! Export files as rows of text: CSV (`,`, `;` or tab, detected; BOM,
//! CRLF and quoted fields) or the first sheet of an xlsx workbook, with
//! each row's line number for messages.

use std::path::Path;

/// Most rows read from one export.
pub const MAX_ROWS: usize = 5_000_000;

/// An export's header and rows, every cell as text.
#[derive(Clone, Debug, Default)]
pub struct RawTable {
    pub file: String,
    pub header: Vec<String>,
    /// (line in the file, cells).
    pub rows: Vec<(usize, Vec<String>)>,
    pub delimiter: u8,
}

impl RawTable {
    /// The index of a column by its header (exact, then ignoring case and
    /// surrounding blanks).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name).or_else(|| {
            self.header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name.trim()))
        })
    }
}

/// Why an export could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Format { file: String, message: String },
}

/// Reads a CSV or xlsx export (by its extension).
pub fn read(path: &Path) -> Result<RawTable, ReadError> {
    let file = path.display().to_string();
    let bytes = crate::load::read_bytes(path).map_err(|source| ReadError::Io {
        file: file.clone(),
        source,
    })?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if matches!(ext.as_str(), "xlsx" | "xlsm" | "xls" | "ods") {
        read_workbook(&file, bytes)
    } else {
        read_csv(&file, &bytes)
    }
}

/// The delimiter of a CSV text: the one of `,`, `;` and tab that splits
/// the header line into the most fields (outside quotes).
pub fn detect_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let count = |d: char| {
        let mut quoted = false;
        first
            .chars()
            .filter(|c| {
                if *c == '"' {
                    quoted = !quoted;
                }
                !quoted && *c == d
            })
            .count()
    };
    [(b',', count(',')), (b';', count(';')), (b'\t', count('\t'))]
        .into_iter()
        .max_by_key(|(d, n)| (*n, *d == b','))
        .map_or(b',', |(d, _)| d)
}

/// Reads CSV bytes (a UTF-8 BOM is dropped; text that is not UTF-8 is read
/// as Windows-1252, the other common export encoding).
pub fn read_csv(file: &str, bytes: &[u8]) -> Result<RawTable, ReadError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text: std::borrow::Cow<str> = match std::str::from_utf8(bytes) {
        Ok(t) => t.into(),
        Err(_) => bytes
            .iter()
            .map(|b| char::from(*b))
            .collect::<String>()
            .into(),
    };
    let delimiter = detect_delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let format = |message: String| ReadError::Format {
        file: file.to_string(),
        message,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format(format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(format("the file has no header row".into()));
    }
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(format(format!("line {line}: {e}")));
            }
        }
        if rows.len() >= MAX_ROWS {
            return Err(format(format!("more than {MAX_ROWS} rows")));
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        // The csv reader's own line count drifts on CRLF and blank lines:
        // the line is counted from the record's byte offset.
        let mut at = record.position().map_or(0, |p| p.byte() as usize);
        while matches!(text.as_bytes().get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        let line = newlines.partition_point(|n| *n < at) + 1;
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(RawTable {
        file: file.to_string(),
        header,
        rows,
        delimiter,
    })
}

/// The first sheet of a workbook. Dates become ISO dates; numbers their
/// shortest text.
fn read_workbook(file: &str, bytes: Vec<u8>) -> Result<RawTable, ReadError> {
    use calamine::{Data, Reader};
    let format = |message: String| ReadError::Format {
        file: file.to_string(),
        message,
    };
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| format(format!("not a workbook: {e}")))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| format("the workbook has no sheet".into()))?
        .map_err(|e| format(format!("cannot read the first sheet: {e}")))?;
    let text = |c: &Data| -> String {
        match c {
            Data::Empty => String::new(),
            Data::String(s) => s.clone(),
            Data::Int(i) => i.to_string(),
            Data::Float(f) => f.to_string(),
            Data::Bool(b) => b.to_string(),
            Data::DateTime(d) => excel_date(d.as_f64()),
            Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::Error(e) => format!("#{e:?}"),
        }
    };
    let mut lines = range.rows();
    let header: Vec<String> = lines
        .next()
        .map(|r| r.iter().map(|c| text(c).trim().to_string()).collect())
        .unwrap_or_default();
    if header.iter().all(String::is_empty) {
        return Err(format("the first sheet has no header row".into()));
    }
    let start = range.start().map_or(0, |(r, _)| r as usize);
    let mut rows = Vec::new();
    for (i, r) in lines.enumerate() {
        if rows.len() >= MAX_ROWS {
            return Err(format(format!("more than {MAX_ROWS} rows")));
        }
        let cells: Vec<String> = r.iter().map(text).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push((start + i + 2, cells));
    }
    Ok(RawTable {
        file: file.to_string(),
        header,
        rows,
        delimiter: b',',
    })
}

/// An Excel serial date (days since 1899-12-30) as an ISO date, with the
/// time when it has one.
pub fn excel_date(serial: f64) -> String {
    let days = serial.floor();
    let base = jiff::civil::date(1899, 12, 30);
    let Ok(date) = base.checked_add(jiff::Span::new().days(days as i64)) else {
        return serial.to_string();
    };
    let secs = ((serial - days) * 86_400.0).round() as i64;
    if secs == 0 {
        date.to_string()
    } else {
        format!(
            "{date}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_boms_and_quotes() {
        let t = read_csv(
            "x.csv",
            "\u{feff}a;b;c\r\n1;\"x;y\";3\r\n\r\n4;5;6\r\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(t.delimiter, b';');
        assert_eq!(t.header, ["a", "b", "c"]);
        assert_eq!(t.rows[0], (2, vec!["1".into(), "x;y".into(), "3".into()]));
        assert_eq!(t.rows[1].0, 4);
        let t = read_csv("x.csv", b"a,b\n1,2\n\n3,\"x\ny\"\n5,6\n").unwrap();
        let lines: Vec<usize> = t.rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, [2, 4, 6]);
        assert_eq!(detect_delimiter("a\tb\tc\n"), b'\t');
        assert_eq!(detect_delimiter("\"a,b\";c\n"), b';');
    }

    #[test]
    fn excel_serials_are_dates() {
        assert_eq!(excel_date(45_292.0), "2024-01-01");
        assert_eq!(excel_date(45_292.5), "2024-01-01T12:00:00");
    }
}

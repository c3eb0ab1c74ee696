//! Export files as rows of text: CSV (`,`, `;` or tab, detected; BOM,
//! CRLF and quoted fields) or the first sheet of an xlsx workbook, with
//! each row's line number for messages.

use std::path::Path;

/// Most rows read from one export.
pub const MAX_ROWS: usize = 5_000_000;
/// Largest export file read.
pub const MAX_BYTES: u64 = 1 << 30;

/// One row's cells, held in one buffer.
pub type Row = csv::StringRecord;

/// An export's header and rows, every cell as text. A CSV keeps its text
/// and is read again row by row when asked, so that a large export is
/// never held twice.
#[derive(Clone, Debug)]
pub struct RawTable {
    pub file: String,
    pub header: Vec<String>,
    pub delimiter: u8,
    /// Rows with a cell that is not blank.
    pub len: usize,
    body: Body,
}

#[derive(Clone, Debug)]
enum Body {
    Text(String),
    Rows(Vec<(usize, Row)>),
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

    /// The rows that are not blank, with their line in the file.
    pub fn records(&self) -> Box<dyn Iterator<Item = (usize, Row)> + Send + '_> {
        match &self.body {
            Body::Rows(rows) => Box::new(rows.iter().cloned()),
            Body::Text(text) => Box::new(CsvRows::new(text, self.delimiter)),
        }
    }
}

/// The rows of a CSV text (read once already, so without errors).
struct CsvRows<'t> {
    text: &'t str,
    reader: csv::Reader<&'t [u8]>,
    record: csv::StringRecord,
    /// The last byte offset counted, and the line it is on.
    at: usize,
    line: usize,
}

impl<'t> CsvRows<'t> {
    fn new(text: &'t str, delimiter: u8) -> CsvRows<'t> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(text.as_bytes());
        let _ = reader.headers();
        CsvRows {
            text,
            reader,
            record: csv::StringRecord::new(),
            at: 0,
            line: 1,
        }
    }

    /// The line of a record starting at byte `at` (the reader's own count
    /// drifts on CRLF and blank lines).
    fn line_at(&mut self, mut at: usize) -> usize {
        let bytes = self.text.as_bytes();
        while matches!(bytes.get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        let at = at.min(bytes.len());
        if at > self.at {
            self.line += bytes[self.at..at].iter().filter(|b| **b == b'\n').count();
            self.at = at;
        }
        self.line
    }
}

impl Iterator for CsvRows<'_> {
    type Item = (usize, Row);

    fn next(&mut self) -> Option<(usize, Row)> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(true) => {}
                _ => return None,
            }
            if self.record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let at = self.record.position().map_or(0, |p| p.byte() as usize);
            let line = self.line_at(at);
            // A copy of just the fields (the reader's buffer is larger).
            let mut row = Row::with_capacity(self.record.as_slice().len(), self.record.len());
            row.extend(self.record.iter());
            return Some((line, row));
        }
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
    let bytes = crate::load::read_bytes_up_to(path, MAX_BYTES).map_err(|source| ReadError::Io {
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
        read_csv(&file, bytes)
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
/// as Windows-1252, the other common export encoding), checking every
/// record once.
pub fn read_csv(file: &str, bytes: Vec<u8>) -> Result<RawTable, ReadError> {
    let mut bytes = bytes;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => e.into_bytes().iter().map(|b| char::from(*b)).collect(),
    };
    let delimiter = detect_delimiter(&text);
    let format = |message: String| ReadError::Format {
        file: file.to_string(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format(format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(format("the file has no header row".into()));
    }
    let mut len = 0;
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(format(format!("line {line}: {e}")));
            }
        }
        if record.iter().all(|c| c.trim_ascii().is_empty()) {
            continue;
        }
        len += 1;
        if len > MAX_ROWS {
            return Err(format(format!("more than {MAX_ROWS} rows")));
        }
    }
    drop(reader);
    Ok(RawTable {
        file: file.to_string(),
        header,
        delimiter,
        len,
        body: Body::Text(text),
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
        rows.push((start + i + 2, Row::from(cells)));
    }
    Ok(RawTable {
        file: file.to_string(),
        header,
        delimiter: b',',
        len: rows.len(),
        body: Body::Rows(rows),
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
            "\u{feff}a;b;c\r\n1;\"x;y\";3\r\n\r\n4;5;6\r\n".into(),
        )
        .unwrap();
        let rows: Vec<_> = t.records().collect();
        assert_eq!(t.delimiter, b';');
        assert_eq!(t.header, ["a", "b", "c"]);
        assert_eq!(rows[0], (2, Row::from(vec!["1", "x;y", "3"])));
        assert_eq!(rows[1].0, 4);
        assert_eq!(t.len, 2);
        let t = read_csv("x.csv", b"a,b\n1,2\n\n3,\"x\ny\"\n5,6\n".to_vec()).unwrap();
        let lines: Vec<usize> = t.records().map(|r| r.0).collect();
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

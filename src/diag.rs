//! Problems found in user input, and how they are shown.
//!
//! Reading and validation never stop at the first problem: they collect
//! [`Problem`]s (a span, a key path, what was wrong, what to do) and the
//! loader turns them into one [`InputError`] that names every problem with
//! its file, line and column. Rendering uses miette, so a terminal shows the
//! offending line with the value underlined.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

use crate::tree::{Sources, Span};

/// The most problems reported for one input, so that a badly broken file
/// gives a readable answer rather than thousands of lines.
pub const MAX_PROBLEMS: usize = 50;

/// One thing wrong with the input, where it was found.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub span: Option<Span>,
    /// Key path such as `channels.webinar.cost_per_lead` (may be empty).
    pub path: String,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(span: Span, path: &str, message: impl Into<String>) -> Problem {
        Problem {
            span: Some(span),
            path: path.to_string(),
            message: message.into(),
            help: None,
        }
    }

    /// A problem with no place in any source (e.g. a missing file).
    pub fn unplaced(path: &str, message: impl Into<String>) -> Problem {
        Problem {
            span: None,
            path: path.to_string(),
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }
}

/// The nearest candidate to a misspelt word, if one is near enough to be a
/// plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let d = strsim::damerau_levenshtein(&lower, &c.to_lowercase());
            (d, c)
        })
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1) + usize::from(c.len() > 8))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A problem in one cell of a data file: file, 1-based line and column,
/// the column's name, what is wrong (with the value) and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct RowProblem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
    pub help: Option<String>,
}

/// A problem resolved against its source: everything needed to show it.
#[derive(Debug, Clone)]
pub struct Located {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
    pub help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    span: Option<(usize, usize)>,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        } else if !self.file.is_empty() {
            write!(f, "{}: ", self.file)?;
        }
        if !self.path.is_empty() {
            write!(f, "`{}`: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Located {}

impl Diagnostic for Located {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (start, len) = self.span?;
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some("here".into()),
            start,
            len,
        ))))
    }
}

/// Everything wrong with one input (a scenario with its model, a model, a
/// CSV file or the overrides given to them).
#[derive(Debug, Clone)]
pub struct InputError {
    /// The file the user asked for.
    pub file: String,
    pub problems: Vec<Located>,
    /// How many problems were found in all (more than are kept, when
    /// there were over [`MAX_PROBLEMS`]).
    pub total: usize,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] if self.total == 1 => write!(f, "{one}"),
            _ => write!(f, "{}: {} problems", self.file, self.total),
        }
    }
}

impl std::error::Error for InputError {}

impl InputError {
    /// Resolves problems against their sources, sorted by place.
    pub fn new(file: &str, sources: &Sources, mut problems: Vec<Problem>) -> InputError {
        problems.sort_by(|a, b| a.span.cmp(&b.span).then_with(|| a.path.cmp(&b.path)));
        problems.dedup();
        let total = problems.len();
        let problems = problems
            .into_iter()
            .take(MAX_PROBLEMS)
            .map(|p| locate(file, sources, p))
            .collect();
        InputError {
            file: file.to_string(),
            problems,
            total,
        }
    }

    /// One problem with no place in a source.
    pub fn single(file: &str, message: impl Into<String>, help: Option<String>) -> InputError {
        InputError {
            file: file.to_string(),
            problems: vec![Located {
                file: file.to_string(),
                line: 0,
                column: 0,
                path: String::new(),
                message: message.into(),
                help,
                source: None,
                span: None,
            }],
            total: 1,
        }
    }

    /// Problems in the rows of a data file (a CRM export): each at a line
    /// and a column, with the column's name as its key. `total` counts all
    /// of them when only the first are passed.
    pub fn rows(file: &str, rows: Vec<RowProblem>, total: usize) -> InputError {
        let problems: Vec<Located> = rows
            .into_iter()
            .take(MAX_PROBLEMS)
            .map(|r| Located {
                file: shown(&r.file),
                line: r.line,
                column: r.column,
                path: shown(&r.key),
                message: shown(&r.message),
                help: r.help.as_deref().map(shown),
                source: None,
                span: None,
            })
            .collect();
        InputError {
            file: file.to_string(),
            total: total.max(problems.len()),
            problems,
        }
    }

    /// Shows every problem, as a terminal would (`color`) or as plain text.
    pub fn render(&self, color: bool, width: usize) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(width)
            .with_links(false);
        let mut out = String::new();
        for p in &self.problems {
            let _ = handler.render_report(&mut out, p);
        }
        if self.total > 1 {
            out.push_str(&format!("{}: {} problems", self.file, self.total));
            if self.total > self.problems.len() {
                out.push_str(&format!(" (the first {} shown)", self.problems.len()));
            }
            out.push('\n');
        }
        out
    }
}

fn locate(file: &str, sources: &Sources, p: Problem) -> Located {
    match p.span {
        Some(span) => {
            let src = sources.get(span.src);
            let (line, column) = sources.line_col(span);
            let len = (span.end - span.start) as usize;
            Located {
                file: shown(&src.name),
                line,
                column,
                path: shown(&p.path),
                message: shown(&p.message),
                help: p.help.as_deref().map(shown),
                source: Some(NamedSource::new(shown(&src.name), visible(&src.text))),
                span: Some((span.start as usize, len)),
            }
        }
        None => Located {
            file: shown(file),
            line: 0,
            column: 0,
            path: shown(&p.path),
            message: shown(&p.message),
            help: p.help.as_deref().map(shown),
            source: None,
            span: None,
        },
    }
}

/// Text for a terminal: control characters but line breaks escaped, so a
/// name or value from a file cannot move the cursor or clear the screen.
fn shown(s: &str) -> String {
    s.split('\n')
        .map(crate::export::text::printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A file's text as a snippet shows it: each control character but line
/// breaks and tabs replaced by as many `?` as it has bytes, so that spans
/// still point at the same places.
fn visible(text: &str) -> Arc<str> {
    if !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Arc::from(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    Arc::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_and_messages_cannot_carry_terminal_escapes() {
        let v = visible("a\u{1b}[2J\u{85}b\n\tc");
        assert_eq!(&*v, "a?[2J??b\n\tc");
        assert_eq!(v.len(), "a\u{1b}[2J\u{85}b\n\tc".len());
        assert_eq!(shown("x\u{7}y\nz"), "x\\u{7}y\nz");
    }

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["leads_per_week", "budget_per_week", "curve"];
        assert_eq!(suggest("leads_per_wek", keys), Some("leads_per_week"));
        assert_eq!(suggest("curv", keys), Some("curve"));
        assert_eq!(suggest("Curve", keys), Some("curve"));
        assert_eq!(suggest("zzz", keys), None);
        assert_eq!(suggest("x", ["y"]), Some("y"));
    }

    #[test]
    fn located_problems_name_file_line_column_and_path() {
        let mut s = Sources::default();
        let id = s.add("m.toml", "a = 1\nb = 2\n");
        let e = InputError::new(
            "m.toml",
            &s,
            vec![
                Problem::new(Span::new(id, 10..11), "b", "too big").with_help("use 1"),
                Problem::new(Span::new(id, 4..5), "a", "too small"),
            ],
        );
        assert_eq!(e.total, 2);
        assert_eq!(e.problems[0].to_string(), "m.toml:1:5: `a`: too small");
        assert_eq!(e.problems[1].to_string(), "m.toml:2:5: `b`: too big");
        let text = e.render(false, 80);
        assert!(
            text.contains("use 1") && text.contains("2 problems"),
            "{text}"
        );
    }
}

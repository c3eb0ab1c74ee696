//! The command line's edges: where output goes (a file, atomically, or
//! stdout), progress on stderr, thread pools, and how an error is shown and
//! which exit code it gives.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::export::{Exportable, Format, WriteOptions};

use super::args::{ChartArgs, OutputArgs};

/// Whether stderr gets colours: a terminal, and NO_COLOR unset or empty.
pub fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The width errors are wrapped to: $COLUMNS, else 100.
fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}

/// Prints an error on stderr and returns its exit code.
pub fn report(e: &Error) -> u8 {
    match e {
        Error::Write { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe => {}
        Error::Input(input) => note(input.render(color(), width()).trim_end()),
        other => note(&format!(
            "error: {}",
            crate::export::text::printable(&other.to_string())
        )),
    }
    e.exit_code() as u8
}

/// Runs `f` on a thread pool of the asked size (the global one if none).
pub fn pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
    match threads {
        None => Ok(f()),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| Error::Threads(e.to_string())),
    }
}

/// A progress bar on stderr counting `unit`, hidden when stderr is not a
/// terminal; its message shows what is being done.
pub fn progress_bar(total: u64, what: &str, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let template = format!("{{prefix}} {{bar:30}} {{pos}}/{{len}} {unit} ({{elapsed}}) {{msg}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar
}

/// A spinner on stderr for work of unknown length, with a message saying
/// how far it has come (hidden when stderr is not a terminal).
pub fn spinner(what: &str) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
    {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar
}

/// Where and how a command writes its result, checked before any work so
/// that a long run never ends in "cannot write".
pub struct Sink {
    options: WriteOptions,
    out: Option<PathBuf>,
}

impl Sink {
    /// Checks the output flags: xlsx is not for a terminal; a file's folder
    /// is created if missing, and the path must not be a folder.
    pub fn new(a: &OutputArgs, detail: bool) -> Result<Sink, Error> {
        let format = Format::from(a.format);
        if a.table.is_some() && format != Format::Csv {
            return Err(Error::Usage(
                "--table picks the table of --format csv; the other formats hold every table"
                    .into(),
            ));
        }
        let decimal_comma = a.csv_decimal == ",";
        if decimal_comma && a.csv_delimiter == b',' {
            return Err(Error::Usage(
                "--csv-decimal , needs another delimiter: add --csv-delimiter ';'".into(),
            ));
        }
        let out = out_file(&a.out).map(Path::to_path_buf);
        if format.is_binary() && out.is_none() && std::io::stdout().is_terminal() {
            return Err(Error::Usage(
                "--format xlsx writes a workbook: give --out FILE.xlsx (or pipe it)".into(),
            ));
        }
        if let Some(path) = &out {
            prepare_file(path)?;
        }
        Ok(Sink {
            options: WriteOptions {
                format,
                table: a.table.clone(),
                csv: crate::export::csv::Dialect {
                    delimiter: a.csv_delimiter,
                    decimal_comma,
                },
                detail,
            },
            out,
        })
    }

    /// A sink for stdout in a format (the batch and merge summaries).
    pub fn stdout(format: Format) -> Result<Sink, Error> {
        if format.is_binary() && std::io::stdout().is_terminal() {
            return Err(Error::Usage(
                "--format xlsx writes a workbook: pipe it to a file".into(),
            ));
        }
        Ok(Sink {
            options: WriteOptions::of(format),
            out: None,
        })
    }

    /// Writes the result.
    pub fn emit<T: Exportable>(&self, x: &T) -> Result<(), Error> {
        let bytes = crate::export::write(x, &self.options)?;
        emit_bytes(&bytes, self.out.as_deref())
    }
}

/// Checks that `path` can be an output file: its folder exists (created if
/// missing) and the path itself is not a folder.
pub fn prepare_file(path: &Path) -> Result<(), Error> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        return Err(write_err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a folder; give a file name",
        )));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| Error::Write {
                path: dir.to_path_buf(),
                source: e,
            })
        }
        _ => Ok(()),
    }
}

/// Sends bytes to stdout or, atomically, to a file. A closed pipe on
/// stdout (`| head`) is an error that [`report`] keeps quiet.
pub fn emit_bytes(bytes: &[u8], out: Option<&Path>) -> Result<(), Error> {
    match out {
        Some(path) => crate::output::write_atomic(path, bytes).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        }),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .map_err(|source| Error::Write {
                    path: PathBuf::from("<stdout>"),
                    source,
                })
        }
    }
}

/// Prints a line on stdout (what a command says when its result went to
/// files).
pub fn say(line: &str) -> Result<(), Error> {
    emit_bytes(format!("{line}\n").as_bytes(), None)
}

/// Prints a line on stderr; a closed stderr is no reason to fail (or to
/// panic, as `eprintln!` would).
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `--out` as a file, or `None` for stdout (no `--out`, or `--out -`).
pub fn out_file(out: &Option<PathBuf>) -> Option<&Path> {
    out.as_deref().filter(|p| *p != Path::new("-"))
}

/// Draws charts into --charts DIR when asked, and says where on stderr.
pub fn charts(
    a: &ChartArgs,
    draw: impl FnOnce() -> Result<Vec<crate::chart::Chart>, crate::chart::ChartError>,
) -> Result<(), Error> {
    let Some(dir) = &a.charts else {
        return Ok(());
    };
    let drawn = draw()?;
    let written = crate::output::write_files(dir, &crate::output::chart_files(&drawn))
        .map_err(|(path, source)| Error::Write { path, source })?;
    note(&format!(
        "{} chart(s) written to {} as SVG and PNG",
        written.len() / 2,
        dir.display()
    ));
    Ok(())
}

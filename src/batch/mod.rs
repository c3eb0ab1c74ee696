//! Batch runs: many scenario files, each forecast and planned (with its
//! variants), outputs under one folder; resumable and shardable.
//!
//! Layout of an output folder:
//!
//! ```text
//! DIR/batch.json            what was asked: scenarios in order, settings, shard
//! DIR/summary.csv, .json    one row per scenario × variant
//! DIR/<name>/forecast.json, forecast.csv, plan.json, plan.csv, charts
//! DIR/<name>/variants/<variant>/…      the same for each variant
//! DIR/<name>/result.json    written last: the input fingerprint and the rows
//! ```
//!
//! Every file is written atomically. A scenario counts as done only once
//! its `result.json` is there, so a batch killed at any moment and run again
//! with `--resume` redoes exactly the scenarios whose results are missing or
//! whose inputs changed, and ends with the same summary as an uninterrupted
//! run (results are a function of the inputs, seed and trials).

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decide::{Figures, Settings, run_family};
use crate::load::{Loaded, is_model_file, load_scenario, read_bytes};
use crate::output::{Links, write_with};
use crate::run::Trials;
use crate::sim::EngineKind;

mod shards;
pub use shards::{Shard, ShardRun, assign, merge};

/// The version written into every result: outputs of another version are
/// never reused.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Longest output folder name, in bytes.
const MAX_FOLDER_BYTES: usize = 80;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The command line does not describe a batch that can run.
    #[error("{0}")]
    Usage(String),
    /// Shard folders that do not belong together or are incomplete.
    #[error("{0}")]
    Merge(String),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the worker threads: {0}")]
    Threads(String),
}

impl BatchError {
    /// 2 for what the user asked, 1 for what failed while doing it.
    pub fn exit_code(&self) -> i32 {
        match self {
            BatchError::Usage(_) | BatchError::Merge(_) => 2,
            BatchError::Write { .. } | BatchError::Read { .. } | BatchError::Threads(_) => 1,
        }
    }
}

/// `rel` below `root`, refused when it is not a plain relative path or
/// when an existing folder on the way (or the file itself) is a link: a
/// batch never writes or removes anything through a link out of its
/// folder.
fn inside(root: &Path, rel: &Path) -> std::io::Result<PathBuf> {
    let mut p = root.to_path_buf();
    for c in rel.components() {
        let Component::Normal(part) = c else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a plain relative path",
            ));
        };
        p.push(part);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} is a link; a batch does not write through links",
                    p.display()
                ),
            ));
        }
    }
    Ok(p)
}

/// Writes `rel` below the output folder `root`, atomically, never through
/// a link.
fn write(root: &Path, rel: impl AsRef<Path>, bytes: &[u8]) -> Result<(), BatchError> {
    let rel = rel.as_ref();
    let err = |source| BatchError::Write {
        path: root.join(rel),
        source,
    };
    let path = inside(root, rel).map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    write_with(&path, bytes, Links::Refuse).map_err(err)
}

fn read(path: &Path) -> Result<Vec<u8>, BatchError> {
    read_bytes(path).map_err(|source| BatchError::Read {
        path: path.to_path_buf(),
        source,
    })
}

// ---------------------------------------------------------------------------
// Finding the scenarios.

/// One scenario file of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The file as found from the command line's paths (`scenarios/x.toml`).
    pub scenario: String,
    /// Its output folder under DIR: one safe path component.
    pub output: String,
    /// Estimated work in milliseconds on one thread (its forecasts for the
    /// base and each variant): what `--shard` balances.
    #[serde(default)]
    pub work_ms: u64,
    #[serde(skip)]
    pub file: PathBuf,
}

/// What discovery found: the scenarios in order, and the model files it
/// passed over in folders.
#[derive(Debug, Default)]
pub struct Found {
    pub items: Vec<Item>,
    pub skipped_models: Vec<PathBuf>,
}

impl Found {
    /// The scenarios a shard runs (all of them without one), in order.
    pub fn share(&self, shard: Option<Shard>) -> Vec<&Item> {
        let owners = shard.map(|s| assign(&self.items, s.count));
        self.items
            .iter()
            .enumerate()
            .filter(|(i, _)| match (shard, &owners) {
                (Some(s), Some(o)) => o[*i] == s.index,
                _ => true,
            })
            .map(|(_, item)| item)
            .collect()
    }

    /// Estimates each scenario's work: its base and variants' forecasts at
    /// `trials` (else its own `[run]`; `auto` counted as 10,000 trials),
    /// on one thread. A scenario that does not load weighs nothing.
    pub fn weigh(&mut self, trials: Option<Trials>) {
        for item in &mut self.items {
            item.work_ms = load_scenario(&item.file, &[]).map_or(0, |l| {
                let scenarios = std::iter::once(&l.base)
                    .chain(l.variants.iter().map(|v| &v.scenario))
                    .collect::<Vec<_>>();
                let engine = crate::sim::common_engine(&scenarios, EngineKind::Auto);
                let n = match trials.unwrap_or(l.base.run.trials) {
                    Trials::Fixed(n) => n,
                    Trials::Auto => 10_000,
                };
                let seconds: f64 = scenarios
                    .iter()
                    .map(|s| {
                        let work = crate::sim::work_of(s, engine);
                        crate::sim::cost::Estimate::new(s, n, 1, work).seconds
                    })
                    .sum();
                (seconds * 1000.0).round() as u64
            });
        }
    }

    /// Estimated work of each shard of `count`, in milliseconds.
    pub fn shard_work(&self, count: usize) -> Vec<u64> {
        let mut work = vec![0; count];
        for (item, owner) in self.items.iter().zip(assign(&self.items, count)) {
            work[owner] += item.work_ms;
        }
        work
    }
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Every file below `dir` that `keep` accepts, relative to it, sorted.
/// Hidden entries (temporary files of an interrupted write among them) are
/// passed over, and links to folders are not followed.
fn files_under(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Listing, BatchError> {
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let here = dir.join(&rel);
        let entries = match std::fs::read_dir(&here) {
            Ok(e) => e,
            // A subfolder that cannot be read is the user's to see, not a
            // reason to stop: it becomes a failed row.
            Err(_) if !rel.as_os_str().is_empty() => {
                unreadable.push(rel);
                continue;
            }
            Err(source) => {
                return Err(BatchError::Read {
                    path: here.clone(),
                    source,
                });
            }
        };
        for entry in entries {
            let entry = entry.map_err(|source| BatchError::Read {
                path: here.clone(),
                source,
            })?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let rel = rel.join(&name);
            // A link to a file counts as the file; links to folders are
            // not followed (no loops).
            let file =
                |t: std::fs::FileType| t.is_file() || (t.is_symlink() && entry.path().is_file());
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(rel),
                Ok(t) if file(t) && keep(&rel) => out.push(rel),
                _ => {}
            }
        }
    }
    out.sort();
    unreadable.sort();
    Ok(Listing {
        files: out,
        unreadable,
    })
}

/// What [`files_under`] found: the files, and the subfolders it could not
/// read.
struct Listing {
    files: Vec<PathBuf>,
    unreadable: Vec<PathBuf>,
}

/// Every `*.toml` below `dir`.
fn toml_files(dir: &Path) -> Result<Listing, BatchError> {
    files_under(dir, |p| p.extension().is_some_and(|e| e == "toml"))
}

/// A path as text with `/` separators, for summaries that read the same on
/// every machine.
fn slashed(p: &Path) -> String {
    let parts: Vec<String> = p
        .components()
        .filter(|c| !matches!(c, std::path::Component::RootDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let root = if p.has_root() { "/" } else { "" };
    format!("{root}{}", parts.join("/"))
}

/// One safe path component from any text: letters and digits of any
/// script, `-`, `_` and `.` are kept, everything else becomes `_`; no
/// leading dot, never empty, at most [`MAX_FOLDER_BYTES`].
pub fn safe_component(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.starts_with('.') {
        s.remove(0);
    }
    if s.len() > MAX_FOLDER_BYTES {
        let mut cut = MAX_FOLDER_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    if s.is_empty() { "_".into() } else { s }
}

/// The names of a batch's own files in its output folder.
const RESERVED: [&str; 7] = [
    "summary.csv",
    "summary.json",
    "summary.xlsx",
    "batch.json",
    shards::SHARD_FILE,
    shards::SHARDS_FILE,
    LOCK_FILE,
];

/// The lock a running batch holds in its output folder.
const LOCK_FILE: &str = ".revplan.lock";

/// Makes names unique (ignoring case, for case-insensitive file systems)
/// by adding `-2`, `-3`, … in order.
fn unique(names: impl IntoIterator<Item = String>) -> Vec<String> {
    // A batch's own files are never a scenario's folder.
    let mut seen: HashSet<String> = RESERVED.iter().map(|r| r.to_string()).collect();
    let mut out = Vec::new();
    for name in names {
        let mut candidate = name.clone();
        let mut n = 1;
        while !seen.insert(candidate.to_lowercase()) {
            n += 1;
            candidate = format!("{name}-{n}");
        }
        out.push(candidate);
    }
    out
}

/// The output folder of a scenario: its path below the folder it was found
/// in (or its file name), without `.toml`, components joined by `__`.
fn folder_name(rel: &Path) -> String {
    let stem = rel.with_extension("");
    let parts: Vec<String> = stem
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(safe_component(&s.to_string_lossy())),
            _ => None,
        })
        .collect();
    safe_component(&parts.join("__"))
}

/// The scenarios named by `paths` — files, folders (every `*.toml` scenario
/// inside, recursively, sorted) or glob patterns — in a stable order, each
/// file once.
pub fn discover(paths: &[String]) -> Result<Found, BatchError> {
    let mut found = Found::default();
    let mut seen = HashSet::new();
    // Each file with its path below what was named, and whether it was
    // named itself (then it is a scenario even if it looks like a model).
    let mut candidates: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
    let add_path = |path: &Path, named: bool, candidates: &mut Vec<(PathBuf, PathBuf, bool)>| {
        if path.is_dir() {
            let listing = toml_files(path)?;
            // An unreadable subfolder stays in the list: loading it fails,
            // which gives its row the reason.
            for rel in listing.files.into_iter().chain(listing.unreadable) {
                candidates.push((path.join(&rel), rel, false));
            }
        } else {
            let name = PathBuf::from(path.file_name().unwrap_or(path.as_os_str()));
            candidates.push((path.to_path_buf(), name, named));
        }
        Ok::<(), BatchError>(())
    };
    for arg in paths {
        let path = Path::new(arg);
        if path.exists() {
            add_path(path, true, &mut candidates)?;
        } else if is_glob(arg) {
            // Like a folder scan, a pattern passes over hidden files.
            let options = glob::MatchOptions {
                require_literal_leading_dot: true,
                ..glob::MatchOptions::new()
            };
            let matches = glob::glob_with(arg, options).map_err(|e| {
                BatchError::Usage(format!("`{arg}` is not a valid pattern: {}", e.msg))
            })?;
            let mut matched: Vec<PathBuf> = matches.filter_map(Result::ok).collect();
            matched.sort();
            if matched.is_empty() {
                return Err(BatchError::Usage(format!("`{arg}` matches no file")));
            }
            for m in matched {
                add_path(&m, false, &mut candidates)?;
            }
        } else {
            return Err(BatchError::Usage(format!("{arg}: no such file or folder")));
        }
    }
    let mut kept = Vec::new();
    for (file, rel, named) in candidates {
        let identity = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if !seen.insert(identity) {
            continue;
        }
        if !named && is_model_file(&file) {
            found.skipped_models.push(file);
            continue;
        }
        kept.push((file, rel));
    }
    let names = unique(kept.iter().map(|(_, rel)| folder_name(rel)));
    found.items = kept
        .into_iter()
        .zip(names)
        .map(|((file, _), output)| Item {
            scenario: slashed(&crate::load::tidy_path(&file)),
            output,
            work_ms: 0,
            file,
        })
        .collect();
    if found.items.is_empty() {
        return Err(BatchError::Usage(format!(
            "no scenario files in {}",
            paths.join(", ")
        )));
    }
    Ok(found)
}

// ---------------------------------------------------------------------------
// Results.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
}

/// One row of the summary: a scenario or one of its variants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Row {
    pub scenario: String,
    /// `base` for the scenario as written, else the variant's name.
    pub variant: String,
    /// The folder of its outputs, relative to DIR.
    pub output: String,
    pub status: Status,
    pub error: String,
    pub target: Option<f64>,
    pub revenue_mean: Option<f64>,
    pub revenue_p10: Option<f64>,
    pub revenue_p50: Option<f64>,
    pub revenue_p90: Option<f64>,
    pub p_hit: Option<f64>,
    pub p_hit_std_error: Option<f64>,
    pub spend: Option<f64>,
    pub cac: Option<f64>,
    pub roi: Option<f64>,
    pub leads: Option<f64>,
    pub mqls: Option<f64>,
    pub opportunities: Option<f64>,
    pub wins: Option<f64>,
    /// Leads, budget and pipeline gap of the backwards plan.
    pub plan_leads: Option<f64>,
    pub plan_budget: Option<f64>,
    pub pipeline_gap: Option<f64>,
    pub trials: Option<u64>,
    pub seed: Option<u64>,
    pub engine: Option<String>,
}

impl Row {
    /// A row without figures.
    fn blank(scenario: &str, variant: &str, output: &str, status: Status, error: String) -> Row {
        Row {
            scenario: scenario.into(),
            variant: variant.into(),
            output: output.into(),
            status,
            error,
            target: None,
            revenue_mean: None,
            revenue_p10: None,
            revenue_p50: None,
            revenue_p90: None,
            p_hit: None,
            p_hit_std_error: None,
            spend: None,
            cac: None,
            roi: None,
            leads: None,
            mqls: None,
            opportunities: None,
            wins: None,
            plan_leads: None,
            plan_budget: None,
            pipeline_gap: None,
            trials: None,
            seed: None,
            engine: None,
        }
    }

    fn failed(scenario: &str, variant: &str, output: &str, error: String) -> Row {
        Row::blank(scenario, variant, output, Status::Failed, error)
    }
}

/// What a finished scenario leaves in `DIR/<name>/result.json`.
#[derive(Debug, Serialize, Deserialize)]
struct ResultFile {
    revplan: String,
    /// SHA-256 of the inputs and settings that made these outputs.
    inputs: String,
    files: Vec<String>,
    rows: Vec<Row>,
}

/// What `DIR/batch.json` records: enough for `merge` to check that shard
/// folders belong to one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub revplan: String,
    pub paths: Vec<String>,
    pub trials: Option<String>,
    pub seed: Option<u64>,
    pub max_trials: u64,
    pub engine: String,
    pub charts: bool,
    pub scenarios: Vec<Item>,
    pub shard: Option<Shard>,
}

/// The summary files: rows, and counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    pub scenarios: usize,
    pub failed: usize,
    pub rows: Vec<Row>,
    /// The shards' records (`batch --shard` and `merge` only): never in
    /// the summary files, whose bytes depend on the inputs alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardRun>,
}

impl Summary {
    /// The scenarios with a failed row, in order, each once.
    pub fn failed_scenarios(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for r in self.rows.iter().filter(|r| r.status == Status::Failed) {
            if !names.contains(&r.scenario) {
                names.push(r.scenario.clone());
            }
        }
        names
    }

    fn of(items: usize, rows: Vec<Row>) -> Summary {
        let failed: HashSet<&str> = rows
            .iter()
            .filter(|r| r.status == Status::Failed)
            .map(|r| r.scenario.as_str())
            .collect();
        Summary {
            scenarios: items,
            failed: failed.len(),
            rows,
            shards: Vec::new(),
        }
    }
}

impl crate::export::Exportable for Summary {
    const KIND: &'static str = "batch_summary";

    fn primary(&self) -> &'static str {
        "rows"
    }

    fn view(&self) -> crate::export::View {
        use crate::export::{Cell, Table, Unit, View, col};
        let mut overview = Table::new(
            "overview",
            "",
            vec![
                col("scenario", "scenario", Unit::Text),
                col("variant", "variant", Unit::Text),
                col("status", "status", Unit::Text),
                col("p_hit", "P(hit)", Unit::Share),
                col("revenue_p50", "P50", Unit::Money),
                col("spend", "spend", Unit::Money),
                col("error", "error", Unit::Text),
            ],
        );
        for r in &self.rows {
            let mut error: String = r.error.lines().next().unwrap_or_default().into();
            if error.chars().count() > 70 {
                error = error.chars().take(69).collect::<String>() + "…";
            }
            overview.row(vec![
                r.scenario.clone().into(),
                r.variant.clone().into(),
                match r.status {
                    Status::Ok => "ok",
                    Status::Failed => "FAILED",
                }
                .into(),
                r.p_hit.into(),
                r.revenue_p50.into(),
                r.spend.into(),
                if error.is_empty() {
                    Cell::Empty
                } else {
                    error.into()
                },
            ]);
        }
        let mut rows = Table::new(
            "rows",
            "",
            vec![
                col("scenario", "scenario", Unit::Text),
                col("variant", "variant", Unit::Text),
                col("output", "output", Unit::Text),
                col("status", "status", Unit::Text),
                col("error", "error", Unit::Text),
                col("target", "target", Unit::Money),
                col("revenue_mean", "mean", Unit::Money),
                col("revenue_p10", "P10", Unit::Money),
                col("revenue_p50", "P50", Unit::Money),
                col("revenue_p90", "P90", Unit::Money),
                col("p_hit", "P(hit)", Unit::Share),
                col("p_hit_std_error", "± SE", Unit::Share),
                col("spend", "spend", Unit::Money),
                col("cac", "CAC", Unit::Money),
                col("roi", "ROI", Unit::Ratio),
                col("leads", "leads", Unit::Count),
                col("mqls", "MQLs", Unit::Count),
                col("opportunities", "opps", Unit::Count),
                col("wins", "wins", Unit::Count),
                col("plan_leads", "plan leads", Unit::Count),
                col("plan_budget", "plan budget", Unit::Money),
                col("pipeline_gap", "gap", Unit::Money),
                col("trials", "trials", Unit::Number(0)),
                col("seed", "seed", Unit::Number(0)),
                col("engine", "engine", Unit::Text),
            ],
        )
        .detail();
        let text = |s: &Option<String>| s.clone().map_or(Cell::Empty, Cell::from);
        for r in &self.rows {
            rows.row(vec![
                r.scenario.clone().into(),
                r.variant.clone().into(),
                r.output.clone().into(),
                match r.status {
                    Status::Ok => "ok",
                    Status::Failed => "failed",
                }
                .into(),
                if r.error.is_empty() {
                    Cell::Empty
                } else {
                    r.error.clone().into()
                },
                r.target.into(),
                r.revenue_mean.into(),
                r.revenue_p10.into(),
                r.revenue_p50.into(),
                r.revenue_p90.into(),
                r.p_hit.into(),
                r.p_hit_std_error.into(),
                r.spend.into(),
                r.cac.into(),
                r.roi.into(),
                r.leads.into(),
                r.mqls.into(),
                r.opportunities.into(),
                r.wins.into(),
                r.plan_leads.into(),
                r.plan_budget.into(),
                r.pipeline_gap.into(),
                r.trials.map(|x| x as f64).into(),
                r.seed.map(|x| x as f64).into(),
                text(&r.engine),
            ]);
        }
        let mut tables = vec![overview, rows];
        let mut lines = Vec::new();
        if !self.shards.is_empty() {
            tables.push(shard_table(&self.shards));
            for s in self.shards.iter().filter(|s| !s.failed.is_empty()) {
                lines.push(format!(
                    "shard {}/{}: {} scenario(s) failed: {}",
                    s.index,
                    s.count,
                    s.failed.len(),
                    s.failed.join(", ")
                ));
            }
        }
        View {
            title: format!(
                "{} scenario(s), {} row(s), {} failed",
                self.scenarios,
                self.rows.len(),
                self.failed
            ),
            lines,
            tables,
            ..View::default()
        }
    }
}

/// Each shard's scenarios, failures, estimated and actual time.
fn shard_table(runs: &[ShardRun]) -> crate::export::Table {
    use crate::export::{Cell, Table, Unit, col};
    let mut t = Table::new(
        "shards",
        "shards: estimated work (one thread) and actual time",
        vec![
            col("shard", "shard", Unit::Text),
            col("scenarios", "scenarios", Unit::Number(0)),
            col("failed", "failed", Unit::Number(0)),
            col("reused", "reused", Unit::Number(0)),
            col("estimated_seconds", "estimated s", Unit::Number(1)),
            col("elapsed_seconds", "actual s", Unit::Number(1)),
            col("threads", "threads", Unit::Number(0)),
            col("failed_scenarios", "failed scenarios", Unit::Text),
        ],
    );
    for s in runs {
        t.row(vec![
            format!("{}/{}", s.index, s.count).into(),
            (s.scenarios.len() as f64).into(),
            (s.failed.len() as f64).into(),
            (s.reused as f64).into(),
            s.estimated_seconds.into(),
            s.elapsed_seconds.into(),
            (s.threads as f64).into(),
            if s.failed.is_empty() {
                Cell::Empty
            } else {
                s.failed.join(", ").into()
            },
        ]);
    }
    t
}

// ---------------------------------------------------------------------------
// Running.

/// How a batch runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Trials for every scenario (else each scenario's `[run]`).
    pub trials: Option<Trials>,
    pub seed: Option<u64>,
    pub max_trials: u64,
    pub engine: EngineKind,
    /// Run scenarios past the soft limits on time and memory.
    pub allow_large: bool,
    pub charts: bool,
    pub resume: bool,
    pub shard: Option<Shard>,
    /// Scenarios in flight at once.
    pub jobs: usize,
    /// Threads for all of them together (default: one per core).
    pub threads: Option<usize>,
}

/// What the progress callback is told.
pub enum Event<'a> {
    Started(&'a str),
    Finished { scenario: &'a str, reused: bool },
}

/// What a batch did.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    /// Scenarios whose outputs `--resume` kept.
    pub reused: usize,
}

fn trials_text(t: Trials) -> String {
    match t {
        Trials::Auto => "auto".into(),
        Trials::Fixed(n) => n.to_string(),
    }
}

fn engine_text(e: EngineKind) -> String {
    format!("{e:?}").to_lowercase()
}

/// The message of a failure on one line (several problems joined by `; `).
fn one_line(e: &crate::Error) -> String {
    match e {
        crate::Error::Input(input) => {
            let mut parts: Vec<String> = input.problems.iter().map(|p| p.to_string()).collect();
            if input.total > input.problems.len() {
                parts.push(format!("… {} problems in all", input.total));
            }
            parts.join("; ")
        }
        other => other.to_string(),
    }
}

/// The fingerprint of a scenario's inputs and of everything else its
/// outputs depend on.
fn fingerprint(loaded: &Loaded, settings: &Settings, charts: bool) -> Result<String, BatchError> {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(b"revplan batch");
    field(VERSION.as_bytes());
    field(trials_text(settings.trials).as_bytes());
    field(&settings.seed.to_le_bytes());
    field(&settings.max_trials.to_le_bytes());
    field(engine_text(settings.engine).as_bytes());
    field(&[u8::from(charts)]);
    for input in &loaded.inputs {
        field(&read(input)?);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The previous result of a scenario, if it is complete and was made from
/// the same inputs.
fn reusable(dir: &Path, inputs: &str) -> Option<Vec<Row>> {
    let bytes = read_bytes(&dir.join("result.json")).ok()?;
    let r: ResultFile = serde_json::from_slice(&bytes).ok()?;
    let complete =
        r.revplan == VERSION && r.inputs == inputs && r.files.iter().all(|f| dir.join(f).is_file());
    complete.then_some(r.rows)
}

/// Forecast, plan and charts of one scenario (or variant) as files.
fn outputs(
    f: &crate::sim::Forecast,
    plan: Option<&crate::plan::Plan>,
    charts: bool,
) -> Result<Vec<(String, Vec<u8>)>, crate::Error> {
    use crate::export::{Format, WriteOptions, write};
    let bytes = |x: Result<Vec<u8>, crate::export::ExportError>| x.map_err(crate::Error::from);
    let mut files = vec![
        (
            "forecast.json".to_string(),
            bytes(write(f, &WriteOptions::of(Format::Json)))?,
        ),
        (
            "forecast.csv".to_string(),
            bytes(write(f, &WriteOptions::of(Format::Csv)))?,
        ),
    ];
    if let Some(p) = plan {
        files.push((
            "plan.json".into(),
            bytes(write(p, &WriteOptions::of(Format::Json)))?,
        ));
        files.push((
            "plan.csv".into(),
            bytes(write(p, &WriteOptions::of(Format::Csv)))?,
        ));
    }
    if charts {
        let mut drawn = crate::chart::forecast_charts(f, true)?;
        if let Some(p) = plan {
            drawn.extend(crate::chart::plan_charts(p)?);
        }
        for c in drawn {
            files.push((format!("{}.svg", c.name), c.svg.into_bytes()));
            files.push((format!("{}.png", c.name), c.png));
        }
    }
    Ok(files)
}

fn row_of(
    item: &Item,
    variant: &str,
    output: &str,
    f: &crate::sim::Forecast,
    plan: &Result<crate::plan::Plan, crate::plan::PlanError>,
) -> Row {
    let fig = Figures::of(f);
    let mut row = Row::blank(&item.scenario, variant, output, Status::Ok, String::new());
    row.target = Some(f.target);
    row.revenue_mean = Some(fig.revenue.mean);
    row.revenue_p10 = Some(fig.revenue.p10);
    row.revenue_p50 = Some(fig.revenue.p50);
    row.revenue_p90 = Some(fig.revenue.p90);
    row.p_hit = Some(fig.p_hit_target);
    row.p_hit_std_error = Some(fig.p_hit_std_error);
    row.spend = Some(fig.spend.mean);
    row.cac = fig.cac;
    row.roi = fig.roi;
    row.leads = Some(fig.stages.leads);
    row.mqls = Some(fig.stages.mqls);
    row.opportunities = Some(fig.stages.opportunities);
    row.wins = Some(fig.stages.wins);
    row.trials = Some(f.trials);
    row.seed = Some(f.seed);
    row.engine = Some(f.engine.to_string());
    match plan {
        Ok(p) => {
            row.plan_leads = Some(p.totals.leads);
            row.plan_budget = Some(p.headline.budget);
            row.pipeline_gap = Some(p.pipeline_gap.total);
        }
        Err(e) => {
            row.status = Status::Failed;
            row.error = format!("plan: {e}");
        }
    }
    row
}

/// One scenario's rows, and whether they were reused.
type ItemResult = (Vec<Row>, bool);

/// Runs one scenario: its rows, and whether they were reused.
fn run_item(item: &Item, out: &Path, opts: &Options) -> (Vec<Row>, bool) {
    let fail =
        |variant: &str, e: String| vec![Row::failed(&item.scenario, variant, &item.output, e)];
    // The scenario's folder itself must not be a link either.
    let folder = match inside(out, Path::new(&item.output)) {
        Ok(f) => f,
        Err(e) => return (fail("base", e.to_string()), false),
    };
    let loaded = match load_scenario(&item.file, &[]) {
        Ok(l) => l,
        Err(e) => return (fail("base", one_line(&crate::Error::Input(e))), false),
    };
    let settings = Settings {
        trials: opts.trials.unwrap_or(loaded.base.run.trials),
        seed: opts.seed.unwrap_or(loaded.base.run.seed),
        max_trials: opts.max_trials,
        engine: opts.engine,
        allow_large: opts.allow_large,
    };
    let inputs = match fingerprint(&loaded, &settings, opts.charts) {
        Ok(h) => h,
        Err(e) => return (fail("base", e.to_string()), false),
    };
    if opts.resume
        && let Some(mut rows) = reusable(&folder, &inputs)
    {
        // The same file may be reached by another path this time.
        for r in &mut rows {
            r.scenario.clone_from(&item.scenario);
        }
        return (rows, true);
    }
    match run_fresh(item, &folder, &loaded, &settings, opts.charts, &inputs) {
        Ok(rows) => (rows, false),
        Err(e) => (fail("base", e), false),
    }
}

fn run_fresh(
    item: &Item,
    folder: &Path,
    loaded: &Loaded,
    settings: &Settings,
    charts: bool,
    inputs: &str,
) -> Result<Vec<Row>, String> {
    // Whatever was there is stale from here on; what the last run wrote
    // and this one does not is removed once this one is done.
    let previous: Vec<String> = read_bytes(&folder.join("result.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<ResultFile>(&b).ok())
        .map_or(Vec::new(), |r| r.files);
    match std::fs::remove_file(folder.join("result.json")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot replace the previous result: {e}"));
        }
        _ => {}
    }
    let variants = loaded.all_variants().map_err(|e| e.to_string())?;
    let mut family = vec![&loaded.base];
    family.extend(variants.iter().map(|v| &v.scenario));
    let runs = run_family(&family, settings, &|_| {}).map_err(|e| e.to_string())?;
    let variant_dirs = unique(
        loaded
            .variants
            .iter()
            .map(|v| format!("variants/{}", safe_component(&v.name))),
    );
    let mut rows = Vec::new();
    let mut files = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let (name, sub) = match i {
            0 => ("base".to_string(), String::new()),
            _ => (
                loaded.variants[i - 1].name.clone(),
                variant_dirs[i - 1].clone(),
            ),
        };
        let output = if sub.is_empty() {
            item.output.clone()
        } else {
            format!("{}/{sub}", item.output)
        };
        let plan = crate::plan::plan(family[i], &crate::plan::PlanOptions::new());
        rows.push(row_of(item, &name, &output, &run.forecast, &plan));
        let written =
            outputs(&run.forecast, plan.as_ref().ok(), charts).map_err(|e| one_line(&e))?;
        for (file, bytes) in written {
            let rel = if sub.is_empty() {
                file
            } else {
                format!("{sub}/{file}")
            };
            write(folder, &rel, &bytes).map_err(|e| e.to_string())?;
            files.push(rel);
        }
    }
    let result = ResultFile {
        revplan: VERSION.into(),
        inputs: inputs.into(),
        files,
        rows: rows.clone(),
    };
    let text = serde_json::to_string_pretty(&result).map_err(|e| e.to_string())? + "\n";
    write(folder, "result.json", text.as_bytes()).map_err(|e| e.to_string())?;
    remove_stale(folder, &previous, &result.files);
    Ok(rows)
}

/// Removes the files a previous run listed that this one did not write (a
/// variant since removed, charts no longer asked for), and the folders that
/// leaves empty. Only names from our own result file, and only plain
/// relative paths, are touched.
fn remove_stale(folder: &Path, previous: &[String], current: &[String]) {
    let keep: HashSet<&str> = current.iter().map(String::as_str).collect();
    for rel in previous.iter().filter(|f| !keep.contains(f.as_str())) {
        let Ok(path) = inside(folder, Path::new(rel)) else {
            continue;
        };
        let _ = std::fs::remove_file(&path);
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != folder) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
}

fn manifest(paths: &[String], items: &[Item], opts: &Options) -> Manifest {
    Manifest {
        revplan: VERSION.into(),
        paths: paths.to_vec(),
        trials: opts.trials.map(trials_text),
        seed: opts.seed,
        max_trials: opts.max_trials,
        engine: engine_text(opts.engine),
        charts: opts.charts,
        scenarios: items.to_vec(),
        shard: opts.shard,
    }
}

fn write_summary(out: &Path, summary: &Summary) -> Result<(), BatchError> {
    use crate::export::{Format, WriteOptions};
    for (name, format) in [
        ("summary.csv", Format::Csv),
        ("summary.json", Format::Json),
        ("summary.xlsx", Format::Xlsx),
    ] {
        let bytes = crate::export::write(summary, &WriteOptions::of(format)).map_err(|e| {
            BatchError::Write {
                path: out.join(name),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
        write(out, name, &bytes)?;
    }
    Ok(())
}

fn write_manifest(out: &Path, m: &Manifest) -> Result<(), BatchError> {
    let text = serde_json::to_string_pretty(m).unwrap_or_default() + "\n";
    write(out, "batch.json", text.as_bytes())
}

/// Takes the output folder for this batch alone (created if missing):
/// two batches on one folder would interleave their files. The lock is
/// the operating system's, so it ends with the process, even a killed one.
/// Temporaries a killed run left are removed once the lock is held.
fn lock(out: &Path) -> Result<std::fs::File, BatchError> {
    let err = |source| BatchError::Write {
        path: out.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(out).map_err(err)?;
    let path = inside(out, Path::new(LOCK_FILE)).map_err(err)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(BatchError::Usage(format!(
                "another batch is writing to {}; wait for it, or give another --out",
                out.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
    }
    remove_temporaries(out);
    Ok(file)
}

/// Removes every temporary file of an interrupted write below `out` (the
/// lock says no other batch is writing).
fn remove_temporaries(out: &Path) {
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        crate::output::clean_stale(&dir, std::time::Duration::ZERO);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
}

/// Runs the batch (this shard's share of it) into `out`.
pub fn run(
    paths: &[String],
    found: &Found,
    out: &Path,
    opts: &Options,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<Outcome, BatchError> {
    let started = std::time::Instant::now();
    let items = found.share(opts.shard);
    let _lock = lock(out)?;
    write_manifest(out, &manifest(paths, &found.items, opts))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.unwrap_or(0))
        .build()
        .map_err(|e| BatchError::Threads(e.to_string()))?;
    let jobs = opts.jobs.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<ItemResult>>> = Mutex::new(vec![None; items.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    progress(Event::Started(&item.scenario));
                    let result = pool.install(|| run_item(item, out, opts));
                    progress(Event::Finished {
                        scenario: &item.scenario,
                        reused: result.1,
                    });
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(result);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let reused = results.iter().flatten().filter(|(_, r)| *r).count();
    let rows: Vec<Row> = results
        .into_iter()
        .flatten()
        .flat_map(|(rows, _)| rows)
        .collect();
    let mut summary = Summary::of(items.len(), rows);
    write_summary(out, &summary)?;
    if let Some(shard) = opts.shard {
        let record = ShardRun {
            index: shard.index,
            count: shard.count,
            scenarios: items.iter().map(|i| i.scenario.clone()).collect(),
            failed: summary.failed_scenarios(),
            reused,
            estimated_seconds: found.shard_work(shard.count)[shard.index] as f64 / 1000.0,
            elapsed_seconds: started.elapsed().as_secs_f64(),
            threads: pool.current_num_threads(),
        };
        shards::write_record(out, &record)?;
        summary.shards.push(record);
    }
    Ok(Outcome { summary, reused })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_folder() {
        assert_eq!(safe_component("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_component(".."), "_");
        assert_eq!(safe_component(""), "_");
        assert_eq!(safe_component("Q1 plan ü"), "Q1_plan_ü");
        assert_eq!(safe_component("a/b\\c:d"), "a_b_c_d");
        assert!(safe_component(&"é".repeat(100)).len() <= MAX_FOLDER_BYTES);
        assert_eq!(folder_name(Path::new("emea/q1 plan.toml")), "emea__q1_plan");
    }

    #[test]
    fn names_are_made_unique_ignoring_case() {
        assert_eq!(
            unique(["a".into(), "A".into(), "a".into(), "a-2".into()]),
            ["a", "A-2", "a-3", "a-2-2"]
        );
    }
}

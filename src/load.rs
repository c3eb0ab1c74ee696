//! Loading: the only part of the input side that touches the file system.
//!
//! A scenario is loaded in this order: read and parse the scenario file;
//! resolve its `model` path (relative to the scenario file) and parse the
//! model; merge the scenario over the model; apply `--set` overrides; read
//! the merged tree into file types ([`crate::spec`]), reading any pipeline
//! CSV; build and check the model ([`crate::model`]). Each variant is then
//! built the same way from the scenario with its own `set` merged on top.
//! Problems are collected across all these steps and returned together as
//! one [`InputError`].

use std::path::{Path, PathBuf};

use crate::diag::{InputError, Problem, suggest};
use crate::model::{Model, Scenario, build_model, build_scenario};
use crate::read::{Cx, Loc, Spanned};
use crate::spec::{OpenDealSpec, PipelineSpec, ScenarioSpec, read_model, read_scenario};
use crate::tree::{self, KeyPath, Node, SourceId, Sources, Span, Value};

/// Input files larger than this are refused (a scenario is a few KB; a
/// pipeline CSV of a million deals is about 40 MB).
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// A scenario with its variants, ready to plan and simulate.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub file: PathBuf,
    pub model_file: PathBuf,
    /// The model's own name (the scenario's name replaces it when merged).
    pub model_name: String,
    pub base: Scenario,
    /// The variants that build.
    pub variants: Vec<Variant>,
    /// The variants that do not, with their problems: they block only the
    /// commands that run them (or check the file), never the base alone.
    pub broken: Vec<(String, InputError)>,
    /// Every file read: scenario, model, CSV (for change detection).
    pub inputs: Vec<PathBuf>,
}

impl Loaded {
    /// Every variant, or the problems of those that do not build.
    pub fn all_variants(&self) -> Result<&[Variant], InputError> {
        match self.broken.as_slice() {
            [] => Ok(&self.variants),
            [(_, e)] => Err(e.clone()),
            many => {
                let mut all = many[0].1.clone();
                for (_, e) in &many[1..] {
                    all.problems.extend(e.problems.iter().cloned());
                    all.total += e.total;
                }
                Err(all)
            }
        }
    }

    /// The variant called `name`.
    pub fn variant(&self, name: &str) -> Result<&Variant, crate::Error> {
        if let Some((_, e)) = self.broken.iter().find(|(n, _)| n == name) {
            return Err(e.clone().into());
        }
        self.variants
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| crate::Error::NoVariant {
                name: name.to_string(),
                file: self.file.display().to_string(),
                known: self.variant_names(),
            })
    }

    /// The names of every variant, for messages.
    pub fn variant_names(&self) -> String {
        let names: Vec<&str> = self
            .variants
            .iter()
            .map(|v| v.name.as_str())
            .chain(self.broken.iter().map(|(n, _)| n.as_str()))
            .collect();
        if names.is_empty() {
            "no variants".to_string()
        } else {
            names.join(", ")
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub description: Option<String>,
    pub scenario: Scenario,
}

/// A model file on its own.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub file: PathBuf,
    pub model: Model,
    pub inputs: Vec<PathBuf>,
}

/// What `revplan check` can be given.
#[derive(Debug, Clone)]
pub enum Loadable {
    Scenario(Box<Loaded>),
    Model(Box<LoadedModel>),
}

/// Files read so far and where each source came from.
struct Session {
    sources: Sources,
    paths: Vec<Option<PathBuf>>,
    inputs: Vec<PathBuf>,
    problems: Vec<Problem>,
    /// The file the user named, for messages.
    file: String,
}

impl Session {
    fn new(file: &Path) -> Session {
        Session {
            sources: Sources::default(),
            paths: Vec::new(),
            inputs: Vec::new(),
            problems: Vec::new(),
            file: file.display().to_string(),
        }
    }

    fn add_source(&mut self, name: String, text: String, path: Option<PathBuf>) -> SourceId {
        self.paths.push(path);
        self.sources.add(name, text)
    }

    fn fail(mut self) -> InputError {
        for p in &mut self.problems {
            explain_misplaced_key(p);
        }
        InputError::new(&self.file, &self.sources, self.problems)
    }

    /// Reads a text file, reporting a problem at `at` when it cannot be.
    fn read_text(&mut self, path: &Path, at: Option<&Loc>) -> Option<SourceId> {
        let shown = tidy_path(path).display().to_string();
        let report = |s: &mut Session, msg: String| {
            let p = match at {
                Some(loc) => loc.problem(msg),
                None => Problem::unplaced("", msg),
            };
            s.problems.push(p);
        };
        let bytes = match read_bytes(path) {
            Ok(b) => b,
            Err(e) => {
                report(self, format!("cannot read {shown}: {}", io_reason(&e)));
                return None;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                // Show the file as far as it is readable, pointing at the
                // first bad byte (the valid prefix keeps its offsets).
                let at = e.utf8_error().valid_up_to();
                let byte = e.as_bytes()[at];
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let src = self.add_source(shown.clone(), lossy, Some(path.to_path_buf()));
                self.problems.push(
                    Problem::new(
                        Span::new(src, at..at + '\u{fffd}'.len_utf8()),
                        "",
                        format!("not UTF-8 text: byte 0x{byte:02X}"),
                    )
                    .with_help("save the file as UTF-8"),
                );
                return None;
            }
        };
        self.inputs.push(path.to_path_buf());
        Some(self.add_source(shown, text, Some(path.to_path_buf())))
    }

    fn parse(&mut self, src: SourceId) -> Node {
        let (node, problems) = tree::parse_document(&self.sources, src);
        self.problems.extend(problems);
        node
    }

    /// A path written in a file, relative to that file's folder.
    fn relative_to_source(&self, span: Span, written: &str) -> PathBuf {
        let base = self
            .paths
            .get(span.src.0 as usize)
            .and_then(|p| p.as_ref())
            .and_then(|p| p.parent());
        match base {
            Some(dir) => dir.join(written),
            None => PathBuf::from(written),
        }
    }

    /// Applies `--set KEY=VALUE` overrides.
    fn apply_overrides(&mut self, doc: &mut Node, overrides: &[String]) {
        for (i, arg) in overrides.iter().enumerate() {
            let src = self.add_source(format!("--set #{}", i + 1), arg.clone(), None);
            let Some(eq) = arg.find('=') else {
                self.problems.push(
                    Problem::new(Span::new(src, 0..arg.len()), "", "expected KEY=VALUE")
                        .with_help("e.g. --set scoring.threshold=70"),
                );
                continue;
            };
            let key_span = Span::new(src, 0..eq);
            let path = match KeyPath::parse(&arg[..eq]) {
                Ok(p) => p,
                Err(m) => {
                    self.problems
                        .push(Problem::new(key_span, "", format!("bad key path: {m}")));
                    continue;
                }
            };
            if path.to_string() == "model" {
                self.problems.push(
                    Problem::new(key_span, "model", "the model file cannot be set from the command line")
                        .with_help(
                            "a scenario's model is read with the scenario; edit `model` in the file, or \
                             make a copy of the scenario that names the other model",
                        ),
                );
                continue;
            }
            let value = match tree::parse_value(&self.sources, src, eq + 1, &path.to_string()) {
                Ok(v) => v,
                Err(p) => {
                    let raw = arg[eq + 1..].trim();
                    let bare_word = !raw.is_empty()
                        && raw
                            .chars()
                            .all(|c| c.is_alphanumeric() || "_-./ ".contains(c))
                        && raw.chars().any(char::is_alphabetic);
                    if bare_word {
                        Node {
                            span: Span::new(src, eq + 1..arg.len()),
                            value: Value::Str(raw.to_string()),
                        }
                    } else {
                        self.problems.push(p);
                        continue;
                    }
                }
            };
            if let Err(m) = tree::set(doc, &path, value) {
                self.problems
                    .push(Problem::new(key_span, &path.to_string(), m));
            }
        }
    }

    /// Reads the open deals of a pipeline CSV named in `pipeline.csv`.
    fn pipeline_csv(&mut self, pipeline: Option<&PipelineSpec>) -> Vec<OpenDealSpec> {
        let Some(csv) = pipeline.and_then(|p| p.csv.as_ref()) else {
            return Vec::new();
        };
        let path = self.relative_to_source(csv.loc.span, &csv.value);
        let Some(src) = self.read_text(&path, Some(&csv.loc)) else {
            return Vec::new();
        };
        let (deals, problems) = parse_pipeline_csv(&self.sources, src);
        self.problems.extend(problems);
        deals
    }
}

/// Top-level keys of model and scenario files.
const TOP_LEVEL_KEYS: &[&str] = &[
    "name",
    "description",
    "model",
    "horizon_weeks",
    "start_date",
    "target",
    "run",
    "mix",
    "variants",
    "stages",
    "scoring",
    "capacity",
    "deals",
    "channels",
    "pipeline",
];

/// A top-level key found inside a table was almost certainly written after
/// a `[table]` header, which in TOML makes it part of that table.
fn explain_misplaced_key(p: &mut Problem) {
    let Some(key) = p
        .message
        .strip_prefix("unknown key `")
        .and_then(|m| m.strip_suffix('`'))
    else {
        return;
    };
    if p.path.contains('.') && TOP_LEVEL_KEYS.contains(&key) {
        p.help = Some(format!(
            "in TOML a key after a [table] header belongs to that table: move `{key}` above the first [table] header, or write it as its own [{key}] table"
        ));
    }
}

/// A path for messages, with `dir/../` steps removed: `scenarios/../models/x`
/// becomes `models/x`.
pub fn tidy_path(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir if !out.is_empty() => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.iter().collect()
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Whether a parsed file is a scenario (it names a model).
fn is_scenario(doc: &Node) -> bool {
    doc.as_table().is_some_and(|t| t.get("model").is_some())
}

/// Whether a file is a model (it parses, has `stages` and names no model):
/// what a folder of scenarios may hold beside them and `batch` passes over.
/// Anything else, a broken file included, counts as a scenario.
pub fn is_model_file(path: &Path) -> bool {
    let mut s = Session::new(path);
    let Some(src) = s.read_text(path, None) else {
        return false;
    };
    let doc = s.parse(src);
    s.problems.is_empty()
        && !is_scenario(&doc)
        && doc.as_table().is_some_and(|t| t.get("stages").is_some())
}

/// The bytes of a file, for fingerprints and for copying outputs; refused
/// above [`MAX_INPUT_BYTES`] like every input.
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    read_bytes_up_to(path, MAX_INPUT_BYTES)
}

/// [`read_bytes`] with another cap (CRM exports are larger than model
/// files).
pub fn read_bytes_up_to(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    // Opened without blocking, so that a FIFO named as input cannot hang
    // the run; what was opened is what is checked.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(invalid("it is a folder, not a file".into()));
    }
    if !meta.is_file() {
        return Err(invalid(
            "it is not a regular file (a device, FIFO or socket); save the input to a file".into(),
        ));
    }
    // The size the file system reports is a hint only: the cap holds on
    // the bytes actually read.
    let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(invalid(format!(
            "it is larger than the limit of {} MiB",
            limit >> 20
        )));
    }
    Ok(bytes)
}

/// Loads a scenario or a model file, whichever `path` is.
pub fn load_any(path: &Path, overrides: &[String]) -> Result<Loadable, InputError> {
    let mut s = Session::new(path);
    let Some(src) = s.read_text(path, None) else {
        return Err(s.fail());
    };
    let doc = s.parse(src);
    if is_scenario(&doc) {
        // Checking a file checks every variant in it.
        let l = load_scenario_doc(s, path, doc, overrides)?;
        l.all_variants()?;
        Ok(Loadable::Scenario(Box::new(l)))
    } else {
        load_model_doc(s, path, doc, overrides).map(|m| Loadable::Model(Box::new(m)))
    }
}

/// Loads a model from text (paths it names resolve against `dir`).
pub fn model_from_str(name: &str, text: &str, dir: &Path) -> Result<LoadedModel, InputError> {
    let mut s = Session::new(Path::new(name));
    let src = s.add_source(name.to_string(), text.to_string(), Some(dir.join(name)));
    let doc = s.parse(src);
    load_model_doc(s, Path::new(name), doc, &[])
}

/// Loads a scenario from text (paths it names resolve against `dir`).
pub fn scenario_from_str(
    name: &str,
    text: &str,
    dir: &Path,
    overrides: &[String],
) -> Result<Loaded, InputError> {
    let mut s = Session::new(Path::new(name));
    let src = s.add_source(name.to_string(), text.to_string(), Some(dir.join(name)));
    let doc = s.parse(src);
    if !is_scenario(&doc) && s.problems.is_empty() {
        s.problems.push(Problem::new(
            doc.span,
            "",
            "this is not a scenario file: it has no `model` key",
        ));
        return Err(s.fail());
    }
    let l = load_scenario_doc(s, Path::new(name), doc, overrides)?;
    l.all_variants()?;
    Ok(l)
}

/// Loads a scenario file with its model, overrides and variants.
pub fn load_scenario(path: &Path, overrides: &[String]) -> Result<Loaded, InputError> {
    let mut s = Session::new(path);
    let Some(src) = s.read_text(path, None) else {
        return Err(s.fail());
    };
    let doc = s.parse(src);
    if !is_scenario(&doc) && s.problems.is_empty() {
        let help = "a scenario names its model: model = \"../models/<name>.toml\"; \
                    to check a model file, use `revplan check`";
        s.problems.push(
            Problem::new(
                doc.span,
                "",
                "this is not a scenario file: it has no `model` key",
            )
            .with_help(help),
        );
        return Err(s.fail());
    }
    load_scenario_doc(s, path, doc, overrides)
}

fn load_model_doc(
    mut s: Session,
    path: &Path,
    mut doc: Node,
    overrides: &[String],
) -> Result<LoadedModel, InputError> {
    if !s.problems.is_empty() {
        return Err(s.fail());
    }
    s.apply_overrides(&mut doc, overrides);
    let spec = {
        let mut cx = Cx::new(&s.sources);
        let spec = read_model(&doc, &mut cx);
        s.problems.extend(cx.problems);
        spec
    };
    let Some(spec) = spec else {
        return Err(s.fail());
    };
    let deals = s.pipeline_csv(spec.pipeline.as_ref());
    if !s.problems.is_empty() {
        return Err(s.fail());
    }
    match build_model(&spec, &deals) {
        Ok(model) => Ok(LoadedModel {
            file: path.to_path_buf(),
            model,
            inputs: s.inputs,
        }),
        Err(p) => {
            s.problems.extend(p);
            Err(s.fail())
        }
    }
}

fn load_scenario_doc(
    mut s: Session,
    path: &Path,
    scenario_doc: Node,
    overrides: &[String],
) -> Result<Loaded, InputError> {
    if !s.problems.is_empty() {
        return Err(s.fail());
    }
    let table = scenario_doc.as_table().expect("documents are tables");
    let model_node = table.get("model").expect("checked by is_scenario");
    let Some(model_rel) = model_node.as_str() else {
        s.problems.push(crate::read::mismatch(
            model_node,
            "model",
            "the path of a model file",
        ));
        return Err(s.fail());
    };
    let model_loc = Loc {
        span: model_node.span,
        path: "model".into(),
    };
    let model_path = s.relative_to_source(model_node.span, model_rel);
    let Some(model_src) = s.read_text(&model_path, Some(&model_loc)) else {
        return Err(s.fail());
    };
    let mut doc = s.parse(model_src);
    if is_scenario(&doc) {
        s.problems.push(model_loc.problem(format!(
            "{} is a scenario file, not a model",
            tidy_path(&model_path).display()
        )));
    }
    if !s.problems.is_empty() {
        return Err(s.fail());
    }
    let model_name = doc
        .as_table()
        .and_then(|t| t.get("name"))
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_string();
    if let Err(p) = tree::merge(&mut doc, &scenario_doc) {
        s.problems.extend(p);
    }
    s.apply_overrides(&mut doc, overrides);
    if !s.problems.is_empty() {
        return Err(s.fail());
    }
    let Some((spec, base)) = read_and_build(&mut s, &doc, "") else {
        return Err(s.fail());
    };
    // Variants build on the scenario as overridden on the command line.
    let mut variants = Vec::new();
    if let Some(t) = match &mut doc.value {
        Value::Table(t) => Some(t),
        _ => None,
    } {
        t.remove("variants");
    }
    let mut broken = Vec::new();
    for v in &spec.variants {
        let before = s.problems.len();
        let mut vdoc = doc.clone();
        let built = match tree::merge(&mut vdoc, &v.set.0) {
            Err(p) => {
                s.problems.extend(p);
                None
            }
            Ok(()) => {
                let context = format!("in variant `{}`: ", v.name.value);
                read_and_build(&mut s, &vdoc, &context)
            }
        };
        match built {
            Some((_, scenario)) if s.problems.len() == before => variants.push(Variant {
                name: v.name.value.clone(),
                description: v.description.clone(),
                scenario,
            }),
            _ => {
                let mut problems = s.problems.split_off(before);
                for p in &mut problems {
                    explain_misplaced_key(p);
                }
                let e = InputError::new(&s.file, &s.sources, problems);
                broken.push((v.name.value.clone(), e));
            }
        }
    }
    if !s.problems.is_empty() {
        return Err(s.fail());
    }
    Ok(Loaded {
        file: path.to_path_buf(),
        model_file: tidy_path(&model_path),
        model_name,
        base,
        variants,
        broken,
        inputs: s.inputs,
    })
}

/// Reads a merged scenario tree and builds it; problems are prefixed with
/// `context` (naming the variant).
fn read_and_build(s: &mut Session, doc: &Node, context: &str) -> Option<(ScenarioSpec, Scenario)> {
    let before = s.problems.len();
    let spec = {
        let mut cx = Cx::new(&s.sources);
        let spec = read_scenario(doc, &mut cx);
        s.problems.extend(cx.problems);
        spec
    };
    let result = spec.and_then(|spec| {
        let deals = s.pipeline_csv(spec.model.pipeline.as_ref());
        if s.problems.len() > before {
            return None;
        }
        match build_scenario(&spec, &deals) {
            Ok(sc) => Some((spec, sc)),
            Err(p) => {
                s.problems.extend(p);
                None
            }
        }
    });
    for p in &mut s.problems[before..] {
        p.message = format!("{context}{}", p.message);
    }
    result
}

const CSV_COLUMNS: &[&str] = &[
    "stage",
    "amount",
    "age_weeks",
    "channel",
    "id",
    "score",
    "probability",
    "close_in_weeks",
    "category",
];
/// Indices into [`CSV_COLUMNS`].
mod col {
    pub const STAGE: usize = 0;
    pub const AMOUNT: usize = 1;
    pub const AGE: usize = 2;
    pub const CHANNEL: usize = 3;
    pub const ID: usize = 4;
    pub const SCORE: usize = 5;
    pub const PROBABILITY: usize = 6;
    pub const CLOSE: usize = 7;
    pub const CATEGORY: usize = 8;
}

/// Parses a pipeline CSV: a header with `stage` and `age_weeks` and any of
/// the optional columns, then one open deal (or lead in flight) per row.
/// Empty optional cells mean "not known".
pub fn parse_pipeline_csv(sources: &Sources, src: SourceId) -> (Vec<OpenDealSpec>, Vec<Problem>) {
    let text = sources.get(src).text.clone();
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let whole = Span::new(src, 0..text.len().min(1));
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            problems.push(Problem::new(
                whole,
                "",
                format!("cannot read the CSV header: {e}"),
            ));
            return (out, problems);
        }
    };
    let header_span = |i: usize| {
        let r = headers.range(i).unwrap_or(0..0);
        Span::new(src, r)
    };
    let mut columns = [None; CSV_COLUMNS.len()];
    for (i, h) in headers.iter().enumerate() {
        match CSV_COLUMNS.iter().position(|c| *c == h) {
            Some(k) if columns[k].is_none() => columns[k] = Some(i),
            Some(_) => problems.push(Problem::new(
                header_span(i),
                "",
                format!("column `{h}` appears twice"),
            )),
            None => {
                let mut p = Problem::new(header_span(i), "", format!("unknown column `{h}`"));
                p.help = Some(match suggest(h, CSV_COLUMNS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("expected columns: {}", CSV_COLUMNS.join(", ")),
                });
                problems.push(p);
            }
        }
    }
    for k in [col::STAGE, col::AGE] {
        if columns[k].is_none() {
            problems.push(
                Problem::new(whole, "", format!("missing column `{}`", CSV_COLUMNS[k])).with_help(
                    "the header needs stage and age_weeks; amount, channel, id, score, probability, \
                     close_in_weeks and category are optional",
                ),
            );
        }
    }
    if !problems.is_empty() {
        return (out, problems);
    }
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let at = e
                    .position()
                    .map_or(0, |p| p.byte() as usize)
                    .min(text.len());
                problems.push(Problem::new(
                    Span::new(src, at..at),
                    "",
                    format!("bad CSV row: {e}"),
                ));
                if problems.len() > crate::diag::MAX_PROBLEMS {
                    break;
                }
                continue;
            }
        };
        if let Some(d) = csv_row(&record, &columns, src, &mut problems) {
            out.push(d);
        }
        if problems.len() > crate::diag::MAX_PROBLEMS {
            break;
        }
    }
    (out, problems)
}

/// One row of a pipeline CSV; problems are pushed, and `None` returned,
/// when a value is bad.
fn csv_row(
    record: &csv::StringRecord,
    columns: &[Option<usize>],
    src: SourceId,
    problems: &mut Vec<Problem>,
) -> Option<OpenDealSpec> {
    let pos = record.position().map_or(0, |p| p.byte() as usize);
    let field = |k: usize| -> Option<Spanned<String>> {
        let i = columns[k]?;
        let r = record.range(i).unwrap_or(0..0);
        let value = record.get(i).unwrap_or_default().to_string();
        (!value.is_empty()).then(|| Spanned {
            value,
            loc: Loc {
                span: Span::new(src, pos + r.start..pos + r.end),
                path: CSV_COLUMNS[k].to_string(),
            },
        })
    };
    let before = problems.len();
    let mut number = |k: usize, lo: f64, hi: f64| -> Option<f64> {
        let f = field(k)?;
        match f.value.parse::<f64>() {
            Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Some(v),
            _ => {
                problems.push(f.loc.problem(format!(
                    "expected a number from {lo} to {hi}, found {:?}",
                    f.value
                )));
                None
            }
        }
    };
    let amount = number(col::AMOUNT, 0.0, crate::spec::MAX_MONEY);
    let score = number(col::SCORE, -1e9, 1e9);
    let probability = number(col::PROBABILITY, 0.0, 1.0);
    let mut weeks = |k: usize| -> Option<u32> {
        let f = field(k)?;
        match f.value.parse::<u32>() {
            Ok(a) if i64::from(a) <= crate::read::MAX_WEEKS => Some(a),
            _ => {
                problems.push(f.loc.problem(format!(
                    "expected whole weeks from 0 to {}, found {:?}",
                    crate::read::MAX_WEEKS,
                    f.value
                )));
                None
            }
        }
    };
    let age = weeks(col::AGE);
    let close_in_weeks = weeks(col::CLOSE);
    let category = field(col::CATEGORY).and_then(|c| {
        let known = crate::spec::CATEGORIES
            .iter()
            .find(|k| **k == c.value.to_lowercase());
        if known.is_none() {
            problems.push(c.loc.problem(format!(
                "unknown forecast category {:?}; expected one of {}",
                c.value,
                crate::spec::CATEGORIES.join(", ")
            )));
        }
        known.copied()
    });
    let Some(stage) = field(col::STAGE) else {
        let at = Span::new(src, pos..pos);
        problems.push(Problem::new(at, "stage", "every row needs a `stage`"));
        return None;
    };
    let Some(age) = age else {
        if problems.len() == before {
            problems.push(stage.loc.problem("every row needs `age_weeks`"));
        }
        return None;
    };
    if problems.len() > before {
        return None;
    }
    Some(OpenDealSpec {
        loc: stage.loc.clone(),
        stage,
        amount,
        age_weeks: age,
        channel: field(col::CHANNEL),
        id: field(col::ID).map(|f| f.value),
        score,
        probability,
        close_in_weeks,
        category,
    })
}

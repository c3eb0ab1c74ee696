//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use revplan::load::{Loaded, LoadedModel, model_from_str, scenario_from_str};

/// The package root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads a model from text; panics with the rendered problems if invalid.
pub fn model(text: &str) -> LoadedModel {
    model_from_str("test.toml", text, &root())
        .unwrap_or_else(|e| panic!("{}", e.render(false, 100)))
}

/// Loads a scenario from text in `tests/data`.
pub fn scenario(text: &str, overrides: &[&str]) -> Loaded {
    let sets: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    scenario_from_str("test.toml", text, &root().join("tests/data"), &sets)
        .unwrap_or_else(|e| panic!("{}", e.render(false, 100)))
}

/// Every shipped example file.
pub fn shipped() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["models", "scenarios"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A path relative to the package root, for stable messages.
pub fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// A minimal model: five stages, one channel, with `extra` appended (which
/// may replace any part, since later TOML tables are separate keys).
pub fn funnel(parts: &Parts) -> String {
    format!(
        r#"
name = "hand"
capacity = "unlimited"

[[stages]]
name = "lead"
gate = "score"

[[stages]]
name = "mql"
gate = "acceptance"
delay = 1
{mql_extra}

[[stages]]
name = "sal"
p = 0.6
delay = 2

[[stages]]
name = "sql"
p = 0.7
delay = 1

[[stages]]
name = "opportunity"
gate = "close"
{opp_extra}

[scoring]
threshold = 60
acceptance = {{ curve = "constant", p = 0.5 }}
{scoring_extra}

[deals]
win_rate = 0.25
size = 10000
cycle = 10
{deals_extra}

[channels.only]
volume = {{ leads_per_week = 100 }}
score = {score}
"#,
        mql_extra = parts.mql_extra,
        opp_extra = parts.opp_extra,
        scoring_extra = parts.scoring_extra,
        deals_extra = parts.deals_extra,
        score = parts.score,
    )
}

/// Pieces of [`funnel`] to vary.
pub struct Parts {
    pub mql_extra: &'static str,
    pub opp_extra: &'static str,
    pub scoring_extra: &'static str,
    pub deals_extra: &'static str,
    pub score: &'static str,
}

impl Default for Parts {
    fn default() -> Self {
        Parts {
            mql_extra: "",
            opp_extra: "",
            scoring_extra: "",
            deals_extra: "",
            score: "70",
        }
    }
}

/// A run of exactly `trials` trials.
pub fn fixed(trials: u64, seed: u64, engine: revplan::sim::EngineKind) -> revplan::sim::RunConfig {
    revplan::sim::RunConfig {
        trials: revplan::run::Trials::Fixed(trials),
        seed,
        max_trials: trials,
        engine,
        allow_large: false,
    }
}

/// Runs `f` on a pool of `threads` worker threads.
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// The real binary, with colours off and no terminal width.
pub fn revplan() -> Command {
    let mut c = Command::cargo_bin("revplan").unwrap();
    c.env("NO_COLOR", "1").env_remove("COLUMNS");
    c
}

/// Runs the binary with `--format json` appended; panics with its stderr
/// unless it succeeds.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let out = revplan()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "revplan {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

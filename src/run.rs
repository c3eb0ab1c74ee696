//! How a simulation runs: the one run configuration every command uses —
//! trials, seed, the cap on automatic trials, the engine — and the
//! overrides a command line or a batch puts on a scenario's own.

use serde::Serialize;

/// How many trials to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trials {
    /// Until the standard errors are small enough.
    Auto,
    Fixed(u64),
}

impl Trials {
    /// As written on a command line: `auto` or the number.
    pub fn text(self) -> String {
        match self {
            Trials::Auto => "auto".into(),
            Trials::Fixed(n) => n.to_string(),
        }
    }
}

/// Which engine simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// The fastest that applies.
    #[default]
    Auto,
    /// Poisson paths (refused when leads interact).
    Fast,
    /// Leads followed one by one from the MQL stage.
    Leads,
    /// Leads moved in groups of the same state by counts.
    Cohorts,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Auto => "auto",
            EngineKind::Fast => "fast",
            EngineKind::Leads => "leads",
            EngineKind::Cohorts => "cohorts",
        }
    }
}

/// Most trials `--trials auto` runs.
pub const DEFAULT_MAX_TRIALS: u64 = 1_000_000;
/// The seed when neither the scenario nor the command line gives one.
pub const DEFAULT_SEED: u64 = 1;

/// How a simulation runs.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub trials: Trials,
    pub seed: u64,
    pub max_trials: u64,
    pub engine: EngineKind,
    /// Run even past the soft limits on time and memory
    /// ([`crate::sim::cost`]).
    pub allow_large: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            trials: Trials::Auto,
            seed: DEFAULT_SEED,
            max_trials: DEFAULT_MAX_TRIALS,
            engine: EngineKind::Auto,
            allow_large: false,
        }
    }
}

/// What a command line (or a batch) changes of a scenario's run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    pub trials: Option<Trials>,
    pub seed: Option<u64>,
    pub max_trials: Option<u64>,
    pub engine: Option<EngineKind>,
    pub allow_large: bool,
}

impl Overrides {
    /// The scenario's run with these overrides.
    pub fn apply(&self, base: &RunConfig) -> RunConfig {
        RunConfig {
            trials: self.trials.unwrap_or(base.trials),
            seed: self.seed.unwrap_or(base.seed),
            max_trials: self.max_trials.unwrap_or(base.max_trials),
            engine: self.engine.unwrap_or(base.engine),
            allow_large: self.allow_large || base.allow_large,
        }
    }
}

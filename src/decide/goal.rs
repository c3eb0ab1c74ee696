//! `revplan goal`: the smallest value of a lever for which the probability
//! of reaching the target is at least a confidence level.
//!
//! The search is [`super::seek`]'s: regula falsi on P(hit) over common
//! random numbers, each evaluation stopped once its side of the confidence
//! is clear. It stops at the smallest value found that reaches the
//! confidence, to within 0.2% of the current value (or one rep).

use serde::Serialize;

use super::levers::Lever;
use super::seek::{End, Evaluation, SearchTrials, Seek};
use super::{Figures, Settings};
use crate::export::format::{count, money, pct};
use crate::export::{Exportable, Table, Unit, View, col};
use crate::model::Scenario;
use crate::run::Trials;
use crate::sim::{EngineKind, RunConfig, SimError, common_engine, run, run_until};

/// With `--trials auto`, every evaluation's P(hit) is as precise as this
/// many trials of the plain share (fewer where the controls take out
/// variance: [`super::seek::as_precise_as`]).
pub const DEFAULT_TRIALS: u64 = 4096;
/// Largest multiple of the current value searched (leads, budgets).
pub const MAX_FACTOR: f64 = 20.0;
/// Most reps added to the current team.
pub const MAX_EXTRA_REPS: f64 = 200.0;

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GoalResult {
    pub scenario: String,
    pub lever: String,
    pub confidence: f64,
    pub engine: &'static str,
    pub trials: u64,
    pub seed: u64,
    pub target: f64,
    pub current: f64,
    pub current_p_hit: f64,
    /// Whether some value within the bounds reaches the confidence.
    pub reached: bool,
    /// The smallest such value found.
    pub value: Option<f64>,
    pub p_hit: Option<f64>,
    pub p_hit_std_error: Option<f64>,
    pub bounds: (f64, f64),
    /// The forecast's figures at the value (at the upper bound if not reached).
    pub figures: Figures,
    pub evaluations: Vec<Evaluation>,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GoalError {
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("{0}")]
    Lever(String),
}

/// Searches the lever; `progress` is told each evaluation's value.
pub fn goal(
    s: &Scenario,
    lever: &Lever,
    confidence: f64,
    settings: &Settings,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<GoalResult, GoalError> {
    let trials = SearchTrials::new(settings.trials, DEFAULT_TRIALS);
    let engine = common_engine(&[s], settings.engine);
    let engine = if engine == EngineKind::Auto {
        EngineKind::Leads
    } else {
        engine
    };
    let opts = |trials: u64| RunConfig {
        trials: Trials::Fixed(trials),
        seed: settings.seed,
        max_trials: trials,
        engine,
        allow_large: settings.allow_large,
    };
    let mut evaluations = Vec::new();
    // The current value runs every trial: its P(hit) is reported. With
    // `--trials auto` it settles how many every evaluation runs.
    let mut first = true;
    let mut eval = |x: f64| -> Result<End<crate::sim::Run>, GoalError> {
        progress(x);
        let scenario = lever.apply(s, x).map_err(GoalError::Lever)?;
        let stop = trials.stop(!first, confidence);
        let r = run_until(&scenario, &opts(trials.get()), &|_| {}, &stop)?;
        trials.ran(r.forecast.trials);
        first = false;
        let e = End {
            value: x,
            p_hit: r.forecast.p_hit_target,
            std_error: r.forecast.p_hit_std_error,
            trials: r.forecast.trials,
            kept: 1.0 - r.forecast.p_hit_variance_removed,
            at: r,
        };
        evaluations.push(e.evaluation());
        Ok(e)
    };
    // The figures reported come from every trial.
    let full = |x: f64, r: crate::sim::Run| -> Result<crate::sim::Run, GoalError> {
        if r.forecast.trials >= trials.get() {
            return Ok(r);
        }
        let scenario = lever.apply(s, x).map_err(GoalError::Lever)?;
        Ok(run(&scenario, &opts(trials.get()), &|_| {})?)
    };
    let current = lever.current(s);
    let upper = if lever.integer() {
        current + MAX_EXTRA_REPS
    } else {
        (current * MAX_FACTOR).min(lever.ceiling(s))
    };
    let tol = if lever.integer() {
        1.0
    } else {
        (0.002 * current).max(1e-9)
    };
    let now = eval(current)?;
    let p_now = now.p_hit;
    let (lo, p_lo, hi) = if p_now >= confidence {
        (0.0, None, now)
    } else {
        let top = eval(upper)?;
        if top.p_hit < confidence {
            let run_top = full(upper, top.at)?;
            let p_top = run_top.forecast.p_hit_target;
            let message = format!(
                "no value up to {} reaches P(hit) ≥ {}: at that bound P(hit) = {}",
                fmt_value(lever, upper),
                pct(confidence),
                pct(p_top)
            );
            return Ok(GoalResult {
                scenario: s.name.clone(),
                lever: lever.name(s),
                confidence,
                engine: run_top.forecast.engine,
                trials: trials.get(),
                seed: settings.seed,
                target: s.target.total,
                current,
                current_p_hit: p_now,
                reached: false,
                value: None,
                p_hit: None,
                p_hit_std_error: None,
                bounds: (0.0, upper),
                figures: Figures::of(&run_top.forecast),
                evaluations,
                message,
            });
        }
        (current, Some(p_now), top)
    };
    let seek = Seek {
        confidence,
        trials: trials.get(),
        tolerance: tol,
        integer: lever.integer(),
    };
    let found = seek.narrow(lo, p_lo, hi, &mut eval)?;
    let best_value = found.value;
    let best = full(best_value, found.at)?;
    let f = &best.forecast;
    let message = format!(
        "{} = {} gives P(hit) = {} ± {} (currently {} gives {})",
        lever.name(s),
        fmt_value(lever, best_value),
        pct(f.p_hit_target),
        pct(f.p_hit_std_error),
        fmt_value(lever, current),
        pct(p_now)
    );
    Ok(GoalResult {
        scenario: s.name.clone(),
        lever: lever.name(s),
        confidence,
        engine: f.engine,
        trials: trials.get(),
        seed: settings.seed,
        target: s.target.total,
        current,
        current_p_hit: p_now,
        reached: true,
        value: Some(best_value),
        p_hit: Some(f.p_hit_target),
        p_hit_std_error: Some(f.p_hit_std_error),
        bounds: (0.0, upper),
        figures: Figures::of(f),
        evaluations,
        message,
    })
}

fn fmt_value(lever: &Lever, x: f64) -> String {
    match lever {
        Lever::Leads => format!("{x:.1} leads/week"),
        Lever::Budget | Lever::ChannelBudget(_) => money(x),
        Lever::Reps => format!("{x:.0} reps"),
    }
}

impl Exportable for GoalResult {
    const KIND: &'static str = "goal";

    fn primary(&self) -> &'static str {
        "evaluations"
    }

    fn view(&self) -> View {
        let g = self;
        let f = &g.figures;
        let mut v = View {
            title: format!(
                "Goal on \"{}\": P(revenue ≥ {}) ≥ {} by moving {}",
                g.scenario,
                money(g.target),
                pct(g.confidence),
                g.lever
            ),
            ..View::default()
        };
        v.lines.push(format!(
            "({} trials an evaluation, seed {}, {} engine, {} evaluations)",
            count(g.trials as f64),
            g.seed,
            g.engine,
            g.evaluations.len()
        ));
        v.lines.push(String::new());
        v.lines.push(format!(
            "{}{}",
            if g.reached {
                "Reached: "
            } else {
                "Not reached: "
            },
            g.message
        ));
        v.lines.push(String::new());
        v.lines.push(format!(
            "At that value: revenue mean {} (P10 {}, P50 {}, P90 {}), spend {}, sales team {}, leads {}, MQLs {}, \
             opportunities {}, wins {}, CAC {}",
            money(f.revenue.mean),
            money(f.revenue.p10),
            money(f.revenue.p50),
            money(f.revenue.p90),
            money(f.spend.mean),
            money(f.sales_cost.mean),
            count(f.stages.leads),
            count(f.stages.mqls),
            count(f.stages.opportunities),
            count(f.stages.wins),
            f.cac.map_or("-".into(), money)
        ));
        let mut t = Table::new(
            "evaluations",
            "Evaluations, in order:",
            vec![
                col("value", "value", Unit::Number(4)),
                col("p_hit", "P(hit)", Unit::Share),
            ],
        )
        .detail();
        for e in &g.evaluations {
            t.row(vec![e.value.into(), e.p_hit.into()]);
        }
        v.tables.push(t);
        v
    }
}

//! `revplan goal`: the smallest value of a lever for which the probability
//! of reaching the target is at least a confidence level.
//!
//! Every evaluation runs the same trials with the same seed, so P(hit) is a
//! (nearly) monotone, smooth-looking step function of the lever, and a
//! bracketing search on it is well behaved. Each step tries the point
//! where the straight line between the bracket's ends crosses the
//! confidence (regula falsi), kept at least a tenth of the bracket from
//! either end; after two steps that moved the same end it bisects instead,
//! so the bracket at least halves every two steps whatever the curve's
//! shape. It stops at the smallest value found that reaches the
//! confidence, to within a tolerance of 0.2% of the current value (or one
//! rep), or sooner when P(hit) at both ends of the bracket is within two
//! standard errors of the confidence (the rest would chase noise).
//!
//! Bisection needs only the side of the confidence each value is on: an
//! evaluation stops after the first 1,024 trials (then each further
//! block) at which P(hit) is more than three standard errors from it; the
//! value reported is always run with every trial.

use serde::Serialize;

use super::levers::Lever;
use super::{Figures, Settings};
use crate::export::format::{count, money, pct};
use crate::export::{Exportable, Table, Unit, View, col};
use crate::model::Scenario;
use crate::run::Trials;
use crate::sim::{EngineKind, RunConfig, SimError, common_engine, run, run_until};

/// Trials per evaluation when `--trials auto` is asked.
pub const DEFAULT_TRIALS: u64 = 4096;
/// Largest multiple of the current value searched (leads, budgets).
pub const MAX_FACTOR: f64 = 20.0;
/// Most reps added to the current team.
pub const MAX_EXTRA_REPS: f64 = 200.0;

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Evaluation {
    pub value: f64,
    pub p_hit: f64,
    /// Trials run: fewer than asked when the side was clear sooner.
    pub trials: u64,
}

/// Fewest trials an evaluation runs before it may stop on a clear side.
pub const STAGE_TRIALS: u64 = 1024;

/// Whether `p` from `n` trials is clearly on one side of `c`: beyond three
/// standard errors (of the estimate with one success and one failure
/// added, so that 0% or 100% of a few trials is not certainty).
pub fn clear_side(n: u64, p: f64, c: f64) -> bool {
    let n = n as f64;
    let q = (p * n + 1.0) / (n + 2.0);
    n >= STAGE_TRIALS as f64 && (p - c).abs() > 3.0 * (q * (1.0 - q) / n).sqrt()
}

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
    let trials = match settings.trials {
        Trials::Fixed(n) => n,
        Trials::Auto => DEFAULT_TRIALS,
    };
    let engine = common_engine(&[s], settings.engine);
    let engine = if engine == EngineKind::Auto {
        EngineKind::Leads
    } else {
        engine
    };
    let opts = RunConfig {
        trials: Trials::Fixed(trials),
        seed: settings.seed,
        max_trials: trials,
        engine,
        allow_large: settings.allow_large,
    };
    let mut evaluations = Vec::new();
    let enough = move |n: u64, p: f64| clear_side(n, p, confidence);
    // The current value runs every trial: its P(hit) is reported.
    let mut first = true;
    let mut eval = |x: f64| -> Result<(f64, crate::sim::Run), GoalError> {
        progress(x);
        let scenario = lever.apply(s, x).map_err(GoalError::Lever)?;
        let never = |_: u64, _: f64| false;
        let stop: &(dyn Fn(u64, f64) -> bool + Sync) = if first { &never } else { &enough };
        first = false;
        let r = run_until(&scenario, &opts, &|_| {}, stop)?;
        evaluations.push(Evaluation {
            value: x,
            p_hit: r.forecast.p_hit_target,
            trials: r.forecast.trials,
        });
        Ok((r.forecast.p_hit_target, r))
    };
    // The figures reported come from every trial.
    let full = |x: f64, r: crate::sim::Run| -> Result<crate::sim::Run, GoalError> {
        if r.forecast.trials >= trials {
            return Ok(r);
        }
        let scenario = lever.apply(s, x).map_err(GoalError::Lever)?;
        Ok(run(&scenario, &opts, &|_| {})?)
    };
    // P(hit) within two standard errors of the confidence, from every
    // trial: bisecting further would chase noise.
    let se = (confidence * (1.0 - confidence) / trials as f64).sqrt();
    let near = |p: f64, n: u64| n >= trials && (p - confidence).abs() <= 2.0 * se;
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
    let snap = |x: f64| if lever.integer() { x.round() } else { x };
    let (p_now, run_now) = eval(current)?;
    let (mut lo, mut hi, mut best) = if p_now >= confidence {
        (0.0, current, run_now)
    } else {
        let (p_top, run_top) = eval(upper)?;
        if p_top < confidence {
            let run_top = full(upper, run_top)?;
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
                trials,
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
        (current, upper, run_top)
    };
    let mut best_value = hi;
    let (mut lo_near, mut hi_near) = (false, false);
    // P(hit) at the ends, where known (not at a lower end of 0).
    let mut p_lo = (lo == current).then_some(p_now);
    let mut p_hi = best.forecast.p_hit_target;
    // Which end each of the last two steps moved (true: the upper one).
    let mut moved: [Option<bool>; 2] = [None, None];
    while hi - lo > tol && !(lo_near && hi_near) {
        let stuck = moved[0].is_some() && moved[0] == moved[1];
        let x = if stuck {
            0.5 * (lo + hi)
        } else {
            crossing(lo, hi, p_lo, p_hi, confidence)
        };
        let Some(mid) = inside(snap(x), lo, hi, lever.integer()) else {
            break;
        };
        let (p, r) = eval(mid)?;
        let close = near(p, r.forecast.trials);
        let upper = p >= confidence;
        if upper {
            hi = mid;
            p_hi = p;
            hi_near = close;
            best = r;
            best_value = mid;
        } else {
            lo = mid;
            p_lo = Some(p);
            lo_near = close;
        }
        moved = [moved[1], Some(upper)];
    }
    let best = full(best_value, best)?;
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
        trials,
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

/// Where the line through (lo, p_lo) and (hi, p_hi) reaches the
/// confidence, kept a tenth of the bracket from either end; the midpoint
/// when P(hit) at the lower end is not known or does not rise.
pub fn crossing(lo: f64, hi: f64, p_lo: Option<f64>, p_hi: f64, confidence: f64) -> f64 {
    let width = hi - lo;
    match p_lo {
        Some(p_lo) if p_hi > p_lo => {
            let x = lo + (confidence - p_lo) / (p_hi - p_lo) * width;
            x.clamp(lo + 0.1 * width, hi - 0.1 * width)
        }
        _ => lo + 0.5 * width,
    }
}

/// A point strictly inside (lo, hi): for an integer lever, moved a step in
/// from an end it rounded onto; `None` when there is none.
fn inside(x: f64, lo: f64, hi: f64, integer: bool) -> Option<f64> {
    let x = match integer {
        true if hi - lo < 2.0 => return None,
        true => x.clamp(lo + 1.0, hi - 1.0),
        false => x,
    };
    (x > lo && x < hi).then_some(x)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crossing_of_a_straight_line_is_exact() {
        // P(hit) rising from 0.6 at 100 to 0.9 at 400 crosses 0.8 at 300.
        assert!((crossing(100.0, 400.0, Some(0.6), 0.9, 0.8) - 300.0).abs() < 1e-9);
    }

    #[test]
    fn the_crossing_stays_a_tenth_of_the_bracket_inside() {
        // Nearly at the upper end, and past it: a tenth in from the end.
        assert_eq!(crossing(0.0, 100.0, Some(0.0), 0.8, 0.7999), 90.0);
        assert_eq!(crossing(0.0, 100.0, Some(0.79), 0.8, 0.7), 10.0);
    }

    #[test]
    fn without_a_rising_line_the_crossing_is_the_midpoint() {
        assert_eq!(crossing(10.0, 20.0, None, 0.9, 0.8), 15.0);
        assert_eq!(crossing(10.0, 20.0, Some(0.9), 0.9, 0.8), 15.0);
        assert_eq!(crossing(10.0, 20.0, Some(0.95), 0.9, 0.8), 15.0);
    }

    #[test]
    fn an_integer_lever_steps_in_from_the_ends() {
        assert_eq!(inside(3.0, 3.0, 7.0, true), Some(4.0));
        assert_eq!(inside(7.0, 3.0, 7.0, true), Some(6.0));
        assert_eq!(inside(4.0, 3.0, 4.0, true), None);
        assert_eq!(inside(3.0, 3.0, 7.0, false), None);
        assert_eq!(inside(3.5, 3.0, 7.0, false), Some(3.5));
    }
}

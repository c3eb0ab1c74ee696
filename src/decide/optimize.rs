//! `revplan optimize`: the split of a media budget across budget-driven
//! channels that maximises mean revenue, median revenue or P(hit), through
//! each channel's response curve (diminishing returns) and funnel.
//!
//! Method: marginal ascent on common random numbers. From the current split
//! scaled to the budget (within each channel's bounds), each round
//! estimates every channel's marginal value — the objective with one step
//! more of budget there, all runs on the same random numbers, so the
//! differences are smooth in the budget — and moves one step from the
//! channel with the lowest marginal value to the one with the highest. The
//! move is tried only when the two marginal values differ beyond chance
//! (by more than [`RESOLVE_SE`] paired standard errors); it is kept if the
//! objective improves. A round's runs are first judged on half their
//! trials: a move already beyond chance there is tried without the rest.
//! Otherwise the step is halved. The search stops when [`QUIET_ROUNDS`]
//! steps in a row (each half the one before) found no move beyond chance —
//! a smaller step changes the objective less, and the trials cannot tell
//! its moves apart either — or when the step is below 0.2% of the budget. At the optimum of a concave objective the marginal
//! values are equal, which is what the test against a closed-form
//! two-channel case checks.
//!
//! The marginal values, the objective a move is kept on, and the paired
//! standard errors are controlled for the drawn uncertain rates and the
//! deals' luck, as the forecast's P(hit) is (the median excepted): on the
//! board plan that leaves about a fifth of a marginal difference's plain
//! paired variance. With `--trials auto` the first evaluation (the
//! current split) runs from [`FIRST_TRIALS`] until its objective is as
//! precise as [`DEFAULT_TRIALS`] plain trials would make it, and that
//! count is every evaluation's (512 instead of 2,048 on the board plan).
//! The figures shown (revenue, P(hit), contribution, and the paired
//! revenue difference) are the forecast's, plain as `compare`'s.
//!
//! Budgets are media budgets over the horizon: a channel's
//! `budget_per_week` times its active weeks. Program costs and costs per
//! lead are not part of it.

use serde::Serialize;

use super::levers::{budget_channels, horizon_budget, set_horizon_budget};
use super::{Delta, Figures, Objective, Settings, paired, paired_hits, paired_so_far};
use crate::export::format::{count, money, pct};
use crate::export::{Exportable, Table, Unit, View, col};
use crate::model::{Scenario, Volume};
use crate::run::Trials;
use crate::sim::{EngineKind, Run, RunConfig, Runner, SimError, common_engine, run};

/// With `--trials auto`, every evaluation's objective is as precise as
/// this many trials of the plain mean would make it (fewer where the
/// controls take out variance: [`super::seek::as_precise_as`]).
pub const DEFAULT_TRIALS: u64 = 2048;
/// With `--trials auto`, fewest trials an evaluation runs (two of the lead
/// engine's blocks, one per core).
pub const FIRST_TRIALS: u64 = 512;
/// Most evaluations before giving up on convergence.
pub const MAX_EVALUATIONS: usize = 400;
/// A move is tried when the marginal value of the channel it moves to
/// exceeds that of the channel it moves from by more than this many paired
/// standard errors (of the per-trial objective; of revenue for the
/// median, which has no per-trial form).
pub const RESOLVE_SE: f64 = 2.0;
/// Steps in a row without a move beyond chance after which the search
/// stops.
pub const QUIET_ROUNDS: usize = 2;

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Allocation {
    pub channel: String,
    pub budget_per_week: f64,
    pub budget: f64,
    pub share: f64,
    pub leads_per_week: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Optimization {
    pub scenario: String,
    pub objective: Objective,
    /// Media budget over the horizon.
    pub budget: f64,
    /// The scenario's own media budget over the horizon (the current split
    /// is this split, scaled to `budget`).
    pub scenario_budget: f64,
    pub engine: &'static str,
    pub trials: u64,
    pub seed: u64,
    pub target: f64,
    pub current: Vec<Allocation>,
    pub best: Vec<Allocation>,
    pub current_figures: Figures,
    pub best_figures: Figures,
    /// The objective at the current and the best split: a mean controlled
    /// for what `objective_controlled_for` names, as the forecast's P(hit)
    /// is (so not always the plain mean of the figures), or the median.
    pub objective_current: f64,
    pub objective_best: f64,
    /// What the objective's estimate is controlled for (empty for the
    /// median, or when there is nothing to control for).
    pub objective_controlled_for: &'static str,
    /// Revenue and P(hit), best − current, trial by trial.
    pub revenue_delta: Delta,
    pub p_hit_delta: Delta,
    pub evaluations: usize,
    /// Trials over every evaluation: a round's marginal runs stop at half
    /// their trials when the move is clear by then.
    pub trials_run: u64,
    /// Stopped by its own rule (no move beyond chance, or the step below
    /// 0.2% of the budget) rather than by the evaluation limit.
    pub converged: bool,
    pub stop: Stop,
    /// The last step tried (budget over the horizon): the split is resolved
    /// to about this.
    pub step: f64,
}

/// Why the search stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// [`QUIET_ROUNDS`] steps in a row found no move beyond chance.
    NoMoveBeyondChance,
    /// The step fell below 0.2% of the budget.
    FinestStep,
    /// [`MAX_EVALUATIONS`] were spent.
    EvaluationLimit,
    /// Fewer than two channels can move.
    NothingToMove,
}

#[derive(Debug, thiserror::Error)]
pub enum OptimizeError {
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("{0}")]
    Setup(String),
}

/// Bounds of each budget channel's budget over the horizon: from the file
/// (`budget_min_per_week`, `budget_max_per_week` × active weeks), with
/// overrides by channel name.
pub fn bounds(
    s: &Scenario,
    overrides: &[(String, Option<f64>, Option<f64>)],
) -> Result<Vec<(f64, f64)>, String> {
    let chans = budget_channels(s);
    let mut out: Vec<(f64, f64)> = chans
        .iter()
        .map(|c| {
            let weeks = super::levers::active_weeks(s, *c);
            match &s.model.channels[*c].volume {
                // Never past the budget that buys the most leads a channel
                // may have.
                Volume::Budget {
                    min, max, curve, ..
                } => {
                    let most = curve
                        .budget_for(crate::spec::MAX_LEADS_PER_WEEK)
                        .unwrap_or(f64::INFINITY);
                    (min * weeks, max.min(most) * weeks)
                }
                Volume::Leads(_) | Volume::Schedule { .. } => (0.0, 0.0),
            }
        })
        .collect();
    for (name, lo, hi) in overrides {
        let i = chans
            .iter()
            .position(|c| s.model.channels[*c].name == *name)
            .ok_or_else(|| format!("`{name}` is not a budget-driven channel"))?;
        if let Some(lo) = lo {
            out[i].0 = *lo;
        }
        if let Some(hi) = hi {
            out[i].1 = *hi;
        }
        if out[i].0 > out[i].1 {
            return Err(format!("`{name}`: the minimum is above the maximum"));
        }
    }
    Ok(out)
}

/// Parses a bound given on the command line: `CHANNEL=AMOUNT`, the amount
/// a number ≥ 0 (over the horizon).
pub fn parse_bound(text: &str) -> Result<(String, f64), String> {
    let (k, x) = text
        .split_once('=')
        .ok_or_else(|| format!("expected CHANNEL=AMOUNT, got `{text}`"))?;
    let x: f64 = x
        .trim()
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite() && (0.0..=crate::spec::MAX_MONEY).contains(x))
        .ok_or_else(|| {
            format!(
                "`{text}`: the amount must be a number from 0 to {}",
                crate::spec::MAX_MONEY
            )
        })?;
    Ok((k.trim().to_string(), x))
}

/// Scales `x` to sum to `total` within the bounds.
fn project(x: &[f64], bounds: &[(f64, f64)], total: f64) -> Vec<f64> {
    let mut y: Vec<f64> = x
        .iter()
        .zip(bounds)
        .map(|(v, (lo, hi))| v.clamp(*lo, *hi))
        .collect();
    for _ in 0..100 {
        let sum: f64 = y.iter().sum();
        let gap = total - sum;
        if gap.abs() <= 1e-9 * total.max(1.0) {
            break;
        }
        // Spread the gap over the channels that can still move that way.
        let free: Vec<usize> = (0..y.len())
            .filter(|i| {
                if gap > 0.0 {
                    y[*i] < bounds[*i].1
                } else {
                    y[*i] > bounds[*i].0
                }
            })
            .collect();
        if free.is_empty() {
            break;
        }
        let weight: f64 = free.iter().map(|i| y[*i].max(1e-9)).sum();
        for i in free {
            let v = y[i] + gap * y[i].max(1e-9) / weight;
            y[i] = v.clamp(bounds[i].0, bounds[i].1);
        }
    }
    y
}

/// Searches the split of `budget` (over the horizon) that maximises the
/// objective.
pub fn optimize(
    s: &Scenario,
    budget: f64,
    objective: Objective,
    bounds: &[(f64, f64)],
    settings: &Settings,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Optimization, OptimizeError> {
    let chans = budget_channels(s);
    if chans.is_empty() {
        return Err(OptimizeError::Setup(
            "no channel is budget-driven (volume = { budget_per_week, response }): nothing to allocate".into(),
        ));
    }
    let (lo_sum, hi_sum): (f64, f64) = bounds
        .iter()
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    if !(budget.is_finite() && budget > 0.0) || budget < lo_sum - 1e-9 || budget > hi_sum + 1e-9 {
        return Err(OptimizeError::Setup(format!(
            "the budget {} is outside what the channels' bounds allow ({} to {})",
            money(budget),
            money(lo_sum),
            money(hi_sum)
        )));
    }
    let (trials, auto) = match settings.trials {
        Trials::Fixed(n) => (n, false),
        Trials::Auto => (DEFAULT_TRIALS, true),
    };
    let engine = match common_engine(&[s], settings.engine) {
        EngineKind::Auto => EngineKind::Leads,
        e => e,
    };
    let mut opts = RunConfig {
        trials: Trials::Fixed(trials),
        seed: settings.seed,
        max_trials: trials,
        engine,
        allow_large: settings.allow_large,
    };
    let with = |x: &[f64]| with_split(s, &chans, x);
    let evaluations = std::sync::atomic::AtomicUsize::new(0);
    let count = || {
        let done = evaluations.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(done);
    };
    // The baseline is the current split, scaled to the budget: what the
    // search changes is the split, not the amount.
    let as_is: Vec<f64> = chans.iter().map(|c| horizon_budget(s, *c)).collect();
    let current = project(&as_is, bounds, budget);
    // A typical search: about eight rounds of one run per channel and a
    // move (fewer when the trials stop resolving moves early).
    let typical = (8 * (chans.len() + 1)).min(MAX_EVALUATIONS);
    crate::sim::check_family(&with(&current), &opts, typical)?;
    count();
    let start_run = first_run(&with(&current), &opts, objective, auto)?;
    let trials = start_run.forecast.trials;
    opts.trials = Trials::Fixed(trials);
    opts.max_trials = trials;
    let eval = |x: &[f64]| -> Result<Run, SimError> {
        count();
        run(&with(x), &opts, &|_| {})
    };
    let mut trials_run = start_run.forecast.trials;
    let mut x = current.clone();
    let mut best = start_run.clone();
    let mut f0 = objective.of(&best);
    let mut step = 0.1 * budget;
    let min_step = 0.002 * budget;
    let n = x.len();
    let mut stop = if n < 2 {
        Stop::NothingToMove
    } else {
        Stop::EvaluationLimit
    };
    let mut quiet = 0;
    let mut tried = step;
    while n >= 2 && evaluations.load(std::sync::atomic::Ordering::Relaxed) < MAX_EVALUATIONS {
        if step < min_step {
            stop = Stop::FinestStep;
            break;
        }
        tried = step;
        let (verdict, looked) = judge(&x, step, bounds, objective, &with, &opts, &count)?;
        trials_run += looked;
        let (j, i) = match verdict {
            Verdict::Halve => {
                step /= 2.0;
                continue;
            }
            Verdict::Quiet => {
                quiet += 1;
                if quiet >= QUIET_ROUNDS {
                    stop = Stop::NoMoveBeyondChance;
                    break;
                }
                step /= 2.0;
                continue;
            }
            Verdict::Move { to, from } => (to, from),
        };
        quiet = 0;
        let mut y = x.clone();
        y[j] += step;
        y[i] -= step;
        let r = eval(&y)?;
        trials_run += r.forecast.trials;
        let f = objective.of(&r);
        if f > f0 {
            x = y;
            f0 = f;
            best = r;
        } else {
            step /= 2.0;
        }
    }
    let alloc = |x: &[f64]| allocations(s, &chans, x);
    Ok(Optimization {
        scenario: s.name.clone(),
        objective,
        budget,
        scenario_budget: as_is.iter().sum(),
        engine: best.forecast.engine,
        trials,
        seed: settings.seed,
        target: s.target.total,
        current: alloc(&current),
        best: alloc(&x),
        current_figures: Figures::of(&start_run.forecast),
        best_figures: Figures::of(&best.forecast),
        objective_current: objective.of(&start_run),
        objective_best: f0,
        objective_controlled_for: if objective.is_controlled() {
            start_run.controls.describe()
        } else {
            ""
        },
        revenue_delta: paired(&start_run.per_trial, &best.per_trial),
        p_hit_delta: paired_hits(&start_run, &best, s.target.total),
        evaluations: evaluations.load(std::sync::atomic::Ordering::Relaxed),
        trials_run,
        converged: stop != Stop::EvaluationLimit,
        stop,
        step: tried,
    })
}

/// The current split's run. With `--trials auto` (`auto`) it runs from
/// [`FIRST_TRIALS`] until its objective is as precise as [`DEFAULT_TRIALS`]
/// plain trials would make it ([`super::seek::as_precise_as`]; all of them
/// for the median, which is not controlled), and its trials are then
/// every evaluation's.
fn first_run(
    s: &Scenario,
    opts: &RunConfig,
    objective: Objective,
    auto: bool,
) -> Result<Run, SimError> {
    let mut r = Runner::new(s, opts)?;
    let precise = super::seek::as_precise_as(FIRST_TRIALS, DEFAULT_TRIALS);
    let settle = auto && objective.is_controlled();
    let settled =
        r.advance_until(&|r| settle && precise(r.trials().0, &objective.estimate_so_far(r)));
    let reason = if settled {
        format!(
            "its objective was as precise as {DEFAULT_TRIALS} trials of the plain mean would make it \
             (checked after each block of {} trials from {FIRST_TRIALS})",
            r.block()
        )
    } else if settle {
        format!("ran the most an evaluation runs, {DEFAULT_TRIALS} trials")
    } else if auto {
        format!("the median is not controlled: the default of {DEFAULT_TRIALS} trials")
    } else {
        format!("{} trials were asked for", r.trials().1)
    };
    Ok(r.finish(reason))
}

/// What a round's marginal runs say to do.
enum Verdict {
    /// No move is possible at this step (bounds).
    Halve,
    /// The best and worst marginal values do not differ beyond chance.
    Quiet,
    /// Try moving a step from `from` to `to`.
    Move { to: usize, from: usize },
}

/// Runs the marginal value of one more `step` in each channel at the split
/// `x`, and judges the move they suggest. The runs are first looked at
/// after half their trials: a move already beyond chance then is tried at
/// once (the move itself is run with every trial before it is kept);
/// otherwise they run the rest and are judged on all of them. `counted`
/// is told each run started. Returns the verdict and the trials run.
fn judge(
    x: &[f64],
    step: f64,
    bounds: &[(f64, f64)],
    objective: Objective,
    with: &(dyn Fn(&[f64]) -> Scenario + Sync),
    opts: &RunConfig,
    counted: &(dyn Fn() + Sync),
) -> Result<(Verdict, u64), SimError> {
    use rayon::prelude::*;
    let points: Vec<Option<Scenario>> = (0..x.len())
        .map(|i| {
            (x[i] + step <= bounds[i].1).then(|| {
                let mut y = x.to_vec();
                y[i] += step;
                with(&y)
            })
        })
        .collect();
    let mut runners = points
        .iter()
        .map(|p| {
            p.as_ref()
                .map(|s| {
                    counted();
                    Runner::new(s, opts)
                })
                .transpose()
        })
        .collect::<Result<Vec<Option<Runner>>, SimError>>()?;
    let blocks = runners.iter().flatten().next().map_or(0, |r| {
        let (_, target) = r.trials();
        target.div_ceil(r.block())
    });
    let first = blocks / 2;
    let mut verdict = Verdict::Halve;
    for look in [first, blocks - first].into_iter().filter(|k| *k > 0) {
        // Side by side: each run is deterministic on its own.
        runners
            .par_iter_mut()
            .flatten()
            .for_each(|r| r.advance(look));
        verdict = judge_runs(&runners, x, step, bounds, objective);
        if !matches!(verdict, Verdict::Quiet) {
            break;
        }
    }
    let trials = runners.iter().flatten().map(|r| r.trials().0).sum();
    Ok((verdict, trials))
}

/// The move the marginal runs so far suggest: from the channel whose run
/// is worst to the one whose run is best, when they differ beyond chance.
fn judge_runs(
    runs: &[Option<Runner>],
    x: &[f64],
    step: f64,
    bounds: &[(f64, f64)],
    objective: Objective,
) -> Verdict {
    let n = x.len();
    let value: Vec<f64> = runs
        .iter()
        .map(|r| {
            r.as_ref()
                .map_or(f64::NEG_INFINITY, |r| objective.so_far(r))
        })
        .collect();
    let up = (0..n)
        .filter(|i| value[*i].is_finite())
        .max_by(|a, b| value[*a].total_cmp(&value[*b]));
    let down = (0..n)
        .filter(|i| x[*i] - step >= bounds[*i].0 && Some(*i) != up)
        .min_by(|a, b| value[*a].total_cmp(&value[*b]));
    let (Some(to), Some(from)) = (up, down) else {
        return Verdict::Halve;
    };
    // The standard error is of the per-trial objective (of revenue for
    // the median, which has no per-trial form).
    let noise = match (&runs[to], &runs[from]) {
        (Some(a), Some(b)) => {
            let (ya, yb) = (objective.per_trial_so_far(a), objective.per_trial_so_far(b));
            RESOLVE_SE * paired_so_far(b, a, &yb, &ya).1
        }
        _ => 0.0,
    };
    if value[to] - value[from] <= noise {
        Verdict::Quiet
    } else {
        Verdict::Move { to, from }
    }
}

/// The scenario with the split `x` of the budget channels `chans`.
fn with_split(s: &Scenario, chans: &[usize], x: &[f64]) -> Scenario {
    let mut t = s.clone();
    for (c, v) in chans.iter().zip(x) {
        set_horizon_budget(&mut t, *c, *v);
    }
    t
}

/// Each budget channel's share of the split `x`, with its leads.
fn allocations(s: &Scenario, chans: &[usize], x: &[f64]) -> Vec<Allocation> {
    let scenario = with_split(s, chans, x);
    let total: f64 = x.iter().sum();
    chans
        .iter()
        .zip(x)
        .map(|(c, v)| {
            let ch = &scenario.model.channels[*c];
            let weeks = super::levers::active_weeks(&scenario, *c).max(1.0);
            let leads: f64 = (0..scenario.weeks())
                .map(|w| ch.expected_leads(w, &scenario.calendar))
                .sum();
            Allocation {
                channel: ch.name.clone(),
                budget_per_week: v / weeks,
                budget: *v,
                share: if total > 0.0 { v / total } else { 0.0 },
                leads_per_week: leads / f64::from(scenario.weeks()),
            }
        })
        .collect()
}

impl Exportable for Optimization {
    const KIND: &'static str = "optimize";

    fn primary(&self) -> &'static str {
        "split"
    }

    fn view(&self) -> View {
        let o = self;
        let name = match o.objective {
            Objective::Mean => "mean revenue",
            Objective::P50 => "median revenue",
            Objective::PHit => "P(revenue ≥ target)",
            Objective::Contribution => "mean contribution",
        };
        let mut v = View {
            title: format!(
                "Optimize \"{}\": split a media budget of {} over the horizon to maximise {}",
                o.scenario,
                money(o.budget),
                name
            ),
            ..View::default()
        };
        v.lines.push(format!(
            "({} trials an evaluation, seed {}, {} engine, {} evaluations, {} trials in all; {})",
            count(o.trials as f64),
            o.seed,
            o.engine,
            o.evaluations,
            count(o.trials_run as f64),
            match o.stop {
                Stop::NoMoveBeyondChance => format!(
                    "no move of {} or {} better beyond chance",
                    money(2.0 * o.step),
                    money(o.step)
                ),
                Stop::FinestStep => format!("stopped at its finest step, {}", money(o.step)),
                Stop::EvaluationLimit => "stopped before converging".into(),
                Stop::NothingToMove => "nothing to move".into(),
            }
        ));
        v.lines.push(format!(
            "The current split is the scenario's ({} over the horizon), scaled to {}.",
            money(o.scenario_budget),
            money(o.budget)
        ));
        let mut t = Table::new(
            "split",
            "",
            vec![
                col("channel", "channel", Unit::Text),
                col("current_budget", "current", Unit::Money),
                col("current_share", "share", Unit::Share),
                col("current_budget_per_week", "per week", Unit::Money),
                col("current_leads_per_week", "leads/wk", Unit::Count),
                col("best_budget", "best", Unit::Money),
                col("best_share", "share", Unit::Share),
                col("best_budget_per_week", "per week", Unit::Money),
                col("best_leads_per_week", "leads/wk", Unit::Count),
            ],
        );
        for (c, b) in o.current.iter().zip(&o.best) {
            t.row(vec![
                c.channel.clone().into(),
                c.budget.into(),
                c.share.into(),
                c.budget_per_week.into(),
                c.leads_per_week.into(),
                b.budget.into(),
                b.share.into(),
                b.budget_per_week.into(),
                b.leads_per_week.into(),
            ]);
        }
        v.tables.push(t);
        let (c, b) = (&o.current_figures, &o.best_figures);
        let controlled = match o.objective_controlled_for {
            "" => String::new(),
            what => format!(" (controlled for {what}, as P(hit) is)"),
        };
        v.footer.push(format!(
            "  {name}: {} now, {} with the best split{controlled}",
            o.objective.show(o.objective_current),
            o.objective.show(o.objective_best)
        ));
        v.footer.push(format!(
            "  revenue {} → {} ({} … {} at 95%; better/same/worse in {}/{}/{} of trials); P(hit) {} → {}",
            money(c.revenue.mean),
            money(b.revenue.mean),
            money(o.revenue_delta.ci_low),
            money(o.revenue_delta.ci_high),
            pct(o.revenue_delta.p_better),
            pct(o.revenue_delta.p_tie),
            pct(o.revenue_delta.p_worse),
            pct(c.p_hit_target),
            pct(b.p_hit_target)
        ));
        v.footer.push(format!(
            "  leads {} → {}, wins {} → {}, contribution {} → {}, CAC {} → {}",
            count(c.stages.leads),
            count(b.stages.leads),
            count(c.stages.wins),
            count(b.stages.wins),
            money(c.contribution.mean),
            money(b.contribution.mean),
            c.cac.map_or("-".into(), money),
            b.cac.map_or("-".into(), money)
        ));
        v
    }
}

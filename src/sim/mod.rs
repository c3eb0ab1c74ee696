//! `revplan simulate`: the parallel Monte Carlo forecast.
//!
//! # Engines
//!
//! Two engines simulate the same model exactly (in distribution); the
//! driver picks the fastest that applies ([`EngineKind`]):
//!
//! - [`fast`] (*Poisson paths*): when leads do not interact — unlimited
//!   capacity, Poisson arrivals — and the only uncertain parameters are win
//!   rates, Poisson arrivals thinned by independent outcomes stay Poisson.
//!   The leads of a channel whose furthest stage inside the horizon is each
//!   stage, and the wins closing in each week, are independent Poisson
//!   counts whose means come from the expected flow ([`crate::timeline`]).
//!   A trial is a few hundred draws, whatever the number of leads.
//! - [`leads`]: everything else. Arrivals and the MQL gate (with nurture)
//!   are drawn as Poisson counts per channel and week; each MQL is then
//!   followed on its own, week by week, so that sales capacity can couple
//!   the leads worked in the same week. Cost grows with the number of MQLs.
//! - [`leads::cohorts`] (*cohorts*): the lead engine on groups of leads in
//!   the same state (channel, score band, arrival month, furthest stage,
//!   fate), split by binomial and multinomial draws and merged when they
//!   meet; the score is discretised into bands. Its cost grows with the
//!   states, not the leads, so `auto` takes it from
//!   [`COHORT_MQLS_PER_WEEK`] MQLs a week.
//!
//! # Determinism
//!
//! Trials run in blocks of [`BLOCK`]; block results are merged in block
//! order, and every random stream is derived from (seed, trial, purpose)
//! ([`rng`]). Results are therefore identical for any number of threads,
//! and variants of a scenario see the same random numbers.
//!
//! # Quantiles
//!
//! P_q is the nearest-rank quantile: the smallest simulated value with at
//! least a share q of the trials at or below it. Horizon and period
//! quantiles are exact; weekly ones come from log-binned histograms and are
//! exact to within 0.39%.

pub mod control;
pub mod cost;
pub mod fast;
pub mod leads;
pub mod rng;
pub mod stats;
pub mod view;

use rayon::prelude::*;
use serde::Serialize;

use crate::calendar::{Period, PeriodKind};
use crate::model::{Category, LeadSource, Metric, Role, Scenario};
use stats::{LogHist, Moments, nearest_ranks};

/// Trials per block for the lead engine: the unit of parallel work, of
/// merging and of `--trials auto`'s checks. Each engine has its own, fixed
/// size, so that results never depend on the thread count. Small enough
/// that one evaluation of a decision (512 or 1,024 trials) keeps two cores
/// busy, and a look at precision comes every few hundred trials; a block
/// is still a quarter of a second of work on the board plan, so its own
/// cost (a fresh accumulator, one merge) is lost in it.
pub const BLOCK: u64 = 256;
pub use crate::run::DEFAULT_MAX_TRIALS;
/// `--trials auto` stops once the standard error of P(hit) is below this…
pub const AUTO_SE_P_HIT: f64 = 0.005;
/// …and that of the mean revenue below this share of the mean.
pub const AUTO_SE_MEAN: f64 = 0.005;
/// …and at least this many trials ran (the standard errors the rule reads
/// are themselves estimates).
pub const AUTO_MIN_TRIALS: u64 = 2048;

pub use crate::run::{EngineKind, RunConfig, Trials};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SimError {
    #[error("the fast engine cannot run this scenario: {0}; use --engine leads or auto")]
    FastNotApplicable(String),
    #[error("this run is too large: {0}")]
    TooLarge(String),
}

/// Everything a trial needs to know about the calendar and the targets.
pub struct Context {
    pub weeks: usize,
    pub stages: usize,
    pub channels: usize,
    pub months: Vec<Period>,
    pub quarters: Vec<Period>,
    /// Index into `months` of each week.
    pub month_of_week: Vec<usize>,
    pub target_weekly: Vec<f64>,
    pub target_months: Vec<f64>,
    pub target_quarters: Vec<f64>,
    pub target_total: f64,
    /// Lower end of the weekly histograms.
    pub hist_lo: f64,
    /// The sales team's payroll over the horizon, and the cost of each
    /// touch made (0 without a team).
    pub payroll: f64,
    pub cost_per_touch: f64,
    /// What the target counts; the targets above are in its unit.
    pub metric: Metric,
    /// The drawn rates that P(hit)'s estimate is controlled for.
    pub controls: control::Controls,
}

/// Metrics summed per report row (each channel, then the open pipeline)
/// and month. A channel's metrics are those of its leads *by arrival
/// month* (a cohort: the leads of a month and what they became inside the
/// horizon, or eventually); the open pipeline's are by the month they
/// happen in.
pub mod metric {
    pub const LEADS: usize = 0;
    pub const SPEND: usize = 1;
    pub const WINS: usize = 2;
    pub const REVENUE: usize = 3;
    pub const LOST: usize = 4;
    pub const RECYCLED: usize = 5;
    pub const DROPPED: usize = 6;
    /// Acceptance decisions (MQLs worked by sales, counting returns).
    pub const DECISIONS: usize = 7;
    pub const ACCEPTED: usize = 8;
    /// Wins and revenue inside the horizon plus those that come after it
    /// (leads still in flight at the end, followed to their outcome).
    pub const WINS_EVENTUAL: usize = 9;
    pub const REVENUE_EVENTUAL: usize = 10;
    /// First entries into stage j are at `FIRST + j`.
    pub const FIRST: usize = 11;
}

impl Context {
    pub fn new(s: &Scenario) -> Context {
        let weeks = s.weeks() as usize;
        let months = s.calendar.periods(PeriodKind::Month);
        let quarters = s.calendar.periods(PeriodKind::Quarter);
        let mut month_of_week = vec![0; weeks];
        for (i, p) in months.iter().enumerate() {
            for w in p.weeks.clone() {
                month_of_week[w as usize] = i;
            }
        }
        let sum = |ps: &[Period]| -> Vec<f64> {
            ps.iter()
                .map(|p| p.weeks.clone().map(|w| s.target.weekly[w as usize]).sum())
                .collect()
        };
        let min_size = s
            .model
            .channels
            .iter()
            .map(|c| c.funnel.deal_size.mean())
            .chain(s.model.pipeline.iter().map(|d| d.amount))
            .filter(|x| *x > 0.0)
            .fold(f64::INFINITY, f64::min);
        Context {
            weeks,
            stages: s.model.stages.len(),
            channels: s.model.channels.len(),
            target_months: sum(&months),
            target_quarters: sum(&quarters),
            months,
            quarters,
            month_of_week,
            target_weekly: s.target.weekly.clone(),
            target_total: s.target.total,
            hist_lo: match s.target.metric {
                Metric::Revenue if min_size.is_finite() => min_size / 1e3,
                Metric::Revenue => 1.0,
                // Counts: whole numbers, the smallest above zero is 1.
                _ => 0.5,
            },
            payroll: match &s.model.capacity {
                crate::model::Capacity::Team(t) => (0..s.weeks()).map(|w| t.cost(w, 0.0)).sum(),
                crate::model::Capacity::Unlimited => 0.0,
            },
            cost_per_touch: match &s.model.capacity {
                crate::model::Capacity::Team(t) => t.cost_per_touch_made(),
                crate::model::Capacity::Unlimited => 0.0,
            },
            metric: s.target.metric,
            controls: control::Controls::new(&s.model),
        }
    }

    pub fn metrics(&self) -> usize {
        metric::FIRST + self.stages
    }

    /// Report rows: one per channel, then the open pipeline: deals with no
    /// forecast category, then one row per category.
    pub fn rows(&self) -> usize {
        self.channels + 1 + Category::ALL.len()
    }

    /// The open pipeline's report row for deals of a forecast category.
    pub fn pipeline_row(&self, category: Option<Category>) -> usize {
        pipeline_row(self.channels, category)
    }

    fn periods(&self) -> usize {
        self.months.len() + self.quarters.len()
    }
}

/// The report row of the open pipeline's deals of a forecast category,
/// after the `channels` rows of the lead sources.
pub fn pipeline_row(channels: usize, category: Option<Category>) -> usize {
    channels + category.map_or(0, |c| 1 + c as usize)
}

/// What one trial records; reused from trial to trial.
pub struct TrialRec {
    pub revenue_new: Vec<f64>,
    pub revenue_pipeline: Vec<f64>,
    /// First entries into each stage inside the horizon.
    pub first: Vec<f64>,
    pub wins: f64,
    pub spend: f64,
    /// SLA touches asked and available, per week (empty: unlimited).
    pub demand: Vec<f64>,
    pub over: Vec<bool>,
    /// Follow-up touches made in the horizon.
    pub touches_made: f64,
    /// Revenue the new leads of the horizon bring, inside it or after.
    pub eventual_new: f64,
    /// Per week, the count a count target counts (empty for revenue).
    pub goal: Vec<f64>,
    /// The trial's draws of the controlled rates
    /// ([`control::Controls::draws`]), set by the engine.
    pub draws: Vec<f64>,
    /// The trial's luck in its deals ([`control::LUCK`]), summed by the
    /// engines that add it.
    pub luck: [f64; control::LUCK],
}

impl TrialRec {
    pub fn new(ctx: &Context) -> TrialRec {
        TrialRec {
            revenue_new: vec![0.0; ctx.weeks],
            revenue_pipeline: vec![0.0; ctx.weeks],
            first: vec![0.0; ctx.stages],
            wins: 0.0,
            spend: 0.0,
            demand: Vec::new(),
            over: Vec::new(),
            touches_made: 0.0,
            eventual_new: 0.0,
            goal: if ctx.metric == Metric::Revenue {
                Vec::new()
            } else {
                vec![0.0; ctx.weeks]
            },
            draws: Vec::with_capacity(ctx.controls.draws_len()),
            luck: [0.0; control::LUCK],
        }
    }

    pub fn clear(&mut self) {
        self.revenue_new.iter_mut().for_each(|x| *x = 0.0);
        self.revenue_pipeline.iter_mut().for_each(|x| *x = 0.0);
        self.first.iter_mut().for_each(|x| *x = 0.0);
        self.wins = 0.0;
        self.spend = 0.0;
        self.demand.iter_mut().for_each(|x| *x = 0.0);
        self.over.iter_mut().for_each(|x| *x = false);
        self.touches_made = 0.0;
        self.eventual_new = 0.0;
        self.goal.iter_mut().for_each(|x| *x = 0.0);
        self.luck = [0.0; control::LUCK];
    }
}

/// Scalar metrics with moments.
mod scalar {
    pub const REVENUE: usize = 0;
    pub const REVENUE_NEW: usize = 1;
    pub const REVENUE_PIPELINE: usize = 2;
    pub const SPEND: usize = 3;
    pub const WINS: usize = 4;
    pub const SALES_COST: usize = 5;
    pub const EVENTUAL_NEW: usize = 6;
    pub const TOUCHES: usize = 7;
    /// First entries into stage j at `FIRST + j`.
    pub const FIRST: usize = 8;
}

/// Sums over the trials of one block (or of all merged blocks).
pub struct BlockAcc {
    pub trials: u64,
    /// Per trial: revenue inside the horizon.
    pub totals: Vec<f64>,
    /// Per trial: contribution (revenue − marketing spend − sales cost).
    pub contributions: Vec<f64>,
    /// Per trial: the target's metric over the horizon, when it is a count
    /// (for revenue, `totals`).
    pub goal_totals: Vec<f64>,
    /// Per trial: revenue of each month then each quarter.
    pub periods: Vec<f32>,
    /// Whether each trial hit the target, with its control variables.
    pub hit_sums: control::Sums,
    /// Per trial: its draws of the controlled rates.
    pub draws: Vec<f64>,
    x_scratch: Vec<f64>,
    pub hits_periods: Vec<u64>,
    pub hits_weeks: Vec<u64>,
    pub scalars: Vec<Moments>,
    pub week_new: Vec<f64>,
    pub week_pipeline: Vec<f64>,
    pub week_hist: Vec<LogHist>,
    pub cum_hist: Vec<LogHist>,
    /// Channel × month × metric sums.
    pub cm: Vec<f64>,

    /// Sums of each parameter's draws.
    pub params: Vec<f64>,
    /// Per week: summed SLA demand, and trials over capacity.
    pub demand: Vec<f64>,
    pub over: Vec<u64>,
    cum_scratch: Vec<f64>,
}

impl BlockAcc {
    pub fn new(ctx: &Context, params: usize) -> BlockAcc {
        let hist = || LogHist::new(ctx.hist_lo, 8);
        BlockAcc {
            trials: 0,
            totals: Vec::new(),
            contributions: Vec::new(),
            goal_totals: Vec::new(),
            periods: Vec::new(),
            hit_sums: control::Sums::new(ctx.controls.len()),
            draws: Vec::new(),
            x_scratch: Vec::with_capacity(ctx.controls.len()),
            hits_periods: vec![0; ctx.periods()],
            hits_weeks: vec![0; ctx.weeks],
            scalars: vec![Moments::default(); scalar::FIRST + ctx.stages],
            week_new: vec![0.0; ctx.weeks],
            week_pipeline: vec![0.0; ctx.weeks],
            week_hist: (0..ctx.weeks).map(|_| hist()).collect(),
            cum_hist: (0..ctx.weeks).map(|_| hist()).collect(),
            cm: vec![0.0; ctx.rows() * ctx.months.len() * ctx.metrics()],

            params: vec![0.0; params],
            demand: vec![0.0; ctx.weeks],
            over: vec![0; ctx.weeks],
            cum_scratch: Vec::with_capacity(ctx.weeks + 1),
        }
    }

    /// Adds `x` to a report row's metric in the month of `week`.
    #[inline]
    pub fn cm_add(&mut self, ctx: &Context, row: usize, week: usize, metric: usize, x: f64) {
        let m = ctx.month_of_week[week];
        self.cm[(row * ctx.months.len() + m) * ctx.metrics() + metric] += x;
    }

    /// Records a finished trial.
    pub fn finish_trial(&mut self, ctx: &Context, r: &TrialRec) {
        self.trials += 1;
        let mut total = 0.0;
        let mut new_total = 0.0;
        let mut pipe_total = 0.0;
        let mut goal_total = 0.0;
        // cum[t] = the target's metric in weeks 0..t, so a period's is a
        // difference.
        let cum = &mut self.cum_scratch;
        cum.clear();
        cum.push(0.0);
        let counted = ctx.metric != Metric::Revenue;
        for t in 0..ctx.weeks {
            let w = r.revenue_new[t] + r.revenue_pipeline[t];
            new_total += r.revenue_new[t];
            pipe_total += r.revenue_pipeline[t];
            total += w;
            self.week_new[t] += r.revenue_new[t];
            self.week_pipeline[t] += r.revenue_pipeline[t];
            let g = if counted { r.goal[t] } else { w };
            goal_total += g;
            cum.push(goal_total);
            self.week_hist[t].push(g);
            self.cum_hist[t].push(goal_total);
            if g >= ctx.target_weekly[t] {
                self.hits_weeks[t] += 1;
            }
        }
        self.totals.push(total);
        if counted {
            self.goal_totals.push(goal_total);
        }
        let hit = goal_total >= ctx.target_total;
        let first = self.draws.len();
        ctx.controls.record(&r.draws, &r.luck, &mut self.draws);
        ctx.controls
            .variables(&self.draws[first..], &mut self.x_scratch);
        self.hit_sums
            .push(f64::from(u8::from(hit)), &self.x_scratch);
        for (i, p) in ctx.months.iter().chain(&ctx.quarters).enumerate() {
            let v =
                self.cum_scratch[p.weeks.end as usize] - self.cum_scratch[p.weeks.start as usize];
            self.periods.push(v as f32);
            let target = if i < ctx.months.len() {
                ctx.target_months[i]
            } else {
                ctx.target_quarters[i - ctx.months.len()]
            };
            if v >= target {
                self.hits_periods[i] += 1;
            }
        }
        // Every scalar has the same count: one division for all.
        let n = self.trials as f64;
        let inv = 1.0 / n;
        let s = &mut self.scalars;
        s[scalar::REVENUE].push_counted(total, n, inv);
        s[scalar::REVENUE_NEW].push_counted(new_total, n, inv);
        s[scalar::REVENUE_PIPELINE].push_counted(pipe_total, n, inv);
        s[scalar::SPEND].push_counted(r.spend, n, inv);
        s[scalar::WINS].push_counted(r.wins, n, inv);
        let sales_cost = ctx.payroll + r.touches_made * ctx.cost_per_touch;
        s[scalar::SALES_COST].push_counted(sales_cost, n, inv);
        s[scalar::EVENTUAL_NEW].push_counted(r.eventual_new, n, inv);
        s[scalar::TOUCHES].push_counted(r.touches_made, n, inv);
        self.contributions
            .push(crate::metrics::contribution(total, r.spend, sales_cost));
        for (j, f) in r.first.iter().enumerate() {
            s[scalar::FIRST + j].push_counted(*f, n, inv);
        }
        for (t, d) in r.demand.iter().enumerate() {
            self.demand[t] += d;
            if r.over[t] {
                self.over[t] += 1;
            }
        }
    }

    /// Appends a later block.
    pub fn merge(&mut self, o: &BlockAcc) {
        self.trials += o.trials;
        self.totals.extend_from_slice(&o.totals);
        self.contributions.extend_from_slice(&o.contributions);
        self.goal_totals.extend_from_slice(&o.goal_totals);
        self.periods.extend_from_slice(&o.periods);
        self.hit_sums.merge(&o.hit_sums);
        self.draws.extend_from_slice(&o.draws);
        add_u(&mut self.hits_periods, &o.hits_periods);
        add_u(&mut self.hits_weeks, &o.hits_weeks);
        for (a, b) in self.scalars.iter_mut().zip(&o.scalars) {
            a.merge(b);
        }
        add(&mut self.week_new, &o.week_new);
        add(&mut self.week_pipeline, &o.week_pipeline);
        for (a, b) in self.week_hist.iter_mut().zip(&o.week_hist) {
            a.merge(b);
        }
        for (a, b) in self.cum_hist.iter_mut().zip(&o.cum_hist) {
            a.merge(b);
        }
        add(&mut self.cm, &o.cm);

        add(&mut self.params, &o.params);
        add(&mut self.demand, &o.demand);
        add_u(&mut self.over, &o.over);
    }

    /// P(hit) of the target so far, controlled for the drawn rates.
    pub fn p_hit(&self) -> control::Estimate {
        self.hit_sums.estimate()
    }
}

fn add(a: &mut [f64], b: &[f64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

fn add_u(a: &mut [u64], b: &[u64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

/// An engine simulates trials of one scenario.
pub trait Engine: Sync {
    fn name(&self) -> &'static str;
    /// Trials per block (fixed for the engine).
    fn block(&self) -> u64 {
        BLOCK
    }
    /// Runs trials `first..first + count` into a fresh accumulator.
    fn run_block(&self, ctx: &Context, seed: u64, first: u64, count: u64) -> BlockAcc;
    /// Adds what the engine computes in expectation rather than by drawing
    /// (see [`fast`]); nothing for most engines.
    fn finish(&self, _ctx: &Context, _acc: &mut BlockAcc) {}
    /// Whether it sums each trial's luck in its deals
    /// ([`TrialRec::luck`]).
    fn adds_luck(&self) -> bool {
        false
    }
    /// What a trial's work grows with, which [`cost::Estimate`] reckons a
    /// run's time from: the leads it follows (the lead and cohort engines),
    /// or its draws ([`fast`]).
    fn work(&self) -> cost::Work {
        cost::Work::Leads
    }
}

/// Runs the forecast of a scenario. `progress` is told the number of
/// trials merged so far after each block, from whichever thread merged
/// it (it must not affect results).
pub fn simulate(
    s: &Scenario,
    opts: &RunConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Forecast, SimError> {
    run(s, opts, progress).map(|r| r.forecast)
}

/// A forecast with each trial's horizon revenue, in trial order: runs of
/// two scenarios with the same seed and engine can be compared trial by
/// trial (common random numbers).
#[derive(Clone, Debug)]
pub struct Run {
    pub forecast: Forecast,
    /// Revenue inside the horizon, per trial.
    pub per_trial: Vec<f64>,
    /// Contribution (revenue − marketing spend − sales cost), per trial.
    pub per_trial_contribution: Vec<f64>,
    /// The target's metric, per trial (revenue, or a count).
    pub per_trial_goal: Vec<f64>,
    /// What P(hit) is controlled for, and each trial's draws of it.
    pub controls: control::Controls,
    pub per_trial_draws: Vec<f64>,
}

impl Run {
    /// P(the target's metric ≥ `line`), controlled as the forecast's P(hit)
    /// is.
    pub fn p_hit_at(&self, line: f64) -> control::Estimate {
        self.mean_of(&self.hits(line))
    }

    /// The mean of outcomes `y` (one per trial), controlled as P(hit) is.
    pub fn mean_of(&self, y: &[f64]) -> control::Estimate {
        self.controls.mean_of(y, &self.per_trial_draws)
    }

    /// Per trial, 1 if the target's metric reached `line`, else 0.
    pub fn hits(&self, line: f64) -> Vec<f64> {
        self.per_trial_goal
            .iter()
            .map(|g| f64::from(u8::from(*g >= line)))
            .collect()
    }

    /// This run's outcomes `y` per trial, for a paired comparison.
    pub fn outcomes<'a>(&'a self, y: &'a [f64]) -> control::Outcomes<'a> {
        (&self.controls, y, &self.per_trial_draws)
    }
}

/// The mean of the channels' mean deal sizes: the unit of a trial's luck.
fn mean_deal(s: &Scenario) -> f64 {
    let sizes: Vec<f64> = s
        .model
        .channels
        .iter()
        .map(|c| c.funnel.deal_size.mean())
        .collect();
    sizes.iter().sum::<f64>() / sizes.len().max(1) as f64
}

/// The engine to use for every scenario of a family, so that all of them
/// see the same random streams: the fast one only if it applies to all.
pub fn common_engine(scenarios: &[&Scenario], kind: EngineKind) -> EngineKind {
    match kind {
        EngineKind::Auto if scenarios.iter().all(|s| fast::FastEngine::new(s).is_ok()) => {
            EngineKind::Fast
        }
        EngineKind::Auto
            if scenarios
                .iter()
                .any(|s| mqls_per_week(s) >= COHORT_MQLS_PER_WEEK) =>
        {
            EngineKind::Cohorts
        }
        EngineKind::Auto => EngineKind::Leads,
        k => k,
    }
}

/// From this many MQLs a week (all channels), `auto` takes the cohort
/// engine over the lead engine: below it, groups of the same state are too
/// small to pay for their splitting (measured on the board plan scaled up,
/// `decide::levers::scale_business`, two runs of each engine: 0.79× the
/// lead engine's speed at 910 MQLs a week, 0.92× at 2,100, 1.01× at 3,000,
/// 1.36× at 9,100).
pub const COHORT_MQLS_PER_WEEK: f64 = 3_000.0;

/// Expected MQLs a week over the horizon: arrivals at or above the
/// threshold (nurture's later crossings left out).
pub fn mqls_per_week(s: &Scenario) -> f64 {
    let m = &s.model;
    let weeks = s.weeks();
    let gated = m.channels[0].funnel.transitions[0].advance == crate::model::Advance::Score;
    let total: f64 = m
        .channels
        .iter()
        .map(|c| {
            let p = if gated {
                1.0 - c.score.cdf_below(m.scoring.threshold)
            } else {
                1.0
            };
            p * (0..weeks)
                .map(|w| c.expected_leads(w, &s.calendar))
                .sum::<f64>()
        })
        .sum();
    total / f64::from(weeks.max(1))
}

/// Like [`simulate`], keeping each trial's revenue.
pub fn run(
    s: &Scenario,
    opts: &RunConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Run, SimError> {
    run_blocks_until(s, opts, progress, None)
}

/// Whether a run may stop, from its trials so far and its P(hit).
pub type Enough = dyn Fn(u64, &control::Estimate) -> bool + Sync;

/// Like [`run`], stopping early after the first block, in trial order,
/// at which `enough(trials, p_hit)` holds (P(hit) as [`BlockAcc::p_hit`]
/// estimates it): a decision that needs only the
/// side of a line P(hit) is on. The trials run are the first ones of the
/// full run (the same streams), so the result does not depend on threads.
pub fn run_until(
    s: &Scenario,
    opts: &RunConfig,
    progress: &(dyn Fn(u64) + Sync),
    enough: &Enough,
) -> Result<Run, SimError> {
    run_blocks_until(s, opts, progress, Some(enough))
}

/// [`run_until`], or with no early stop ([`run`]). A run that may stop
/// early computes one block per thread at a time, so that the blocks past
/// the stop cost no wall time (a decision's evaluation that stops after
/// its first block takes one block's time, not two); one that cannot
/// stop (fixed trials, no `enough`) streams its blocks ([`Runner::stream`]).
/// Either way the blocks are merged and checked in trial order, so the
/// result does not depend on threads.
fn run_blocks_until(
    s: &Scenario,
    opts: &RunConfig,
    progress: &(dyn Fn(u64) + Sync),
    enough: Option<&Enough>,
) -> Result<Run, SimError> {
    let mut r = Runner::new(s, opts)?;
    let (target, auto, block) = (r.target, r.auto, r.engine.block());
    if !auto && enough.is_none() {
        r.stream(progress);
        return Ok(r.finish(format!("{target} trials were asked for")));
    }
    let enough = enough.unwrap_or(&|_, _| false);
    let mut stopped = None;
    r.advance_batches(&mut |r| {
        let merged = &r.merged;
        progress(merged.trials);
        stopped = if auto && merged.trials >= AUTO_MIN_TRIALS.max(block) && precise_enough(merged) {
            Some(format!(
                "the standard error of P(hit) fell below {AUTO_SE_P_HIT} and that of the mean below {}% \
                 of it (checked after each block of {block} trials)",
                AUTO_SE_MEAN * 100.0
            ))
        } else if merged.trials < target && enough(merged.trials, &merged.p_hit()) {
            Some(format!(
                "stopped after {} of {target} trials: P(hit) was clearly on one side of the \
                 line the decision needs",
                merged.trials
            ))
        } else {
            None
        };
        stopped.is_some()
    });
    let stop_reason = stopped.unwrap_or_else(|| {
        if auto {
            format!(
                "reached the cap of {target} trials before the standard errors were small enough"
            )
        } else {
            format!("{target} trials were asked for")
        }
    });
    Ok(r.finish(stop_reason))
}

/// Blocks a streaming run's threads may start, per thread, past the next
/// block to merge.
const STREAM_AHEAD: u64 = 2;

/// A streaming run's merge state: the next block to merge, the finished
/// blocks waiting for it, the accumulator they merge into, and whether a
/// thread panicked.
struct Merging<'m> {
    next: u64,
    waiting: std::collections::BTreeMap<u64, BlockAcc>,
    merged: &'m mut BlockAcc,
    failed: bool,
}

/// Calls its closure if dropped while its thread panics.
struct OnPanic<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnPanic<F> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            (self.0)();
        }
    }
}

/// A run that advances block by block, in trial order: for a family of
/// runs moved forward together until their comparison is precise enough.
pub struct Runner<'a> {
    s: &'a Scenario,
    opts: RunConfig,
    ctx: Context,
    engine: Box<dyn Engine + Send + 'a>,
    merged: BlockAcc,
    /// Blocks merged so far.
    next: u64,
    /// Most trials, and whether the trials are automatic.
    target: u64,
    auto: bool,
}

impl<'a> Runner<'a> {
    pub fn new(s: &'a Scenario, opts: &RunConfig) -> Result<Runner<'a>, SimError> {
        let mut ctx = Context::new(s);
        let fast = fast::FastEngine::new(s);
        let engine: Box<dyn Engine + Send + 'a> = match (opts.engine, fast) {
            (EngineKind::Fast, Err(why)) => return Err(SimError::FastNotApplicable(why)),
            (EngineKind::Auto | EngineKind::Fast, Ok(f)) => Box::new(f),
            (EngineKind::Cohorts, _) => Box::new(leads::LeadEngine::cohorts(s)),
            (EngineKind::Auto, Err(_)) if mqls_per_week(s) >= COHORT_MQLS_PER_WEEK => {
                Box::new(leads::LeadEngine::cohorts(s))
            }
            (EngineKind::Leads | EngineKind::Auto, _) => Box::new(leads::LeadEngine::new(s)),
        };
        let (target, auto) = match opts.trials {
            Trials::Fixed(n) => (n, false),
            Trials::Auto => (opts.max_trials, true),
        };
        if !opts.allow_large {
            check_cost(s, opts, target, auto, engine.work())?;
        }
        if engine.adds_luck() && ctx.metric == Metric::Revenue {
            ctx.controls = std::mem::take(&mut ctx.controls).with_luck(mean_deal(s));
        }
        let merged = BlockAcc::new(&ctx, s.model.params.len());
        Ok(Runner {
            s,
            opts: opts.clone(),
            ctx,
            engine,
            merged,
            next: 0,
            target,
            auto,
        })
    }

    fn blocks(&self) -> u64 {
        self.target.div_ceil(self.engine.block())
    }

    /// Trials per block.
    pub fn block(&self) -> u64 {
        self.engine.block()
    }

    /// Trials merged so far, and the most there can be.
    pub fn trials(&self) -> (u64, u64) {
        (self.merged.trials, self.target)
    }

    /// The next `count` blocks (at most those left), run in parallel.
    fn run_blocks(&self, count: u64) -> Vec<BlockAcc> {
        let block = self.engine.block();
        let end = (self.next + count).min(self.blocks());
        (self.next..end)
            .into_par_iter()
            .map(|b| {
                let first = b * block;
                let n = block.min(self.target - first);
                self.engine.run_block(&self.ctx, self.opts.seed, first, n)
            })
            .collect()
    }

    fn merge(&mut self, acc: &BlockAcc) {
        self.merged.merge(acc);
        self.next += 1;
    }

    /// Runs and merges the next `count` blocks.
    pub fn advance(&mut self, count: u64) {
        for acc in self.run_blocks(count) {
            self.merge(&acc);
        }
    }

    /// Runs blocks, one per thread at a time, merging them in trial order
    /// until `enough` holds after a block or every block has run; the
    /// blocks of a batch past the stop are dropped, so the trials run do
    /// not depend on the thread count. Whether it stopped on `enough`.
    pub fn advance_until(&mut self, enough: &dyn Fn(&Runner) -> bool) -> bool {
        self.advance_batches(&mut |r| enough(r))
    }

    /// [`Runner::advance_until`] with a stop rule that may keep state.
    fn advance_batches(&mut self, enough: &mut dyn FnMut(&Runner) -> bool) -> bool {
        let threads = rayon::current_num_threads() as u64;
        while self.next < self.blocks() {
            let batch = threads.clamp(1, self.blocks() - self.next);
            for acc in self.run_blocks(batch) {
                self.merge(&acc);
                if enough(self) {
                    return true;
                }
            }
        }
        false
    }

    /// Runs every block left, each thread taking the next one as soon as
    /// it is free, and merges them in trial order as they finish (on the
    /// thread that finished the one next in order): no thread waits for
    /// a batch's slowest block, and none waits for merges. A thread does
    /// not start a block more than [`STREAM_AHEAD`] blocks per thread past
    /// the next to merge, so that few finished blocks wait in memory.
    /// `progress` is told the trials merged after each block.
    pub fn stream(&mut self, progress: &(dyn Fn(u64) + Sync)) {
        let threads = rayon::current_num_threads() as u64;
        let ahead = STREAM_AHEAD * threads;
        let (block, end, target, seed) = (
            self.engine.block(),
            self.blocks(),
            self.target,
            self.opts.seed,
        );
        let (engine, ctx) = (&*self.engine, &self.ctx);
        let taken = std::sync::atomic::AtomicU64::new(self.next);
        let merging = std::sync::Mutex::new(Merging {
            next: self.next,
            waiting: std::collections::BTreeMap::new(),
            merged: &mut self.merged,
            failed: false,
        });
        let merged_one = std::sync::Condvar::new();
        let work = || {
            // A thread that panics never merges the block it holds: the
            // others stop instead of waiting for it, and the panic is
            // raised when they have.
            let _failed = OnPanic(|| {
                merging.lock().unwrap_or_else(|e| e.into_inner()).failed = true;
                merged_one.notify_all();
            });
            loop {
                let b = taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if b >= end {
                    break;
                }
                let lock = merging.lock().unwrap_or_else(|e| e.into_inner());
                let m = merged_one
                    .wait_while(lock, |m| !m.failed && b >= m.next + ahead)
                    .unwrap_or_else(|e| e.into_inner());
                if m.failed {
                    break;
                }
                drop(m);
                let first = b * block;
                let acc = engine.run_block(ctx, seed, first, block.min(target - first));
                {
                    let mut guard = merging.lock().unwrap_or_else(|e| e.into_inner());
                    let m = &mut *guard;
                    m.waiting.insert(b, acc);
                    while let Some(acc) = m.waiting.remove(&m.next) {
                        m.merged.merge(&acc);
                        m.next += 1;
                        progress(m.merged.trials);
                    }
                }
                merged_one.notify_all();
            }
        };
        rayon::scope(|s| {
            for _ in 0..threads {
                s.spawn(|_| work());
            }
        });
        self.next = end;
    }

    /// P(hit) of the target so far, controlled as the forecast's is.
    pub fn p_hit(&self) -> control::Estimate {
        self.merged.p_hit()
    }

    /// The mean of outcomes `y` of the trials so far, controlled as P(hit)
    /// is.
    pub fn mean_of(&self, y: &[f64]) -> control::Estimate {
        self.ctx.controls.mean_of(y, &self.merged.draws)
    }

    /// Outcomes `y` of the trials so far, for a paired comparison.
    pub fn outcomes<'b>(&'b self, y: &'b [f64]) -> control::Outcomes<'b> {
        (&self.ctx.controls, y, &self.merged.draws)
    }

    /// Each trial so far: its revenue, and whether it reached the target.
    pub fn per_trial(&self) -> (&[f64], Vec<bool>) {
        let goal = if self.ctx.metric == Metric::Revenue {
            &self.merged.totals
        } else {
            &self.merged.goal_totals
        };
        let hits = goal.iter().map(|g| *g >= self.ctx.target_total).collect();
        (&self.merged.totals, hits)
    }

    /// Each trial's contribution so far.
    pub fn contributions(&self) -> &[f64] {
        &self.merged.contributions
    }

    /// The run, with why it stopped.
    pub fn finish(mut self, stop_reason: String) -> Run {
        let ctx = &self.ctx;
        self.engine.finish(ctx, &mut self.merged);
        let mut merged = self.merged;
        let per_trial_draws = std::mem::take(&mut merged.draws);
        let per_trial = merged.totals.clone();
        let per_trial_contribution = merged.contributions.clone();
        let per_trial_goal = if ctx.metric == Metric::Revenue {
            per_trial.clone()
        } else {
            merged.goal_totals.clone()
        };
        Run {
            forecast: assemble(
                self.s,
                ctx,
                self.engine.name(),
                &self.opts,
                self.auto,
                stop_reason,
                merged,
            ),
            per_trial,
            per_trial_contribution,
            per_trial_goal,
            controls: ctx.controls.clone(),
            per_trial_draws,
        }
    }
}

/// What a trial of `s` does on the engine `kind` (as [`common_engine`]
/// resolves it), for the estimates of [`cost`].
pub fn work_of(s: &Scenario, kind: EngineKind) -> cost::Work {
    match kind {
        EngineKind::Fast => fast::FastEngine::new(s).map_or(cost::Work::Leads, |e| e.work()),
        _ => cost::Work::Leads,
    }
}

/// Refuses a family of `runs` runs like `s` (a search, a sweep) whose
/// estimate is past the soft limits, before the first starts.
pub fn check_family(s: &Scenario, opts: &RunConfig, runs: usize) -> Result<(), SimError> {
    if opts.allow_large {
        return Ok(());
    }
    let trials = match opts.trials {
        Trials::Fixed(n) => n,
        Trials::Auto => AUTO_MIN_TRIALS.min(opts.max_trials),
    };
    let work = work_of(s, common_engine(&[s], opts.engine));
    let one = cost::Estimate::new(s, trials, rayon::current_num_threads(), work);
    let all = cost::Estimate {
        seconds: one.seconds * runs as f64,
        ..one
    };
    match all.too_large() {
        Some(why) => Err(SimError::TooLarge(format!("{runs} runs: {why}"))),
        None => Ok(()),
    }
}

/// Refuses a run the estimate puts past the soft limits: the memory of
/// every trial it may run, and the time of the trials it must run (an
/// automatic run may stop after its first few blocks).
fn check_cost(
    s: &Scenario,
    opts: &RunConfig,
    target: u64,
    auto: bool,
    work: cost::Work,
) -> Result<(), SimError> {
    let threads = rayon::current_num_threads();
    let all = cost::Estimate::new(s, target, threads, work);
    let least = if auto {
        cost::Estimate::new(s, AUTO_MIN_TRIALS.min(opts.max_trials), threads, work)
    } else {
        all.clone()
    };
    let memory = cost::Estimate {
        seconds: 0.0,
        ..all
    };
    match least.too_large().or_else(|| memory.too_large()) {
        Some(why) => Err(SimError::TooLarge(why)),
        None => Ok(()),
    }
}

fn precise_enough(acc: &BlockAcc) -> bool {
    let se_p = acc.p_hit().std_error;
    let m = &acc.scalars[scalar::REVENUE];
    let se_mean_ok = m.mean <= 0.0 || m.se() <= AUTO_SE_MEAN * m.mean;
    se_p < AUTO_SE_P_HIT && se_mean_ok
}

/// A distribution summary.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub mean: f64,
    pub std_error: f64,
    pub sd: f64,
    pub p5: f64,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
}

/// The quantiles a summary reports: P5, P10, P25, P50, P75, P90, P95.
const SUMMARY_QUANTILES: [f64; 7] = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95];

/// The nearest-rank quantiles of [`SUMMARY_QUANTILES`] (0 for no values),
/// by selection: `values` is reordered.
fn summary_quantiles<T: Copy + Into<f64>>(
    values: &mut [T],
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Copy,
) -> [f64; 7] {
    let q = nearest_ranks(values, &SUMMARY_QUANTILES, cmp);
    std::array::from_fn(|i| q[i].map_or(0.0, Into::into))
}

impl Summary {
    /// The summary of `values` (reordered) with their moments.
    fn of(values: &mut [f64], m: &Moments) -> Summary {
        let [p5, p10, p25, p50, p75, p90, p95] = summary_quantiles(values, f64::total_cmp);
        Summary {
            mean: m.mean,
            std_error: m.se(),
            sd: m.sd(),
            p5,
            p10,
            p25,
            p50,
            p75,
            p90,
            p95,
        }
    }
}

/// Bins of a histogram for charts.
pub const HISTOGRAM_BINS: usize = 48;

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub trials: u64,
}

/// Trials per bin of equal width.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Histogram {
    pub bins: Vec<Bin>,
}

impl Histogram {
    /// `bins` equal bins from the 0.1% to the 99.9% quantile (by nearest
    /// rank) of the values (reordered); values beyond go to the end bins,
    /// so every value is counted.
    pub fn of(values: &mut [f64], bins: usize) -> Histogram {
        let ends = nearest_ranks(values, &[0.001, 0.999], f64::total_cmp);
        let (Some(lo), Some(hi)) = (ends[0], ends[1]) else {
            return Histogram { bins: Vec::new() };
        };
        if bins == 0 {
            return Histogram { bins: Vec::new() };
        }
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        };
        let width = (hi - lo) / bins as f64;
        let mut counts = vec![0u64; bins];
        for v in values.iter() {
            let i = ((v - lo) / width).floor();
            let i = if i.is_nan() {
                0
            } else {
                (i.max(0.0) as usize).min(bins - 1)
            };
            counts[i] += 1;
        }
        Histogram {
            bins: counts
                .into_iter()
                .enumerate()
                .map(|(i, trials)| Bin {
                    from: lo + i as f64 * width,
                    to: lo + (i + 1) as f64 * width,
                    trials,
                })
                .collect(),
        }
    }
}

/// A mean with its standard error.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MeanSe {
    pub mean: f64,
    pub std_error: f64,
    pub sd: f64,
}

impl From<&Moments> for MeanSe {
    fn from(m: &Moments) -> MeanSe {
        MeanSe {
            mean: m.mean,
            std_error: m.se(),
            sd: m.sd(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PeriodStat {
    pub label: String,
    pub first_week: u32,
    pub last_week: u32,
    pub target: f64,
    pub mean: f64,
    pub std_error: f64,
    pub p5: f64,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p_hit: f64,
    pub p_hit_std_error: f64,
    /// Mean revenue from the open pipeline.
    pub pipeline_mean: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WeekStat {
    pub week: u32,
    pub date: Option<String>,
    pub target: f64,
    pub mean: f64,
    pub pipeline_mean: f64,
    pub p5: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p_hit: f64,
    /// Revenue from week 0 to this week.
    pub cumulative_target: f64,
    pub cumulative_mean: f64,
    pub cumulative_pipeline_mean: f64,
    pub cumulative_p10: f64,
    pub cumulative_p25: f64,
    pub cumulative_p50: f64,
    pub cumulative_p75: f64,
    pub cumulative_p90: f64,
}

/// Mean counts per trial.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StageMeans {
    pub leads: f64,
    pub mqls: f64,
    pub sals: f64,
    pub sqls: f64,
    pub opportunities: f64,
    pub wins: f64,
    pub wins_std_error: f64,
    /// Every stage by name, with its standard error.
    pub by_stage: Vec<StageMean>,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StageMean {
    pub stage: String,
    pub mean: f64,
    pub std_error: f64,
}

/// What a lead source's new leads did: those of a month (a cohort) or of
/// the whole horizon, means per trial. Ratios follow [`crate::metrics`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ChannelFigures {
    pub leads: f64,
    pub spend: f64,
    pub cost_per_lead: Option<f64>,
    pub mqls: f64,
    pub sals: f64,
    pub sqls: f64,
    pub opportunities: f64,
    /// Wins and revenue inside the horizon.
    pub wins: f64,
    pub revenue: f64,
    /// Wins and revenue inside the horizon or after it.
    pub wins_eventual: f64,
    pub revenue_eventual: f64,
    /// SALs / MQLs of these leads.
    pub acceptance_rate: Option<f64>,
    /// (revenue − spend) / spend, inside the horizon.
    pub roi: Option<f64>,
    /// The same with the eventual revenue.
    pub roi_eventual: Option<f64>,
    /// Marketing spend per win inside the horizon.
    pub cac: Option<f64>,
    /// Acceptance decisions (counting recycled MQLs decided again) and
    /// those that accepted.
    pub decisions: f64,
    pub accepted: f64,
    pub lost: f64,
    pub recycled: f64,
    pub dropped: f64,
}

/// What the deals and leads open at the start did, by the month it
/// happened in (means per trial).
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PipelineFigures {
    /// Open deals at the start and their amounts.
    pub deals: f64,
    pub value: f64,
    /// Leads in flight at the start (MQLs awaiting acceptance, leads in
    /// nurture).
    pub leads: f64,
    pub opportunities: f64,
    pub wins: f64,
    pub revenue: f64,
    pub wins_eventual: f64,
    pub revenue_eventual: f64,
    pub lost: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PipelineMonth {
    pub label: String,
    #[serde(flatten)]
    pub figures: PipelineFigures,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PipelineStat {
    #[serde(flatten)]
    pub figures: PipelineFigures,
    pub months: Vec<PipelineMonth>,
    /// The forecast by the CRM's forecast category (commit, best case,
    /// pipeline, omitted), when the deals have one.
    pub by_category: Vec<CategoryStat>,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CategoryStat {
    pub category: Category,
    #[serde(flatten)]
    pub figures: PipelineFigures,
}

/// The forecast's headline figures, each as [`crate::metrics`] defines it.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ForecastHeadline {
    /// SALs / MQLs of the new leads.
    pub acceptance_rate: Option<f64>,
    pub cost_per_lead: Option<f64>,
    /// (Marketing spend + sales cost) / wins of the new leads.
    pub cac: Option<f64>,
    /// Marketing spend / wins of the new leads.
    pub cac_marketing: Option<f64>,
    /// (Revenue of the new leads − marketing spend) / marketing spend.
    pub roi: Option<f64>,
    pub roi_eventual: Option<f64>,
    /// Mean follow-up touches made.
    pub touches_made: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ChannelMonth {
    pub label: String,
    #[serde(flatten)]
    pub figures: ChannelFigures,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ChannelStat {
    pub name: String,
    pub source: LeadSource,
    #[serde(flatten)]
    pub figures: ChannelFigures,
    pub months: Vec<ChannelMonth>,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CapacityWeek {
    pub week: u32,
    pub mean_touches_needed: f64,
    pub touches_available: f64,
    pub p_over: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Forecast {
    pub scenario: String,
    pub engine: &'static str,
    pub trials: u64,
    pub seed: u64,
    pub auto_trials: bool,
    pub stopped: String,
    pub horizon_weeks: u32,
    pub start_date: Option<String>,
    /// What the target counts: "revenue", "wins", "opportunities", …
    /// `target`, the periods' and weeks' figures and P(hit) are in its
    /// unit; `revenue` is always revenue.
    pub metric: String,
    pub target: f64,
    /// P(hit) of the target over the horizon: the share of trials that
    /// hit it, controlled for the uncertain rates each trial drew and,
    /// on the lead and cohort engines, the luck of its deals
    /// ([`control`]); `p_hit_variance_removed` is the share of the plain
    /// share's variance the control took out (0 without controls), and
    /// `p_hit_controlled_for` says what it was controlled for ("" when
    /// it is the plain share).
    pub p_hit_target: f64,
    pub p_hit_std_error: f64,
    pub p_hit_variance_removed: f64,
    pub p_hit_controlled_for: String,
    pub revenue: Summary,
    /// The target's metric over the horizon, when it is a count.
    pub goal: Option<Summary>,
    /// The target's metric over the horizon in equal bins from P0.1 to
    /// P99.9 (the end bins also hold the tails beyond).
    pub revenue_histogram: Histogram,
    pub revenue_new: MeanSe,
    pub revenue_pipeline: MeanSe,
    /// Revenue the new leads bring inside the horizon or after it.
    pub revenue_new_eventual: MeanSe,
    /// Marketing spend: media budgets, program costs and costs per lead.
    pub spend: MeanSe,
    /// The sales team's cost: payroll and touches.
    pub sales_cost: MeanSe,
    /// Revenue − marketing spend − sales cost.
    pub contribution: Summary,
    pub headline: ForecastHeadline,
    /// The target's periods (quarters or months).
    pub periods: Vec<PeriodStat>,
    pub quarters: Vec<PeriodStat>,
    pub months: Vec<PeriodStat>,
    pub weeks: Vec<WeekStat>,
    pub stages: StageMeans,
    pub channels: Vec<ChannelStat>,
    /// The deals (and leads) open at the start: apart from the sources.
    pub pipeline: PipelineStat,
    pub capacity: Option<Vec<CapacityWeek>>,
    pub quantiles: &'static str,
    /// What the model's build had to say (stale open deals, …).
    pub warnings: Vec<String>,
}

fn assemble(
    s: &Scenario,
    ctx: &Context,
    engine: &'static str,
    opts: &RunConfig,
    auto: bool,
    stopped: String,
    mut acc: BlockAcc,
) -> Forecast {
    let m = &s.model;
    let n = acc.trials.max(1) as f64;
    let p_se = |p: f64| (p * (1.0 - p) / n).sqrt();
    let mut totals = std::mem::take(&mut acc.totals);
    let revenue = Summary::of(&mut totals, &acc.scalars[scalar::REVENUE]);
    // The target's metric: revenue, or a count with its own summary.
    let goal = (ctx.metric != Metric::Revenue).then(|| {
        let mut g = std::mem::take(&mut acc.goal_totals);
        let mut mo = Moments::default();
        for x in &g {
            mo.push(*x);
        }
        (
            Summary::of(&mut g, &mo),
            Histogram::of(&mut g, HISTOGRAM_BINS),
        )
    });
    let revenue_histogram = match &goal {
        Some((_, h)) => h.clone(),
        None => Histogram::of(&mut totals, HISTOGRAM_BINS),
    };

    let np = ctx.periods();
    // Each period's column on its own thread (the order of the work does
    // not change any figure).
    let period_stats = |offset: usize, ps: &[Period], targets: &[f64]| -> Vec<PeriodStat> {
        ps.par_iter()
            .enumerate()
            .map(|(i, p)| {
                let col = offset + i;
                let mut v: Vec<f32> = acc.periods.iter().skip(col).step_by(np).copied().collect();
                let mean = v.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
                let var = v
                    .iter()
                    .map(|x| (f64::from(*x) - mean).powi(2))
                    .sum::<f64>()
                    / (n - 1.0).max(1.0);
                let [p5, p10, p25, p50, p75, p90, p95] = summary_quantiles(&mut v, f32::total_cmp);
                let p_hit = acc.hits_periods[col] as f64 / n;
                let pipeline_mean = p
                    .weeks
                    .clone()
                    .map(|w| acc.week_pipeline[w as usize])
                    .sum::<f64>()
                    / n;
                PeriodStat {
                    label: p.label.clone(),
                    first_week: p.weeks.start,
                    last_week: p.weeks.end - 1,
                    target: targets[i],
                    mean,
                    std_error: (var / n).sqrt(),
                    p5,
                    p10,
                    p25,
                    p50,
                    p75,
                    p90,
                    p95,
                    p_hit,
                    p_hit_std_error: p_se(p_hit),
                    pipeline_mean,
                }
            })
            .collect()
    };
    let months = period_stats(0, &ctx.months, &ctx.target_months);
    let quarters = period_stats(ctx.months.len(), &ctx.quarters, &ctx.target_quarters);
    let periods = match s.target.period {
        PeriodKind::Quarter => quarters.clone(),
        PeriodKind::Month => months.clone(),
    };
    let mut cum_target = 0.0;
    let mut cum_mean = 0.0;
    let mut cum_pipe = 0.0;
    let weeks = (0..ctx.weeks)
        .map(|t| {
            let h = &acc.week_hist[t];
            let c = &acc.cum_hist[t];
            let mean = (acc.week_new[t] + acc.week_pipeline[t]) / n;
            cum_target += ctx.target_weekly[t];
            cum_mean += mean;
            cum_pipe += acc.week_pipeline[t] / n;
            WeekStat {
                week: t as u32,
                date: s.calendar.date_of_week(t as u32).map(|d| d.to_string()),
                target: ctx.target_weekly[t],
                mean,
                pipeline_mean: acc.week_pipeline[t] / n,
                p5: h.quantile(0.05),
                p10: h.quantile(0.10),
                p50: h.quantile(0.50),
                p90: h.quantile(0.90),
                p95: h.quantile(0.95),
                p_hit: acc.hits_weeks[t] as f64 / n,
                cumulative_target: cum_target,
                cumulative_mean: cum_mean,
                cumulative_pipeline_mean: cum_pipe,
                cumulative_p10: c.quantile(0.10),
                cumulative_p25: c.quantile(0.25),
                cumulative_p50: c.quantile(0.50),
                cumulative_p75: c.quantile(0.75),
                cumulative_p90: c.quantile(0.90),
            }
        })
        .collect();
    let stage_mean = |r: Role| {
        m.stage_of(r)
            .map_or(0.0, |j| acc.scalars[scalar::FIRST + j].mean)
    };
    let stages = StageMeans {
        leads: acc.scalars[scalar::FIRST].mean,
        mqls: stage_mean(Role::Mql),
        sals: stage_mean(Role::Sal),
        sqls: stage_mean(Role::Sql),
        opportunities: stage_mean(Role::Opportunity),
        wins: acc.scalars[scalar::WINS].mean,
        wins_std_error: acc.scalars[scalar::WINS].se(),
        by_stage: m
            .stages
            .iter()
            .enumerate()
            .map(|(j, st)| StageMean {
                stage: st.name.clone(),
                mean: acc.scalars[scalar::FIRST + j].mean,
                std_error: acc.scalars[scalar::FIRST + j].se(),
            })
            .collect(),
    };
    let nm = ctx.months.len();
    let k = ctx.metrics();
    let row_month = |row: usize, mo: usize| &acc.cm[(row * nm + mo) * k..(row * nm + mo + 1) * k];
    let channels = m
        .channels
        .iter()
        .enumerate()
        .map(|(c, ch)| {
            let mut total = vec![0.0; k];
            let months = (0..nm)
                .map(|mo| {
                    let v = row_month(c, mo);
                    add(&mut total, v);
                    ChannelMonth {
                        label: ctx.months[mo].label.clone(),
                        figures: channel_figures(m, v, n),
                    }
                })
                .collect();
            ChannelStat {
                name: ch.name.clone(),
                source: ch.source,
                figures: channel_figures(m, &total, n),
                months,
            }
        })
        .collect::<Vec<_>>();
    let pipeline = {
        let rows: Vec<usize> = std::iter::once(None)
            .chain(Category::ALL.map(Some))
            .map(|c| ctx.pipeline_row(c))
            .collect();
        let mut total = vec![0.0; k];
        let months = (0..nm)
            .map(|mo| {
                let mut v = vec![0.0; k];
                for r in &rows {
                    add(&mut v, row_month(*r, mo));
                }
                add(&mut total, &v);
                PipelineMonth {
                    label: ctx.months[mo].label.clone(),
                    figures: pipeline_figures(m, &v, n, None),
                }
            })
            .collect();
        let by_category = Category::ALL
            .iter()
            .filter(|c| m.pipeline.iter().any(|d| d.category == Some(**c)))
            .map(|c| {
                let mut v = vec![0.0; k];
                for mo in 0..nm {
                    add(&mut v, row_month(ctx.pipeline_row(Some(*c)), mo));
                }
                CategoryStat {
                    category: *c,
                    figures: pipeline_figures(m, &v, n, Some(Some(*c))),
                }
            })
            .collect();
        PipelineStat {
            figures: pipeline_figures(m, &total, n, Some(None)),
            months,
            by_category,
        }
    };
    let new_leads = channels.iter().fold(ChannelFigures::default(), |a, c| {
        let f = &c.figures;
        ChannelFigures {
            leads: a.leads + f.leads,
            spend: a.spend + f.spend,
            mqls: a.mqls + f.mqls,
            sals: a.sals + f.sals,
            wins: a.wins + f.wins,
            revenue: a.revenue + f.revenue,
            revenue_eventual: a.revenue_eventual + f.revenue_eventual,
            ..ChannelFigures::default()
        }
    });
    let spend = &acc.scalars[scalar::SPEND];
    let sales_cost = &acc.scalars[scalar::SALES_COST];
    let headline = ForecastHeadline {
        acceptance_rate: crate::metrics::acceptance_rate(new_leads.sals, new_leads.mqls),
        cost_per_lead: crate::metrics::cost_per_lead(spend.mean, new_leads.leads),
        cac: crate::metrics::cac(spend.mean + sales_cost.mean, new_leads.wins),
        cac_marketing: crate::metrics::cac(spend.mean, new_leads.wins),
        roi: crate::metrics::roi(new_leads.revenue, spend.mean),
        roi_eventual: crate::metrics::roi(new_leads.revenue_eventual, spend.mean),
        touches_made: acc.scalars[scalar::TOUCHES].mean,
    };
    let mut contributions = std::mem::take(&mut acc.contributions);
    let contribution = {
        let mut mo = Moments::default();
        for x in &contributions {
            mo.push(*x);
        }
        Summary::of(&mut contributions, &mo)
    };
    let capacity = match &m.capacity {
        crate::model::Capacity::Team(team) => Some(
            (0..ctx.weeks)
                .map(|t| CapacityWeek {
                    week: t as u32,
                    mean_touches_needed: acc.demand[t] / n,
                    touches_available: team.touches_at(t as u32),
                    p_over: acc.over[t] as f64 / n,
                })
                .collect(),
        ),
        crate::model::Capacity::Unlimited => None,
    };
    let p_hit = acc.p_hit();
    Forecast {
        scenario: s.name.clone(),
        engine,
        trials: acc.trials,
        seed: opts.seed,
        auto_trials: auto,
        stopped,
        horizon_weeks: ctx.weeks as u32,
        start_date: s.calendar.start.map(|d| d.to_string()),
        metric: s.target.metric.name(m),
        target: ctx.target_total,
        p_hit_target: p_hit.mean.clamp(0.0, 1.0),
        p_hit_std_error: p_hit.std_error,
        p_hit_variance_removed: p_hit.variance_removed(),
        p_hit_controlled_for: if p_hit.std_error == p_hit.plain_std_error {
            String::new()
        } else {
            ctx.controls.describe().to_string()
        },
        revenue,
        goal: goal.map(|g| g.0),
        revenue_histogram,
        revenue_new: (&acc.scalars[scalar::REVENUE_NEW]).into(),
        revenue_pipeline: (&acc.scalars[scalar::REVENUE_PIPELINE]).into(),
        revenue_new_eventual: (&acc.scalars[scalar::EVENTUAL_NEW]).into(),
        spend: (&acc.scalars[scalar::SPEND]).into(),
        sales_cost: (&acc.scalars[scalar::SALES_COST]).into(),
        contribution,
        headline,
        periods,
        quarters,
        months,
        weeks,
        stages,
        channels,
        pipeline,
        capacity,
        warnings: m.warnings.clone(),
        quantiles: "nearest rank: P_q is the smallest simulated value with at least q of the trials at or below it; \
                    horizon and period quantiles are exact, weekly ones from log-binned histograms (within 0.39%)",
    }
}

/// A channel's figures from its summed metrics over `n` trials.
fn channel_figures(m: &crate::model::Model, vals: &[f64], n: f64) -> ChannelFigures {
    use crate::metrics;
    let at = |i: usize| vals[i] / n;
    let first = |r: Role| m.stage_of(r).map_or(0.0, |j| at(metric::FIRST + j));
    let (spend, leads) = (at(metric::SPEND), at(metric::LEADS));
    let (wins, revenue) = (at(metric::WINS), at(metric::REVENUE));
    let revenue_eventual = at(metric::REVENUE_EVENTUAL);
    let (mqls, sals) = (first(Role::Mql), first(Role::Sal));
    ChannelFigures {
        leads,
        spend,
        cost_per_lead: metrics::cost_per_lead(spend, leads),
        mqls,
        sals,
        sqls: first(Role::Sql),
        opportunities: first(Role::Opportunity),
        wins,
        revenue,
        wins_eventual: at(metric::WINS_EVENTUAL),
        revenue_eventual,
        acceptance_rate: metrics::acceptance_rate(sals, mqls),
        roi: metrics::roi(revenue, spend),
        roi_eventual: metrics::roi(revenue_eventual, spend),
        cac: metrics::cac(spend, wins),
        decisions: at(metric::DECISIONS),
        accepted: at(metric::ACCEPTED),
        lost: at(metric::LOST),
        recycled: at(metric::RECYCLED),
        dropped: at(metric::DROPPED),
    }
}

/// The open pipeline's figures; `deals` says which deals to count and
/// value (all: `Some(None)`; a category's: `Some(Some(c))`; none, for a
/// month: `None`, as they are all open at the start).
fn pipeline_figures(
    m: &crate::model::Model,
    vals: &[f64],
    n: f64,
    deals: Option<Option<Category>>,
) -> PipelineFigures {
    let at = |i: usize| vals[i] / n;
    let open: Vec<&crate::model::OpenDeal> = match deals {
        None => Vec::new(),
        Some(c) => m
            .pipeline
            .iter()
            .filter(|d| c.is_none() || d.category == c)
            .collect(),
    };
    let deals = || open.iter().filter(|d| d.score.is_none());
    PipelineFigures {
        deals: deals().count() as f64,
        value: deals().map(|d| d.amount).sum(),
        leads: open.iter().filter(|d| d.score.is_some()).count() as f64,
        opportunities: m
            .stage_of(Role::Opportunity)
            .map_or(0.0, |j| at(metric::FIRST + j)),
        wins: at(metric::WINS),
        revenue: at(metric::REVENUE),
        wins_eventual: at(metric::WINS_EVENTUAL),
        revenue_eventual: at(metric::REVENUE_EVENTUAL),
        lost: at(metric::LOST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An engine whose block `fails` panics after a while (so that the
    /// other threads are waiting for it by then), and whose others take a
    /// moment and hold nothing.
    struct FailsAt {
        fails: u64,
    }

    impl Engine for FailsAt {
        fn name(&self) -> &'static str {
            "fails"
        }
        fn run_block(&self, ctx: &Context, _seed: u64, first: u64, _count: u64) -> BlockAcc {
            if first == self.fails * BLOCK {
                std::thread::sleep(Duration::from_millis(200));
                panic!("block {} fails", self.fails);
            }
            std::thread::sleep(Duration::from_millis(2));
            BlockAcc::new(ctx, 0)
        }
    }

    #[test]
    fn a_panic_in_a_streamed_block_is_raised_not_waited_for() {
        // Without the stop, the threads that reach the block past the
        // failed one's window wait for it forever.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let s = crate::load::load_scenario(&root.join("scenarios/acme-52w.toml"), &[])
            .expect("shipped")
            .base;
        for (threads, fails) in [(1, 0), (2, 0), (2, 3), (4, 1)] {
            let (tx, rx) = std::sync::mpsc::channel();
            let s = s.clone();
            std::thread::spawn(move || {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a pool");
                let ctx = Context::new(&s);
                let mut r = Runner {
                    s: &s,
                    opts: RunConfig {
                        trials: Trials::Fixed(40 * BLOCK),
                        seed: 1,
                        max_trials: 40 * BLOCK,
                        engine: EngineKind::Leads,
                        allow_large: true,
                    },
                    merged: BlockAcc::new(&ctx, 0),
                    ctx,
                    engine: Box::new(FailsAt { fails }),
                    next: 0,
                    target: 40 * BLOCK,
                    auto: false,
                };
                let run = std::panic::AssertUnwindSafe(|| pool.install(|| r.stream(&|_| {})));
                let _ = tx.send(std::panic::catch_unwind(run).is_err());
            });
            let raised = rx.recv_timeout(Duration::from_secs(30));
            assert_eq!(raised, Ok(true), "{threads} threads, block {fails} failing");
        }
    }
}

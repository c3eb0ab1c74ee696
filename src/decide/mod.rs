//! Decisions: `compare`, `sweep`, `goal`, `sensitivity`, `optimize`.
//!
//! Every command here simulates a family of scenarios — a base and its
//! alternatives — with the same seed, the same number of trials and the
//! same engine ([`run_family`]), so that trial i of every member sees the
//! same random numbers (common random numbers, see [`crate::sim::rng`]).
//! Differences are then computed trial by trial ([`paired`]): what they
//! measure is the change, not the noise, and their confidence intervals are
//! much narrower than those of two independent runs. What a decision is
//! judged on (P(hit) and its differences everywhere; `optimize`'s
//! objective and marginal values; a sweep's best point and its ties; the
//! precision rules of families and of `sensitivity`) is also controlled
//! for the drawn rates and the deals' luck ([`paired_runs`],
//! [`paired_so_far`]); revenue and contribution as shown, and their
//! differences, are plain, so that a shown difference is that of the shown
//! means.

pub mod ask;
pub mod compare;
pub mod goal;
pub mod levers;
pub mod optimize;
pub mod seek;
pub mod sensitivity;
pub mod sweep;

use serde::Serialize;

use crate::model::Scenario;
use crate::run::Trials;
use crate::sim::{EngineKind, Forecast, Run, RunConfig, SimError, common_engine, run};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A paired difference (other − base) over the same trials.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Delta {
    pub mean: f64,
    pub std_error: f64,
    /// 95% confidence interval of the mean difference.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Share of trials in which the other does better, the same, worse.
    pub p_better: f64,
    pub p_tie: f64,
    pub p_worse: f64,
    /// The standard error two independent runs would have had.
    pub unpaired_std_error: f64,
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if n < 2.0 {
        return (xs.first().copied().unwrap_or(0.0), 0.0);
    }
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v)
}

/// Trial-by-trial difference of two runs of the same trials.
pub fn paired(base: &[f64], other: &[f64]) -> Delta {
    let d: Vec<f64> = other.iter().zip(base).map(|(o, b)| o - b).collect();
    let n = d.len().max(1) as f64;
    let (mean, var) = mean_var(&d);
    let se = (var / n).sqrt();
    let (_, vb) = mean_var(base);
    let (_, vo) = mean_var(other);
    Delta {
        mean,
        std_error: se,
        ci_low: mean - Z95 * se,
        ci_high: mean + Z95 * se,
        p_better: d.iter().filter(|x| **x > 0.0).count() as f64 / n,
        p_tie: d.iter().filter(|x| **x == 0.0).count() as f64 / n,
        p_worse: d.iter().filter(|x| **x < 0.0).count() as f64 / n,
        unpaired_std_error: ((vb + vo) / n).sqrt(),
    }
}

/// Paired difference of per-trial outcomes of two runs of the same
/// trials (`yb` of `base`, `yo` of `other`): the difference of the two
/// runs' means, each controlled for its drawn rates and its deals' luck as
/// the forecast's P(hit) is, with the paired standard error of the
/// controlled estimates ([`crate::sim::control::paired`]); the shares of
/// trials better, the same and worse are plain.
pub fn paired_runs(base: &Run, other: &Run, yb: &[f64], yo: &[f64]) -> Delta {
    let plain = paired(yb, yo);
    match crate::sim::control::paired(base.outcomes(yb), other.outcomes(yo)) {
        None => plain,
        Some(e) => Delta {
            mean: e.mean,
            std_error: e.std_error,
            ci_low: e.mean - Z95 * e.std_error,
            ci_high: e.mean + Z95 * e.std_error,
            unpaired_std_error: base
                .mean_of(yb)
                .std_error
                .hypot(other.mean_of(yo).std_error),
            ..plain
        },
    }
}

/// Paired difference of "hit the target" (1 or 0) per trial, controlled
/// as [`paired_runs`].
pub fn paired_hits(base: &Run, other: &Run, target: f64) -> Delta {
    paired_runs(base, other, &base.hits(target), &other.hits(target))
}

/// What a decision maximises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Mean revenue.
    Mean,
    /// Median revenue.
    P50,
    /// P(revenue ≥ target).
    PHit,
    /// Mean contribution: revenue − marketing spend − sales cost.
    Contribution,
}

impl Objective {
    /// The objective's value in a run: a mean controlled for the drawn
    /// rates and the deals' luck (P(hit) as the forecast's), or the median
    /// of revenue.
    pub fn of(self, r: &Run) -> f64 {
        let f = &r.forecast;
        match self {
            Objective::Mean => r.mean_of(&r.per_trial).mean,
            Objective::P50 => f.revenue.p50,
            Objective::PHit => f.p_hit_target,
            Objective::Contribution => r.mean_of(&r.per_trial_contribution).mean,
        }
    }

    /// The value as printed.
    pub fn show(self, v: f64) -> String {
        match self {
            Objective::Mean | Objective::P50 | Objective::Contribution => {
                crate::export::format::money(v)
            }
            Objective::PHit => crate::export::format::pct(v),
        }
    }

    /// The objective over the trials a run has so far, for ranking runs
    /// part-way (the median by nearest rank, as the forecast's P50).
    pub fn so_far(self, r: &crate::sim::Runner) -> f64 {
        match self {
            Objective::P50 => {
                let mut v = r.per_trial().0.to_vec();
                crate::sim::stats::nearest_ranks(&mut v, &[0.5], f64::total_cmp)[0].unwrap_or(0.0)
            }
            _ => self.estimate_so_far(r).mean,
        }
    }

    /// Whether the objective's estimate is controlled for the drawn rates
    /// and the deals' luck (every one but the median, which is not a mean).
    pub fn is_controlled(self) -> bool {
        self != Objective::P50
    }

    /// The objective's mean over the trials a run has so far, controlled
    /// as [`Objective::of`]'s, with its standard error (of mean revenue for
    /// the median, which has no per-trial form).
    pub fn estimate_so_far(self, r: &crate::sim::Runner) -> crate::sim::control::Estimate {
        match self {
            Objective::PHit => r.p_hit(),
            _ => r.mean_of(&self.per_trial_so_far(r)),
        }
    }

    /// Per trial so far, what the objective averages (revenue for the
    /// median, which is not a mean of anything per trial).
    pub fn per_trial_so_far(self, r: &crate::sim::Runner) -> Vec<f64> {
        let (rev, hit) = r.per_trial();
        match self {
            Objective::Mean | Objective::P50 => rev.to_vec(),
            Objective::PHit => hit_values(&hit),
            Objective::Contribution => r.contributions().to_vec(),
        }
    }

    /// Per trial, what the objective averages (`None` for the median,
    /// which is not a mean of anything per trial).
    pub fn per_trial(self, r: &Run, target: f64) -> Option<Vec<f64>> {
        match self {
            Objective::Mean => Some(r.per_trial.clone()),
            Objective::PHit => Some(r.hits(target)),
            Objective::Contribution => Some(r.per_trial_contribution.clone()),
            Objective::P50 => None,
        }
    }
}

/// The best of a family of runs by an objective, and every run that is
/// not worse than it beyond chance (its paired difference to the best is
/// within two standard errors): ties go to the first of those, the
/// cheaper end of a list such as reps or touches.
pub fn best_of(runs: &[Run], objective: Objective, target: f64) -> (usize, Vec<usize>) {
    let values: Vec<f64> = runs.iter().map(|r| objective.of(r)).collect();
    let Some(top) = (0..runs.len()).max_by(|a, b| values[*a].total_cmp(&values[*b]).then(b.cmp(a)))
    else {
        return (0, Vec::new());
    };
    let tied: Vec<usize> = match objective.per_trial(&runs[top], target) {
        Some(best) => (0..runs.len())
            .filter(|i| {
                let other = objective.per_trial(&runs[*i], target).unwrap_or_default();
                let d = paired_runs(&runs[top], &runs[*i], &best, &other);
                d.mean + 2.0 * d.std_error >= 0.0
            })
            .collect(),
        None => (0..runs.len())
            .filter(|i| values[*i] == values[top])
            .collect(),
    };
    (tied.first().copied().unwrap_or(top), tied)
}

/// How a decision command simulates: the one run configuration.
pub type Settings = crate::run::RunConfig;

/// The run configuration with these trials and engine.
fn options(settings: &Settings, trials: Trials, engine: EngineKind) -> RunConfig {
    RunConfig {
        trials,
        engine,
        ..settings.clone()
    }
}

/// Runs every scenario with the same seed, trials and engine. With
/// `--trials auto` the first (the base) decides how many trials all run.
/// `progress` is told how many runs have finished.
pub fn run_family(
    scenarios: &[&Scenario],
    settings: &Settings,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Run>, SimError> {
    run_family_for(scenarios, settings, progress, None)
}

/// [`run_family`] for a decision that picks the best member by `judge`:
/// with `--trials auto` the differences judged are from the member that
/// leads so far, not from the first.
pub fn run_family_for(
    scenarios: &[&Scenario],
    settings: &Settings,
    progress: &(dyn Fn(usize) + Sync),
    judge: Option<Objective>,
) -> Result<Vec<Run>, SimError> {
    use rayon::prelude::*;
    let engine = common_engine(scenarios, settings.engine);
    let Some((first, rest)) = scenarios.split_first() else {
        return Ok(Vec::new());
    };
    check_family(scenarios, &options(settings, settings.trials, engine))?;
    if settings.trials == Trials::Auto && !rest.is_empty() {
        // The members run together: each is settled when all are.
        let settled = |r: &[crate::sim::Runner]| {
            vec![members_precise(r) && pairs_precise(r, leader(r, judge)); r.len()]
        };
        let rule = Rule {
            min_trials: FAMILY_MIN_TRIALS,
            round: FAMILY_ROUND,
            settled: &settled,
            reason: format!(
                "every member's P(hit) was known to {FAMILY_SE_P_HIT} and the standard errors of every \
                 alternative's paired difference from the base fell below {} in P(hit) and {}% of the \
                 base's mean revenue, or {}% of the difference (checked every {FAMILY_ROUND} trials \
                 from {FAMILY_MIN_TRIALS})",
                crate::sim::AUTO_SE_P_HIT,
                crate::sim::AUTO_SE_MEAN * 100.0,
                FAMILY_RELATIVE_SE * 100.0
            ),
        };
        return run_rounds(scenarios, settings, engine, progress, &rule);
    }
    let base = run(first, &options(settings, settings.trials, engine), &|_| {})?;
    let finished = std::sync::atomic::AtomicUsize::new(1);
    progress(1);
    // The base fixes the trial count; the alternatives then run side by side
    // (each is deterministic on its own, so the order of work is free), which
    // keeps every core busy when each run is a single block.
    let options = options(settings, Trials::Fixed(base.forecast.trials), engine);
    let alternatives = rest
        .par_iter()
        .map(|s| {
            let r = run(s, &options, &|_| {});
            progress(finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            r
        })
        .collect::<Result<Vec<Run>, SimError>>()?;
    Ok(std::iter::once(base).chain(alternatives).collect())
}

/// Trials between two looks at an automatic family's precision (after
/// [`FAMILY_MIN_TRIALS`]).
pub const FAMILY_ROUND: u64 = 512;

// Every look of a decision spans several of the lead engine's blocks, so
// that a single evaluation keeps two cores busy (with blocks of 1,024
// trials, `goal`'s first looks and a round of one run each used one).
// A sensitivity family (at least a base, a low and a high run, side by
// side) keeps them busy with one block each.
const _: () = assert!(
    seek::STAGE_TRIALS >= 2 * crate::sim::BLOCK
        && sensitivity::AUTO_FIRST >= crate::sim::BLOCK
        && FAMILY_ROUND >= 2 * crate::sim::BLOCK
);
/// Fewest trials of an automatic family. A family decides on its paired
/// differences, which common random numbers make far more precise than
/// each member's own figures (on the board plan at 1,024 trials, a
/// 16.7-point gain in P(hit) is known to ±1.1 points); it also runs until
/// each member's own P(hit) is known to [`FAMILY_SE_P_HIT`].
pub const FAMILY_MIN_TRIALS: u64 = 1024;
/// The standard error each member's own P(hit) needs before a family
/// stops: what 2,048 trials give the plain share at 50%, which the
/// controlled estimate reaches with fewer (1,024 on the board plan, where
/// the drawn rates and the deals' luck explain half its variance).
pub const FAMILY_SE_P_HIT: f64 = 0.011;
/// A difference is precise when its standard error is below the absolute
/// bar or this share of the difference itself (a 16-point gain known to
/// ±1.6 points is decided).
pub const FAMILY_RELATIVE_SE: f64 = 0.1;

/// When the members of a family under `--trials auto` have run enough:
/// checked every `round` trials (rounded up to whole blocks) from
/// `min_trials`, so the counts do not depend on threads. `settled` says,
/// member by member, which have run enough; the others run another
/// round (a settled member runs again if a later look unsettles it).
pub struct Rule<'a> {
    pub min_trials: u64,
    pub round: u64,
    pub settled: &'a dyn Fn(&[crate::sim::Runner]) -> Vec<bool>,
    /// Why the family stopped, when every member was settled.
    pub reason: String,
}

/// Runs a family under `--trials auto` until `rule` says its figures are
/// precise: every member advances together, a round at a time.
pub fn run_family_until(
    scenarios: &[&Scenario],
    settings: &Settings,
    progress: &(dyn Fn(usize) + Sync),
    rule: &Rule,
) -> Result<Vec<Run>, SimError> {
    let engine = common_engine(scenarios, settings.engine);
    if scenarios.is_empty() {
        return Ok(Vec::new());
    }
    check_family(scenarios, &options(settings, Trials::Auto, engine))?;
    run_rounds(scenarios, settings, engine, progress, rule)
}

/// Each run is checked as it starts; the family as a whole, here, by its
/// largest member.
fn check_family(scenarios: &[&Scenario], opts: &RunConfig) -> Result<(), SimError> {
    let biggest = scenarios
        .iter()
        .max_by(|a, b| total_leads(a).total_cmp(&total_leads(b)));
    match biggest {
        Some(s) => crate::sim::check_family(s, opts, scenarios.len()),
        None => Ok(()),
    }
}

/// `--trials auto` for a family: every member not yet settled advances a
/// round at a time, side by side, until `rule` settles them all (or they
/// reach the cap). For [`run_family`] the rule is that the
/// differences the decision reads are precise — each
/// member's paired difference from the base (or, with `judge`, from the
/// member leading so far) in P(hit) with a standard
/// error below [`crate::sim::AUTO_SE_P_HIT`] and in mean revenue below
/// [`crate::sim::AUTO_SE_MEAN`] of the base's, or either below
/// [`FAMILY_RELATIVE_SE`] of the difference — after at least
/// [`FAMILY_MIN_TRIALS`], checked every [`FAMILY_ROUND`] trials. Common
/// random numbers make these far smaller than each run's own error, so a
/// family needs fewer trials than its base alone would.
fn run_rounds(
    scenarios: &[&Scenario],
    settings: &Settings,
    engine: EngineKind,
    progress: &(dyn Fn(usize) + Sync),
    rule: &Rule,
) -> Result<Vec<Run>, SimError> {
    use rayon::prelude::*;
    let opts = options(settings, Trials::Auto, engine);
    let mut runners = scenarios
        .iter()
        .map(|s| crate::sim::Runner::new(s, &opts))
        .collect::<Result<Vec<_>, SimError>>()?;
    let per_round = rule.round.div_ceil(runners[0].block()).max(1);
    let mut busy = vec![true; runners.len()];
    let reason = loop {
        runners
            .par_iter_mut()
            .zip(&busy)
            .filter(|(_, b)| **b)
            .for_each(|(r, _)| r.advance(per_round));
        let most = runners.iter().map(|r| r.trials().0).max().unwrap_or(0);
        if most >= rule.min_trials {
            busy = (rule.settled)(&runners).iter().map(|s| !s).collect();
            if !busy.contains(&true) {
                break rule.reason.clone();
            }
        }
        for (b, r) in busy.iter_mut().zip(&runners) {
            let (n, cap) = r.trials();
            *b &= n < cap;
        }
        if !busy.contains(&true) {
            break format!(
                "reached the cap of {} trials before the family's paired differences were precise enough",
                runners[0].trials().1
            );
        }
    };
    let runs: Vec<Run> = runners
        .into_iter()
        .map(|r| r.finish(reason.clone()))
        .collect();
    for done in 1..=runs.len() {
        progress(done);
    }
    Ok(runs)
}

/// The member that leads by `judge` so far (the first of equals), or the
/// base without one.
fn leader(runners: &[crate::sim::Runner], judge: Option<Objective>) -> usize {
    let Some(judge) = judge else {
        return 0;
    };
    let values: Vec<f64> = runners.iter().map(|r| judge.so_far(r)).collect();
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

/// The mean and standard error of the paired differences b − a.
pub fn paired_mean_se(a: &[f64], b: &[f64]) -> (f64, f64) {
    let d = paired(a, b);
    (d.mean, d.std_error)
}

/// Whether every member's own P(hit) is known to [`FAMILY_SE_P_HIT`].
fn members_precise(runners: &[crate::sim::Runner]) -> bool {
    runners
        .iter()
        .all(|r| r.p_hit().std_error <= FAMILY_SE_P_HIT)
}

/// Whether every other member's paired differences from `reference` are
/// precise (P(hit)'s controlled as [`paired_hits`]'s).
fn pairs_precise(runners: &[crate::sim::Runner], reference: usize) -> bool {
    let (base_rev, _) = runners[reference].per_trial();
    let n = base_rev.len() as f64;
    let base_mean = base_rev.iter().sum::<f64>() / n;
    let others = runners.iter().enumerate().filter(|(i, _)| *i != reference);
    let base = &runners[reference];
    others.map(|(_, r)| r).all(|r| {
        // Below the absolute bar, or a small share of the difference.
        let precise =
            |(mean, se): (f64, f64), bar: f64| se < bar.max(FAMILY_RELATIVE_SE * mean.abs());
        precise(paired_p_hit(base, r), crate::sim::AUTO_SE_P_HIT)
            && precise(
                paired_revenue_so_far(base, r),
                crate::sim::AUTO_SE_MEAN * base_mean.max(0.0),
            )
    })
}

/// The paired difference `b − a` of two runners' outcomes so far (`ya` of
/// `a`, `yb` of `b`), with its standard error: controlled as
/// [`paired_runs`]'s.
pub fn paired_so_far(
    a: &crate::sim::Runner,
    b: &crate::sim::Runner,
    ya: &[f64],
    yb: &[f64],
) -> (f64, f64) {
    match crate::sim::control::paired(a.outcomes(ya), b.outcomes(yb)) {
        Some(e) => (e.mean, e.std_error),
        None => paired_mean_se(ya, yb),
    }
}

/// The paired difference `b − a` of two runners' P(hit) so far, with its
/// standard error: controlled as [`paired_hits`]'s.
pub fn paired_p_hit(a: &crate::sim::Runner, b: &crate::sim::Runner) -> (f64, f64) {
    let (ha, hb) = (hit_values(&a.per_trial().1), hit_values(&b.per_trial().1));
    paired_so_far(a, b, &ha, &hb)
}

/// The paired difference `b − a` of two runners' revenue so far, with its
/// standard error: controlled as [`paired_runs`]'s.
pub fn paired_revenue_so_far(a: &crate::sim::Runner, b: &crate::sim::Runner) -> (f64, f64) {
    paired_so_far(a, b, a.per_trial().0, b.per_trial().0)
}

/// Per trial, 1 if it hit the target and 0 if not.
pub fn hit_values(hits: &[bool]) -> Vec<f64> {
    hits.iter().map(|h| f64::from(u8::from(*h))).collect()
}

/// Expected new leads over the horizon: what a lead-engine run's cost
/// grows with.
fn total_leads(s: &Scenario) -> f64 {
    crate::sim::cost::Estimate::new(s, 1, 1, crate::sim::cost::Work::Leads).leads_per_trial
}

/// The figures a decision is judged on: the summary keys of `simulate`
/// (`p_hit_target`, `revenue`, `spend`, `stages`), the sales cost and
/// contribution, and the headline ratios as [`crate::metrics`] defines them.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Figures {
    pub p_hit_target: f64,
    pub p_hit_std_error: f64,
    pub revenue: crate::sim::Summary,
    pub spend: crate::sim::MeanSe,
    pub sales_cost: crate::sim::MeanSe,
    pub contribution: crate::sim::Summary,
    pub stages: crate::sim::StageMeans,
    /// SALs per MQL of the new leads.
    pub acceptance_rate: Option<f64>,
    /// (Marketing spend + sales cost) per win of the new leads.
    pub cac: Option<f64>,
    /// Marketing spend per win of the new leads.
    pub cac_marketing: Option<f64>,
    /// (Revenue of the new leads − marketing spend) / marketing spend.
    pub roi: Option<f64>,
}

impl Figures {
    pub fn of(f: &Forecast) -> Figures {
        Figures {
            p_hit_target: f.p_hit_target,
            p_hit_std_error: f.p_hit_std_error,
            revenue: f.revenue.clone(),
            spend: f.spend.clone(),
            sales_cost: f.sales_cost.clone(),
            contribution: f.contribution.clone(),
            stages: f.stages.clone(),
            acceptance_rate: f.headline.acceptance_rate,
            cac: f.headline.cac,
            cac_marketing: f.headline.cac_marketing,
            roi: f.headline.roi,
        }
    }
}

impl Figures {
    /// The figures' columns, in the same order for every command.
    pub fn columns() -> Vec<crate::export::Column> {
        use crate::export::{Unit, col};
        vec![
            col("p_hit", "P(hit)", Unit::Share),
            col("p_hit_std_error", "± SE", Unit::Share),
            col("revenue_mean", "mean", Unit::Money),
            col("revenue_p10", "P10", Unit::Money),
            col("revenue_p50", "P50", Unit::Money),
            col("revenue_p90", "P90", Unit::Money),
            col("spend", "spend", Unit::Money),
            col("sales_cost", "sales cost", Unit::Money),
            col("contribution", "contribution", Unit::Money),
            col("cac", "CAC", Unit::Money),
            col("cac_marketing", "marketing CAC", Unit::Money),
            col("roi", "ROI", Unit::Ratio),
            col("leads", "leads", Unit::Count),
            col("mqls", "MQLs", Unit::Count),
            col("sals", "SALs", Unit::Count),
            col("acceptance_rate", "accepted", Unit::Share),
            col("opportunities", "opps", Unit::Count),
            col("wins", "wins", Unit::Count),
        ]
    }

    /// The cells of [`Figures::columns`].
    pub fn cells(&self) -> Vec<crate::export::Cell> {
        vec![
            self.p_hit_target.into(),
            self.p_hit_std_error.into(),
            self.revenue.mean.into(),
            self.revenue.p10.into(),
            self.revenue.p50.into(),
            self.revenue.p90.into(),
            self.spend.mean.into(),
            self.sales_cost.mean.into(),
            self.contribution.mean.into(),
            self.cac.into(),
            self.cac_marketing.into(),
            self.roi.into(),
            self.stages.leads.into(),
            self.stages.mqls.into(),
            self.stages.sals.into(),
            self.acceptance_rate.into(),
            self.stages.opportunities.into(),
            self.stages.wins.into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_differences_of_identical_runs_are_exactly_zero() {
        let a = [1.0, 5.0, 3.0, 8.0];
        let d = paired(&a, &a);
        assert_eq!(
            (
                d.mean,
                d.std_error,
                d.ci_low,
                d.ci_high,
                d.p_better,
                d.p_tie
            ),
            (0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
        );
        assert!(d.unpaired_std_error > 0.0);
    }

    #[test]
    fn pairing_removes_shared_noise() {
        // other = base + 1 plus a little noise: the paired SE is tiny.
        let base: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1000) as f64).collect();
        let other: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(i, b)| b + 1.0 + ((i % 3) as f64 - 1.0) * 0.1)
            .collect();
        let d = paired(&base, &other);
        assert!((d.mean - 1.0).abs() < 0.01);
        assert!(d.std_error < d.unpaired_std_error / 100.0);
        assert!(d.ci_low < 1.0 && d.ci_high > 1.0);
        assert_eq!(d.p_better, 1.0);
    }
}

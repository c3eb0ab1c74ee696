//! The plan as an ask: its schedule simulated, and sized to a confidence.
//!
//! `revplan plan` inverts the expected flow, so a plan meets the target in
//! expectation — less the pipeline gap, which no lead created inside the
//! horizon can close. What a board asks is how likely the plan is to reach
//! the target. Here the plan's week-by-week schedule becomes each channel's
//! volume ([`schedule`]) and is simulated, which gives its P(hit) with every
//! mechanism the plan leaves out (capacity, arrival noise, uncertain rates).
//! With a confidence level, the plan is made again aiming at a multiple of
//! the target, until the simulated P(target reached) is at least that
//! level: the aim is widened by quarters until it reaches it, then found
//! by `goal`'s search ([`super::seek`]) on common random numbers. Only the
//! targets change with the aim, so the channels' responses are computed
//! once ([`Kernels`]).

use crate::model::{Scenario, Volume};
use crate::plan::{Kernels, Plan, PlanError, PlanOptions, PlanSimulated, Sizing, plan_with};
use crate::run::Trials;
use crate::sim::{EngineKind, RunConfig, SimError, common_engine, run_until};

use super::Settings;
use super::seek::{End, Evaluation, SearchTrials, Seek};

/// With `--trials auto`, a plan's simulated P(hit) is as precise as this
/// many trials of the plain share (fewer where the controls take out
/// variance: [`super::seek::as_precise_as`]); the first simulation
/// settles how many every aim tried runs.
pub const DEFAULT_TRIALS: u64 = 2048;
/// The most the plan may aim above the target.
pub const MAX_AIM: f64 = 4.0;
/// The aim is found to within this share.
const AIM_TOLERANCE: f64 = 0.005;

#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// The scenario with every channel's volume set to the plan's schedule.
pub fn schedule(s: &Scenario, p: &Plan) -> Scenario {
    let mut out = s.clone();
    for ch in &mut out.model.channels {
        let leads: Vec<f64> = p
            .weeks
            .iter()
            .map(|w| w.leads_by_channel.get(&ch.name).copied().unwrap_or(0.0))
            .collect();
        let media: Vec<f64> = p
            .weeks
            .iter()
            .zip(&leads)
            .map(|(w, l)| {
                let spend = w.spend_by_channel.get(&ch.name).copied().unwrap_or(0.0);
                let fixed = if ch.is_active(w.week) {
                    ch.fixed_cost_per_week
                } else {
                    0.0
                };
                (spend - fixed - l * ch.cost_per_lead).max(0.0)
            })
            .collect();
        ch.volume = Volume::Schedule { leads, media };
    }
    out
}

/// Plans the scenario, simulates the plan, and with a `confidence` sizes
/// it so that P(target reached) is at least that.
pub fn ask(
    s: &Scenario,
    opts: &PlanOptions,
    confidence: Option<f64>,
    settings: &Settings,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<Plan, AskError> {
    let trials = SearchTrials::new(settings.trials, DEFAULT_TRIALS);
    let engine = match common_engine(&[s], settings.engine) {
        EngineKind::Auto => EngineKind::Leads,
        e => e,
    };
    let sim = |trials: u64| RunConfig {
        trials: Trials::Fixed(trials),
        seed: settings.seed,
        max_trials: trials,
        engine,
        allow_large: settings.allow_large,
    };
    // Only the targets change with the aim.
    let kernels = Kernels::of(s);
    let sized = confidence.is_some();
    // An evaluation stops early once P(hit) is clearly on one side of the
    // confidence (only its side matters to the search); what is reported
    // is run with every trial.
    let confidence = confidence.unwrap_or(0.0);
    let mut evaluations = Vec::new();
    let mut eval = |aim: f64, early: bool| -> Result<End<(Plan, PlanSimulated)>, AskError> {
        progress(aim);
        let p = plan_with(s, &PlanOptions { aim, ..*opts }, &kernels)?;
        let stop = trials.stop(early, confidence);
        let r = run_until(&schedule(s, &p), &sim(trials.get()), &|_| {}, &stop)?;
        trials.ran(r.forecast.trials);
        let simulated = simulated(&r.forecast);
        let e = End {
            value: aim,
            p_hit: simulated.p_hit,
            std_error: r.forecast.p_hit_std_error,
            trials: simulated.trials,
            kept: 1.0 - r.forecast.p_hit_variance_removed,
            at: (p, simulated),
        };
        evaluations.push(e.evaluation());
        Ok(e)
    };
    let now = eval(opts.aim, false)?;
    if !sized || now.p_hit >= confidence {
        return Ok(finish(
            now,
            sized.then_some((confidence, true, evaluations)),
        ));
    }
    // Widen until the confidence is reached (or the aim is absurd), then
    // narrow the bracket between the last miss and the first hit.
    let (mut lo, mut p_lo) = (opts.aim, now.p_hit);
    let mut hit = None;
    while lo < MAX_AIM {
        let e = eval((lo * 1.25).min(MAX_AIM), true)?;
        if e.p_hit >= confidence {
            hit = Some(e);
            break;
        }
        (lo, p_lo) = (e.value, e.p_hit);
    }
    let Some(hit) = hit else {
        // The plan as it stands, with the aims that fell short.
        return Ok(finish(now, Some((confidence, false, evaluations))));
    };
    let seek = Seek {
        confidence,
        trials: trials.get(),
        tolerance: AIM_TOLERANCE * opts.aim,
        integer: false,
    };
    let found = seek.narrow(lo, Some(p_lo), hit, |aim| eval(aim, true))?;
    let found = if found.trials < trials.get() {
        eval(found.value, false)?
    } else {
        found
    };
    Ok(finish(found, Some((confidence, true, evaluations))))
}

/// The plan found, with its simulation and how it was sized.
fn finish(e: End<(Plan, PlanSimulated)>, sizing: Option<(f64, bool, Vec<Evaluation>)>) -> Plan {
    let (mut plan, simulated) = e.at;
    plan.simulated = Some(simulated);
    plan.sizing = sizing.map(|(confidence, reached, evaluations)| Sizing {
        confidence,
        aim: if reached { plan.aim } else { MAX_AIM },
        reached,
        evaluations,
    });
    plan
}

/// What a plan's simulation says, for the plan's output.
fn simulated(f: &crate::sim::Forecast) -> PlanSimulated {
    PlanSimulated {
        trials: f.trials,
        seed: f.seed,
        engine: f.engine,
        mean: f.revenue.mean,
        p10: f.revenue.p10,
        p50: f.revenue.p50,
        p90: f.revenue.p90,
        goal_mean: f.goal.as_ref().map(|g| g.mean),
        p_hit: f.p_hit_target,
        p_hit_std_error: f.p_hit_std_error,
        spend: f.spend.mean,
        sales_cost: f.sales_cost.mean,
        acceptance_rate: f.headline.acceptance_rate,
    }
}

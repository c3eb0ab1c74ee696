//! The plan as an ask: its schedule simulated, and sized to a confidence.
//!
//! `revplan plan` inverts the expected flow, so a plan meets the target in
//! expectation — less the pipeline gap, which no lead created inside the
//! horizon can close. What a board asks is how likely the plan is to reach
//! the target. Here the plan's week-by-week schedule becomes each channel's
//! volume ([`schedule`]) and is simulated, which gives its P(hit) with every
//! mechanism the plan leaves out (capacity, arrival noise, uncertain rates).
//! With a confidence level, the plan is made again aiming at a multiple of
//! the target, found by bisection on common random numbers, until the
//! simulated P(target reached) is at least that level.

use crate::model::{Scenario, Volume};
use crate::plan::{Kernels, Plan, PlanError, PlanOptions, PlanSimulated, Sizing, plan_with};
use crate::run::Trials;
use crate::sim::{EngineKind, RunConfig, SimError, common_engine, run};

use super::Settings;

/// Trials per simulation of a plan with `--trials auto`.
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
    let trials = match settings.trials {
        Trials::Fixed(n) => n,
        Trials::Auto => DEFAULT_TRIALS,
    };
    let engine = match common_engine(&[s], settings.engine) {
        EngineKind::Auto => EngineKind::Leads,
        e => e,
    };
    let sim = RunConfig {
        trials: Trials::Fixed(trials),
        seed: settings.seed,
        max_trials: trials,
        engine,
        allow_large: settings.allow_large,
    };
    // Only the targets change with the aim.
    let kernels = Kernels::of(s);
    let evaluate = |aim: f64| -> Result<(Plan, PlanSimulated), AskError> {
        progress(aim);
        let p = plan_with(s, &PlanOptions { aim, ..*opts }, &kernels)?;
        let r = run(&schedule(s, &p), &sim, &|_| {})?;
        let f = &r.forecast;
        let simulated = PlanSimulated {
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
        };
        Ok((p, simulated))
    };
    let (mut best, mut sim_best) = evaluate(opts.aim)?;
    let Some(conf) = confidence else {
        best.simulated = Some(sim_best);
        return Ok(best);
    };
    let mut evaluations = vec![(opts.aim, sim_best.p_hit)];
    let reached = if sim_best.p_hit >= conf {
        true
    } else {
        // Widen until the confidence is reached (or the aim is absurd),
        // then bisect between the last miss and the first hit.
        let (mut lo, mut hi) = (opts.aim, opts.aim);
        let mut hit = None;
        while hi < MAX_AIM {
            lo = hi;
            hi = (hi * 1.25).min(MAX_AIM);
            let (p, sp) = evaluate(hi)?;
            evaluations.push((hi, sp.p_hit));
            if sp.p_hit >= conf {
                hit = Some((p, sp));
                break;
            }
        }
        match hit {
            None => false,
            Some(found) => {
                (best, sim_best) = found;
                while hi - lo > AIM_TOLERANCE * hi {
                    let mid = 0.5 * (lo + hi);
                    let (p, sp) = evaluate(mid)?;
                    evaluations.push((mid, sp.p_hit));
                    if sp.p_hit >= conf {
                        hi = mid;
                        (best, sim_best) = (p, sp);
                    } else {
                        lo = mid;
                    }
                }
                true
            }
        }
    };
    best.sizing = Some(Sizing {
        confidence: conf,
        aim: if reached { best.aim } else { MAX_AIM },
        reached,
        evaluations,
    });
    best.simulated = Some(sim_best);
    Ok(best)
}

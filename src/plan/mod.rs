//! `revplan plan`: the weekly plan that reaches a revenue target, worked
//! backwards through the revenue cycle.
//!
//! # Method
//!
//! One lead of channel c arriving in week s is expected to bring revenue
//! `k_c(t − s)` in week t: the wins of its [`Response`] (every stage delay,
//! recycle loop, sales cycle and slip spread over its whole distribution,
//! see [`crate::timeline`]) times the channel's mean deal size. The revenue
//! of a lead schedule is therefore a convolution, linear in the volumes:
//!
//! ```text
//!   revenue(t) = pipeline(t) + held(t) + Σ_s L(s) · k_s(t − s)
//! ```
//!
//! where `pipeline` is the expected closes of the open pipeline (each deal
//! from the remaining delay of its stage, given its age), `held` the revenue
//! of channels kept at their own volume, L(s) the total leads of the scaled
//! channels in week s and k_s their per-lead response mixed by the channel
//! shares of that week (seasonality and active weeks included).
//!
//! The plan inverts this map. Solving the triangular system week by week
//! would divide by the first non-zero lag of the response — often a tiny
//! probability, such as a sales cycle of one week — and explode. Instead
//! the unknowns are L(s) for weeks *before* the horizon (−P … −1, P being
//! the span of the response), inside it, and after it (the target continues
//! at its last weekly rate, so that late leads are planned for the revenue
//! they really feed). The revenue that pre-horizon leads bring inside the
//! horizon is what new leads cannot reach: the *pipeline gap*. The schedule
//! minimises
//!
//! ```text
//!   Σ_t (revenue(t) − target(t))² + ω² Σ_periods (Σ_{t∈p} revenue − target)² + λ Σ_s (L(s) − L(s−1))²
//! ```
//!
//! with L ≥ 0 (normal equations, Cholesky and an active set: see
//! [`solve`]). Revenue responses are smooth, so many schedules fit almost
//! equally well; the small smoothness term (λ) picks a steady one. Weekly
//! targets are themselves smooth (periods are spread along a monotone cubic,
//! see [`crate::calendar::smooth_weekly`]), and the heavy period rows (ω)
//! keep each period's total exact. Where the target can be met week by week
//! it is, to rounding (a flat target with a short cycle: exactly); where
//! non-negative volumes cannot follow it — the open pipeline's closes are
//! sharper than any lead schedule can offset, or seasonal channel mixes
//! change the response week to week — the weekly miss is reported as
//! `shortfall` and summarised in [`Fit`] (0.16% at worst on the shipped
//! board plan, with every quarter exact).
//!
//! From the schedule, the same responses give the weekly volumes at every
//! stage, the SLA touches against sales capacity, and the spend (through
//! the inverse of each channel's response curve for budget-driven ones).
//! The flow assumes the SLA is met; weeks where it cannot be are flagged.

// The loops below index several arrays by the same week and channel, as
// the formulas in the docs do; iterator chains would hide that.
#![allow(clippy::needless_range_loop)]

mod solve;
pub mod view;

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::calendar::{PUSH_REACH, PeriodKind, WEEKS_PER_YEAR, push_to_quarter_end};
use crate::model::{Capacity, LeadSource, MixBasis, Model, Role, Scenario, Volume};
use crate::timeline::{Response, channel_response, deal_response};

/// Longest lag kept in a response (weeks): five years.
pub const KERNEL_WEEKS: usize = 260;
/// Share of a response's wins its support must hold.
const SUPPORT_MASS: f64 = 1.0 - 1e-6;
/// A week belongs to the gap while pre-horizon leads bring more than this
/// share of its target (their revenue has a long, thin tail: recycled and
/// re-engaged leads keep closing for years).
pub const GAP_WEEK: f64 = 0.05;
/// Most solves spent matching a budget mix.
const BUDGET_ITERATIONS: usize = 60;
/// Weight of the period-total rows relative to weekly rows.
const PERIOD_WEIGHT: f64 = 1e3;
/// Smoothness weight, relative to the mean diagonal of AᵀA. Measured on the
/// shipped board plan: 1e-4 lets volumes swing by 20× week to week for no
/// better fit; 1e-2 and above cost 0.3% or more of weekly accuracy.
const SMOOTHING: f64 = 1e-3;
/// Weight of the weeks after the horizon, whose target is an assumption
/// (the last weekly rate, continued): enough to plan the last weeks' leads
/// for the revenue they feed, not enough to bend the horizon's fit (0.1
/// left the board plan's last weeks 0.1% off, 0.01 leaves them 0.09%).
const POST_WEIGHT: f64 = 0.01;

/// How finely the plan may change the lead volume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// Every week its own volume: the exact inverse, which can swing.
    Week,
    /// One level of leads a week per calendar month (the default): a plan
    /// marketing can run.
    #[default]
    Month,
    /// One level per quarter.
    Quarter,
}

/// What the planner is asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlanOptions {
    pub granularity: Granularity,
    /// Also plan leads for the revenue they bring after the horizon (the
    /// target continued at its last weekly rate); by default the plan buys
    /// only leads whose expected revenue inside the horizon pays for them.
    pub beyond_horizon: bool,
    /// Multiplies the target the plan aims at (1 = the target itself): a
    /// plan sized for a confidence level aims above it.
    pub aim: f64,
}

impl PlanOptions {
    /// The defaults, aiming at the target itself.
    pub fn new() -> PlanOptions {
        PlanOptions {
            aim: 1.0,
            ..PlanOptions::default()
        }
    }
}

/// What planning at a coarser granularity costs against the exact weekly
/// inverse.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GranularityCost {
    pub granularity: Granularity,
    /// Budget of this plan and of the weekly inverse.
    pub budget: f64,
    pub budget_exact: f64,
    pub leads: f64,
    pub leads_exact: f64,
    /// Largest weekly miss outside the gap, this plan and the exact one.
    pub max_weekly_error: f64,
    pub max_weekly_error_exact: f64,
    /// Largest relative change of total leads from one week to the next.
    pub max_week_to_week_change: f64,
    pub max_week_to_week_change_exact: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error(
        "no lead of the channels the plan scales ({0}) can ever be won: check the stage rates, \
         the MQL threshold and the win rate"
    )]
    NoWins(String),
}

/// Stage volumes, revenue and spend of a week, a period or the plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Volumes {
    pub leads: f64,
    pub mqls: f64,
    pub sals: f64,
    pub sqls: f64,
    pub opportunities: f64,
    pub wins: f64,
    pub spend: f64,
}

impl Volumes {
    fn add(&mut self, o: &Volumes) {
        self.leads += o.leads;
        self.mqls += o.mqls;
        self.sals += o.sals;
        self.sqls += o.sqls;
        self.opportunities += o.opportunities;
        self.wins += o.wins;
        self.spend += o.spend;
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PlanWeek {
    pub week: u32,
    pub date: Option<String>,
    pub quarter: String,
    pub month: String,
    pub target: f64,
    /// Expected revenue of the plan: open pipeline plus new leads.
    pub revenue: f64,
    pub revenue_pipeline: f64,
    pub revenue_new: f64,
    /// Revenue only leads from before the start could bring.
    pub gap: f64,
    /// Target − revenue − gap: what the schedule misses (negative: above).
    pub shortfall: f64,
    #[serde(flatten)]
    pub volumes: Volumes,
    pub leads_by_channel: BTreeMap<String, f64>,
    pub spend_by_channel: BTreeMap<String, f64>,
    /// SLA touches the plan's MQLs ask for, and what the team can make.
    pub touches_needed: Option<f64>,
    pub touches_available: Option<f64>,
    pub reps: Option<f64>,
    pub reps_needed: Option<f64>,
    pub over_capacity: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PeriodRow {
    pub label: String,
    pub first_week: u32,
    pub last_week: u32,
    pub target: f64,
    pub revenue: f64,
    pub revenue_pipeline: f64,
    pub revenue_new: f64,
    pub gap: f64,
    pub shortfall: f64,
    #[serde(flatten)]
    pub volumes: Volumes,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PlanChannel {
    pub name: String,
    pub source: LeadSource,
    /// Scaled by the plan (false: kept at its own volume).
    pub scaled: bool,
    /// Its share of the scaled channels' leads or budget.
    pub share: Option<f64>,
    pub leads: f64,
    pub spend: f64,
    pub cost_per_lead: Option<f64>,
    pub mqls: f64,
    pub opportunities: f64,
    /// Wins and revenue inside the horizon from its leads.
    pub wins: f64,
    pub revenue: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PeriodAmount {
    pub label: String,
    pub amount: f64,
}

/// Volumes before the start that the gap stands for.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PreHorizon {
    /// First week (negative) with leads.
    pub from_week: i64,
    pub leads: f64,
    pub leads_by_week: Vec<(i64, f64)>,
    /// Their first entries and wins inside the horizon.
    pub inside: Volumes,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PipelineGap {
    pub total: f64,
    pub weeks: Vec<f64>,
    pub periods: Vec<PeriodAmount>,
    /// First week from which pre-horizon leads bring at most 5% of each
    /// week's target: new leads and the pipeline carry it.
    pub closed_by_week: Option<u32>,
    pub pre_horizon: PreHorizon,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SourceSplit {
    pub leads: f64,
    pub wins: f64,
    pub revenue: f64,
    pub spend: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Headline {
    /// Marketing budget: media, program costs and costs per lead.
    pub budget: f64,
    /// The sales team's cost over the horizon: payroll and touches.
    pub sales_cost: f64,
    pub cost_per_lead: Option<f64>,
    pub cost_per_opportunity: Option<f64>,
    /// (Budget + sales cost) per win of new leads inside the horizon.
    pub cac: Option<f64>,
    /// Budget per win of new leads inside the horizon.
    pub cac_marketing: Option<f64>,
    /// (Open pipeline + value of planned new opportunities) / target, for
    /// a revenue target.
    pub pipeline_coverage: Option<f64>,
    /// SALs per MQL of the plan's new leads inside the horizon.
    pub lead_acceptance_rate: Option<f64>,
    pub open_pipeline: f64,
    pub marketing_sourced: SourceSplit,
    pub sales_sourced: SourceSplit,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CapacityCheck {
    pub weeks_over: Vec<u32>,
    pub max_reps_needed: f64,
    pub max_touches_needed: f64,
}

/// How well the schedule inverts the flow.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Fit {
    pub response_weeks: u32,
    pub pre_horizon_weeks: u32,
    pub post_horizon_weeks: u32,
    /// Largest |target − revenue − gap| / target over the weeks.
    pub max_weekly_error: f64,
    /// The same over the weeks outside the gap (gap ≤ 5% of the target):
    /// where new leads carry the target, the schedule reproduces it.
    pub max_weekly_error_outside_gap: f64,
    /// Weeks whose gap is more than 5% of their target.
    pub gap_weeks: u32,
    /// The same over the target's periods (quarters or months).
    pub max_period_error: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Plan {
    pub scenario: String,
    /// What the target counts. `target`, `revenue*`, `gap` and
    /// `shortfall` (of the plan, its weeks, periods and channels) are in
    /// its unit: dollars for revenue, else a count.
    pub metric: String,
    pub horizon_weeks: u32,
    pub start_date: Option<String>,
    pub period: PeriodKind,
    pub target: f64,
    pub weeks: Vec<PlanWeek>,
    pub quarters: Vec<PeriodRow>,
    pub months: Vec<PeriodRow>,
    pub totals: Volumes,
    pub revenue: f64,
    pub revenue_pipeline: f64,
    pub revenue_new: f64,
    pub channels: Vec<PlanChannel>,
    pub pipeline_gap: PipelineGap,
    /// Last week in which a new lead can still close inside the horizon.
    pub last_useful_lead_week: Option<u32>,
    pub headline: Headline,
    pub capacity: Option<CapacityCheck>,
    pub fit: Fit,
    pub granularity: Granularity,
    /// Against the weekly inverse, when the plan is coarser.
    pub granularity_cost: Option<GranularityCost>,
    /// The last week in which the plan buys leads: later ones cannot pay
    /// for themselves inside the horizon (unless planned beyond it).
    pub last_lead_week: Option<u32>,
    /// The multiple of the target the plan aims at (1 unless sized for a
    /// confidence).
    pub aim: f64,
    /// The plan's schedule as simulated (see `decide::ask`).
    pub simulated: Option<PlanSimulated>,
    /// How the plan was sized for a confidence level.
    pub sizing: Option<Sizing>,
    pub warnings: Vec<String>,
}

/// The plan's schedule, simulated with every mechanism of the model.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PlanSimulated {
    pub trials: u64,
    pub seed: u64,
    pub engine: &'static str,
    /// Revenue inside the horizon.
    pub mean: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    /// The target's count, when it is one.
    pub goal_mean: Option<f64>,
    /// P(the target is reached).
    pub p_hit: f64,
    pub p_hit_std_error: f64,
    pub spend: f64,
    pub sales_cost: f64,
    pub acceptance_rate: Option<f64>,
}

/// A plan sized so that the target is reached with a confidence.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Sizing {
    pub confidence: f64,
    /// The multiple of the target the plan aims at in expectation.
    pub aim: f64,
    pub reached: bool,
    /// Each evaluation, in order: the aim, its simulated P(hit) and the
    /// trials that took (fewer than asked once its side was clear).
    pub evaluations: Vec<crate::decide::seek::Evaluation>,
}

/// Per-week volumes of a set of responses convolved with lead volumes.
struct Flow {
    first: Vec<Vec<f64>>,
    wins: Vec<f64>,
    revenue: Vec<f64>,
    touches: Vec<f64>,
}

impl Flow {
    fn zeros(stages: usize, len: usize) -> Flow {
        Flow {
            first: vec![vec![0.0; len]; stages],
            wins: vec![0.0; len],
            revenue: vec![0.0; len],
            touches: vec![0.0; len],
        }
    }

    /// The quarter-end push on this flow's closes (a channel's `push`),
    /// then only the first `len` weeks kept: a flow is made
    /// [`PUSH_REACH`] weeks longer than it is kept, so that closes just
    /// past its end can be pulled into it.
    fn push(&mut self, push: &Option<Push>, len: usize) {
        if let Some((targets, p)) = push {
            push_to_quarter_end(&mut self.wins, targets, *p);
            push_to_quarter_end(&mut self.revenue, targets, *p);
        }
        for f in &mut self.first {
            f.truncate(len);
        }
        self.wins.truncate(len);
        self.revenue.truncate(len);
        self.touches.truncate(len);
    }

    /// self += other.
    fn merge(&mut self, o: &Flow) {
        let add = |a: &mut [f64], b: &[f64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        for (a, b) in self.first.iter_mut().zip(&o.first) {
            add(a, b);
        }
        add(&mut self.wins, &o.wins);
        add(&mut self.revenue, &o.revenue);
        add(&mut self.touches, &o.touches);
    }

    /// Adds `volume` leads starting at week `start` (may be negative) with
    /// this response and revenue per win, for weeks 0..len.
    fn add(&mut self, resp: &Response, start: i64, volume: f64) {
        if volume == 0.0 {
            return;
        }
        let len = self.wins.len() as i64;
        let from = start.max(0);
        let to = (start + resp.len() as i64).min(len);
        for t in from..to {
            let d = (t - start) as usize;
            let t = t as usize;
            for (f, r) in self.first.iter_mut().zip(&resp.first) {
                f[t] += volume * r[d];
            }
            self.wins[t] += volume * resp.wins[d];
            self.revenue[t] += volume * resp.revenue[d];
            self.touches[t] += volume * resp.touches[d];
        }
    }
}

/// A channel's quarter-end push: the week each pulled close goes to, and
/// the share pulled (see [`crate::calendar::pull_targets`]).
type Push = (Vec<Option<usize>>, f64);

/// The level group of each column: weeks before and after the horizon
/// each their own; inside it, one group per week, month or quarter.
fn column_groups(s: &Scenario, g: Granularity, pre: usize, h: usize, cols: usize) -> Vec<usize> {
    let kind = match g {
        Granularity::Week => None,
        Granularity::Month => Some(PeriodKind::Month),
        Granularity::Quarter => Some(PeriodKind::Quarter),
    };
    let mut period_of = vec![0usize; h];
    if let Some(k) = kind {
        for (i, p) in s.calendar.periods(k).iter().enumerate() {
            for w in p.weeks.clone() {
                period_of[w as usize] = i;
            }
        }
    }
    let mut out = Vec::with_capacity(cols);
    let mut next = 0;
    let mut last_period = None;
    for u in 0..cols {
        let inside = u >= pre && u < pre + h;
        if inside && kind.is_some() {
            let p = period_of[u - pre];
            if last_period != Some(p) {
                last_period = Some(p);
                next += 1;
            }
        } else {
            last_period = None;
            next += 1;
        }
        out.push(next - 1);
    }
    out
}

/// A response whose `revenue` is the target's metric: revenue, wins, or a
/// stage's first entries (the planner inverts that series).
fn as_goal(mut r: Response, metric: crate::model::Metric) -> Response {
    use crate::model::Metric;
    match metric {
        Metric::Revenue => {}
        Metric::Wins => r.revenue.clone_from(&r.wins),
        Metric::Stage(j) => r.revenue.clone_from(&r.first[j]),
    }
    r
}

/// Each channel's push over `len` weeks, with the parameters at `params`
/// (none for a stage's count, which closes do not move).
fn pushes(s: &Scenario, params: &[f64], len: usize) -> Vec<Option<Push>> {
    if matches!(s.target.metric, crate::model::Metric::Stage(_)) {
        return vec![None; s.model.channels.len()];
    }
    s.model
        .channels
        .iter()
        .map(|c| {
            c.funnel.quarter_end.as_ref().map(|q| {
                (
                    crate::calendar::pull_targets(&s.calendar, q.weeks, len),
                    params[q.p],
                )
            })
        })
        .collect()
}

/// What makes two open deals go on alike (their amounts aside).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PipelineKey {
    stage: usize,
    age: u32,
    channel: Option<usize>,
    known_amount: bool,
    score: Option<u64>,
    probability: Option<u64>,
    close: Option<u32>,
}

impl PipelineKey {
    fn of(d: &crate::model::OpenDeal) -> PipelineKey {
        PipelineKey {
            stage: d.stage,
            age: d.age_weeks,
            channel: d.channel,
            known_amount: d.known_amount,
            score: d.score.map(f64::to_bits),
            probability: d.probability.map(f64::to_bits),
            close: d.close_in_weeks,
        }
    }
}

/// Role-named volumes of week t of a flow.
fn volumes_at(m: &Model, f: &Flow, t: usize) -> Volumes {
    let at = |r: Role| m.stage_of(r).map_or(0.0, |j| f.first[j][t]);
    Volumes {
        leads: f.first[0][t],
        mqls: at(Role::Mql),
        sals: at(Role::Sal),
        sqls: at(Role::Sql),
        opportunities: at(Role::Opportunity),
        wins: f.wins[t],
        spend: 0.0,
    }
}

/// A channel's volume multiplier in week s, before the horizon too (where
/// seasonality repeats on a 52-week year and every channel is active).
fn multiplier(s: &Scenario, c: usize, week: i64) -> f64 {
    let ch = &s.model.channels[c];
    if week >= 0 {
        return ch.multiplier(week as u32, &s.calendar);
    }
    let w = week.rem_euclid(i64::from(WEEKS_PER_YEAR)) as u32;
    ch.seasonal_factor(w, &s.calendar) * ch.growth_factor(week as f64)
}

/// Weekly budget (media) of a channel for `leads` leads in a week with
/// multiplier `mult`; `None` if its response curve cannot deliver them.
fn budget_for(model: &Model, c: usize, leads: f64, mult: f64) -> Option<f64> {
    match &model.channels[c].volume {
        Volume::Leads(_) | Volume::Schedule { .. } => Some(0.0),
        Volume::Budget { curve, .. } => {
            if leads <= 0.0 || mult <= 0.0 {
                Some(0.0)
            } else {
                curve.budget_for(leads / mult)
            }
        }
    }
}

/// Makes the plan of a scenario; when it is coarser than weekly, also the
/// weekly inverse, to say what the coarser plan costs.
pub fn plan(s: &Scenario, opts: &PlanOptions) -> Result<Plan, PlanError> {
    plan_with(s, opts, &Kernels::of(s))
}

/// What one lead of each channel is expected to do, week by week after it
/// arrives ([`channel_response`] over [`KERNEL_WEEKS`]). They depend on the
/// model only, not on the target or the options, so plans of one scenario
/// at several aims share them.
pub struct Kernels {
    responses: Vec<Response>,
}

impl Kernels {
    pub fn of(s: &Scenario) -> Kernels {
        let m = &s.model;
        let params = m.param_means();
        Kernels {
            responses: (0..m.channels.len())
                .map(|c| channel_response(m, c, &params, KERNEL_WEEKS))
                .collect(),
        }
    }
}

/// [`plan`] with the scenario's kernels already computed ([`Kernels::of`]
/// the same scenario).
pub fn plan_with(s: &Scenario, opts: &PlanOptions, k: &Kernels) -> Result<Plan, PlanError> {
    let mut p = plan_once(s, opts, k)?;
    if opts.granularity != Granularity::Week {
        let exact = plan_once(
            s,
            &PlanOptions {
                granularity: Granularity::Week,
                ..*opts
            },
            k,
        )?;
        p.granularity_cost = Some(GranularityCost {
            granularity: opts.granularity,
            budget: p.totals.spend,
            budget_exact: exact.totals.spend,
            leads: p.totals.leads,
            leads_exact: exact.totals.leads,
            max_weekly_error: p.fit.max_weekly_error_outside_gap,
            max_weekly_error_exact: exact.fit.max_weekly_error_outside_gap,
            max_week_to_week_change: swing(&p),
            max_week_to_week_change_exact: swing(&exact),
        });
    }
    Ok(p)
}

/// Largest relative change of total leads from one week to the next, over
/// weeks that buy leads.
fn swing(p: &Plan) -> f64 {
    p.weeks
        .windows(2)
        .filter(|w| w[0].volumes.leads > 1e-9 && w[1].volumes.leads > 1e-9)
        .map(|w| (w[1].volumes.leads / w[0].volumes.leads - 1.0).abs())
        .fold(0.0, f64::max)
}

fn plan_once(s: &Scenario, opts: &PlanOptions, k: &Kernels) -> Result<Plan, PlanError> {
    let m = &s.model;
    let params = m.param_means();
    let h = s.weeks() as usize;
    let nch = m.channels.len();
    let nst = m.stages.len();
    let mut warnings = m.warnings.clone();

    let responses = &k.responses;
    // Expected revenue per win of each channel's leads (the mean deal size,
    // shifted by lead quality): the value of one of its opportunities.
    let per_win: Vec<f64> = responses
        .iter()
        .zip(&m.channels)
        .map(|(r, c)| {
            let wins: f64 = r.wins.iter().sum();
            if wins > 0.0 {
                r.revenue.iter().sum::<f64>() / wins
            } else {
                c.funnel.deal_size.mean()
            }
        })
        .collect();
    // From here on a response's `revenue` is the target's metric.
    let metric = s.target.metric;
    let responses: Vec<Response> = responses
        .iter()
        .map(|r| as_goal(r.clone(), metric))
        .collect();
    let scaled: Vec<Option<f64>> = s.mix.shares.clone();

    // What a lead of each channel costs at the scenario's volumes: its
    // cost per lead and its media budget per lead.
    let cost_per_lead: Vec<f64> = m
        .channels
        .iter()
        .map(|c| {
            let media = match &c.volume {
                Volume::Budget {
                    per_week, curve, ..
                } => per_week / curve.leads(*per_week).max(1e-9),
                _ => 0.0,
            };
            c.cost_per_lead + media
        })
        .collect();

    // The span of the responses of the scaled channels.
    let mut span = 1;
    for c in 0..nch {
        let total: f64 = responses[c].wins.iter().sum();
        if total <= 0.0 {
            continue;
        }
        let mut acc = 0.0;
        for (d, w) in responses[c].wins.iter().enumerate() {
            acc += w;
            if acc >= SUPPORT_MASS * total {
                span = span.max(d + 1);
                break;
            }
        }
    }
    let scaled_wins: f64 = (0..nch)
        .filter(|c| scaled[*c].is_some())
        .map(|c| responses[c].wins.iter().sum::<f64>())
        .sum();
    if scaled_wins <= 0.0 {
        let names: Vec<&str> = (0..nch)
            .filter(|c| scaled[*c].is_some())
            .map(|c| m.channels[c].name.as_str())
            .collect();
        return Err(PlanError::NoWins(names.join(", ")));
    }
    // A lead from week −span+1 is the earliest that can close inside; the
    // weeks after the horizon are planned only when asked.
    let pre = span.saturating_sub(1).max(1);
    let post = if opts.beyond_horizon { span } else { 0 };
    let rows = h + post;
    let cols = pre + h + post;
    let week_of = |u: usize| u as i64 - pre as i64;

    // Targets: the horizon's (times the aim), then the last period's mean
    // weekly rate.
    let last_rate = s
        .calendar
        .periods(s.target.period)
        .last()
        .zip(s.target.periods.last())
        .map_or(0.0, |(p, a)| {
            a / f64::from((p.weeks.end - p.weeks.start).max(1))
        });
    let target = |t: usize| opts.aim * if t < h { s.target.weekly[t] } else { last_rate };

    // Open pipeline: group what starts alike, one response each.
    let mut groups: BTreeMap<PipelineKey, (crate::model::OpenDeal, f64, usize)> = BTreeMap::new();
    for d in &m.pipeline {
        let e = groups
            .entry(PipelineKey::of(d))
            .or_insert_with(|| (d.clone(), 0.0, 0));
        e.1 += d.amount;
        e.2 += 1;
    }
    // Closes pushed to quarter ends, per channel, on every flow.
    let push = pushes(s, &params, rows + PUSH_REACH);
    let mut pipe = Flow::zeros(nst, rows);
    for (deal, amount, count) in groups.into_values() {
        let deal = crate::model::OpenDeal {
            amount: amount / count as f64,
            ..deal
        };
        let r = as_goal(deal_response(m, &deal, &params, rows + PUSH_REACH), metric);
        let mut one = Flow::zeros(nst, rows + PUSH_REACH);
        one.add(&r, 0, count as f64);
        one.push(&push[deal.channel.unwrap_or(0)], rows);
        pipe.merge(&one);
    }

    // Held channels keep their volume from week 0.
    let mut held = Flow::zeros(nst, rows);
    let mut held_leads = vec![vec![0.0; rows]; nch];
    for c in (0..nch).filter(|c| scaled[*c].is_none()) {
        let mut own = Flow::zeros(nst, rows + PUSH_REACH);
        for (t, slot) in held_leads[c].iter_mut().enumerate() {
            *slot = m.channels[c].expected_leads(t as u32, &s.calendar);
            own.add(&responses[c], t as i64, *slot);
        }
        own.push(&push[c], rows);
        held.merge(&own);
    }

    // Lead shares of the scaled channels per column, then (for a budget
    // mix) adjusted until the budget shares match. A channel's weekly
    // multiplier is taken relative to its mean over the horizon, so that a
    // channel active a few weeks a year gets its whole share in those weeks.
    let mean_mult: Vec<f64> = (0..nch)
        .map(|c| (0..h).map(|t| multiplier(s, c, t as i64)).sum::<f64>() / h as f64)
        .collect();
    // For a budget mix, `alpha` scales each channel's lead weight until the
    // horizon's spend shares match the mix (a fixed point on one number per
    // channel; spend does not grow linearly with leads on a response curve).
    let lead_shares = |alpha: &[f64]| -> (Vec<Vec<f64>>, Vec<bool>) {
        let weight = |c: usize, wk: i64| -> f64 {
            match scaled[c] {
                Some(sh) if mean_mult[c] > 0.0 => {
                    alpha[c] * sh * multiplier(s, c, wk) / mean_mult[c]
                }
                _ => 0.0,
            }
        };
        let mut shares = vec![vec![0.0; nch]; cols];
        let mut pinned = vec![false; cols];
        for u in 0..cols {
            let wsum: f64 = (0..nch).map(|c| weight(c, week_of(u))).sum();
            if wsum <= 0.0 {
                pinned[u] = true;
                continue;
            }
            for c in 0..nch {
                shares[u][c] = weight(c, week_of(u)) / wsum;
            }
        }
        (shares, pinned)
    };
    let b = DVector::from_fn(rows, |t, _| target(t) - pipe.revenue[t] - held.revenue[t]);
    let periods = s.calendar.periods(s.target.period);
    let mut alpha = vec![1.0; nch];
    // A channel's leads of a week that cannot pay for themselves inside
    // the horizon are not bought, unless the plan looks beyond it: the
    // other channels take its share that week.
    let pays = |c: usize, u: usize| -> bool {
        let wk = week_of(u);
        if opts.beyond_horizon || wk < 0 || wk as usize >= h {
            return true;
        }
        let left = (h - wk as usize).min(KERNEL_WEEKS);
        let inside: f64 = responses[c].revenue[..left].iter().sum();
        // A count has no price: any of it is worth a lead.
        inside > 1e-12 && (!metric.is_money() || inside > cost_per_lead[c])
    };
    let lead_shares = |alpha: &[f64]| -> (Vec<Vec<f64>>, Vec<bool>) {
        let (mut shares, mut pinned) = lead_shares(alpha);
        for u in 0..cols {
            for c in 0..nch {
                if shares[u][c] > 0.0 && !pays(c, u) {
                    shares[u][c] = 0.0;
                }
            }
            let total: f64 = shares[u].iter().sum();
            if total > 0.0 {
                shares[u].iter_mut().for_each(|x| *x /= total);
            } else {
                pinned[u] = true;
            }
        }
        (shares, pinned)
    };
    let groups = column_groups(s, opts.granularity, pre, h, cols);
    let (mut shares, mut pinned) = lead_shares(&alpha);
    let solve = |shares: &[Vec<f64>], pinned: &[bool]| {
        solve_schedule(
            &responses, &push, shares, pinned, &b, &periods, pre, h, rows, &groups,
        )
    };
    let mut x = solve(&shares, &pinned);
    if s.mix.basis == MixBasis::Budget {
        let mut worst = f64::INFINITY;
        for _ in 0..BUDGET_ITERATIONS {
            // Variable spend (media budget and per-lead cost) per channel.
            let mut spend = vec![0.0; nch];
            for (c, sp) in spend
                .iter_mut()
                .enumerate()
                .filter(|(c, _)| scaled[*c].is_some())
            {
                for t in 0..h {
                    let u = pre + t;
                    let leads = shares[u][c] * x[u];
                    let mult = multiplier(s, c, t as i64);
                    *sp += budget_for(m, c, leads, mult).unwrap_or(f64::MAX / 1e9)
                        + leads * m.channels[c].cost_per_lead;
                }
            }
            let total: f64 = spend.iter().sum();
            if total <= 0.0 {
                break;
            }
            worst = 0.0;
            for c in 0..nch {
                if let (Some(want), true) = (scaled[c], spend[c] > 0.0) {
                    let have = spend[c] / total;
                    worst = f64::max(worst, (have - want).abs());
                    alpha[c] *= (want / have).sqrt();
                }
            }
            if worst < 1e-6 {
                break;
            }
            (shares, pinned) = lead_shares(&alpha);
            x = solve(&shares, &pinned);
        }
        if worst >= 1e-4 {
            warnings.push(format!(
                "the budget mix was matched to within {:.2} points of each share, not exactly",
                100.0 * worst
            ));
        }
    }

    // Forward flows of the schedule: inside the horizon (new), before it
    // (gap), per channel.
    let mut leads_c = vec![vec![0.0; cols]; nch];
    for u in 0..cols {
        for c in 0..nch {
            leads_c[c][u] = shares[u][c] * x[u];
        }
    }
    for c in 0..nch {
        if scaled[c].is_none() {
            for t in 0..rows {
                leads_c[c][pre + t] = held_leads[c][t];
            }
        }
    }
    let mut new = Flow::zeros(nst, h);
    let mut gap = Flow::zeros(nst, h);
    let long = h + PUSH_REACH;
    let mut per_channel: Vec<Flow> = (0..nch).map(|_| Flow::zeros(nst, long)).collect();
    for c in 0..nch {
        let mut before = Flow::zeros(nst, long);
        for u in 0..cols {
            let v = leads_c[c][u];
            let wk = week_of(u);
            if wk < 0 {
                before.add(&responses[c], wk, v);
            } else if (wk as usize) < h {
                per_channel[c].add(&responses[c], wk, v);
            }
        }
        before.push(&push[c], h);
        per_channel[c].push(&push[c], h);
        gap.merge(&before);
        new.merge(&per_channel[c]);
    }

    let last_lead_week = (0..h)
        .rev()
        .find(|t| (0..nch).any(|c| scaled[c].is_some() && leads_c[c][pre + t] > 1e-9))
        .map(|t| t as u32);

    // Spend by channel and week.
    let mut spend_c = vec![vec![0.0; h]; nch];
    let mut ceiling_weeks: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for c in 0..nch {
        let ch = &m.channels[c];
        for t in 0..h {
            let leads = leads_c[c][pre + t];
            spend_c[c][t] = if scaled[c].is_none() {
                ch.spend(t as u32, leads)
            } else if !ch.is_active(t as u32) {
                0.0
            } else {
                let mult = ch.multiplier(t as u32, &s.calendar);
                let media = match budget_for(m, c, leads, mult) {
                    Some(b) => b,
                    None => {
                        ceiling_weeks.entry(c).or_default().push(t as u32);
                        match &ch.volume {
                            Volume::Budget { curve, .. } => curve
                                .budget_for(0.999 * curve.leads(f64::MAX / 1e6))
                                .unwrap_or(0.0),
                            Volume::Leads(_) | Volume::Schedule { .. } => 0.0,
                        }
                    }
                };
                ch.fixed_cost_per_week + media + leads * ch.cost_per_lead
            };
        }
    }
    for (c, weeks) in &ceiling_weeks {
        warnings.push(format!(
            "channel `{}` cannot buy the leads the plan needs in {} week(s) (first: week {}): its response \
             curve tops out; the spend shown is for 99.9% of its ceiling",
            m.channels[*c].name,
            weeks.len(),
            weeks[0]
        ));
    }

    // Weeks.
    let quarters_cal = s.calendar.periods(PeriodKind::Quarter);
    let months_cal = s.calendar.periods(PeriodKind::Month);
    let label_of = |ps: &[crate::calendar::Period], t: usize| {
        ps.iter()
            .find(|p| p.weeks.contains(&(t as u32)))
            .map_or(String::new(), |p| p.label.clone())
    };
    let team = match &m.capacity {
        Capacity::Team(t) => Some(t),
        Capacity::Unlimited => None,
    };
    let mut weeks = Vec::with_capacity(h);
    for t in 0..h {
        let mut v = volumes_at(m, &new, t);
        let p = volumes_at(m, &pipe, t);
        v.mqls += p.mqls;
        v.sals += p.sals;
        v.sqls += p.sqls;
        v.opportunities += p.opportunities;
        v.wins += p.wins;
        v.spend = (0..nch).map(|c| spend_c[c][t]).sum();
        let revenue_new = new.revenue[t];
        let revenue = pipe.revenue[t] + revenue_new;
        let g = gap.revenue[t];
        let (touches_needed, touches_available, reps, reps_needed, over) = match team {
            Some(team) => {
                let need = new.touches[t];
                let have = team.touches_at(t as u32);
                (
                    Some(need),
                    Some(have),
                    Some(team.reps_at(t as u32)),
                    Some((need / team.touches_per_rep_week * 100.0).ceil() / 100.0),
                    need > have * (1.0 + 1e-9),
                )
            }
            None => (None, None, None, None, false),
        };
        weeks.push(PlanWeek {
            week: t as u32,
            date: s.calendar.date_of_week(t as u32).map(|d| d.to_string()),
            quarter: label_of(&quarters_cal, t),
            month: label_of(&months_cal, t),
            target: opts.aim * s.target.weekly[t],
            revenue,
            revenue_pipeline: pipe.revenue[t],
            revenue_new,
            gap: g,
            shortfall: opts.aim * s.target.weekly[t] - revenue - g,
            volumes: v,
            leads_by_channel: (0..nch)
                .map(|c| (m.channels[c].name.clone(), leads_c[c][pre + t]))
                .collect(),
            spend_by_channel: (0..nch)
                .map(|c| (m.channels[c].name.clone(), spend_c[c][t]))
                .collect(),
            touches_needed,
            touches_available,
            reps,
            reps_needed,
            over_capacity: over,
        });
    }

    let rollup = |ps: &[crate::calendar::Period]| -> Vec<PeriodRow> {
        ps.iter()
            .map(|p| {
                let mut row = PeriodRow {
                    label: p.label.clone(),
                    first_week: p.weeks.start,
                    last_week: p.weeks.end - 1,
                    target: 0.0,
                    revenue: 0.0,
                    revenue_pipeline: 0.0,
                    revenue_new: 0.0,
                    gap: 0.0,
                    shortfall: 0.0,
                    volumes: Volumes::default(),
                };
                for w in &weeks[p.weeks.start as usize..p.weeks.end as usize] {
                    row.target += w.target;
                    row.revenue += w.revenue;
                    row.revenue_pipeline += w.revenue_pipeline;
                    row.revenue_new += w.revenue_new;
                    row.gap += w.gap;
                    row.shortfall += w.shortfall;
                    row.volumes.add(&w.volumes);
                }
                row
            })
            .collect()
    };
    let quarters = rollup(&quarters_cal);
    let months = rollup(&months_cal);
    let mut totals = Volumes::default();
    for w in &weeks {
        totals.add(&w.volumes);
    }
    let revenue: f64 = weeks.iter().map(|w| w.revenue).sum();
    let revenue_pipeline: f64 = weeks.iter().map(|w| w.revenue_pipeline).sum();
    let revenue_new: f64 = weeks.iter().map(|w| w.revenue_new).sum();

    // Channels.
    let channels: Vec<PlanChannel> = (0..nch)
        .map(|c| {
            let f = &per_channel[c];
            let leads: f64 = (0..h).map(|t| leads_c[c][pre + t]).sum();
            let spend: f64 = spend_c[c].iter().sum();
            let sum_role = |r: Role| m.stage_of(r).map_or(0.0, |j| f.first[j].iter().sum());
            PlanChannel {
                name: m.channels[c].name.clone(),
                source: m.channels[c].source,
                scaled: scaled[c].is_some(),
                share: scaled[c],
                leads,
                spend,
                cost_per_lead: (leads > 0.0).then(|| spend / leads),
                mqls: sum_role(Role::Mql),
                opportunities: sum_role(Role::Opportunity),
                wins: f.wins.iter().sum(),
                revenue: f.revenue.iter().sum(),
            }
        })
        .collect();

    // The gap.
    let gap_weeks: Vec<f64> = gap.revenue.clone();
    let gap_total: f64 = gap_weeks.iter().sum();
    let closed_by_week = (0..h)
        .find(|t| (*t..h).all(|u| gap_weeks[u] <= GAP_WEEK * opts.aim * s.target.weekly[u]))
        .map(|t| t as u32);
    let pre_leads: Vec<(i64, f64)> = (0..pre)
        .map(|u| (week_of(u), (0..nch).map(|c| leads_c[c][u]).sum::<f64>()))
        .filter(|(_, l)| *l > 1e-9)
        .collect();
    let mut inside = Volumes::default();
    for t in 0..h {
        inside.add(&volumes_at(m, &gap, t));
    }
    inside.leads = 0.0;
    let pipeline_gap = PipelineGap {
        total: gap_total,
        periods: periods
            .iter()
            .map(|p| PeriodAmount {
                label: p.label.clone(),
                amount: gap_weeks[p.weeks.start as usize..p.weeks.end as usize]
                    .iter()
                    .sum(),
            })
            .collect(),
        weeks: gap_weeks,
        closed_by_week,
        pre_horizon: PreHorizon {
            from_week: pre_leads.first().map_or(0, |p| p.0),
            leads: pre_leads.iter().map(|p| p.1).sum(),
            leads_by_week: pre_leads,
            inside,
        },
    };

    // The last week a new lead can still close inside the horizon.
    let first_win_lag = (0..nch)
        .filter_map(|c| responses[c].wins.iter().position(|w| *w > 1e-12))
        .min();
    let last_useful_lead_week =
        first_win_lag.and_then(|d| (h as i64 - 1 - d as i64).try_into().ok());

    // Headline.
    let split = |src: LeadSource| {
        let cs: Vec<&PlanChannel> = channels.iter().filter(|c| c.source == src).collect();
        SourceSplit {
            leads: cs.iter().map(|c| c.leads).sum(),
            wins: cs.iter().map(|c| c.wins).sum(),
            revenue: cs.iter().map(|c| c.revenue).sum(),
            spend: cs.iter().map(|c| c.spend).sum(),
        }
    };
    let new_wins: f64 = new.wins.iter().sum();
    let new_opps: f64 = m
        .stage_of(Role::Opportunity)
        .map_or(0.0, |j| new.first[j].iter().sum());
    let open_pipeline: f64 = m.pipeline.iter().map(|d| d.amount).sum();
    let opp_value: f64 = m.stage_of(Role::Opportunity).map_or(0.0, |j| {
        (0..nch)
            .map(|c| per_channel[c].first[j].iter().sum::<f64>() * per_win[c])
            .sum()
    });
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    let sales_cost: f64 = match team {
        Some(t) => (0..h).map(|w| t.cost(w as u32, new.touches[w])).sum(),
        None => 0.0,
    };
    let first_new = |r: Role| {
        m.stage_of(r)
            .map_or(0.0, |j| new.first[j].iter().sum::<f64>())
    };
    let headline = Headline {
        budget: totals.spend,
        sales_cost,
        cost_per_lead: crate::metrics::cost_per_lead(totals.spend, totals.leads),
        cost_per_opportunity: ratio(totals.spend, new_opps),
        cac: crate::metrics::cac(totals.spend + sales_cost, new_wins),
        cac_marketing: crate::metrics::cac(totals.spend, new_wins),
        pipeline_coverage: if metric.is_money() {
            crate::metrics::coverage(open_pipeline + opp_value, s.target.total)
        } else {
            None
        },
        lead_acceptance_rate: crate::metrics::acceptance_rate(
            first_new(Role::Sal),
            first_new(Role::Mql),
        ),
        open_pipeline,
        marketing_sourced: split(LeadSource::Marketing),
        sales_sourced: split(LeadSource::Sales),
    };

    let capacity = team.map(|_| CapacityCheck {
        weeks_over: weeks
            .iter()
            .filter(|w| w.over_capacity)
            .map(|w| w.week)
            .collect(),
        max_reps_needed: weeks
            .iter()
            .filter_map(|w| w.reps_needed)
            .fold(0.0, f64::max),
        max_touches_needed: weeks
            .iter()
            .filter_map(|w| w.touches_needed)
            .fold(0.0, f64::max),
    });
    if let Some(cap) = &capacity
        && !cap.weeks_over.is_empty()
    {
        warnings.push(format!(
            "sales capacity is short in {} week(s): the plan's MQLs ask for more SLA touches than the team can \
             make, so acceptance will be lower than planned (up to {:.1} reps needed)",
            cap.weeks_over.len(),
            cap.max_reps_needed
        ));
    }

    let err = |short: f64, target: f64| {
        if target > 0.0 {
            (short / target).abs()
        } else {
            0.0
        }
    };
    let fit = Fit {
        response_weeks: span as u32,
        pre_horizon_weeks: pre as u32,
        post_horizon_weeks: post as u32,
        max_weekly_error: weeks
            .iter()
            .map(|w| err(w.shortfall, w.target))
            .fold(0.0, f64::max),
        max_weekly_error_outside_gap: weeks
            .iter()
            .filter(|w| w.gap <= GAP_WEEK * w.target)
            .map(|w| err(w.shortfall, w.target))
            .fold(0.0, f64::max),
        gap_weeks: weeks.iter().filter(|w| w.gap > GAP_WEEK * w.target).count() as u32,
        max_period_error: match s.target.period {
            PeriodKind::Quarter => &quarters,
            PeriodKind::Month => &months,
        }
        .iter()
        .map(|p| err(p.shortfall, p.target))
        .fold(0.0, f64::max),
    };
    if fit.max_period_error > 1e-3 {
        warnings.push(format!(
            "the schedule misses a period's target by up to {:.2}%: the open pipeline and the held channels \
             alone bring more than the target in some weeks, or no lead volume can follow the target's shape",
            100.0 * fit.max_period_error
        ));
    }

    Ok(Plan {
        scenario: s.name.clone(),
        metric: metric.name(m),
        horizon_weeks: h as u32,
        start_date: s.calendar.start.map(|d| d.to_string()),
        period: s.target.period,
        target: s.target.total,
        weeks,
        quarters,
        months,
        totals,
        revenue,
        revenue_pipeline,
        revenue_new,
        channels,
        pipeline_gap,
        last_useful_lead_week,
        headline,
        capacity,
        fit,
        granularity: opts.granularity,
        granularity_cost: None,
        last_lead_week,
        aim: opts.aim,
        simulated: None,
        sizing: None,
        warnings,
    })
}

/// Solves for the total scaled leads per column (see the module docs).
#[allow(clippy::too_many_arguments)]
fn solve_schedule(
    responses: &[Response],
    push: &[Option<Push>],
    shares: &[Vec<f64>],
    pinned: &[bool],
    b: &DVector<f64>,
    periods: &[crate::calendar::Period],
    pre: usize,
    h: usize,
    rows: usize,
    groups: &[usize],
) -> DVector<f64> {
    let cols = shares.len();
    let entry = |c: usize, t: usize, u: usize| -> f64 {
        let d = t as i64 - (u as i64 - pre as i64);
        if pinned[u] || d < 0 || d as usize >= KERNEL_WEEKS {
            return 0.0;
        }
        shares[u][c] * responses[c].revenue[d as usize]
    };
    let mut weekly: DMatrix<f64> = DMatrix::zeros(rows, cols);
    for c in 0..responses.len() {
        if shares.iter().all(|sh| sh[c] <= 0.0) {
            continue;
        }
        for u in 0..cols {
            let len = if push[c].is_some() {
                rows + PUSH_REACH
            } else {
                rows
            };
            let mut column: Vec<f64> = (0..len).map(|t| entry(c, t, u)).collect();
            if let Some((targets, p)) = &push[c] {
                push_to_quarter_end(&mut column, targets, *p);
            }
            column.truncate(rows);
            for (t, x) in column.into_iter().enumerate() {
                weekly[(t, u)] += x;
            }
        }
    }
    // Weekly rows, then one row per period of the horizon.
    let np = periods.len();
    let a = DMatrix::from_fn(rows + np, cols, |i, u| {
        if i < rows {
            weekly[(i, u)]
        } else {
            let p = &periods[i - rows];
            (p.weeks.start as usize..p.weeks.end as usize)
                .map(|t| weekly[(t, u)])
                .sum()
        }
    });
    let bb = DVector::from_fn(rows + np, |i, _| {
        if i < rows {
            b[i]
        } else {
            let p = &periods[i - rows];
            (p.weeks.start as usize..p.weeks.end as usize)
                .map(|t| b[t])
                .sum()
        }
    });

    let w = DVector::from_fn(rows + np, |i, _| {
        if i >= rows {
            PERIOD_WEIGHT
        } else if i >= h {
            POST_WEIGHT
        } else {
            1.0
        }
    });
    // Columns of a group share one level: solve for the levels, the sum
    // of their free columns, then spread it back.
    let ngroups = groups.iter().max().map_or(0, |g| g + 1);
    let ag = DMatrix::from_fn(rows + np, ngroups, |i, g| {
        (0..cols)
            .filter(|u| groups[*u] == g && !pinned[*u])
            .map(|u| a[(i, u)])
            .sum()
    });
    // The smoothness weight, relative to the weekly rows of the levels'
    // columns (so that a coarser grid is smoothed as much as a weekly one).
    let diag: f64 = (0..ngroups)
        .map(|g| ag.column(g).rows(0, rows).norm_squared())
        .sum::<f64>()
        / ngroups.max(1) as f64;
    let lambda = SMOOTHING * diag;
    let group_pinned: Vec<bool> = (0..ngroups)
        .map(|g| (0..cols).all(|u| groups[u] != g || pinned[u]))
        .collect();
    let z = solve::Problem::new(&ag, &bb, &w, lambda).solve_nonnegative(&group_pinned);
    DVector::from_fn(cols, |u, _| if pinned[u] { 0.0 } else { z[groups[u]] })
}

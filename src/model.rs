//! The checked revenue-cycle model: what the planner and the engine use.
//!
//! [`build_model`] and [`build_scenario`] turn the file types of
//! [`crate::spec`] into these types, checking everything that involves more
//! than one value: stage names and roles, gates, recycle targets, per-channel
//! overrides, SLA tiers, that every recycle loop ends (with linear algebra,
//! see [`crate::chain`]), targets against the calendar. All problems are
//! collected. Once built, a model is valid: its users never re-check it.
//!
//! Every probability of the model is a parameter in [`Model::params`],
//! addressed by [`ParamId`]. The planner uses their means; the engine draws
//! the uncertain ones once per trial. A channel that does not override a
//! rate shares the model's parameter, so one draw applies to all of them.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use crate::calendar::{Calendar, PeriodKind, WEEKS_PER_YEAR};
use crate::chain::Chain;
use crate::diag::{Problem, suggest};
use crate::dist::{Delay, Dist, Prob};
use crate::read::{Loc, Spanned};
use crate::spec::{
    AcceptanceSpec, CapacitySpec, ChannelSpec, DealsSpec, GateKind, ModelSpec, OpenDealSpec,
    RecycleSpec, ResponseSpec, ScenarioSpec, StageSpec, Trials,
};
use crate::timing::{DelayDraws, DelaySpec};

pub const MAX_STAGES: usize = 16;
pub const MAX_CHANNELS: usize = 64;
pub const MAX_TIERS: usize = 16;
pub const MAX_HIRES: usize = 1000;
pub const MAX_VARIANTS: usize = 64;
pub const MAX_OPEN_DEALS: usize = 250_000;
pub const MAX_NAME_LEN: usize = 64;
/// Largest mean deal size: a trial sums up to millions of deals, and the
/// sums must stay exact to the cent.
pub const MAX_DEAL: f64 = 1e10;

/// Index into [`Model::params`].
pub type ParamId = usize;

/// A probability of the model, with the key path it was given at.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub key: String,
    pub prob: Prob,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Lead,
    Mql,
    Sal,
    Sql,
    Opportunity,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Lead,
        Role::Mql,
        Role::Sal,
        Role::Sql,
        Role::Opportunity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Lead => "lead",
            Role::Mql => "mql",
            Role::Sal => "sal",
            Role::Sql => "sql",
            Role::Opportunity => "opportunity",
        }
    }

    fn from_name(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: String,
    pub role: Option<Role>,
}

/// How a lead leaves a stage forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    /// Iff its score ≥ the MQL threshold.
    Score,
    /// By the acceptance curve at its score, thinned by sales capacity.
    Acceptance,
    /// With a probability.
    Rate(ParamId),
    /// The deal closes won with this probability (the last stage).
    Win(ParamId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Recycle {
    pub to: usize,
    pub p: ParamId,
    pub delay: Delay,
}

/// How leads leave one stage: after `delay`, advance; otherwise recycle
/// (each `recycle` with its probability) or drop out.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub advance: Advance,
    /// The delay; when its parameters are uncertain, the mixture of
    /// `draws`, one of which each simulated trial uses.
    pub delay: Delay,
    pub draws: Draws,
    pub recycle: Vec<Recycle>,
}

/// The alternatives of an uncertain delay (see [`crate::timing`]).
pub type Draws = Option<Arc<DelayDraws>>;

#[derive(Clone, Debug, PartialEq)]
pub struct Slip {
    pub p: ParamId,
    pub delay: Delay,
}

/// A channel's whole path through the stages, with its own overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct Funnel {
    /// One per stage; the last one's advance is [`Advance::Win`] and its
    /// delay the sales cycle of deals that are won.
    pub transitions: Vec<Transition>,
    /// The sales cycle of deals that are lost (the won cycle when the
    /// model does not say otherwise).
    pub lost_cycle: Delay,
    pub lost_draws: Draws,
    pub deal_size: Dist,
    pub slip: Option<Slip>,
    pub quarter_end: Option<QuarterEnd>,
}

/// The quarter-end push: a deal due in the first `weeks` weeks of a
/// quarter closes in the last week of the quarter before with probability
/// `p` (decided when its cycle starts).
#[derive(Clone, Debug, PartialEq)]
pub struct QuarterEnd {
    pub p: ParamId,
    pub weeks: u32,
}

impl Funnel {
    /// Whether a delay of this funnel has uncertain parameters.
    pub fn has_uncertain_delays(&self) -> bool {
        self.lost_draws.is_some() || self.transitions.iter().any(|t| t.draws.is_some())
    }

    /// The close stage's index.
    pub fn close_stage(&self) -> usize {
        self.transitions.len() - 1
    }

    /// The sales cycle of a deal that will be won, or lost.
    pub fn cycle(&self, won: bool) -> &Delay {
        if won {
            &self.transitions[self.close_stage()].delay
        } else {
            &self.lost_cycle
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum AcceptanceCurve {
    Constant(ParamId),
    Logistic {
        max: ParamId,
        midpoint: f64,
        scale: f64,
    },
    Table {
        scores: Vec<f64>,
        p: Vec<f64>,
    },
}

impl AcceptanceCurve {
    /// Acceptance at a score, when the SLA follow-up is met.
    pub fn at(&self, score: f64, params: &[f64]) -> f64 {
        match self {
            AcceptanceCurve::Constant(p) => params[*p],
            AcceptanceCurve::Logistic {
                max,
                midpoint,
                scale,
            } => params[*max] / (1.0 + crate::math::exp(-(score - midpoint) / scale)),
            AcceptanceCurve::Table { scores, p } => {
                let i = scores.partition_point(|s| *s <= score);
                if i == 0 {
                    p[0]
                } else if i == scores.len() {
                    p[i - 1]
                } else {
                    let t = (score - scores[i - 1]) / (scores[i] - scores[i - 1]);
                    p[i - 1] + t * (p[i] - p[i - 1])
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Nurture {
    pub weeks: u32,
    pub p_engage: ParamId,
    pub lift: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scoring {
    pub threshold: f64,
    pub range: (f64, f64),
    pub acceptance: AcceptanceCurve,
    pub nurture: Option<Nurture>,
    pub quality: Option<Quality>,
}

/// Lead quality: a lead's score shifts the rates of the stages after sales
/// acceptance, its win rate (in log-odds) and its deal size (in logs), by
/// so much per 10 points away from `reference`.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    pub reference: f64,
    /// Log-odds per 10 points of each stage's advance (or win) rate, by
    /// stage index; 0 for the gates that judge a score themselves.
    pub per_10: Vec<f64>,
    /// Log deal size per 10 points.
    pub size_per_10: f64,
}

/// `p` with its log-odds shifted by `delta` (0 and 1 stay put).
pub fn shift_log_odds(p: f64, delta: f64) -> f64 {
    if delta == 0.0 || p <= 0.0 || p >= 1.0 {
        return p;
    }
    let e = crate::math::exp(delta);
    p * e / (1.0 - p + p * e)
}

impl Quality {
    /// Tens of points from the reference (0 for a lead with no score, such
    /// as an open deal: it stands at the reference).
    fn tens(&self, score: f64) -> f64 {
        if score.is_nan() {
            0.0
        } else {
            (score - self.reference) / 10.0
        }
    }

    /// The rate of stage `stage` for a lead of this score.
    pub fn rate(&self, stage: usize, p: f64, score: f64) -> f64 {
        shift_log_odds(p, self.per_10[stage] * self.tens(score))
    }

    /// The deal-size multiplier of a lead of this score.
    pub fn size_factor(&self, score: f64) -> f64 {
        crate::math::exp(self.size_per_10 * self.tens(score))
    }

    /// Every parameter with the rates of `funnel` shifted for this score:
    /// what the chain of a lead of this score sees.
    pub fn lifted(&self, funnel: &Funnel, params: &[f64], score: f64) -> Vec<f64> {
        let mut out = params.to_vec();
        for (i, t) in funnel.transitions.iter().enumerate() {
            if let Advance::Rate(p) | Advance::Win(p) = t.advance {
                out[p] = self.rate(i, params[p], score);
            }
        }
        out
    }
}

impl Scoring {
    /// Parameters as a lead of this score sees them (the model's when there
    /// is no quality lift).
    pub fn params_for<'a>(
        &self,
        funnel: &Funnel,
        params: &'a [f64],
        score: f64,
    ) -> std::borrow::Cow<'a, [f64]> {
        match &self.quality {
            Some(q) => std::borrow::Cow::Owned(q.lifted(funnel, params, score)),
            None => std::borrow::Cow::Borrowed(params),
        }
    }

    /// Deal-size multiplier for a lead of this score.
    pub fn size_factor(&self, score: f64) -> f64 {
        self.quality.as_ref().map_or(1.0, |q| q.size_factor(score))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tier {
    pub name: String,
    pub min_score: f64,
    pub touches: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hire {
    pub week: u32,
    pub count: u32,
    pub ramp_weeks: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SalesTeam {
    /// Fully ramped reps at week 0 (0 when `unlimited`).
    pub reps: f64,
    /// As many reps as the SLA needs every week: no MQL ever gets fewer
    /// touches than its tier asks, and reps are paid per touch made.
    pub unlimited: bool,
    pub touches_per_rep_week: f64,
    pub contact_p: ParamId,
    /// Sorted by `min_score`, lowest first.
    pub tiers: Vec<Tier>,
    pub hires: Vec<Hire>,
    /// (week, count): reps gone from that week on.
    pub departures: Vec<(u32, u32)>,
    pub cost_per_rep_week: f64,
    pub cost_per_touch: f64,
}

/// P(at least one of `touches` touches reaches the lead), each reaching it
/// with probability `contact`; fractional touches interpolate the power.
pub fn p_reach(touches: f64, contact: f64) -> f64 {
    if touches <= 0.0 {
        0.0
    } else {
        1.0 - (1.0 - contact).powf(touches)
    }
}

impl SalesTeam {
    /// Reps at work in week `w`, counting a ramping hire as a fraction
    /// (infinite for an unlimited team).
    pub fn reps_at(&self, w: u32) -> f64 {
        if self.unlimited {
            return f64::INFINITY;
        }
        self.headcount(w, true)
    }

    /// Reps on the payroll in week `w`: ramping hires count in full.
    pub fn paid_reps_at(&self, w: u32) -> f64 {
        if self.unlimited {
            return 0.0;
        }
        self.headcount(w, false)
    }

    /// The team's cost in week `w` for `touches` touches made.
    pub fn cost(&self, w: u32, touches: f64) -> f64 {
        self.paid_reps_at(w) * self.cost_per_rep_week + touches * self.cost_per_touch_made()
    }

    /// What one touch made costs beyond the payroll: with an unlimited team
    /// the payroll itself is paid per touch.
    pub fn cost_per_touch_made(&self) -> f64 {
        if self.unlimited {
            self.cost_per_touch + self.cost_per_rep_week / self.touches_per_rep_week
        } else {
            self.cost_per_touch
        }
    }

    fn headcount(&self, w: u32, ramped: bool) -> f64 {
        let hired: f64 = self
            .hires
            .iter()
            .filter(|h| w >= h.week)
            .map(|h| {
                let ramp = if h.ramp_weeks == 0 || !ramped {
                    1.0
                } else {
                    (f64::from(w - h.week + 1) / f64::from(h.ramp_weeks)).min(1.0)
                };
                f64::from(h.count) * ramp
            })
            .sum();
        let gone: u32 = self
            .departures
            .iter()
            .filter(|(week, _)| w >= *week)
            .map(|(_, c)| c)
            .sum();
        (self.reps + hired - f64::from(gone)).max(0.0)
    }

    /// Follow-up touches the team can make in week `w`.
    pub fn touches_at(&self, w: u32) -> f64 {
        self.reps_at(w) * self.touches_per_rep_week
    }

    /// Touches the SLA asks for an MQL of this score.
    pub fn sla_touches(&self, score: f64) -> f64 {
        self.tiers[self.tier_of(score)].touches
    }

    /// The SLA tier of an MQL of this score.
    pub fn tier_of(&self, score: f64) -> usize {
        self.tiers
            .partition_point(|t| t.min_score <= score)
            .saturating_sub(1)
    }

    /// P(an MQL of this score is reached) when it gets `share` of the
    /// touches its tier asks for.
    pub fn p_reached(&self, score: f64, share: f64, params: &[f64]) -> f64 {
        p_reach(self.sla_touches(score) * share, params[self.contact_p])
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Capacity {
    Unlimited,
    Team(SalesTeam),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LeadSource {
    Marketing,
    Sales,
}

impl LeadSource {
    pub fn name(self) -> &'static str {
        match self {
            LeadSource::Marketing => "marketing",
            LeadSource::Sales => "sales",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ResponseCurve {
    Exponential {
        max_leads: f64,
        scale: f64,
    },
    Power {
        leads: f64,
        budget: f64,
        elasticity: f64,
    },
}

impl From<&ResponseSpec> for ResponseCurve {
    fn from(r: &ResponseSpec) -> Self {
        match *r {
            ResponseSpec::Exponential { max_leads, scale } => {
                ResponseCurve::Exponential { max_leads, scale }
            }
            ResponseSpec::Power {
                leads,
                budget,
                elasticity,
            } => ResponseCurve::Power {
                leads,
                budget,
                elasticity,
            },
        }
    }
}

impl ResponseCurve {
    /// Leads per week bought by a weekly budget.
    pub fn leads(&self, budget: f64) -> f64 {
        match *self {
            ResponseCurve::Exponential { max_leads, scale } => {
                max_leads * (1.0 - (-budget / scale).exp())
            }
            ResponseCurve::Power {
                leads,
                budget: reference,
                elasticity,
            } => leads * (budget / reference).powf(elasticity),
        }
    }

    /// The weekly budget that buys `leads` per week; `None` when no budget
    /// can (at or above an exponential curve's ceiling).
    pub fn budget_for(&self, leads: f64) -> Option<f64> {
        match *self {
            ResponseCurve::Exponential { max_leads, scale } => {
                (leads < max_leads).then(|| -scale * (1.0 - leads / max_leads).ln())
            }
            ResponseCurve::Power {
                leads: reference_leads,
                budget,
                elasticity,
            } => Some(budget * (leads / reference_leads).powf(1.0 / elasticity)),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Volume {
    Leads(f64),
    Budget {
        per_week: f64,
        curve: ResponseCurve,
        min: f64,
        max: f64,
    },
    /// A week-by-week schedule (a plan's): expected leads and media budget
    /// of each week of the horizon, seasonality and activity included.
    Schedule {
        leads: Vec<f64>,
        media: Vec<f64>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeasonBy {
    Month,
    Quarter,
    Week,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Seasonality {
    pub by: SeasonBy,
    pub factors: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    pub name: String,
    pub source: LeadSource,
    pub volume: Volume,
    pub cost_per_lead: f64,
    pub fixed_cost_per_week: f64,
    /// Coefficient of variation of the weekly rate; 0 = Poisson.
    pub arrival_cv: f64,
    /// Inclusive week ranges; `None` = always active.
    pub active_weeks: Option<Vec<(u32, u32)>>,
    /// The ranges are weeks of each 52-week year (else of the horizon).
    pub active_yearly: bool,
    /// Yearly growth of the volume, compounded week by week.
    pub growth: f64,
    pub seasonality: Option<Seasonality>,
    /// Lead scores, clamped to the scoring range.
    pub score: Dist,
    pub funnel: Funnel,
}

impl Channel {
    /// Leads per week before seasonality and activity.
    pub fn base_leads_per_week(&self) -> f64 {
        match &self.volume {
            Volume::Leads(l) => *l,
            Volume::Budget {
                per_week, curve, ..
            } => curve.leads(*per_week),
            Volume::Schedule { leads, .. } => leads.iter().sum::<f64>() / leads.len().max(1) as f64,
        }
    }

    pub fn is_active(&self, week: u32) -> bool {
        let w = if self.active_yearly {
            week % WEEKS_PER_YEAR
        } else {
            week
        };
        self.active_weeks
            .as_ref()
            .is_none_or(|r| r.iter().any(|(a, b)| (*a..=*b).contains(&w)))
    }

    /// Volume multiplier of week `w`: seasonality × activity × growth.
    pub fn multiplier(&self, week: u32, cal: &Calendar) -> f64 {
        if !self.is_active(week) {
            return 0.0;
        }
        self.seasonal_factor(week, cal) * self.growth_factor(f64::from(week))
    }

    /// Growth from week 0 to week `w` (which may be negative: before the
    /// start, volumes were lower).
    pub fn growth_factor(&self, week: f64) -> f64 {
        if self.growth == 0.0 {
            1.0
        } else {
            (1.0 + self.growth).powf(week / f64::from(WEEKS_PER_YEAR))
        }
    }

    /// The seasonality factor of week `w` alone.
    pub fn seasonal_factor(&self, week: u32, cal: &Calendar) -> f64 {
        match &self.seasonality {
            None => 1.0,
            Some(s) => {
                let i = match s.by {
                    SeasonBy::Month => cal.month_of_year(week),
                    SeasonBy::Quarter => cal.quarter_of_year(week),
                    SeasonBy::Week => cal.week_of_year(week),
                };
                s.factors[i]
            }
        }
    }

    /// Expected leads in week `w`.
    pub fn expected_leads(&self, week: u32, cal: &Calendar) -> f64 {
        match &self.volume {
            Volume::Schedule { leads, .. } => leads.get(week as usize).copied().unwrap_or(0.0),
            _ => self.base_leads_per_week() * self.multiplier(week, cal),
        }
    }

    /// Spend in week `w` for `leads` leads: program cost and media budget
    /// while active, plus the cost per lead.
    pub fn spend(&self, week: u32, leads: f64) -> f64 {
        if !self.is_active(week) {
            return 0.0;
        }
        let budget = match &self.volume {
            Volume::Budget { per_week, .. } => *per_week,
            Volume::Leads(_) => 0.0,
            Volume::Schedule { media, .. } => media.get(week as usize).copied().unwrap_or(0.0),
        };
        self.fixed_cost_per_week + budget + leads * self.cost_per_lead
    }
}

/// A deal open at the start, or a lead in flight (an MQL awaiting
/// acceptance, a lead in nurture).
#[derive(Clone, Debug, PartialEq)]
pub struct OpenDeal {
    pub stage: usize,
    /// Its amount, or the expected deal size when the CRM gives none
    /// (`known_amount` false: a win then draws its size from the model).
    pub amount: f64,
    pub known_amount: bool,
    /// Weeks it has been in its stage (capped by the stale rule "cap").
    pub age_weeks: u32,
    pub channel: Option<usize>,
    pub id: Option<String>,
    /// Its lead score; `None` for deals, which are past every score gate.
    pub score: Option<f64>,
    /// The CRM's win probability, when the model is told to use it.
    pub probability: Option<f64>,
    /// The CRM's expected close (weeks from the start), when the model is
    /// told to use it.
    pub close_in_weeks: Option<u32>,
    pub category: Option<Category>,
}

/// A CRM forecast category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Commit,
    BestCase,
    Pipeline,
    Omitted,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Commit,
        Category::BestCase,
        Category::Pipeline,
        Category::Omitted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Commit => "commit",
            Category::BestCase => "best_case",
            Category::Pipeline => "pipeline",
            Category::Omitted => "omitted",
        }
    }

    fn from_name(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// What to do with open deals older than the sales cycle allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StalePolicy {
    /// Leave them out of the forecast (the default), with a warning.
    Lost,
    /// Treat them as if they were `stale_after` weeks old.
    Cap,
    /// Keep their age: the age-conditional win rate applies as it is.
    Keep,
}

/// The open deals that were stale when the model was built.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StaleDeals {
    pub policy: StalePolicy,
    pub after_weeks: u32,
    pub count: usize,
    pub value: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    pub description: Option<String>,
    pub stages: Vec<Stage>,
    /// The model's own funnel, before any channel's overrides.
    pub funnel: Funnel,
    pub params: Vec<Param>,
    pub scoring: Scoring,
    pub capacity: Capacity,
    pub channels: Vec<Channel>,
    pub pipeline: Vec<OpenDeal>,
    /// Open deals the stale rule acted on.
    pub stale: Option<StaleDeals>,
    /// Things worth knowing that are not errors, for the user.
    pub warnings: Vec<String>,
}

impl Model {
    /// Each delay with uncertain parameters once (channels that inherit a
    /// delay share it), in model order.
    pub fn uncertain_delays(&self) -> Vec<&Arc<DelayDraws>> {
        let mut out: Vec<&Arc<DelayDraws>> = Vec::new();
        for c in &self.channels {
            let f = &c.funnel;
            let all = f
                .transitions
                .iter()
                .map(|t| &t.draws)
                .chain([&f.lost_draws]);
            for d in all.flatten() {
                if !out.iter().any(|o| o.key == d.key) {
                    out.push(d);
                }
            }
        }
        out
    }

    /// Every parameter at its mean (a point value, or a Beta's mean).
    pub fn param_means(&self) -> Vec<f64> {
        self.params.iter().map(|p| p.prob.mean()).collect()
    }

    pub fn stage_of(&self, role: Role) -> Option<usize> {
        self.stages.iter().position(|s| s.role == Some(role))
    }

    pub fn channel_index(&self, name: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.name == name)
    }

    /// P(sales accepts an MQL of this score) when it gets `share` of the
    /// SLA's touches (1 = the SLA met): with a sales team, the lead must be
    /// reached by one of the touches made, then is accepted by the curve;
    /// with unlimited capacity every MQL is worked and the curve is all.
    pub fn p_accept(&self, score: f64, share: f64, params: &[f64]) -> f64 {
        let curve = self.scoring.acceptance.at(score, params);
        match &self.capacity {
            Capacity::Unlimited => curve,
            Capacity::Team(t) => curve * t.p_reached(score, share, params),
        }
    }
}

/// Revenue target, by period and spread over weeks.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// What the target counts: revenue (the default), wins, or the first
    /// entries into a stage (opportunities, SQLs, MQLs…).
    pub metric: Metric,
    pub period: PeriodKind,
    /// Target of each week of the horizon, in the metric's unit.
    pub weekly: Vec<f64>,
    /// Target of each period of the horizon (`calendar.periods(period)`).
    pub periods: Vec<f64>,
    /// Target for the whole horizon.
    pub total: f64,
}

/// What a target counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Revenue won inside the horizon (dollars).
    Revenue,
    /// Deals won inside the horizon.
    Wins,
    /// First entries into this stage inside the horizon.
    Stage(usize),
}

impl Metric {
    /// Its name, as the target's `metric` key says it (a stage's role, or
    /// its name).
    pub fn name(self, m: &Model) -> String {
        match self {
            Metric::Revenue => "revenue".into(),
            Metric::Wins => "wins".into(),
            Metric::Stage(j) => m.stages[j].role.map_or(m.stages[j].name.clone(), |r| {
                match r {
                    Role::Lead => "leads",
                    Role::Mql => "mqls",
                    Role::Sal => "sals",
                    Role::Sql => "sqls",
                    Role::Opportunity => "opportunities",
                }
                .to_string()
            }),
        }
    }

    pub fn is_money(self) -> bool {
        self == Metric::Revenue
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixBasis {
    Leads,
    Budget,
}

/// The planner's channel mix: `shares[c]` is `None` for a channel held at
/// its volume; the `Some` shares sum to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    pub basis: MixBasis,
    pub shares: Vec<Option<f64>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub model: Model,
    pub calendar: Calendar,
    pub target: Target,
    /// Trials and seed from the file (`[run]`).
    pub run: crate::run::RunConfig,
    pub mix: Mix,
}

impl Scenario {
    pub fn weeks(&self) -> u32 {
        self.calendar.weeks
    }
}

/// Collects problems and parameters while building.
#[derive(Default)]
struct Builder {
    problems: Vec<Problem>,
    params: Vec<Param>,
}

impl Builder {
    fn err(&mut self, loc: &Loc, message: impl Into<String>) {
        self.problems.push(loc.problem(message));
    }

    fn err_help(&mut self, loc: &Loc, message: impl Into<String>, help: impl Into<String>) {
        self.problems.push(loc.problem(message).with_help(help));
    }

    fn param(&mut self, key: &str, prob: &Prob) -> ParamId {
        self.params.push(Param {
            key: key.to_string(),
            prob: prob.clone(),
        });
        self.params.len() - 1
    }

    fn sp_param(&mut self, p: &Spanned<Prob>) -> ParamId {
        self.param(&p.loc.path, &p.value)
    }

    /// A delay and its draws, named by its key path.
    fn delay(&mut self, d: &Spanned<DelaySpec>) -> (Delay, Draws) {
        d.value.build(&d.loc.path).unwrap_or_else(|e| {
            self.err(&d.loc, e.to_string());
            (Delay::fixed(0), None)
        })
    }

    fn check_name(&mut self, name: &Spanned<String>, what: &str) {
        let n = &name.value;
        if n.trim().is_empty() {
            self.err(&name.loc, format!("a {what} name cannot be empty"));
        } else if n.chars().count() > MAX_NAME_LEN {
            self.err(
                &name.loc,
                format!("a {what} name can have at most {MAX_NAME_LEN} characters"),
            );
        } else if n.chars().any(char::is_control) {
            self.err(
                &name.loc,
                format!("a {what} name cannot contain control characters"),
            );
        }
    }

    fn result<T>(self, value: Option<T>) -> Result<(T, Vec<Param>), Vec<Problem>> {
        match value {
            Some(v) if self.problems.is_empty() => Ok((v, self.params)),
            _ => Err(self.problems),
        }
    }
}

fn unknown_name<'a>(
    b: &mut Builder,
    loc: &Loc,
    what: &str,
    name: &str,
    known: impl IntoIterator<Item = &'a str> + Clone,
) {
    let help = match suggest(name, known.clone()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!(
            "known {what}s: {}",
            known.into_iter().collect::<Vec<_>>().join(", ")
        ),
    };
    b.err_help(loc, format!("no {what} named `{name}`"), help);
}

/// Builds a model from its file types and the open deals read from CSV.
pub fn build_model(spec: &ModelSpec, csv_deals: &[OpenDealSpec]) -> Result<Model, Vec<Problem>> {
    let mut b = Builder::default();
    let model = build_model_inner(&mut b, spec, csv_deals);
    let (mut model, params) = b.result(model)?;
    model.params = params;
    Ok(model)
}

fn build_model_inner(
    b: &mut Builder,
    spec: &ModelSpec,
    csv_deals: &[OpenDealSpec],
) -> Option<Model> {
    let stages = build_stages(b, &spec.stages);
    let scoring = build_scoring(b, spec);
    let capacity = build_capacity(b, spec, scoring.as_ref());
    let (stages, base) = stages?;
    let base_deals = build_deals(b, &spec.deals, None)?;
    let funnel = base_funnel(base, &base_deals);
    let mut scoring = scoring?;
    scoring.quality = build_quality(b, spec, &stages, &funnel);
    let capacity = capacity?;
    check_absorbing(b, &funnel, &scoring, &capacity, &spec.stages.value, None);
    let channels = build_channels(b, spec, &stages, &funnel, &base_deals, &scoring, &capacity);
    let model_funnel = funnel.clone();
    let gates: Vec<GateKind> = spec.stages.value.iter().map(|s| s.gate.value).collect();
    let pipeline = build_pipeline(
        b,
        spec,
        &gates,
        csv_deals,
        &stages,
        channels.as_deref(),
        &scoring,
    );
    let (pipeline, stale, warnings) = match (pipeline, channels.as_deref()) {
        (Some(p), Some(chs)) => {
            let (p, stale, w) = stale_rule(spec, p, chs);
            (Some(p), stale, w)
        }
        _ => (None, None, Vec::new()),
    };
    Some(Model {
        name: spec.name.clone(),
        description: spec.description.clone(),
        stages,
        funnel: model_funnel,
        params: Vec::new(),
        scoring,
        capacity,
        channels: channels?,
        pipeline: pipeline?,
        stale,
        warnings,
    })
}

/// The model-level transitions before deals are applied.
type BaseTransitions = Vec<(GateKind, Option<ParamId>, (Delay, Draws), Vec<Recycle>)>;

fn build_stages(
    b: &mut Builder,
    stages: &Spanned<Vec<StageSpec>>,
) -> Option<(Vec<Stage>, BaseTransitions)> {
    let list = &stages.value;
    if list.len() < 2 || list.len() > MAX_STAGES {
        b.err_help(
            &stages.loc,
            format!(
                "a model needs 2 to {MAX_STAGES} stages, found {}",
                list.len()
            ),
            "e.g. lead, mql, sal, sql, opportunity",
        );
        return None;
    }
    let mut ok = true;
    let mut seen = BTreeSet::new();
    let mut roles = BTreeSet::new();
    let mut out = Vec::new();
    let last = list.len() - 1;
    for (i, s) in list.iter().enumerate() {
        b.check_name(&s.name, "stage");
        let unique = seen.insert(s.name.value.as_str());
        if !unique {
            b.err(
                &s.name.loc,
                format!("stage `{}` is listed twice", s.name.value),
            );
            ok = false;
        }
        let role = match &s.role {
            Some(r) => Role::from_name(r.value),
            None => Role::from_name(&s.name.value),
        };
        if let Some(r) = role.filter(|_| unique) {
            if !roles.insert(r) {
                let loc = s.role.as_ref().map_or(&s.name.loc, |r| &r.loc);
                b.err(loc, format!("two stages have the role `{}`", r.name()));
                ok = false;
            }
            if r == Role::Lead && i != 0 {
                b.err(&s.name.loc, "the `lead` stage must be the first stage");
                ok = false;
            }
        }
        let gate = s.gate.value;
        let bad_gate = match gate {
            GateKind::Score if i != 0 => {
                Some("the \"score\" gate (the MQL threshold) can only be on the first stage")
            }
            GateKind::Close if i != last => Some("only the last stage can have the \"close\" gate"),
            _ if i == last && gate != GateKind::Close => {
                Some("the last stage must have gate = \"close\": it closes by [deals]")
            }
            GateKind::Acceptance
                if list[..i]
                    .iter()
                    .any(|o| o.gate.value == GateKind::Acceptance) =>
            {
                Some("only one stage can have the \"acceptance\" gate")
            }
            _ => None,
        };
        if let Some(m) = bad_gate {
            b.err(&s.gate.loc, m);
            ok = false;
        }
        out.push(Stage {
            name: s.name.value.clone(),
            role,
        });
    }
    if !ok {
        return None;
    }
    let mut transitions = Vec::new();
    let before = b.problems.len();
    for (i, s) in list.iter().enumerate() {
        let gate = s.gate.value;
        let p = match (gate, &s.p) {
            (GateKind::Rate, Some(p)) => Some(b.sp_param(p)),
            (GateKind::Rate, None) => {
                b.err_help(
                    &s.loc,
                    format!(
                        "stage `{}` needs `p`, the probability of advancing",
                        s.name.value
                    ),
                    "or set a `gate`: \"score\", \"acceptance\" or \"close\"",
                );
                None
            }
            (_, Some(p)) => {
                b.err(
                    &p.loc,
                    format!(
                        "`p` has no effect with gate \"{}\": {}",
                        gate_name(gate),
                        gate_rate(gate)
                    ),
                );
                None
            }
            (_, None) => None,
        };
        if gate == GateKind::Close
            && let Some(d) = &s.delay
        {
            b.err(
                &d.loc,
                "the \"close\" stage waits the sales cycle: set `deals.cycle` instead of `delay`",
            );
        }
        let delay = s
            .delay
            .as_ref()
            .map_or((Delay::fixed(0), None), |d| b.delay(d));
        let recycle = build_recycle(b, s.recycle.as_deref().unwrap_or(&[]), &out, i);
        transitions.push((gate, p, delay, recycle));
    }
    (b.problems.len() == before).then_some((out, transitions))
}

fn gate_name(g: GateKind) -> &'static str {
    match g {
        GateKind::Rate => "rate",
        GateKind::Score => "score",
        GateKind::Acceptance => "acceptance",
        GateKind::Close => "close",
    }
}

fn gate_rate(g: GateKind) -> &'static str {
    match g {
        GateKind::Score => "leads advance when their score reaches `scoring.threshold`",
        GateKind::Acceptance => "acceptance comes from `scoring.acceptance` and sales capacity",
        GateKind::Close => "the win rate is `deals.win_rate`",
        GateKind::Rate => "",
    }
}

fn build_recycle(
    b: &mut Builder,
    specs: &[RecycleSpec],
    stages: &[Stage],
    from: usize,
) -> Vec<Recycle> {
    let mut out = Vec::new();
    let mut total = 0.0;
    for r in specs {
        let Some(to) = stages.iter().position(|s| s.name == r.to.value) else {
            unknown_name(
                b,
                &r.to.loc,
                "stage",
                &r.to.value,
                stages.iter().map(|s| s.name.as_str()),
            );
            continue;
        };
        if to > from {
            b.err_help(
                &r.to.loc,
                format!(
                    "a recycle goes back: `{}` comes after `{}`",
                    r.to.value, stages[from].name
                ),
                "recycle to this stage or an earlier one",
            );
            continue;
        }
        let delay = r.delay.value.to_delay();
        if delay.first < 1 {
            b.err_help(
                &r.delay.loc,
                "a recycled lead must wait at least one week before it returns",
                "add at_least = 1 to the delay, or give a delay of 1 week or more",
            );
            continue;
        }
        total += r.p.value.mean();
        let p = b.sp_param(&r.p);
        out.push(Recycle { to, p, delay });
    }
    if total > 1.0 + 1e-9 {
        let loc = &specs[0].loc;
        b.err(
            loc,
            format!(
                "the recycle probabilities of stage `{}` add up to {total:.4}, more than 1",
                stages[from].name
            ),
        );
    }
    out
}

struct DealsBuilt {
    win: ParamId,
    size: Dist,
    cycle: (Delay, Draws),
    lost_cycle: Option<(Delay, Draws)>,
    slip: Option<Slip>,
    quarter_end: Option<QuarterEnd>,
}

/// Builds deals; with `base`, missing keys are inherited from it.
fn build_deals(b: &mut Builder, d: &DealsSpec, base: Option<&DealsBuilt>) -> Option<DealsBuilt> {
    let before = b.problems.len();
    let win = match (&d.win_rate, base) {
        (Some(w), _) => Some(b.sp_param(w)),
        (None, Some(base)) => Some(base.win),
        (None, None) => {
            b.err_help(
                &d.loc,
                "missing key `win_rate`",
                "add `win_rate`: probability that a closing opportunity is won",
            );
            None
        }
    };
    let size = match (&d.size, base) {
        (Some(s), _) => {
            if s.value.shape.support().0 < 0.0 && s.value.at_least < 0.0 {
                b.err_help(
                    &s.loc,
                    "deal sizes cannot be negative, but this distribution can be",
                    "add at_least = 0",
                );
            }
            let (mean, top) = (s.value.mean(), s.value.quantile(1.0 - 1e-9));
            if !(mean <= MAX_DEAL && top <= crate::spec::MAX_MONEY) {
                b.err_help(
                    &s.loc,
                    format!(
                        "deal sizes this large cannot be summed exactly (mean {}, 1-in-a-billion \
                         deal {}); a deal is at most {MAX_DEAL:e} on average",
                        crate::export::format::money(mean),
                        crate::export::format::money(top)
                    ),
                    "check the units: sizes are in dollars; add at_most to cap the tail",
                );
            }
            Some(s.value.clone())
        }
        (None, Some(base)) => Some(base.size.clone()),
        (None, None) => {
            b.err_help(
                &d.loc,
                "missing key `size`",
                "add `size`: the deal size distribution in dollars",
            );
            None
        }
    };
    let cycle = match (&d.cycle, base) {
        (Some(c), _) => Some(b.delay(c)),
        (None, Some(base)) => Some(base.cycle.clone()),
        (None, None) => {
            b.err_help(
                &d.loc,
                "missing key `cycle`",
                "add `cycle`: weeks from opportunity to close",
            );
            None
        }
    };
    let slip = match (&d.slip, base) {
        (Some(s), _) => {
            if s.p.value == Prob::Fixed(1.0) {
                b.err(
                    &s.p.loc,
                    "with p = 1 every deal slips forever and none closes",
                );
            }
            let delay = s.delay.value.to_delay();
            if delay.first < 1 {
                b.err_help(
                    &s.delay.loc,
                    "a slip must move the close by at least one week",
                    "add at_least = 1",
                );
            }
            Some(Slip {
                p: b.sp_param(&s.p),
                delay,
            })
        }
        (None, Some(base)) => base.slip.clone(),
        (None, None) => None,
    };
    let lost_cycle = match (&d.lost_cycle, base) {
        (Some(c), _) => Some(b.delay(c)),
        (None, Some(base)) if d.cycle.is_none() => base.lost_cycle.clone(),
        // A channel that sets its own cycle but no lost cycle: losses
        // take as long as its wins.
        (None, _) => None,
    };
    let quarter_end = match (&d.quarter_end, base) {
        (Some(q), _) => Some(QuarterEnd {
            p: b.param(&format!("{}.pull_p", q.loc.path), &q.pull_p),
            weeks: q.pull_weeks,
        }),
        (None, Some(base)) => base.quarter_end.clone(),
        (None, None) => None,
    };
    if let (Some(q), Some(cycle)) = (&quarter_end, &cycle) {
        // A pushed deal must already be in its cycle at the quarter end.
        let shortest = [
            Some(&cycle.0),
            lost_cycle.as_ref().map(|c| &c.0),
            slip.as_ref().map(|s| &s.delay),
        ]
        .into_iter()
        .flatten()
        .map(|d| d.first)
        .min()
        .unwrap_or(0);
        if q.weeks > shortest {
            let loc = d.quarter_end.as_ref().map_or(&d.loc, |q| &q.loc);
            b.err_help(
                loc,
                format!(
                    "the quarter-end push reaches {} weeks into a quarter, more than the shortest cycle or slip \
                     ({shortest} weeks): a deal could be pushed into a quarter it did not yet exist in",
                    q.weeks
                ),
                format!("set pull_weeks to {shortest} or less, or give the cycle an at_least"),
            );
        }
    }
    if b.problems.len() > before {
        return None;
    }
    Some(DealsBuilt {
        win: win?,
        size: size?,
        cycle: cycle?,
        lost_cycle,
        slip,
        quarter_end,
    })
}

fn base_funnel(base: BaseTransitions, deals: &DealsBuilt) -> Funnel {
    let transitions = base
        .into_iter()
        .map(|(gate, p, delay, recycle)| {
            let (delay, draws) = if gate == GateKind::Close {
                deals.cycle.clone()
            } else {
                delay
            };
            Transition {
                advance: match gate {
                    GateKind::Score => Advance::Score,
                    GateKind::Acceptance => Advance::Acceptance,
                    GateKind::Rate => Advance::Rate(p.expect("checked: rate gates have p")),
                    GateKind::Close => Advance::Win(deals.win),
                },
                delay,
                draws,
                recycle,
            }
        })
        .collect();
    let (lost_cycle, lost_draws) = deals
        .lost_cycle
        .clone()
        .unwrap_or_else(|| deals.cycle.clone());
    Funnel {
        transitions,
        lost_cycle,
        lost_draws,
        deal_size: deals.size.clone(),
        slip: deals.slip.clone(),
        quarter_end: deals.quarter_end.clone(),
    }
}

fn build_scoring(b: &mut Builder, spec: &ModelSpec) -> Option<Scoring> {
    let s = &spec.scoring;
    let (range, t) = (s.range, s.threshold.value);
    let key = |k: &str| format!("{}.acceptance.{k}", s.loc.path_or("scoring"));
    let acceptance = match &s.acceptance {
        AcceptanceSpec::Constant(p) => AcceptanceCurve::Constant(b.param(&key("p"), p)),
        AcceptanceSpec::Logistic {
            max,
            midpoint,
            scale,
        } => AcceptanceCurve::Logistic {
            max: b.param(&key("max"), max),
            midpoint: *midpoint,
            scale: *scale,
        },
        AcceptanceSpec::Table { scores, p } => AcceptanceCurve::Table {
            scores: scores.clone(),
            p: p.clone(),
        },
    };
    let nurture = s.nurture.as_ref().map(|n| Nurture {
        weeks: n.weeks,
        p_engage: b.param(
            &format!("{}.nurture.p_engage", s.loc.path_or("scoring")),
            &n.p_engage,
        ),
        lift: n.lift,
    });
    Some(Scoring {
        threshold: t,
        range,
        acceptance,
        nurture,
        quality: None,
    })
}

/// The quality lift, once the stages are known: `per_10_points` on every
/// rate gate after the last gate that judges a score, and on the win rate;
/// `stages.<name>` for a named stage.
fn build_quality(
    b: &mut Builder,
    spec: &ModelSpec,
    stages: &[Stage],
    funnel: &Funnel,
) -> Option<Quality> {
    let q = spec.scoring.quality.as_ref()?;
    let judged = crate::timeline::judged_gate(funnel);
    let mut per_10: Vec<f64> = funnel
        .transitions
        .iter()
        .enumerate()
        .map(|(i, t)| match t.advance {
            Advance::Win(_) => q.win_rate.unwrap_or(q.per_10_points),
            Advance::Rate(_) if judged.is_none_or(|g| i > g) => q.per_10_points,
            _ => 0.0,
        })
        .collect();
    for (name, v) in q.stages.iter().flat_map(|s| &s.0) {
        match stages.iter().position(|s| s.name == name.value) {
            Some(i) if matches!(funnel.transitions[i].advance, Advance::Rate(_)) => per_10[i] = v.0,
            Some(_) => b.err_help(
                &name.loc,
                format!("stage `{}` has no rate to shift", name.value),
                "quality shifts rate gates (and the win rate: `win_rate`)",
            ),
            None => unknown_name(
                b,
                &name.loc,
                "stage",
                &name.value,
                stages.iter().map(|s| s.name.as_str()),
            ),
        }
    }
    Some(Quality {
        reference: q.reference,
        per_10,
        size_per_10: q.deal_size,
    })
}

impl Loc {
    /// This path, or `default` for the top-level table.
    fn path_or(&self, default: &str) -> String {
        if self.path.is_empty() {
            default.to_string()
        } else {
            self.path.clone()
        }
    }
}

fn build_capacity(
    b: &mut Builder,
    spec: &ModelSpec,
    scoring: Option<&Scoring>,
) -> Option<Capacity> {
    let team = match &spec.capacity.value {
        CapacitySpec::Unlimited => return Some(Capacity::Unlimited),
        CapacitySpec::Team(t) => t.as_ref(),
    };
    let mut ok = true;
    let tiers = &team.tiers.value;
    if tiers.is_empty() || tiers.len() > MAX_TIERS {
        b.err(
            &team.tiers.loc,
            format!("give 1 to {MAX_TIERS} SLA tiers, found {}", tiers.len()),
        );
        return None;
    }
    let mut names = BTreeSet::new();
    for t in tiers {
        if !names.insert(t.name.as_str()) {
            b.err(&t.loc, format!("tier `{}` is listed twice", t.name));
            ok = false;
        }
    }
    let mut sorted: Vec<Tier> = tiers
        .iter()
        .map(|t| Tier {
            name: t.name.clone(),
            min_score: t.min_score,
            touches: t.touches,
        })
        .collect();
    sorted.sort_by(|a, b| a.min_score.total_cmp(&b.min_score));
    if let Some(s) = scoring
        && sorted[0].min_score > s.threshold
    {
        b.err_help(
            &team.tiers.loc,
            format!(
                "MQLs scoring from {} to {} fit no tier: the lowest `min_score` is above the MQL threshold",
                s.threshold, sorted[0].min_score
            ),
            format!("give one tier min_score = {} or lower", s.threshold),
        );
        ok = false;
    }
    if team.hires.len() > MAX_HIRES || team.departures.len() > MAX_HIRES {
        b.err(
            &team.loc,
            format!("at most {MAX_HIRES} hires and {MAX_HIRES} departures"),
        );
        return None;
    }
    let hires: Vec<Hire> = team
        .hires
        .iter()
        .map(|h| Hire {
            week: h.week,
            count: h.count,
            ramp_weeks: h.ramp_weeks.unwrap_or(team.ramp_weeks),
        })
        .collect();
    let departures: Vec<(u32, u32)> = team.departures.iter().map(|d| (d.week, d.count)).collect();
    let contact_p = b.param(
        &format!("{}.contact_p", spec.capacity.loc.path),
        &team.contact_p,
    );
    let built = SalesTeam {
        reps: team.reps.unwrap_or(0.0),
        unlimited: team.reps.is_none(),
        touches_per_rep_week: team.touches_per_rep_week,
        contact_p,
        tiers: sorted,
        hires,
        departures,
        cost_per_rep_week: team.cost_per_rep_week,
        cost_per_touch: team.cost_per_touch,
    };
    // An unlimited team is sized to the SLA every week: its hires and
    // departures do not change what it can do (nor what it costs).
    // Departures cannot take away reps who are not there.
    for d in &team.departures {
        let hired: u32 = built
            .hires
            .iter()
            .filter(|h| h.week <= d.week)
            .map(|h| h.count)
            .sum();
        let gone: u32 = built
            .departures
            .iter()
            .filter(|(w, _)| *w <= d.week)
            .map(|(_, c)| c)
            .sum();
        if f64::from(gone) > built.reps + f64::from(hired) + 1e-9 && !built.unlimited {
            b.err(
                &d.loc,
                format!(
                    "by week {} more reps leave ({gone}) than were there",
                    d.week
                ),
            );
            ok = false;
        }
    }
    ok.then_some(Capacity::Team(built))
}

/// Checks that no loop of the funnel can go on forever, for any score:
/// the acceptance gate is tried at its lowest and highest possible value.
fn check_absorbing(
    b: &mut Builder,
    funnel: &Funnel,
    scoring: &Scoring,
    capacity: &Capacity,
    stages: &[StageSpec],
    channel: Option<&Loc>,
) {
    let means: Vec<f64> = b.params.iter().map(|p| p.prob.mean()).collect();
    let (lo, hi) = acceptance_extremes(scoring, capacity, &means);
    for p_accept in [hi, lo] {
        let chain = Chain::new(funnel, &means, p_accept, 1.0);
        if chain.fundamental().is_some() {
            continue;
        }
        let stuck = chain.stuck();
        let names: Vec<&str> = stuck
            .iter()
            .filter(|i| **i < stages.len())
            .map(|i| stages[*i].name.value.as_str())
            .collect();
        let via_slip = stuck.iter().any(|i| *i >= stages.len());
        let what = if names.is_empty() && via_slip {
            "deals can slip forever".to_string()
        } else {
            format!("leads can cycle forever through {}", names.join(" → "))
        };
        let cond = if p_accept < hi {
            format!(" when sales accepts no one (acceptance {p_accept:.2})")
        } else {
            String::new()
        };
        // Point at a recycle in the loop, where it can be fixed.
        let loc = channel.cloned().unwrap_or_else(|| {
            stuck
                .iter()
                .filter_map(|i| stages.get(*i))
                .find_map(|s| {
                    s.recycle
                        .as_ref()
                        .and_then(|r| r.first())
                        .map(|r| r.loc.clone())
                })
                .unwrap_or_else(|| stages[0].loc.clone())
        });
        b.err_help(
            &loc,
            format!("the stage chain is not absorbing: {what}{cond}"),
            "every loop needs a way out: lower a recycle `p` below 1, or let some leads drop out",
        );
        return;
    }
}

/// Lowest and highest acceptance an MQL can see: with limited capacity,
/// follow-up can fall to nothing; otherwise the curve over MQL scores.
fn acceptance_extremes(scoring: &Scoring, capacity: &Capacity, params: &[f64]) -> (f64, f64) {
    let (t, top) = (scoring.threshold, scoring.range.1);
    let n = 200;
    let values: Vec<f64> = (0..=n)
        .map(|i| {
            scoring
                .acceptance
                .at(t + (top - t) * f64::from(i) / f64::from(n), params)
        })
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match capacity {
        Capacity::Team(_) => (0.0, hi),
        Capacity::Unlimited => (lo, hi),
    }
}

#[allow(clippy::too_many_arguments)]
fn build_channels(
    b: &mut Builder,
    spec: &ModelSpec,
    stages: &[Stage],
    base: &Funnel,
    base_deals: &DealsBuilt,
    scoring: &Scoring,
    capacity: &Capacity,
) -> Option<Vec<Channel>> {
    let list = &spec.channels.value.0;
    if list.is_empty() || list.len() > MAX_CHANNELS {
        b.err(
            &spec.channels.loc,
            format!("give 1 to {MAX_CHANNELS} channels, found {}", list.len()),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (name, c) in list {
        b.check_name(name, "channel");
        match build_channel(
            b,
            &name.value,
            c,
            spec,
            stages,
            base,
            base_deals,
            scoring,
            capacity,
        ) {
            Some(ch) => out.push(ch),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

#[allow(clippy::too_many_arguments)]
fn build_channel(
    b: &mut Builder,
    name: &str,
    c: &ChannelSpec,
    spec: &ModelSpec,
    stages: &[Stage],
    base: &Funnel,
    base_deals: &DealsBuilt,
    scoring: &Scoring,
    capacity: &Capacity,
) -> Option<Channel> {
    let volume = match (
        &c.volume.leads_per_week,
        &c.volume.budget_per_week,
        &c.volume.response,
    ) {
        (Some(l), _, _) => Volume::Leads(*l),
        (None, Some(budget), Some(r)) => {
            let min = c.volume.budget_min.unwrap_or(0.0);
            let max = c.volume.budget_max.unwrap_or(f64::INFINITY);
            Volume::Budget {
                per_week: *budget,
                curve: ResponseCurve::from(r),
                min,
                max,
            }
        }
        _ => return None, // reported while reading
    };
    let seasonality = c.seasonality.as_ref().map(|s| Seasonality {
        by: match s.by {
            "month" => SeasonBy::Month,
            "quarter" => SeasonBy::Quarter,
            _ => SeasonBy::Week,
        },
        factors: s.factors.clone(),
    });
    let (lo, hi) = scoring.range;
    let d = &c.score.value;
    let score = match d.clone().clamped(d.at_least.max(lo), d.at_most.min(hi)) {
        Ok(s) => s,
        Err(_) => {
            b.err(
                &c.score.loc,
                format!(
                    "the clamp of this distribution excludes the whole score range [{lo}, {hi}]"
                ),
            );
            return None;
        }
    };
    // The channel's funnel: the model's, with this channel's overrides.
    let mut funnel = base.clone();
    let mut overridden = false;
    if let Some(over) = &c.stages {
        for (stage_name, o) in &over.0 {
            let Some(i) = stages.iter().position(|s| s.name == stage_name.value) else {
                unknown_name(
                    b,
                    &stage_name.loc,
                    "stage",
                    &stage_name.value,
                    stages.iter().map(|s| s.name.as_str()),
                );
                continue;
            };
            overridden = true;
            let t = &mut funnel.transitions[i];
            if let Some(p) = &o.p {
                match t.advance {
                    Advance::Rate(_) => t.advance = Advance::Rate(b.sp_param(p)),
                    Advance::Win(_) => b.err_help(
                        &p.loc,
                        "the close stage's rate is the win rate",
                        "set channels.<name>.deals.win_rate",
                    ),
                    _ => b.err(&p.loc, "this stage's gate has no `p` to override"),
                }
            }
            if let Some(d) = &o.delay {
                if matches!(t.advance, Advance::Win(_)) {
                    b.err_help(
                        &d.loc,
                        "the close stage waits the sales cycle",
                        "set channels.<name>.deals.cycle",
                    );
                } else {
                    (t.delay, t.draws) = b.delay(d);
                }
            }
            if let Some(r) = &o.recycle {
                t.recycle = build_recycle(b, r, stages, i);
            }
        }
    }
    if let Some(d) = &c.deals {
        overridden = true;
        let deals = build_deals(b, d, Some(base_deals))?;
        let last = funnel.transitions.len() - 1;
        funnel.transitions[last].advance = Advance::Win(deals.win);
        (funnel.lost_cycle, funnel.lost_draws) =
            deals.lost_cycle.unwrap_or_else(|| deals.cycle.clone());
        (
            funnel.transitions[last].delay,
            funnel.transitions[last].draws,
        ) = deals.cycle;
        funnel.deal_size = deals.size;
        funnel.slip = deals.slip;
        funnel.quarter_end = deals.quarter_end;
    }
    if overridden {
        check_absorbing(
            b,
            &funnel,
            scoring,
            capacity,
            &spec.stages.value,
            Some(&c.loc),
        );
    }
    Some(Channel {
        name: name.to_string(),
        source: if c.source == "sales" {
            LeadSource::Sales
        } else {
            LeadSource::Marketing
        },
        volume,
        cost_per_lead: c.cost_per_lead,
        fixed_cost_per_week: c.fixed_cost_per_week,
        arrival_cv: c.arrival_cv,
        active_weeks: c.active_weeks.clone(),
        active_yearly: c.active_yearly,
        growth: c.growth,
        seasonality,
        score,
        funnel,
    })
}

#[allow(clippy::too_many_arguments)]
fn build_pipeline(
    b: &mut Builder,
    spec: &ModelSpec,
    gates: &[GateKind],
    csv_deals: &[OpenDealSpec],
    stages: &[Stage],
    channels: Option<&[Channel]>,
    scoring: &Scoring,
) -> Option<Vec<OpenDeal>> {
    let inline = spec.pipeline.as_ref().map_or(&[][..], |p| &p.deals[..]);
    let all = inline.iter().chain(csv_deals);
    if inline.len() + csv_deals.len() > MAX_OPEN_DEALS {
        let loc = spec.pipeline.as_ref().map(|p| p.loc.clone());
        if let Some(loc) = loc {
            b.err(&loc, format!("at most {MAX_OPEN_DEALS} open deals"));
        }
        return None;
    }
    let crm_probability = spec
        .pipeline
        .as_ref()
        .is_some_and(|p| p.win_probability == "crm");
    let crm_close = spec
        .pipeline
        .as_ref()
        .is_some_and(|p| p.close_date == "crm");
    // The last gate that judges a score: what is at or before it is a lead
    // in flight, which needs its score.
    let judged = gates
        .iter()
        .rposition(|g| matches!(g, GateKind::Score | GateKind::Acceptance));
    let mut out = Vec::new();
    let mut ok = true;
    let mut ids = std::collections::HashMap::new();
    for d in all {
        if let Some(id) = d.id.as_deref().filter(|i| !i.is_empty())
            && ids.insert(id, &d.loc).is_some()
        {
            b.err_help(
                &d.loc,
                format!("open deal id `{id}` appears more than once"),
                "a deal listed twice is forecast twice: remove the copy, or give it its own id",
            );
            ok = false;
        }
        let Some(stage) = stages.iter().position(|s| s.name == d.stage.value) else {
            unknown_name(
                b,
                &d.stage.loc,
                "stage",
                &d.stage.value,
                stages.iter().map(|s| s.name.as_str()),
            );
            ok = false;
            continue;
        };
        if judged.is_some_and(|g| stage <= g) && d.score.is_none() {
            b.err_help(
                &d.stage.loc,
                format!(
                    "a lead in flight at `{}` needs its `score`: sales judges it on it",
                    stages[stage].name
                ),
                "give its `score` (or move it to a stage past sales acceptance)",
            );
            ok = false;
        }
        let channel = match (&d.channel, channels) {
            (Some(c), Some(chs)) => match chs.iter().position(|ch| ch.name == c.value) {
                Some(i) => Some(i),
                None => {
                    unknown_name(
                        b,
                        &c.loc,
                        "channel",
                        &c.value,
                        chs.iter().map(|ch| ch.name.as_str()),
                    );
                    ok = false;
                    None
                }
            },
            _ => None,
        };
        let score = d.score.map(|x| x.clamp(scoring.range.0, scoring.range.1));
        let expected = channels.map_or(0.0, |chs| {
            chs[channel.unwrap_or(0)].funnel.deal_size.mean()
                * score.map_or(1.0, |x| scoring.size_factor(x))
        });
        out.push(OpenDeal {
            stage,
            amount: d.amount.unwrap_or(expected),
            known_amount: d.amount.is_some(),
            age_weeks: d.age_weeks,
            channel,
            id: d.id.clone(),
            score,
            probability: d.probability.filter(|_| crm_probability),
            close_in_weeks: d.close_in_weeks.filter(|_| crm_close),
            category: d.category.and_then(Category::from_name),
        });
    }
    ok.then_some(out)
}

/// Applies the stale rule to the open deals in the close stage: those
/// older than `stale_after_weeks` (default: the 99th percentile of their
/// channel's sales cycle, won or lost) are left out, capped or kept.
fn stale_rule(
    spec: &ModelSpec,
    deals: Vec<OpenDeal>,
    channels: &[Channel],
) -> (Vec<OpenDeal>, Option<StaleDeals>, Vec<String>) {
    let rules = spec.pipeline.as_ref();
    let policy = match rules.map_or("lost", |p| p.stale) {
        "cap" => StalePolicy::Cap,
        "keep" => StalePolicy::Keep,
        _ => StalePolicy::Lost,
    };
    let given = rules.and_then(|p| p.stale_after_weeks.as_ref().map(|w| w.value));
    let limit = |d: &OpenDeal| -> u32 {
        given.unwrap_or_else(|| {
            let f = &channels[d.channel.unwrap_or(0)].funnel;
            f.cycle(true)
                .quantile(0.99)
                .max(f.cycle(false).quantile(0.99))
        })
    };
    let (mut kept, mut count, mut value, mut oldest_limit) = (Vec::new(), 0, 0.0, 0);
    for mut d in deals {
        let close = channels[d.channel.unwrap_or(0)].funnel.close_stage();
        let lim = limit(&d);
        if d.stage != close || d.age_weeks <= lim {
            kept.push(d);
            continue;
        }
        count += 1;
        value += d.amount;
        oldest_limit = oldest_limit.max(lim);
        match policy {
            StalePolicy::Lost => {}
            StalePolicy::Cap => {
                d.age_weeks = lim;
                kept.push(d);
            }
            StalePolicy::Keep => kept.push(d),
        }
    }
    if count == 0 {
        return (kept, None, Vec::new());
    }
    let what = match policy {
        StalePolicy::Lost => "left out of the forecast as lost",
        StalePolicy::Cap => "treated as if they were that old",
        StalePolicy::Keep => "kept at their age (the age-conditional win rate applies)",
    };
    let warning = format!(
        "{count} open deal(s) worth {} are older than {oldest_limit} weeks{}: stale, {what} \
         (set pipeline.stale = \"lost\", \"cap\" or \"keep\", and pipeline.stale_after_weeks)",
        crate::export::format::money(value),
        if given.is_none() {
            ", the sales cycle's 99th percentile"
        } else {
            ""
        }
    );
    let stale = StaleDeals {
        policy,
        after_weeks: oldest_limit,
        count,
        value,
    };
    (kept, Some(stale), vec![warning])
}

/// Builds a scenario (its model included) from a scenario merged over its
/// model, and the open deals read from CSV.
pub fn build_scenario(
    spec: &ScenarioSpec,
    csv_deals: &[OpenDealSpec],
) -> Result<Scenario, Vec<Problem>> {
    let mut problems = Vec::new();
    let model = match build_model(&spec.model, csv_deals) {
        Ok(m) => Some(m),
        Err(p) => {
            problems.extend(p);
            None
        }
    };
    let mut b = Builder::default();
    let weeks = spec.horizon_weeks.value;
    if weeks == 0 {
        b.err(&spec.horizon_weeks.loc, "the horizon needs at least 1 week");
    }
    let start = spec.start_date.as_ref().map(|d| d.value);
    let fiscal = spec.fiscal_year_start.as_ref().map_or(1, |m| m.value);
    if let (Some(m), None) = (&spec.fiscal_year_start, start) {
        b.err_help(
            &m.loc,
            "`fiscal_year_start` needs a `start_date`",
            "add start_date = <the first day of week 0>",
        );
    }
    let calendar = match Calendar::fiscal(weeks.max(1), start, fiscal) {
        Ok(c) => Some(c),
        Err(m) => {
            let loc = spec.start_date.as_ref().map_or(&spec.loc, |d| &d.loc);
            b.err(loc, m);
            None
        }
    };
    let metric = target_metric(&mut b, spec, model.as_ref());
    let target = calendar
        .as_ref()
        .and_then(|c| build_target(&mut b, spec, c))
        .zip(metric)
        .map(|(t, metric)| Target { metric, ..t });
    let target = match (target, &model, &calendar) {
        (Some(t), Some(m), Some(c)) => Some(pushed_target(t, m, c)),
        (t, _, _) => t,
    };
    let mix = match (&model, &calendar) {
        (Some(m), Some(c)) => build_mix(&mut b, spec, m, c),
        _ => None,
    };
    let mut names = BTreeSet::new();
    if let Some(extra) = spec.variants.get(MAX_VARIANTS) {
        b.err(
            &extra.loc,
            format!(
                "a scenario has at most {MAX_VARIANTS} variants; this is number {} of {}",
                MAX_VARIANTS + 1,
                spec.variants.len()
            ),
        );
    }
    for v in &spec.variants {
        b.check_name(&v.name, "variant");
        if v.name.value == "base" {
            b.err(
                &v.name.loc,
                "`base` is the name of the scenario itself; pick another",
            );
        }
        if !names.insert(v.name.value.as_str()) {
            b.err(
                &v.name.loc,
                format!("variant `{}` is listed twice", v.name.value),
            );
        }
    }
    problems.extend(b.problems);
    let run = spec.run.as_ref();
    match (model, calendar, target, mix) {
        (Some(model), Some(calendar), Some(target), Some(mix)) if problems.is_empty() => {
            Ok(Scenario {
                name: spec.name.clone(),
                description: spec.description.clone(),
                model,
                calendar,
                target,
                run: crate::run::RunConfig {
                    trials: run.and_then(|r| r.trials).unwrap_or(Trials::Auto),
                    seed: run.and_then(|r| r.seed).unwrap_or(crate::run::DEFAULT_SEED),
                    ..crate::run::RunConfig::default()
                },
                mix,
            })
        }
        _ => Err(problems),
    }
}

/// The target's metric: `revenue`, `wins`, a role (`leads`, `mqls`,
/// `sals`, `sqls`, `opportunities`) or a stage's name.
fn target_metric(b: &mut Builder, spec: &ScenarioSpec, model: Option<&Model>) -> Option<Metric> {
    let Some(name) = &spec.target.metric else {
        return Some(Metric::Revenue);
    };
    match name.value.as_str() {
        "revenue" => return Some(Metric::Revenue),
        "wins" => return Some(Metric::Wins),
        _ => {}
    }
    let m = model?;
    let role = match name.value.as_str() {
        "leads" => Some(Role::Lead),
        "mqls" => Some(Role::Mql),
        "sals" => Some(Role::Sal),
        "sqls" => Some(Role::Sql),
        "opportunities" => Some(Role::Opportunity),
        _ => None,
    };
    let stage = role
        .and_then(|r| m.stage_of(r))
        .or_else(|| m.stages.iter().position(|s| s.name == name.value));
    if stage.is_none() {
        let known = [
            "revenue",
            "wins",
            "leads",
            "mqls",
            "sals",
            "sqls",
            "opportunities",
        ]
        .into_iter()
        .chain(m.stages.iter().map(|s| s.name.as_str()));
        unknown_name(b, &name.loc, "target metric", &name.value, known);
    }
    stage.map(Metric::Stage)
}

/// With a quarter-end push, the weekly target takes the shape expected
/// closes have — a peak in each quarter's last week — with every period's
/// total kept: the model's push applied to the smooth weekly target, then
/// each period scaled back to its amount. (A smooth weekly target would ask
/// the plan for a weekly shape no lead schedule can give.)
fn pushed_target(mut t: Target, m: &Model, cal: &Calendar) -> Target {
    let Some(q) = &m.funnel.quarter_end else {
        return t;
    };
    if matches!(t.metric, Metric::Stage(_)) {
        return t;
    }
    let p = m.params[q.p].prob.mean();
    // Past the end the target goes on at the last period's weekly rate, so
    // that the last quarter end gets its peak too.
    let len = t.weekly.len();
    let after = cal
        .periods(t.period)
        .last()
        .zip(t.periods.last())
        .map_or(0.0, |(p, a)| {
            a / f64::from((p.weeks.end - p.weeks.start).max(1))
        });
    let mut shaped = t.weekly.clone();
    shaped.resize(len + crate::calendar::PUSH_REACH, after);
    let targets = crate::calendar::pull_targets(cal, q.weeks, shaped.len());
    crate::calendar::push_to_quarter_end(&mut shaped, &targets, p);
    shaped.truncate(len);
    for (period, amount) in cal.periods(t.period).iter().zip(&t.periods) {
        let r = period.weeks.start as usize..period.weeks.end as usize;
        let sum: f64 = shaped[r.clone()].iter().sum();
        if sum > 0.0 {
            shaped[r].iter_mut().for_each(|x| *x *= amount / sum);
        }
    }
    t.weekly = shaped;
    t
}

fn build_target(b: &mut Builder, spec: &ScenarioSpec, cal: &Calendar) -> Option<Target> {
    let t = &spec.target;
    let period = if t.period == "month" {
        PeriodKind::Month
    } else {
        PeriodKind::Quarter
    };
    let periods = cal.periods(period);
    let given = [t.annual.is_some(), t.amounts.is_some(), t.total.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        b.err_help(
            &t.loc,
            "give exactly one of `annual`, `amounts` or `total`",
            "e.g. annual = 24_000_000, or total = 7_500_000 for the whole horizon",
        );
        return None;
    }
    if let (Some(shares), None) = (&t.shares, t.annual) {
        b.err(
            &shares.loc,
            "`shares` split an `annual` target; add `annual`",
        );
        return None;
    }
    let mut amounts = vec![0.0; periods.len()];
    let n_weeks = |p: &crate::calendar::Period| f64::from(p.weeks.end - p.weeks.start);
    if let Some(total) = t.total {
        for (a, p) in amounts.iter_mut().zip(&periods) {
            *a = total * n_weeks(p) / f64::from(cal.weeks);
        }
    } else if let Some(annual) = t.annual {
        let shares = match &t.shares {
            None => None,
            Some(s) => {
                let n = period.per_year();
                if s.value.len() != n {
                    b.err(
                        &s.loc,
                        format!(
                            "`shares` by {} needs {n} values, found {}",
                            t.period,
                            s.value.len()
                        ),
                    );
                    return None;
                }
                let sum: f64 = s.value.iter().sum();
                if (sum - 1.0).abs() > 1e-6 {
                    b.err_help(
                        &s.loc,
                        format!("`shares` add up to {sum}, not 1"),
                        "give each period's share of the year",
                    );
                    return None;
                }
                Some(&s.value)
            }
        };
        for (a, p) in amounts.iter_mut().zip(&periods) {
            // A period's share of the year, prorated when the horizon cuts it.
            *a = match shares {
                Some(s) => annual * s[p.index_in_year] * n_weeks(p) / f64::from(p.full_weeks),
                None => annual * n_weeks(p) / f64::from(WEEKS_PER_YEAR),
            };
        }
    } else if let Some(a) = &t.amounts {
        if a.value.len() != periods.len() {
            let labels: Vec<&str> = periods.iter().map(|p| p.label.as_str()).collect();
            b.err_help(
                &a.loc,
                format!(
                    "`amounts` needs one value per {} of the horizon: {}, found {}",
                    t.period,
                    periods.len(),
                    a.value.len()
                ),
                format!("the periods are {}", labels.join(", ")),
            );
            return None;
        }
        amounts.clone_from(&a.value);
    }
    let weekly = crate::calendar::smooth_weekly(&periods, &amounts);
    let total = match t.total {
        Some(x) => x,
        None => amounts.iter().sum(),
    };
    Some(Target {
        metric: Metric::Revenue,
        period,
        weekly,
        periods: amounts,
        total,
    })
}

fn build_mix(b: &mut Builder, spec: &ScenarioSpec, model: &Model, cal: &Calendar) -> Option<Mix> {
    let basis = match spec.mix.as_ref().map(|m| m.basis) {
        Some("budget") => MixBasis::Budget,
        _ => MixBasis::Leads,
    };
    let given = spec
        .mix
        .as_ref()
        .and_then(|m| m.shares.as_ref().map(|s| (m, s)));
    let Some((mix, shares)) = given else {
        // Default: marketing channels in proportion to their volume (or
        // every channel, if none is marketing's).
        let any_marketing = model
            .channels
            .iter()
            .any(|c| c.source == LeadSource::Marketing);
        let pick = |c: &Channel| !any_marketing || c.source == LeadSource::Marketing;
        // Average weekly leads (or spend) over the horizon, so that a
        // channel active a few weeks a year gets the share it really has.
        let weight = |c: &Channel| -> f64 {
            (0..cal.weeks)
                .map(|w| {
                    let leads = c.expected_leads(w, cal);
                    match basis {
                        MixBasis::Leads => leads,
                        MixBasis::Budget => c.spend(w, leads),
                    }
                })
                .sum()
        };
        let total: f64 = model.channels.iter().filter(|c| pick(c)).map(weight).sum();
        let n = model.channels.iter().filter(|c| pick(c)).count() as f64;
        let shares = model
            .channels
            .iter()
            .map(|c| {
                pick(c).then(|| {
                    if total > 0.0 {
                        weight(c) / total
                    } else {
                        1.0 / n
                    }
                })
            })
            .collect();
        return Some(Mix { basis, shares });
    };
    let mut out = vec![None; model.channels.len()];
    let before = b.problems.len();
    for (name, share) in &shares.0 {
        match model.channel_index(&name.value) {
            Some(i) => out[i] = Some(share.0),
            None => unknown_name(
                b,
                &name.loc,
                "channel",
                &name.value,
                model.channels.iter().map(|c| c.name.as_str()),
            ),
        }
    }
    if b.problems.len() > before {
        return None;
    }
    let sum: f64 = out.iter().flatten().sum();
    if shares.0.is_empty() || (sum - 1.0).abs() > 1e-6 {
        b.err_help(
            &mix.loc,
            format!("the mix shares add up to {sum}, not 1"),
            "give each scaled channel its share; unlisted channels keep their volume",
        );
        return None;
    }
    Some(Mix { basis, shares: out })
}

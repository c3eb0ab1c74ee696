//! The lead engine: every mechanism of the model, with leads followed one by
//! one from the MQL stage.
//!
//! Per trial: parameters are drawn once (uncertain ones from their Beta).
//! For each channel and week, arrivals are Poisson (gamma-mixed when
//! over-dispersed) and split at once, by binomial draws monotone in their
//! rates, into leads that are MQLs on arrival, leads that nurture will lift
//! over the threshold (with the week they cross and their score then), and
//! the rest, which never become MQLs and need no further draws. Drawing the
//! arrivals before the split keeps them identical across thresholds. From there each MQL is
//! an individual with its own random stream, moved week by week: in each
//! week, stages are handled in order, so that zero-delay steps happen in the
//! same week; at the acceptance gate the week's MQLs share the sales team's
//! touches, and when they need more than the team can make each gets fewer,
//! is contacted less often and accepted less. Events after the horizon are
//! not simulated. Open deals start in their stage with the remaining delay
//! given their age.

use rand::Rng;
use std::sync::{Arc, Mutex};

mod cohorts;

use super::rng::{self, Inversion, LeadRng, purpose};
use super::{BlockAcc, Context, Engine, TrialRec, control, metric};
use crate::dist::{Delay, Dist};
use crate::flow::negative_binomial;
use crate::model::{Advance, Capacity, Metric, Model, Scenario};
use cohorts::{Bands, merge};

/// How an open item is due.
enum Due {
    /// A decision at its stage after what is left of the stage's delay.
    Stage(Cdf),
    /// A deal in its cycle: its fate from its age (or the CRM), then the
    /// rest of that fate's cycle.
    Close {
        survivals: crate::pipeline::Survivals,
        p_crm: Option<f64>,
        won: Cdf,
        lost: Cdf,
    },
    /// A lead in nurture with some weeks left to cross the threshold; then
    /// the score gate's delay.
    Nurture { weeks_left: u32, first: Cdf },
}

/// A deal or lead open at the start, ready to seed.
struct OpenItem {
    stage: usize,
    channel: u8,
    /// Its report row: the open pipeline's, by forecast category.
    report: u8,
    /// Known amount, or −1: drawn from the model on a win.
    amount: f32,
    score: f32,
    due: Due,
}

impl OpenItem {
    fn new(m: &Model, d: &crate::model::OpenDeal) -> OpenItem {
        let ch = d.channel.unwrap_or(0);
        let f = &m.channels[ch].funnel;
        let due = match f.transitions[d.stage].advance {
            Advance::Win(_) => {
                let (won, lost) = match d.close_in_weeks {
                    Some(c) => (Delay::fixed(c), Delay::fixed(c)),
                    None => (
                        f.cycle(true).remaining_after(d.age_weeks),
                        f.cycle(false).remaining_after(d.age_weeks),
                    ),
                };
                Due::Close {
                    survivals: crate::pipeline::survivals(m, d),
                    p_crm: d.probability,
                    won: Cdf::new(&won),
                    lost: Cdf::new(&lost),
                }
            }
            Advance::Score => {
                // Above the threshold it is an MQL part-way through the
                // score gate's delay; below, that delay starts when nurture
                // lifts it over.
                let first = &f.transitions[0].delay;
                let above = d.score.is_some_and(|x| x >= m.scoring.threshold);
                Due::Nurture {
                    weeks_left: m
                        .scoring
                        .nurture
                        .as_ref()
                        .map_or(0, |n| n.weeks.saturating_sub(d.age_weeks)),
                    first: Cdf::new(&if above {
                        first.remaining_after(d.age_weeks)
                    } else {
                        first.clone()
                    }),
                }
            }
            _ => Due::Stage(Cdf::new(
                &f.transitions[d.stage].delay.remaining_after(d.age_weeks),
            )),
        };
        OpenItem {
            stage: d.stage,
            channel: ch as u8,
            report: super::pipeline_row(m.channels.len(), d.category) as u8,
            amount: if d.known_amount {
                d.amount as f32
            } else {
                -1.0
            },
            score: d.score.map_or(f32::NAN, |x| x as f32),
            due,
        }
    }
}

/// P(an MQL is reached) in one week, by SLA tier: each tier's touches
/// times the share the team can give them, each reaching the lead with
/// the trial's contact probability.
#[derive(Clone, Copy, Debug)]
struct Reach {
    share: f64,
    p: [f64; crate::model::MAX_TIERS],
}

impl Reach {
    fn new(team: &crate::model::SalesTeam, share: f64, contact: f64) -> Reach {
        let mut p = [0.0; crate::model::MAX_TIERS];
        for (x, tier) in p.iter_mut().zip(&team.tiers) {
            *x = crate::model::p_reach(tier.touches * share, contact);
        }
        Reach { share, p }
    }
}

/// A delay's inversion table, or one per draw of an uncertain delay; then
/// `slot` is where a trial's pick sits in its parameter values.
#[derive(Clone, Debug)]
struct Timed {
    alts: Vec<Cdf>,
    slot: Option<usize>,
}

impl Timed {
    fn new(d: &Delay, draws: &crate::model::Draws, slots: &[String], params: usize) -> Timed {
        match draws {
            None => Timed {
                alts: vec![Cdf::new(d)],
                slot: None,
            },
            Some(dr) => Timed {
                alts: dr.draws.iter().map(Cdf::new).collect(),
                slot: Some(
                    params
                        + slots
                            .iter()
                            .position(|k| *k == dr.key)
                            .expect("every uncertain delay of the model has a slot"),
                ),
            },
        }
    }

    /// The table this trial uses.
    #[inline]
    fn get(&self, vals: &[f64]) -> &Cdf {
        match self.slot {
            None => &self.alts[0],
            Some(s) => &self.alts[vals[s] as usize],
        }
    }
}

/// A delay as a cumulative table for inversion.
#[derive(Clone, Debug)]
pub struct Cdf {
    first: u32,
    inv: Inversion,
}

impl Cdf {
    pub fn new(d: &Delay) -> Cdf {
        let mut acc = 0.0;
        let cum: Vec<f64> = d
            .pmf
            .iter()
            .map(|p| {
                acc += p;
                acc
            })
            .collect();
        Cdf {
            first: d.first,
            inv: Inversion::from_cum(cum),
        }
    }

    /// P(the delay is at most `d` weeks).
    pub fn at_most(&self, d: usize) -> f64 {
        match d.checked_sub(self.first as usize) {
            None => 0.0,
            Some(k) => self.cum().get(k).copied().unwrap_or(1.0),
        }
    }

    /// The cumulative probabilities from the shortest delay on.
    pub(super) fn cum(&self) -> &[f64] {
        self.inv.cums()
    }

    /// The delay of the uniform of 53 bits `k` ([`LeadRng::unit_bits`]),
    /// by inversion.
    #[inline]
    pub fn sample_bits(&self, k: u64) -> u32 {
        if self.inv.len() == 1 {
            return self.first;
        }
        self.first + self.inv.index_of_bits(k) as u32
    }
}

/// Quantiles of a score distribution on a fine grid, for sampling by
/// inversion (linear between grid points).
#[derive(Clone, Debug)]
pub struct ScoreTable {
    q: Arc<[f64]>,
}

const SCORE_GRID: usize = 4096;

/// Tables already built, newest last: a decision family builds an engine
/// per evaluation from the same score distributions, and each table is
/// 4,097 quantiles found by bisection (most of an engine's set-up).
static SCORE_TABLES: Mutex<Vec<(TableKey, ScoreTable)>> = Mutex::new(Vec::new());
/// A distribution's family and the bits of its parameters and clamps: bit
/// for bit, since 0.0 and −0.0 are equal but not always alike.
type TableKey = (&'static str, Vec<u64>);
/// Most tables kept.
const SCORE_TABLES_KEPT: usize = 64;

impl ScoreTable {
    pub fn new(d: &Dist) -> ScoreTable {
        // Each quantile on its own (they are independent, and the order of
        // the work changes none of them).
        use rayon::prelude::*;
        let q = (0..=SCORE_GRID)
            .into_par_iter()
            .map(|i| d.quantile((i as f64 / SCORE_GRID as f64).clamp(1e-12, 1.0 - 1e-12)))
            .collect();
        ScoreTable { q }
    }

    /// The table of `d`: the one built before for an equal distribution,
    /// or a new one (the same values either way).
    pub fn of(d: &Dist) -> ScoreTable {
        let (name, mut v) = d.shape.params();
        v.extend([d.at_least, d.at_most]);
        let key: TableKey = (name, v.into_iter().map(f64::to_bits).collect());
        let cached = |tables: &[(TableKey, ScoreTable)]| {
            tables
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, t)| t.clone())
        };
        if let Some(t) = cached(&SCORE_TABLES.lock().unwrap_or_else(|e| e.into_inner())) {
            return t;
        }
        let t = ScoreTable::new(d);
        let mut tables = SCORE_TABLES.lock().unwrap_or_else(|e| e.into_inner());
        if cached(&tables).is_none() {
            if tables.len() >= SCORE_TABLES_KEPT {
                tables.remove(0);
            }
            tables.push((key, t.clone()));
        }
        t
    }

    /// The score at probability `p` of the distribution.
    #[inline]
    pub fn at(&self, p: f64) -> f64 {
        let x = p.clamp(0.0, 1.0) * SCORE_GRID as f64;
        let i = (x as usize).min(SCORE_GRID - 1);
        let f = x - i as f64;
        self.q[i] + f * (self.q[i + 1] - self.q[i])
    }
}

/// Sub-threshold leads that nurture lifts over the threshold: which need k
/// engagements, in which nurture week they cross.
#[derive(Clone, Debug)]
struct Nurture {
    /// P(a lead crosses) over all leads.
    p_cross: f64,
    /// Outcomes (k, week), and their cumulative probabilities given
    /// crossing (the last taken as 1), for a lead's draw and a group's.
    outcomes: Vec<(u32, u32)>,
    inv: Inversion,
}

impl Nurture {
    fn new(score: &Dist, threshold: f64, lift: f64, weeks: u32, q: f64) -> Nurture {
        let mut outcomes = Vec::new();
        let mut mass = Vec::new();
        for k in 1..=weeks {
            // Scores needing exactly k engagements: [T − k·lift, T − (k−1)·lift).
            let hi = threshold - f64::from(k - 1) * lift;
            let lo = threshold - f64::from(k) * lift;
            let m = score.cdf_below(hi) - score.cdf_below(lo);
            if m <= 0.0 {
                continue;
            }
            for (w, p) in negative_binomial(k, q, weeks).into_iter().enumerate() {
                if p > 0.0 {
                    outcomes.push((k, w as u32));
                    mass.push(m * p);
                }
            }
        }
        let p_cross: f64 = mass.iter().sum();
        let mut acc = 0.0;
        let cum = mass
            .iter()
            .map(|m| {
                acc += m / p_cross;
                acc
            })
            .collect();
        Nurture {
            p_cross,
            outcomes,
            inv: Inversion::from_cum(cum),
        }
    }
}

/// One channel, ready to simulate.
struct ChannelSim {
    lambda: Vec<f64>,
    cv: f64,
    cost_per_lead: f64,
    /// Program cost and media budget per week (while active).
    fixed: Vec<f64>,
    score: Dist,
    table: ScoreTable,
    /// P(score ≥ threshold) (or 1 without a score gate).
    p_direct: f64,
    /// Where direct MQLs sit in the score distribution.
    below_threshold: f64,
    nurture: Option<Nurture>,
    /// P(score < threshold − k·lift) for k = 0..=nurture weeks: where the
    /// leads needing k engagements sit in the score distribution.
    below_lift: Vec<f64>,
    /// Score bands of its MQLs, for the cohort engine.
    bands: Bands,
    delays: Vec<Timed>,
    /// The sales cycle of deals that will be lost.
    lost_cycle: Timed,
    /// For a close due in week u early in a quarter: the last week of the
    /// quarter before, where the quarter-end push moves it.
    pull_to: Vec<Option<usize>>,
    recycle: Vec<Vec<(usize, usize, Cdf)>>,
    slip: Option<(usize, Cdf)>,
    size: Dist,
    /// The deal size's mean.
    mean_size: f64,
}

/// A lead (or open deal) being followed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lead {
    rng: LeadRng,
    /// How many leads share this state: 1 in the lead engine, a cohort's
    /// size (at most [`cohorts::MAX_GROUP`]) in the cohort engine.
    n: u16,
    score: f32,
    /// Known amount of an open deal; negative for new leads.
    amount: f32,
    channel: u8,
    /// Report row: its channel, or the open pipeline's row.
    report: u8,
    /// Arrival week of a new lead (its cohort); [`IN_FLIGHT`] for what was
    /// open at the start, which is reported by the week things happen.
    born: u16,
    max: u8,
    /// At the close stage: [`WON`] or [`LOST`], settled when its cycle
    /// starts (0 before).
    fate: u8,
}

// Leads fill the week buckets: keep them at three words.
const _: () = assert!(std::mem::size_of::<Lead>() == 24);

const WON: u8 = 1;
const LOST: u8 = 2;
/// Fate bits: the slip at the next close decision was drawn early (for
/// the quarter-end push), and it slips or it does not.
const SLIP_DRAWN: u8 = 4;
const SLIPS: u8 = 8;

/// `Lead::born` of deals and leads open at the start.
const IN_FLIGHT: u16 = u16::MAX;

impl Lead {
    /// The week a lead's events are reported in: its arrival week (its
    /// cohort), or for what was open at the start the week of the event.
    #[inline]
    fn report_week(&self, t: usize) -> usize {
        if self.born == IN_FLIGHT {
            t
        } else {
            usize::from(self.born)
        }
    }

    fn is_new(&self) -> bool {
        self.born != IN_FLIGHT
    }
}

pub struct LeadEngine<'a> {
    m: &'a Model,
    weeks: usize,
    stages: usize,
    channels: Vec<ChannelSim>,
    /// The stage with the score gate (0) if any, the acceptance gate, and
    /// the last gate that judges scores (open deals never go back to it).
    score_gate: bool,
    accept: Option<usize>,
    judged: Option<usize>,
    /// Touches available per week, contact parameter, SLA tiers.
    team: Option<(Vec<f64>, usize)>,
    /// Parameters that are drawn (uncertain), and every parameter's mean.
    uncertain: Vec<usize>,
    /// The uncertain delays, by key: a trial's values hold, after every
    /// parameter, the draw each of them uses.
    delay_keys: Vec<String>,
    means: Vec<f64>,
    nurture_param: Option<usize>,
    /// What is open at the start.
    pipeline: Vec<OpenItem>,
    /// Whether new leads move in groups (the cohort engine).
    cohorts: bool,
}

impl<'a> LeadEngine<'a> {
    /// The cohort engine: new leads in groups (see [`cohorts`]).
    pub fn cohorts(s: &'a Scenario) -> LeadEngine<'a> {
        LeadEngine {
            cohorts: true,
            ..LeadEngine::new(s)
        }
    }

    pub fn new(s: &'a Scenario) -> LeadEngine<'a> {
        let m = &s.model;
        let weeks = s.weeks() as usize;
        let means = m.param_means();
        let first = &m.channels[0].funnel.transitions;
        let score_gate = first[0].advance == Advance::Score;
        let accept = first.iter().position(|t| t.advance == Advance::Acceptance);
        let judged = crate::timeline::judged_gate(&m.channels[0].funnel);
        let sc = &m.scoring;
        let delay_keys: Vec<String> = m.uncertain_delays().iter().map(|d| d.key.clone()).collect();
        let timed =
            |d: &Delay, draws: &crate::model::Draws| Timed::new(d, draws, &delay_keys, means.len());
        let channels = m
            .channels
            .iter()
            .map(|c| {
                let f = &c.funnel;
                let table = ScoreTable::of(&c.score);
                let below = if score_gate {
                    c.score.cdf_below(sc.threshold)
                } else {
                    0.0
                };
                ChannelSim {
                    lambda: (0..weeks)
                        .map(|w| c.expected_leads(w as u32, &s.calendar))
                        .collect(),
                    cv: c.arrival_cv,
                    cost_per_lead: c.cost_per_lead,
                    fixed: (0..weeks).map(|w| c.spend(w as u32, 0.0)).collect(),
                    score: c.score.clone(),
                    table: table.clone(),
                    p_direct: 1.0 - below,
                    below_threshold: below,
                    bands: {
                        // Every SLA tier's start, and a grid of scores: no
                        // band is wider than SCORE_STEP of the score range.
                        let tiers = match &m.capacity {
                            Capacity::Team(t) => t.tiers.iter().map(|x| x.min_score).collect(),
                            Capacity::Unlimited => Vec::new(),
                        };
                        let (lo, hi) = sc.range;
                        let grid = (1..cohorts::SCORE_STEPS)
                            .map(|k| lo + (hi - lo) * k as f64 / cohorts::SCORE_STEPS as f64);
                        let cuts: Vec<f64> = tiers
                            .into_iter()
                            .chain(grid)
                            .map(|x| c.score.cdf_below(x))
                            .collect();
                        Bands::new(below, &cuts, |p| table.at(p))
                    },
                    nurture: sc.nurture.as_ref().filter(|_| score_gate).map(|n| {
                        Nurture::new(&c.score, sc.threshold, n.lift, n.weeks, means[n.p_engage])
                    }),
                    below_lift: sc.nurture.as_ref().map_or(Vec::new(), |n| {
                        (0..=n.weeks)
                            .map(|k| c.score.cdf_below(sc.threshold - f64::from(k) * n.lift))
                            .collect()
                    }),
                    delays: f
                        .transitions
                        .iter()
                        .map(|t| timed(&t.delay, &t.draws))
                        .collect(),
                    lost_cycle: timed(&f.lost_cycle, &f.lost_draws),
                    pull_to: f.quarter_end.as_ref().map_or(Vec::new(), |q| {
                        // Closes due just past the horizon can be pulled
                        // into its last quarter end too.
                        let len = weeks + crate::calendar::PUSH_REACH;
                        crate::calendar::pull_targets(&s.calendar, q.weeks, len)
                    }),
                    recycle: f
                        .transitions
                        .iter()
                        .map(|t| {
                            t.recycle
                                .iter()
                                .map(|r| (r.to, r.p, Cdf::new(&r.delay)))
                                .collect()
                        })
                        .collect(),
                    slip: f.slip.as_ref().map(|sl| (sl.p, Cdf::new(&sl.delay))),
                    size: f.deal_size.clone(),
                    mean_size: f.deal_size.mean(),
                }
            })
            .collect();
        let team = match &m.capacity {
            Capacity::Team(t) => Some((
                (0..weeks).map(|w| t.touches_at(w as u32)).collect(),
                t.contact_p,
            )),
            Capacity::Unlimited => None,
        };
        let uncertain = (0..m.params.len())
            .filter(|p| m.params[*p].prob.is_uncertain())
            .collect();
        let nurture_param = sc
            .nurture
            .as_ref()
            .map(|n| n.p_engage)
            .filter(|p| m.params[*p].prob.is_uncertain());
        let pipeline = m.pipeline.iter().map(|d| OpenItem::new(m, d)).collect();
        LeadEngine {
            m,
            weeks,
            stages: m.stages.len(),
            channels,
            score_gate,
            accept,
            judged,
            team,
            means: means.clone(),
            uncertain,
            delay_keys,
            nurture_param,
            pipeline,
            cohorts: false,
        }
    }

    /// Every parameter's value for one trial.
    pub(super) fn draw_params(&self, seed: u64, trial: u64) -> Vec<f64> {
        let mut vals = Vec::with_capacity(self.means.len());
        self.draw_params_into(seed, trial, &mut vals);
        vals
    }

    /// The same, into a buffer.
    pub(super) fn draw_params_into(&self, seed: u64, trial: u64, vals: &mut Vec<f64>) {
        vals.clear();
        vals.extend_from_slice(&self.means);
        if !self.delay_keys.is_empty() {
            let key = rng::key(seed, trial, purpose::DELAYS);
            vals.extend(
                self.delay_keys
                    .iter()
                    .map(|k| crate::timing::pick(key, k) as f64),
            );
        }
        if self.uncertain.is_empty() {
            return;
        }
        let mut r = rng::stream(seed, trial, purpose::PARAMS);
        for &p in &self.uncertain {
            vals[p] = self.m.params[p].prob.sample(&mut r);
        }
    }

    fn run_trial(
        &self,
        ctx: &Context,
        seed: u64,
        trial: u64,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
    ) {
        rec.clear();
        let h = self.weeks;
        let vals = self.draw_params(seed, trial);
        ctx.controls.draws(&vals, &mut rec.draws);
        for (a, v) in acc.params.iter_mut().zip(&vals) {
            *a += v;
        }
        let nurture_now: Vec<Option<Nurture>> = match self.nurture_param {
            None => Vec::new(),
            Some(p) => {
                let n = self.m.scoring.nurture.as_ref().expect("has nurture");
                self.channels
                    .iter()
                    .map(|c| {
                        Some(Nurture::new(
                            &c.score,
                            self.m.scoring.threshold,
                            n.lift,
                            n.weeks,
                            vals[p],
                        ))
                    })
                    .collect()
            }
        };
        let lift = self.m.scoring.nurture.as_ref().map_or(0.0, |n| n.lift);
        let top = self.m.scoring.range.1;
        // Arrivals.
        for (c, ch) in self.channels.iter().enumerate() {
            let mut r = rng::stream(seed, trial, purpose::channel(c));
            let nurture = nurture_now
                .get(c)
                .and_then(Option::as_ref)
                .or(ch.nurture.as_ref());
            let p_cross = nurture.map_or(0.0, |x| x.p_cross);
            let lead_key = rng::key(seed, trial, purpose::channel(c) ^ 0x5EED);
            for a in 0..h {
                let lam = ch.lambda[a] * rng::gamma_multiplier(&mut r, ch.cv);
                // All arrivals first, then split: the same arrivals whatever
                // the threshold, and a split monotone in its rates.
                let arrivals = rng::poisson(&mut r, lam);
                let [to_direct, to_cross] = &mut ws.splits[c];
                let direct = to_direct.draw(&mut r, arrivals, ch.p_direct);
                let p_rest_cross = if ch.p_direct < 1.0 {
                    (p_cross / (1.0 - ch.p_direct)).min(1.0)
                } else {
                    0.0
                };
                let cross = to_cross.draw(&mut r, arrivals - direct, p_rest_cross);
                let leads = arrivals as f64;
                rec.first[0] += leads;
                let spend = ch.fixed[a] + leads * ch.cost_per_lead;
                rec.spend += spend;
                acc.cm_add(ctx, c, a, metric::LEADS, leads);
                acc.cm_add(ctx, c, a, metric::FIRST, leads);
                acc.cm_add(ctx, c, a, metric::SPEND, spend);
                // Each lead's stream is keyed by (channel, week, kind, i): a
                // change elsewhere (another channel, the threshold) does not
                // shift it.
                let week_key = rng::mix(lead_key ^ ((a as u64) << 1));
                if self.cohorts {
                    let counts = (
                        direct.min(u32::MAX.into()) as u32,
                        cross.min(u32::MAX.into()) as u32,
                    );
                    let at = (c, a);
                    self.arrive_groups(ctx, ws, rec, acc, &vals, at, counts, week_key, nurture);
                    continue;
                }
                for i in 0..direct {
                    let mut lr = LeadRng(rng::mix(week_key ^ (i << 1)));
                    let u = lr.unit();
                    let score = ch.table.at(ch.below_threshold + u * ch.p_direct);
                    let start = if self.score_gate { 1 } else { 0 };
                    let delay = if self.score_gate {
                        ch.delays[0].get(&vals).sample_bits(lr.unit_bits())
                    } else {
                        0
                    };
                    let lead = Lead {
                        rng: lr,
                        n: 1,
                        score: score as f32,
                        amount: -1.0,
                        channel: c as u8,
                        report: c as u8,
                        born: a as u16,
                        max: start as u8,
                        fate: 0,
                    };
                    self.enter(
                        ctx,
                        ws,
                        rec,
                        acc,
                        lead,
                        start,
                        a + delay as usize,
                        start > 0,
                    );
                }
                if let Some(nt) = nurture {
                    for i in 0..cross {
                        let mut lr = LeadRng(rng::mix(week_key ^ (i << 1 | 1)));
                        let i = nt.inv.index_of_bits(lr.unit_bits());
                        let (k, week) = nt.outcomes[i];
                        // A score among those needing k engagements.
                        let (hi, lo) = (ch.below_lift[k as usize - 1], ch.below_lift[k as usize]);
                        let s0 = ch.table.at(lo + lr.unit() * (hi - lo));
                        let score = (s0 + f64::from(k) * lift).min(top);
                        let delay = ch.delays[0].get(&vals).sample_bits(lr.unit_bits());
                        let lead = Lead {
                            rng: lr,
                            n: 1,
                            score: score as f32,
                            amount: -1.0,
                            channel: c as u8,
                            report: c as u8,
                            born: a as u16,
                            max: 1,
                            fate: 0,
                        };
                        self.enter(
                            ctx,
                            ws,
                            rec,
                            acc,
                            lead,
                            1,
                            a + delay as usize + week as usize,
                            true,
                        );
                    }
                }
            }
        }
        self.seed_pipeline(ctx, seed, trial, ws, rec, acc, &vals);
        self.run_weeks(ctx, ws, rec, acc, &vals);
    }

    /// Puts what is open at the start in its stage: deals and in-flight
    /// MQLs due after what is left of their stage (a deal's fate drawn
    /// from its age-conditional win rate), nurtured leads when they cross
    /// the threshold.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn seed_pipeline(
        &self,
        ctx: &Context,
        seed: u64,
        trial: u64,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
    ) {
        let n = self.stages;
        let mut pr = rng::stream(seed, trial, purpose::PIPELINE);
        for item in &self.pipeline {
            let mut lead = Lead {
                rng: LeadRng(pr.next_u64()),
                n: 1,
                score: item.score,
                amount: item.amount,
                channel: item.channel,
                report: item.report,
                born: IN_FLIGHT,
                max: item.stage as u8,
                fate: 0,
            };
            match &item.due {
                Due::Stage(cdf) => {
                    let d = cdf.sample_bits(lead.rng.unit_bits()) as usize;
                    self.schedule(ws, lead, item.stage, d);
                }
                Due::Close {
                    survivals,
                    p_crm,
                    won,
                    lost,
                } => {
                    let w = self.rate(n - 1, vals[self.win_param(&lead)], lead.score);
                    let p = p_crm.unwrap_or_else(|| survivals.p_win(w));
                    let u = lead.rng.unit();
                    lead.fate = if u < p { WON } else { LOST };
                    let won_luck = f64::from(u8::from(u < p)) - p;
                    self.fate_luck(rec, &lead, won_luck, won.at_most(self.weeks - 1));
                    let cdf = if lead.fate == WON { won } else { lost };
                    let d = cdf.sample_bits(lead.rng.unit_bits()) as usize;
                    self.close_at(ws, lead, d, 0, vals);
                }
                Due::Nurture { weeks_left, first } => {
                    if let Some((week, score)) = self.nurture_walk(&mut lead, *weeks_left, vals) {
                        lead.score = score as f32;
                        let d = first.sample_bits(lead.rng.unit_bits()) as usize;
                        self.enter(ctx, ws, rec, acc, lead, 1, week + d, true);
                    }
                }
            }
        }
    }

    /// A close decision due in week `due`, scheduled in week `now`. The
    /// quarter-end push: when `due` falls early in a quarter whose
    /// previous quarter end is still ahead, the slip at `due` is drawn now;
    /// a deal that would close then is closed at the quarter end instead
    /// with the push's probability.
    fn close_at(&self, ws: &mut Workspace, mut lead: Lead, due: usize, now: usize, vals: &[f64]) {
        if lead.n > 1 {
            return self.close_at_group(ws, lead, due, now, vals);
        }
        let close = self.stages - 1;
        let Some((q, push, slip)) = self.pull(&lead, due, now, vals) else {
            return self.schedule(ws, lead, close, due);
        };
        lead.fate |= SLIP_DRAWN;
        if lead.rng.unit() < slip {
            lead.fate |= SLIPS;
            return self.schedule(ws, lead, close, due);
        }
        let at = if lead.rng.unit() < push { q } else { due };
        self.schedule(ws, lead, close, at);
    }

    /// The quarter end a close due in week `due` (scheduled in week `now`)
    /// may be pulled to, with P(pushed) and P(slip); None when no push
    /// applies.
    pub(super) fn pull(
        &self,
        lead: &Lead,
        due: usize,
        now: usize,
        vals: &[f64],
    ) -> Option<(usize, f64, f64)> {
        let funnel = &self.m.channels[lead.channel as usize].funnel;
        let q = self.channels[lead.channel as usize]
            .pull_to
            .get(due)
            .copied()
            .flatten()?;
        let push = funnel.quarter_end.as_ref()?;
        if q < now {
            return None;
        }
        let slip = funnel.slip.as_ref().map_or(0.0, |s| vals[s.p]);
        Some((q, vals[push.p], slip))
    }

    /// A decision at `stage` in week `d`, or after the horizon.
    fn schedule(&self, ws: &mut Workspace, lead: Lead, stage: usize, d: usize) {
        if d < self.weeks {
            ws.dec[d * self.stages + stage].push(lead);
        } else {
            ws.after.push((lead, stage));
        }
    }

    /// A nurtured lead's weeks: each week it engages with the trial's
    /// probability and gains the lift; the week (and score) at which it
    /// reaches the threshold, if it does before its time runs out.
    fn nurture_walk(&self, lead: &mut Lead, weeks_left: u32, vals: &[f64]) -> Option<(usize, f64)> {
        let sc = &self.m.scoring;
        let mut score = f64::from(lead.score);
        if score >= sc.threshold {
            return Some((0, score));
        }
        let n = sc.nurture.as_ref()?;
        for w in 1..=weeks_left {
            if lead.rng.unit() < vals[n.p_engage] {
                score += n.lift;
                if score >= sc.threshold {
                    return Some((w as usize, score.min(sc.range.1)));
                }
            }
        }
        None
    }

    /// The win-rate parameter of a lead's channel.
    fn win_param(&self, lead: &Lead) -> usize {
        let f = &self.m.channels[lead.channel as usize].funnel;
        match f.transitions[f.close_stage()].advance {
            Advance::Win(w) => w,
            _ => unreachable!("the last stage closes"),
        }
    }

    /// Moves every lead and deal week by week to the end of the horizon,
    /// then follows what is still in flight to its outcome (for the
    /// eventual figures of each cohort).
    pub(super) fn run_weeks(
        &self,
        ctx: &Context,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
    ) {
        let (h, n) = (self.weeks, self.stages);
        if self.team.is_some() {
            rec.demand.resize(h, 0.0);
            rec.over.resize(h, false);
        }
        for t in 0..h {
            for i in 0..n {
                let mut entries = std::mem::take(&mut ws.ent[t * n + i]);
                if self.cohorts {
                    merge(&mut entries);
                }
                for mut lead in entries.drain(..) {
                    if lead.n > 1 {
                        self.start_group(ws, rec, vals, lead, i, t);
                        continue;
                    }
                    let ch = &self.channels[lead.channel as usize];
                    let cdf = if i == n - 1 {
                        // A new opportunity: its fate, then its cycle.
                        let w = self.rate(i, vals[self.win_param(&lead)], lead.score);
                        let won = lead.rng.unit() < w;
                        lead.fate = if won { WON } else { LOST };
                        let in_time = ch.delays[i].get(vals).at_most(h - 1 - t);
                        self.fate_luck(rec, &lead, f64::from(u8::from(won)) - w, in_time);
                        if won { &ch.delays[i] } else { &ch.lost_cycle }
                    } else {
                        &ch.delays[i]
                    }
                    .get(vals);
                    let d = cdf.sample_bits(lead.rng.unit_bits()) as usize;
                    if i == n - 1 {
                        self.close_at(ws, lead, t + d, t, vals);
                    } else {
                        self.schedule(ws, lead, i, t + d);
                    }
                }
                ws.ent[t * n + i] = entries;
                let mut decisions = std::mem::take(&mut ws.dec[t * n + i]);
                if self.cohorts {
                    merge(&mut decisions);
                }
                let thin = self.follow_up(rec, vals, &decisions, i, t);
                for lead in decisions.drain(..) {
                    self.decide(ctx, ws, rec, acc, vals, lead, i, t, thin);
                }
                ws.dec[t * n + i] = decisions;
            }
        }
        // Anything scheduled in the horizon has been handled; clear the rest.
        for v in ws.ent.iter_mut().chain(ws.dec.iter_mut()) {
            v.clear();
        }
        let mut after = std::mem::take(&mut ws.after);
        let full = self.full_reach(vals);
        for (lead, stage) in after.drain(..) {
            self.resolve(ctx, rec, acc, vals, full.as_ref(), lead, stage);
        }
        ws.after = after;
    }

    /// Follow-up at the acceptance gate in week `t`: the share of the SLA's
    /// touches each MQL decided this week gets (below 1 when the team is
    /// short), and P(reached) for each tier. None elsewhere.
    fn follow_up(
        &self,
        rec: &mut TrialRec,
        vals: &[f64],
        decisions: &[Lead],
        i: usize,
        t: usize,
    ) -> Option<Reach> {
        let (Some((touches, contact)), Capacity::Team(team)) = (&self.team, &self.m.capacity)
        else {
            return None;
        };
        if Some(i) != self.accept {
            return None;
        }
        let demand: f64 = decisions
            .iter()
            .filter(|l| !l.score.is_nan())
            .map(|l| f64::from(l.n) * team.sla_touches(f64::from(l.score)))
            .sum();
        rec.demand[t] = demand;
        rec.over[t] = demand > touches[t];
        let share = if demand > 0.0 {
            (touches[t] / demand).min(1.0)
        } else {
            1.0
        };
        Some(Reach::new(team, share, vals[*contact]))
    }

    /// A lead enters stage `i` in week `t` (after the horizon: it is kept
    /// to be followed to its outcome).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn enter(
        &self,
        ctx: &Context,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        lead: Lead,
        i: usize,
        t: usize,
        first: bool,
    ) {
        if t >= self.weeks {
            ws.after.push((lead, i));
            return;
        }
        if first {
            let n = f64::from(lead.n);
            rec.first[i] += n;
            if ctx.metric == Metric::Stage(i) {
                rec.goal[t] += n;
            }
            let week = lead.report_week(t);
            acc.cm_add(ctx, lead.report as usize, week, metric::FIRST + i, n);
        }
        ws.ent[t * self.stages + i].push(lead);
    }

    /// P(a lead is accepted), when it is reached with probability `reach`
    /// (None: no team, it is always reached).
    fn p_accept(&self, score: f64, vals: &[f64], reach: Option<f64>) -> f64 {
        let p = self.m.scoring.acceptance.at(score, vals);
        match reach {
            Some(r) => p * r,
            None => p,
        }
    }

    /// Whether a deal closing now is won: its fate, when its cycle has
    /// settled it (a lead that reaches the close stage after the horizon
    /// has not: it is drawn now).
    fn wins(&self, lead: &mut Lead, i: usize, w: f64) -> bool {
        match lead.fate & (WON | LOST) {
            WON => true,
            LOST => false,
            _ => lead.rng.unit() < self.rate(i, w, lead.score),
        }
    }

    /// The deal size of a win.
    fn deal_amount(&self, lead: &mut Lead) -> f64 {
        if lead.amount >= 0.0 {
            f64::from(lead.amount)
        } else {
            let ch = &self.channels[lead.channel as usize];
            ch.size.sample(&mut lead.rng) * self.m.scoring.size_factor(f64::from(lead.score))
        }
    }

    /// A win's expected amount: a known one, or the channel's mean deal
    /// size times the lead's quality factor.
    fn expected_amount(&self, lead: &Lead) -> f64 {
        if lead.amount >= 0.0 {
            f64::from(lead.amount)
        } else {
            let ch = &self.channels[lead.channel as usize];
            ch.mean_size * self.m.scoring.size_factor(f64::from(lead.score))
        }
    }

    /// Adds the luck of a fate drawn for a deal or group: `won_luck` is
    /// how many were won less how many were expected to be, and `in_time`
    /// P(a won one closes inside the horizon).
    fn fate_luck(&self, rec: &mut TrialRec, lead: &Lead, won_luck: f64, in_time: f64) {
        if in_time > 0.0 {
            rec.luck[control::FATE_LUCK] += won_luck * self.expected_amount(lead) * in_time;
        }
    }

    /// The summed deal sizes of a group of wins.
    fn amounts(&self, g: &mut Lead) -> f64 {
        if g.n == 1 {
            return self.deal_amount(g);
        }
        (0..g.n).map(|_| self.deal_amount(g)).sum()
    }

    /// Cumulative probabilities of a stage's recycle targets (the rest
    /// drops out).
    fn recycle_cum(&self, recycle: &[(usize, usize, Cdf)], vals: &[f64]) -> Vec<f64> {
        let total: f64 = recycle
            .iter()
            .map(|(_, p, _)| vals[*p])
            .sum::<f64>()
            .max(1.0);
        let mut acc = 0.0;
        recycle
            .iter()
            .map(|(_, p, _)| {
                acc += vals[*p] / total;
                acc
            })
            .collect()
    }

    /// Whether a lead may go back to stage `to`: an open deal has no score
    /// to be judged on again.
    fn may_return(&self, lead: &Lead, to: usize) -> bool {
        !(lead.score.is_nan() && self.judged.is_some_and(|g| to <= g))
    }

    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        ctx: &Context,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
        mut lead: Lead,
        i: usize,
        t: usize,
        reach: Option<Reach>,
    ) {
        if lead.n > 1 {
            return self.decide_group(ctx, ws, rec, acc, vals, lead, i, t, reach);
        }
        let ch = &self.channels[lead.channel as usize];
        let tr = &self.m.channels[lead.channel as usize].funnel.transitions[i];
        let (row, week) = (lead.report as usize, lead.report_week(t));
        let count =
            |acc: &mut BlockAcc, metric: usize, x: f64| acc.cm_add(ctx, row, week, metric, x);
        let advance = match tr.advance {
            Advance::Score => true,
            Advance::Rate(p) => lead.rng.unit() < self.rate(i, vals[p], lead.score),
            Advance::Acceptance => {
                let score = f64::from(lead.score);
                let reached = match (&self.m.capacity, &reach) {
                    // The touches made (a share of the SLA's when the team
                    // is short) must reach the lead before it is judged.
                    (Capacity::Team(team), Some(r)) => {
                        let k = team.tier_of(score);
                        rec.touches_made += team.tiers[k].touches * r.share;
                        Some(r.p[k])
                    }
                    _ => None,
                };
                count(acc, metric::DECISIONS, 1.0);
                let yes = lead.rng.unit() < self.p_accept(score, vals, reached);
                if yes {
                    count(acc, metric::ACCEPTED, 1.0);
                }
                yes
            }
            Advance::Win(w) => {
                let slips = if lead.fate & SLIP_DRAWN != 0 {
                    let yes = lead.fate & SLIPS != 0;
                    lead.fate &= !(SLIP_DRAWN | SLIPS);
                    yes
                } else {
                    ch.slip
                        .as_ref()
                        .is_some_and(|(sp, _)| lead.rng.unit() < vals[*sp])
                };
                if let (true, Some((_, cdf))) = (slips, &ch.slip) {
                    let d = cdf.sample_bits(lead.rng.unit_bits()) as usize;
                    self.close_at(ws, lead, t + d, t, vals);
                    return;
                }
                if self.wins(&mut lead, i, vals[w]) {
                    let amount = self.deal_amount(&mut lead);
                    rec.luck[control::SIZE_LUCK] += amount - self.expected_amount(&lead);
                    if lead.is_new() {
                        rec.revenue_new[t] += amount;
                        rec.eventual_new += amount;
                    } else {
                        rec.revenue_pipeline[t] += amount;
                    }
                    rec.wins += 1.0;
                    if ctx.metric == Metric::Wins {
                        rec.goal[t] += 1.0;
                    }
                    count(acc, metric::WINS, 1.0);
                    count(acc, metric::REVENUE, amount);
                    count(acc, metric::WINS_EVENTUAL, 1.0);
                    count(acc, metric::REVENUE_EVENTUAL, amount);
                    return;
                }
                count(acc, metric::LOST, 1.0);
                false
            }
        };
        if advance {
            let j = i + 1;
            let first = usize::from(lead.max) < j;
            if first {
                lead.max = j as u8;
            }
            self.enter(ctx, ws, rec, acc, lead, j, t, first);
            return;
        }
        // Recycled to an earlier stage, or out.
        match self.recycle_to(&mut lead, i, vals) {
            Some((to, d)) => {
                count(acc, metric::RECYCLED, 1.0);
                self.enter(ctx, ws, rec, acc, lead, to, t + d, false);
            }
            None if !matches!(tr.advance, Advance::Win(_)) => count(acc, metric::DROPPED, 1.0),
            None => {}
        }
    }

    /// Where a lead that did not advance from stage `i` goes back to, and
    /// after how many weeks; `None` when it drops out.
    #[inline(always)]
    fn recycle_to(&self, lead: &mut Lead, i: usize, vals: &[f64]) -> Option<(usize, usize)> {
        let recycle = &self.channels[lead.channel as usize].recycle[i];
        if recycle.is_empty() {
            return None;
        }
        let total: f64 = recycle
            .iter()
            .map(|(_, p, _)| vals[*p])
            .sum::<f64>()
            .max(1.0);
        let mut u = lead.rng.unit() * total;
        for (to, p, cdf) in recycle {
            if u < vals[*p] {
                if !self.may_return(lead, *to) {
                    return None;
                }
                return Some((*to, cdf.sample_bits(lead.rng.unit_bits()) as usize));
            }
            u -= vals[*p];
        }
        None
    }

    /// Follows a lead still in flight at the end of the horizon, due at
    /// stage `i`, to its outcome (with the SLA met; no more time is kept),
    /// and counts an eventual win in its cohort.
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &self,
        ctx: &Context,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
        full: Option<&Reach>,
        mut lead: Lead,
        mut i: usize,
    ) {
        if lead.n > 1 {
            return self.resolve_group(ctx, rec, acc, vals, full, lead, i);
        }
        let funnel = &self.m.channels[lead.channel as usize].funnel;
        let full_sla = self.full_sla(lead.score, full);
        // Every loop of an absorbing chain ends with probability 1; the cap
        // only guards against a run of recycles of vanishing probability.
        for _ in 0..10_000 {
            let advance = match funnel.transitions[i].advance {
                Advance::Score => true,
                Advance::Rate(p) => lead.rng.unit() < self.rate(i, vals[p], lead.score),
                Advance::Acceptance => {
                    let score = f64::from(lead.score);
                    lead.rng.unit() < self.p_accept(score, vals, full_sla)
                }
                Advance::Win(w) => {
                    if self.wins(&mut lead, i, vals[w]) {
                        let amount = self.deal_amount(&mut lead);
                        if lead.is_new() {
                            rec.eventual_new += amount;
                        }
                        let (row, week) = (lead.report as usize, lead.report_week(self.weeks - 1));
                        acc.cm_add(ctx, row, week, metric::WINS_EVENTUAL, 1.0);
                        acc.cm_add(ctx, row, week, metric::REVENUE_EVENTUAL, amount);
                        return;
                    }
                    false
                }
            };
            if advance {
                i += 1;
                continue;
            }
            match self.recycle_to(&mut lead, i, vals) {
                Some((to, _)) => i = to,
                None => return,
            }
        }
    }

    /// P(reached) by tier of a lead followed past the horizon, the same for
    /// every such lead of the trial: its SLA met (None without a team).
    fn full_reach(&self, vals: &[f64]) -> Option<Reach> {
        match (&self.m.capacity, &self.team) {
            (Capacity::Team(team), Some((_, contact))) => {
                Some(Reach::new(team, 1.0, vals[*contact]))
            }
            _ => None,
        }
    }

    /// P(reached) of a lead of this score followed past the horizon, from
    /// the trial's [`LeadEngine::full_reach`].
    fn full_sla(&self, score: f32, full: Option<&Reach>) -> Option<f64> {
        match (&self.m.capacity, full) {
            (Capacity::Team(team), Some(r)) => Some(r.p[team.tier_of(f64::from(score))]),
            _ => None,
        }
    }

    /// Counts an eventual win (after the horizon) in its cohort.
    fn eventual(&self, ctx: &Context, rec: &mut TrialRec, acc: &mut BlockAcc, g: &mut Lead) {
        let n = f64::from(g.n);
        let amount = self.amounts(g);
        if g.is_new() {
            rec.eventual_new += amount;
        }
        let (row, week) = (g.report as usize, g.report_week(self.weeks - 1));
        acc.cm_add(ctx, row, week, metric::WINS_EVENTUAL, n);
        acc.cm_add(ctx, row, week, metric::REVENUE_EVENTUAL, amount);
    }
}

impl LeadEngine<'_> {
    /// The rate of stage `i` for a lead of this score (NaN: an open deal,
    /// at the quality reference).
    #[inline]
    fn rate(&self, i: usize, p: f64, score: f32) -> f64 {
        match &self.m.scoring.quality {
            Some(q) => q.rate(i, p, f64::from(score)),
            None => p,
        }
    }
}

/// Buckets of leads by (week, stage), reused across trials.
pub struct Workspace {
    pub(super) ent: Vec<Vec<Lead>>,
    pub(super) dec: Vec<Vec<Lead>>,
    /// Leads and deals due after the horizon, with the stage they are at.
    pub(super) after: Vec<(Lead, usize)>,
    /// Each channel's weekly splits of its arrivals: MQLs on arrival, and
    /// of the rest those nurture lifts over.
    splits: Vec<[rng::Binomials; 2]>,
}

impl LeadEngine<'_> {
    pub(super) fn workspace(&self) -> Workspace {
        let cells = self.weeks * self.stages;
        Workspace {
            ent: vec![Vec::new(); cells],
            dec: vec![Vec::new(); cells],
            after: Vec::new(),
            splits: vec![Default::default(); self.channels.len()],
        }
    }
}

impl Engine for LeadEngine<'_> {
    fn name(&self) -> &'static str {
        if self.cohorts { "cohorts" } else { "leads" }
    }

    fn adds_luck(&self) -> bool {
        true
    }

    fn run_block(&self, ctx: &Context, seed: u64, first: u64, count: u64) -> BlockAcc {
        let mut acc = BlockAcc::new(ctx, self.m.params.len());
        let mut rec = TrialRec::new(ctx);
        let mut ws = self.workspace();
        for trial in first..first + count {
            self.run_trial(ctx, seed, trial, &mut ws, &mut rec, &mut acc);
            acc.finish_trial(ctx, &rec);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table from the cache holds the values a fresh one would, and a
    /// distribution that differs in any parameter (a clamp, the sign of a
    /// zero) gets its own.
    #[test]
    fn cached_score_tables_equal_fresh_ones() {
        let a = Dist::normal(45.0, 13.0).unwrap();
        let clamped = a.clone().clamped(0.0, 100.0).unwrap();
        let zero = Dist::normal(0.0, 1.0).unwrap();
        let minus_zero = Dist::normal(-0.0, 1.0).unwrap();
        for d in [&a, &clamped, &zero, &minus_zero, &a, &clamped] {
            let (cached, fresh) = (ScoreTable::of(d), ScoreTable::new(d));
            let bits = |t: &ScoreTable| t.q.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&cached), bits(&fresh));
        }
        assert!(Arc::ptr_eq(&ScoreTable::of(&a).q, &ScoreTable::of(&a).q));
        assert!(!Arc::ptr_eq(
            &ScoreTable::of(&a).q,
            &ScoreTable::of(&clamped).q
        ));
        assert!(!Arc::ptr_eq(
            &ScoreTable::of(&zero).q,
            &ScoreTable::of(&minus_zero).q
        ));
    }
}

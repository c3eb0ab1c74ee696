//! The Poisson-path engine: exact, and a few hundred draws per trial.
//!
//! When leads do not interact (unlimited capacity) and arrive as Poisson
//! counts, every lead's fate is independent of the others', so thinning the
//! arrivals by outcome gives independent Poisson counts per outcome. A
//! lead's outcome inside the horizon is its furthest stage reached by the
//! last week, and for those that close, the week and the result. The mean of
//! each count is the arrivals convolved with the expected flow of one lead
//! ([`crate::timeline`], horizon-truncated). Per trial and channel this
//! engine draws one Poisson count per stage ("got this far and no further")
//! plus the opportunities still open and those lost; per week, the wins,
//! each assigned to a channel and given a deal size. Win rates may be
//! uncertain: they enter these means linearly (a lost deal is not recycled
//! here), so they are drawn per trial and the means rescaled.
//!
//! Open deals are few and are followed one by one (as in [`super::leads`]).
//! Reports by channel and month are conditional expectations given each
//! trial's drawn parameters (Rao–Blackwellised: exact in expectation, with
//! less noise than counting); the totals per trial are drawn.

use super::leads::{LeadEngine, Workspace};
use super::rng::{self, purpose};
use super::{BlockAcc, Context, Engine, TrialRec, metric};
use crate::dist::Dist;
use crate::model::{Advance, Capacity, Scenario};
use crate::timeline::{Response, channel_response};

struct ChannelPaths {
    /// Mean leads whose furthest stage in the horizon is stage j (j < last).
    stop_at: Vec<f64>,
    /// Mean opportunities created and not closed in the horizon.
    open: f64,
    /// Mean closes (won or lost) in the horizon.
    closes: f64,
    /// Mean closes in each week.
    closes_by_week: Vec<f64>,
    win: usize,
    cost_per_lead: f64,
    fixed: f64,
    size: Dist,
    /// Per month: expected leads, spend, stage first entries, decisions,
    /// accepted, recycled, dropped, closes (for the reports).
    monthly: Vec<Vec<f64>>,
}

pub struct FastEngine<'a> {
    s: &'a Scenario,
    leads: LeadEngine<'a>,
    channels: Vec<ChannelPaths>,
    stages: usize,
}

impl<'a> FastEngine<'a> {
    /// The engine, or why it does not apply.
    pub fn new(s: &'a Scenario) -> Result<FastEngine<'a>, String> {
        let m = &s.model;
        if matches!(m.capacity, Capacity::Team(_)) {
            return Err("sales capacity couples the leads worked in the same week".into());
        }
        if let Some(c) = m.channels.iter().find(|c| c.arrival_cv > 0.0) {
            return Err(format!("channel `{}` has over-dispersed arrivals", c.name));
        }
        let wins: Vec<usize> = m
            .channels
            .iter()
            .filter_map(|c| match c.funnel.transitions.last().map(|t| t.advance) {
                Some(Advance::Win(p)) => Some(p),
                _ => None,
            })
            .collect();
        if let Some(p) = m
            .params
            .iter()
            .enumerate()
            .find(|(i, p)| p.prob.is_uncertain() && !wins.contains(i))
        {
            return Err(format!(
                "`{}` is uncertain and only win rates may be",
                p.1.key
            ));
        }
        if let Some(c) = m.channels.iter().find(|c| {
            c.funnel
                .transitions
                .last()
                .is_some_and(|t| !t.recycle.is_empty())
        }) {
            return Err(format!("lost deals of channel `{}` are recycled", c.name));
        }
        let h = s.weeks() as usize;
        let n = m.stages.len();
        let ctx_months = s.calendar.periods(crate::calendar::PeriodKind::Month);
        // The flow with every win rate at 1: wins are then closes.
        let mut ones = m.param_means();
        for &p in &wins {
            ones[p] = 1.0;
        }
        let channels = m
            .channels
            .iter()
            .enumerate()
            .map(|(c, ch)| {
                let r = channel_response(m, c, &ones, h);
                let lambda: Vec<f64> = (0..h)
                    .map(|a| ch.expected_leads(a as u32, &s.calendar))
                    .collect();
                let cum = |v: &[f64]| -> Vec<f64> {
                    let mut acc = 0.0;
                    v.iter()
                        .map(|x| {
                            acc += x;
                            acc
                        })
                        .collect()
                };
                let first: Vec<Vec<f64>> = r.first.iter().map(|f| cum(f)).collect();
                let wins_cum = cum(&r.wins);
                let mut reach = vec![0.0; n];
                let mut closes = 0.0;
                for (a, lam) in lambda.iter().enumerate() {
                    let last = h - 1 - a;
                    for j in 0..n {
                        reach[j] += lam * first[j][last];
                    }
                    closes += lam * wins_cum[last];
                }
                let stop_at = (0..n - 1)
                    .map(|j| (reach[j] - reach[j + 1]).max(0.0))
                    .collect();
                let open = (reach[n - 1] - closes).max(0.0);
                let closes_by_week = (0..h)
                    .map(|t| (0..=t).map(|a| lambda[a] * r.wins[t - a]).sum())
                    .collect();
                let win = match ch.funnel.transitions[n - 1].advance {
                    Advance::Win(p) => p,
                    _ => unreachable!("the last stage closes"),
                };
                let monthly = monthly_expectations(ch, &lambda, &r, &ctx_months, n);
                ChannelPaths {
                    stop_at,
                    open,
                    closes,
                    closes_by_week,
                    win,
                    cost_per_lead: ch.cost_per_lead,
                    fixed: (0..h).map(|w| ch.spend(w as u32, 0.0)).sum(),
                    size: ch.funnel.deal_size.clone(),
                    monthly,
                }
            })
            .collect();
        Ok(FastEngine {
            s,
            leads: LeadEngine::new(s),
            channels,
            stages: n,
        })
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
        let n = self.stages;
        let vals = self.leads.draw_params(seed, trial);
        for (a, v) in acc.params.iter_mut().zip(&vals) {
            *a += v;
        }
        let nch = self.channels.len();
        let mut leads = vec![0.0; nch];
        for (c, ch) in self.channels.iter().enumerate() {
            let mut r = rng::stream(seed, trial, purpose::channel(c));
            let w = vals[ch.win];
            let mut deeper = 0.0;
            // From the last stage backwards, so that `deeper` counts the
            // leads that got at least as far as stage j.
            let open = rng::poisson(&mut r, ch.open) as f64;
            let lost = rng::poisson(&mut r, (1.0 - w) * ch.closes) as f64;
            deeper += open + lost;
            rec.first[n - 1] += deeper;
            for j in (0..n - 1).rev() {
                deeper += rng::poisson(&mut r, ch.stop_at[j]) as f64;
                rec.first[j] += deeper;
            }
            leads[c] = deeper;
        }
        // Wins, week by week, each with its channel and size.
        let mut wins_by_channel = vec![0.0; nch];
        let mut weights = vec![0.0; nch];
        for t in 0..ctx.weeks {
            let mut total = 0.0;
            for (c, ch) in self.channels.iter().enumerate() {
                weights[c] = vals[ch.win] * ch.closes_by_week[t];
                total += weights[c];
            }
            if total <= 0.0 {
                continue;
            }
            let mut r = rng::stream(seed, trial, purpose::week(t));
            let k = rng::poisson(&mut r, total);
            for _ in 0..k {
                let mut u = rng::unit(&mut r) * total;
                let mut c = 0;
                while c + 1 < nch && u >= weights[c] {
                    u -= weights[c];
                    c += 1;
                }
                let size = self.channels[c].size.sample(&mut r);
                rec.revenue_new[t] += size;
                wins_by_channel[c] += 1.0;
                acc.cm_add(ctx, c, t, metric::WINS, 1.0);
                acc.cm_add(ctx, c, t, metric::REVENUE, size);
            }
        }
        for (c, ch) in self.channels.iter().enumerate() {
            let won = wins_by_channel[c];
            leads[c] += won;
            for f in rec.first.iter_mut() {
                *f += won;
            }
            rec.wins += won;
            rec.spend += ch.fixed + ch.cost_per_lead * leads[c];
        }
        if !self.s.model.pipeline.is_empty() {
            self.leads.seed_pipeline(seed, trial, ws);
            self.leads.run_weeks(ctx, ws, rec, acc, &vals);
        }
    }
}

/// Expected monthly figures of a channel, per trial: leads, spend, first
/// entries, acceptance decisions, accepted, recycled, dropped, closes.
fn monthly_expectations(
    ch: &crate::model::Channel,
    lambda: &[f64],
    r: &Response,
    months: &[crate::calendar::Period],
    n: usize,
) -> Vec<Vec<f64>> {
    let h = lambda.len();
    let conv = |v: &[f64], t: usize| -> f64 { (0..=t).map(|a| lambda[a] * v[t - a]).sum() };
    months
        .iter()
        .map(|p| {
            let mut row = vec![0.0; 7 + n];
            for t in p.weeks.clone().map(|w| w as usize).filter(|t| *t < h) {
                row[0] += lambda[t];
                row[1] += ch.spend(t as u32, lambda[t]);
                for j in 0..n {
                    row[2 + j] += conv(&r.first[j], t);
                }
                row[2 + n] += conv(&r.decisions, t);
                row[3 + n] += conv(&r.accepted, t);
                row[4 + n] += conv(&r.recycled, t);
                row[5 + n] += conv(&r.dropped, t);
                row[6 + n] += conv(&r.wins, t);
            }
            row
        })
        .collect()
}

impl Engine for FastEngine<'_> {
    fn name(&self) -> &'static str {
        "poisson-paths"
    }

    fn run_block(&self, ctx: &Context, seed: u64, first: u64, count: u64) -> BlockAcc {
        let mut acc = BlockAcc::new(ctx, self.s.model.params.len());
        let mut rec = TrialRec::new(ctx);
        let mut ws = self.leads.workspace();
        for trial in first..first + count {
            self.run_trial(ctx, seed, trial, &mut ws, &mut rec, &mut acc);
            acc.finish_trial(ctx, &rec);
        }
        acc
    }

    /// Adds the expected monthly reports: counts that do not depend on the
    /// win rate, and losses from the mean drawn win rate.
    fn finish(&self, ctx: &Context, acc: &mut BlockAcc) {
        let trials = acc.trials as f64;
        let n = self.stages;
        for (c, ch) in self.channels.iter().enumerate() {
            let lost_share = trials - acc.params[ch.win];
            for (mo, row) in ch.monthly.iter().enumerate() {
                let week = ctx.months[mo].weeks.start as usize;
                let mut add = |metric: usize, x: f64| acc.cm_add(ctx, c, week, metric, x);
                add(metric::LEADS, trials * row[0]);
                add(metric::SPEND, trials * row[1]);
                for j in 0..n {
                    add(metric::FIRST + j, trials * row[2 + j]);
                }
                add(metric::DECISIONS, trials * row[2 + n]);
                add(metric::ACCEPTED, trials * row[3 + n]);
                add(metric::RECYCLED, trials * row[4 + n]);
                add(metric::DROPPED, trials * row[5 + n]);
                add(metric::LOST, lost_share * row[6 + n]);
            }
        }
    }
}

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
//! plus the opportunities still open and those lost. The wins of the
//! channels that share a win rate are one Poisson count over the horizon,
//! each win placed in a (week, channel) cell by inverting the cells'
//! cumulative shares (a Poisson process split by where its points fall:
//! the cells' counts are independent Poisson counts, as they must be) and
//! given a deal size. Win rates may be uncertain: they enter these means
//! linearly (a lost deal is not recycled here), so they are drawn per
//! trial and the means rescaled.
//!
//! Open deals are few and are followed one by one (as in [`super::leads`]).
//! The figures by channel (and month) are conditional expectations given
//! each trial's drawn parameters (Rao–Blackwellised: exact in expectation,
//! with less noise than counting, and no bookkeeping per win); every total
//! per trial — revenue by week, stage counts, wins, spend — is drawn.

use super::leads::{LeadEngine, Workspace};
use super::rng::{self, Inversion, LeadRng, PoissonCdf, Ziggurat, purpose};
use super::{BlockAcc, Context, Engine, TrialRec, metric};
use crate::dist::Dist;
use crate::model::{Advance, Capacity, Scenario};
use crate::timeline::{Response, channel_response};

struct ChannelPaths {
    /// Leads whose furthest stage in the horizon is stage j (j < last):
    /// their count's distribution, tabulated (its mean never changes).
    stop_at: Vec<PoissonCdf>,
    /// Opportunities created and not closed in the horizon.
    open: PoissonCdf,
    /// Mean closes (won or lost) in the horizon.
    closes: f64,
    win: usize,
    cost_per_lead: f64,
    fixed: f64,
    size: Dist,
    /// Its mean.
    mean_size: f64,
    /// (mu, sigma) when the size is a plain log-normal.
    lognormal: Option<(f64, f64)>,
    /// Per arrival month (cohort): expected leads, spend, and what those
    /// leads do inside the horizon and eventually (for the reports).
    monthly: Vec<Cohort>,
    /// Mean closes after the horizon of the leads that arrive inside it.
    closes_after: f64,
}

/// What the leads of one arrival month are expected to do, per trial, with
/// every win rate at 1 (closes stand for wins).
#[derive(Clone, Debug, Default)]
struct Cohort {
    leads: f64,
    spend: f64,
    /// First entries into each stage inside the horizon.
    first: Vec<f64>,
    decisions: f64,
    accepted: f64,
    recycled: f64,
    dropped: f64,
    closes: f64,
    /// Closes inside the horizon or after it.
    closes_eventual: f64,
}

/// The wins of the channels that share one win rate, `param`: with every
/// rate at 1 they are the closes, `closes` of them in the horizon on
/// average, falling in (week, channel) cell i with probability
/// proportional to its expected closes.
struct WinGroup {
    param: usize,
    closes: f64,
    /// (week, channel) of each cell, weeks outer.
    cells: Vec<(u32, u32)>,
    /// Which cell a uniform falls in.
    inv: Inversion,
}

impl WinGroup {
    fn new(param: usize, channels: &[(usize, &[f64])]) -> WinGroup {
        let weeks = channels.first().map_or(0, |(_, w)| w.len());
        let mut cells = Vec::with_capacity(weeks * channels.len());
        let mut weights = Vec::with_capacity(cells.capacity());
        for t in 0..weeks {
            for (c, by_week) in channels {
                weights.push(by_week[t].max(0.0));
                cells.push((t as u32, *c as u32));
            }
        }
        WinGroup {
            param,
            closes: weights.iter().sum(),
            cells,
            inv: Inversion::new(weights),
        }
    }

    /// The cell of the uniform of 53 bits k ([`LeadRng::unit_bits`]), by
    /// inversion (monotone in the uniform and in the shares).
    #[inline]
    fn cell(&self, k: u64) -> (u32, u32) {
        self.cells[self.inv.index_of_bits(k)]
    }
}

/// Wins drawn before their sizes at most (a trial's wins beyond it are
/// drawn in further chunks: the same draws in the same order).
const WIN_CHUNK: u64 = 1024;

/// Buffers reused from trial to trial.
struct Scratch {
    ws: Workspace,
    vals: Vec<f64>,
    leads: Vec<f64>,
    wins_by_channel: Vec<f64>,
    /// A win's cell (week, channel) and normal (for its size).
    draws: Vec<((u32, u32), f64)>,
}

pub struct FastEngine<'a> {
    s: &'a Scenario,
    leads: LeadEngine<'a>,
    channels: Vec<ChannelPaths>,
    /// The channels' wins, by win rate.
    wins: Vec<WinGroup>,
    stages: usize,
    /// (mu, sigma) per channel when every deal size is a plain log-normal.
    sizes: Option<Vec<(f64, f64)>>,
    /// Their normals.
    normal: &'static Ziggurat,
}

impl<'a> FastEngine<'a> {
    /// The engine, or why it does not apply.
    pub fn new(s: &'a Scenario) -> Result<FastEngine<'a>, String> {
        let m = &s.model;
        if matches!(m.capacity, Capacity::Team(_)) {
            return Err("sales capacity couples the leads worked in the same week".into());
        }
        if let crate::model::Metric::Stage(j) = s.target.metric {
            return Err(format!(
                "the target counts `{}` week by week, which only the lead engine follows",
                m.stages[j].name
            ));
        }
        if let Some(c) = m.channels.iter().find(|c| c.funnel.quarter_end.is_some()) {
            return Err(format!(
                "the quarter-end push of channel `{}` ties closes to calendar quarters",
                c.name
            ));
        }
        if m.scoring.quality.is_some() {
            return Err("lead quality makes each lead's rates depend on its score".into());
        }
        if let Some(c) = m
            .channels
            .iter()
            .find(|c| c.funnel.lost_cycle != c.funnel.transitions[c.funnel.close_stage()].delay)
        {
            return Err(format!(
                "won and lost deals of channel `{}` have different cycles",
                c.name
            ));
        }
        if let Some(c) = m.channels.iter().find(|c| c.funnel.has_uncertain_delays()) {
            return Err(format!(
                "a delay of channel `{}` has uncertain parameters, drawn per trial",
                c.name
            ));
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
        let channels: Vec<(ChannelPaths, Vec<f64>)> = m
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
                let stop_at: Vec<f64> = (0..n - 1)
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
                let monthly = cohorts(ch, &lambda, &r, &ctx_months);
                let total_closes: f64 = r.wins.iter().sum();
                let closes_after = lambda.iter().map(|l| l * total_closes).sum::<f64>() - closes;
                let path = ChannelPaths {
                    stop_at: stop_at.iter().map(|m| PoissonCdf::new(*m)).collect(),
                    open: PoissonCdf::new(open),
                    closes,
                    win,
                    cost_per_lead: ch.cost_per_lead,
                    fixed: (0..h).map(|w| ch.spend(w as u32, 0.0)).sum(),
                    size: ch.funnel.deal_size.clone(),
                    mean_size: ch.funnel.deal_size.mean(),
                    lognormal: ch.funnel.deal_size.lognormal_params(),
                    monthly,
                    closes_after,
                };
                (path, closes_by_week)
            })
            .collect();
        let (channels, by_week): (Vec<ChannelPaths>, Vec<Vec<f64>>) = channels.into_iter().unzip();
        let mut params: Vec<usize> = channels.iter().map(|c| c.win).collect();
        params.sort_unstable();
        params.dedup();
        let wins = params
            .into_iter()
            .map(|p| {
                let members: Vec<(usize, &[f64])> = (0..channels.len())
                    .filter(|c| channels[*c].win == p)
                    .map(|c| (c, by_week[c].as_slice()))
                    .collect();
                WinGroup::new(p, &members)
            })
            .collect();
        let sizes = channels
            .iter()
            .map(|c: &ChannelPaths| c.lognormal)
            .collect();
        Ok(FastEngine {
            s,
            leads: LeadEngine::new(s),
            channels,
            wins,
            stages: n,
            sizes,
            normal: Ziggurat::get(),
        })
    }

    fn run_trial(
        &self,
        ctx: &Context,
        seed: u64,
        trial: u64,
        sc: &mut Scratch,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
    ) {
        rec.clear();
        let n = self.stages;
        let Scratch {
            ws,
            vals,
            leads,
            wins_by_channel,
            draws,
        } = sc;
        self.leads.draw_params_into(seed, trial, vals);
        ctx.controls.draws(vals, &mut rec.draws);
        for (a, v) in acc.params.iter_mut().zip(vals.iter()) {
            *a += v;
        }
        let vals: &[f64] = vals;
        leads.iter_mut().for_each(|x| *x = 0.0);
        wins_by_channel.iter_mut().for_each(|x| *x = 0.0);
        for (c, ch) in self.channels.iter().enumerate() {
            let mut r = LeadRng(rng::key(seed, trial, purpose::channel(c)));
            let w = vals[ch.win];
            let mut deeper = 0.0;
            // From the last stage backwards, so that `deeper` counts the
            // leads that got at least as far as stage j.
            let open = ch.open.sample(&mut r) as f64;
            let lost = rng::poisson(&mut r, (1.0 - w) * ch.closes) as f64;
            deeper += open + lost;
            rec.first[n - 1] += deeper;
            for j in (0..n - 1).rev() {
                deeper += ch.stop_at[j].sample(&mut r) as f64;
                rec.first[j] += deeper;
            }
            leads[c] = deeper;
        }
        // Wins, by win rate, each with its week, channel and size.
        let count_wins = ctx.metric == crate::model::Metric::Wins;
        for (g, group) in self.wins.iter().enumerate() {
            let mut r = LeadRng(rng::key(seed, trial, purpose::wins(g)));
            let k = rng::poisson(&mut r, vals[group.param] * group.closes);
            let (revenue, goal) = (&mut rec.revenue_new[..], &mut rec.goal[..]);
            let by_channel = &mut wins_by_channel[..];
            let mut win = |t: u32, c: u32, size: f64| {
                revenue[t as usize] += size;
                by_channel[c as usize] += 1.0;
                if count_wins {
                    goal[t as usize] += 1.0;
                }
            };
            match self.sizes {
                // Every win's cell and normal first, then its size and
                // tallies: the tallies' addresses are then known before the
                // sizes, so the processor overlaps wins instead of waiting
                // on the lookups (measured: 1M trials of acme-52w in about
                // 3.0-3.2 s, against 3.4 s with the cells looked up beside
                // the sizes and 3.8 s with the sizes drawn beside them).
                // In chunks, so that the buffer stays small whatever the wins.
                Some(ref ln) => {
                    let mut left = k;
                    while left > 0 {
                        let chunk = left.min(WIN_CHUNK);
                        left -= chunk;
                        draws.clear();
                        draws.extend((0..chunk).map(|_| {
                            let cell = group.cell(r.unit_bits());
                            (cell, self.normal.sample(&mut r))
                        }));
                        for &((t, c), z) in draws.iter() {
                            let (mu, sigma) = ln[c as usize];
                            win(t, c, crate::math::exp(mu + sigma * z));
                        }
                    }
                }
                None => {
                    for _ in 0..k {
                        let (t, c) = group.cell(r.unit_bits());
                        win(t, c, self.channels[c as usize].size.sample(&mut r));
                    }
                }
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
            // After the horizon: the expected revenue, given this trial's
            // win rate (exact in expectation).
            rec.eventual_new += vals[ch.win] * ch.closes_after * ch.mean_size;
        }
        rec.eventual_new += rec.revenue_new.iter().sum::<f64>();
        if !self.s.model.pipeline.is_empty() {
            self.leads
                .seed_pipeline(ctx, seed, trial, ws, rec, acc, vals);
            self.leads.run_weeks(ctx, ws, rec, acc, vals);
        }
    }
}

impl FastEngine<'_> {
    /// The draws a trial cannot avoid, and nothing else: the uncertain
    /// rates, one Poisson count per channel and outcome, the wins of each
    /// win rate, and a cell and a size per win. No counts are kept and no
    /// statistics updated. Benchmarks measure the engine against it, so that
    /// the figure they report is a ratio that holds on a noisy machine.
    pub fn floor_trial(&self, seed: u64, trial: u64, vals: &mut Vec<f64>) -> f64 {
        self.leads.draw_params_into(seed, trial, vals);
        let mut sum = 0.0;
        for (c, ch) in self.channels.iter().enumerate() {
            let mut r = LeadRng(rng::key(seed, trial, purpose::channel(c)));
            let w = vals[ch.win];
            sum += ch.open.sample(&mut r) as f64;
            sum += rng::poisson(&mut r, (1.0 - w) * ch.closes) as f64;
            for t in &ch.stop_at {
                sum += t.sample(&mut r) as f64;
            }
        }
        let (mu, sigma) = self.channels[0].lognormal.unwrap_or((0.0, 1.0));
        for (g, group) in self.wins.iter().enumerate() {
            let mut r = LeadRng(rng::key(seed, trial, purpose::wins(g)));
            for _ in 0..rng::poisson(&mut r, vals[group.param] * group.closes) {
                sum += r.unit();
                sum += crate::math::exp(mu + sigma * self.normal.sample(&mut r));
            }
        }
        sum
    }
}
/// What the leads of each arrival month of a channel are expected to do,
/// per trial: inside the horizon (the response up to the last week) and
/// eventually (the whole response).
fn cohorts(
    ch: &crate::model::Channel,
    lambda: &[f64],
    r: &Response,
    months: &[crate::calendar::Period],
) -> Vec<Cohort> {
    let h = lambda.len();
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
    let (dec, acc_, rec_, drop_, wins) = (
        cum(&r.decisions),
        cum(&r.accepted),
        cum(&r.recycled),
        cum(&r.dropped),
        cum(&r.wins),
    );
    let total_wins: f64 = r.wins.iter().sum();
    months
        .iter()
        .map(|p| {
            let mut c = Cohort {
                first: vec![0.0; first.len()],
                ..Cohort::default()
            };
            for a in p.weeks.clone().map(|w| w as usize).filter(|a| *a < h) {
                let (l, last) = (lambda[a], h - 1 - a);
                c.leads += l;
                c.spend += ch.spend(a as u32, l);
                for (x, f) in c.first.iter_mut().zip(&first) {
                    *x += l * f[last];
                }
                c.decisions += l * dec[last];
                c.accepted += l * acc_[last];
                c.recycled += l * rec_[last];
                c.dropped += l * drop_[last];
                c.closes += l * wins[last];
                c.closes_eventual += l * total_wins;
            }
            c
        })
        .collect()
}

/// Trials per block of the fast engine: its trials are cheap, so larger
/// blocks keep merging (weekly histograms) a small share of the work.
pub const FAST_BLOCK: u64 = 8192;

impl Engine for FastEngine<'_> {
    fn name(&self) -> &'static str {
        "poisson-paths"
    }

    fn block(&self) -> u64 {
        FAST_BLOCK
    }

    /// A trial's draws: a count per channel and outcome, then a cell, a
    /// normal and a size per expected win, and the open deals it follows.
    fn work(&self) -> super::cost::Work {
        let means = self.s.model.param_means();
        let wins: f64 = self.wins.iter().map(|g| means[g.param] * g.closes).sum();
        let counts = (self.channels.len() * (self.stages + 1)) as f64;
        super::cost::Work::Draws(counts + 3.0 * wins + self.s.model.pipeline.len() as f64)
    }

    fn run_block(&self, ctx: &Context, seed: u64, first: u64, count: u64) -> BlockAcc {
        let mut acc = BlockAcc::new(ctx, self.s.model.params.len());
        let mut rec = TrialRec::new(ctx);
        let nch = self.channels.len();
        let mut sc = Scratch {
            ws: self.leads.workspace(),
            vals: Vec::new(),
            leads: vec![0.0; nch],
            wins_by_channel: vec![0.0; nch],
            draws: Vec::new(),
        };
        for trial in first..first + count {
            self.run_trial(ctx, seed, trial, &mut sc, &mut rec, &mut acc);
            acc.finish_trial(ctx, &rec);
        }
        acc
    }

    /// Adds the expected reports by cohort: counts that do not depend on
    /// the win rate, and wins, losses and revenue from the drawn win rates.
    fn finish(&self, ctx: &Context, acc: &mut BlockAcc) {
        let trials = acc.trials as f64;
        for (c, ch) in self.channels.iter().enumerate() {
            let acc_win = acc.params[ch.win];
            let lost_share = trials - acc_win;
            let mean_size = ch.mean_size;
            for (mo, k) in ch.monthly.iter().enumerate() {
                let week = ctx.months[mo].weeks.start as usize;
                let mut add = |metric: usize, x: f64| acc.cm_add(ctx, c, week, metric, x);
                add(metric::LEADS, trials * k.leads);
                add(metric::SPEND, trials * k.spend);
                for (j, f) in k.first.iter().enumerate() {
                    add(metric::FIRST + j, trials * f);
                }
                add(metric::DECISIONS, trials * k.decisions);
                add(metric::ACCEPTED, trials * k.accepted);
                add(metric::RECYCLED, trials * k.recycled);
                add(metric::DROPPED, trials * k.dropped);
                add(metric::LOST, lost_share * k.closes);
                add(metric::WINS, acc_win * k.closes);
                add(metric::REVENUE, acc_win * k.closes * mean_size);
                add(metric::WINS_EVENTUAL, acc_win * k.closes_eventual);
                add(
                    metric::REVENUE_EVENTUAL,
                    acc_win * k.closes_eventual * mean_size,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A win's cell is drawn with the cell's share of the group's expected
    /// closes, weeks outer and channels inner, and cells without closes
    /// are never drawn.
    #[test]
    fn a_wins_cell_has_the_cells_share_of_the_closes() {
        let paid = [1.0, 0.0, 3.0];
        let seo = [2.0, 0.0, -1.0];
        let g = WinGroup::new(4, &[(2, &paid[..]), (5, &seo[..])]);
        assert_eq!(g.closes, 6.0);
        let mut tally = std::collections::BTreeMap::new();
        let n = 60_000;
        for k in 0..n {
            // The uniform (k + 1/2) / n, as 53 bits.
            let bits = ((2 * k + 1) as u128) << 52;
            *tally.entry(g.cell((bits / n as u128) as u64)).or_insert(0) += 1;
        }
        let want = [((0, 2), 1.0), ((0, 5), 2.0), ((2, 2), 3.0)];
        assert_eq!(tally.len(), want.len(), "{tally:?}");
        for (cell, closes) in want {
            assert_eq!(tally[&cell], (n as f64 * closes / 6.0) as i32, "{cell:?}");
        }
    }
}

//! The cohort engine's draws: leads in the same state are exchangeable, so
//! a group of them is moved by binomial and multinomial draws of counts
//! instead of one draw per lead.
//!
//! The cohort engine is the lead engine ([`super::leads`]) run on groups:
//! `Lead` carries a count, arrivals come in groups (channel, week, score
//! band), and a group of more than one lead is moved by the group versions
//! of the lead engine's steps in this file (`start_group`, `decide_group`,
//! `close_group`, `recycle_group`, `close_at_group`, `resolve_group`): the
//! same mechanisms — capacity shared across SLA tiers, hires and ramp,
//! nurture, recycling, slips, the quarter-end push, uncertain rates and
//! delays, quality lift — with each draw that the lead engine makes once
//! per lead made once per group, by counts. The lead engine's own
//! single-lead steps are kept apart, unchanged, so that it stays an
//! independent oracle and is not slowed by the groups. Groups that reach
//! the same (stage, week) in the same state — channel, score band, arrival
//! month, furthest stage, fate — are merged, so the work grows with weeks ×
//! stages × states rather than with leads; it pays only at large volumes
//! (see [`crate::sim::COHORT_MQLS_PER_WEEK`]).
//!
//! What is discretised: the score. A channel's MQLs are put in [`BANDS`]
//! bands of equal probability, cut again at every SLA tier's start (so
//! that every band has one tier) and at a grid of [`SCORE_STEPS`] steps of
//! the score range (so that no band is wide where the distribution is
//! thin); every lead of a band has the band's median score. Nurtured leads
//! that cross the threshold take the median of their half of the scores
//! that need the same number of engagements. Everything else is exact in
//! distribution: splitting n independent leads by their common probability
//! is a binomial draw. Open deals and in-flight leads stay single leads.

use super::{
    BlockAcc, Cdf, Context, LOST, Lead, LeadEngine, Nurture, Reach, SLIP_DRAWN, SLIPS, TrialRec,
    WON, Workspace,
};
use crate::model::{Advance, Capacity, Metric};
use crate::sim::rng::{self, LeadRng};
use crate::sim::{control, metric};

/// Score bands of a channel's MQLs: of equal probability…
pub const BANDS: usize = 16;
/// …and no wider than this share of the score range.
pub const SCORE_STEPS: usize = 40;

/// The most leads in one group (larger cohorts are several groups).
pub const MAX_GROUP: u16 = u16::MAX;

/// Below this many leads, a split draws one uniform per lead (cheaper
/// than a binomial's setup, and the same distribution).
const SMALL: u32 = 24;

/// How many of `n` leads an event of probability `p` happens to.
pub fn count(r: &mut LeadRng, n: u32, p: f64) -> u32 {
    if n <= SMALL {
        (0..n).filter(|_| r.unit() < p).count() as u32
    } else {
        rng::binomial(r, u64::from(n), p) as u32
    }
}

/// Splits `n` leads over categories with cumulative probabilities `cum`
/// (non-decreasing, at most 1); the rest, `1 − cum.last()`, is category
/// `cum.len()`. Pushes (category, count) for every category with leads,
/// in category order, into `out` (cleared first).
pub fn multinomial(r: &mut LeadRng, n: u32, cum: &[f64], out: &mut Vec<(usize, u32)>) {
    out.clear();
    if n == 0 {
        return;
    }
    if n <= SMALL {
        let mut picks = [0usize; SMALL as usize];
        for x in picks.iter_mut().take(n as usize) {
            let u = r.unit();
            *x = cum.partition_point(|c| *c <= u);
        }
        let picks = &mut picks[..n as usize];
        picks.sort_unstable();
        for &k in picks.iter() {
            match out.last_mut() {
                Some((c, m)) if *c == k => *m += 1,
                _ => out.push((k, 1)),
            }
        }
        return;
    }
    let (mut left, mut mass, mut prev) = (n, 1.0f64, 0.0f64);
    for (i, c) in cum.iter().enumerate() {
        let p = (c - prev).max(0.0);
        prev = *c;
        let everything_left = p >= mass || (i + 1 == cum.len() && *c >= 1.0 - 1e-12);
        let k = if p <= 0.0 {
            0
        } else if everything_left {
            left
        } else {
            rng::binomial(r, u64::from(left), p / mass) as u32
        };
        mass -= p;
        if k > 0 {
            out.push((i, k));
            left -= k;
        }
        if left == 0 {
            return;
        }
    }
    out.push((cum.len(), left));
}

/// Score bands: cumulative probabilities (given the band's range) and each
/// band's median score.
#[derive(Clone, Debug)]
pub struct Bands {
    pub cum: Vec<f64>,
    pub score: Vec<f32>,
}

impl Bands {
    /// Bands of the scores between probabilities `lo` and 1 of a score
    /// distribution whose quantile function is `at`: [`BANDS`] of equal
    /// probability, also cut at `cuts` (probabilities, e.g. where an SLA
    /// tier starts).
    pub fn new(lo: f64, cuts: &[f64], at: impl Fn(f64) -> f64) -> Bands {
        let width = 1.0 - lo;
        let mut edges: Vec<f64> = (0..=BANDS)
            .map(|b| lo + width * b as f64 / BANDS as f64)
            .chain(cuts.iter().copied().filter(|c| *c > lo && *c < 1.0))
            .collect();
        edges.sort_by(f64::total_cmp);
        edges.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
        let mut cum = Vec::with_capacity(edges.len());
        let mut score = Vec::with_capacity(edges.len());
        for e in edges.windows(2) {
            if width > 0.0 {
                cum.push((e[1] - lo) / width);
            } else {
                cum.push(1.0);
            }
            score.push(at(0.5 * (e[0] + e[1])) as f32);
        }
        if let Some(last) = cum.last_mut() {
            *last = 1.0;
        }
        Bands { cum, score }
    }
}

impl Lead {
    /// Takes `k` of this group's leads into a group of their own, with a
    /// stream of its own.
    pub(super) fn take(&mut self, k: u32) -> Lead {
        let k = k as u16; // at most self.n
        let mut g = *self;
        g.n = k;
        g.rng = LeadRng(rng::mix(self.rng.next_u64()));
        self.n -= k;
        g
    }

    /// Splits the group by an event of probability `p` for each lead: (the
    /// leads it happens to, the rest). A single lead draws one uniform.
    #[inline(always)]
    pub(super) fn split(mut self, p: f64) -> (Option<Lead>, Option<Lead>) {
        if self.n == 1 {
            return if self.rng.unit() < p {
                (Some(self), None)
            } else {
                (None, Some(self))
            };
        }
        self.split_group(p)
    }

    #[inline(never)]
    fn split_group(mut self, p: f64) -> (Option<Lead>, Option<Lead>) {
        let k = count(&mut self.rng, u32::from(self.n), p);
        if k == 0 {
            (None, Some(self))
        } else if k == u32::from(self.n) {
            (Some(self), None)
        } else {
            let yes = self.take(k);
            (Some(yes), Some(self))
        }
    }

    /// Splits the group over categories (see [`multinomial`]);
    /// `f(part, category)` for each. A single lead draws one uniform.
    #[inline(always)]
    pub(super) fn choose(mut self, cum: &[f64], mut f: impl FnMut(Lead, usize)) {
        if self.n == 1 {
            let u = self.rng.unit();
            return f(self, cum.partition_point(|c| *c <= u));
        }
        self.choose_group(cum, f);
    }

    #[inline(never)]
    fn choose_group(mut self, cum: &[f64], mut f: impl FnMut(Lead, usize)) {
        let mut out = Vec::new();
        multinomial(&mut self.rng, u32::from(self.n), cum, &mut out);
        let last = out.len().saturating_sub(1);
        for (j, (c, k)) in out.into_iter().enumerate() {
            if j == last {
                return f(self, c);
            }
            f(self.take(k), c);
        }
    }

    /// Whether two groups are in the same state (they can be merged).
    fn same_state(&self, o: &Lead) -> bool {
        self.channel == o.channel
            && self.report == o.report
            && self.born == o.born
            && self.max == o.max
            && self.fate == o.fate
            && self.score.to_bits() == o.score.to_bits()
            && self.amount.to_bits() == o.amount.to_bits()
    }

    /// The merge's sort key: (channel, report, born, max, fate, score,
    /// amount, stream) in that order, packed in two integers so that a
    /// comparison is two instructions (a tuple's took a fifth of the
    /// cohort engine's time at 10× the board plan's leads).
    fn order(&self) -> (u128, u64) {
        let state = u64::from(self.channel) << 56
            | u64::from(self.report) << 48
            | u64::from(self.born) << 32
            | u64::from(self.max) << 24
            | u64::from(self.fate) << 16;
        let values = u64::from(self.score.to_bits()) << 32 | u64::from(self.amount.to_bits());
        (u128::from(state) << 64 | u128::from(values), self.rng.0)
    }
}

/// Merges the groups of a bucket that are in the same state (keeping the
/// stream of the first in a fixed order, so results do not depend on the
/// order they arrived in).
pub(super) fn merge(groups: &mut Vec<Lead>) {
    if groups.len() < 2 {
        return;
    }
    groups.sort_unstable_by_key(Lead::order);
    groups.dedup_by(|later, kept| {
        let fits = u32::from(kept.n) + u32::from(later.n) <= u32::from(MAX_GROUP);
        let same = fits && later.same_state(kept);
        if same {
            kept.n += later.n;
        }
        same
    });
}

impl Cdf {
    /// Splits a group over the delay's weeks: `f(part, weeks)` for each
    /// week some of its leads take. A single lead draws one uniform, as
    /// [`Cdf::sample_bits`].
    #[inline(always)]
    pub(super) fn spread(&self, mut g: Lead, mut f: impl FnMut(Lead, usize)) {
        if g.n == 1 {
            let d = self.sample_bits(g.rng.unit_bits());
            return f(g, d as usize);
        }
        self.spread_group(g, f);
    }

    #[inline(never)]
    fn spread_group(&self, g: Lead, mut f: impl FnMut(Lead, usize)) {
        let cum = self.cum();
        if cum.len() == 1 {
            return f(g, self.first as usize);
        }
        let first = self.first as usize;
        g.choose(cum, |part, j| f(part, first + j.min(cum.len() - 1)));
    }
}

/// `n` leads as groups of at most [`MAX_GROUP`]: (index, size); none for 0.
fn chunks(n: u32) -> impl Iterator<Item = (u64, u32)> {
    let max = u32::from(MAX_GROUP);
    (0..n.div_ceil(max)).map(move |j| (u64::from(j), (n - j * max).min(max)))
}

impl LeadEngine<'_> {
    /// The cohort engine's arrivals of channel `c` in week `a`: the MQLs
    /// (`direct`) in score bands, the leads nurture lifts over the
    /// threshold (`cross`) by engagements needed and week crossed, each
    /// group entering after the score gate's delay. `key` is the week's.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn arrive_groups(
        &self,
        ctx: &Context,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
        (c, a): (usize, usize),
        (direct, cross): (u32, u32),
        key: u64,
        nurture: Option<&Nurture>,
    ) {
        let ch = &self.channels[c];
        // Reports are by arrival month: the month's first week stands for
        // it, so that the month's groups merge.
        let born = ctx.months[ctx.month_of_week[a]].weeks.start as u16;
        let group = |n: u32, score: f64, max: u8, k: u64| Lead {
            rng: LeadRng(rng::mix(key ^ k)),
            n: n as u16, // at most MAX_GROUP: see `chunks`
            score: score as f32,
            amount: -1.0,
            channel: c as u8,
            report: c as u8,
            born,
            max,
            fate: 0,
        };
        let first = ch.delays[0].get(vals);
        let mut r = LeadRng(key);
        let mut out = Vec::new();
        multinomial(&mut r, direct, &ch.bands.cum, &mut out);
        for &(b, k) in &out {
            let score = f64::from(ch.bands.score[b.min(ch.bands.score.len() - 1)]);
            for (j, k) in chunks(k) {
                let id = (j << 32 | b as u64) << 1;
                let (stage, max) = if self.score_gate { (1, 1) } else { (0, 0) };
                let g = group(k, score, max, id);
                if self.score_gate {
                    first.spread(g, |g, d| {
                        self.enter(ctx, ws, rec, acc, g, stage, a + d, true)
                    });
                } else {
                    self.enter(ctx, ws, rec, acc, g, stage, a, false);
                }
            }
        }
        let Some(nt) = nurture else { return };
        let lift = self.m.scoring.nurture.as_ref().map_or(0.0, |n| n.lift);
        let top = self.m.scoring.range.1;
        multinomial(&mut r, cross, nt.inv.cums(), &mut out);
        for &(o, m) in &out {
            let (k, week) = nt.outcomes[o.min(nt.outcomes.len() - 1)];
            let (hi, lo) = (ch.below_lift[k as usize - 1], ch.below_lift[k as usize]);
            // The scores that need k engagements, in two halves, each at
            // its median.
            let low_half = count(&mut r, m, 0.5);
            for (j, (n, at)) in [(low_half, 0.25), (m - low_half, 0.75)]
                .into_iter()
                .enumerate()
            {
                let score = (ch.table.at(lo + at * (hi - lo)) + f64::from(k) * lift).min(top);
                for (i, n) in chunks(n) {
                    let g = group(n, score, 1, (i << 32 | (2 * o + j) as u64) << 1 | 1);
                    let at = a + week as usize;
                    first.spread(g, |g, d| self.enter(ctx, ws, rec, acc, g, 1, at + d, true));
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn decide_group(
        &self,
        ctx: &Context,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
        lead: Lead,
        i: usize,
        t: usize,
        reach: Option<Reach>,
    ) {
        let tr = &self.m.channels[lead.channel as usize].funnel.transitions[i];
        let (row, week) = (lead.report as usize, lead.report_week(t));
        let n = f64::from(lead.n);
        let (advance, stay) = match tr.advance {
            Advance::Score => (Some(lead), None),
            Advance::Rate(p) => lead.split(self.rate(i, vals[p], lead.score)),
            Advance::Acceptance => {
                let score = f64::from(lead.score);
                let reached = match (&self.m.capacity, &reach) {
                    // The touches made (a share of the SLA's when the team
                    // is short) must reach the lead before it is judged.
                    (Capacity::Team(team), Some(r)) => {
                        let k = team.tier_of(score);
                        rec.touches_made += team.tiers[k].touches * r.share * n;
                        Some(r.p[k])
                    }
                    _ => None,
                };
                acc.cm_add(ctx, row, week, metric::DECISIONS, n);
                let (yes, no) = lead.split(self.p_accept(score, vals, reached));
                if let Some(y) = &yes {
                    acc.cm_add(ctx, row, week, metric::ACCEPTED, f64::from(y.n));
                }
                (yes, no)
            }
            Advance::Win(w) => (
                None,
                self.close_group(ctx, ws, rec, acc, vals, lead, i, t, vals[w]),
            ),
        };
        if let Some(mut lead) = advance {
            let j = i + 1;
            let first = usize::from(lead.max) < j;
            if first {
                lead.max = j as u8;
            }
            self.enter(ctx, ws, rec, acc, lead, j, t, first);
        }
        if let Some(lead) = stay {
            let lost = matches!(tr.advance, Advance::Win(_));
            self.recycle_group(ctx, ws, rec, acc, vals, lead, i, t, !lost);
        }
    }

    /// A close decision in week `t`: deals that slip are due again later;
    /// the others are won (their revenue counted) or lost, and the lost
    /// are returned (to be recycled or dropped).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn close_group(
        &self,
        ctx: &Context,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
        mut lead: Lead,
        i: usize,
        t: usize,
        w: f64,
    ) -> Option<Lead> {
        let ch = &self.channels[lead.channel as usize];
        let (row, week) = (lead.report as usize, lead.report_week(t));
        let (slipped, rest) = if lead.fate & SLIP_DRAWN != 0 {
            let yes = lead.fate & SLIPS != 0;
            lead.fate &= !(SLIP_DRAWN | SLIPS);
            if yes {
                (Some(lead), None)
            } else {
                (None, Some(lead))
            }
        } else {
            match &ch.slip {
                Some((sp, _)) => lead.split(vals[*sp]),
                None => (None, Some(lead)),
            }
        };
        let rest = match (slipped, &ch.slip) {
            (Some(g), Some((_, cdf))) => {
                cdf.spread(g, |g, d| self.close_at(ws, g, t + d, t, vals));
                rest
            }
            // Only a slip drawn early can be without a slip delay: none.
            (Some(g), None) => Some(g),
            (None, _) => rest,
        }?;
        let (won, lost) = match rest.fate & (WON | LOST) {
            WON => (Some(rest), None),
            LOST => (None, Some(rest)),
            _ => rest.split(self.rate(i, w, rest.score)),
        };
        if let Some(mut g) = won {
            let n = f64::from(g.n);
            let amount = self.amounts(&mut g);
            rec.luck[control::SIZE_LUCK] += amount - n * self.expected_amount(&g);
            if g.is_new() {
                rec.revenue_new[t] += amount;
                rec.eventual_new += amount;
            } else {
                rec.revenue_pipeline[t] += amount;
            }
            rec.wins += n;
            if ctx.metric == Metric::Wins {
                rec.goal[t] += n;
            }
            for (m, x) in [
                (metric::WINS, n),
                (metric::REVENUE, amount),
                (metric::WINS_EVENTUAL, n),
                (metric::REVENUE_EVENTUAL, amount),
            ] {
                acc.cm_add(ctx, row, week, m, x);
            }
        }
        if let Some(g) = &lost {
            acc.cm_add(ctx, row, week, metric::LOST, f64::from(g.n));
        }
        lost
    }

    /// Leads that did not advance from stage `i` in week `t`: recycled to
    /// an earlier stage after its delay, or out (counted as dropped when
    /// `count_drops`; lost deals are counted as lost).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn recycle_group(
        &self,
        ctx: &Context,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
        mut lead: Lead,
        i: usize,
        t: usize,
        count_drops: bool,
    ) {
        let (row, week) = (lead.report as usize, lead.report_week(t));
        if lead.n == 1 {
            match self.recycle_to(&mut lead, i, vals) {
                Some((to, d)) => {
                    acc.cm_add(ctx, row, week, metric::RECYCLED, 1.0);
                    self.enter(ctx, ws, rec, acc, lead, to, t + d, false);
                }
                None if count_drops => acc.cm_add(ctx, row, week, metric::DROPPED, 1.0),
                None => {}
            }
            return;
        }
        let recycle = &self.channels[lead.channel as usize].recycle[i];
        let cum = self.recycle_cum(recycle, vals);
        lead.choose(&cum, |g, k| match recycle.get(k) {
            Some((to, _, cdf)) if self.may_return(&g, *to) => {
                acc.cm_add(ctx, row, week, metric::RECYCLED, f64::from(g.n));
                cdf.spread(g, |g, d| {
                    self.enter(ctx, ws, rec, acc, g, *to, t + d, false)
                });
            }
            _ if count_drops => acc.cm_add(ctx, row, week, metric::DROPPED, f64::from(g.n)),
            _ => {}
        });
    }

    /// A close decision due in week `due`, scheduled in week `now`. The
    /// quarter-end push: when `due` falls early in a quarter whose
    /// previous quarter end is still ahead, the slip at `due` is drawn now;
    /// a deal that would close then is closed at the quarter end instead
    /// with the push's probability.
    #[inline(never)]
    pub(super) fn close_at_group(
        &self,
        ws: &mut Workspace,
        mut lead: Lead,
        due: usize,
        now: usize,
        vals: &[f64],
    ) {
        let close = self.stages - 1;
        let Some((q, push, slip)) = self.pull(&lead, due, now, vals) else {
            return self.schedule(ws, lead, close, due);
        };
        lead.fate |= SLIP_DRAWN;
        let (slips, stays) = lead.split(slip);
        if let Some(mut g) = slips {
            g.fate |= SLIPS;
            self.schedule(ws, g, close, due);
        }
        if let Some(g) = stays {
            let (pushed, not) = g.split(push);
            if let Some(g) = pushed {
                self.schedule(ws, g, close, q);
            }
            if let Some(g) = not {
                self.schedule(ws, g, close, due);
            }
        }
    }

    /// A group entering stage `i` in week `t`: spread over the stage's
    /// delay; at the close stage, split into deals that will be won and
    /// lost first, each with its cycle.
    #[inline(never)]
    pub(super) fn start_group(
        &self,
        ws: &mut Workspace,
        rec: &mut TrialRec,
        vals: &[f64],
        lead: Lead,
        i: usize,
        t: usize,
    ) {
        let ch = &self.channels[lead.channel as usize];
        if i + 1 < self.stages {
            let cdf = ch.delays[i].get(vals);
            return cdf.spread(lead, |g, d| self.schedule(ws, g, i, t + d));
        }
        let w = self.rate(i, vals[self.win_param(&lead)], lead.score);
        let n = f64::from(lead.n);
        let in_time = ch.delays[i].get(vals).at_most(self.weeks - 1 - t);
        let (won, lost) = lead.split(w);
        let n_won = won.map_or(0.0, |g| f64::from(g.n));
        self.fate_luck(rec, &lead, n_won - n * w, in_time);
        for (g, fate, cdf) in [(won, WON, &ch.delays[i]), (lost, LOST, &ch.lost_cycle)] {
            if let Some(mut g) = g {
                g.fate = fate;
                let cdf = cdf.get(vals);
                cdf.spread(g, |g, d| self.close_at(ws, g, t + d, t, vals));
            }
        }
    }

    /// Follows a group still in flight at the end of the horizon, due at
    /// stage `i`, to its outcomes, as [`LeadEngine::resolve`] does a lead.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn resolve_group(
        &self,
        ctx: &Context,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
        full: Option<&Reach>,
        lead: Lead,
        i: usize,
    ) {
        let funnel = &self.m.channels[lead.channel as usize].funnel;
        let recycle = &self.channels[lead.channel as usize].recycle;
        let mut stack = vec![(lead, i)];
        // Every loop of an absorbing chain ends with probability 1; the cap
        // only guards against a run of recycles of vanishing probability.
        for _ in 0..10_000 {
            let Some((g, i)) = stack.pop() else { return };
            if g.n == 1 {
                self.resolve(ctx, rec, acc, vals, full, g, i);
                continue;
            }
            let (advance, stay) = match funnel.transitions[i].advance {
                Advance::Score => (Some(g), None),
                Advance::Rate(p) => g.split(self.rate(i, vals[p], g.score)),
                Advance::Acceptance => {
                    let reach = self.full_sla(g.score, full);
                    g.split(self.p_accept(f64::from(g.score), vals, reach))
                }
                Advance::Win(w) => {
                    let (won, lost) = match g.fate & (WON | LOST) {
                        WON => (Some(g), None),
                        LOST => (None, Some(g)),
                        _ => g.split(self.rate(i, vals[w], g.score)),
                    };
                    if let Some(mut g) = won {
                        self.eventual(ctx, rec, acc, &mut g);
                    }
                    (None, lost)
                }
            };
            if let Some(g) = advance {
                stack.push((g, i + 1));
            }
            if let Some(g) = stay {
                let cum = self.recycle_cum(&recycle[i], vals);
                g.choose(&cum, |g, k| {
                    if let Some((to, _, _)) = recycle[i].get(k)
                        && self.may_return(&g, *to)
                    {
                        stack.push((g, *to));
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::leads::IN_FLIGHT;

    /// The packed sort key orders groups as the tuple of their fields
    /// does, field by field (so merging keeps the same stream as before it
    /// was packed), on fields drawn to collide often.
    #[test]
    fn the_merge_key_orders_as_the_fields_do() {
        let mut r = LeadRng(11);
        let mut pick = |k: u64| (r.next_u64() % k) as u32;
        let leads: Vec<Lead> = (0..3_000)
            .map(|_| Lead {
                rng: LeadRng(u64::from(pick(4)) << 62 | u64::from(pick(3))),
                n: 1,
                score: [f32::NAN, -0.0, 0.0, 55.5, 80.0][pick(5) as usize],
                amount: [-1.0, 0.0, 12_000.0, 3.5e5][pick(4) as usize],
                channel: [0, 1, 255][pick(3) as usize],
                report: pick(3) as u8,
                born: [0, 1, 51, IN_FLIGHT][pick(4) as usize],
                max: pick(3) as u8,
                fate: [0, WON, LOST, WON | SLIP_DRAWN | SLIPS][pick(4) as usize],
            })
            .collect();
        let fields = |l: &Lead| {
            (
                l.channel,
                l.report,
                l.born,
                l.max,
                l.fate,
                l.score.to_bits(),
                l.amount.to_bits(),
                l.rng.0,
            )
        };
        for pair in leads.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert_eq!(a.order().cmp(&b.order()), fields(a).cmp(&fields(b)));
        }
    }

    /// Category frequencies of many splits, small and large groups alike,
    /// match their probabilities (within 4 standard errors).
    #[test]
    fn multinomial_splits_have_the_categories_probabilities() {
        let cum = [0.1, 0.4, 0.45, 0.9];
        let p = [0.1, 0.3, 0.05, 0.45, 0.1];
        for n in [1u32, 7, 24, 25, 400] {
            let mut r = LeadRng(u64::from(n) * 7919);
            let mut tally = [0u64; 5];
            let mut out = Vec::new();
            let reps = 200_000 / n;
            for _ in 0..reps {
                multinomial(&mut r, n, &cum, &mut out);
                assert_eq!(out.iter().map(|(_, k)| k).sum::<u32>(), n);
                for (c, k) in &out {
                    tally[*c] += u64::from(*k);
                }
            }
            let total = f64::from(n * reps);
            for (t, q) in tally.iter().zip(p) {
                let se = (q * (1.0 - q) / total).sqrt();
                assert!(
                    (*t as f64 / total - q).abs() < 4.0 * se,
                    "n = {n}: {t} of {total} against {q}"
                );
            }
        }
    }

    #[test]
    fn counts_are_binomial_for_small_and_large_groups() {
        for n in [3u32, 24, 25, 300] {
            let mut r = LeadRng(99 + u64::from(n));
            let reps = 100_000 / n;
            let hits: u64 = (0..reps).map(|_| u64::from(count(&mut r, n, 0.3))).sum();
            let total = f64::from(n * reps);
            let se = (0.3 * 0.7 / total).sqrt();
            assert!((hits as f64 / total - 0.3).abs() < 4.0 * se, "n = {n}");
        }
    }

    #[test]
    fn bands_cover_the_range_and_cut_at_tier_boundaries() {
        let b = Bands::new(0.2, &[0.52, 0.93, 0.1], |p| 100.0 * p);
        assert_eq!(*b.cum.last().unwrap(), 1.0);
        // 16 equal bands of [0.2, 1], plus the cuts at 0.52 and 0.93 (0.1 is
        // below the range).
        assert_eq!(b.cum.len(), BANDS + 2);
        assert!(b.cum.windows(2).all(|w| w[0] < w[1]));
        // A band's score is the quantile at its middle; one band ends at
        // 0.52 exactly.
        assert!(b.cum.iter().any(|c| (0.2 + 0.8 * c - 0.52).abs() < 1e-12));
        assert!((b.score[0] - 100.0 * (0.2 + 0.025)).abs() < 1e-4);
    }
}

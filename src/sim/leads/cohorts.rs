//! The cohort engine's draws: leads in the same state are exchangeable, so
//! a group of them is moved by binomial and multinomial draws of counts
//! instead of one draw per lead.
//!
//! The cohort engine is the lead engine ([`super::leads`]) run on groups:
//! every mechanism (capacity shared across SLA tiers, hires and ramp,
//! nurture, recycling, slips, the quarter-end push, uncertain rates and
//! delays, quality lift, the open pipeline) is the same code, and each
//! random step that would draw once per lead splits a group by counts
//! instead. Groups that reach the same (stage, week) in the same state —
//! channel, score band, arrival month, furthest stage, fate — are merged,
//! so the work grows with weeks × stages × bands, not with leads.
//!
//! What is discretised: the score. A channel's MQLs are put in
//! [`BANDS`] bands of equal probability (with the SLA tiers' boundaries as
//! further edges, so that every band has one tier) and at a grid of 40 steps
//! of the score range (so that no band is wide where the distribution is
//! thin), and every lead of a band has the band's median score. Nurtured leads that cross the
//! threshold take the median of their half of the scores that need the
//! same number of engagements. Everything else is exact in distribution:
//! splitting n independent leads by their common probability is a
//! binomial draw. Open deals and in-flight leads keep their own state.

use super::{BlockAcc, Cdf, Context, Lead, LeadEngine, Nurture, TrialRec, Workspace};
use crate::model::Advance;
use crate::sim::rng::{self, LeadRng};

/// Score bands of a channel's MQLs: of equal probability…
pub const BANDS: usize = 16;
/// …and no wider than this share of the score range.
pub const SCORE_STEPS: usize = 40;

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
        let mut g = *self;
        g.n = k;
        g.rng = LeadRng(rng::mix(self.rng.next_u64()));
        self.n -= k;
        g
    }

    /// Splits the group by an event of probability `p` for each lead: (the
    /// leads it happens to, the rest). A single lead draws one uniform.
    pub(super) fn split(mut self, p: f64) -> (Option<Lead>, Option<Lead>) {
        let k = if self.n == 1 {
            u32::from(self.rng.unit() < p)
        } else {
            count(&mut self.rng, self.n, p)
        };
        if k == 0 {
            (None, Some(self))
        } else if k == self.n {
            (Some(self), None)
        } else {
            let yes = self.take(k);
            (Some(yes), Some(self))
        }
    }

    /// Splits the group over categories (see [`multinomial`]);
    /// `f(part, category)` for each. A single lead draws one uniform.
    pub(super) fn choose(mut self, cum: &[f64], mut f: impl FnMut(Lead, usize)) {
        if self.n == 1 {
            let u = self.rng.unit();
            return f(self, cum.partition_point(|c| *c <= u));
        }
        let mut out = Vec::new();
        multinomial(&mut self.rng, self.n, cum, &mut out);
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

    fn order(&self) -> (u16, u16, u16, u8, u8, u32, u32, u64) {
        (
            self.channel,
            self.report,
            self.born,
            self.max,
            self.fate,
            self.score.to_bits(),
            self.amount.to_bits(),
            self.rng.0,
        )
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
        let same = later.same_state(kept);
        if same {
            kept.n += later.n;
        }
        same
    });
}

impl Cdf {
    /// Splits a group over the delay's weeks: `f(part, weeks)` for each
    /// week some of its leads take. A single lead draws one uniform, as
    /// [`Cdf::sample`].
    pub(super) fn spread(&self, mut g: Lead, mut f: impl FnMut(Lead, usize)) {
        if g.n == 1 {
            let d = self.sample(g.rng.unit());
            return f(g, d as usize);
        }
        if self.cum.len() == 1 {
            return f(g, self.first as usize);
        }
        let first = self.first as usize;
        g.choose(&self.cum, |part, j| {
            f(part, first + j.min(self.cum.len() - 1))
        });
    }
}

impl LeadEngine<'_> {
    /// The cohort engine's arrivals of channel `c` in week `a`: the MQLs
    /// (`direct`) in score bands, the leads nurture lifts over the
    /// threshold (`cross`) by engagements needed and week crossed, each
    /// group entering after the score gate's delay. `key` is the week's.
    #[allow(clippy::too_many_arguments)]
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
            n,
            score: score as f32,
            amount: -1.0,
            channel: c as u16,
            report: c as u16,
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
            if self.score_gate {
                let g = group(k, score, 1, (b as u64) << 1);
                first.spread(g, |g, d| self.enter(ctx, ws, rec, acc, g, 1, a + d, true));
            } else {
                self.enter(
                    ctx,
                    ws,
                    rec,
                    acc,
                    group(k, score, 0, (b as u64) << 1),
                    0,
                    a,
                    false,
                );
            }
        }
        let Some(nt) = nurture else { return };
        let lift = self.m.scoring.nurture.as_ref().map_or(0.0, |n| n.lift);
        let top = self.m.scoring.range.1;
        multinomial(&mut r, cross, &nt.cum, &mut out);
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
                if n == 0 {
                    continue;
                }
                let score = (ch.table.at(lo + at * (hi - lo)) + f64::from(k) * lift).min(top);
                let g = group(n, score, 1, ((2 * o + j) as u64) << 1 | 1);
                let at = a + week as usize;
                first.spread(g, |g, d| self.enter(ctx, ws, rec, acc, g, 1, at + d, true));
            }
        }
    }

    /// Follows a group still in flight at the end of the horizon, due at
    /// stage `i`, to its outcomes, as [`LeadEngine::resolve`] does a lead.
    pub(super) fn resolve_group(
        &self,
        ctx: &Context,
        rec: &mut TrialRec,
        acc: &mut BlockAcc,
        vals: &[f64],
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
                self.resolve(ctx, rec, acc, vals, g, i);
                continue;
            }
            let (advance, stay) = match funnel.transitions[i].advance {
                Advance::Score => (Some(g), None),
                Advance::Rate(p) => g.split(self.rate(i, vals[p], g.score)),
                Advance::Acceptance => {
                    let reach = self.full_sla(g.score, vals);
                    g.split(self.p_accept(f64::from(g.score), vals, reach))
                }
                Advance::Win(w) => {
                    let (won, lost) = match g.fate & (super::WON | super::LOST) {
                        super::WON => (Some(g), None),
                        super::LOST => (None, Some(g)),
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

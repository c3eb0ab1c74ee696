//! Expected flow of a channel's leads through the stages.
//!
//! A lead's path depends on its score only through the MQL gate (and
//! nurture) and the acceptance curve, so the score range is cut into narrow
//! bands ([`bands`]) with the MQL threshold on a band edge. For each band,
//! [`entries`] gives the probability and the delay with which a lead becomes
//! an MQL (directly, or later through nurture, which also lifts its score);
//! from there the stage chain ([`crate::chain`]) gives, per band, the
//! probability of reaching each stage and of winning, and the expected lag.
//! Weighting the bands gives a channel's conversion ([`channel_conversion`]).
//!
//! Acceptance here assumes the SLA follow-up is met (capacity not binding);
//! the engine thins it when demand exceeds capacity.

use serde::Serialize;

use crate::chain::Chain;
use crate::dist::{Delay, Dist};
use crate::model::{Advance, Channel, Model, Scoring};

/// Width of a score band, in score points (at most; bands on each side of
/// the threshold are equal).
pub const BAND_WIDTH: f64 = 0.25;

/// A band of scores [lo, hi) (the last one includes hi).
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub lo: f64,
    pub hi: f64,
    /// Representative score: the band's midpoint.
    pub score: f64,
    /// P(score in band).
    pub mass: f64,
}

/// Cuts `range` into bands with `threshold` on an edge.
pub fn bands(score: &Dist, range: (f64, f64), threshold: f64) -> Vec<Band> {
    let (lo, hi) = range;
    let mut edges = Vec::new();
    for (a, b) in [(lo, threshold), (threshold, hi)] {
        if b > a {
            let n = ((b - a) / BAND_WIDTH).ceil().max(1.0) as usize;
            for i in 0..n {
                edges.push(a + (b - a) * i as f64 / n as f64);
            }
        }
    }
    edges.push(hi);
    let last = edges.len() - 2;
    edges
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let upper = if i == last {
                1.0
            } else {
                score.cdf_below(w[1])
            };
            Band {
                lo: w[0],
                hi: w[1],
                score: 0.5 * (w[0] + w[1]),
                mass: (upper - score.cdf_below(w[0])).max(0.0),
            }
        })
        .collect()
}

/// Leads of one band entering the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Score when entering (after any nurture lift).
    pub score: f64,
    /// Probability per lead.
    pub weight: f64,
    /// Weeks from arrival to entering the start state.
    pub delay: Delay,
}

/// How a channel's leads enter the chain: the state they start in (the
/// stage after the score gate, or the first stage when there is none), and
/// per band, with which probability, delay and score.
pub fn entries(channel: &Channel, scoring: &Scoring, params: &[f64]) -> (usize, Vec<Entry>) {
    let first = &channel.funnel.transitions[0];
    let bands = bands(&channel.score, scoring.range, scoring.threshold);
    if first.advance != Advance::Score {
        let e = bands
            .iter()
            .filter(|b| b.mass > 0.0)
            .map(|b| Entry {
                score: b.score,
                weight: b.mass,
                delay: Delay::fixed(0),
            })
            .collect();
        return (0, e);
    }
    let mut out = Vec::new();
    for b in bands.iter().filter(|b| b.mass > 0.0) {
        if b.lo >= scoring.threshold {
            out.push(Entry {
                score: b.score,
                weight: b.mass,
                delay: first.delay.clone(),
            });
            continue;
        }
        let Some(n) = &scoring.nurture else { continue };
        // k engagements of `lift` points each are needed; the k-th comes in
        // nurture week w with the negative-binomial probability.
        let k = ((scoring.threshold - b.score) / n.lift).ceil().max(1.0) as u32;
        if k > n.weeks {
            continue;
        }
        let q = params[n.p_engage];
        let crossing = negative_binomial(k, q, n.weeks);
        let weight: f64 = crossing.iter().sum();
        if weight <= 0.0 {
            continue;
        }
        let nurture = Delay {
            first: 0,
            pmf: crossing.iter().map(|p| p / weight).collect(),
        };
        out.push(Entry {
            score: (b.score + f64::from(k) * n.lift).min(scoring.range.1),
            weight: b.mass * weight,
            delay: convolve(&first.delay, &nurture),
        });
    }
    (1, out)
}

/// P(the k-th success of Bernoulli(q) trials comes at trial w), w = 0..=max
/// (zero below k).
pub fn negative_binomial(k: u32, q: f64, max: u32) -> Vec<f64> {
    let mut out = vec![0.0; max as usize + 1];
    if q <= 0.0 {
        return out;
    }
    // C(w−1, k−1) q^k (1−q)^(w−k), built up in logs for large w.
    let ln_q = q.ln();
    let ln_1q = (1.0 - q).ln();
    for w in k..=max {
        let ln_c = ln_choose(w - 1, k - 1);
        let tail = if w == k {
            0.0
        } else {
            f64::from(w - k) * ln_1q
        };
        out[w as usize] = (ln_c + f64::from(k) * ln_q + tail).exp();
    }
    out
}

fn ln_choose(n: u32, k: u32) -> f64 {
    (1..=k)
        .map(|i| (f64::from(n - k + i) / f64::from(i)).ln())
        .sum()
}

/// The delay of two waits one after the other.
pub fn convolve(a: &Delay, b: &Delay) -> Delay {
    let mut pmf = vec![0.0; a.pmf.len() + b.pmf.len() - 1];
    for (i, x) in a.pmf.iter().enumerate() {
        for (j, y) in b.pmf.iter().enumerate() {
            pmf[i + j] += x * y;
        }
    }
    Delay {
        first: a.first + b.first,
        pmf,
    }
}

/// What one lead of a channel is expected to do, recycling included.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelConversion {
    /// P(ever reaching each stage), in stage order (1 for the first).
    pub reach: Vec<f64>,
    /// Expected entries into each stage, recycled returns included.
    pub visits: Vec<f64>,
    /// P(won).
    pub won: f64,
    /// E[weeks from arrival to the win | won].
    pub lag_weeks: Option<f64>,
}

/// The expected conversion of a lead of `model.channels[c]`, with the
/// parameters at `params` and the SLA met.
pub fn channel_conversion(model: &Model, c: usize, params: &[f64]) -> ChannelConversion {
    let channel = &model.channels[c];
    let stages = model.stages.len();
    let (start, entries) = entries(channel, &model.scoring, params);
    let mut reach = vec![0.0; stages];
    let mut visits = vec![0.0; stages];
    reach[0] = 1.0;
    visits[0] = 1.0;
    let (mut won, mut won_time) = (0.0, 0.0);
    for e in &entries {
        let p_accept = model.p_accept(e.score, 1.0, params);
        let lifted = model.scoring.params_for(&channel.funnel, params, e.score);
        let chain = Chain::new(&channel.funnel, &lifted, p_accept, 1.0);
        let conv = chain.conversion(start).expect("built models are absorbing");
        for (r, c) in reach.iter_mut().zip(&conv.reach).skip(start) {
            *r += e.weight * c;
        }
        for (j, (v, c)) in visits.iter_mut().zip(&conv.visits).enumerate() {
            // A lead's own first entry into stage 0 is counted above.
            *v += e.weight * (c - f64::from(u8::from(j == 0 && start == 0)));
        }
        won += e.weight * conv.won;
        if let Some(lag) = conv.lag_weeks {
            won_time += e.weight * conv.won * (e.delay.mean() + lag);
        }
    }
    ChannelConversion {
        reach,
        visits,
        won,
        lag_weeks: (won > 0.0).then(|| won_time / won),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_put_the_threshold_on_an_edge_and_sum_to_one() {
        let d = Dist::normal(50.0, 15.0)
            .unwrap()
            .clamped(0.0, 100.0)
            .unwrap();
        let b = bands(&d, (0.0, 100.0), 60.3);
        assert!(b.iter().any(|x| (x.lo - 60.3).abs() < 1e-12));
        let total: f64 = b.iter().map(|x| x.mass).sum();
        assert!((total - 1.0).abs() < 1e-12);
        let above: f64 = b.iter().filter(|x| x.lo >= 60.3).map(|x| x.mass).sum();
        assert!((above - (1.0 - d.cdf(60.3))).abs() < 1e-12);
        assert!(b.iter().all(|x| x.hi - x.lo <= BAND_WIDTH + 1e-12));
    }

    #[test]
    fn negative_binomial_matches_hand_values() {
        // Second success at trial 3 with q = 0.5: C(2,1)·0.25·0.5 = 0.25.
        let nb = negative_binomial(2, 0.5, 4);
        assert_eq!(nb[..2], [0.0, 0.0]);
        assert!((nb[2] - 0.25).abs() < 1e-15);
        assert!((nb[3] - 0.25).abs() < 1e-15);
        assert!((nb[4] - 3.0 / 16.0).abs() < 1e-15);
        // Over all trials the k-th success eventually comes.
        let total: f64 = negative_binomial(3, 0.2, 400).iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn convolution_adds_delays() {
        let a = Delay {
            first: 1,
            pmf: vec![0.5, 0.5],
        };
        let b = Delay {
            first: 2,
            pmf: vec![0.25, 0.75],
        };
        let c = convolve(&a, &b);
        assert_eq!(c.first, 3);
        assert_eq!(c.pmf, vec![0.125, 0.5, 0.375]);
        assert!((c.mean() - (a.mean() + b.mean())).abs() < 1e-12);
    }
}

//! What is open at the start — deals, and leads in flight — and how each
//! goes on given its age.
//!
//! A deal that has been open for `a` weeks is a survivor: its cycle has not
//! ended yet. When won and lost deals have cycles of different lengths (a
//! lost deal lingers), the chance that it is won is conditional on that:
//!
//! ```text
//!   P(win | open at a) = w·S_won(a) / (w·S_won(a) + (1 − w)·S_lost(a)),
//! ```
//!
//! with S(a) = P(cycle ≥ a), and the time it has left is the remaining
//! cycle of its fate given the same (see [`crate::dist::Delay::remaining_after`]).
//! The CRM's own probability and expected close replace these when the
//! model says so (`pipeline.win_probability` / `close_date = "crm"`).
//!
//! Leads in flight are judged like new ones: an MQL waits out the rest of
//! its stage's delay and meets sales acceptance with its score; a lead in
//! nurture has the rest of its nurture weeks to cross the threshold.

use crate::dist::Delay;
use crate::flow::{convolve, negative_binomial};
use crate::model::{Advance, Model, OpenDeal};

/// P(a delay is at least `age` weeks): the share still waiting.
pub fn survival(d: &Delay, age: u32) -> f64 {
    d.iter().filter(|(w, _)| *w >= age).map(|(_, p)| p).sum()
}

/// How an open item goes on from week 0.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    /// Decided at `stage` after `due` weeks.
    Decide { stage: usize, due: Delay },
    /// A deal in its sales cycle: won with `p_win` after `won`, else lost
    /// after `lost`.
    Close { p_win: f64, won: Delay, lost: Delay },
    /// A lead in nurture: it crosses the MQL threshold with probability
    /// `p`, entering the next stage after `due` weeks with `score`.
    Nurture { p: f64, due: Delay, score: f64 },
    /// Nothing more can happen to it (a lead whose nurture has run out).
    Gone,
}

/// The won and lost survivals of a deal at its age, for a win rate drawn
/// later: `p_win = w·s_won / (w·s_won + (1 − w)·s_lost)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Survivals {
    pub won: f64,
    pub lost: f64,
}

impl Survivals {
    /// P(win | still open) for a win rate `w`; 0 when neither fate can
    /// still be waiting (past both cycles: lost).
    pub fn p_win(&self, w: f64) -> f64 {
        let (a, b) = (w * self.won, (1.0 - w) * self.lost);
        if a + b > 0.0 { a / (a + b) } else { 0.0 }
    }
}

/// The survivals of an open deal in the close stage at its age.
pub fn survivals(model: &Model, d: &OpenDeal) -> Survivals {
    let f = &model.channels[d.channel.unwrap_or(0)].funnel;
    Survivals {
        won: survival(f.cycle(true), d.age_weeks),
        lost: survival(f.cycle(false), d.age_weeks),
    }
}

/// How an open item goes on, with the parameters at `params` (the win
/// rate shifted by its score where lead quality says so).
pub fn start(model: &Model, d: &OpenDeal, params: &[f64]) -> Start {
    let funnel = &model.channels[d.channel.unwrap_or(0)].funnel;
    let t = &funnel.transitions[d.stage];
    match t.advance {
        Advance::Win(w) => {
            let score = d.score.unwrap_or(f64::NAN);
            let w = model
                .scoring
                .quality
                .as_ref()
                .map_or(params[w], |q| q.rate(d.stage, params[w], score));
            let p_win = d
                .probability
                .unwrap_or_else(|| survivals(model, d).p_win(w));
            let (won, lost) = match d.close_in_weeks {
                Some(c) => (Delay::fixed(c), Delay::fixed(c)),
                None => (
                    funnel.cycle(true).remaining_after(d.age_weeks),
                    funnel.cycle(false).remaining_after(d.age_weeks),
                ),
            };
            Start::Close { p_win, won, lost }
        }
        Advance::Score => nurture_start(model, d, params),
        _ => Start::Decide {
            stage: d.stage,
            due: t.delay.remaining_after(d.age_weeks),
        },
    }
}

/// A lead in flight at the score gate: above the threshold it is an MQL
/// on its way; below, nurture has its remaining weeks to lift it.
fn nurture_start(model: &Model, d: &OpenDeal, params: &[f64]) -> Start {
    let funnel = &model.channels[d.channel.unwrap_or(0)].funnel;
    let sc = &model.scoring;
    let score = d.score.unwrap_or(sc.range.0);
    let first = &funnel.transitions[0].delay;
    if score >= sc.threshold {
        return Start::Nurture {
            p: 1.0,
            due: first.remaining_after(d.age_weeks),
            score,
        };
    }
    let Some(n) = &sc.nurture else {
        return Start::Gone;
    };
    let left = n.weeks.saturating_sub(d.age_weeks);
    let k = ((sc.threshold - score) / n.lift).ceil().max(1.0) as u32;
    if k > left {
        return Start::Gone;
    }
    let crossing = negative_binomial(k, params[n.p_engage], left);
    let p: f64 = crossing.iter().sum();
    if p <= 0.0 {
        return Start::Gone;
    }
    let when = Delay {
        first: 0,
        pmf: crossing.iter().map(|x| x / p).collect(),
    };
    Start::Nurture {
        p,
        due: convolve(first, &when),
        score: (score + f64::from(k) * n.lift).min(sc.range.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survival_counts_the_mass_still_waiting() {
        let d = Delay {
            first: 2,
            pmf: vec![0.25, 0.25, 0.5],
        };
        assert_eq!(survival(&d, 0), 1.0);
        assert_eq!(survival(&d, 3), 0.75);
        assert_eq!(survival(&d, 4), 0.5);
        assert_eq!(survival(&d, 5), 0.0);
    }

    #[test]
    fn the_win_rate_of_a_survivor_falls_when_losses_linger() {
        // Won deals close by week 10; lost ones may take until week 30.
        let s = Survivals {
            won: 0.1,
            lost: 0.6,
        };
        let p = s.p_win(0.25);
        assert!((p - 0.025 / (0.025 + 0.45)).abs() < 1e-15);
        assert!(p < 0.25);
        assert_eq!(
            Survivals {
                won: 0.0,
                lost: 0.0
            }
            .p_win(0.3),
            0.0
        );
        assert_eq!(
            Survivals {
                won: 1.0,
                lost: 1.0
            }
            .p_win(0.3),
            0.3
        );
    }
}

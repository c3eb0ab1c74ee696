//! The stage chain as an absorbing Markov chain, solved with nalgebra.
//!
//! Transient states are the stages, plus one "slipped" state when deals can
//! slip (a slipped deal waits the slip delay, not a new sales cycle, before
//! its close is decided again). Absorbing states are *won* and *out*
//! (dropped or lost). With `Q` the transient-to-transient probabilities, the
//! fundamental matrix `N = (I − Q)⁻¹` gives expected visits; the chain is
//! absorbing — every recycle loop ends — iff `I − Q` is invertible with a
//! non-negative inverse. From `N` come the probability of ever reaching each
//! stage, of winning, and the expected lead-to-close lag (see [`Chain::lag`]).

use nalgebra::{DMatrix, DVector};

use crate::model::{Advance, Funnel};

/// Probabilities of one funnel with its parameters fixed.
#[derive(Clone, Debug)]
pub struct Chain {
    /// Transient → transient probabilities.
    pub q: DMatrix<f64>,
    /// Transient → won.
    pub won: DVector<f64>,
    /// Mean weeks a lead waits in each state before its decision.
    pub wait: DVector<f64>,
    /// Extra mean weeks on an edge (recycle delays), same shape as `q`.
    pub extra: DMatrix<f64>,
    /// Number of stages (the slipped state, if any, comes after them).
    pub stages: usize,
}

/// What the chain says about a lead starting in one stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversion {
    /// P(the lead ever enters stage j), per stage.
    pub reach: Vec<f64>,
    /// Expected entries into stage j (≥ reach, with recycling).
    pub visits: Vec<f64>,
    /// P(won).
    pub won: f64,
    /// E[weeks to the win | won]; `None` when winning is impossible.
    pub lag_weeks: Option<f64>,
}

impl Chain {
    /// Builds the chain of `funnel`. `params` holds every parameter's value;
    /// `p_accept` is the acceptance gate's probability and `p_score` the
    /// score gate's, since both depend on the lead's score.
    pub fn new(funnel: &Funnel, params: &[f64], p_accept: f64, p_score: f64) -> Chain {
        let stages = funnel.transitions.len();
        let slip = funnel.slip.as_ref();
        let n = stages + usize::from(slip.is_some());
        let mut q = DMatrix::zeros(n, n);
        let mut extra = DMatrix::zeros(n, n);
        let mut won = DVector::zeros(n);
        let mut wait = DVector::zeros(n);
        let slipped = stages;
        for (i, t) in funnel.transitions.iter().enumerate() {
            let advance = match t.advance {
                Advance::Score => p_score,
                Advance::Acceptance => p_accept,
                Advance::Rate(p) | Advance::Win(p) => params[p],
            };
            let mut sources = vec![(i, t.delay.mean(), 1.0)];
            let mut stay = 1.0;
            if let (Advance::Win(_), Some(s)) = (t.advance, slip) {
                let p_slip = params[s.p];
                sources.push((slipped, s.delay.mean(), 1.0));
                for (from, _, _) in &sources {
                    q[(*from, slipped)] += p_slip;
                }
                stay = 1.0 - p_slip;
            }
            let recycled = recycle_total(&t.recycle, params);
            for &(from, w, _) in &sources {
                wait[from] = w;
                match t.advance {
                    Advance::Win(_) => won[from] += stay * advance,
                    _ => q[(from, i + 1)] += stay * advance,
                }
                for r in &t.recycle {
                    let p = stay * (1.0 - advance) * params[r.p] / recycled.max(1.0);
                    q[(from, r.to)] += p;
                    extra[(from, r.to)] = r.delay.mean();
                }
            }
        }
        Chain {
            q,
            won,
            wait,
            extra,
            stages,
        }
    }

    /// `N = (I − Q)⁻¹`, or `None` when some loop never ends.
    pub fn fundamental(&self) -> Option<DMatrix<f64>> {
        let n = self.q.nrows();
        let m = DMatrix::identity(n, n) - &self.q;
        let inv = m.try_inverse()?;
        let sane = inv.iter().all(|x| x.is_finite() && *x > -1e-9 && *x < 1e9);
        sane.then_some(inv)
    }

    /// States from which no absorbing state can be reached: the loops that
    /// never end. Empty iff the chain is absorbing.
    pub fn stuck(&self) -> Vec<usize> {
        let n = self.q.nrows();
        // exits[i]: some probability leaves the transient states from i.
        let mut can_end: Vec<bool> = (0..n).map(|i| self.q.row(i).sum() < 1.0 - 1e-12).collect();
        loop {
            let mut changed = false;
            for i in 0..n {
                if !can_end[i] && (0..n).any(|j| self.q[(i, j)] > 0.0 && can_end[j]) {
                    can_end[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        (0..n).filter(|i| !can_end[*i]).collect()
    }

    /// Conversion of a lead that starts in state `start`.
    pub fn conversion(&self, start: usize) -> Option<Conversion> {
        let n_mat = self.fundamental()?;
        let visits: Vec<f64> = (0..self.stages).map(|j| n_mat[(start, j)]).collect();
        let reach = (0..self.stages)
            .map(|j| {
                if j == start {
                    1.0
                } else {
                    (n_mat[(start, j)] / n_mat[(j, j)]).min(1.0)
                }
            })
            .collect();
        let h = &n_mat * &self.won;
        let won = h[start];
        Some(Conversion {
            reach,
            visits,
            won,
            lag_weeks: self.lag(&n_mat, &h, start),
        })
    }

    /// E[time to absorption in *won* | won], from `start`.
    ///
    /// With h = P(won | state) and τ = E[T·1{won} | state], one step gives
    /// τᵢ = wᵢ·hᵢ + Σⱼ Qᵢⱼ (eᵢⱼ·hⱼ + τⱼ), so τ = N (w∘h + (Q∘E) h), where w
    /// is the wait before each decision and E the extra delay of each edge.
    fn lag(&self, n_mat: &DMatrix<f64>, h: &DVector<f64>, start: usize) -> Option<f64> {
        if h[start] <= 1e-300 {
            return None;
        }
        let qe = self.q.component_mul(&self.extra);
        let b = self.wait.component_mul(h) + qe * h;
        let tau = n_mat * b;
        Some(tau[start] / h[start])
    }
}

/// Sum of the recycle probabilities of a transition; the engine scales the
/// shares down when uncertain draws add up to more than 1.
pub fn recycle_total(recycle: &[crate::model::Recycle], params: &[f64]) -> f64 {
    recycle.iter().map(|r| params[r.p]).sum()
}

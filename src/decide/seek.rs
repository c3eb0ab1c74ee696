//! Where P(hit) crosses a confidence level: the bracketing search shared by
//! `goal` (a lever) and `plan --confidence` (the plan's aim).
//!
//! Every evaluation runs the same trials with the same seed, so P(hit) is a
//! (nearly) monotone, smooth-looking step function of the value searched,
//! and a bracketing search on it is well behaved. Each step tries the point
//! where the straight line between the bracket's ends crosses the
//! confidence (regula falsi), kept at least a tenth of the bracket from
//! either end; after two steps that moved the same end it bisects instead,
//! so the bracket at least halves every two steps whatever the curve's
//! shape. It stops at the smallest value found that reaches the
//! confidence, to within a tolerance, or sooner when P(hit) at both ends of
//! the bracket is within two standard errors of the confidence (the rest
//! would chase noise).
//!
//! Bisection needs only the side of the confidence each value is on: an
//! evaluation may stop after its first [`STAGE_TRIALS`] trials (then each
//! further block) once P(hit) is clearly on one side ([`clear_side`]); the
//! value reported is always run with every trial, by the caller.

use serde::Serialize;

use crate::sim::control::Estimate;

/// Fewest trials an evaluation runs before it may stop on a clear side
/// (two of the lead engine's blocks: one for each core).
pub const STAGE_TRIALS: u64 = 512;
/// With `--trials auto`, fewest trials every evaluation of a search runs
/// ([`as_precise_as`]): the figures reported come from one of them.
pub const FIRST_TRIALS: u64 = 1024;

/// One value tried by a search.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Evaluation {
    pub value: f64,
    pub p_hit: f64,
    /// P(hit)'s standard error (controlled, as the forecast's).
    pub std_error: f64,
    /// Trials run: fewer than asked when the side was clear sooner.
    pub trials: u64,
}

/// Whether P(hit) from `n` trials is clearly on one side of `c`: beyond
/// three standard errors. The error is that of a share with one success
/// and one failure added (so that 0% or 100% of a few trials is not
/// certainty), shrunk as much as the control variates shrank the
/// estimate's own.
pub fn clear_side(n: u64, p: &Estimate, c: f64) -> bool {
    let nf = n as f64;
    let q = (p.mean * nf + 1.0) / (nf + 2.0);
    let kept = 1.0 - p.variance_removed();
    n >= STAGE_TRIALS && (p.mean - c).abs() > 3.0 * (kept * q * (1.0 - q) / nf).sqrt()
}

/// With `--trials auto`, how many trials every evaluation of a search
/// runs is settled by its first: it stops once its estimate (P(hit) for
/// `goal` and `plan`, the objective for `optimize`) is as precise as
/// `plain` trials of the plain mean would make it — from `first` trials,
/// `plain` times the share of the variance the controls keep (every one
/// of `plain` without controls).
pub fn as_precise_as(first: u64, plain: u64) -> impl Fn(u64, &Estimate) -> bool + Sync {
    move |n, p| n >= first.min(plain) && n as f64 >= plain as f64 * (1.0 - p.variance_removed())
}

/// How many trials a search's evaluations run: a fixed number, or with
/// `--trials auto` as many as its first evaluation needed to be as precise
/// as `plain` plain trials ([`as_precise_as`]).
pub struct SearchTrials {
    n: std::cell::Cell<u64>,
    auto: bool,
    plain: u64,
    first: std::cell::Cell<bool>,
}

impl SearchTrials {
    pub fn new(trials: crate::run::Trials, plain: u64) -> SearchTrials {
        let (n, auto) = match trials {
            crate::run::Trials::Fixed(n) => (n, false),
            crate::run::Trials::Auto => (plain, true),
        };
        SearchTrials {
            n: n.into(),
            auto,
            plain,
            first: true.into(),
        }
    }

    /// Trials of a full evaluation (settled once the first has run).
    pub fn get(&self) -> u64 {
        self.n.get()
    }

    /// When the next evaluation stops: the first (which runs in full) on
    /// [`as_precise_as`] with `--trials auto`, the others on
    /// [`stop_rule`].
    pub fn stop(
        &self,
        early: bool,
        confidence: f64,
    ) -> impl Fn(u64, &Estimate) -> bool + Sync + use<> {
        let settle = self.first.get() && self.auto;
        let precise = as_precise_as(FIRST_TRIALS, self.plain);
        let side = stop_rule(early, confidence);
        move |n, p| if settle { precise(n, p) } else { side(n, p) }
    }

    /// Records an evaluation of `n` trials: the first settles the count.
    pub fn ran(&self, n: u64) {
        if self.first.replace(false) {
            self.n.set(n);
        }
    }
}

/// When an evaluation stops: once P(hit) is clearly on one side of the
/// confidence if `early`, else after every trial.
pub fn stop_rule(early: bool, confidence: f64) -> impl Fn(u64, &Estimate) -> bool + Sync {
    move |n, p| early && clear_side(n, p, confidence)
}

/// What a search needs to know besides its evaluations.
pub struct Seek {
    pub confidence: f64,
    /// Trials of a full evaluation.
    pub trials: u64,
    /// The bracket is narrowed to this width.
    pub tolerance: f64,
    /// Only whole values are tried.
    pub integer: bool,
}

/// A bracket's end: its value, its P(hit), and what its evaluation gave.
pub struct End<R> {
    pub value: f64,
    pub p_hit: f64,
    pub std_error: f64,
    /// Trials its P(hit) is from.
    pub trials: u64,
    /// The share of a plain share's variance its P(hit) has (below 1 when
    /// controlled for drawn rates).
    pub kept: f64,
    pub at: R,
}

impl<R> End<R> {
    /// The evaluation as reported.
    pub fn evaluation(&self) -> Evaluation {
        Evaluation {
            value: self.value,
            p_hit: self.p_hit,
            std_error: self.std_error,
            trials: self.trials,
        }
    }
}

impl Seek {
    /// Narrows the bracket (`lo`, `hi`], where `hi` reaches the confidence
    /// and `lo` does not (its P(hit) is `p_lo`, unknown for a lower end
    /// that was not run), and returns the smallest value found that
    /// reaches it. `eval` runs a value, with the early stop allowed.
    pub fn narrow<R, E>(
        &self,
        lo: f64,
        p_lo: Option<f64>,
        hi: End<R>,
        mut eval: impl FnMut(f64) -> Result<End<R>, E>,
    ) -> Result<End<R>, E> {
        let c = self.confidence;
        // P(hit) within two standard errors of the confidence, from every
        // trial: bisecting further would chase noise.
        let se = |e: &End<R>| (e.kept * c * (1.0 - c) / self.trials as f64).sqrt();
        let near = |e: &End<R>| e.trials >= self.trials && (e.p_hit - c).abs() <= 2.0 * se(e);
        let (mut lo, mut p_lo, mut best) = (lo, p_lo, hi);
        let (mut lo_near, mut hi_near) = (false, false);
        // Which end each of the last two steps moved (true: the upper one).
        let mut moved: [Option<bool>; 2] = [None, None];
        while best.value - lo > self.tolerance && !(lo_near && hi_near) {
            let stuck = moved[0].is_some() && moved[0] == moved[1];
            let x = if stuck {
                0.5 * (lo + best.value)
            } else {
                crossing(lo, best.value, p_lo, best.p_hit, c)
            };
            let x = if self.integer { x.round() } else { x };
            let Some(mid) = inside(x, lo, best.value, self.integer) else {
                break;
            };
            let e = eval(mid)?;
            let close = near(&e);
            let upper = e.p_hit >= c;
            if upper {
                hi_near = close;
                best = e;
            } else {
                lo = mid;
                p_lo = Some(e.p_hit);
                lo_near = close;
            }
            moved = [moved[1], Some(upper)];
        }
        Ok(best)
    }
}

/// Where the line through (lo, p_lo) and (hi, p_hi) reaches the
/// confidence, kept a tenth of the bracket from either end; the midpoint
/// when P(hit) at the lower end is not known or does not rise.
pub fn crossing(lo: f64, hi: f64, p_lo: Option<f64>, p_hi: f64, confidence: f64) -> f64 {
    let width = hi - lo;
    match p_lo {
        Some(p_lo) if p_hi > p_lo => {
            let x = lo + (confidence - p_lo) / (p_hi - p_lo) * width;
            x.clamp(lo + 0.1 * width, hi - 0.1 * width)
        }
        _ => lo + 0.5 * width,
    }
}

/// A point strictly inside (lo, hi): for an integer lever, moved a step in
/// from an end it rounded onto; `None` when there is none.
fn inside(x: f64, lo: f64, hi: f64, integer: bool) -> Option<f64> {
    let x = match integer {
        true if hi - lo < 2.0 => return None,
        true => x.clamp(lo + 1.0, hi - 1.0),
        false => x,
    };
    (x > lo && x < hi).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With `--trials auto` the first evaluation stops once as precise as
    /// the plain trials and settles the count; later ones stop on a clear
    /// side. Fixed trials never change, and a first evaluation runs them
    /// all.
    #[test]
    fn the_first_evaluation_settles_the_trials_of_an_automatic_search() {
        let est = |mean: f64, removed: f64| Estimate {
            mean,
            std_error: 0.01 * (1.0 - removed).sqrt(),
            plain_std_error: 0.01,
        };
        let auto = SearchTrials::new(crate::run::Trials::Auto, 4096);
        assert_eq!(auto.get(), 4096);
        let first = auto.stop(false, 0.8);
        // 55% of the variance removed: 1,844 trials are as precise as 4,096.
        assert!(!first(1792, &est(0.8, 0.55)) && first(2048, &est(0.8, 0.55)));
        assert!(!first(512, &est(0.8, 0.9)) && first(1024, &est(0.8, 0.9)));
        auto.ran(2048);
        auto.ran(512);
        assert_eq!(auto.get(), 2048);
        let later = auto.stop(true, 0.8);
        assert!(later(512, &est(0.2, 0.5)) && !later(2048, &est(0.8, 0.5)));
        let fixed = SearchTrials::new(crate::run::Trials::Fixed(3000), 4096);
        assert!(!fixed.stop(false, 0.8)(2999, &est(0.2, 0.5)));
        fixed.ran(3000);
        assert_eq!(fixed.get(), 3000);
    }

    /// A step function at 3.7 with P(hit) rising linearly around it: the
    /// search ends within the tolerance above the step.
    #[test]
    fn narrows_to_the_crossing_within_the_tolerance() {
        let p = |x: f64| (0.5 + (x - 3.7) / 10.0).clamp(0.0, 1.0);
        let s = Seek {
            confidence: 0.5,
            trials: u64::MAX,
            tolerance: 1e-3,
            integer: false,
        };
        let end = |x: f64| End {
            value: x,
            p_hit: p(x),
            std_error: 0.0,
            trials: u64::MAX,
            kept: 1.0,
            at: (),
        };
        let mut runs = 0;
        let best = s
            .narrow(1.0, Some(p(1.0)), end(9.0), |x| {
                runs += 1;
                Ok::<_, ()>(end(x))
            })
            .unwrap();
        assert!(
            best.value >= 3.7 && best.value - 3.7 < 1e-3,
            "{}",
            best.value
        );
        assert!(runs < 30, "{runs}");
    }

    #[test]
    fn an_integer_search_tries_whole_values_inside_the_bracket() {
        let s = Seek {
            confidence: 0.8,
            trials: u64::MAX,
            tolerance: 1.0,
            integer: true,
        };
        let end = |x: f64| End {
            value: x,
            p_hit: if x >= 7.0 { 0.9 } else { 0.1 },
            std_error: 0.0,
            trials: u64::MAX,
            kept: 1.0,
            at: (),
        };
        let mut tried = Vec::new();
        let best = s
            .narrow(0.0, Some(0.1), end(20.0), |x| {
                tried.push(x);
                Ok::<_, ()>(end(x))
            })
            .unwrap();
        assert_eq!(best.value, 7.0);
        assert!(
            tried
                .iter()
                .all(|x| x.fract() == 0.0 && *x > 0.0 && *x < 20.0)
        );
    }

    #[test]
    fn the_crossing_of_a_straight_line_is_exact() {
        // P(hit) rising from 0.6 at 100 to 0.9 at 400 crosses 0.8 at 300.
        assert!((crossing(100.0, 400.0, Some(0.6), 0.9, 0.8) - 300.0).abs() < 1e-9);
    }

    #[test]
    fn the_crossing_stays_a_tenth_of_the_bracket_inside() {
        // Nearly at the upper end, and past it: a tenth in from the end.
        assert_eq!(crossing(0.0, 100.0, Some(0.0), 0.8, 0.7999), 90.0);
        assert_eq!(crossing(0.0, 100.0, Some(0.79), 0.8, 0.7), 10.0);
    }

    #[test]
    fn without_a_rising_line_the_crossing_is_the_midpoint() {
        assert_eq!(crossing(10.0, 20.0, None, 0.9, 0.8), 15.0);
        assert_eq!(crossing(10.0, 20.0, Some(0.9), 0.9, 0.8), 15.0);
        assert_eq!(crossing(10.0, 20.0, Some(0.95), 0.9, 0.8), 15.0);
    }

    #[test]
    fn an_integer_lever_steps_in_from_the_ends() {
        assert_eq!(inside(3.0, 3.0, 7.0, true), Some(4.0));
        assert_eq!(inside(7.0, 3.0, 7.0, true), Some(6.0));
        assert_eq!(inside(4.0, 3.0, 4.0, true), None);
        assert_eq!(inside(3.0, 3.0, 7.0, false), None);
        assert_eq!(inside(3.5, 3.0, 7.0, false), Some(3.5));
    }
}

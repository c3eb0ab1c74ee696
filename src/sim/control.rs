//! Control variates for P(hit): the uncertain rates a trial drew have
//! known moments, so the part of "hit or miss" they explain can be taken
//! out of P(hit)'s estimate and of its standard error.
//!
//! Each uncertain probability whose Beta is not clamped gives two
//! variables with known mean zero: its standardised draw z and z² − 1.
//! The engines that follow deals one by one or in groups (the lead and
//! cohort engines) add the trial's *luck* in its deals ([`LUCK`]
//! variables): sums over draws of the draw less its expectation given
//! everything drawn before, which have mean zero whatever the model. On
//! the board plan the rates explain 30% of P(hit)'s variance, with the
//! deals' luck 51% (the most any linear control could take is 56%, what
//! revenue itself explains).
//! P(hit) is the intercept of the least-squares line of the hit indicator
//! on them, i.e. the plain share of hits less what the draws, being off
//! their means in the trials run, account for. Its standard error is the
//! regression's residual error at the variables' known mean, so it falls
//! by the share of the variance the draws explain (a third on the board
//! plan, where the win rates' uncertainty dominates). The estimate is
//! exact in expectation up to a term of order 1/n from fitting the line,
//! far below its standard error; with fewer than [`MIN_TRIALS_PER_VARIABLE`]
//! trials per variable, or none, it is the plain share.
//!
//! Everything it needs is a sum over trials, so blocks merge by adding
//! them and the result does not depend on the thread count.

use nalgebra::{DMatrix, DVector};

use crate::dist::{Prob, Shape};
use crate::model::Model;

/// Below this many trials per variable (and intercept), the plain share.
pub const MIN_TRIALS_PER_VARIABLE: u64 = 16;

/// Luck variables an engine may add per trial ([`Controls::with_luck`]).
pub const LUCK: usize = 2;
/// Deal-size luck: the sum over the wins in the horizon of the amount less
/// its expectation (the channel's mean deal size times the lead's quality
/// factor; 0 for a known amount).
pub const SIZE_LUCK: usize = 0;
/// Win luck: the sum over the fates drawn (an opportunity's, when it
/// starts; an open deal's, when it is seeded) of won (1 or 0) less its
/// probability, times what the win would count towards the target inside
/// the horizon (its expected amount, or 1 for a count of wins, times the
/// probability that a won deal starting then closes in the horizon).
pub const FATE_LUCK: usize = 1;

/// The uncertain probabilities used as controls: parameter index, exact
/// mean and standard deviation; and the unit the engine's luck is
/// measured in, when it adds it.
#[derive(Clone, Debug, Default)]
pub struct Controls {
    params: Vec<(usize, f64, f64)>,
    luck_unit: Option<f64>,
}

impl Controls {
    /// Every uncertain probability of the model whose draw has exact
    /// moments (a Beta whose clamp, if any, never binds).
    pub fn new(m: &Model) -> Controls {
        let params = m
            .params
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.prob {
                Prob::Beta(d) => match d.shape {
                    Shape::Beta {
                        alpha,
                        beta,
                        min,
                        max,
                        ..
                    } if d.at_least <= min && d.at_most >= max && max > min => {
                        let s = alpha + beta;
                        let mean = min + (max - min) * alpha / s;
                        let sd = (max - min) * (alpha * beta / (s * s * (s + 1.0))).sqrt();
                        Some((i, mean, sd))
                    }
                    _ => None,
                },
                Prob::Fixed(_) => None,
            })
            .collect();
        Controls {
            params,
            luck_unit: None,
        }
    }

    /// These controls and the [`LUCK`] variables the engine adds, in
    /// units of `unit` (a typical deal's amount, so that every variable
    /// is of order one).
    pub fn with_luck(self, unit: f64) -> Controls {
        Controls {
            luck_unit: (unit.is_finite() && unit > 0.0).then_some(unit),
            ..self
        }
    }

    /// Whether the engine's luck is a control.
    pub fn has_luck(&self) -> bool {
        self.luck_unit.is_some()
    }

    fn luck_len(&self) -> usize {
        if self.has_luck() { LUCK } else { 0 }
    }

    /// What the controls are, in words.
    pub fn describe(&self) -> &'static str {
        match (self.params.is_empty(), self.has_luck()) {
            (false, true) => "the drawn uncertain rates and the deals' luck",
            (false, false) => "the drawn uncertain rates",
            (true, true) => "the deals' luck",
            (true, false) => "",
        }
    }

    /// Variables per trial.
    pub fn len(&self) -> usize {
        2 * self.params.len() + self.luck_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Draws per trial: the controlled rates', then the luck.
    pub fn draws_len(&self) -> usize {
        self.params.len() + self.luck_len()
    }

    /// A trial's draws of the controlled rates, from all its parameter
    /// values, into `out`.
    pub fn draws(&self, vals: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(self.params.iter().map(|(p, ..)| vals[*p]));
    }

    /// Appends a trial's draws, `rates` from [`Controls::draws`] and the
    /// engine's `luck`, to `out`.
    pub fn record(&self, rates: &[f64], luck: &[f64; LUCK], out: &mut Vec<f64>) {
        out.extend_from_slice(rates);
        out.extend_from_slice(&luck[..self.luck_len()]);
    }

    /// A trial's variables from its draws (as [`Controls::record`] keeps
    /// them), into `out`.
    pub fn variables(&self, draws: &[f64], out: &mut Vec<f64>) {
        out.clear();
        let (rates, luck) = draws.split_at(self.params.len());
        for (&(_, mean, sd), x) in self.params.iter().zip(rates) {
            let z = (x - mean) / sd;
            out.extend([z, z * z - 1.0]);
        }
        if let Some(unit) = self.luck_unit {
            out.extend(luck.iter().map(|x| x / unit));
        }
    }

    /// Trial `i`'s variables, from every trial's `draws` (`draws_len()`
    /// per trial, in trial order), into `out`.
    fn variables_of_trial(&self, draws: &[f64], i: usize, out: &mut Vec<f64>) {
        let k = self.draws_len();
        self.variables(&draws[i * k..(i + 1) * k], out);
    }

    /// Sums of outcomes `y` (one per trial) with the trials' `draws`.
    pub fn sums(&self, y: &[f64], draws: &[f64]) -> Sums {
        let mut s = Sums::new(self.len());
        let mut x = Vec::with_capacity(self.len());
        for (i, yi) in y.iter().enumerate() {
            self.variables_of_trial(draws, i, &mut x);
            s.push(*yi, &x);
        }
        s
    }

    /// The controlled mean of outcomes per trial.
    pub fn mean_of(&self, y: &[f64], draws: &[f64]) -> Estimate {
        self.sums(y, draws).fit().estimate
    }
}

/// A run's outcome per trial, with its controls and its trials' draws.
pub type Outcomes<'a> = (&'a Controls, &'a [f64], &'a [f64]);

/// The paired difference `b − a` of two runs of the same trials, each
/// controlled for its own draws: the difference of their controlled means,
/// with the standard error of the difference of their residuals (which is
/// the paired difference's own controlled error when the draws are the
/// same, as on common random numbers). `None` when neither run could be
/// controlled: the plain paired difference is the estimate then.
pub fn paired(a: Outcomes, b: Outcomes) -> Option<Estimate> {
    let fit = |(c, y, d): Outcomes| c.sums(y, d).fit();
    let (fa, fb) = (fit(a), fit(b));
    let used = fa.used + fb.used;
    let n = a.1.len().min(b.1.len());
    let df = n as f64 - used as f64 - 1.0;
    if used == 0 || df <= 0.0 {
        return None;
    }
    let (mut xa, mut xb) = (Vec::new(), Vec::new());
    let (mut ss, mut plain) = (0.0, Sums::new(0));
    for i in 0..n {
        a.0.variables_of_trial(a.2, i, &mut xa);
        b.0.variables_of_trial(b.2, i, &mut xb);
        let r = fb.residual(b.1[i], &xb) - fa.residual(a.1[i], &xa);
        ss += r * r;
        plain.push(b.1[i] - a.1[i], &[]);
    }
    let leverage = fa.leverage.max(fb.leverage);
    Some(Estimate {
        mean: fb.estimate.mean - fa.estimate.mean,
        std_error: (ss / df * leverage / n as f64).sqrt(),
        plain_std_error: plain.estimate().std_error,
    })
}

/// A fitted control line: the estimate, and what gives each trial's
/// residual.
pub struct Fit {
    pub estimate: Estimate,
    ybar: f64,
    xbar: Vec<f64>,
    b: Vec<f64>,
    /// Variables used (0 when the plain mean was taken).
    used: usize,
    /// The estimate's variance over σ²/n: 1 for a plain mean, a little
    /// more for a fitted line.
    leverage: f64,
}

impl Fit {
    /// A trial's residual from the line (its outcome less the fitted
    /// value).
    pub fn residual(&self, y: f64, x: &[f64]) -> f64 {
        let fitted: f64 = self
            .b
            .iter()
            .zip(x.iter().zip(&self.xbar))
            .map(|(b, (x, m))| b * (x - m))
            .sum();
        y - self.ybar - fitted
    }
}

/// Sums over trials of an outcome y and the controls x: all the
/// controlled estimate needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sums {
    n: u64,
    y: f64,
    yy: f64,
    x: Vec<f64>,
    /// Upper triangle, row by row.
    xx: Vec<f64>,
    xy: Vec<f64>,
}

/// An estimated mean with its standard error, and the standard error the
/// plain mean of the same trials would have.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub std_error: f64,
    pub plain_std_error: f64,
}

impl Estimate {
    /// The share of the plain estimate's variance the controls took out.
    pub fn variance_removed(&self) -> f64 {
        if self.plain_std_error > 0.0 {
            (1.0 - (self.std_error / self.plain_std_error).powi(2)).max(0.0)
        } else {
            0.0
        }
    }
}

impl Sums {
    pub fn new(variables: usize) -> Sums {
        Sums {
            x: vec![0.0; variables],
            xx: vec![0.0; variables * (variables + 1) / 2],
            xy: vec![0.0; variables],
            ..Sums::default()
        }
    }

    /// Adds a trial.
    #[inline]
    pub fn push(&mut self, y: f64, x: &[f64]) {
        self.n += 1;
        self.y += y;
        self.yy += y * y;
        let mut k = 0;
        for (i, xi) in x.iter().enumerate() {
            self.x[i] += xi;
            self.xy[i] += xi * y;
            for xj in &x[i..] {
                self.xx[k] += xi * xj;
                k += 1;
            }
        }
    }

    /// Adds another set of trials.
    pub fn merge(&mut self, o: &Sums) {
        self.n += o.n;
        self.y += o.y;
        self.yy += o.yy;
        for (a, b) in self.x.iter_mut().zip(&o.x) {
            *a += b;
        }
        for (a, b) in self.xx.iter_mut().zip(&o.xx) {
            *a += b;
        }
        for (a, b) in self.xy.iter_mut().zip(&o.xy) {
            *a += b;
        }
    }

    /// The plain mean and its standard error (for a share p of hits,
    /// √(p(1 − p)/n)).
    fn plain(&self) -> (f64, f64) {
        let n = self.n.max(1) as f64;
        let mean = self.y / n;
        let var = (self.yy / n - mean * mean).max(0.0);
        (mean, (var / n).sqrt())
    }

    /// The mean of y, controlled when there are enough trials.
    pub fn estimate(&self) -> Estimate {
        self.fit().estimate
    }

    /// The controlled mean's line, or the plain mean's when there are too
    /// few trials for the variables (or none).
    pub fn fit(&self) -> Fit {
        let (plain, plain_se) = self.plain();
        let d = self.x.len();
        let n = self.n.max(1) as f64;
        let fallback = Fit {
            estimate: Estimate {
                mean: plain,
                std_error: plain_se,
                plain_std_error: plain_se,
            },
            ybar: plain,
            xbar: Vec::new(),
            b: Vec::new(),
            used: 0,
            leverage: 1.0,
        };
        if d == 0 || self.n < MIN_TRIALS_PER_VARIABLE * (d as u64 + 1) {
            return fallback;
        }
        let xbar = DVector::from_iterator(d, self.x.iter().map(|s| s / n));
        // Centred cross-products.
        let mut sxx = DMatrix::<f64>::zeros(d, d);
        let mut k = 0;
        for i in 0..d {
            for j in i..d {
                let c = self.xx[k] - n * xbar[i] * xbar[j];
                sxx[(i, j)] = c;
                sxx[(j, i)] = c;
                k += 1;
            }
        }
        let sxy = DVector::from_iterator(d, (0..d).map(|i| self.xy[i] - xbar[i] * self.y));
        let Some(chol) = sxx.cholesky() else {
            return fallback;
        };
        let b = chol.solve(&sxy);
        let syy = self.yy - n * plain * plain;
        let rss = (syy - b.dot(&sxy)).max(0.0);
        let sigma2 = rss / (n - d as f64 - 1.0);
        // The fitted line at the variables' known mean, zero.
        let mean = plain - b.dot(&xbar);
        let leverage = 1.0 / n + xbar.dot(&chol.solve(&xbar));
        Fit {
            estimate: Estimate {
                mean,
                std_error: (sigma2 * leverage).sqrt(),
                plain_std_error: plain_se,
            },
            ybar: plain,
            xbar: xbar.iter().copied().collect(),
            b: b.iter().copied().collect(),
            used: d,
            leverage: leverage * n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::LeadRng;

    /// Trials whose outcome depends on a known-moment variable plus noise
    /// of its own: y = 1 when z + 0.8·e > 0.5, with z and e standard
    /// normal, so that P(y = 1) = 1 − Φ(0.5 / √1.64) exactly.
    fn trials(seed: u64, n: u64) -> Sums {
        let mut r = LeadRng(seed);
        let normal = |r: &mut LeadRng| {
            let (u, v) = (r.unit().max(1e-300), r.unit());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let mut s = Sums::new(2);
        for _ in 0..n {
            let z = normal(&mut r);
            let e = normal(&mut r);
            let y = f64::from(u8::from(z + 0.8 * e > 0.5));
            s.push(y, &[z, z * z - 1.0]);
        }
        s
    }

    fn truth() -> f64 {
        1.0 - crate::dist::std_normal_cdf(0.5 / 1.64f64.sqrt())
    }

    /// Over many independent runs the controlled estimate is centred on
    /// the truth, its standard error matches the spread of the estimates
    /// (mean squared z-score within the χ² bounds of the runs), and it is
    /// smaller than the plain one by about the share z explains.
    #[test]
    fn the_controlled_share_is_unbiased_and_its_error_is_honest() {
        let runs = 400;
        let (mut z2, mut bias, mut ratio) = (0.0, 0.0, 0.0);
        for seed in 0..runs {
            let e = trials(0xC0_0000 + seed, 2_000).estimate();
            let z = (e.mean - truth()) / e.std_error;
            z2 += z * z;
            bias += z;
            ratio += e.std_error / e.plain_std_error;
        }
        let runs = runs as f64;
        let (z2, bias, ratio) = (z2 / runs, bias / runs, ratio / runs);
        // χ²(400)/400 lies within 1 ± 0.23 with probability 99.9%.
        assert!((z2 - 1.0).abs() < 0.23, "mean z² {z2}");
        // The mean z-score has standard error 1/√400.
        assert!(bias.abs() < 3.5 / runs.sqrt(), "mean z {bias}");
        // The best line in z and z² − 1 explains 38.4% of the indicator's
        // variance here (computed from 400,000 draws), so the error shrinks to about
        // √0.616 ≈ 0.785 of the plain one.
        assert!(ratio > 0.76 && ratio < 0.81, "ratio {ratio}");
    }

    /// Two runs of the same trials (the same draw z and noise e) whose
    /// lines differ: the paired estimate is the difference of the
    /// controlled means, equal to the controlled mean of the paired
    /// differences, and its standard error is the spread of the estimate
    /// over independent sets of trials (mean squared z-score within the χ²
    /// bounds of 400 sets).
    #[test]
    fn the_paired_difference_is_the_difference_and_its_error_honest() {
        let controls = Controls {
            params: vec![(0, 0.0, 1.0)],
            luck_unit: None,
        };
        let normal = |r: &mut LeadRng| {
            let (u, v) = (r.unit().max(1e-300), r.unit());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let p = |t: f64| 1.0 - crate::dist::std_normal_cdf(t / 1.64f64.sqrt());
        let truth = p(0.3) - p(0.5);
        let (runs, mut z2) = (400, 0.0);
        for seed in 0..runs {
            let mut r = LeadRng(0xFA_0000 + seed);
            let (mut draws, mut ya, mut yb) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..2_000 {
                let (z, e) = (normal(&mut r), 0.8 * normal(&mut r));
                draws.push(z);
                ya.push(f64::from(u8::from(z + e > 0.5)));
                yb.push(f64::from(u8::from(z + e > 0.3)));
            }
            let d = paired((&controls, &ya, &draws), (&controls, &yb, &draws)).unwrap();
            let diff: Vec<f64> = yb.iter().zip(&ya).map(|(b, a)| b - a).collect();
            let direct = controls.mean_of(&diff, &draws);
            assert!((d.mean - direct.mean).abs() < 1e-12);
            assert!((d.std_error / direct.std_error - 1.0).abs() < 1e-3);
            z2 += ((d.mean - truth) / d.std_error).powi(2);
        }
        let z2 = z2 / runs as f64;
        assert!((z2 - 1.0).abs() < 0.23, "mean z² {z2}");
        // Without controls there is no controlled paired estimate.
        let none = Controls::default();
        assert!(paired((&none, &[1.0], &[]), (&none, &[0.0], &[])).is_none());
    }

    /// With no variables, or too few trials for them, it is the plain
    /// share with the plain standard error.
    #[test]
    fn without_controls_it_is_the_plain_share() {
        let mut s = Sums::new(0);
        for i in 0..10 {
            s.push(f64::from(u8::from(i % 4 == 0)), &[]);
        }
        let e = s.estimate();
        assert_eq!(e.mean, 0.3);
        assert_eq!(e.std_error, e.plain_std_error);
        let few = trials(1, 40).estimate();
        assert_eq!(few.std_error, few.plain_std_error);
        assert_eq!(few.variance_removed(), 0.0);
    }

    /// A trial's luck is kept after its rates' draws and enters as is, in
    /// its unit, after their z and z² − 1; without luck nothing is kept.
    #[test]
    fn the_luck_follows_the_rates_in_its_unit() {
        let rates = Controls {
            params: vec![(3, 0.25, 0.05)],
            luck_unit: None,
        };
        let lucky = rates.clone().with_luck(20_000.0);
        assert_eq!((rates.len(), rates.draws_len()), (2, 1));
        assert_eq!((lucky.len(), lucky.draws_len()), (4, 3));
        assert_eq!(
            lucky.describe(),
            "the drawn uncertain rates and the deals' luck"
        );
        let (mut kept, mut x) = (Vec::new(), Vec::new());
        lucky.record(&[0.35], &[30_000.0, -5_000.0], &mut kept);
        assert_eq!(kept, [0.35, 30_000.0, -5_000.0]);
        lucky.variables(&kept, &mut x);
        let z = (0.35 - 0.25) / 0.05;
        assert_eq!(x, [z, z * z - 1.0, 1.5, -0.25]);
        kept.clear();
        rates.record(&[0.35], &[30_000.0, -5_000.0], &mut kept);
        assert_eq!(kept, [0.35]);
        // A unit that is no unit adds no luck.
        assert!(!rates.with_luck(0.0).has_luck());
    }

    /// Blocks merged in order give the sums of one run.
    #[test]
    fn merged_blocks_equal_one_run() {
        let mut r = LeadRng(7);
        let rows: Vec<(f64, [f64; 2])> = (0..500)
            .map(|_| {
                let z = r.unit() - 0.5;
                (f64::from(u8::from(r.unit() < 0.3 + z)), [z, z * z])
            })
            .collect();
        let mut all = Sums::new(2);
        let mut a = Sums::new(2);
        let mut b = Sums::new(2);
        for (i, (y, x)) in rows.iter().enumerate() {
            all.push(*y, x);
            if i < 200 { &mut a } else { &mut b }.push(*y, x);
        }
        a.merge(&b);
        let (x, y) = (a.estimate(), all.estimate());
        assert_eq!(a.n, all.n);
        assert!((x.mean - y.mean).abs() < 1e-12 && (x.std_error - y.std_error).abs() < 1e-12);
    }
}

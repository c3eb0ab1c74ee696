//! The estimators calibration uses: conversion with still-open items
//! treated as censored (a cure model), partial pooling of rates across
//! sources (empirical-Bayes Beta), and the censored log-normal fit of a
//! waiting time.

use statrs::distribution::{Beta, ContinuousCDF};
use statrs::function::gamma::ln_gamma;

/// What one transition (say SAL → SQL) shows for one group of items.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcomes {
    /// Items that converted.
    pub converted: usize,
    /// Items that are known never to convert (rejected, lost).
    pub failed: usize,
    /// For each item still open: the probability that an item that
    /// converts has done so by its age (the converters' time CDF there).
    pub open: Vec<f64>,
}

impl Outcomes {
    pub fn items(&self) -> usize {
        self.converted + self.failed + self.open.len()
    }
}

/// A rate's evidence as effective Beta counts: successes and failures that
/// carry the same information as the censored data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counts {
    pub successes: f64,
    pub failures: f64,
}

/// Maximum-likelihood conversion under the cure model — an item converts
/// with probability `p`, and an open item of age `a` has yet to with
/// probability `1 − p·F(a)` — and its information, as effective counts
/// (the Beta with the estimate's mean and the inverse observed information
/// as its variance). An open item old enough that converters would have
/// converted counts as a failure; a young one counts for little.
pub fn conversion(o: &Outcomes) -> Counts {
    let (k, r) = (o.converted as f64, o.failed as f64);
    let score = |p: f64| -> f64 {
        k / p - r / (1.0 - p) - o.open.iter().map(|f| f / (1.0 - p * f)).sum::<f64>()
    };
    let expected_failures = r + o.open.iter().sum::<f64>();
    if k == 0.0 || expected_failures == 0.0 {
        // On the boundary: the expected counts themselves.
        return Counts {
            successes: k,
            failures: expected_failures,
        };
    }
    // The log-likelihood is concave in p: bisect its derivative.
    let (mut lo, mut hi) = (1e-9, 1.0 - 1e-9);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if score(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let p = 0.5 * (lo + hi);
    let info = k / (p * p)
        + r / ((1.0 - p) * (1.0 - p))
        + o.open
            .iter()
            .map(|f| (f / (1.0 - p * f)).powi(2))
            .sum::<f64>();
    let n = p * (1.0 - p) * info;
    Counts {
        successes: p * n,
        failures: (1.0 - p) * n,
    }
}

/// What the sources' rates look like as a population: Beta(μκ, (1−μ)κ)
/// with the mean μ and the weight κ (in items) uncertain — a posterior
/// over a grid of both, given every source's evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Prior {
    /// (mean, weight, posterior probability) of each grid point kept.
    pub points: Vec<(f64, f64, f64)>,
}

impl Prior {
    /// Uniform: what a rate gets when there is nothing to pool with.
    pub fn flat() -> Prior {
        Prior {
            points: vec![(0.5, 2.0, 1.0)],
        }
    }

    /// The posterior of one source's rate: a mixture of Betas, one per
    /// grid point.
    pub fn posterior(&self, c: Counts) -> Posterior {
        Posterior {
            parts: self
                .points
                .iter()
                .map(|(m, k, w)| (*w, m * k + c.successes, (1.0 - m) * k + c.failures))
                .collect(),
        }
    }

    /// The population's mean rate.
    pub fn mean(&self) -> f64 {
        self.points.iter().map(|(m, _, w)| m * w).sum()
    }
}

/// A rate's posterior: Σ w · Beta(α, β).
#[derive(Clone, Debug, PartialEq)]
pub struct Posterior {
    pub parts: Vec<(f64, f64, f64)>,
}

impl Posterior {
    pub fn mean(&self) -> f64 {
        self.parts.iter().map(|(w, a, b)| w * a / (a + b)).sum()
    }

    pub fn variance(&self) -> f64 {
        let m = self.mean();
        self.parts
            .iter()
            .map(|(w, a, b)| {
                let (mu, n) = (a / (a + b), a + b);
                w * (mu * (1.0 - mu) / (n + 1.0) + (mu - m).powi(2))
            })
            .sum()
    }

    /// The Beta with the same mean and variance, for the model file.
    pub fn as_beta(&self) -> (f64, f64) {
        let (m, v) = (self.mean(), self.variance().max(1e-12));
        let n = (m * (1.0 - m) / v - 1.0).max(1e-3);
        (m * n, (1.0 - m) * n)
    }
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// Partial pooling: the posterior over the population's Beta given every
/// source's counts (beta-binomial likelihood) on a grid of means and
/// weights, with the hyperprior p(α, β) ∝ (α + β)^(−5/2) (Gelman et al.,
/// Bayesian Data Analysis, §5.3), so that a population that looks alike
/// in a few sources is not taken to be identical. With fewer than three
/// sources there is no population to learn from, and the prior is flat.
pub fn pool(sources: &[Counts]) -> Prior {
    if sources.len() < 3 {
        return Prior::flat();
    }
    let mut grid = Vec::new();
    for i in 1..100 {
        let mean = f64::from(i) / 100.0;
        for j in 0..=60 {
            // Weights from 1 to 10⁵ items, evenly in log: the hyperprior
            // in (μ, log κ) is κ^(−5/2) · κ (Jacobian) · κ (log spacing).
            let weight = 10f64.powf(f64::from(j) / 12.0);
            let (a, b) = (mean * weight, (1.0 - mean) * weight);
            let ll: f64 = sources
                .iter()
                .map(|c| ln_beta(a + c.successes, b + c.failures) - ln_beta(a, b))
                .sum();
            grid.push((mean, weight, ll - 0.5 * weight.ln()));
        }
    }
    let top = grid.iter().map(|g| g.2).fold(f64::NEG_INFINITY, f64::max);
    let mut points: Vec<(f64, f64, f64)> = grid
        .into_iter()
        .map(|(m, k, l)| (m, k, (l - top).exp()))
        .filter(|p| p.2 > 1e-6)
        .collect();
    let total: f64 = points.iter().map(|p| p.2).sum();
    for p in &mut points {
        p.2 /= total;
    }
    Prior { points }
}

/// The central interval of Beta(α, β) holding `level` of it.
pub fn beta_interval(alpha: f64, beta: f64, level: f64) -> (f64, f64) {
    match Beta::new(alpha.max(1e-6), beta.max(1e-6)) {
        Ok(d) => (
            d.inverse_cdf((1.0 - level) / 2.0),
            d.inverse_cdf((1.0 + level) / 2.0),
        ),
        Err(_) => (0.0, 1.0),
    }
}

/// A log-normal waiting time fitted to events and right-censored times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogNormalFit {
    pub mu: f64,
    pub sigma: f64,
    /// Standard errors of `mu` and `sigma` and their correlation, from the
    /// inverse of the observed information (infinite when it is singular).
    pub mu_se: f64,
    pub sigma_se: f64,
    pub correlation: f64,
    pub events: usize,
    pub censored: usize,
}

impl LogNormalFit {
    pub fn median(&self) -> f64 {
        self.mu.exp()
    }

    /// The interval of the median at `z` standard errors.
    pub fn median_interval(&self, z: f64) -> (f64, f64) {
        (
            (self.mu - z * self.mu_se).exp(),
            (self.mu + z * self.mu_se).exp(),
        )
    }

    /// Whether the standard errors are finite (the information inverted).
    pub fn has_errors(&self) -> bool {
        self.mu_se.is_finite() && self.sigma_se.is_finite()
    }
}

/// What a log-normal is fitted to: event times, right-censored ages, and
/// for right-truncated events (seen only because they ended by the cut-off)
/// the longest time each could have been seen with. All in weeks, > 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct Waits<'a> {
    pub events: &'a [f64],
    pub censored: &'a [f64],
    /// Empty, or one bound per event.
    pub bounds: &'a [f64],
}

/// Log-likelihood of a log-normal (μ, σ).
fn lognormal_ll(mu: f64, sigma: f64, w: &Waits) -> f64 {
    if sigma <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let log_survival = |t: f64| {
        crate::dist::std_normal_cdf(-(t.ln() - mu) / sigma)
            .max(1e-300)
            .ln()
    };
    let ev: f64 = w
        .events
        .iter()
        .map(|t| {
            let z = (t.ln() - mu) / sigma;
            -0.5 * z * z - sigma.ln() - t.ln()
        })
        .sum();
    let ce: f64 = w.censored.iter().map(|t| log_survival(*t)).sum();
    // ln P(T ≤ bound) = ln(1 − S(bound)).
    let tr: f64 = w
        .bounds
        .iter()
        .map(|b| {
            crate::dist::std_normal_cdf((b.ln() - mu) / sigma)
                .max(1e-300)
                .ln()
        })
        .sum();
    ev + ce - tr
}

/// Censored maximum likelihood of a log-normal: times of the items that
/// ended, and ages of those still waiting (a still-open deal has waited at
/// least its age). None without two events.
pub fn lognormal(events: &[f64], censored: &[f64]) -> Option<LogNormalFit> {
    lognormal_fit(&Waits {
        events,
        censored,
        bounds: &[],
    })
}

/// The same for any [`Waits`], truncated events included.
pub fn lognormal_fit(w: &Waits) -> Option<LogNormalFit> {
    let events = w.events;
    if events.len() < 2 {
        return None;
    }
    let logs: Vec<f64> = events.iter().map(|t| t.ln()).collect();
    let n = logs.len() as f64;
    let mut mu = logs.iter().sum::<f64>() / n;
    let mut sigma = (logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / n)
        .sqrt()
        .max(0.05);
    let ll = |m: f64, s: f64| lognormal_ll(m, s, w);
    // Coordinate search with shrinking steps: the surface is smooth and
    // has one maximum.
    let mut step = 0.5;
    let mut best = ll(mu, sigma);
    while step > 1e-7 {
        let mut moved = false;
        for (dm, ds) in [(step, 0.0), (-step, 0.0), (0.0, step), (0.0, -step)] {
            let v = ll(mu + dm, sigma + ds);
            if v > best {
                best = v;
                mu += dm;
                sigma += ds;
                moved = true;
            }
        }
        if !moved {
            step /= 2.0;
        }
    }
    // The covariance of (μ, σ) from the inverse of the observed
    // information, by finite differences: under censoring the two are
    // correlated, and the curvature in μ alone would understate it.
    let h = 1e-3;
    let f = |dm: f64, ds: f64| ll(mu + dm, sigma + ds);
    let hmm = (f(h, 0.0) - 2.0 * best + f(-h, 0.0)) / (h * h);
    let hss = (f(0.0, h) - 2.0 * best + f(0.0, -h)) / (h * h);
    let hms = (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / (4.0 * h * h);
    let det = hmm * hss - hms * hms;
    let (mu_se, sigma_se, correlation) = if hmm < 0.0 && det > 0.0 {
        let (vm, vs, c) = (-hss / det, -hmm / det, hms / det);
        (
            vm.sqrt(),
            vs.sqrt(),
            (c / (vm * vs).sqrt()).clamp(-1.0, 1.0),
        )
    } else {
        (f64::INFINITY, f64::INFINITY, 0.0)
    };
    Some(LogNormalFit {
        mu,
        sigma,
        mu_se,
        sigma_se,
        correlation,
        events: events.len(),
        censored: w.censored.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_censoring_conversion_is_the_binomial() {
        let c = conversion(&Outcomes {
            converted: 30,
            failed: 70,
            open: Vec::new(),
        });
        assert!((c.successes - 30.0).abs() < 1e-6, "{c:?}");
        assert!((c.failures - 70.0).abs() < 1e-6, "{c:?}");
    }

    #[test]
    fn old_open_items_are_failures_and_young_ones_are_not() {
        let old = conversion(&Outcomes {
            converted: 30,
            failed: 50,
            open: vec![1.0; 20],
        });
        assert!((old.successes - 30.0).abs() < 1e-6 && (old.failures - 70.0).abs() < 1e-6);
        // Open items no converter would have converted yet: no evidence.
        let young = conversion(&Outcomes {
            converted: 30,
            failed: 70,
            open: vec![0.0; 500],
        });
        assert!((young.successes - 30.0).abs() < 1e-6 && (young.failures - 70.0).abs() < 1e-6);
        // Half-way: the estimate sits between counting them as failures
        // (30/150) and ignoring them (30/100), closer to the truth the
        // closed form gives: k/p − r/(1−p) − Σ F/(1−pF) = 0.
        let half = conversion(&Outcomes {
            converted: 30,
            failed: 70,
            open: vec![0.5; 50],
        });
        let p = half.successes / (half.successes + half.failures);
        let score = 30.0 / p - 70.0 / (1.0 - p) - 50.0 * 0.5 / (1.0 - 0.5 * p);
        assert!(score.abs() < 1e-6 && p > 0.2 && p < 0.3, "{p}");
    }

    #[test]
    fn pooling_pulls_small_sources_toward_the_rest() {
        let big = |s: f64| Counts {
            successes: s * 400.0,
            failures: (1.0 - s) * 400.0,
        };
        let sources = [
            big(0.40),
            big(0.45),
            big(0.42),
            big(0.44),
            Counts {
                successes: 9.0,
                failures: 1.0,
            },
        ];
        let prior = pool(&sources);
        assert!((prior.mean() - 0.43).abs() < 0.05, "{}", prior.mean());
        let small = prior.posterior(sources[4]).mean();
        assert!(small < 0.85 && small > 0.43, "{small}");
        // A big source keeps most of its own rate: it moves toward the
        // population less than half way.
        let own = prior.posterior(sources[0]).mean();
        assert!(own >= 0.40 && own - 0.40 < 0.43 - own, "{own}");
        assert_eq!(pool(&sources[..2]), Prior::flat());
    }

    #[test]
    fn a_mixture_of_one_beta_is_that_beta() {
        let p = Prior::flat().posterior(Counts {
            successes: 1.0,
            failures: 4.0,
        });
        // Beta(2, 5): mean 2/7, variance 10/392.
        assert!((p.mean() - 2.0 / 7.0).abs() < 1e-12);
        assert!((p.variance() - 10.0 / 392.0).abs() < 1e-12);
        let (a, b) = p.as_beta();
        assert!((a - 2.0).abs() < 1e-9 && (b - 5.0).abs() < 1e-9);
    }

    #[test]
    fn beta_intervals_match_published_quantiles() {
        // Beta(2, 5): 5% and 95% quantiles 0.0628 and 0.5818.
        let (lo, hi) = beta_interval(2.0, 5.0, 0.9);
        assert!(
            (lo - 0.06284).abs() < 1e-4 && (hi - 0.58180).abs() < 1e-4,
            "{lo} {hi}"
        );
    }

    #[test]
    fn without_censoring_the_lognormal_fit_is_the_closed_form() {
        // The MLE of a log-normal is the mean and the (1/n) standard
        // deviation of the logs, and the standard error of μ is σ/√n.
        let times = [1.5, 2.0, 3.0, 4.5, 7.0, 9.0, 12.0, 20.0];
        let logs: Vec<f64> = times.iter().map(|t: &f64| t.ln()).collect();
        let n = logs.len() as f64;
        let mu = logs.iter().sum::<f64>() / n;
        let sigma = (logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / n).sqrt();
        let fit = lognormal(&times, &[]).unwrap();
        assert!((fit.mu - mu).abs() < 1e-5, "{fit:?}");
        assert!((fit.sigma - sigma).abs() < 1e-5, "{fit:?}");
        assert!((fit.mu_se - sigma / n.sqrt()).abs() < 1e-3, "{fit:?}");
        assert!(lognormal(&[3.0], &[5.0]).is_none());
    }

    #[test]
    fn censored_lognormal_recovers_a_known_one() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, LogNormal};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let truth = LogNormal::new(2.0, 0.6).unwrap();
        let (mut events, mut censored) = (Vec::new(), Vec::new());
        // Follow-up ends at a uniform time: about a third are censored.
        for i in 0..4000 {
            let t: f64 = truth.sample(&mut rng);
            let follow = 1.0 + 20.0 * (i as f64 / 4000.0);
            if t <= follow {
                events.push(t);
            } else {
                censored.push(follow);
            }
        }
        let fit = lognormal(&events, &censored).unwrap();
        assert!(fit.censored > 1000);
        // Within 4 standard errors of the truth.
        assert!((fit.mu - 2.0).abs() < 4.0 * fit.mu_se, "{fit:?}");
        assert!((fit.sigma - 0.6).abs() < 0.05, "{fit:?}");
        // Ignoring the censored times would have biased the median down.
        let naive = lognormal(&events, &[]).unwrap();
        assert!(naive.mu < fit.mu - 5.0 * fit.mu_se);
    }

    /// The censored log-normal MLE computed another way: EM on the logs
    /// (a censored value replaced by its conditional moments), iterated to
    /// its fixed point.
    fn em(events: &[f64], censored: &[f64]) -> (f64, f64) {
        let phi = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let xs: Vec<f64> = events.iter().map(|t| t.ln()).collect();
        let cs: Vec<f64> = censored.iter().map(|t| t.ln()).collect();
        let n = (xs.len() + cs.len()) as f64;
        let (mut mu, mut sigma) = (2.0, 1.0);
        for _ in 0..5000 {
            let (mut s1, mut s2) = (0.0, 0.0);
            for x in &xs {
                s1 += x;
                s2 += x * x;
            }
            for c in &cs {
                let a = (c - mu) / sigma;
                let lambda = phi(a) / crate::dist::std_normal_cdf(-a);
                s1 += mu + sigma * lambda;
                s2 += sigma * sigma * (1.0 + a * lambda) + 2.0 * mu * sigma * lambda + mu * mu;
            }
            mu = s1 / n;
            sigma = (s2 / n - mu * mu).sqrt();
        }
        (mu, sigma)
    }

    #[test]
    fn the_censored_fit_agrees_with_em() {
        // Freireich's 6-MP remission times (weeks), a classic censored
        // sample (also the Kaplan–Meier test's): 9 relapses, 12 censored.
        let events = [6.0, 6.0, 6.0, 7.0, 10.0, 13.0, 16.0, 22.0, 23.0];
        let censored = [
            6.0, 9.0, 10.0, 11.0, 17.0, 19.0, 20.0, 25.0, 32.0, 32.0, 34.0, 35.0,
        ];
        let fit = lognormal(&events, &censored).unwrap();
        let (mu, sigma) = em(&events, &censored);
        assert!((fit.mu - mu).abs() < 1e-4, "{fit:?} vs EM {mu}");
        assert!((fit.sigma - sigma).abs() < 1e-4, "{fit:?} vs EM {sigma}");
        // Censoring holds most of the information here: the median is far
        // beyond the median relapse time.
        assert!(fit.median() > 20.0, "{fit:?}");
    }

    #[test]
    fn truncated_lognormal_recovers_a_known_one_from_converters_alone() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, LogNormal};
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let truth = LogNormal::new(0.5, 0.8).unwrap();
        // Entries spread over 10 weeks before the cut-off: only those that
        // converted by then are seen, each with its own bound.
        let (mut events, mut bounds) = (Vec::new(), Vec::new());
        for i in 0..6000 {
            let t: f64 = truth.sample(&mut rng);
            let follow = 0.1 + 10.0 * (i as f64 / 6000.0);
            if t <= follow {
                events.push(t);
                bounds.push(follow);
            }
        }
        let fit = lognormal_fit(&Waits {
            events: &events,
            censored: &[],
            bounds: &bounds,
        })
        .unwrap();
        assert!((fit.mu - 0.5).abs() < 4.0 * fit.mu_se, "{fit:?}");
        assert!((fit.sigma - 0.8).abs() < 4.0 * fit.sigma_se, "{fit:?}");
        let naive = lognormal(&events, &[]).unwrap();
        assert!(naive.mu < fit.mu - 5.0 * fit.mu_se, "{naive:?} {fit:?}");
    }

    #[test]
    fn the_standard_errors_match_the_closed_form_without_censoring() {
        let events: Vec<f64> = (0..400)
            .map(|i| {
                (1.0 + 0.5
                    * crate::dist::Dist::normal(0.0, 1.0)
                        .unwrap()
                        .quantile((i as f64 + 0.5) / 400.0))
                .exp()
            })
            .collect();
        let fit = lognormal(&events, &[]).unwrap();
        // MLE of a normal: se(μ) = σ/√n, se(σ) = σ/√(2n), uncorrelated.
        let n = 400f64;
        assert!(
            (fit.mu_se / (fit.sigma / n.sqrt()) - 1.0).abs() < 0.01,
            "{fit:?}"
        );
        assert!(
            (fit.sigma_se / (fit.sigma / (2.0 * n).sqrt()) - 1.0).abs() < 0.01,
            "{fit:?}"
        );
        assert!(fit.correlation.abs() < 0.02, "{fit:?}");
    }
}

/// A slope shared by groups that each have their own level.
#[derive(Clone, Debug, PartialEq)]
pub struct SlopeFit {
    pub slope: f64,
    pub se: f64,
    /// Items used.
    pub items: usize,
}

impl SlopeFit {
    /// The slope over its standard error.
    pub fn z(&self) -> f64 {
        if self.se > 0.0 {
            self.slope / self.se
        } else {
            0.0
        }
    }
}

/// Logistic regression with one intercept per group and a shared slope,
/// logit P(yes) = a_g + b·x, by Newton's method (a tiny ridge keeps a
/// group that always or never converts finite). Items: (group, x, yes).
pub fn grouped_logistic(items: &[(usize, f64, bool)], groups: usize) -> Option<SlopeFit> {
    use nalgebra::{DMatrix, DVector};
    if items.len() < 20 || groups == 0 {
        return None;
    }
    let k = groups + 1;
    let mut theta = DVector::<f64>::zeros(k);
    let mut cov = DMatrix::<f64>::identity(k, k);
    for _ in 0..50 {
        let mut grad = DVector::<f64>::zeros(k);
        let mut info = DMatrix::<f64>::identity(k, k) * 1e-4;
        for (g, x, y) in items {
            let eta = theta[*g] + theta[groups] * x;
            let p = 1.0 / (1.0 + (-eta).exp());
            let r = f64::from(u8::from(*y)) - p;
            let w = p * (1.0 - p);
            grad[*g] += r;
            grad[groups] += r * x;
            info[(*g, *g)] += w;
            info[(*g, groups)] += w * x;
            info[(groups, *g)] += w * x;
            info[(groups, groups)] += w * x * x;
        }
        grad -= &theta * 1e-4;
        cov = info.clone().try_inverse()?;
        let step = &cov * grad;
        theta += &step;
        if step.amax() < 1e-9 {
            break;
        }
    }
    let se = cov[(groups, groups)].max(0.0).sqrt();
    theta[groups].is_finite().then_some(SlopeFit {
        slope: theta[groups],
        se,
        items: items.len(),
    })
}

/// Least squares with one level per group and a shared slope: y = a_g + b·x.
pub fn grouped_linear(items: &[(usize, f64, f64)], groups: usize) -> Option<SlopeFit> {
    let mut sums = vec![(0.0, 0.0, 0.0); groups];
    for (g, x, y) in items {
        let s = &mut sums[*g];
        s.0 += 1.0;
        s.1 += x;
        s.2 += y;
    }
    let mean = |g: usize| (sums[g].1 / sums[g].0, sums[g].2 / sums[g].0);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (g, x, y) in items {
        let (mx, my) = mean(*g);
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
    }
    let used = sums.iter().filter(|s| s.0 > 0.0).count();
    let dof = items.len().checked_sub(used + 1)?;
    if sxx <= 0.0 || dof == 0 {
        return None;
    }
    let slope = sxy / sxx;
    let rss: f64 = items
        .iter()
        .map(|(g, x, y)| {
            let (mx, my) = mean(*g);
            (y - my - slope * (x - mx)).powi(2)
        })
        .sum();
    Some(SlopeFit {
        slope,
        se: (rss / dof as f64 / sxx).sqrt(),
        items: items.len(),
    })
}

#[cfg(test)]
mod slope_tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn grouped_logistic_recovers_a_known_slope() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let levels = [-1.0, 0.0, 0.8];
        let mut items = Vec::new();
        for i in 0..6000 {
            let g = i % 3;
            let x: f64 = rng.random_range(-2.0..2.0);
            let p = 1.0 / (1.0 + (-(levels[g] + 0.4 * x)).exp());
            items.push((g, x, rng.random::<f64>() < p));
        }
        let f = grouped_logistic(&items, 3).unwrap();
        assert!((f.slope - 0.4).abs() < 4.0 * f.se, "{f:?}");
        assert!(f.se < 0.05);
    }

    #[test]
    fn grouped_linear_is_the_within_group_slope() {
        // Two groups at different levels, the same slope 2 exactly.
        let items = [
            (0, 0.0, 1.0),
            (0, 1.0, 3.0),
            (0, 2.0, 5.1),
            (1, 0.0, 10.0),
            (1, 1.0, 12.1),
            (1, 2.0, 14.0),
        ];
        let f = grouped_linear(&items, 2).unwrap();
        assert!((f.slope - 2.025).abs() < 1e-9, "{f:?}");
    }
}

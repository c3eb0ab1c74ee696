//! Delays as a fitted model gives them: an observed body with a log-normal
//! tail, and log-normal parameters known only to within their standard
//! errors, drawn once per simulated trial.
//!
//! A delay of the model is a whole-week [`Delay`]. A calibrated model says
//! more: "0–3 weeks as observed, and beyond week 4 the log-normal fitted to
//! the censored times", and "median 8.6 weeks, give or take 0.4". The first
//! is a splice: the body keeps its observed shape for weeks before `from`,
//! with the mass the log-normal leaves there; from week `from` on the delay
//! follows the log-normal. The second is a posterior of (μ, σ), taken as a
//! bivariate normal and represented by [`DRAWS`] points of a rank-1 lattice
//! mapped through it (a fixed design, so the same file always simulates the
//! same way); each trial picks one of them. Every expectation (the plan,
//! the analytic flow) uses their mixture, which is the marginal delay.

use std::sync::Arc;

use crate::dist::{Delay, Dist, DistError};

/// How many points represent the posterior of an uncertain delay.
pub const DRAWS: usize = 32;

/// The standard errors of a log-normal's parameters: of μ = ln(median), of
/// σ, and their correlation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Uncertainty {
    pub log_median_sd: f64,
    pub sigma_sd: f64,
    pub correlation: f64,
}

/// A log-normal tail from week `from` on, holding `weight` of the mass
/// (the log-normal's own P(delay ≥ from) when not given).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tail {
    pub from: u32,
    pub weight: Option<f64>,
    pub median: f64,
    pub sigma: f64,
}

/// A delay as a file gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct DelaySpec {
    pub dist: Dist,
    pub tail: Option<Tail>,
    /// Of the log-normal: the distribution's own, or its tail's.
    pub uncertainty: Option<Uncertainty>,
}

/// The alternatives of an uncertain delay, one of which each trial uses.
/// `key` (the file's key path) names it: channels that inherit a delay
/// share its draw, and a trial's pick depends on nothing else.
#[derive(Clone, Debug, PartialEq)]
pub struct DelayDraws {
    pub key: String,
    pub draws: Vec<Delay>,
}

/// Why a delay cannot be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TimingError {
    #[error("the body reaches week {body}, at or past the tail's `from` = {from}")]
    BodyPastTail { body: u32, from: u32 },
    #[error("`uncertainty` needs a log-normal: `dist = \"lognormal\"` or a `tail`")]
    NotLogNormal,
    #[error(transparent)]
    Dist(#[from] DistError),
}

impl DelaySpec {
    pub fn plain(dist: Dist) -> DelaySpec {
        DelaySpec {
            dist,
            tail: None,
            uncertainty: None,
        }
    }

    /// Checks what the reader cannot see key by key.
    pub fn validate(&self) -> Result<(), TimingError> {
        if let Some(t) = &self.tail {
            let body = self.dist.to_delay();
            if body.last() >= t.from {
                return Err(TimingError::BodyPastTail {
                    body: body.last(),
                    from: t.from,
                });
            }
        } else if self.uncertainty.is_some() && self.dist.lognormal_params().is_none() {
            return Err(TimingError::NotLogNormal);
        }
        Ok(())
    }

    /// The log-normal whose parameters are uncertain or spliced in.
    fn lognormal(&self) -> Option<(f64, f64)> {
        match &self.tail {
            Some(t) => Some((t.median.ln(), t.sigma)),
            None => self.dist.lognormal_params(),
        }
    }

    /// The delay at log-normal parameters (μ, σ).
    fn at(&self, mu: f64, sigma: f64) -> Result<Delay, DistError> {
        let ln = Dist::lognormal(mu, sigma)?;
        Ok(match &self.tail {
            Some(t) => splice(
                &self.dist.to_delay(),
                &Delay::from_dist(&ln),
                t.from,
                t.weight,
            ),
            None => Delay::from_dist(&ln),
        })
    }

    /// The marginal delay, and the draws when the parameters are uncertain.
    pub fn build(&self, key: &str) -> Result<(Delay, Option<Arc<DelayDraws>>), TimingError> {
        self.validate()?;
        let Some((mu, sigma)) = self.lognormal() else {
            return Ok((self.dist.to_delay(), None));
        };
        let Some(u) = self
            .uncertainty
            .filter(|u| u.log_median_sd > 0.0 || u.sigma_sd > 0.0)
        else {
            return Ok((self.at(mu, sigma)?, None));
        };
        let draws = lattice(mu, sigma, &u)
            .into_iter()
            .map(|(m, s)| self.at(m, s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((
            mixture(&draws),
            Some(Arc::new(DelayDraws {
                key: key.to_string(),
                draws,
            })),
        ))
    }
}

/// The body's shape before week `from`, then the tail's shape from `from`
/// on with mass `weight` (by default the tail's own mass there).
pub fn splice(body: &Delay, tail: &Delay, from: u32, weight: Option<f64>) -> Delay {
    let beyond: f64 = tail.iter().filter(|(w, _)| *w >= from).map(|t| t.1).sum();
    let weight = weight.unwrap_or(beyond);
    // A tail with no mass past `from` (its log-normal ends before): the
    // weight sits on week `from`.
    let scale = if beyond > 0.0 { weight / beyond } else { 0.0 };
    let first = body.first.min(from);
    let last = body.last().max(tail.last()).max(from);
    let pmf = (first..=last)
        .map(|w| {
            if w < from {
                body.prob(w) * (1.0 - weight)
            } else if beyond > 0.0 {
                tail.prob(w) * scale
            } else if w == from {
                weight
            } else {
                0.0
            }
        })
        .collect();
    Delay { first, pmf }
}

/// The equal-weight mixture of delays.
pub fn mixture(ds: &[Delay]) -> Delay {
    let first = ds.iter().map(|d| d.first).min().unwrap_or(0);
    let last = ds.iter().map(Delay::last).max().unwrap_or(0);
    let n = ds.len().max(1) as f64;
    let pmf = (first..=last)
        .map(|w| ds.iter().map(|d| d.prob(w)).sum::<f64>() / n)
        .collect();
    Delay { first, pmf }
}

/// [`DRAWS`] points of (μ, σ) from the bivariate normal: a rank-1 lattice
/// (the golden-ratio sequence against evenly spaced first coordinates)
/// through the normal quantile, then the correlation. σ is kept at a
/// quarter of its estimate or more.
pub fn lattice(mu: f64, sigma: f64, u: &Uncertainty) -> Vec<(f64, f64)> {
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    let r = u.correlation.clamp(-1.0, 1.0);
    (0..DRAWS)
        .map(|j| {
            let u1 = (j as f64 + 0.5) / DRAWS as f64;
            let u2 = ((j as f64 + 0.5) * golden).fract();
            let (z1, z2) = (normal_quantile(u1), normal_quantile(u2));
            let m = mu + u.log_median_sd * z1;
            let s = sigma + u.sigma_sd * (r * z1 + (1.0 - r * r).sqrt() * z2);
            (m, s.max(sigma / 4.0))
        })
        .collect()
}

fn normal_quantile(p: f64) -> f64 {
    Dist::normal(0.0, 1.0).map_or(0.0, |d| d.quantile(p))
}

/// Which draw of each uncertain delay a trial uses, from a key that mixes
/// the trial's seed with the delay's name.
pub fn pick(trial_key: u64, name: &str) -> usize {
    let h = name.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    });
    (crate::sim::rng::mix(trial_key ^ h) % DRAWS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(sd: f64) -> DelaySpec {
        DelaySpec {
            dist: Dist::lognormal_median(8.0, 0.6).unwrap(),
            tail: None,
            uncertainty: Some(Uncertainty {
                log_median_sd: sd,
                sigma_sd: 0.05,
                correlation: 0.3,
            }),
        }
    }

    #[test]
    fn the_lattice_has_the_normals_moments() {
        let u = Uncertainty {
            log_median_sd: 0.2,
            sigma_sd: 0.1,
            correlation: 0.5,
        };
        let pts = lattice(2.0, 0.6, &u);
        let n = pts.len() as f64;
        let (mm, ms) = (
            pts.iter().map(|p| p.0).sum::<f64>() / n,
            pts.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let sd = |f: &dyn Fn(&(f64, f64)) -> f64, m: f64| {
            (pts.iter().map(|p| (f(p) - m).powi(2)).sum::<f64>() / n).sqrt()
        };
        let (sm, ss) = (sd(&|p| p.0, mm), sd(&|p| p.1, ms));
        let cov = pts.iter().map(|p| (p.0 - mm) * (p.1 - ms)).sum::<f64>() / n;
        assert!((mm - 2.0).abs() < 1e-9, "{mm}");
        assert!((ms - 0.6).abs() < 0.01, "{ms}");
        // 32 points of a normal: the sd of the design is within 5%.
        assert!((sm / 0.2 - 1.0).abs() < 0.05, "{sm}");
        assert!((ss / 0.1 - 1.0).abs() < 0.08, "{ss}");
        assert!((cov / (sm * ss) - 0.5).abs() < 0.1, "{}", cov / (sm * ss));
    }

    #[test]
    fn the_marginal_is_the_mixture_and_wider_than_the_point_estimate() {
        let (m, draws) = cycle(0.3).build("deals.cycle").unwrap();
        let draws = draws.unwrap();
        assert_eq!(draws.draws.len(), DRAWS);
        let mean: f64 = draws.draws.iter().map(Delay::mean).sum::<f64>() / DRAWS as f64;
        assert!((m.mean() - mean).abs() < 1e-9);
        assert!((m.pmf.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let point = Delay::from_dist(&Dist::lognormal_median(8.0, 0.6).unwrap());
        assert!(m.quantile(0.95) > point.quantile(0.95));
        let var = |d: &Delay| {
            d.iter()
                .map(|(w, p)| (w as f64 - d.mean()).powi(2) * p)
                .sum::<f64>()
        };
        assert!(var(&m) > 1.2 * var(&point), "{} {}", var(&m), var(&point));
        // Without uncertainty: the point estimate, no draws.
        let (p, none) = cycle(0.0).build("x").unwrap();
        assert!(none.is_some(), "sigma_sd alone is uncertainty");
        let mut certain = cycle(0.0);
        certain.uncertainty = None;
        let (p2, none2) = certain.build("x").unwrap();
        assert!(none2.is_none());
        assert_eq!(p2, point);
        assert!(p.mean() > 0.0);
    }

    /// An empirical body with a log-normal tail (median 1, sigma 1) from
    /// week 3.
    fn tailed(values: &[f64], weights: Option<&[f64]>) -> DelaySpec {
        DelaySpec {
            dist: Dist::empirical(values, weights).unwrap(),
            tail: Some(Tail {
                from: 3,
                weight: None,
                median: 1.0,
                sigma: 1.0,
            }),
            uncertainty: None,
        }
    }

    #[test]
    fn a_spliced_delay_keeps_the_body_and_the_tails_mass() {
        let spec = tailed(&[0.0, 1.0, 2.0], Some(&[0.5, 0.3, 0.2]));
        let (d, draws) = spec.build("stages.sal.delay").unwrap();
        assert!(draws.is_none());
        let ln = Delay::from_dist(&Dist::lognormal_median(1.0, 1.0).unwrap());
        let beyond: f64 = ln.iter().filter(|(w, _)| *w >= 3).map(|t| t.1).sum();
        assert!((d.prob(0) - 0.5 * (1.0 - beyond)).abs() < 1e-12);
        assert!((d.prob(2) - 0.2 * (1.0 - beyond)).abs() < 1e-12);
        assert!((d.prob(7) - ln.prob(7)).abs() < 1e-15);
        assert!((d.pmf.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // Longer than anything in the body stays possible.
        assert!(d.last() > 20, "{}", d.last());
        // With a weight: the body keeps 1 − weight, the tail its shape.
        let mut weighted = spec.clone();
        weighted.tail.as_mut().unwrap().weight = Some(0.01);
        let (d, _) = weighted.build("x").unwrap();
        assert!((d.prob(1) - 0.3 * 0.99).abs() < 1e-12);
        assert!((d.prob(7) - ln.prob(7) * 0.01 / beyond).abs() < 1e-15);
        assert!((d.pmf.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn bad_splices_and_uncertainty_without_a_lognormal_are_refused() {
        let spec = tailed(&[0.0, 4.0], None);
        assert!(matches!(
            spec.validate(),
            Err(TimingError::BodyPastTail { body: 4, from: 3 })
        ));
        let spec = DelaySpec {
            dist: Dist::uniform(0.0, 3.0).unwrap(),
            tail: None,
            uncertainty: Some(Uncertainty {
                log_median_sd: 0.1,
                sigma_sd: 0.0,
                correlation: 0.0,
            }),
        };
        assert_eq!(spec.validate(), Err(TimingError::NotLogNormal));
    }

    #[test]
    fn picks_are_spread_and_depend_on_the_name() {
        let mut seen = [0usize; DRAWS];
        for t in 0..32_000u64 {
            seen[pick(crate::sim::rng::key(7, t, 99), "deals.cycle")] += 1;
        }
        // 1,000 expected in each: 5 SE is 155.
        assert!(
            seen.iter().all(|c| (*c as f64 - 1000.0).abs() < 155.0),
            "{seen:?}"
        );
        let k = crate::sim::rng::key(7, 1, 99);
        let differ = (0..64)
            .filter(|i| pick(k ^ i, "a") != pick(k ^ i, "b"))
            .count();
        assert!(differ > 50, "{differ}");
    }
}

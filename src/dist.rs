//! Probability distributions for model parameters: deal sizes, delays in
//! weeks, lead scores, uncertain rates.
//!
//! Every distribution is checked once, when it is built ([`DistError`] names
//! the bad parameter); afterwards sampling and evaluation cannot fail. A
//! [`Dist`] can be clamped (`at_least`, `at_most`); the clamp is part of the
//! distribution, so means and CDFs include it. Delays are used as weekly
//! probability mass functions ([`Delay`]): the distribution rounded to the
//! nearest week, which is what both the planner (convolution) and the engine
//! (splitting cohorts by delay) need.

use rand::Rng;
use rand_distr::Distribution;
use statrs::function::beta::beta_reg;
use statrs::function::erf::erfc;
use statrs::function::gamma::gamma_lr;
use thiserror::Error;

/// Why a distribution could not be built. Each variant names the parameter.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DistError {
    #[error("`{param}` must be {rule}, got {value}")]
    Param {
        param: &'static str,
        rule: &'static str,
        value: f64,
    },
    #[error("need min < max, got min = {min} and max = {max}")]
    EmptyRange { min: f64, max: f64 },
    #[error("need min ≤ mode ≤ max, got min = {min}, mode = {mode}, max = {max}")]
    ModeOutside { min: f64, mode: f64, max: f64 },
    #[error("`values` and `weights` must have the same length ({values} ≠ {weights})")]
    WeightsLength { values: usize, weights: usize },
    #[error("an empirical distribution needs at least one value")]
    NoValues,
    #[error("the weights must not all be zero")]
    ZeroWeights,
    #[error("need at_least ≤ at_most, got {at_least} > {at_most}")]
    Clamp { at_least: f64, at_most: f64 },
}

fn positive(param: &'static str, value: f64) -> Result<f64, DistError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(DistError::Param {
            param,
            rule: "a finite number > 0",
            value,
        })
    }
}

fn finite(param: &'static str, value: f64) -> Result<f64, DistError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(DistError::Param {
            param,
            rule: "a finite number",
            value,
        })
    }
}

fn non_negative(param: &'static str, value: f64) -> Result<f64, DistError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(DistError::Param {
            param,
            rule: "a finite number ≥ 0",
            value,
        })
    }
}

/// The family and parameters of a distribution, with a ready sampler.
#[derive(Clone, Debug)]
pub enum Shape {
    Fixed(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    Normal {
        mean: f64,
        sd: f64,
        sampler: rand_distr::Normal<f64>,
    },
    /// Drawn as exp(μ + σ·z) with the inlined exp (see `sample`).
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Gamma {
        shape: f64,
        scale: f64,
        sampler: rand_distr::Gamma<f64>,
    },
    /// Beta on [min, max]; PERT is a Beta with parameters from its mode.
    Beta {
        alpha: f64,
        beta: f64,
        min: f64,
        max: f64,
        sampler: rand_distr::Beta<f64>,
    },
    Triangular {
        min: f64,
        mode: f64,
        max: f64,
    },
    /// Values with normalised cumulative weights.
    Empirical {
        values: Vec<f64>,
        cumulative: Vec<f64>,
    },
}

impl PartialEq for Shape {
    fn eq(&self, other: &Self) -> bool {
        self.params() == other.params()
    }
}

/// A distribution, optionally clamped to `[at_least, at_most]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dist {
    pub shape: Shape,
    pub at_least: f64,
    pub at_most: f64,
}

impl Dist {
    fn new(shape: Shape) -> Dist {
        Dist {
            shape,
            at_least: f64::NEG_INFINITY,
            at_most: f64::INFINITY,
        }
    }

    pub fn fixed(value: f64) -> Result<Dist, DistError> {
        Ok(Dist::new(Shape::Fixed(finite("value", value)?)))
    }

    pub fn uniform(min: f64, max: f64) -> Result<Dist, DistError> {
        let (min, max) = (finite("min", min)?, finite("max", max)?);
        if min >= max {
            return Err(DistError::EmptyRange { min, max });
        }
        Ok(Dist::new(Shape::Uniform { min, max }))
    }

    pub fn normal(mean: f64, sd: f64) -> Result<Dist, DistError> {
        let (mean, sd) = (finite("mean", mean)?, positive("sd", sd)?);
        let sampler = rand_distr::Normal::new(mean, sd).expect("checked");
        Ok(Dist::new(Shape::Normal { mean, sd, sampler }))
    }

    /// Log-normal by the parameters of its logarithm.
    pub fn lognormal(mu: f64, sigma: f64) -> Result<Dist, DistError> {
        let (mu, sigma) = (finite("mu", mu)?, positive("sigma", sigma)?);
        Ok(Dist::new(Shape::LogNormal { mu, sigma }))
    }

    /// Log-normal by its median and `sigma` (the standard deviation of the
    /// logarithm; the spread: P84/P50 = e^sigma).
    pub fn lognormal_median(median: f64, sigma: f64) -> Result<Dist, DistError> {
        Dist::lognormal(positive("median", median)?.ln(), sigma)
    }

    /// Log-normal by its mean and `sigma`: mu = ln(mean) − sigma²/2.
    pub fn lognormal_mean(mean: f64, sigma: f64) -> Result<Dist, DistError> {
        let sigma = positive("sigma", sigma)?;
        Dist::lognormal(positive("mean", mean)?.ln() - sigma * sigma / 2.0, sigma)
    }

    pub fn gamma(shape: f64, scale: f64) -> Result<Dist, DistError> {
        let (shape, scale) = (positive("shape", shape)?, positive("scale", scale)?);
        let sampler = rand_distr::Gamma::new(shape, scale).expect("checked");
        Ok(Dist::new(Shape::Gamma {
            shape,
            scale,
            sampler,
        }))
    }

    /// Gamma by mean and standard deviation.
    pub fn gamma_mean_sd(mean: f64, sd: f64) -> Result<Dist, DistError> {
        let (mean, sd) = (positive("mean", mean)?, positive("sd", sd)?);
        Dist::gamma((mean / sd).powi(2), sd * sd / mean)
    }

    pub fn beta(alpha: f64, beta: f64) -> Result<Dist, DistError> {
        Dist::scaled_beta(positive("alpha", alpha)?, positive("beta", beta)?, 0.0, 1.0)
    }

    fn scaled_beta(alpha: f64, beta: f64, min: f64, max: f64) -> Result<Dist, DistError> {
        let sampler = rand_distr::Beta::new(alpha, beta).expect("checked");
        Ok(Dist::new(Shape::Beta {
            alpha,
            beta,
            min,
            max,
            sampler,
        }))
    }

    pub fn triangular(min: f64, mode: f64, max: f64) -> Result<Dist, DistError> {
        let (min, mode, max) = three_point(min, mode, max)?;
        Ok(Dist::new(Shape::Triangular { min, mode, max }))
    }

    /// PERT: a Beta on [min, max] with mean (min + 4·mode + max)/6.
    pub fn pert(min: f64, mode: f64, max: f64) -> Result<Dist, DistError> {
        let (min, mode, max) = three_point(min, mode, max)?;
        let width = max - min;
        let alpha = 1.0 + 4.0 * (mode - min) / width;
        let beta = 1.0 + 4.0 * (max - mode) / width;
        Dist::scaled_beta(alpha, beta, min, max)
    }

    pub fn empirical(values: &[f64], weights: Option<&[f64]>) -> Result<Dist, DistError> {
        if values.is_empty() {
            return Err(DistError::NoValues);
        }
        let ones = vec![1.0; values.len()];
        let weights = weights.unwrap_or(&ones);
        if weights.len() != values.len() {
            return Err(DistError::WeightsLength {
                values: values.len(),
                weights: weights.len(),
            });
        }
        let mut pairs = Vec::with_capacity(values.len());
        for (&v, &w) in values.iter().zip(weights) {
            pairs.push((finite("values", v)?, non_negative("weights", w)?));
        }
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        if total <= 0.0 || !total.is_finite() {
            return Err(DistError::ZeroWeights);
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut acc = 0.0;
        let mut vals = Vec::with_capacity(pairs.len());
        let mut cumulative = Vec::with_capacity(pairs.len());
        for (v, w) in pairs {
            acc += w / total;
            vals.push(v);
            cumulative.push(acc);
        }
        *cumulative.last_mut().expect("non-empty") = 1.0;
        Ok(Dist::new(Shape::Empirical {
            values: vals,
            cumulative,
        }))
    }

    /// Clamps draws to `[at_least, at_most]` (either may be infinite).
    pub fn clamped(mut self, at_least: f64, at_most: f64) -> Result<Dist, DistError> {
        if at_least.is_nan() || at_most.is_nan() || at_least > at_most {
            return Err(DistError::Clamp { at_least, at_most });
        }
        self.at_least = at_least;
        self.at_most = at_most;
        Ok(self)
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.shape.sample(rng).clamp(self.at_least, self.at_most)
    }

    /// P(X ≤ x), clamp included.
    pub fn cdf(&self, x: f64) -> f64 {
        if x < self.at_least {
            0.0
        } else if x >= self.at_most {
            1.0
        } else {
            self.shape.cdf(x)
        }
    }

    /// P(X < x), clamp included.
    pub fn cdf_below(&self, x: f64) -> f64 {
        if x <= self.at_least {
            0.0
        } else if x > self.at_most {
            1.0
        } else {
            self.shape.cdf_below(x)
        }
    }

    /// The mean, clamp included (exact where a closed form exists).
    pub fn mean(&self) -> f64 {
        let (lo, hi) = self.shape.support();
        if self.at_least <= lo && self.at_most >= hi {
            return self.shape.mean();
        }
        let a = self.at_least.max(lo);
        let b = self.at_most.min(hi);
        if a >= b {
            return a.min(self.at_most);
        }
        let below = if self.at_least > lo {
            self.at_least * self.shape.cdf_below(self.at_least)
        } else {
            0.0
        };
        let above = if self.at_most < hi {
            self.at_most * (1.0 - self.shape.cdf(self.at_most))
        } else {
            0.0
        };
        below + self.shape.partial_mean(a, b) + above
    }

    /// The smallest x with P(X ≤ x) ≥ p.
    pub fn quantile(&self, p: f64) -> f64 {
        let (lo, hi) = self.shape.support();
        let (lo, hi) = (lo.max(self.at_least), hi.min(self.at_most));
        if let Shape::Empirical { values, cumulative } = &self.shape {
            let i = cumulative.partition_point(|c| *c < p).min(values.len() - 1);
            return values[i].clamp(self.at_least, self.at_most);
        }
        if let Shape::Fixed(v) = self.shape {
            return v.clamp(self.at_least, self.at_most);
        }
        let (mut a, mut b) = (finite_bound(lo, self, false), finite_bound(hi, self, true));
        for _ in 0..200 {
            let m = 0.5 * (a + b);
            if self.cdf(m) >= p {
                b = m;
            } else {
                a = m;
            }
            if (b - a).abs() <= 1e-12 * b.abs().max(1.0) {
                break;
            }
        }
        b
    }

    /// The distribution of k·X (k > 0): every parameter in the units of X
    /// is scaled, shape parameters are kept.
    pub fn scaled(&self, k: f64) -> Dist {
        let shape = match &self.shape {
            Shape::Fixed(v) => Shape::Fixed(v * k),
            Shape::Uniform { min, max } => Shape::Uniform {
                min: min * k,
                max: max * k,
            },
            Shape::Normal { mean, sd, .. } => {
                return Dist::normal(mean * k, sd * k)
                    .expect("scaled parameters stay valid")
                    .clamped(self.at_least * k, self.at_most * k)
                    .expect("scaled clamp stays ordered");
            }
            Shape::LogNormal { mu, sigma, .. } => {
                return Dist::lognormal(mu + k.ln(), *sigma)
                    .expect("scaled parameters stay valid")
                    .clamped(self.at_least * k, self.at_most * k)
                    .expect("scaled clamp stays ordered");
            }
            Shape::Gamma { shape, scale, .. } => {
                return Dist::gamma(*shape, scale * k)
                    .expect("scaled parameters stay valid")
                    .clamped(self.at_least * k, self.at_most * k)
                    .expect("scaled clamp stays ordered");
            }
            Shape::Beta {
                alpha,
                beta,
                min,
                max,
                sampler,
            } => Shape::Beta {
                alpha: *alpha,
                beta: *beta,
                min: min * k,
                max: max * k,
                sampler: *sampler,
            },
            Shape::Triangular { min, mode, max } => Shape::Triangular {
                min: min * k,
                mode: mode * k,
                max: max * k,
            },
            Shape::Empirical { values, cumulative } => Shape::Empirical {
                values: values.iter().map(|v| v * k).collect(),
                cumulative: cumulative.clone(),
            },
        };
        Dist {
            shape,
            at_least: self.at_least * k,
            at_most: self.at_most * k,
        }
    }

    /// (mu, sigma) when this is a log-normal with no clamp that can bind,
    /// so that hot loops can draw it as exp(mu + sigma·z).
    pub fn lognormal_params(&self) -> Option<(f64, f64)> {
        match self.shape {
            Shape::LogNormal { mu, sigma, .. }
                if self.at_least <= 0.0 && self.at_most == f64::INFINITY =>
            {
                Some((mu, sigma))
            }
            _ => None,
        }
    }

    /// Weekly delay: this distribution rounded to the nearest whole week,
    /// never below 0 (see [`Delay`]).
    pub fn to_delay(&self) -> Delay {
        Delay::from_dist(self)
    }
}

/// A finite search bound for quantiles of unbounded shapes.
fn finite_bound(x: f64, d: &Dist, upper: bool) -> f64 {
    if x.is_finite() {
        return x;
    }
    let m = d.shape.mean();
    let mut step = match &d.shape {
        Shape::Normal { sd, .. } => *sd,
        _ => m.abs().max(1.0),
    };
    let mut y = if upper { m + step } else { m - step };
    for _ in 0..200 {
        let c = d.cdf(y);
        if (upper && c >= 1.0 - 1e-15) || (!upper && c <= 1e-15) {
            break;
        }
        step *= 2.0;
        y = if upper { m + step } else { m - step };
    }
    y
}

fn three_point(min: f64, mode: f64, max: f64) -> Result<(f64, f64, f64), DistError> {
    let (min, mode, max) = (
        finite("min", min)?,
        finite("mode", mode)?,
        finite("max", max)?,
    );
    if min >= max {
        return Err(DistError::EmptyRange { min, max });
    }
    if !(min..=max).contains(&mode) {
        return Err(DistError::ModeOutside { min, mode, max });
    }
    Ok((min, mode, max))
}

/// Φ(z), the standard normal CDF.
pub fn std_normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn std_normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

impl Shape {
    /// The parameters, for equality and display.
    pub fn params(&self) -> (&'static str, Vec<f64>) {
        match self {
            Shape::Fixed(v) => ("fixed", vec![*v]),
            Shape::Uniform { min, max } => ("uniform", vec![*min, *max]),
            Shape::Normal { mean, sd, .. } => ("normal", vec![*mean, *sd]),
            Shape::LogNormal { mu, sigma, .. } => ("lognormal", vec![*mu, *sigma]),
            Shape::Gamma { shape, scale, .. } => ("gamma", vec![*shape, *scale]),
            Shape::Beta {
                alpha,
                beta,
                min,
                max,
                ..
            } => ("beta", vec![*alpha, *beta, *min, *max]),
            Shape::Triangular { min, mode, max } => ("triangular", vec![*min, *mode, *max]),
            Shape::Empirical { values, cumulative } => (
                "empirical",
                values.iter().chain(cumulative).copied().collect(),
            ),
        }
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Shape::Fixed(v) => *v,
            Shape::Uniform { min, max } => min + (max - min) * unit(rng),
            Shape::Normal { sampler, .. } => sampler.sample(rng),
            // exp(μ + σ·z), as rand_distr's log-normal draws it, with the
            // inlined exp.
            Shape::LogNormal { mu, sigma, .. } => {
                let z: f64 = rand_distr::StandardNormal.sample(rng);
                crate::math::exp(mu + sigma * z)
            }
            Shape::Gamma { sampler, .. } => sampler.sample(rng),
            Shape::Beta {
                min, max, sampler, ..
            } => min + (max - min) * sampler.sample(rng),
            Shape::Triangular { min, mode, max } => {
                let u = unit(rng);
                let f = (mode - min) / (max - min);
                if u < f {
                    min + ((max - min) * (mode - min) * u).sqrt()
                } else {
                    max - ((max - min) * (max - mode) * (1.0 - u)).sqrt()
                }
            }
            Shape::Empirical { values, cumulative } => {
                let u = unit(rng);
                let i = cumulative
                    .partition_point(|c| *c <= u)
                    .min(values.len() - 1);
                values[i]
            }
        }
    }

    /// Smallest and largest possible value.
    pub fn support(&self) -> (f64, f64) {
        match self {
            Shape::Fixed(v) => (*v, *v),
            Shape::Uniform { min, max } | Shape::Triangular { min, max, .. } => (*min, *max),
            Shape::Beta { min, max, .. } => (*min, *max),
            Shape::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Shape::LogNormal { .. } | Shape::Gamma { .. } => (0.0, f64::INFINITY),
            Shape::Empirical { values, .. } => (values[0], values[values.len() - 1]),
        }
    }

    pub fn mean(&self) -> f64 {
        match self {
            Shape::Fixed(v) => *v,
            Shape::Uniform { min, max } => 0.5 * (min + max),
            Shape::Normal { mean, .. } => *mean,
            Shape::LogNormal { mu, sigma, .. } => (mu + sigma * sigma / 2.0).exp(),
            Shape::Gamma { shape, scale, .. } => shape * scale,
            Shape::Beta {
                alpha,
                beta,
                min,
                max,
                ..
            } => min + (max - min) * alpha / (alpha + beta),
            Shape::Triangular { min, mode, max } => (min + mode + max) / 3.0,
            Shape::Empirical { values, cumulative } => {
                let mut prev = 0.0;
                values
                    .iter()
                    .zip(cumulative)
                    .map(|(v, c)| {
                        let w = c - prev;
                        prev = *c;
                        v * w
                    })
                    .sum()
            }
        }
    }

    /// P(X ≤ x).
    pub fn cdf(&self, x: f64) -> f64 {
        match self {
            Shape::Fixed(v) => f64::from(u8::from(x >= *v)),
            Shape::Empirical { values, cumulative } => {
                let i = values.partition_point(|v| *v <= x);
                if i == 0 { 0.0 } else { cumulative[i - 1] }
            }
            _ => self.continuous_cdf(x),
        }
    }

    /// P(X < x): differs from the CDF only at the atoms of discrete shapes.
    pub fn cdf_below(&self, x: f64) -> f64 {
        match self {
            Shape::Fixed(v) => f64::from(u8::from(x > *v)),
            Shape::Empirical { values, cumulative } => {
                let i = values.partition_point(|v| *v < x);
                if i == 0 { 0.0 } else { cumulative[i - 1] }
            }
            _ => self.continuous_cdf(x),
        }
    }

    fn continuous_cdf(&self, x: f64) -> f64 {
        match self {
            Shape::Uniform { min, max } => ((x - min) / (max - min)).clamp(0.0, 1.0),
            Shape::Normal { mean, sd, .. } => std_normal_cdf((x - mean) / sd),
            Shape::LogNormal { mu, sigma, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    std_normal_cdf((x.ln() - mu) / sigma)
                }
            }
            Shape::Gamma { shape, scale, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    gamma_lr(*shape, x / scale)
                }
            }
            Shape::Beta {
                alpha,
                beta,
                min,
                max,
                ..
            } => {
                let u = (x - min) / (max - min);
                if u <= 0.0 {
                    0.0
                } else if u >= 1.0 {
                    1.0
                } else {
                    beta_reg(*alpha, *beta, u)
                }
            }
            Shape::Triangular { min, mode, max } => {
                if x <= *min {
                    0.0
                } else if x >= *max {
                    1.0
                } else if x <= *mode {
                    (x - min).powi(2) / ((max - min) * (mode - min))
                } else {
                    1.0 - (max - x).powi(2) / ((max - min) * (max - mode))
                }
            }
            Shape::Fixed(_) | Shape::Empirical { .. } => unreachable!("discrete"),
        }
    }

    /// ∫ x dF over [a, b] (a < b, within the support).
    fn partial_mean(&self, a: f64, b: f64) -> f64 {
        match self {
            Shape::Fixed(v) => {
                if (a..=b).contains(v) {
                    *v
                } else {
                    0.0
                }
            }
            Shape::Empirical { values, cumulative } => {
                let mut prev = 0.0;
                let mut s = 0.0;
                for (v, c) in values.iter().zip(cumulative) {
                    if *v > a && *v < b {
                        s += v * (c - prev);
                    }
                    prev = *c;
                }
                s
            }
            Shape::Uniform { min, max } => (b * b - a * a) / (2.0 * (max - min)),
            Shape::Normal { mean, sd, .. } => {
                let (za, zb) = ((a - mean) / sd, (b - mean) / sd);
                mean * (std_normal_cdf(zb) - std_normal_cdf(za))
                    - sd * (std_normal_pdf(zb) - std_normal_pdf(za))
            }
            Shape::LogNormal { mu, sigma, .. } => {
                let z = |x: f64| {
                    if x <= 0.0 {
                        0.0
                    } else if x.is_infinite() {
                        1.0
                    } else {
                        std_normal_cdf((x.ln() - mu - sigma * sigma) / sigma)
                    }
                };
                (mu + sigma * sigma / 2.0).exp() * (z(b) - z(a))
            }
            _ => {
                // Light-tailed or bounded shapes: Simpson's rule on
                // x·(F(x+h) − F(x−h))/2h would need a density; integrate by
                // parts instead: ∫ x dF = b·F(b) − a·F(a) − ∫ F(x) dx.
                let b = if b.is_finite() {
                    b
                } else {
                    self.upper_tail_point()
                };
                let n = 4096;
                let h = (b - a) / n as f64;
                let mut integral = self.cdf(a) + self.cdf(b);
                for i in 1..n {
                    let w = if i % 2 == 1 { 4.0 } else { 2.0 };
                    integral += w * self.cdf(a + h * i as f64);
                }
                integral *= h / 3.0;
                b * self.cdf(b) - a * self.cdf(a) - integral
            }
        }
    }

    /// A point beyond which the mass is negligible (< 1e-15).
    fn upper_tail_point(&self) -> f64 {
        let mut x = self.mean().abs().max(1.0);
        while self.cdf(x) < 1.0 - 1e-15 && x < 1e300 {
            x *= 2.0;
        }
        x
    }
}

/// A uniform draw in [0, 1) with 53 bits.
pub fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The longest delay kept in a [`Delay`], in weeks: 20 years. Mass beyond it
/// is put on the last week kept (far past any horizon).
pub const MAX_DELAY_WEEKS: usize = 1040;

/// Probability mass below which a delay's tail is dropped.
const NEGLIGIBLE: f64 = 1e-9;

/// A delay in whole weeks: `pmf[k]` is P(delay = first + k).
#[derive(Clone, Debug, PartialEq)]
pub struct Delay {
    pub first: u32,
    pub pmf: Vec<f64>,
}

impl Delay {
    /// A delay of exactly `weeks`.
    pub fn fixed(weeks: u32) -> Delay {
        Delay {
            first: weeks,
            pmf: vec![1.0],
        }
    }

    /// The distribution rounded to the nearest week (halves round up),
    /// with negative values counted as 0.
    pub fn from_dist(d: &Dist) -> Delay {
        let mut pmf = Vec::new();
        let mut below = 0.0; // P(X < k + 0.5)
        for k in 0..=MAX_DELAY_WEEKS {
            let upto = if k == MAX_DELAY_WEEKS {
                1.0
            } else {
                d.cdf_below(k as f64 + 0.5)
            };
            pmf.push((upto - below).max(0.0));
            below = upto;
            if upto >= 1.0 - 1e-13 {
                let rest = 1.0 - upto;
                *pmf.last_mut().expect("pushed") += rest;
                break;
            }
        }
        // Tails below 1e-9 are folded into the nearest week kept: they are
        // noise in any plan, and a delay of "26 ± 4 weeks" should not count
        // as possibly zero.
        let first = pmf.iter().position(|p| *p > NEGLIGIBLE).unwrap_or(0);
        let last = pmf
            .iter()
            .rposition(|p| *p > NEGLIGIBLE)
            .unwrap_or(0)
            .max(first);
        let below: f64 = pmf[..first].iter().sum();
        let above: f64 = pmf[last + 1..].iter().sum();
        let mut pmf = pmf[first..=last].to_vec();
        pmf[0] += below;
        *pmf.last_mut().expect("non-empty") += above;
        Delay {
            first: first as u32,
            pmf,
        }
    }

    pub fn last(&self) -> u32 {
        self.first + self.pmf.len() as u32 - 1
    }

    /// P(delay = weeks).
    pub fn prob(&self, weeks: u32) -> f64 {
        weeks
            .checked_sub(self.first)
            .and_then(|k| self.pmf.get(k as usize))
            .copied()
            .unwrap_or(0.0)
    }

    /// (weeks, probability) for every possible delay.
    pub fn iter(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.pmf
            .iter()
            .enumerate()
            .map(|(k, p)| (self.first + k as u32, *p))
    }

    pub fn mean(&self) -> f64 {
        self.iter().map(|(w, p)| w as f64 * p).sum()
    }

    /// The smallest delay d with P(delay ≤ d) ≥ q.
    pub fn quantile(&self, q: f64) -> u32 {
        let mut acc = 0.0;
        for (w, p) in self.iter() {
            acc += p;
            if acc >= q - 1e-12 {
                return w;
            }
        }
        self.last()
    }

    /// The delay still to run for something that entered `age` weeks ago
    /// and is still waiting: P(D − age = k | D ≥ age), k = 0 being this
    /// week. When the whole distribution lies before `age` (overdue), the
    /// event is due now.
    pub fn remaining_after(&self, age: u32) -> Delay {
        let tail: Vec<(u32, f64)> = self.iter().filter(|(w, _)| *w >= age).collect();
        let mass: f64 = tail.iter().map(|t| t.1).sum();
        if tail.is_empty() || mass <= 0.0 {
            return Delay::fixed(0);
        }
        Delay {
            first: tail[0].0 - age,
            pmf: tail.iter().map(|(_, p)| p / mass).collect(),
        }
    }

    /// A draw, by inversion.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let mut u = unit(rng);
        for (w, p) in self.iter() {
            if u < p {
                return w;
            }
            u -= p;
        }
        self.last()
    }
}

/// A probability: a point value, or uncertain (a Beta), drawn once per
/// simulated trial.
#[derive(Clone, Debug, PartialEq)]
pub enum Prob {
    Fixed(f64),
    Beta(Dist),
}

impl Prob {
    pub fn fixed(p: f64) -> Result<Prob, DistError> {
        if (0.0..=1.0).contains(&p) {
            Ok(Prob::Fixed(p))
        } else {
            Err(DistError::Param {
                param: "p",
                rule: "a probability from 0 to 1",
                value: p,
            })
        }
    }

    pub fn beta(alpha: f64, beta: f64) -> Result<Prob, DistError> {
        Ok(Prob::Beta(Dist::beta(alpha, beta)?))
    }

    /// From observed counts, with a uniform prior: Beta(1 + s, 1 + n − s).
    pub fn from_counts(successes: u64, trials: u64) -> Result<Prob, DistError> {
        if successes > trials {
            return Err(DistError::Param {
                param: "successes",
                rule: "at most `trials`",
                value: successes as f64,
            });
        }
        Prob::beta(1.0 + successes as f64, 1.0 + (trials - successes) as f64)
    }

    pub fn mean(&self) -> f64 {
        match self {
            Prob::Fixed(p) => *p,
            Prob::Beta(d) => d.mean(),
        }
    }

    pub fn is_uncertain(&self) -> bool {
        matches!(self, Prob::Beta(_))
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Prob::Fixed(p) => *p,
            Prob::Beta(d) => d.sample(rng),
        }
    }

    pub fn quantile(&self, q: f64) -> f64 {
        match self {
            Prob::Fixed(p) => *p,
            Prob::Beta(d) => d.quantile(q),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tol {tol})");
    }

    /// Sample mean within 5 standard errors of the exact mean.
    fn check_mean_by_sampling(d: &Dist, n: usize) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (v / n as f64).sqrt();
        assert!(
            (m - d.mean()).abs() <= 5.0 * se + 1e-12,
            "{d:?}: sample {m} vs {} (se {se})",
            d.mean()
        );
    }

    /// Kolmogorov–Smirnov distance of samples to the exact CDF, below the
    /// 0.1% critical value 1.95/√n.
    fn check_cdf_by_sampling(d: &Dist, n: usize) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        let mut dmax: f64 = 0.0;
        for (i, x) in xs.iter().enumerate() {
            let f = d.cdf(*x);
            dmax = dmax
                .max((f - i as f64 / n as f64).abs())
                .max(((i + 1) as f64 / n as f64 - f).abs());
        }
        assert!(dmax < 1.95 / (n as f64).sqrt(), "{d:?}: KS {dmax}");
    }

    fn all() -> Vec<Dist> {
        vec![
            Dist::uniform(2.0, 5.0).unwrap(),
            Dist::normal(50.0, 15.0).unwrap(),
            Dist::lognormal_mean(30_000.0, 0.7).unwrap(),
            Dist::lognormal_median(10.0, 0.5).unwrap(),
            Dist::gamma(2.5, 3.0).unwrap(),
            Dist::gamma_mean_sd(12.0, 4.0).unwrap(),
            Dist::beta(30.0, 90.0).unwrap(),
            Dist::triangular(1.0, 3.0, 10.0).unwrap(),
            Dist::pert(1.0, 3.0, 10.0).unwrap(),
        ]
    }

    #[test]
    fn continuous_samples_match_means_and_cdfs() {
        for d in all() {
            check_mean_by_sampling(&d, 200_000);
            check_cdf_by_sampling(&d, 20_000);
        }
    }

    #[test]
    fn clamped_means_match_sampling() {
        for d in all() {
            let (q1, q3) = (d.quantile(0.25), d.quantile(0.75));
            let c = d.clone().clamped(q1, q3).unwrap();
            check_mean_by_sampling(&c, 200_000);
            let low = d.clone().clamped(q1, f64::INFINITY).unwrap();
            check_mean_by_sampling(&low, 200_000);
        }
        let n = Dist::normal(50.0, 15.0)
            .unwrap()
            .clamped(0.0, 100.0)
            .unwrap();
        check_cdf_by_sampling(&n, 20_000);
    }

    #[test]
    fn closed_forms() {
        let ln = Dist::lognormal_mean(30_000.0, 0.7).unwrap();
        close(ln.mean(), 30_000.0, 1e-8);
        let Shape::LogNormal { mu, .. } = ln.shape else {
            panic!()
        };
        close(mu, 30_000f64.ln() - 0.245, 1e-12);
        close(
            Dist::lognormal_median(10.0, 0.5).unwrap().quantile(0.5),
            10.0,
            1e-9,
        );
        close(
            Dist::normal(0.0, 1.0).unwrap().cdf(1.96),
            0.9750021048517795,
            1e-11,
        );
        close(Dist::beta(30.0, 90.0).unwrap().mean(), 0.25, 1e-15);
        close(
            Dist::beta(30.0, 90.0).unwrap().quantile(0.05),
            0.187677,
            1e-5,
        );
        close(
            Dist::pert(1.0, 3.0, 10.0).unwrap().mean(),
            (1.0 + 12.0 + 10.0) / 6.0,
            1e-12,
        );
        // E[max(Z, 0)] = φ(0) for a standard normal.
        let z = Dist::normal(0.0, 1.0)
            .unwrap()
            .clamped(0.0, f64::INFINITY)
            .unwrap();
        close(z.mean(), 1.0 / (2.0 * std::f64::consts::PI).sqrt(), 1e-12);
    }

    #[test]
    fn scaling_multiplies_the_mean_and_keeps_the_shape() {
        for d in all()
            .into_iter()
            .chain([Dist::empirical(&[1.0, 3.0], None).unwrap()])
        {
            let s = d.scaled(1.5);
            close(s.mean(), 1.5 * d.mean(), 1e-6 * d.mean().abs().max(1.0));
            close(
                s.quantile(0.3),
                1.5 * d.quantile(0.3),
                1e-6 * d.quantile(0.3).abs().max(1.0),
            );
        }
    }

    #[test]
    fn empirical_is_discrete() {
        let d = Dist::empirical(&[3.0, 1.0, 2.0], Some(&[1.0, 2.0, 1.0])).unwrap();
        close(d.mean(), (3.0 + 2.0 + 2.0) / 4.0, 1e-15);
        close(d.cdf(1.0), 0.5, 1e-15);
        close(d.cdf_below(1.0), 0.0, 1e-15);
        close(d.quantile(0.6), 2.0, 0.0);
        check_mean_by_sampling(&d, 100_000);
    }

    #[test]
    fn constructors_name_the_bad_parameter() {
        assert_eq!(
            Dist::normal(1.0, -2.0).unwrap_err().to_string(),
            "`sd` must be a finite number > 0, got -2"
        );
        assert!(matches!(
            Dist::triangular(1.0, 0.0, 2.0),
            Err(DistError::ModeOutside { .. })
        ));
        assert!(matches!(
            Dist::uniform(2.0, 2.0),
            Err(DistError::EmptyRange { .. })
        ));
        assert!(matches!(
            Dist::empirical(&[1.0], Some(&[0.0])),
            Err(DistError::ZeroWeights)
        ));
        assert!(matches!(
            Dist::empirical(&[1.0], Some(&[1.0, 2.0])),
            Err(DistError::WeightsLength { .. })
        ));
        assert!(Dist::lognormal_mean(f64::NAN, 0.5).is_err());
        assert!(Prob::fixed(1.5).is_err());
        assert!(Prob::from_counts(5, 3).is_err());
        assert!(Dist::fixed(1.0).unwrap().clamped(2.0, 1.0).is_err());
    }

    #[test]
    fn delays_round_to_the_nearest_week() {
        let d = Dist::fixed(2.5).unwrap().to_delay();
        assert_eq!(
            d,
            Delay {
                first: 3,
                pmf: vec![1.0]
            }
        );
        let d = Dist::uniform(0.0, 2.0).unwrap().to_delay();
        assert_eq!(d.first, 0);
        close(d.pmf[0], 0.25, 1e-15);
        close(d.pmf[1], 0.5, 1e-15);
        close(d.pmf[2], 0.25, 1e-15);
        // The benchmark's cycle: max(1, round(LogNormal(ln 10, 0.5))).
        let c = Dist::lognormal_median(10.0, 0.5)
            .unwrap()
            .clamped(1.0, f64::INFINITY)
            .unwrap()
            .to_delay();
        assert_eq!(c.first, 1);
        let ln = Dist::lognormal_median(10.0, 0.5).unwrap();
        close(c.prob(1), ln.cdf(1.5), 1e-12);
        close(c.prob(10), ln.cdf(10.5) - ln.cdf(9.5), 1e-12);
        close(c.pmf.iter().sum::<f64>(), 1.0, 1e-12);
        // Tails under 1e-9 are dropped.
        let far = Dist::normal(26.0, 4.0).unwrap().to_delay();
        assert!(far.first >= 1 && far.last() <= 51, "{far:?}");
        close(far.pmf.iter().sum::<f64>(), 1.0, 1e-15);
        // Negative values count as no delay.
        let n = Dist::normal(0.0, 1.0).unwrap().to_delay();
        close(n.prob(0), std_normal_cdf(0.5), 1e-12);
    }

    #[test]
    fn remaining_delay_is_conditional_on_age() {
        let d = Delay {
            first: 1,
            pmf: vec![0.25, 0.25, 0.5],
        };
        let r = d.remaining_after(2);
        assert_eq!(
            r,
            Delay {
                first: 0,
                pmf: vec![1.0 / 3.0, 2.0 / 3.0]
            }
        );
        assert_eq!(d.remaining_after(3), Delay::fixed(0));
        assert_eq!(d.remaining_after(7), Delay::fixed(0));
        assert_eq!(d.remaining_after(0), d);
    }

    #[test]
    fn delay_samples_follow_the_pmf() {
        let d = Delay {
            first: 2,
            pmf: vec![0.2, 0.3, 0.5],
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let n = 100_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[(d.sample(&mut rng) - 2) as usize] += 1;
        }
        for (c, p) in counts.iter().zip(&d.pmf) {
            let se = (p * (1.0 - p) / n as f64).sqrt();
            close(*c as f64 / n as f64, *p, 5.0 * se);
        }
    }

    #[test]
    fn counts_become_a_posterior_beta() {
        let p = Prob::from_counts(30, 120).unwrap();
        close(p.mean(), 31.0 / 122.0, 1e-15);
        assert!(p.is_uncertain());
        close(Prob::fixed(0.3).unwrap().quantile(0.9), 0.3, 0.0);
    }
}

//! Random streams and the samplers the engines need.
//!
//! Every stream is derived by hashing (seed, trial, purpose) with SplitMix64,
//! never by adding to the seed: neighbouring seeds and trials share nothing.
//! Purposes separate what a trial draws — parameters, each channel's
//! arrivals, each week's wins, each lead's fate — so that a variant which
//! changes one channel or the MQL threshold leaves every other draw as it
//! was (common random numbers), and paired differences between variants
//! measure the change, not noise.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub use crate::dist::unit;
use crate::math::exp;

/// SplitMix64's finaliser: a bijective 64-bit mix.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit key for (seed, trial, purpose).
pub fn key(seed: u64, trial: u64, purpose: u64) -> u64 {
    mix(mix(mix(seed) ^ trial) ^ purpose)
}

/// The stream for (seed, trial, purpose).
pub fn stream(seed: u64, trial: u64, purpose: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(key(seed, trial, purpose))
}

/// What a stream is for. Distinct purposes never share a stream.
pub mod purpose {
    pub const PARAMS: u64 = 1;
    pub const PIPELINE: u64 = 2;
    pub const DELAYS: u64 = 3;
    pub fn channel(c: usize) -> u64 {
        0x1_0000 + c as u64
    }
    /// The wins of the channels sharing the `g`-th win rate.
    pub fn wins(g: usize) -> u64 {
        0x2_0000 + g as u64
    }
}

/// A small, fast generator for one lead's own stream (SplitMix64: 8 bytes
/// of state, one multiply-xorshift per draw).
#[derive(Clone, Copy, Debug)]
pub struct LeadRng(pub u64);

impl LeadRng {
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        unit_of_bits(self.unit_bits())
    }

    /// A uniform as its 53 bits k: the uniform is k · 2⁻⁵³
    /// ([`unit_of_bits`]).
    #[inline]
    pub fn unit_bits(&mut self) -> u64 {
        self.next_u64() >> 11
    }
}

/// The uniform k · 2⁻⁵³ of 53 bits k ([`LeadRng::unit_bits`]).
#[inline]
pub fn unit_of_bits(k: u64) -> f64 {
    k as f64 * (1.0 / (1u64 << 53) as f64)
}

impl rand::TryRng for LeadRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.next_u64() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(LeadRng::next_u64(self))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = LeadRng::next_u64(self).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

/// 1/k for the inversion of small Poisson means.
const RECIPROCALS: [f64; 64] = {
    let mut t = [0.0; 64];
    let mut k = 1;
    while k < 64 {
        t[k] = 1.0 / k as f64;
        k += 1;
    }
    t
};

/// Means below this are drawn by inversion (monotone in the uniform, so a
/// slightly different mean gives a slightly different count: variants stay
/// coupled); above it by transformed rejection.
const INVERSION_LIMIT: f64 = 30.0;

/// A Poisson draw with the given mean (0 for a mean ≤ 0).
#[inline]
pub fn poisson<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> u64 {
    if mean <= 0.0 || mean.is_nan() {
        return 0;
    }
    if mean < INVERSION_LIMIT {
        let u = unit(rng);
        let mut p = exp(-mean);
        let mut cdf = p;
        let mut k = 0u64;
        while u > cdf && k < 10_000 {
            k += 1;
            p *= mean
                * RECIPROCALS
                    .get(k as usize)
                    .copied()
                    .unwrap_or(1.0 / k as f64);
            cdf += p;
            if p < 1e-300 && cdf < u {
                // Rounding left the CDF short of u: the remaining mass is
                // below 1e-16; stop at the mode side reached.
                break;
            }
        }
        return k;
    }
    ptrs(rng, mean)
}

/// Inversion of a tabulated discrete distribution: the index of a uniform
/// u is the first whose cumulative probability is past u, so it is
/// monotone in u and in the probabilities (variants stay coupled). A guide
/// table makes it a few steps whatever the size of the table.
#[derive(Clone, Debug)]
pub struct Inversion {
    /// Cumulative probabilities (non-decreasing, the last exactly 1), then
    /// two sentinels past any uniform.
    cum: Vec<f64>,
    /// `guide[j]`: the first index whose probability ends past j / m
    /// (m = guide.len()), where the search for a uniform in
    /// [j, j + 1) / m starts.
    guide: Vec<u32>,
}

/// Guide entries per index: enough that the index of a uniform is almost
/// always its guide's or one of the next two.
const GUIDE_PER_INDEX: usize = 2;

impl Inversion {
    /// From weights (negative ones count as 0; if none is positive, or
    /// there are none, every uniform gives index 0).
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Inversion {
        let mut acc = 0.0;
        let mut cum: Vec<f64> = weights
            .into_iter()
            .map(|w| {
                acc += w.max(0.0);
                acc
            })
            .collect();
        cum.iter_mut()
            .for_each(|x| *x = if acc > 0.0 { *x / acc } else { 1.0 });
        Inversion::from_cum(cum)
    }

    /// From cumulative probabilities as they are (non-decreasing; the last
    /// is taken as 1; none is one certain outcome).
    pub fn from_cum(mut cum: Vec<f64>) -> Inversion {
        if cum.is_empty() {
            cum.push(1.0);
        }
        if let Some(last) = cum.last_mut() {
            *last = 1.0;
        }
        let m = cum.len() * GUIDE_PER_INDEX;
        let mut guide = Vec::with_capacity(m);
        let mut i = 0;
        for j in 0..m {
            let at = j as f64 / m as f64;
            while cum[i] <= at {
                i += 1;
            }
            guide.push(i as u32);
        }
        cum.extend([2.0, 2.0]);
        Inversion { cum, guide }
    }

    /// How many outcomes.
    pub fn len(&self) -> usize {
        self.cum.len() - 2
    }

    /// Never: there is at least one outcome.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The index of a uniform u in [0, 1). Without a branch the processor
    /// could mispredict: it is almost always the guide's or one of the
    /// next two, counted; the rare other case (many small probabilities in
    /// one guide interval, or u · m rounded across an integer) is caught by
    /// checking the answer, and searched.
    #[inline]
    pub fn index(&self, u: f64) -> usize {
        let m = self.guide.len();
        self.search_from(((u * m as f64) as usize).min(m - 1), u)
    }

    /// [`Inversion::index`] of the uniform of 53 bits k
    /// ([`LeadRng::unit_bits`]), its guide interval found in integers
    /// (exactly ⌊k · m / 2⁵³⌋, without a float's saturating conversion).
    #[inline]
    pub fn index_of_bits(&self, k: u64) -> usize {
        let m = self.guide.len();
        let g = (u128::from(k) * m as u128) >> 53;
        self.search_from((g as usize).min(m - 1), unit_of_bits(k))
    }

    /// The index of u, searched from guide interval g.
    #[inline]
    fn search_from(&self, g: usize, u: f64) -> usize {
        let lo = self.guide[g] as usize;
        let cum = &self.cum;
        let i = lo + usize::from(cum[lo] <= u) + usize::from(cum[lo + 1] <= u);
        if cum[i] <= u || (lo > 0 && cum[lo - 1] > u) {
            self.searched(u)
        } else {
            i
        }
    }

    /// The search both stand for, by bisection: the guided lookup's rare
    /// fallback (and what the tests compare it with).
    fn searched(&self, u: f64) -> usize {
        self.cum[..self.len()]
            .partition_point(|c| *c <= u)
            .min(self.len() - 1)
    }

    /// The cumulative probabilities, index by index.
    pub fn cums(&self) -> &[f64] {
        &self.cum[..self.len()]
    }
}

/// A Poisson distribution with a fixed mean, drawn by inversion of its
/// tabulated CDF: exact (tails below 1e−16 aside), monotone in the uniform,
/// and a few steps per draw, whatever the mean.
#[derive(Clone, Debug)]
pub struct PoissonCdf {
    first: u64,
    table: Inversion,
}

impl PoissonCdf {
    pub fn new(mean: f64) -> PoissonCdf {
        if mean <= 0.0 || !mean.is_finite() {
            return PoissonCdf {
                first: 0,
                table: Inversion::new([1.0]),
            };
        }
        // The pmf from the mode outwards, in logs to stay finite.
        let ln_pmf = |k: f64| -mean + k * mean.ln() - statrs::function::gamma::ln_gamma(k + 1.0);
        let mode = mean.floor();
        let spread = 12.0 * mean.sqrt() + 40.0;
        let lo = (mode - spread).max(0.0) as u64;
        let hi = (mode + spread) as u64;
        PoissonCdf {
            first: lo,
            table: Inversion::new((lo..=hi).map(|k| ln_pmf(k as f64).exp())),
        }
    }

    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        self.first + self.table.index(unit(rng)) as u64
    }
}

/// Hörmann's PTRS (transformed rejection with squeeze), exact for mean ≥ 10.
fn ptrs<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> u64 {
    let smu = mean.sqrt();
    let b = 0.931 + 2.53 * smu;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    let ln_mean = mean.ln();
    loop {
        let u = unit(rng) - 0.5;
        let v = unit(rng);
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + mean + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k as u64;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        let lhs = v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln();
        let rhs = -mean + k * ln_mean - statrs::function::gamma::ln_gamma(k + 1.0);
        if lhs <= rhs {
            return k as u64;
        }
    }
}

/// A binomial draw by inversion: exact, and monotone in the uniform and in
/// p, so that splitting the same arrivals at a slightly different rate (a
/// moved threshold) gives a slightly different count — variants stay
/// coupled. The search starts at the mode, so it costs a few standard
/// deviations of steps whatever n.
/// Always one uniform, whatever n and p: the streams of variants stay
/// aligned.
pub fn binomial<R: Rng + ?Sized>(rng: &mut R, n: u64, p: f64) -> u64 {
    binomial_with(rng, n, p, binomial_quantile)
}

/// [`binomial`], with `quantile(u, n, p)` finding the quantile for p ≤ 0.5.
#[inline]
fn binomial_with<R: Rng + ?Sized>(
    rng: &mut R,
    n: u64,
    p: f64,
    quantile: impl FnOnce(f64, u64, f64) -> u64,
) -> u64 {
    let u = unit(rng);
    if n == 0 || p <= 0.0 || p.is_nan() {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    // Search the lighter side: X = n − Y with Y ~ Bin(n, 1 − p) at 1 − u
    // is the same quantile.
    if p > 0.5 {
        n - quantile(1.0 - u, n, 1.0 - p)
    } else {
        quantile(u, n, p)
    }
}

/// Binomial draws of one probability for many counts, such as a channel's
/// weekly split of its arrivals: the same draws as [`binomial`], with each
/// count's start of the search (its mode's probability and P(X ≤ mode),
/// most of a draw's work) found once and kept.
#[derive(Clone, Debug, Default)]
pub struct Binomials {
    /// The lighter side's probability the starts are for.
    p: Option<u64>,
    starts: Vec<Option<ModeMass>>,
}

/// Counts up to this keep their starts (larger ones are found each time).
const KEPT_STARTS: u64 = 4096;

impl Binomials {
    /// A draw of Bin(n, p), as [`binomial`] makes it.
    pub fn draw<R: Rng + ?Sized>(&mut self, rng: &mut R, n: u64, p: f64) -> u64 {
        binomial_with(rng, n, p, |u, n, p| self.quantile(u, n, p))
    }

    fn quantile(&mut self, u: f64, n: u64, p: f64) -> u64 {
        if n >= KEPT_STARTS {
            return binomial_quantile(u, n, p);
        }
        if self.p != Some(p.to_bits()) {
            self.p = Some(p.to_bits());
            self.starts.clear();
        }
        let i = n as usize; // below KEPT_STARTS
        if self.starts.len() <= i {
            self.starts.resize(i + 1, None);
        }
        let start = *self.starts[i].get_or_insert_with(|| mode_mass(n, p));
        quantile_from(u, n, p, start)
    }
}

/// ln k! below this are tabulated.
const LN_FACTORIALS: usize = 4096;

/// ln k!: from a table computed once (the same values as computing it each
/// time, so draws do not change), else computed.
fn ln_factorial(k: u64) -> f64 {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    let compute = |k: u64| statrs::function::gamma::ln_gamma(k as f64 + 1.0);
    match usize::try_from(k) {
        Ok(i) if i < LN_FACTORIALS => {
            TABLE.get_or_init(|| (0..LN_FACTORIALS as u64).map(compute).collect())[i]
        }
        _ => compute(k),
    }
}

/// The smallest k with P(Bin(n, p) ≤ k) ≥ u, for p ≤ 0.5.
fn binomial_quantile(u: f64, n: u64, p: f64) -> u64 {
    quantile_from(u, n, p, mode_mass(n, p))
}

/// Where the search for a quantile of Bin(n, p) starts: the mode, its
/// probability and P(X ≤ mode).
#[derive(Clone, Copy, Debug)]
struct ModeMass {
    mode: u64,
    at_mode: f64,
    cdf: f64,
}

/// pmf(k+1)/pmf(k) of Bin(n, p) = (n−k)/(k+1)·odds.
#[inline]
fn pmf_step(n: u64, odds: f64, k: u64) -> f64 {
    (n as f64 - k as f64) / (k as f64 + 1.0) * odds
}

/// The start of the search for a quantile of Bin(n, p), p ≤ 0.5: the
/// mode's probability from ln k!, and the mass below it summed downwards
/// by the pmf's ratios.
fn mode_mass(n: u64, p: f64) -> ModeMass {
    let nf = n as f64;
    let odds = p / (1.0 - p);
    let up = |k: u64| pmf_step(n, odds, k);
    let mode = (((nf + 1.0) * p).floor() as u64).min(n);
    let at_mode = (ln_factorial(n) - ln_factorial(mode) - ln_factorial(n - mode)
        + mode as f64 * p.ln()
        + (nf - mode as f64) * (-p).ln_1p())
    .exp();
    // P(X ≤ mode): the mass below the mode, until it is negligible.
    let mut below = 0.0;
    let mut pk = at_mode;
    let mut k = mode;
    while k > 0 {
        pk /= up(k - 1);
        k -= 1;
        below += pk;
        if pk < 1e-18 * below {
            break;
        }
    }
    ModeMass {
        mode,
        at_mode,
        cdf: below + at_mode,
    }
}

/// The smallest k with P(Bin(n, p) ≤ k) ≥ u, for p ≤ 0.5, searched from
/// the mode (`start`, of the same n and p).
fn quantile_from(u: f64, n: u64, p: f64, start: ModeMass) -> u64 {
    let odds = p / (1.0 - p);
    let up = |k: u64| pmf_step(n, odds, k);
    let ModeMass {
        mode: mut k,
        at_mode: mut pk,
        mut cdf,
    } = start;
    if u <= cdf {
        // Down while P(X ≤ k − 1) still reaches u.
        while k > 0 && u <= cdf - pk {
            cdf -= pk;
            pk /= up(k - 1);
            k -= 1;
        }
    } else {
        while u > cdf && k < n {
            pk *= up(k);
            k += 1;
            cdf += pk;
            if pk < 1e-300 {
                // Rounding left the CDF short of u: the rest is below 1e−16.
                break;
            }
        }
    }
    k
}

/// A gamma draw with mean 1 and coefficient of variation `cv` (the weekly
/// rate multiplier of over-dispersed arrivals).
pub fn gamma_multiplier<R: Rng + ?Sized>(rng: &mut R, cv: f64) -> f64 {
    if cv <= 0.0 {
        return 1.0;
    }
    use rand_distr::Distribution;
    let shape = 1.0 / (cv * cv);
    rand_distr::Gamma::new(shape, 1.0 / shape).map_or(1.0, |g| g.sample(rng))
}

/// Layers of the ziggurat: a power of two, so that a draw's low bits pick
/// one.
const ZIG_LAYERS: usize = 256;
/// The ziggurat's base layer ends at r, where the tail begins; every layer,
/// the base with the tail included, has area v under exp(−x²/2)
/// (Marsaglia and Tsang's values for 256 layers; the tests check that
/// they close the ziggurat).
const ZIG_R: f64 = 3.654_152_885_361_009;
const ZIG_V: f64 = 0.004_928_673_233_99;

/// The standard normal by Marsaglia and Tsang's ziggurat (2000): the area
/// under exp(−x²/2), x ≥ 0, cut into 256 layers of equal area, 255
/// rectangles stacked on a base that holds the tail. A draw picks a
/// layer and a point along it from one 64-bit number; inside the part of
/// its rectangle that lies wholly under the curve (99% of draws) that is
/// the normal, signed; otherwise the point is tested against the curve
/// (or drawn from the tail) out of line. Exact: a uniform point under the
/// curve. Kept inline, with the tables built once, for the Poisson-path
/// engine's deal sizes, where a normal a win is a tenth of a trial.
pub struct Ziggurat {
    /// x[i]: the right edge of layer i, decreasing; x[0] is the base's
    /// width were it a rectangle of area v, x[1] = r, and x[256] = 0.
    x: [f64; ZIG_LAYERS + 1],
    /// exp(−x[i]²/2).
    f: [f64; ZIG_LAYERS + 1],
}

impl Ziggurat {
    /// The tables, built on first use.
    pub fn get() -> &'static Ziggurat {
        static TABLES: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
        TABLES.get_or_init(Ziggurat::new)
    }

    fn new() -> Ziggurat {
        let mut x = [0.0; ZIG_LAYERS + 1];
        x[0] = ZIG_V / half_normal(ZIG_R);
        x[1] = ZIG_R;
        for i in 1..ZIG_LAYERS - 1 {
            x[i + 1] = Ziggurat::next_edge(x[i]);
        }
        Ziggurat {
            x,
            f: x.map(half_normal),
        }
    }

    /// The left edge of the layer above the one whose right edge is `x`:
    /// where the rectangle of width x and area v ends.
    fn next_edge(x: f64) -> f64 {
        (-2.0 * (ZIG_V / x + half_normal(x)).ln()).sqrt()
    }

    /// A standard normal.
    #[inline]
    pub fn sample(&self, r: &mut LeadRng) -> f64 {
        loop {
            let bits = r.next_u64();
            let i = bits as usize & (ZIG_LAYERS - 1);
            // Signed, in (−1, 1), from the 53 high bits (disjoint from i's).
            let u = ((bits >> 11) as f64 + 0.5) * (1.0 / (1u64 << 52) as f64) - 1.0;
            let z = u * self.x[i];
            if z.abs() < self.x[i + 1] {
                return z;
            }
            if let Some(z) = self.edge(r, i, z) {
                return z;
            }
        }
    }

    /// A point of layer `i` outside the part wholly under the curve: from
    /// the tail (the base layer), or kept if under the curve (None: draw
    /// again).
    #[cold]
    #[inline(never)]
    fn edge(&self, r: &mut LeadRng, i: usize, z: f64) -> Option<f64> {
        if i == 0 {
            // The tail beyond r (Marsaglia, 1964), on z's side.
            loop {
                let a = -(1.0 - r.unit()).ln() / ZIG_R;
                let b = -(1.0 - r.unit()).ln();
                if b + b > a * a {
                    return Some((ZIG_R + a).copysign(z));
                }
            }
        }
        let y = self.f[i] + r.unit() * (self.f[i + 1] - self.f[i]);
        (y < half_normal(z)).then_some(z)
    }
}

/// exp(−x²/2): the normal density, unnormalised.
fn half_normal(x: f64) -> f64 {
    (-0.5 * x * x).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// The table of ln k! holds what computing it gives, bit for bit (so
    /// binomial draws are the same with it), on both sides of its end.
    #[test]
    fn tabulated_ln_factorials_are_the_computed_ones() {
        for k in (0..LN_FACTORIALS as u64 + 50).chain([1 << 20, u64::MAX >> 12]) {
            let computed = statrs::function::gamma::ln_gamma(k as f64 + 1.0);
            assert_eq!(ln_factorial(k).to_bits(), computed.to_bits(), "k = {k}");
        }
    }

    /// The guided lookup is the search: the first index whose cumulative
    /// probability is past u, for uniforms everywhere and at every guide
    /// and table edge (and one ulp either side), on tables that are even,
    /// that vanish, that crowd many tiny probabilities into one guide
    /// interval, and Poisson tables with long negligible tails.
    #[test]
    fn a_guided_inversion_is_the_search() {
        let tail = |mean: f64| {
            let spread = 12.0 * mean.sqrt() + 40.0;
            let lo = (mean - spread).max(0.0) as u64;
            let ln_pmf =
                |k: f64| -mean + k * mean.ln() - statrs::function::gamma::ln_gamma(k + 1.0);
            (lo..=(mean + spread) as u64)
                .map(|k| ln_pmf(k as f64).exp())
                .collect::<Vec<f64>>()
        };
        let shapes: Vec<Vec<f64>> = vec![
            vec![1.0; 260],
            (0..80)
                .map(|t| if t % 3 == 0 { 0.0 } else { t as f64 })
                .collect(),
            (0..40).map(|t| if t < 20 { 1e-9 } else { 5.0 }).collect(),
            (0..30).map(|t| if t == 7 { 1e6 } else { 1e-3 }).collect(),
            vec![0.0, 0.0, 3.0, 0.0],
            vec![0.0, -1.0, 0.0],
            vec![1.0],
            vec![],
            tail(0.3),
            tail(12.0),
            tail(870.0),
        ];
        for shape in shapes {
            let g = Inversion::new(shape.iter().copied());
            let n = g.len();
            assert_eq!(n, shape.len().max(1));
            let m = g.guide.len() as f64;
            let mut us: Vec<f64> = (0..10_000).map(|i| (i as f64 + 0.5) / 10_000.0).collect();
            for edge in g.cum[..n]
                .iter()
                .copied()
                .chain((0..g.guide.len()).map(|j| j as f64 / m))
            {
                us.extend([
                    edge,
                    f64::from_bits(edge.to_bits().saturating_sub(1)),
                    f64::from_bits(edge.to_bits() + 1),
                ]);
            }
            us.push(0.0);
            us.push(1.0 - f64::EPSILON / 2.0);
            for u in us.into_iter().filter(|u| (0.0..1.0).contains(u)) {
                assert_eq!(g.index(u), g.searched(u), "u = {u:e}");
                // The same from 53 bits: the multiples of 2⁻⁵³ either side.
                let k = (u * (1u64 << 53) as f64) as u64;
                for k in [k.saturating_sub(1), k, (k + 1).min((1 << 53) - 1)] {
                    let searched = g.searched(unit_of_bits(k));
                    assert_eq!(g.index_of_bits(k), searched, "k = {k}");
                }
            }
            // Outcomes without probability are never drawn (unless none
            // has any).
            if shape.iter().any(|x| *x > 0.0) {
                for (i, x) in shape.iter().enumerate() {
                    let drawn = (0..10_000).any(|k| g.index((k as f64 + 0.5) / 10_000.0) == i);
                    if *x <= 0.0 {
                        assert!(!drawn, "outcome {i} has no probability");
                    }
                }
            }
        }
    }

    fn pmf(mean: f64, k: u64) -> f64 {
        (-mean + k as f64 * mean.ln() - statrs::function::gamma::ln_gamma(k as f64 + 1.0)).exp()
    }

    /// Chi-square of Poisson samples against the pmf, cells with ≥ 5
    /// expected, below the 0.1% critical value (approximated for large df).
    fn check_poisson(mean: f64) {
        let mut rng = stream(9, 0, 0);
        let n = 200_000;
        let mut counts = std::collections::BTreeMap::new();
        let mut sum = 0.0;
        for _ in 0..n {
            let k = poisson(&mut rng, mean);
            sum += k as f64;
            *counts.entry(k).or_insert(0u64) += 1;
        }
        let m = sum / n as f64;
        assert!(
            (m - mean).abs() < 5.0 * (mean / n as f64).sqrt(),
            "mean {m} vs {mean}"
        );
        let (mut chi2, mut df) = (0.0, 0usize);
        let lo = (mean - 6.0 * mean.sqrt()).max(0.0) as u64;
        let hi = (mean + 6.0 * mean.sqrt() + 10.0) as u64;
        for k in lo..=hi {
            let e = n as f64 * pmf(mean, k);
            if e >= 5.0 {
                let o = *counts.get(&k).unwrap_or(&0) as f64;
                chi2 += (o - e).powi(2) / e;
                df += 1;
            }
        }
        let critical = df as f64 + 3.1 * (2.0 * df as f64).sqrt() + 10.0;
        assert!(chi2 < critical, "mean {mean}: chi2 {chi2} with {df} cells");
    }

    #[test]
    fn poisson_samples_follow_the_pmf() {
        for mean in [0.05, 0.7, 3.0, 12.0, 29.9, 30.1, 75.0, 1500.0] {
            check_poisson(mean);
        }
        assert_eq!(poisson(&mut stream(1, 1, 1), 0.0), 0);
        assert_eq!(poisson(&mut stream(1, 1, 1), -3.0), 0);
    }

    fn binomial_pmf(n: u64, p: f64, k: u64) -> f64 {
        let g = statrs::function::gamma::ln_gamma;
        let (n, k) = (n as f64, k as f64);
        (g(n + 1.0) - g(k + 1.0) - g(n - k + 1.0) + k * p.ln() + (n - k) * (1.0 - p).ln()).exp()
    }

    #[test]
    fn binomial_samples_follow_the_pmf() {
        for (n, p) in [
            (1, 0.3),
            (7, 0.5),
            (40, 0.05),
            (300, 0.3),
            (300, 0.9),
            (20_000, 0.4),
        ] {
            let mut rng = stream(5, n, 0);
            let draws = 100_000;
            let mut counts = std::collections::BTreeMap::new();
            for _ in 0..draws {
                *counts.entry(binomial(&mut rng, n, p)).or_insert(0u64) += 1;
            }
            let (mut chi2, mut df) = (0.0, 0usize);
            for k in 0..=n {
                let e = draws as f64 * binomial_pmf(n, p, k);
                if e >= 5.0 {
                    let o = *counts.get(&k).unwrap_or(&0) as f64;
                    chi2 += (o - e).powi(2) / e;
                    df += 1;
                }
            }
            let critical = df as f64 + 3.1 * (2.0 * df as f64).sqrt() + 10.0;
            assert!(
                chi2 < critical,
                "Bin({n}, {p}): chi2 {chi2} with {df} cells"
            );
            assert!(counts.keys().all(|k| *k <= n));
        }
        assert_eq!(binomial(&mut stream(1, 1, 1), 0, 0.5), 0);
        assert_eq!(binomial(&mut stream(1, 1, 1), 9, 0.0), 0);
        assert_eq!(binomial(&mut stream(1, 1, 1), 9, 1.0), 9);
    }

    /// Kept starts change no draw: the same stream gives the same counts
    /// through `Binomials` as through `binomial`, for counts drawn again
    /// (a kept start), new ones, ones past those kept, probabilities on
    /// either side of the flip at 0.5, a change of probability (the starts
    /// are dropped) and the degenerate ones.
    #[test]
    fn kept_binomial_starts_give_the_same_draws() {
        let mut kept = Binomials::default();
        let ps = [0.083, 0.3, 0.5, 0.7, 0.97, 1e-9, 0.0, 1.0, f64::NAN, 0.083];
        for (j, p) in ps.into_iter().enumerate() {
            let (mut a, mut b) = (stream(7, j as u64, 1), stream(7, j as u64, 1));
            let mut counts = stream(8, j as u64, 2);
            for _ in 0..3000 {
                // Mostly a few hundred (repeats), sometimes past the kept.
                let n = if counts.random_bool(0.02) {
                    KEPT_STARTS + counts.random_range(0..3000)
                } else {
                    counts.random_range(0..400)
                };
                let want = binomial(&mut a, n, p);
                assert_eq!(kept.draw(&mut b, n, p), want, "n {n} p {p}");
            }
        }
    }

    #[test]
    fn binomial_draws_are_monotone_in_the_uniform_and_the_rate() {
        for n in [3u64, 60, 400, 5000] {
            let mut last_u = 0;
            for i in 1..1000 {
                let u = f64::from(i) / 1000.0;
                let k = binomial_quantile(u, n, 0.3);
                assert!(k >= last_u, "n {n}: u {u}");
                last_u = k;
            }
            // Same uniform, rising p (across the flip at 0.5): never fewer.
            for seed in 0..200 {
                let mut last = 0;
                for j in 1..100 {
                    let p = f64::from(j) / 100.0;
                    let k = binomial(&mut stream(seed, n, 1), n, p);
                    assert!(k >= last, "n {n} seed {seed}: p {p} gave {k} < {last}");
                    last = k;
                }
            }
        }
    }

    #[test]
    fn tabulated_poissons_follow_the_pmf() {
        for mean in [0.4, 8.0, 250.0, 13_000.0] {
            let t = PoissonCdf::new(mean);
            let mut rng = stream(4, 0, 0);
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| t.sample(&mut rng) as f64).collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
            assert!(
                (m - mean).abs() < 5.0 * (mean / n as f64).sqrt(),
                "{mean}: mean {m}"
            );
            assert!((v / mean - 1.0).abs() < 0.02, "{mean}: variance {v}");
        }
        assert_eq!(PoissonCdf::new(0.0).sample(&mut stream(1, 1, 1)), 0);
    }

    #[test]
    fn inversion_is_monotone_in_the_mean() {
        // The same uniform: a larger mean never gives a smaller count.
        for t in 0..2000 {
            let a = poisson(&mut stream(5, t, 0), 4.0);
            let b = poisson(&mut stream(5, t, 0), 4.5);
            assert!(b >= a);
        }
    }

    #[test]
    fn streams_differ_by_seed_trial_and_purpose() {
        let first = |s, t, p| stream(s, t, p).next_u64();
        assert_ne!(first(1, 0, 0), first(2, 0, 0));
        assert_ne!(first(1, 0, 0), first(1, 1, 0));
        assert_ne!(first(1, 0, 0), first(1, 0, 1));
        // seed + 1 with trial − 1 is not the same stream.
        assert_ne!(first(1, 1, 0), first(2, 0, 0));
        assert_eq!(first(7, 3, 2), first(7, 3, 2));
    }

    #[test]
    fn lead_streams_are_uniform() {
        let mut r = LeadRng(key(3, 4, 5));
        let n = 100_000;
        let mut bins = [0u32; 10];
        for _ in 0..n {
            bins[(r.unit() * 10.0) as usize] += 1;
        }
        for b in bins {
            assert!((f64::from(b) - 10_000.0).abs() < 5.0 * 94.9, "{bins:?}");
        }
    }

    #[test]
    fn gamma_multipliers_have_mean_one_and_the_asked_spread() {
        let mut rng = stream(2, 0, 0);
        let n = 100_000;
        let xs: Vec<f64> = (0..n).map(|_| gamma_multiplier(&mut rng, 0.3)).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
        assert!((m - 1.0).abs() < 5.0 * 0.3 / (n as f64).sqrt());
        assert!((v.sqrt() - 0.3).abs() < 0.01);
    }

    #[test]
    fn the_ziggurat_closes() {
        // The base (a rectangle up to r under exp(−r²/2), and the tail
        // beyond) has area v, as every layer does; the 255th rectangle's
        // top meets the curve's peak at x = 0; the edges fall.
        use statrs::function::erf::erfc;
        let tail = (std::f64::consts::PI / 2.0).sqrt() * erfc(ZIG_R / std::f64::consts::SQRT_2);
        let base = ZIG_R * half_normal(ZIG_R) + tail;
        assert!((base / ZIG_V - 1.0).abs() < 1e-11, "base {base} vs {ZIG_V}");
        let z = Ziggurat::new();
        let top = ZIG_V / z.x[ZIG_LAYERS - 1] + z.f[ZIG_LAYERS - 1];
        assert!((top - 1.0).abs() < 1e-9, "top layer ends at {top}, not 1");
        assert!(z.x.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(z.x[ZIG_LAYERS], 0.0);
        for i in 1..ZIG_LAYERS {
            let area = z.x[i] * (z.f[i + 1] - z.f[i]);
            assert!((area / ZIG_V - 1.0).abs() < 1e-9, "layer {i}: {area}");
        }
    }

    /// The Kolmogorov–Smirnov distance between the sorted sample `xs` and
    /// the distribution function `cdf`, times √n.
    fn ks(xs: &mut [f64], cdf: impl Fn(f64) -> f64) -> f64 {
        xs.sort_by(f64::total_cmp);
        let n = xs.len() as f64;
        let d = xs
            .iter()
            .enumerate()
            .map(|(k, x)| {
                let c = cdf(*x);
                (c - k as f64 / n).max((k + 1) as f64 / n - c)
            })
            .fold(0.0, f64::max);
        d * n.sqrt()
    }

    #[test]
    fn ziggurat_draws_are_standard_normal() {
        // 2,000,000 draws against the normal's distribution function, and
        // those beyond r (the tail, about 520 of them) against the tail's:
        // √n · the KS distance is below 1.95 with probability 0.999; the
        // mean and variance within 4 standard errors. A wrong table, layer
        // pick, wedge test or tail moves one of them well past its bound.
        use statrs::function::erf::erfc;
        let phi = |x: f64| 0.5 * erfc(-x / std::f64::consts::SQRT_2);
        let z = Ziggurat::get();
        let mut r = LeadRng(key(7, 0, 99));
        let n = 2_000_000;
        let mut xs: Vec<f64> = (0..n).map(|_| z.sample(&mut r)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = 1.0 / (n as f64).sqrt();
        assert!(mean.abs() < 4.0 * se, "mean {mean}");
        assert!((var - 1.0).abs() < 4.0 * se * 2f64.sqrt(), "variance {var}");
        let mut tail: Vec<f64> = xs
            .iter()
            .filter(|x| x.abs() > ZIG_R)
            .map(|x| x.abs())
            .collect();
        let beyond = 2.0 * phi(-ZIG_R);
        let expected = beyond * n as f64;
        assert!(
            (tail.len() as f64 - expected).abs() < 4.0 * expected.sqrt(),
            "{} beyond r, {expected:.0} expected",
            tail.len()
        );
        let d = ks(&mut tail, |x| 1.0 - phi(-x) * 2.0 / beyond);
        assert!(d < 1.95, "tail: √n·D = {d}");
        let d = ks(&mut xs, phi);
        assert!(d < 1.95, "√n·D = {d}");
    }
}

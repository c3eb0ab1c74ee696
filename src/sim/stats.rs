//! Accumulators for simulated trials, bounded in memory and mergeable.
//!
//! Trials run in blocks; each block fills a [`BlockAcc`] and blocks are
//! merged in block order, so every sum is added in the same order whatever
//! the number of threads, and results are identical to the bit.
//!
//! Memory per trial is one f64 (the horizon's revenue, for exact quantiles)
//! and one f32 per month and quarter (exact period quantiles). Weekly
//! distributions — far too many to keep per trial — go into log-spaced
//! histograms ([`LogHist`]), whose quantiles are exact to within a bin
//! (0.39% of the value).

/// Count, mean and sum of squared deviations (Welford), mergeable.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    #[inline]
    pub fn push(&mut self, x: f64) {
        let n = self.n + 1.0;
        self.push_counted(x, n, 1.0 / n);
    }

    /// `push` when the caller knows the new count and its reciprocal
    /// (moments updated together share one division).
    #[inline]
    pub fn push_counted(&mut self, x: f64, n: f64, inv_n: f64) {
        self.n = n;
        let d = x - self.mean;
        self.mean += d * inv_n;
        self.m2 += d * (x - self.mean);
    }

    /// Combines two sets (Chan et al.).
    pub fn merge(&mut self, o: &Moments) {
        if o.n == 0.0 {
            return;
        }
        if self.n == 0.0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n / n;
        self.m2 += o.m2 + d * d * self.n * o.n / n;
        self.n = n;
    }

    pub fn sd(&self) -> f64 {
        if self.n > 1.0 {
            (self.m2 / (self.n - 1.0)).max(0.0).sqrt()
        } else {
            0.0
        }
    }

    /// Standard error of the mean.
    pub fn se(&self) -> f64 {
        if self.n > 0.0 {
            self.sd() / self.n.sqrt()
        } else {
            0.0
        }
    }
}

/// Mantissa bits kept by a [`LogHist`] bin: 2^8 bins per octave, so a bin
/// spans at most 0.39% of its value.
const SUB_BITS: u32 = 8;
const SHIFT: u32 = 52 - SUB_BITS;

/// A histogram of non-negative values on a log scale, with exact zeros.
///
/// A positive double's bit pattern grows monotonically with its value and
/// is linear within each octave, so the bin of x is its bits shifted right
/// (as HDR histograms do): no logarithm per value.
#[derive(Clone, Debug, PartialEq)]
pub struct LogHist {
    lo_key: u64,
    zeros: u64,
    below: u64,
    above: u64,
    bins: Vec<u32>,
    /// Extremes of the values outside the bins.
    pub min: f64,
    pub max: f64,
}

impl LogHist {
    /// Covers [lo, about lo·10^decades); values outside are counted at the
    /// ends (their quantiles fall back to the exact min and max).
    pub fn new(lo: f64, decades: usize) -> LogHist {
        let octaves = (decades as f64 * std::f64::consts::LOG2_10).ceil() as usize;
        LogHist {
            lo_key: lo.to_bits() >> SHIFT,
            zeros: 0,
            below: 0,
            above: 0,
            bins: vec![0; octaves << SUB_BITS],
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    #[inline]
    pub fn push(&mut self, x: f64) {
        if x <= 0.0 {
            self.zeros += 1;
            return;
        }
        let key = x.to_bits() >> SHIFT;
        let bin = key.wrapping_sub(self.lo_key) as usize;
        match self.bins.get_mut(bin) {
            Some(b) if key >= self.lo_key => *b += 1,
            _ => {
                // Outside the bins: counted at the ends, with exact extremes.
                self.min = self.min.min(x);
                self.max = self.max.max(x);
                if key < self.lo_key {
                    self.below += 1;
                } else {
                    self.above += 1;
                }
            }
        }
    }

    pub fn merge(&mut self, o: &LogHist) {
        self.zeros += o.zeros;
        self.below += o.below;
        self.above += o.above;
        for (a, b) in self.bins.iter_mut().zip(&o.bins) {
            *a += b;
        }
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    pub fn count(&self) -> u64 {
        self.zeros + self.below + self.above + self.bins.iter().map(|b| u64::from(*b)).sum::<u64>()
    }

    /// The q-quantile (nearest rank, interpolated within its bin).
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut acc = self.zeros;
        if rank <= acc {
            return 0.0;
        }
        acc += self.below;
        if rank <= acc {
            return self.min.max(0.0);
        }
        for (i, b) in self.bins.iter().enumerate() {
            let b = u64::from(*b);
            if rank <= acc + b {
                let frac = (rank - acc) as f64 / b as f64;
                let lo = f64::from_bits((self.lo_key + i as u64) << SHIFT);
                let hi = f64::from_bits((self.lo_key + i as u64 + 1) << SHIFT);
                return lo + frac * (hi - lo);
            }
            acc += b;
        }
        self.max
    }
}

/// The q-quantile of sorted values by nearest rank: the smallest value with
/// at least a share q of the trials at or below it.
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

/// The q-quantiles of `v` by nearest rank, for ascending `qs`: what
/// [`nearest_rank`] gives on the sorted values, found by selection in
/// linear time instead of a sort (`v` is reordered). Each rank is selected
/// in what lies above the previous one.
pub fn nearest_ranks<T: Copy>(
    v: &mut [T],
    qs: &[f64],
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Copy,
) -> Vec<Option<T>> {
    let n = v.len();
    let mut from = 0;
    let mut last: Option<(usize, T)> = None;
    qs.iter()
        .map(|q| {
            if n == 0 {
                return None;
            }
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            match last {
                Some((r, x)) if r == rank => return Some(x),
                Some((r, _)) if rank < r => {
                    from = 0;
                }
                _ => {}
            }
            let (_, x, _) = v[from..].select_nth_unstable_by(rank - from, cmp);
            let x = *x;
            from = rank + 1;
            last = Some((rank, x));
            Some(x)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_ranks_equal_those_of_the_sorted_values() {
        let qs = [
            0.001, 0.05, 0.1, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.999, 0.3,
        ];
        for n in [1usize, 2, 3, 10, 999, 1000, 4097] {
            // Ties, negative zero and repeated values included.
            let mut xs: Vec<f64> = (0..n)
                .map(|i| ((i * 7919) % 101) as f64 - 50.0)
                .chain([-0.0, 0.0])
                .collect();
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            let got = nearest_ranks(&mut xs, &qs, f64::total_cmp);
            for (q, g) in qs.iter().zip(got) {
                assert_eq!(
                    g.map(f64::to_bits),
                    Some(nearest_rank(&sorted, *q).to_bits()),
                    "n {n} q {q}"
                );
            }
        }
        assert_eq!(
            nearest_ranks::<f64>(&mut [], &[0.5], f64::total_cmp),
            vec![None]
        );
    }

    #[test]
    fn merged_moments_equal_direct_ones() {
        let xs: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1000) as f64 / 10.0)
            .collect();
        let mut all = Moments::default();
        xs.iter().for_each(|x| all.push(*x));
        let mut a = Moments::default();
        let mut b = Moments::default();
        xs[..300].iter().for_each(|x| a.push(*x));
        xs[300..].iter().for_each(|x| b.push(*x));
        a.merge(&b);
        assert!((a.mean - all.mean).abs() < 1e-12);
        assert!((a.m2 - all.m2).abs() < 1e-6 * all.m2);
        let mean = xs.iter().sum::<f64>() / 1000.0;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 999.0;
        assert!((all.sd() - var.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn histogram_quantiles_are_within_half_a_bin() {
        let mut h = LogHist::new(1.0, 8);
        let mut xs: Vec<f64> = (1..=10_000).map(|i| (i as f64).powf(1.7)).collect();
        xs.iter().for_each(|x| h.push(*x));
        for _ in 0..500 {
            h.push(0.0);
        }
        xs.extend([0.0; 500]);
        xs.sort_by(f64::total_cmp);
        for q in [0.01, 0.05, 0.1, 0.5, 0.9, 0.95] {
            let exact = nearest_rank(&xs, q);
            let approx = h.quantile(q);
            let width = 2f64.powi(-(SUB_BITS as i32));
            assert!(
                (approx - exact).abs() <= width * exact + 1e-12,
                "q {q}: {approx} vs {exact}"
            );
        }
        assert_eq!(h.count(), 10_500);
    }

    #[test]
    fn nearest_rank_follows_its_definition() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(nearest_rank(&v, 0.5), 2.0);
        assert_eq!(nearest_rank(&v, 0.51), 3.0);
        assert_eq!(nearest_rank(&v, 0.0), 1.0);
        assert_eq!(nearest_rank(&v, 1.0), 4.0);
    }
}

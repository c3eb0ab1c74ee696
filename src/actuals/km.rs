//! The Kaplan–Meier estimate of time to an event from censored data: items
//! still open at the as-of date have survived so far, they have not failed.

/// The survival curve: at each event time, the share still without the
/// event just after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Survival {
    pub steps: Vec<(f64, f64)>,
    pub events: usize,
    pub censored: usize,
}

impl Survival {
    /// Estimates from (time, whether the event happened; else censored).
    /// At tied times events come before censoring, as usual.
    pub fn estimate(items: &[(f64, bool)]) -> Survival {
        let mut v: Vec<(f64, bool)> = items
            .iter()
            .copied()
            .filter(|(t, _)| t.is_finite())
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut at_risk = v.len() as f64;
        let mut s = 1.0;
        let mut steps = Vec::new();
        let mut i = 0;
        let events = v.iter().filter(|x| x.1).count();
        while i < v.len() {
            let t = v[i].0;
            let (mut d, mut n) = (0.0, 0.0);
            while i < v.len() && v[i].0 == t {
                if v[i].1 {
                    d += 1.0;
                }
                n += 1.0;
                i += 1;
            }
            if d > 0.0 {
                s *= 1.0 - d / at_risk;
                steps.push((t, s));
            }
            at_risk -= n;
        }
        Survival {
            steps,
            events,
            censored: v.len() - events,
        }
    }

    /// S(t): the share without the event by time t.
    pub fn at(&self, t: f64) -> f64 {
        self.steps
            .iter()
            .take_while(|(x, _)| *x <= t)
            .last()
            .map_or(1.0, |(_, s)| *s)
    }

    /// The time by which a share `p` has had the event: the smallest t
    /// with S(t) ≤ 1 − p; `None` when the curve never gets there (too
    /// many items still open).
    pub fn quantile(&self, p: f64) -> Option<f64> {
        self.steps
            .iter()
            .find(|(_, s)| *s <= 1.0 - p + 1e-12)
            .map(|(t, _)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 6-MP arm of Freireich et al. (1963), weeks to relapse, `true`
    /// for a relapse: the textbook example of Kaplan–Meier.
    fn six_mp() -> Vec<(f64, bool)> {
        let events = [6, 6, 6, 7, 10, 13, 16, 22, 23];
        let censored = [6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35];
        events
            .iter()
            .map(|t| (f64::from(*t), true))
            .chain(censored.iter().map(|t| (f64::from(*t), false)))
            .collect()
    }

    #[test]
    fn the_textbook_example_gives_the_published_curve() {
        let s = Survival::estimate(&six_mp());
        let published = [
            (6.0, 0.857),
            (7.0, 0.807),
            (10.0, 0.753),
            (13.0, 0.690),
            (16.0, 0.627),
            (22.0, 0.538),
            (23.0, 0.448),
        ];
        assert_eq!(s.steps.len(), published.len());
        for ((t, v), (pt, pv)) in s.steps.iter().zip(published) {
            assert_eq!(*t, pt);
            assert!((v - pv).abs() < 5e-4, "S({t}) = {v}, published {pv}");
        }
        assert_eq!(s.quantile(0.5), Some(23.0));
        assert_eq!(s.quantile(0.75), None);
        assert_eq!((s.events, s.censored), (9, 12));
    }

    #[test]
    fn without_censoring_it_is_the_empirical_distribution() {
        let items: Vec<(f64, bool)> = (1..=10).map(|t| (f64::from(t), true)).collect();
        let s = Survival::estimate(&items);
        assert!((s.at(3.0) - 0.7).abs() < 1e-12);
        assert_eq!(s.quantile(0.5), Some(5.0));
        assert_eq!(s.quantile(0.25), Some(3.0));
        assert_eq!(s.quantile(1.0), Some(10.0));
    }
}

//! Weeks and the periods they roll up into.
//!
//! All time in revplan is in weeks from the start of the plan (week 0). With
//! a `start_date`, week `w` begins on `start_date + 7w` days and belongs to
//! the calendar month of that day and to its fiscal quarter and year (the
//! fiscal year starts in `fiscal_start_month`, January by default; a fiscal
//! year is named after the calendar year in which it ends: FY2028 runs from
//! February 2027 to January 2028). Without a date, a year is 52 weeks from
//! week 0: quarters of 13 weeks and months in the 4-4-5 pattern.

use std::ops::Range;

use jiff::civil::Date;
use serde::Serialize;

/// Weeks in a planning year (seasonality and `annual` targets repeat on it).
pub const WEEKS_PER_YEAR: u32 = 52;

/// Start week of each 4-4-5 month within a 52-week year, and the end.
const MONTH_STARTS_445: [u32; 13] = [0, 4, 8, 13, 17, 21, 26, 30, 34, 39, 43, 47, 52];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    Quarter,
    Month,
}

impl PeriodKind {
    pub fn per_year(self) -> usize {
        match self {
            PeriodKind::Quarter => 4,
            PeriodKind::Month => 12,
        }
    }
}

/// A run of consecutive weeks of the horizon in one month or quarter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    pub label: String,
    pub weeks: Range<u32>,
    /// Which period of its year this is: 0..4 or 0..12.
    pub index_in_year: usize,
    /// How many weeks a whole period of this kind has here (13 for a 4-4-5
    /// quarter; 13 or 14 for a calendar quarter): the horizon may cut it.
    pub full_weeks: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    pub weeks: u32,
    pub start: Option<Date>,
    /// First month of the fiscal year, 1..=12 (with a start date).
    pub fiscal_start_month: u8,
}

/// Where a week falls: its fiscal year and the index of its period in that
/// year, and the calendar year and month the period begins in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PeriodKey {
    fiscal_year: i32,
    index: u32,
    year: i32,
    month0: u32,
}

/// (year, month 0..12) of a day.
fn year_month(d: Date) -> (i32, u32) {
    (i32::from(d.year()), (d.month() - 1) as u32)
}

impl Calendar {
    /// Checks that every week of the horizon has a representable date.
    pub fn new(weeks: u32, start: Option<Date>) -> Result<Calendar, String> {
        Calendar::fiscal(weeks, start, 1)
    }

    /// A calendar whose fiscal year starts in `fiscal_start_month` (1..=12).
    pub fn fiscal(
        weeks: u32,
        start: Option<Date>,
        fiscal_start_month: u8,
    ) -> Result<Calendar, String> {
        if let Some(s) = start {
            let span = jiff::Span::new().days(7 * i64::from(weeks) + 400);
            let before = jiff::Span::new().days(-400);
            if s.checked_add(span).is_err() || s.checked_add(before).is_err() {
                return Err(format!(
                    "{weeks} weeks from {s} is beyond the dates revplan can handle"
                ));
            }
        }
        if !(1..=12).contains(&fiscal_start_month) {
            return Err(format!(
                "the fiscal year must start in month 1 to 12, not {fiscal_start_month}"
            ));
        }
        Ok(Calendar {
            weeks,
            start,
            fiscal_start_month,
        })
    }

    /// First day of week `w`.
    pub fn date_of_week(&self, w: u32) -> Option<Date> {
        self.start.map(|s| {
            s.checked_add(jiff::Span::new().days(7 * i64::from(w)))
                .expect("checked in new")
        })
    }

    /// (year, month 0..12) that week `w` belongs to.
    fn month_key(&self, w: u32) -> (i32, u32) {
        match self.date_of_week(w) {
            Some(d) => year_month(d),
            None => {
                let in_year = w % WEEKS_PER_YEAR;
                let m = MONTH_STARTS_445.partition_point(|s| *s <= in_year) - 1;
                ((w / WEEKS_PER_YEAR) as i32, m as u32)
            }
        }
    }

    fn period_key(&self, kind: PeriodKind, w: u32) -> PeriodKey {
        let (year, m) = self.month_key(w);
        if self.start.is_none() {
            let (index, month0) = match kind {
                PeriodKind::Month => (m, m),
                PeriodKind::Quarter => (m / 3, m / 3 * 3),
            };
            return PeriodKey {
                fiscal_year: year,
                index,
                year,
                month0,
            };
        }
        let fs = u32::from(self.fiscal_start_month - 1);
        let fiscal_month = (m + 12 - fs) % 12;
        let fiscal_year = if fs > 0 && m >= fs { year + 1 } else { year };
        match kind {
            PeriodKind::Month => PeriodKey {
                fiscal_year,
                index: fiscal_month,
                year,
                month0: m,
            },
            PeriodKind::Quarter => {
                let q = fiscal_month / 3;
                let first = (fs + 3 * q) % 12;
                let first_year = if fs > 0 && first >= fs {
                    fiscal_year - 1
                } else {
                    fiscal_year
                };
                PeriodKey {
                    fiscal_year,
                    index: q,
                    year: first_year,
                    month0: first,
                }
            }
        }
    }

    /// Month of the year (0..12) of week `w`.
    pub fn month_of_year(&self, w: u32) -> usize {
        self.month_key(w).1 as usize
    }

    /// Quarter of the year (0..4) of week `w`.
    pub fn quarter_of_year(&self, w: u32) -> usize {
        self.month_of_year(w) / 3
    }

    /// Week of the planning year (0..52): weeks since the start, modulo 52.
    pub fn week_of_year(&self, w: u32) -> usize {
        (w % WEEKS_PER_YEAR) as usize
    }

    /// The periods of the horizon, in order.
    pub fn periods(&self, kind: PeriodKind) -> Vec<Period> {
        let mut out: Vec<Period> = Vec::new();
        let mut current: Option<(PeriodKey, u32)> = None;
        for w in 0..=self.weeks {
            let key = (w < self.weeks).then(|| self.period_key(kind, w));
            match (current, key) {
                (Some((k, _)), Some(k2)) if k == k2 => {}
                (prev, next) => {
                    if let Some((k, first)) = prev {
                        out.push(Period {
                            label: self.label(kind, k),
                            weeks: first..w,
                            index_in_year: k.index as usize,
                            full_weeks: self.full_weeks(kind, k),
                        });
                    }
                    current = next.map(|k| (k, w));
                }
            }
        }
        out
    }

    fn label(&self, kind: PeriodKind, k: PeriodKey) -> String {
        let multi_year = self.weeks > WEEKS_PER_YEAR;
        let fiscal = self.fiscal_start_month != 1;
        match (self.start, kind) {
            (Some(_), PeriodKind::Quarter) if fiscal => {
                format!("FY{}-Q{}", k.fiscal_year, k.index + 1)
            }
            (Some(_), PeriodKind::Quarter) => format!("{}-Q{}", k.year, k.index + 1),
            (Some(_), PeriodKind::Month) => format!("{}-{:02}", k.year, k.month0 + 1),
            (None, PeriodKind::Quarter) if multi_year => {
                format!("Y{} Q{}", k.year + 1, k.index + 1)
            }
            (None, PeriodKind::Quarter) => format!("Q{}", k.index + 1),
            (None, PeriodKind::Month) if multi_year => {
                format!("Y{} M{:02}", k.year + 1, k.index + 1)
            }
            (None, PeriodKind::Month) => format!("M{:02}", k.index + 1),
        }
    }

    /// Weeks of the endless weekly grid whose first day falls in the period.
    fn full_weeks(&self, kind: PeriodKind, k: PeriodKey) -> u32 {
        let Some(start) = self.start else {
            return match kind {
                PeriodKind::Quarter => 13,
                PeriodKind::Month => {
                    MONTH_STARTS_445[k.month0 as usize + 1] - MONTH_STARTS_445[k.month0 as usize]
                }
            };
        };
        let months = match kind {
            PeriodKind::Quarter => 3,
            PeriodKind::Month => 1,
        };
        let d0 = Date::new(k.year as i16, (k.month0 + 1) as i8, 1).expect("valid month");
        let d1 = d0
            .checked_add(jiff::Span::new().months(months))
            .expect("within range");
        let days = |d: Date| d.duration_since(start).as_secs().div_euclid(86_400);
        // Weeks k with start + 7k in [d0, d1): ceil(days(d1)/7) − ceil(days(d0)/7).
        let ceil7 = |x: i64| (x + 6).div_euclid(7);
        (ceil7(days(d1)) - ceil7(days(d0))) as u32
    }
}

/// How far past an end the quarter-end push can reach back from: the
/// first weeks of the next quarter begin within 14 weeks, and a push
/// reaches at most 6 weeks into a quarter.
pub const PUSH_REACH: usize = 20;

/// For each week of `len` weeks from the start: the last week of the
/// quarter before, when the week is one of the first `pull_weeks` of its
/// quarter (and that quarter end is inside the calendar); else `None`. The
/// quarter-end push moves closes due in such a week there.
pub fn pull_targets(cal: &Calendar, pull_weeks: u32, len: usize) -> Vec<Option<usize>> {
    let mut out = vec![None; len];
    if pull_weeks == 0 || len == 0 {
        return out;
    }
    let long = Calendar {
        weeks: len as u32,
        ..cal.clone()
    };
    for q in long.periods(PeriodKind::Quarter).iter().skip(1) {
        let end = q.weeks.start as usize - 1;
        for u in q.weeks.start..(q.weeks.start + pull_weeks).min(q.weeks.end) {
            out[u as usize] = Some(end);
        }
    }
    out
}

/// Moves a weekly series of closes (wins, revenue, losses) as the
/// quarter-end push does: a share `p` of what closes in a pull week goes
/// to the quarter end before it (see [`pull_targets`]).
pub fn push_to_quarter_end(series: &mut [f64], targets: &[Option<usize>], p: f64) {
    for u in 0..series.len().min(targets.len()) {
        if let Some(q) = targets[u] {
            let moved = p * series[u];
            series[u] -= moved;
            series[q] += moved;
        }
    }
}

/// Spreads period totals over weeks along a smooth curve: a monotone cubic
/// (Fritsch–Carlson PCHIP) through the cumulative total at the period
/// boundaries, differenced week by week. Each period keeps its exact total,
/// weekly values are never negative, a constant rate stays constant, and
/// the weekly rate does not jump where one period meets the next — which no
/// expected revenue curve could follow.
pub fn smooth_weekly(periods: &[Period], amounts: &[f64]) -> Vec<f64> {
    let weeks = periods.last().map_or(0, |p| p.weeks.end) as usize;
    let mut out = vec![0.0; weeks];
    if periods.is_empty() {
        return out;
    }
    let mut x = vec![f64::from(periods[0].weeks.start)];
    let mut y = vec![0.0];
    for (p, a) in periods.iter().zip(amounts) {
        x.push(f64::from(p.weeks.end));
        y.push(y[y.len() - 1] + a);
    }
    let n = x.len() - 1;
    let h: Vec<f64> = (0..n).map(|k| x[k + 1] - x[k]).collect();
    let d: Vec<f64> = (0..n).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
    let mut m = vec![0.0; n + 1];
    if n == 1 {
        m = vec![d[0], d[0]];
    } else {
        for k in 1..n {
            if d[k - 1] * d[k] > 0.0 {
                let (w1, w2) = (2.0 * h[k] + h[k - 1], h[k] + 2.0 * h[k - 1]);
                m[k] = (w1 + w2) / (w1 / d[k - 1] + w2 / d[k]);
            }
        }
        let end = |h0: f64, h1: f64, d0: f64, d1: f64| {
            let s = ((2.0 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
            if s * d0 <= 0.0 {
                0.0
            } else if d0 * d1 <= 0.0 && s.abs() > 3.0 * d0.abs() {
                3.0 * d0
            } else {
                s
            }
        };
        m[0] = end(h[0], h[1], d[0], d[1]);
        m[n] = end(h[n - 1], h[n - 2], d[n - 1], d[n - 2]);
    }
    let hermite = |k: usize, t: f64| {
        let s = (t - x[k]) / h[k];
        let (s2, s3) = (s * s, s * s * s);
        (2.0 * s3 - 3.0 * s2 + 1.0) * y[k]
            + (s3 - 2.0 * s2 + s) * h[k] * m[k]
            + (-2.0 * s3 + 3.0 * s2) * y[k + 1]
            + (s3 - s2) * h[k] * m[k + 1]
    };
    for (k, p) in periods.iter().enumerate() {
        for w in p.weeks.clone() {
            let t = f64::from(w);
            out[w as usize] = (hermite(k, t + 1.0) - hermite(k, t)).max(0.0);
        }
        // Restore the exact total after rounding and clamping.
        let got: f64 = out[p.weeks.start as usize..p.weeks.end as usize]
            .iter()
            .sum();
        if got > 0.0 {
            let f = amounts[k] / got;
            out[p.weeks.start as usize..p.weeks.end as usize]
                .iter_mut()
                .for_each(|v| *v *= f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_spread_keeps_period_totals_and_has_no_steps() {
        let c = Calendar::new(52, None).unwrap();
        let q = c.periods(PeriodKind::Quarter);
        let flat = smooth_weekly(&q, &[1300.0; 4]);
        assert!(flat.iter().all(|w| (w - 100.0).abs() < 1e-9), "{flat:?}");
        let amounts = [1000.0, 1300.0, 1600.0, 2600.0];
        let w = smooth_weekly(&q, &amounts);
        for (p, a) in q.iter().zip(amounts) {
            let s: f64 = w[p.weeks.start as usize..p.weeks.end as usize].iter().sum();
            assert!((s - a).abs() < 1e-9);
        }
        // Weekly values are never negative and never jump by more than
        // half the step an even spread would make between quarters.
        assert!(w.iter().all(|v| *v >= 0.0), "{w:?}");
        let jumps: Vec<f64> = w.windows(2).map(|p| p[1] - p[0]).collect();
        let even_step = 2600.0 / 13.0 - 1600.0 / 13.0;
        assert!(jumps.iter().all(|j| *j < 0.5 * even_step), "{jumps:?}");
        // A zero period stays zero.
        let z = smooth_weekly(&q, &[1000.0, 0.0, 1000.0, 1000.0]);
        assert!(z[13..26].iter().all(|v| *v == 0.0));
        assert!(z.iter().all(|v| *v >= 0.0));
    }

    #[test]
    fn without_a_date_quarters_are_13_weeks_and_months_4_4_5() {
        let c = Calendar::new(52, None).unwrap();
        let q = c.periods(PeriodKind::Quarter);
        assert_eq!(q.len(), 4);
        assert_eq!(q[1].weeks, 13..26);
        assert_eq!(q[3].label, "Q4");
        let m = c.periods(PeriodKind::Month);
        let lens: Vec<u32> = m.iter().map(|p| p.weeks.end - p.weeks.start).collect();
        assert_eq!(lens, vec![4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4, 5]);
        assert!(
            m.iter()
                .all(|p| p.full_weeks == p.weeks.end - p.weeks.start)
        );
        assert_eq!(c.month_of_year(12), 2);
        assert_eq!(c.quarter_of_year(12), 0);
        assert_eq!(c.quarter_of_year(13), 1);
    }

    #[test]
    fn longer_horizons_label_years_and_cut_the_last_period() {
        let c = Calendar::new(60, None).unwrap();
        let q = c.periods(PeriodKind::Quarter);
        assert_eq!(q.len(), 5);
        assert_eq!(q[4].label, "Y2 Q1");
        assert_eq!(q[4].weeks, 52..60);
        assert_eq!(q[4].full_weeks, 13);
    }

    #[test]
    fn with_a_date_weeks_follow_the_calendar() {
        let start: Date = "2027-01-04".parse().unwrap();
        let c = Calendar::new(52, Some(start)).unwrap();
        let q = c.periods(PeriodKind::Quarter);
        assert_eq!(q[0].label, "2027-Q1");
        // Mondays from Jan 4: Jan 4 .. Mar 29 are 13 weeks in Q1.
        assert_eq!(q[0].weeks, 0..13);
        assert_eq!(q[0].full_weeks, 13);
        let total: u32 = q.iter().map(|p| p.weeks.end - p.weeks.start).sum();
        assert_eq!(total, 52);
        let m = c.periods(PeriodKind::Month);
        assert_eq!(m[0].label, "2027-01");
        assert_eq!(m[0].weeks, 0..4);
        // The 52nd week starts on 2027-12-27.
        assert_eq!(c.date_of_week(51).unwrap().to_string(), "2027-12-27");
        assert_eq!(m.last().unwrap().label, "2027-12");
    }

    #[test]
    fn a_start_mid_quarter_gives_a_short_first_period_with_its_full_length() {
        let start: Date = "2027-02-15".parse().unwrap();
        let c = Calendar::new(26, Some(start)).unwrap();
        let q = c.periods(PeriodKind::Quarter);
        assert_eq!(q[0].label, "2027-Q1");
        assert_eq!(q[0].weeks, 0..7); // Feb 15 .. Mar 29
        assert_eq!(q[0].full_weeks, 13);
    }

    #[test]
    fn fiscal_years_name_quarters_by_the_year_they_end() {
        let start: Date = "2027-02-01".parse().unwrap();
        let c = Calendar::fiscal(52, Some(start), 2).unwrap();
        let q = c.periods(PeriodKind::Quarter);
        assert_eq!(q[0].label, "FY2028-Q1");
        assert_eq!(q[0].index_in_year, 0);
        assert_eq!(q[0].weeks, 0..13); // Feb 1 .. Apr 26
        assert_eq!(q[3].label, "FY2028-Q4");
        assert_eq!(q[3].full_weeks, 14); // Mondays Nov 1, 2027 .. Jan 31, 2028
        let m = c.periods(PeriodKind::Month);
        assert_eq!(m[0].label, "2027-02");
        assert_eq!(m[0].index_in_year, 0);
        assert_eq!(m[11].label, "2028-01");
        assert_eq!(m[11].index_in_year, 11);
        assert!(Calendar::fiscal(52, Some(start), 13).is_err());
    }

    #[test]
    fn dates_out_of_range_are_refused() {
        let start: Date = "9999-06-01".parse().unwrap();
        assert!(Calendar::new(52, Some(start)).is_err());
    }
}

//! Weeks and the periods they roll up into.
//!
//! All time in revplan is in weeks from the start of the plan (week 0). With
//! a `start_date`, week `w` begins on `start_date + 7w` days and belongs to
//! the calendar month and quarter of that day. Without one, a year is 52
//! weeks: quarters of 13 weeks and months in the 4-4-5 pattern.

use std::ops::Range;

use jiff::civil::Date;
use serde::Serialize;

/// Weeks in a planning year (seasonality and `annual` targets repeat on it).
pub const WEEKS_PER_YEAR: u32 = 52;

/// Start week of each 4-4-5 month within a 52-week year, and the end.
const MONTH_STARTS_445: [u32; 13] = [0, 4, 8, 13, 17, 21, 26, 30, 34, 39, 43, 47, 52];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
}

/// (year, month 0..12) of a day.
fn year_month(d: Date) -> (i32, u32) {
    (i32::from(d.year()), (d.month() - 1) as u32)
}

impl Calendar {
    /// Checks that every week of the horizon has a representable date.
    pub fn new(weeks: u32, start: Option<Date>) -> Result<Calendar, String> {
        if let Some(s) = start {
            let span = jiff::Span::new().days(7 * i64::from(weeks) + 400);
            if s.checked_add(span).is_err() {
                return Err(format!(
                    "{weeks} weeks after {s} is past the last date revplan can handle"
                ));
            }
        }
        Ok(Calendar { weeks, start })
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

    fn period_key(&self, kind: PeriodKind, w: u32) -> (i32, u32) {
        let (y, m) = self.month_key(w);
        match kind {
            PeriodKind::Month => (y, m),
            PeriodKind::Quarter => (y, m / 3),
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
        let mut current: Option<((i32, u32), u32)> = None;
        for w in 0..=self.weeks {
            let key = (w < self.weeks).then(|| self.period_key(kind, w));
            match (current, key) {
                (Some((k, _)), Some(k2)) if k == k2 => {}
                (prev, next) => {
                    if let Some((k, first)) = prev {
                        out.push(Period {
                            label: self.label(kind, k),
                            weeks: first..w,
                            index_in_year: k.1 as usize,
                            full_weeks: self.full_weeks(kind, k),
                        });
                    }
                    current = next.map(|k| (k, w));
                }
            }
        }
        out
    }

    fn label(&self, kind: PeriodKind, (y, i): (i32, u32)) -> String {
        let multi_year = self.weeks > WEEKS_PER_YEAR;
        match (self.start, kind) {
            (Some(_), PeriodKind::Quarter) => format!("{y}-Q{}", i + 1),
            (Some(_), PeriodKind::Month) => format!("{y}-{:02}", i + 1),
            (None, PeriodKind::Quarter) if multi_year => format!("Y{} Q{}", y + 1, i + 1),
            (None, PeriodKind::Quarter) => format!("Q{}", i + 1),
            (None, PeriodKind::Month) if multi_year => format!("Y{} M{:02}", y + 1, i + 1),
            (None, PeriodKind::Month) => format!("M{:02}", i + 1),
        }
    }

    /// Weeks of the endless weekly grid whose first day falls in the period.
    fn full_weeks(&self, kind: PeriodKind, (y, i): (i32, u32)) -> u32 {
        let Some(start) = self.start else {
            return match kind {
                PeriodKind::Quarter => 13,
                PeriodKind::Month => {
                    MONTH_STARTS_445[i as usize + 1] - MONTH_STARTS_445[i as usize]
                }
            };
        };
        let months = match kind {
            PeriodKind::Quarter => 3,
            PeriodKind::Month => 1,
        };
        let first_month = i * months as u32;
        let d0 = Date::new(y as i16, (first_month + 1) as i8, 1).expect("valid month");
        let d1 = d0
            .checked_add(jiff::Span::new().months(months))
            .expect("within range");
        let days = |d: Date| d.duration_since(start).as_secs().div_euclid(86_400);
        // Weeks k with start + 7k in [d0, d1): ceil(days(d1)/7) − ceil(days(d0)/7).
        let ceil7 = |x: i64| (x + 6).div_euclid(7);
        (ceil7(days(d1)) - ceil7(days(d0))) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn dates_out_of_range_are_refused() {
        let start: Date = "9999-06-01".parse().unwrap();
        assert!(Calendar::new(52, Some(start)).is_err());
    }
}

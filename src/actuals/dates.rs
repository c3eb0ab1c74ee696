//! Dates as exports write them: ISO dates, timestamps in UTC or with an
//! offset (taken to the data's time zone), `03/04/2024` in the order the
//! column shows (detected, refused when it cannot be told), `04.03.2024`,
//! Excel serials already turned into ISO by the reader.

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::source::DateOrder;

/// How one column's dates read.
#[derive(Clone, Debug)]
pub struct DateRule {
    pub order: Option<DateOrder>,
    pub tz: Option<TimeZone>,
}

/// What detection found in a column's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Detected {
    /// The order (None when no value needs one).
    Order(Option<DateOrder>),
    /// `03/04/2024` could be either; examples given.
    Ambiguous(Vec<String>),
    /// Values that need opposite orders.
    Mixed(String, String),
}

/// The parts of a `A/B/YYYY` (or `A.B.YYYY`, `A-B-YYYY`) date, if it is one.
fn day_month_year(s: &str) -> Option<(u32, u32, i32, char)> {
    let head = s.split([' ', 'T']).next()?;
    let sep = head.chars().find(|c| matches!(c, '/' | '.' | '-'))?;
    let mut it = head.split(sep);
    let (a, b, c) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || c.len() != 4 || a.len() > 2 || b.len() > 2 {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?, c.parse().ok()?, sep))
}

/// Finds the order of a column's `A/B/YYYY` dates, value by value: a
/// first part above 12 means day first, a second part above 12 month
/// first.
#[derive(Clone, Debug, Default)]
pub struct Detector {
    dmy: Option<String>,
    mdy: Option<String>,
    ambiguous: Vec<String>,
    any: bool,
}

impl Detector {
    pub fn feed(&mut self, v: &str) {
        let v = v.trim();
        let Some((a, b, _, sep)) = day_month_year(v) else {
            return;
        };
        if sep == '.' {
            return; // 04.03.2024 is day first by convention
        }
        self.any = true;
        if a > 12 && self.dmy.is_none() {
            self.dmy = Some(v.to_string());
        } else if b > 12 && self.mdy.is_none() {
            self.mdy = Some(v.to_string());
        } else if a != b && a <= 12 && b <= 12 && self.ambiguous.len() < 3 {
            self.ambiguous.push(v.to_string());
        }
    }

    pub fn result(self) -> Detected {
        match (self.dmy, self.mdy) {
            (Some(d), Some(m)) => Detected::Mixed(d, m),
            (Some(_), None) => Detected::Order(Some(DateOrder::Dmy)),
            (None, Some(_)) => Detected::Order(Some(DateOrder::Mdy)),
            (None, None) if self.any && !self.ambiguous.is_empty() => {
                Detected::Ambiguous(self.ambiguous)
            }
            _ => Detected::Order(None),
        }
    }
}

/// A time of day in a timestamp with a zone (`…T05:00:00Z`), as seconds:
/// local midnights stored in UTC all share one.
pub fn utc_time_of_day(s: &str) -> Option<i64> {
    let ts: jiff::Timestamp = s.trim().parse().ok()?;
    let t = ts.to_zoned(TimeZone::UTC).time();
    Some(i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second()))
}

/// Parses one cell: `Ok(None)` for a blank, `Err` with the reason.
pub fn parse(s: &str, rule: &DateRule) -> Result<Option<Date>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() == 10
        && s.as_bytes()[4] == b'-'
        && let Ok(d) = s.parse::<Date>()
    {
        return Ok(Some(d));
    }
    // Most exports write one form throughout: `3/4/2025` is tried first
    // when the fifth character says it is not ISO.
    if s.as_bytes().get(4) != Some(&b'-')
        && let Some(parsed) = slashed(s, rule)
    {
        return parsed;
    }
    // A timestamp with a zone or offset: the date it is in the data's zone.
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        let tz = rule.tz.clone().unwrap_or(TimeZone::UTC);
        return Ok(Some(ts.to_zoned(tz).date()));
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return Ok(Some(dt.date()));
    }
    if let Ok(d) = s.parse::<Date>() {
        return Ok(Some(d));
    }
    if let Some(parsed) = slashed(s, rule) {
        return parsed;
    }
    for fmt in ["%b %d, %Y", "%d %b %Y", "%B %d, %Y", "%d %B %Y", "%Y/%m/%d"] {
        if let Ok(d) = Date::strptime(fmt, s) {
            return Ok(Some(d));
        }
    }
    Err("not a date".into())
}

/// A `A/B/YYYY` date read in the rule's order; `None` if `s` is not one.
fn slashed(s: &str, rule: &DateRule) -> Option<Result<Option<Date>, String>> {
    let (a, b, y, sep) = day_month_year(s)?;
    let order = if sep == '.' {
        Some(DateOrder::Dmy)
    } else {
        rule.order
    };
    let (d, m) = match order {
        Some(DateOrder::Dmy) => (a, b),
        Some(DateOrder::Mdy) => (b, a),
        Some(DateOrder::Ymd) => return Some(Err("not year-month-day".into())),
        None if a == b => (a, b),
        None if a > 12 => (a, b),
        None if b > 12 => (b, a),
        None => return Some(Err("ambiguous: day and month could be either".into())),
    };
    Some(
        jiff::civil::Date::new(y as i16, m as i8, d as i8)
            .map(Some)
            .map_err(|_| "no such date".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(order: Option<DateOrder>, tz: Option<&str>) -> DateRule {
        DateRule {
            order,
            tz: tz.map(|t| TimeZone::get(t).unwrap()),
        }
    }

    #[test]
    fn the_usual_forms_parse() {
        let r = rule(None, None);
        let d = |s| parse(s, &r).unwrap().unwrap().to_string();
        assert_eq!(d("2024-03-04"), "2024-03-04");
        assert_eq!(d("2024-03-04 17:30:00"), "2024-03-04");
        assert_eq!(d("2024-03-04T23:30:00Z"), "2024-03-04");
        assert_eq!(d("25/03/2024"), "2024-03-25");
        assert_eq!(d("03/25/2024 10:15 AM"), "2024-03-25");
        assert_eq!(d("04.03.2024"), "2024-03-04");
        assert_eq!(d("Mar 4, 2024"), "2024-03-04");
        assert_eq!(parse("", &r), Ok(None));
        assert!(parse("03/04/2024", &r).is_err());
        assert!(parse("31/02/2024", &r).is_err());
        assert!(parse("soon", &r).is_err());
        let mdy = rule(Some(DateOrder::Mdy), None);
        assert_eq!(
            parse("03/04/2024", &mdy).unwrap().unwrap().to_string(),
            "2024-03-04"
        );
    }

    #[test]
    fn utc_timestamps_of_local_midnights_take_the_local_date() {
        let ny = rule(None, Some("America/New_York"));
        // Local midnight of 4 March in New York is 05:00 UTC.
        let d = parse("2024-03-04T05:00:00Z", &ny).unwrap().unwrap();
        assert_eq!(d.to_string(), "2024-03-04");
        let utc = rule(None, None);
        assert_eq!(
            parse("2024-03-04T03:00:00Z", &utc)
                .unwrap()
                .unwrap()
                .to_string(),
            "2024-03-04"
        );
        assert_eq!(
            parse("2024-03-04T03:00:00Z", &ny)
                .unwrap()
                .unwrap()
                .to_string(),
            "2024-03-03"
        );
        assert_eq!(utc_time_of_day("2024-03-04T05:00:00Z"), Some(18_000));
    }

    /// [`Detector`] over a whole column.
    fn detect<'a>(values: impl Iterator<Item = &'a str>) -> Detected {
        let mut d = Detector::default();
        values.for_each(|v| d.feed(v));
        d.result()
    }

    #[test]
    fn column_order_is_detected_or_refused() {
        let d = |v: &[&str]| detect(v.iter().copied());
        assert_eq!(
            d(&["01/02/2024", "25/02/2024"]),
            Detected::Order(Some(DateOrder::Dmy))
        );
        assert_eq!(
            d(&["01/02/2024", "02/25/2024"]),
            Detected::Order(Some(DateOrder::Mdy))
        );
        assert_eq!(d(&["2024-01-02"]), Detected::Order(None));
        assert_eq!(d(&["01/01/2024", "03/03/2024"]), Detected::Order(None));
        assert!(matches!(d(&["01/02/2024", "03/04/2024"]), Detected::Ambiguous(v) if v.len() == 2));
        assert!(matches!(
            d(&["25/02/2024", "02/25/2024"]),
            Detected::Mixed(..)
        ));
    }
}

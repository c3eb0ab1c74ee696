//! `revplan backtest`: at each origin, calibrate on what was visible then,
//! forecast the next weeks, and score the forecast against what happened —
//! interval coverage and pinball loss, beside two baselines scored the
//! same way (the trailing run rate and the weighted open pipeline).

use std::path::Path;

use jiff::civil::Date;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::actuals::{Data, Status, days, plus_days};
use crate::calibrate::{self, channel_key};
use crate::run::{RunConfig, Trials};

/// What is forecast and scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Won revenue, by close date.
    Revenue,
    /// Won deals, by close date.
    Wins,
    /// Deals created.
    Opportunities,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Revenue => "revenue",
            Metric::Wins => "wins",
            Metric::Opportunities => "opportunities",
        }
    }

    /// The metric's value of one deal on the date it counts, if it counts.
    fn of(self, d: &crate::actuals::Deal) -> Option<(Date, f64)> {
        match self {
            Metric::Revenue => (d.status == Status::Won)
                .then(|| Some((d.closed?, d.amount.unwrap_or(0.0))))
                .flatten(),
            Metric::Wins => (d.status == Status::Won)
                .then(|| Some((d.closed?, 1.0)))
                .flatten(),
            Metric::Opportunities => Some((d.created, 1.0)),
        }
    }
}

/// How to backtest.
#[derive(Clone, Debug)]
pub struct Options {
    pub origins: Vec<Date>,
    pub weeks: u32,
    pub metric: Metric,
    /// Feed each source's actual lead arrivals in the window (their
    /// weekly average) instead of the calibrated volume: tests conversion
    /// and timing alone.
    pub given_arrivals: bool,
    pub trials: u64,
    pub seed: u64,
}

/// Quantile levels scored (those every forecast period reports).
pub const LEVELS: [f64; 7] = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95];

/// A forecast of one period as quantiles at [`LEVELS`].
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Quantiles(pub [f64; 7]);

impl Quantiles {
    fn normal(mean: f64, sd: f64) -> Quantiles {
        let q = |p: f64| match Normal::new(mean, sd.max(1e-9)) {
            Ok(n) => n.inverse_cdf(p).max(0.0),
            Err(_) => mean.max(0.0),
        };
        Quantiles(LEVELS.map(q))
    }

    /// Mean pinball loss over the levels: an approximation of the CRPS.
    pub fn pinball(&self, actual: f64) -> f64 {
        LEVELS
            .iter()
            .zip(&self.0)
            .map(|(tau, q)| {
                let d = actual - q;
                if d >= 0.0 { tau * d } else { (tau - 1.0) * d }
            })
            .sum::<f64>()
            / LEVELS.len() as f64
    }

    fn inside(&self, actual: f64, lo: usize, hi: usize) -> bool {
        self.0[lo] <= actual && actual <= self.0[hi]
    }
}

/// One period of one origin: what happened and the three forecasts.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Point {
    pub origin: String,
    /// The period's label, or `total` for the whole window.
    pub period: String,
    pub first_week: u32,
    pub last_week: u32,
    pub actual: f64,
    pub model: Quantiles,
    pub run_rate: Quantiles,
    pub pipeline: Quantiles,
}

/// A method's scores over every origin.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Score {
    pub method: String,
    /// Share of periods whose actual fell in P10–P90, and in P5–P95.
    pub coverage_80: f64,
    pub coverage_90: f64,
    /// The same for the whole window of each origin.
    pub total_coverage_80: f64,
    pub total_coverage_90: f64,
    /// Mean pinball loss over the levels and periods (lower is better).
    pub pinball: f64,
    /// 1 − pinball / the run rate's pinball.
    pub skill: f64,
}

/// The backtest.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Backtest {
    pub metric: Metric,
    pub weeks: u32,
    pub given_arrivals: bool,
    pub trials: u64,
    pub origins: Vec<String>,
    pub points: Vec<Point>,
    pub scores: Vec<Score>,
    pub periods: usize,
    pub notes: Vec<String>,
}

/// The metric's weekly values from `start`, for `weeks` weeks, over the
/// deals of `data` (events after its as-of date are not in it).
fn weekly(data: &Data, metric: Metric, start: Date, weeks: u32) -> Vec<f64> {
    let mut out = vec![0.0; weeks as usize];
    for d in &data.deals {
        if let Some((date, v)) = metric.of(d) {
            let offset = days(start, date);
            if offset >= 0 && (offset / 7) < i64::from(weeks) {
                out[(offset / 7) as usize] += v;
            }
        }
    }
    out
}

/// The trailing 13 weeks' run rate, as a normal forecast of a period of
/// `len` weeks (Poisson spread at least, for counts).
fn run_rate(before: &Data, metric: Metric, origin: Date, len: u32) -> Quantiles {
    let trail = 13;
    let w = weekly(
        before,
        metric,
        plus_days(origin, -7 * i64::from(trail)),
        trail,
    );
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let var = if metric == Metric::Revenue {
        var
    } else {
        var.max(mean)
    };
    let l = f64::from(len);
    Quantiles::normal(mean * l, (var * l).sqrt())
}

/// The open pipeline weighted by the historical win rate, each deal
/// expected to close at its age plus the remaining median cycle.
fn pipeline(before: &Data, metric: Metric, first: u32, last: u32) -> Quantiles {
    if metric == Metric::Opportunities {
        return Quantiles::normal(0.0, 0.0);
    }
    let closed: Vec<&crate::actuals::Deal> = before
        .deals
        .iter()
        .filter(|d| d.status != Status::Open)
        .collect();
    let won = closed.iter().filter(|d| d.status == Status::Won).count();
    let p = if closed.is_empty() {
        0.0
    } else {
        won as f64 / closed.len() as f64
    };
    let mut cycles: Vec<i64> = closed
        .iter()
        .filter_map(|d| Some(days(d.created, d.closed?)))
        .collect();
    cycles.sort_unstable();
    let median = cycles.get(cycles.len() / 2).copied().unwrap_or(84);
    let (mut mean, mut var) = (0.0, 0.0);
    for d in before.deals.iter().filter(|d| d.status == Status::Open) {
        let age = days(d.created, before.as_of);
        let week = ((median - age).max(0) / 7) as u32;
        if week < first || week > last {
            continue;
        }
        let v = match metric {
            Metric::Revenue => d.amount.unwrap_or(0.0),
            _ => 1.0,
        };
        mean += p * v;
        var += p * (1.0 - p) * v * v;
    }
    Quantiles::normal(mean, var.sqrt())
}

/// The actual weekly lead arrivals per channel key in the window.
fn arrivals(after: &Data, origin: Date, weeks: u32) -> Vec<(String, f64)> {
    let mut by: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for l in &after.leads {
        let offset = days(origin, l.created);
        if offset >= 0 && offset < 7 * i64::from(weeks) {
            *by.entry(channel_key(&l.source)).or_default() += 1.0;
        }
    }
    by.into_iter()
        .map(|(k, n)| (k, n / f64::from(weeks)))
        .collect()
}

/// Calibrates on `before`, forecasts the window, and returns each
/// period's quantiles with its weeks.
fn model_forecast(
    before: &Data,
    after: &Data,
    origin: Date,
    o: &Options,
    i: usize,
) -> Result<Vec<(String, u32, u32, Quantiles)>, crate::Error> {
    // A folder of this run's own (made unique, removed on drop).
    let scratch = tempfile::Builder::new()
        .prefix(&format!("revplan-backtest-{i}-"))
        .tempdir()
        .map_err(|source| crate::Error::Write {
            path: std::env::temp_dir(),
            source,
        })?;
    let cal = calibrate::calibrate(
        before,
        &calibrate::Options {
            since: None,
            name: format!("calibrated as of {}", before.as_of),
            pipeline_file: Some("model-pipeline.csv".into()),
        },
    );
    let write = |name: &str, text: &str| {
        std::fs::write(scratch.path().join(name), text).map_err(|source| crate::Error::Write {
            path: scratch.path().join(name),
            source,
        })
    };
    write("model.toml", &cal.model)?;
    write("model-pipeline.csv", &cal.pipeline)?;
    let scenario = format!(
        "name = \"backtest\"\nmodel = \"model.toml\"\nhorizon_weeks = {}\nstart_date = {origin}\n\n\
         [target]\nmetric = \"{}\"\nperiod = \"month\"\ntotal = 1\n",
        o.weeks,
        o.metric.name()
    );
    let mut overrides = Vec::new();
    if o.given_arrivals {
        let given = arrivals(after, origin, o.weeks);
        for ch in &cal.channels {
            let rate = given
                .iter()
                .find(|(k, _)| *k == ch.key)
                .map_or(0.0, |g| g.1);
            overrides.push(format!("channels.{}.volume.leads_per_week={rate}", ch.key));
            overrides.push(format!("channels.{}.arrival_cv=0", ch.key));
        }
    }
    write("backtest.toml", &scenario)?;
    let loaded = crate::load::load_scenario(&scratch.path().join("backtest.toml"), &overrides)?;
    let f = crate::sim::simulate(
        &loaded.base,
        &RunConfig {
            trials: Trials::Fixed(o.trials),
            seed: o.seed,
            ..RunConfig::default()
        },
        &|_| {},
    )?;
    let mut out: Vec<(String, u32, u32, Quantiles)> = f
        .periods
        .iter()
        .map(|p| {
            (
                p.label.clone(),
                p.first_week,
                p.last_week,
                Quantiles([p.p5, p.p10, p.p25, p.p50, p.p75, p.p90, p.p95]),
            )
        })
        .collect();
    let total = f.goal.as_ref().unwrap_or(&f.revenue);
    out.push((
        "total".into(),
        0,
        o.weeks - 1,
        Quantiles([
            total.p5, total.p10, total.p25, total.p50, total.p75, total.p90, total.p95,
        ]),
    ));
    Ok(out)
}

/// Runs the backtest on the exports a data-source file names.
pub fn run(data_file: &Path, o: &Options) -> Result<Backtest, crate::Error> {
    let after = crate::actuals::load(data_file, None)?;
    let mut points = Vec::new();
    let mut notes = Vec::new();
    for (i, origin) in o.origins.iter().enumerate() {
        let as_of = plus_days(*origin, -1);
        let end = plus_days(*origin, 7 * i64::from(o.weeks) - 1);
        if end > after.as_of {
            notes.push(format!(
                "origin {origin}: its {} weeks run past the data's last date {}; left out",
                o.weeks, after.as_of
            ));
            continue;
        }
        let before = crate::actuals::load(data_file, Some(as_of))?;
        if before.leads.len() < 50 {
            notes.push(format!(
                "origin {origin}: {} leads before it; left out",
                before.leads.len()
            ));
            continue;
        }
        let actual = weekly(&after, o.metric, *origin, o.weeks);
        for (period, first, last, model) in model_forecast(&before, &after, *origin, o, i)? {
            let len = last - first + 1;
            points.push(Point {
                origin: origin.to_string(),
                period,
                first_week: first,
                last_week: last,
                actual: actual[first as usize..=last as usize].iter().sum(),
                model,
                run_rate: run_rate(&before, o.metric, *origin, len),
                pipeline: pipeline(&before, o.metric, first, last),
            });
        }
    }
    let scores = scores(&points);
    let mut origins: Vec<String> = points.iter().map(|p| p.origin.clone()).collect();
    origins.dedup();
    Ok(Backtest {
        metric: o.metric,
        weeks: o.weeks,
        given_arrivals: o.given_arrivals,
        trials: o.trials,
        origins,
        periods: points.iter().filter(|p| p.period != "total").count(),
        points,
        scores,
        notes,
    })
}

/// A method's forecast of a point.
type Method = fn(&Point) -> &Quantiles;

fn scores(points: &[Point]) -> Vec<Score> {
    let methods: [(&str, Method); 3] = [
        ("model", |p| &p.model),
        ("run rate", |p| &p.run_rate),
        ("pipeline", |p| &p.pipeline),
    ];
    let share = |ps: &[&Point], f: &dyn Fn(&Point) -> bool| -> f64 {
        if ps.is_empty() {
            0.0
        } else {
            ps.iter().filter(|p| f(p)).count() as f64 / ps.len() as f64
        }
    };
    let periods: Vec<&Point> = points.iter().filter(|p| p.period != "total").collect();
    let totals: Vec<&Point> = points.iter().filter(|p| p.period == "total").collect();
    let loss = |q: Method| -> f64 {
        periods.iter().map(|p| q(p).pinball(p.actual)).sum::<f64>() / periods.len().max(1) as f64
    };
    let base = loss(methods[1].1);
    methods
        .iter()
        .map(|(name, q)| {
            let pinball = loss(*q);
            Score {
                method: (*name).into(),
                coverage_80: share(&periods, &|p| q(p).inside(p.actual, 1, 5)),
                coverage_90: share(&periods, &|p| q(p).inside(p.actual, 0, 6)),
                total_coverage_80: share(&totals, &|p| q(p).inside(p.actual, 1, 5)),
                total_coverage_90: share(&totals, &|p| q(p).inside(p.actual, 0, 6)),
                pinball,
                skill: if base > 0.0 {
                    1.0 - pinball / base
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// Origins every `every` weeks: from 13 weeks after the first lead (time
/// to see a quarter) to the last that leaves `weeks` weeks of data.
pub fn every(data: &Data, every: u32, weeks: u32) -> Vec<Date> {
    let Some(first) = data.leads.iter().map(|l| l.created).min() else {
        return Vec::new();
    };
    let mut o = plus_days(first, 91);
    // Origins on Mondays, so that weeks line up with calendar weeks.
    while o.weekday() != jiff::civil::Weekday::Monday {
        o = plus_days(o, 1);
    }
    let last = plus_days(data.as_of, -7 * i64::from(weeks) + 1);
    let mut out = Vec::new();
    while o <= last && out.len() < 200 {
        out.push(o);
        o = plus_days(o, 7 * i64::from(every.max(1)));
    }
    out
}

impl crate::export::Exportable for Backtest {
    const KIND: &'static str = "backtest";

    fn primary(&self) -> &'static str {
        "points"
    }

    fn view(&self) -> crate::export::View {
        use crate::export::{Table, Unit, View, col};
        let unit = if self.metric == Metric::Revenue {
            Unit::Money
        } else {
            Unit::Count
        };
        let mut scores = Table::new(
            "scores",
            "coverage and loss over every origin (lower loss is better; skill against the run rate)",
            vec![
                col("method", "method", Unit::Text),
                col("coverage_80", "in P10–P90", Unit::Share),
                col("coverage_90", "in P5–P95", Unit::Share),
                col("total_coverage_80", "window in P10–P90", Unit::Share),
                col("total_coverage_90", "window in P5–P95", Unit::Share),
                col("pinball", "pinball loss", unit),
                col("skill", "skill", Unit::Share),
            ],
        );
        for s in &self.scores {
            scores.row(vec![
                s.method.clone().into(),
                s.coverage_80.into(),
                s.coverage_90.into(),
                s.total_coverage_80.into(),
                s.total_coverage_90.into(),
                s.pinball.into(),
                s.skill.into(),
            ]);
        }
        let mut points = Table::new(
            "points",
            "each origin's periods: the actual against the model's quantiles and the baselines' medians",
            vec![
                col("origin", "origin", Unit::Text),
                col("period", "period", Unit::Text),
                col("actual", "actual", unit),
                col("p10", "P10", unit),
                col("p50", "P50", unit),
                col("p90", "P90", unit),
                col("in_80", "in P10–P90", Unit::Text),
                col("run_rate_p50", "run rate", unit),
                col("pipeline_p50", "pipeline", unit),
            ],
        );
        for p in &self.points {
            points.row(vec![
                p.origin.clone().into(),
                p.period.clone().into(),
                p.actual.into(),
                p.model.0[1].into(),
                p.model.0[3].into(),
                p.model.0[5].into(),
                if p.model.inside(p.actual, 1, 5) {
                    "yes"
                } else {
                    "no"
                }
                .into(),
                p.run_rate.0[3].into(),
                p.pipeline.0[3].into(),
            ]);
        }
        let mut lines = vec![format!(
            "{} origins × {} weeks of {}{}; {} periods scored; {} trials per forecast",
            self.origins.len(),
            self.weeks,
            self.metric.name(),
            if self.given_arrivals {
                ", given the actual lead arrivals"
            } else {
                ""
            },
            self.periods,
            self.trials
        )];
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        View {
            title: format!("Backtest of {}", self.metric.name()),
            lines,
            tables: vec![scores, points],
            ..View::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinball_loss_is_zero_at_a_point_mass_on_the_truth_and_grows_away() {
        let q = Quantiles([5.0; 7]);
        assert_eq!(q.pinball(5.0), 0.0);
        // Below every quantile by 2: Σ (1 − τ) · 2 / 7 = (7 − 3.5) · 2 / 7 = 1.
        assert!((q.pinball(3.0) - 1.0).abs() < 1e-12);
        // Above by 2: Σ τ · 2 / 7 = 3.5 · 2 / 7 = 1.
        assert!((q.pinball(7.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn normal_quantiles_match_the_table() {
        let q = Quantiles::normal(100.0, 10.0);
        assert!((q.0[3] - 100.0).abs() < 1e-9);
        // z(0.90) = 1.281552, z(0.95) = 1.644854.
        assert!((q.0[5] - 112.81552).abs() < 1e-4);
        assert!((q.0[6] - 116.44854).abs() < 1e-4);
    }
}

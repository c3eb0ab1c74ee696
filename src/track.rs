//! `revplan track`: the plan against the actuals to date — by week, stage,
//! source and period, ahead or behind — and the re-forecast of the rest
//! of the horizon conditional on what has happened: revenue booked, the
//! pipeline and leads in flight at the as-of date, then new leads as
//! planned; with P(hit) today.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::Date;
use serde::Serialize;

use crate::actuals::{Data, Status, days, plus_days};
use crate::calibrate::channel_key;
use crate::model::{Metric, Scenario};
use crate::run::Overrides;

/// How to track.
#[derive(Clone, Debug)]
pub struct Options {
    pub as_of: Date,
    /// Changes to the scenario's own run (trials, seed, engine) for the
    /// re-forecast.
    pub run: Overrides,
}

/// A figure to date: planned, actual, and the difference.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ToDate {
    pub what: String,
    pub planned: f64,
    pub actual: f64,
    /// actual − planned (positive: ahead).
    pub delta: f64,
    /// actual / planned − 1.
    pub delta_share: Option<f64>,
}

impl ToDate {
    fn new(what: &str, planned: f64, actual: f64) -> ToDate {
        ToDate {
            what: what.into(),
            planned,
            actual,
            delta: actual - planned,
            delta_share: (planned > 0.0).then(|| actual / planned - 1.0),
        }
    }
}

/// One week to date.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Week {
    pub week: u32,
    pub date: String,
    pub target: f64,
    pub actual: f64,
    pub cumulative_target: f64,
    pub cumulative_actual: f64,
    pub planned_leads: f64,
    pub actual_leads: f64,
    pub planned_opportunities: f64,
    pub actual_opportunities: f64,
}

/// One period of the target: booked so far, and the re-forecast.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Period {
    pub label: String,
    pub target: f64,
    pub booked: f64,
    /// Booked plus the re-forecast of the weeks left in it.
    pub mean: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub p_hit: f64,
}

/// The tracking report.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Track {
    pub scenario: String,
    pub metric: String,
    pub start_date: String,
    /// The last day of the last whole week counted.
    pub as_of: String,
    pub weeks_elapsed: u32,
    pub horizon_weeks: u32,
    pub target: f64,
    pub target_to_date: f64,
    pub booked: f64,
    pub stages: Vec<ToDate>,
    pub sources: Vec<ToDate>,
    pub weeks: Vec<Week>,
    pub periods: Vec<Period>,
    /// P(booked + the rest ≥ the target), and its standard error.
    pub p_hit: f64,
    pub p_hit_std_error: f64,
    pub forecast_mean: f64,
    pub forecast_p10: f64,
    pub forecast_p50: f64,
    pub forecast_p90: f64,
    pub open_deals: usize,
    pub in_flight: usize,
    pub trials: u64,
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error("the scenario has no start_date: give it one (the date of week 0) to track it")]
    NoStart,
    #[error("as of {as_of} the plan has not started: its first week begins {start}")]
    NotStarted { as_of: Date, start: Date },
    #[error("track follows revenue, wins or opportunities targets; this one counts {0}")]
    Metric(String),
}

/// Each scenario channel's name for an export's source: the same key,
/// or its plural or singular; else none.
fn channel_for(scenario: &Scenario) -> impl Fn(&str) -> String + '_ {
    move |source: &str| {
        let key = channel_key(source);
        let names: Vec<&str> = scenario
            .model
            .channels
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let candidates = [
            key.clone(),
            format!("{key}s"),
            key.strip_suffix('s').unwrap_or(&key).to_string(),
        ];
        candidates
            .into_iter()
            .find(|c| names.contains(&c.as_str()))
            .unwrap_or_default()
    }
}

/// What happened in each of the first `weeks` weeks from `start`: the
/// target metric, leads, opportunities; and the stage totals.
struct Happened {
    metric: Vec<f64>,
    leads: Vec<f64>,
    opportunities: Vec<f64>,
    stages: [f64; 6],
    leads_by_channel: BTreeMap<String, f64>,
}

fn happened(data: &Data, s: &Scenario, start: Date, weeks: u32) -> Happened {
    let n = weeks as usize;
    let week = |d: Date| -> Option<usize> {
        let off = days(start, d);
        (off >= 0 && off / 7 < i64::from(weeks)).then_some((off / 7) as usize)
    };
    let mut h = Happened {
        metric: vec![0.0; n],
        leads: vec![0.0; n],
        opportunities: vec![0.0; n],
        stages: [0.0; 6],
        leads_by_channel: BTreeMap::new(),
    };
    let channel = channel_for(s);
    for l in &data.leads {
        if let Some(w) = week(l.created) {
            h.leads[w] += 1.0;
            h.stages[0] += 1.0;
            let name = channel(&l.source);
            let name = if name.is_empty() {
                format!("(other) {}", l.source)
            } else {
                name
            };
            *h.leads_by_channel.entry(name).or_default() += 1.0;
        }
        for (i, d) in l.stages.iter().enumerate() {
            if d.and_then(week).is_some() {
                h.stages[i + 1] += 1.0;
            }
        }
    }
    for d in &data.deals {
        if let Some(w) = week(d.created) {
            h.opportunities[w] += 1.0;
            // The only stage target track follows: opportunities.
            if matches!(s.target.metric, Metric::Stage(_)) {
                h.metric[w] += 1.0;
            }
        }
        if d.status == Status::Won
            && let Some(w) = d.closed.and_then(week)
        {
            h.stages[5] += 1.0;
            h.metric[w] += match s.target.metric {
                Metric::Revenue => d.amount.unwrap_or(0.0),
                Metric::Wins => 1.0,
                Metric::Stage(_) => 0.0,
            };
        }
    }
    h
}

/// The target's remaining amounts, period by period, and the overrides
/// that turn the scenario into the rest of its horizon.
fn rest_overrides(
    s: &Scenario,
    booked: &[f64],
    elapsed: u32,
    rest_start: Date,
    pipeline_csv: &Path,
) -> Vec<String> {
    let periods = s.calendar.periods(s.target.period);
    let amounts: Vec<String> = periods
        .iter()
        .zip(&s.target.periods)
        .zip(booked)
        .filter(|((p, _), _)| p.weeks.end > elapsed)
        .map(|((_, t), b)| format!("{}", (t - b).max(0.0)))
        .collect();
    let metric = s.target.metric.name(&s.model);
    let period = match s.target.period {
        crate::calendar::PeriodKind::Quarter => "quarter",
        crate::calendar::PeriodKind::Month => "month",
    };
    vec![
        format!("start_date={rest_start}"),
        format!("horizon_weeks={}", s.weeks() - elapsed),
        format!(
            "target={{ metric = \"{metric}\", period = \"{period}\", amounts = [{}] }}",
            amounts.join(", ")
        ),
        format!(
            "pipeline={{ csv = {}, stale = \"lost\" }}",
            serde_json::to_string(&pipeline_csv.display().to_string()).unwrap_or_default()
        ),
    ]
}

/// Tracks a scenario file against the exports of a data-source file.
pub fn track(scenario_file: &Path, data_file: &Path, o: &Options) -> Result<Track, crate::Error> {
    let loaded = crate::load::load_scenario(scenario_file, &[])?;
    let s = &loaded.base;
    let start = s.calendar.start.ok_or(TrackError::NoStart)?;
    if o.as_of < start {
        return Err(TrackError::NotStarted {
            as_of: o.as_of,
            start,
        }
        .into());
    }
    if !matches!(s.target.metric, Metric::Revenue | Metric::Wins)
        && s.target.metric.name(&s.model) != "opportunities"
    {
        return Err(TrackError::Metric(s.target.metric.name(&s.model)).into());
    }
    let elapsed = (((days(start, o.as_of) + 1) / 7) as u32).min(s.weeks());
    let as_of = plus_days(start, 7 * i64::from(elapsed) - 1);
    let data = crate::actuals::load(data_file, Some(as_of))?;
    let h = happened(&data, s, start, elapsed);
    let mut notes = Vec::new();
    let plan = crate::plan::plan(s, &crate::plan::PlanOptions::new())
        .map_err(|e| notes.push(format!("no stage plan: {e}")))
        .ok();
    let (stages, sources) = against_plan(plan.as_ref(), &h, elapsed);
    let weeks = weekly_rows(s, plan.as_ref(), &h, start, elapsed);
    let mut t = Track {
        scenario: s.name.clone(),
        metric: s.target.metric.name(&s.model),
        start_date: start.to_string(),
        as_of: as_of.to_string(),
        weeks_elapsed: elapsed,
        horizon_weeks: s.weeks(),
        target: s.target.total,
        target_to_date: s.target.weekly.iter().take(elapsed as usize).sum(),
        booked: h.metric.iter().sum(),
        stages,
        sources,
        weeks,
        periods: Vec::new(),
        p_hit: 0.0,
        p_hit_std_error: 0.0,
        forecast_mean: 0.0,
        forecast_p10: 0.0,
        forecast_p50: 0.0,
        forecast_p90: 0.0,
        open_deals: 0,
        in_flight: 0,
        trials: 0,
        notes,
    };
    reforecast(&mut t, scenario_file, s, &data, &h, o)?;
    Ok(t)
}

/// The plan's volumes to date against the actuals: by stage, and leads by
/// channel (sources no channel takes listed as other).
fn against_plan(
    plan: Option<&crate::plan::Plan>,
    h: &Happened,
    elapsed: u32,
) -> (Vec<ToDate>, Vec<ToDate>) {
    let weeks = || {
        plan.into_iter()
            .flat_map(|p| p.weeks.iter().take(elapsed as usize))
    };
    let to_date = |f: &dyn Fn(&crate::plan::PlanWeek) -> f64| -> f64 { weeks().map(f).sum() };
    let stages = vec![
        ToDate::new("leads", to_date(&|w| w.volumes.leads), h.stages[0]),
        ToDate::new("mqls", to_date(&|w| w.volumes.mqls), h.stages[1]),
        ToDate::new("sals", to_date(&|w| w.volumes.sals), h.stages[2]),
        ToDate::new("sqls", to_date(&|w| w.volumes.sqls), h.stages[3]),
        ToDate::new(
            "opportunities",
            to_date(&|w| w.volumes.opportunities),
            h.stages[4],
        ),
        ToDate::new("wins", to_date(&|w| w.volumes.wins), h.stages[5]),
    ];
    let mut planned: BTreeMap<String, f64> = BTreeMap::new();
    for w in weeks() {
        for (c, n) in &w.leads_by_channel {
            *planned.entry(c.clone()).or_default() += n;
        }
    }
    let mut names: Vec<&String> = planned.keys().chain(h.leads_by_channel.keys()).collect();
    names.sort();
    names.dedup();
    let sources = names
        .into_iter()
        .map(|n| {
            ToDate::new(
                n,
                planned.get(n).copied().unwrap_or(0.0),
                h.leads_by_channel.get(n).copied().unwrap_or(0.0),
            )
        })
        .collect();
    (stages, sources)
}

fn weekly_rows(
    s: &Scenario,
    plan: Option<&crate::plan::Plan>,
    h: &Happened,
    start: Date,
    elapsed: u32,
) -> Vec<Week> {
    let (mut ct, mut ca) = (0.0, 0.0);
    (0..elapsed as usize)
        .map(|w| {
            let target = s.target.weekly.get(w).copied().unwrap_or(0.0);
            ct += target;
            ca += h.metric[w];
            let pw = plan.and_then(|p| p.weeks.get(w));
            Week {
                week: w as u32,
                date: plus_days(start, 7 * w as i64).to_string(),
                target,
                actual: h.metric[w],
                cumulative_target: ct,
                cumulative_actual: ca,
                planned_leads: pw.map_or(0.0, |p| p.volumes.leads),
                actual_leads: h.leads[w],
                planned_opportunities: pw.map_or(0.0, |p| p.volumes.opportunities),
                actual_opportunities: h.opportunities[w],
            }
        })
        .collect()
}

/// The rest of the horizon from the as-of date, simulated.
fn reforecast(
    t: &mut Track,
    scenario_file: &Path,
    s: &Scenario,
    data: &Data,
    h: &Happened,
    o: &Options,
) -> Result<(), crate::Error> {
    let periods = s.calendar.periods(s.target.period);
    let booked: Vec<f64> = periods
        .iter()
        .map(|p| {
            h.metric
                .iter()
                .enumerate()
                .filter(|(w, _)| p.weeks.contains(&(*w as u32)))
                .map(|(_, v)| v)
                .sum()
        })
        .collect();
    let elapsed = t.weeks_elapsed;
    if elapsed >= s.weeks() {
        t.notes
            .push("the horizon is over: nothing left to forecast".into());
        t.p_hit = f64::from(u8::from(t.booked >= t.target));
        t.forecast_mean = t.booked;
        (t.forecast_p10, t.forecast_p50, t.forecast_p90) = (t.booked, t.booked, t.booked);
        return Ok(());
    }
    let channel = channel_for(s);
    // The scenario's own names of the standard stages.
    let stage = |role: &str| -> Option<String> {
        let want = match role {
            "mql" => crate::model::Role::Mql,
            "sal" => crate::model::Role::Sal,
            "sql" => crate::model::Role::Sql,
            _ => crate::model::Role::Opportunity,
        };
        s.model
            .stages
            .iter()
            .find(|st| st.role == Some(want))
            .map(|st| st.name.clone())
    };
    let (csv, open, in_flight) = crate::calibrate::open_pipeline(data, &channel, &stage);
    (t.open_deals, t.in_flight) = (open, in_flight);
    let dir = tempfile::Builder::new()
        .prefix("revplan-track-")
        .tempdir()
        .map_err(|source| crate::Error::Write {
            path: std::env::temp_dir(),
            source,
        })?;
    let csv_path = dir.path().join("pipeline.csv");
    std::fs::write(&csv_path, csv).map_err(|source| crate::Error::Write {
        path: csv_path.clone(),
        source,
    })?;
    let rest_start = plus_days(
        s.calendar.start.unwrap_or(data.as_of),
        7 * i64::from(elapsed),
    );
    let overrides = rest_overrides(s, &booked, elapsed, rest_start, &csv_path);
    let rest = crate::load::load_scenario(scenario_file, &overrides)?;
    let run = crate::sim::run(&rest.base, &o.run.apply(&rest.base.run), &|_| {})?;
    let need = t.target - t.booked;
    let p = run.p_hit_at(need);
    t.p_hit = p.mean.clamp(0.0, 1.0);
    t.p_hit_std_error = p.std_error;
    let f = &run.forecast;
    let total = f.goal.as_ref().unwrap_or(&f.revenue);
    t.forecast_mean = t.booked + total.mean;
    t.forecast_p10 = t.booked + total.p10;
    t.forecast_p50 = t.booked + total.p50;
    t.forecast_p90 = t.booked + total.p90;
    t.trials = f.trials;
    let mut rest_periods = f.periods.iter();
    for ((p, target), b) in periods.iter().zip(&s.target.periods).zip(&booked) {
        let r = if p.weeks.end > elapsed {
            rest_periods.next()
        } else {
            None
        };
        t.periods.push(Period {
            label: p.label.clone(),
            target: *target,
            booked: *b,
            mean: b + r.map_or(0.0, |r| r.mean),
            p10: b + r.map_or(0.0, |r| r.p10),
            p50: b + r.map_or(0.0, |r| r.p50),
            p90: b + r.map_or(0.0, |r| r.p90),
            p_hit: r.map_or(f64::from(u8::from(b >= target)), |r| r.p_hit),
        });
    }
    if s.model.channels.iter().any(|c| c.active_weeks.is_some()) {
        t.notes.push(
            "channels with active weeks keep their week numbers: in the re-forecast they count from the as-of date"
                .into(),
        );
    }
    Ok(())
}

impl crate::export::Exportable for Track {
    const KIND: &'static str = "track";

    fn primary(&self) -> &'static str {
        "periods"
    }

    fn view(&self) -> crate::export::View {
        use crate::export::{Table, Unit, View, col};
        let unit = if self.metric == "revenue" {
            Unit::Money
        } else {
            Unit::Count
        };
        let mut periods = Table::new(
            "periods",
            "by period: booked to date, and booked plus the re-forecast of the weeks left",
            vec![
                col("label", "period", Unit::Text),
                col("target", "target", unit),
                col("booked", "booked", unit),
                col("mean", "forecast", unit),
                col("p10", "P10", unit),
                col("p50", "P50", unit),
                col("p90", "P90", unit),
                col("p_hit", "P(hit)", Unit::Share),
            ],
        );
        for p in &self.periods {
            periods.row(vec![
                p.label.clone().into(),
                p.target.into(),
                p.booked.into(),
                p.mean.into(),
                p.p10.into(),
                p.p50.into(),
                p.p90.into(),
                p.p_hit.into(),
            ]);
        }
        let to_date = |name: &'static str, title: &'static str, rows: &[ToDate]| {
            let mut t = Table::new(
                name,
                title,
                vec![
                    col("what", "", Unit::Text),
                    col("planned", "plan to date", Unit::Count),
                    col("actual", "actual", Unit::Count),
                    col("delta", "ahead (+) / behind (−)", Unit::Count),
                    col("delta_share", "%", Unit::Share),
                ],
            );
            for r in rows {
                t.row(vec![
                    r.what.clone().into(),
                    r.planned.into(),
                    r.actual.into(),
                    r.delta.into(),
                    r.delta_share.into(),
                ]);
            }
            t
        };
        let stages = to_date(
            "stages",
            "by stage: the plan's volumes to date against the actuals",
            &self.stages,
        );
        let sources = to_date("sources", "leads by channel to date", &self.sources);
        let mut weeks = Table::new(
            "weeks",
            "week by week",
            vec![
                col("week", "week", Unit::Number(0)),
                col("date", "from", Unit::Text),
                col("target", "target", unit),
                col("actual", "actual", unit),
                col("cumulative_target", "cum. target", unit),
                col("cumulative_actual", "cum. actual", unit),
                col("planned_leads", "plan leads", Unit::Count),
                col("actual_leads", "leads", Unit::Count),
                col("planned_opportunities", "plan opps", Unit::Count),
                col("actual_opportunities", "opps", Unit::Count),
            ],
        )
        .detail();
        for w in &self.weeks {
            weeks.row(vec![
                f64::from(w.week).into(),
                w.date.clone().into(),
                w.target.into(),
                w.actual.into(),
                w.cumulative_target.into(),
                w.cumulative_actual.into(),
                w.planned_leads.into(),
                w.actual_leads.into(),
                w.planned_opportunities.into(),
                w.actual_opportunities.into(),
            ]);
        }
        let money = |x: f64| {
            if self.metric == "revenue" {
                crate::export::format::money(x)
            } else {
                format!("{x:.0}")
            }
        };
        let gap = self.booked - self.target_to_date;
        let mut lines = vec![
            format!(
                "As of {} (week {} of {}): booked {} against {} planned to date — {} by {}{}",
                self.as_of,
                self.weeks_elapsed,
                self.horizon_weeks,
                money(self.booked),
                money(self.target_to_date),
                if gap >= 0.0 { "ahead" } else { "behind" },
                money(gap.abs()),
                if self.target_to_date > 0.0 {
                    format!(" ({:+.1}%)", 100.0 * gap / self.target_to_date)
                } else {
                    String::new()
                }
            ),
            format!(
                "P({} ≥ {} target) today: {} ± {}; forecast {} (P10 {}, P90 {}) from what is booked, {} open deals and {} leads in flight, then new leads as planned ({} trials)",
                self.metric,
                money(self.target),
                crate::export::format::pct(self.p_hit),
                crate::export::format::pct(self.p_hit_std_error),
                money(self.forecast_mean),
                money(self.forecast_p10),
                money(self.forecast_p90),
                self.open_deals,
                self.in_flight,
                self.trials
            ),
        ];
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        View {
            title: format!("Tracking \"{}\"", self.scenario),
            lines,
            tables: vec![periods, stages, sources, weeks],
            ..View::default()
        }
    }
}

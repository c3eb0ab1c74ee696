//! `revplan calibrate`: a model fitted to the actuals — volumes, scores,
//! stage conversions (censored, pooled across sources), stage times, the
//! sales cycle, win rates and deal sizes — written as a model file with
//! the evidence of each value in a comment, and the open pipeline and
//! in-flight leads at the as-of date as its pipeline CSV.

pub mod fit;
mod write;

pub use write::pipeline_name;

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::Serialize;

use crate::actuals::{Data, Deal, Lead, Status, days};
use fit::{Counts, LogNormalFit, Outcomes};

/// The transitions a lead's dates show, after the MQL gate.
pub const STEPS: [(&str, &str); 3] = [("mql", "sal"), ("sal", "sql"), ("sql", "opportunity")];

/// What to fit from.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Leads and deals created before this date are left out (after a
    /// change of regime).
    pub since: Option<Date>,
    /// The model's name.
    pub name: String,
    /// The file name of the pipeline CSV the model points at (beside it).
    pub pipeline_file: Option<String>,
}

/// One rate of one source: the evidence and the posterior.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RateFit {
    /// `lead→mql`, `mql→sal`, …, `opportunity→won`.
    pub step: String,
    pub source: String,
    pub items: usize,
    pub converted: usize,
    pub failed: usize,
    pub open: usize,
    /// The posterior Beta(alpha, beta), pooled across sources.
    pub alpha: f64,
    pub beta: f64,
    pub mean: f64,
    pub p5: f64,
    pub p95: f64,
    /// The source's mean score on this step, in tens of points from the
    /// quality reference (what moves its rate to the reference's).
    pub score_offset: Option<f64>,
}

/// How the score moves a step: log-odds (or, for the deal size, log
/// dollars) per 10 points, fitted with one level per source.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ScoreEffect {
    pub step: String,
    pub per_10_points: f64,
    pub std_error: f64,
    pub items: usize,
    /// Beyond chance (|z| > 3), and so written to the model.
    pub used: bool,
}

/// One source as a channel of the model.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ChannelFit {
    pub source: String,
    /// Its key in the model file.
    pub key: String,
    pub leads: usize,
    pub leads_per_week: f64,
    /// Variance over mean of the weekly counts (1 for Poisson).
    pub dispersion: f64,
    /// The gamma-Poisson CV written, when the dispersion is beyond chance.
    pub arrival_cv: Option<f64>,
    pub score_mean: Option<f64>,
    pub score_sd: Option<f64>,
    pub cost_per_lead: Option<f64>,
    /// Won deals with an amount, and the log-normal fitted to them.
    pub won_deals: usize,
    pub size_median: Option<f64>,
    pub size_sigma: Option<f64>,
    /// Monthly factors of arrivals (January first), when the data shows
    /// seasonality beyond chance; and what was found either way.
    pub seasonality: Option<Vec<f64>>,
    pub seasonality_note: String,
    /// Mean score of the won deals sized, in tens of points from the
    /// quality reference.
    pub size_score_offset: Option<f64>,
}

/// A waiting time.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TimeFit {
    pub what: String,
    pub events: usize,
    pub censored: usize,
    pub median_weeks: f64,
    pub median_p5: f64,
    pub median_p95: f64,
    pub sigma: f64,
    /// The 90% interval of sigma (normal, from its standard error).
    pub sigma_p5: f64,
    pub sigma_p95: f64,
}

/// What calibration found, and the files it makes.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Calibration {
    pub as_of: String,
    pub since: Option<String>,
    pub weeks: f64,
    /// The MQL threshold inferred from scores, and the share of leads it
    /// classifies as the data does.
    pub threshold: Option<f64>,
    pub threshold_agreement: Option<f64>,
    pub channels: Vec<ChannelFit>,
    pub rates: Vec<RateFit>,
    pub times: Vec<TimeFit>,
    pub open_deals: usize,
    pub in_flight: usize,
    /// The score at which the quality lift is zero, and the score's
    /// effect on each step (when scores are present).
    pub quality_reference: Option<f64>,
    pub score_effects: Vec<ScoreEffect>,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub model: String,
    #[serde(skip)]
    pub pipeline: String,
}

/// A model key for a source's name: lower case, `_` between words.
pub fn channel_key(source: &str) -> String {
    let mut key = String::new();
    for c in source.trim().chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    let key = key.trim_end_matches('_').to_string();
    match key.chars().next() {
        None => "unknown".into(),
        Some(c) if c.is_ascii_digit() => format!("source_{key}"),
        Some(_) => key,
    }
}

fn weeks_between(a: Date, b: Date) -> f64 {
    days(a, b) as f64 / 7.0
}

/// Weekly time CDF of converters, from their times in weeks; and for
/// each the longest time it could have been seen with (entry to the
/// cut-off), which makes the converters a right-truncated sample.
#[derive(Clone, Debug, Default)]
struct Times {
    weeks: Vec<f64>,
    bounds: Vec<f64>,
}

/// Fewest conversions a stage's log-normal tail is fitted from.
const TAIL_MIN_EVENTS: usize = 10;

impl Times {
    fn cdf(&self, age: f64) -> f64 {
        if self.weeks.is_empty() {
            return 1.0;
        }
        let below = self.weeks.partition_point(|w| *w <= age);
        below as f64 / self.weeks.len() as f64
    }

    /// From (time, bound) pairs, in weeks.
    fn observed(pairs: impl Iterator<Item = (f64, f64)>) -> Times {
        let (mut weeks, bounds): (Vec<f64>, Vec<f64>) = pairs.unzip();
        weeks.sort_by(f64::total_cmp);
        Times { weeks, bounds }
    }

    /// The log-normal fitted to the converters' times by truncated maximum
    /// likelihood (times under half a day count as half a day), when there
    /// are enough of them.
    fn tail(&self) -> Option<fit::LogNormalFit> {
        if self.weeks.len() < TAIL_MIN_EVENTS {
            return None;
        }
        let floor = |x: &f64| x.max(0.5 / 7.0);
        let events: Vec<f64> = self.weeks.iter().map(floor).collect();
        let bounds: Vec<f64> = self.bounds.iter().map(floor).collect();
        fit::lognormal_fit(&fit::Waits {
            events: &events,
            censored: &[],
            bounds: &bounds,
        })
    }

    /// The empirical distribution in whole weeks: (week, share).
    fn histogram(&self) -> Vec<(u32, f64)> {
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        for w in &self.weeks {
            *counts
                .entry(w.round().clamp(0.0, 520.0) as u32)
                .or_default() += 1;
        }
        let n = self.weeks.len().max(1) as f64;
        counts.into_iter().map(|(w, c)| (w, c as f64 / n)).collect()
    }
}

/// The leads used: created in the window, by source.
struct Window<'a> {
    data: &'a Data,
    start: Date,
    leads: Vec<&'a Lead>,
    sources: Vec<String>,
}

impl<'a> Window<'a> {
    fn new(data: &'a Data, o: &Options) -> Window<'a> {
        let first = data
            .leads
            .iter()
            .map(|l| l.created)
            .min()
            .unwrap_or(data.as_of);
        let start = o.since.map_or(first, |s| s.max(first));
        let leads: Vec<&Lead> = data.leads.iter().filter(|l| l.created >= start).collect();
        let mut sources: Vec<String> = leads.iter().map(|l| source_of(l)).collect();
        sources.sort();
        sources.dedup();
        Window {
            data,
            start,
            leads,
            sources,
        }
    }

    fn weeks(&self) -> f64 {
        (weeks_between(self.start, self.data.as_of) + 1.0 / 7.0).max(1.0 / 7.0)
    }
}

fn source_of(l: &Lead) -> String {
    if l.source.trim().is_empty() {
        "(blank)".into()
    } else {
        l.source.clone()
    }
}

/// Converters' times and each source's outcomes for the step from
/// `stages[from]` to `stages[from + 1]`.
fn step_outcomes(w: &Window, from: usize) -> (Times, BTreeMap<String, Outcomes>) {
    let as_of = w.data.as_of;
    let times = Times::observed(w.leads.iter().filter_map(|l| {
        let entered = l.stages[from]?;
        Some((
            weeks_between(entered, l.stages[from + 1]?),
            weeks_between(entered, as_of),
        ))
    }));
    let mut by: BTreeMap<String, Outcomes> = BTreeMap::new();
    for l in &w.leads {
        let Some(entered) = l.stages[from] else {
            continue;
        };
        let o = by.entry(source_of(l)).or_default();
        if l.stages[from + 1].is_some() {
            o.converted += 1;
        } else if l.rejected && l.stages[from + 1..].iter().all(Option::is_none) {
            o.failed += 1;
        } else {
            o.open.push(times.cdf(weeks_between(entered, as_of)));
        }
    }
    (times, by)
}

/// Pools each source's evidence and returns the fits, in source order.
fn pooled(step: &str, by: &BTreeMap<String, Outcomes>) -> Vec<RateFit> {
    let counts: Vec<Counts> = by.values().map(fit::conversion).collect();
    let prior = fit::pool(&counts);
    by.iter()
        .zip(&counts)
        .map(|((source, o), c)| {
            let post = prior.posterior(*c);
            let (alpha, beta) = post.as_beta();
            RateFit {
                step: step.into(),
                source: source.clone(),
                items: o.items(),
                converted: o.converted,
                failed: o.failed,
                open: o.open.len(),
                alpha,
                beta,
                mean: post.mean(),
                score_offset: None,
                // The interval of the Beta the model file draws from.
                p5: fit::beta_interval(alpha, beta, 0.9).0,
                p95: fit::beta_interval(alpha, beta, 0.9).1,
            }
        })
        .collect()
}

/// The deals in the window, with the source of each (its own, else its
/// lead's).
fn deals_with_source<'a>(w: &Window<'a>) -> Vec<(&'a crate::actuals::Deal, String)> {
    let lead_source: BTreeMap<&str, String> = w
        .leads
        .iter()
        .map(|l| (l.id.as_str(), source_of(l)))
        .collect();
    w.data
        .deals
        .iter()
        .filter(|d| d.created >= w.start)
        .filter_map(|d| {
            let source = d
                .lead
                .as_deref()
                .and_then(|id| lead_source.get(id).cloned())
                .or_else(|| d.source.clone().filter(|s| !s.trim().is_empty()))?;
            Some((d, source))
        })
        .collect()
}

/// The MQL threshold that best separates MQLs from the rest, among leads
/// old enough to have become one, and the share it gets right.
fn threshold(w: &Window, lag: &Times) -> Option<(f64, f64)> {
    let settle = lag.weeks.last().copied().unwrap_or(0.0);
    let mut scored: Vec<(f64, bool)> = w
        .leads
        .iter()
        .filter(|l| weeks_between(l.created, w.data.as_of) > settle)
        .filter_map(|l| Some((l.score?, l.stages[0].is_some())))
        .collect();
    if scored.len() < 50 || scored.len() * 5 < w.leads.len() * 4 {
        return None;
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = scored.len();
    let mqls = scored.iter().filter(|s| s.1).count();
    // Wrong if the threshold sits at i: MQLs below, non-MQLs at or above.
    let (mut best, mut at, mut mql_below) = (n - mqls, 0, 0);
    for i in 1..=n {
        mql_below += usize::from(scored[i - 1].1);
        let at_or_above_non = (n - i) - (mqls - mql_below);
        let wrong = mql_below + at_or_above_non;
        if wrong < best && (i == n || scored[i].0 > scored[i - 1].0) {
            best = wrong;
            at = i;
        }
    }
    let t = scored.get(at).map_or(scored[n - 1].0 + 1.0, |s| s.0);
    Some((t, 1.0 - best as f64 / n as f64))
}

/// Calibrates the model to the actuals.
pub fn calibrate(data: &Data, o: &Options) -> Calibration {
    let w = Window::new(data, o);
    let mut warnings = Vec::new();
    let mut rates = Vec::new();
    let mut times = Vec::new();

    // Lead → MQL: the score gate when scores say who became an MQL.
    let mql_lag = Times::observed(w.leads.iter().filter_map(|l| {
        Some((
            weeks_between(l.created, l.stages[0]?),
            weeks_between(l.created, data.as_of),
        ))
    }));
    let gate = threshold(&w, &mql_lag).filter(|(_, agree)| *agree >= 0.95);
    if gate.is_none() {
        let first = w.leads.iter().map(|l| (source_of(l), l)).fold(
            BTreeMap::<String, Outcomes>::new(),
            |mut by, (s, l)| {
                let out = by.entry(s).or_default();
                match l.stages[0] {
                    Some(_) => out.converted += 1,
                    None => out
                        .open
                        .push(mql_lag.cdf(weeks_between(l.created, data.as_of))),
                }
                by
            },
        );
        rates.extend(pooled("lead→mql", &first));
    }
    let mut delays = vec![mql_lag];
    for (i, (from, to)) in STEPS.iter().enumerate() {
        let (t, by) = step_outcomes(&w, i);
        rates.extend(pooled(&format!("{from}→{to}"), &by));
        delays.push(t);
    }

    let deals = deals_with_source(&w);
    let cycle = cycle_fit(&deals, data.as_of);
    if let Some(c) = &cycle {
        times.push(time_fit("sales cycle (created → closed)", c));
        if c.censored > c.events || c.events < 30 {
            warnings.push(format!(
                "little follow-up of deals: {} closed, {} still open; the sales cycle's tail is \
                 an extrapolation of the log-normal fit",
                c.events, c.censored
            ));
        }
    }
    rates.extend(win_rates(&deals));
    let channels = channels(&w, &deals);
    for c in channels.iter().filter(|c| c.leads < 100) {
        warnings.push(format!(
            "source {:?} has {} leads: its rates lean on the other sources (partial pooling)",
            c.source, c.leads
        ));
    }
    warnings.extend(regime_change(&w));
    let (pipeline, open_deals, in_flight) =
        write::pipeline(&w, &deals, &delays, &channel_key, &|s| Some(s.to_string()));
    let mut cal = Calibration {
        as_of: data.as_of.to_string(),
        since: o.since.map(|d| d.to_string()),
        weeks: w.weeks(),
        threshold: gate.map(|g| g.0),
        threshold_agreement: gate.map(|g| g.1),
        channels,
        rates,
        times,
        open_deals,
        in_flight,
        quality_reference: None,
        score_effects: Vec::new(),
        warnings,
        model: String::new(),
        pipeline,
    };
    score_effects(&mut cal, &w, &deals, &delays);
    cal.model = write::model(&cal, &delays, cycle.as_ref(), &o.name);
    if let Some(file) = &o.pipeline_file
        && cal.open_deals + cal.in_flight > 0
    {
        cal.model += &format!(
            "# {} open deals and {} leads in flight at {}.\n[pipeline]\ncsv = {}\nstale = \"lost\"\n",
            cal.open_deals,
            cal.in_flight,
            cal.as_of,
            serde_json::to_string(file).unwrap_or_default()
        );
    }
    cal
}

/// The pipeline CSV of what is open at the data's as-of date — open deals,
/// and leads in a stage they may yet leave — with each source named by
/// `channel` and each stage (mql, sal, sql, opportunity) by `stage` (rows
/// of a stage it does not name are left out); and the counts of each.
pub fn open_pipeline(
    data: &Data,
    channel: &dyn Fn(&str) -> String,
    stage: &dyn Fn(&str) -> Option<String>,
) -> (String, usize, usize) {
    let w = Window::new(data, &Options::default());
    let mut delays = vec![Times::default()];
    for i in 0..STEPS.len() {
        delays.push(step_outcomes(&w, i).0);
    }
    write::pipeline(&w, &deals_with_source(&w), &delays, channel, stage)
}

/// |z| beyond which a score effect is taken as real.
const EFFECT_Z: f64 = 3.0;

/// The score's effect on each step and on the deal size, with one level
/// per source (so that a source of better leads is not read as a score
/// effect): resolved items only — converted, failed, or open for longer
/// than 95% of converters took.
fn score_effects(c: &mut Calibration, w: &Window, deals: &[(&Deal, String)], delays: &[Times]) {
    let scores: Vec<f64> = w
        .leads
        .iter()
        .filter(|l| l.stages[0].is_some())
        .filter_map(|l| l.score)
        .collect();
    if scores.len() < 100 {
        return;
    }
    let reference = (scores.iter().sum::<f64>() / scores.len() as f64).round();
    let tens = |score: f64| (score - reference) / 10.0;
    let index = |source: &str| w.sources.iter().position(|s| s == source).unwrap_or(0);
    let groups = w.sources.len();
    let add = |c: &mut Calibration, step: &str, items: Vec<(usize, f64, bool)>| {
        let Some(f) = fit::grouped_logistic(&items, groups) else {
            return;
        };
        for r in c.rates.iter_mut().filter(|r| r.step == step) {
            let g = index(&r.source);
            let xs: Vec<f64> = items.iter().filter(|i| i.0 == g).map(|i| i.1).collect();
            r.score_offset = (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
        }
        c.score_effects.push(ScoreEffect {
            step: step.into(),
            per_10_points: f.slope,
            std_error: f.se,
            items: f.items,
            used: f.z().abs() > EFFECT_Z,
        });
    };
    for (i, (from, to)) in STEPS.iter().enumerate() {
        let items: Vec<(usize, f64, bool)> = w
            .leads
            .iter()
            .filter_map(|l| {
                let entered = l.stages[i]?;
                let score = l.score?;
                let yes = l.stages[i + 1].is_some();
                let done =
                    l.rejected || delays[i + 1].cdf(weeks_between(entered, w.data.as_of)) >= 0.95;
                (yes || done).then(|| (index(&source_of(l)), tens(score), yes))
            })
            .collect();
        add(c, &format!("{from}→{to}"), items);
    }
    let score_of: BTreeMap<&str, f64> = w
        .leads
        .iter()
        .filter_map(|l| Some((l.id.as_str(), l.score?)))
        .collect();
    let scored = |d: &Deal| d.lead.as_deref().and_then(|id| score_of.get(id)).copied();
    let won: Vec<(usize, f64, bool)> = deals
        .iter()
        .filter(|(d, _)| d.status != Status::Open)
        .filter_map(|(d, s)| Some((index(s), tens(scored(d)?), d.status == Status::Won)))
        .collect();
    add(c, "opportunity→won", won);
    let sizes: Vec<(usize, f64, f64)> = deals
        .iter()
        .filter(|(d, _)| d.status == Status::Won)
        .filter_map(|(d, s)| {
            let amount = d.amount.filter(|a| *a > 0.0)?;
            Some((index(s), tens(scored(d)?), amount.ln()))
        })
        .collect();
    for (g, ch) in c.channels.iter_mut().enumerate() {
        let xs: Vec<f64> = sizes.iter().filter(|i| i.0 == g).map(|i| i.1).collect();
        ch.size_score_offset = (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    }
    if let Some(f) = fit::grouped_linear(&sizes, groups) {
        c.score_effects.push(ScoreEffect {
            step: "deal size".into(),
            per_10_points: f.slope,
            std_error: f.se,
            items: f.items,
            used: f.z().abs() > EFFECT_Z,
        });
    }
    c.quality_reference = Some(reference);
}

fn time_fit(what: &str, c: &LogNormalFit) -> TimeFit {
    let (lo, hi) = c.median_interval(1.645);
    TimeFit {
        what: what.into(),
        events: c.events,
        censored: c.censored,
        median_weeks: c.median(),
        median_p5: lo,
        median_p95: hi,
        sigma: c.sigma,
        sigma_p5: c.sigma - 1.645 * c.sigma_se,
        sigma_p95: c.sigma + 1.645 * c.sigma_se,
    }
}

/// The sales cycle: closed deals are events, open ones censored at age.
fn cycle_fit(deals: &[(&crate::actuals::Deal, String)], as_of: Date) -> Option<LogNormalFit> {
    let mut events = Vec::new();
    let mut censored = Vec::new();
    for (d, _) in deals {
        match (d.status, d.closed) {
            (Status::Open, _) | (_, None) => {
                censored.push(weeks_between(d.created, as_of).max(0.5 / 7.0))
            }
            (_, Some(c)) => events.push(weeks_between(d.created, c).max(0.5 / 7.0)),
        }
    }
    fit::lognormal(&events, &censored)
}

/// Win rates: won and lost deals by source (an open deal says nothing of
/// its outcome when won and lost deals take the same time to close).
fn win_rates(deals: &[(&crate::actuals::Deal, String)]) -> Vec<RateFit> {
    let mut by: BTreeMap<String, Outcomes> = BTreeMap::new();
    for (d, s) in deals {
        let o = by.entry(s.clone()).or_default();
        match d.status {
            Status::Won => o.converted += 1,
            Status::Lost => o.failed += 1,
            Status::Open => o.open.push(0.0),
        }
    }
    pooled("opportunity→won", &by)
}

fn mean_sd(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, var.sqrt()))
}

fn channels(w: &Window, deals: &[(&crate::actuals::Deal, String)]) -> Vec<ChannelFit> {
    let full_weeks = (w.weeks().floor() as usize).max(1);
    let cost_by_key: BTreeMap<String, f64> = w
        .data
        .costs
        .iter()
        .filter(|c| c.month >= w.start.first_of_month())
        .fold(BTreeMap::new(), |mut m, c| {
            *m.entry(channel_key(&c.channel)).or_default() += c.amount;
            m
        });
    w.sources
        .iter()
        .map(|source| {
            let mine: Vec<&&Lead> = w.leads.iter().filter(|l| source_of(l) == *source).collect();
            let mut weekly = vec![0.0; full_weeks];
            for l in &mine {
                let i = (days(w.start, l.created) / 7) as usize;
                if let Some(c) = weekly.get_mut(i) {
                    *c += 1.0;
                }
            }
            let (mean, sd) = mean_sd(&weekly).unwrap_or((mine.len() as f64, 0.0));
            let (seasonality, seasonality_note) = seasonality(&weekly, w.start);
            // Over-dispersion around the seasonal level, if any.
            let sd = match &seasonality {
                Some(f) => residual_sd(&weekly, w.start, mean, f),
                None => sd,
            };
            let dispersion = if mean > 0.0 { sd * sd / mean } else { 1.0 };
            // Poisson counts give variance/mean 1 ± √(2/(n−1)); beyond 3
            // of those, the extra variance is the gamma mixing.
            let chance = 3.0 * (2.0 / (full_weeks as f64 - 1.0).max(1.0)).sqrt();
            let arrival_cv = (dispersion > 1.0 + chance && mean > 0.0)
                .then(|| ((sd * sd - mean).max(0.0)).sqrt() / mean);
            let scores: Vec<f64> = mine.iter().filter_map(|l| l.score).collect();
            let score = mean_sd(&scores);
            let key = channel_key(source);
            let amounts: Vec<f64> = deals
                .iter()
                .filter(|(d, s)| s == source && d.status == Status::Won)
                .filter_map(|(d, _)| d.amount.filter(|a| *a > 0.0).map(f64::ln))
                .collect();
            let size = mean_sd(&amounts).filter(|_| amounts.len() >= 10);
            ChannelFit {
                source: source.clone(),
                leads: mine.len(),
                leads_per_week: mine.len() as f64 / w.weeks(),
                dispersion,
                arrival_cv,
                score_mean: score.map(|s| s.0),
                score_sd: score.map(|s| s.1.max(0.1)),
                cost_per_lead: cost_by_key
                    .get(&key)
                    .filter(|_| !mine.is_empty())
                    .map(|c| c / mine.len() as f64),
                won_deals: amounts.len(),
                size_median: size.map(|s| s.0.exp()),
                size_sigma: size.map(|s| s.1.max(0.01)),
                seasonality,
                seasonality_note,
                size_score_offset: None,
                key,
            }
        })
        .collect()
}

/// Calendar month (0..12) of the week `i` weeks after `start`.
fn month_of_week(start: Date, i: usize) -> usize {
    crate::actuals::plus_days(start, 7 * i as i64).month() as usize - 1
}

/// Two years of weeks are needed to tell a month's level from a trend.
const SEASONAL_WEEKS: usize = 104;

/// Monthly seasonality of weekly arrivals from `start`: each calendar
/// month's mean week over the overall mean, kept when the monthly totals
/// depart from an even spread beyond chance (Pearson's χ² with 11 degrees
/// of freedom above 31.26, p < 0.001).
fn seasonality(weekly: &[f64], start: Date) -> (Option<Vec<f64>>, String) {
    if weekly.len() < SEASONAL_WEEKS {
        return (
            None,
            format!(
                "seasonality not estimated: {} weeks of data (two years are needed to tell it from a trend)",
                weekly.len()
            ),
        );
    }
    let total: f64 = weekly.iter().sum();
    let mean = total / weekly.len() as f64;
    if mean <= 0.0 {
        return (None, "seasonality not estimated: no leads".into());
    }
    let mut months = [(0.0, 0.0); 12];
    for (i, n) in weekly.iter().enumerate() {
        let m = &mut months[month_of_week(start, i)];
        m.0 += n;
        m.1 += 1.0;
    }
    let chi2: f64 = months
        .iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(o, w)| (o - mean * w).powi(2) / (mean * w))
        .sum();
    if chi2 <= 31.26 {
        return (
            None,
            format!(
                "no seasonality beyond chance (monthly χ² = {chi2:.1} on 11 degrees of freedom)"
            ),
        );
    }
    let factors = months
        .iter()
        .map(|(o, w)| if *w > 0.0 { (o / w) / mean } else { 1.0 })
        .collect();
    (
        Some(factors),
        format!("monthly seasonality (χ² = {chi2:.1} on 11 degrees of freedom, p < 0.001)"),
    )
}

/// The standard deviation of weekly counts around `mean` × their month's
/// factor.
fn residual_sd(weekly: &[f64], start: Date, mean: f64, factors: &[f64]) -> f64 {
    let n = weekly.len() as f64;
    let ss: f64 = weekly
        .iter()
        .enumerate()
        .map(|(i, x)| (x - mean * factors[month_of_week(start, i)]).powi(2))
        .sum();
    (ss / (n - 1.0).max(1.0)).sqrt()
}

/// A change of regime: MQL acceptance of the older and the newer half of
/// the window's decided MQLs differ beyond chance (|z| > 3).
fn regime_change(w: &Window) -> Option<String> {
    let mid = crate::actuals::plus_days(w.start, (days(w.start, w.data.as_of) / 2).max(0));
    let mut halves = [(0.0, 0.0); 2];
    for l in &w.leads {
        let Some(mql) = l.stages[0] else { continue };
        let decided = l.stages[1].is_some() || l.rejected;
        if !decided {
            continue;
        }
        let h = &mut halves[usize::from(mql >= mid)];
        h.0 += f64::from(u8::from(l.stages[1].is_some()));
        h.1 += 1.0;
    }
    let [(a, n), (b, m)] = halves;
    if n < 30.0 || m < 30.0 {
        return None;
    }
    let (p, q) = (a / n, b / m);
    let pooled = (a + b) / (n + m);
    let se = (pooled * (1.0 - pooled) * (1.0 / n + 1.0 / m)).sqrt();
    let z = (q - p) / se.max(1e-12);
    (z.abs() > 3.0).then(|| {
        format!(
            "change of regime: MQL acceptance was {:.1}% before {mid} and {:.1}% since (z = {z:.1}); \
             if the change is real, fit to the recent data alone with --since {mid}",
            100.0 * p,
            100.0 * q
        )
    })
}

impl crate::export::Exportable for Calibration {
    const KIND: &'static str = "calibration";

    fn primary(&self) -> &'static str {
        "rates"
    }

    fn view(&self) -> crate::export::View {
        use crate::export::{Table, Unit, View, col};
        let mut rates = Table::new(
            "rates",
            "conversion by step and source (censored, pooled), 90% intervals",
            vec![
                col("step", "step", Unit::Text),
                col("source", "source", Unit::Text),
                col("items", "items", Unit::Count),
                col("converted", "converted", Unit::Count),
                col("failed", "failed", Unit::Count),
                col("open", "open", Unit::Count),
                col("mean", "rate", Unit::Share),
                col("p5", "P5", Unit::Share),
                col("p95", "P95", Unit::Share),
            ],
        );
        for r in &self.rates {
            rates.row(vec![
                r.step.clone().into(),
                r.source.clone().into(),
                (r.items as f64).into(),
                (r.converted as f64).into(),
                (r.failed as f64).into(),
                (r.open as f64).into(),
                r.mean.into(),
                r.p5.into(),
                r.p95.into(),
            ]);
        }
        let mut channels = Table::new(
            "channels",
            "sources as channels",
            vec![
                col("source", "source", Unit::Text),
                col("key", "key", Unit::Text),
                col("leads", "leads", Unit::Count),
                col("leads_per_week", "leads/wk", Unit::Number(1)),
                col("dispersion", "var/mean", Unit::Number(2)),
                col("arrival_cv", "arrival CV", Unit::Number(2)),
                col("score_mean", "score", Unit::Number(1)),
                col("cost_per_lead", "cost/lead", Unit::Money),
                col("size_median", "deal P50", Unit::Money),
            ],
        );
        for c in &self.channels {
            channels.row(vec![
                c.source.clone().into(),
                c.key.clone().into(),
                (c.leads as f64).into(),
                c.leads_per_week.into(),
                c.dispersion.into(),
                c.arrival_cv.into(),
                c.score_mean.into(),
                c.cost_per_lead.into(),
                c.size_median.into(),
            ]);
        }
        let mut times = Table::new(
            "times",
            "waiting times (censored log-normal)",
            vec![
                col("what", "what", Unit::Text),
                col("events", "ended", Unit::Count),
                col("censored", "still open", Unit::Count),
                col("median", "median", Unit::Weeks),
                col("median_p5", "P5", Unit::Weeks),
                col("median_p95", "P95", Unit::Weeks),
                col("sigma", "sigma", Unit::Number(2)),
            ],
        );
        for t in &self.times {
            times.row(vec![
                t.what.clone().into(),
                (t.events as f64).into(),
                (t.censored as f64).into(),
                t.median_weeks.into(),
                t.median_p5.into(),
                t.median_p95.into(),
                t.sigma.into(),
            ]);
        }
        let mut lines = vec![format!(
            "{:.1} weeks of leads to {}; MQL threshold {}; {} open deals and {} leads in flight",
            self.weeks,
            self.as_of,
            match (self.threshold, self.threshold_agreement) {
                (Some(t), Some(a)) => format!("{t} ({:.1}% of leads agree)", 100.0 * a),
                _ => "none (scores do not decide MQLs)".into(),
            },
            self.open_deals,
            self.in_flight
        )];
        lines.extend(self.warnings.iter().map(|w| format!("warning: {w}")));
        View {
            title: format!("Calibration as of {}", self.as_of),
            lines,
            tables: vec![rates, channels, times],
            ..View::default()
        }
    }
}

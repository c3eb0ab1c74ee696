//! Reports from actuals: lead production and sales performance by period
//! and by arrival cohort (censoring explicit), ROI and CAC by source, lead
//! acceptance and SLA compliance, stage volume, velocity (Kaplan–Meier) and
//! conversion, win rates by owner and product, the open pipeline at the
//! as-of date, marketing influence, and a reproducible review sample.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::Serialize;

use super::km::Survival;
use super::{Data, Deal, Lead, Map, Quality, STAGES, Set, Status, days};
use crate::export::{Cell, Exportable, Table, Unit, View, col};
use crate::metrics;

/// The period rows are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Week,
    #[default]
    Month,
    Quarter,
}

impl By {
    /// The first day of the period holding `d`.
    pub fn start(self, d: Date) -> Date {
        match self {
            By::Week => d
                .checked_sub(jiff::Span::new().days(i64::from(
                    d.iso_week_date().weekday().to_monday_zero_offset(),
                )))
                .unwrap_or(d),
            By::Month => d.first_of_month(),
            By::Quarter => Date::new(d.year(), (d.month() - 1) / 3 * 3 + 1, 1).unwrap_or(d),
        }
    }

    /// The label of the period starting at `start`: `2025-W05`, `2025-03`,
    /// `2025-Q1`.
    pub fn label(self, start: Date) -> String {
        match self {
            By::Week => {
                let iso = start.iso_week_date();
                format!("{}-W{:02}", iso.year(), iso.week())
            }
            By::Month => format!("{}-{:02}", start.year(), start.month()),
            By::Quarter => format!("{}-Q{}", start.year(), (start.month() - 1) / 3 + 1),
        }
    }

    /// The first day after the period starting at `start`.
    fn end(self, start: Date) -> Date {
        let span = match self {
            By::Week => jiff::Span::new().days(7),
            By::Month => jiff::Span::new().months(1),
            By::Quarter => jiff::Span::new().months(3),
        };
        start.checked_add(span).unwrap_or(Date::MAX)
    }
}

/// What the report is asked for.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub by: By,
    /// A review sample of this many rejected and as many ignored leads.
    pub review: usize,
    pub seed: u64,
}

/// Quartiles of a time in days (`None` where censoring hides it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Days {
    pub p25: Option<f64>,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
}

impl Days {
    fn of(s: &Survival) -> Days {
        Days {
            p25: s.quantile(0.25),
            p50: s.quantile(0.5),
            p75: s.quantile(0.75),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Size {
    pub mean: Option<f64>,
    pub p50: Option<f64>,
}

/// Events that happened in a period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PeriodRow {
    pub label: String,
    pub start: String,
    pub leads: usize,
    pub mqls: usize,
    pub sals: usize,
    pub rejected: usize,
    pub sqls: usize,
    pub opportunities: usize,
    pub wins: usize,
    pub losses: usize,
    pub revenue: f64,
    pub spend: Option<f64>,
    pub cost_per_lead: Option<f64>,
    /// SALs per MQL of the MQLs of the period (see [`metrics`]).
    pub acceptance_rate: Option<f64>,
}

/// The leads that arrived in a period, followed to the as-of date.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Cohort {
    pub label: String,
    pub leads: usize,
    pub mqls: usize,
    pub sals: usize,
    pub rejected: usize,
    pub sqls: usize,
    pub opportunities: usize,
    pub wins: usize,
    pub losses: usize,
    /// Leads with no outcome yet (not rejected, not won, not lost).
    pub open: usize,
    pub revenue: f64,
    pub spend: Option<f64>,
    pub lead_to_win: Option<f64>,
    /// Spend of the cohort's period per win of its leads.
    pub cac: Option<f64>,
    pub roi: Option<f64>,
    /// Younger than the time 90% of won leads took to win: its figures
    /// will still grow; a low conversion here is not a failure.
    pub young: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SourceRow {
    pub name: String,
    pub leads: usize,
    pub mqls: usize,
    pub sals: usize,
    pub acceptance_rate: Option<f64>,
    pub sqls: usize,
    pub opportunities: usize,
    pub wins: usize,
    pub losses: usize,
    pub open_deals: usize,
    /// Wins per closed deal.
    pub win_rate: Option<f64>,
    pub revenue: f64,
    /// Days from deal created to closed (Kaplan–Meier: open deals censored).
    pub cycle_days: Days,
    pub deal_size: Size,
    pub spend: Option<f64>,
    pub cost_per_lead: Option<f64>,
    pub cac: Option<f64>,
    pub roi: Option<f64>,
}

/// Acceptance of one month's MQLs from one source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AcceptanceRow {
    pub month: String,
    pub source: String,
    pub mqls: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// Neither accepted nor rejected by the as-of date.
    pub pending: usize,
    pub acceptance_rate: Option<f64>,
}

/// Follow-up of one month's MQLs against the SLA.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SlaRow {
    pub month: String,
    pub mqls: usize,
    /// Touched at least once, ever.
    pub followed_up: usize,
    /// Touched as often as agreed within the agreed days.
    pub within_sla: usize,
    pub compliance: Option<f64>,
    /// Never touched and never decided.
    pub ignored: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StageRow {
    pub stage: String,
    pub entered: usize,
    /// Entered the next stage (for `opportunity`: won).
    pub converted: usize,
    pub conversion: Option<f64>,
    /// Days to the next stage (Kaplan–Meier, open items censored).
    pub days_p25: Option<f64>,
    pub days_p50: Option<f64>,
    pub days_p75: Option<f64>,
}

/// Deals by owner or product.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Breakdown {
    pub by: String,
    pub name: String,
    pub deals: usize,
    pub wins: usize,
    pub losses: usize,
    pub open: usize,
    pub win_rate: Option<f64>,
    pub revenue: f64,
    pub cycle_days_p50: Option<f64>,
    pub deal_size_mean: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Bucket {
    pub by: String,
    pub name: String,
    pub open: usize,
    pub value: f64,
    pub stale: usize,
}

/// The open pipeline at the as-of date.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Pipeline {
    pub open: usize,
    pub value: f64,
    /// Older than any deal that ever closed.
    pub stale: usize,
    pub stale_value: f64,
    /// The longest closed cycle, in days: the stale line.
    pub longest_closed_days: i64,
    pub buckets: Vec<Bucket>,
}

/// Sales-sourced leads and deals marketing touched first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Influence {
    pub sales_sourced_leads: usize,
    pub influenced_leads: usize,
    pub sales_sourced_deals: usize,
    pub influenced_deals: usize,
    pub influenced_wins: usize,
    pub influenced_revenue: f64,
}

/// How one arrival cohort converted as it aged: the share of its leads
/// that had become an opportunity, and that had been won, by the end of
/// each period since it arrived (`None`: not reached by the as-of date).
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CohortCurve {
    pub label: String,
    pub leads: usize,
    pub opportunity: Vec<Option<f64>>,
    pub won: Vec<Option<f64>>,
}

/// Periods a curve follows a cohort.
pub const CURVE_PERIODS: usize = 13;

/// A lead for the review panel.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReviewRow {
    /// `rejected` or `ignored` (never followed up, never decided).
    pub kind: String,
    pub id: String,
    pub line: usize,
    pub created: String,
    pub source: String,
    pub score: Option<f64>,
    pub owner: Option<String>,
    pub mql: Option<String>,
    pub reason: Option<String>,
    pub touches: usize,
}

/// Everything `revplan actuals` reports.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Actuals {
    pub as_of: String,
    pub by: By,
    pub quality: Quality,
    pub periods: Vec<PeriodRow>,
    pub cohorts: Vec<Cohort>,
    pub curves: Vec<CohortCurve>,
    pub sources: Vec<SourceRow>,
    pub acceptance: Vec<AcceptanceRow>,
    pub sla: Vec<SlaRow>,
    pub stages: Vec<StageRow>,
    pub breakdowns: Vec<Breakdown>,
    pub pipeline: Pipeline,
    pub influence: Influence,
    pub review: Vec<ReviewRow>,
}

/// The deals of each lead, and each lead's outcome at the as-of date.
struct Joined<'a> {
    deals_of: Map<&'a str, Vec<&'a Deal>>,
    touches_of: Map<&'a str, Vec<Date>>,
}

impl<'a> Joined<'a> {
    fn new(d: &'a Data) -> Joined<'a> {
        let mut deals_of: Map<&str, Vec<&Deal>> = Map::default();
        for x in &d.deals {
            if let Some(l) = x.lead.as_deref() {
                deals_of.entry(l).or_default().push(x);
            }
        }
        let mut touches_of: Map<&str, Vec<Date>> = Map::default();
        for t in &d.touches {
            touches_of.entry(t.lead.as_str()).or_default().push(t.date);
        }
        for v in touches_of.values_mut() {
            v.sort_unstable();
        }
        Joined {
            deals_of,
            touches_of,
        }
    }

    fn deals(&self, l: &Lead) -> &[&'a Deal] {
        self.deals_of.get(l.id.as_str()).map_or(&[], Vec::as_slice)
    }

    /// The date a lead became an opportunity: its own column, else its
    /// first deal.
    fn opportunity(&self, l: &Lead) -> Option<Date> {
        l.stages[3].or_else(|| self.deals(l).iter().map(|x| x.created).min())
    }

    fn won(&self, l: &Lead) -> Option<&'a Deal> {
        self.deals(l)
            .iter()
            .copied()
            .find(|x| x.status == Status::Won)
    }

    fn lost(&self, l: &Lead) -> bool {
        let ds = self.deals(l);
        !ds.is_empty() && ds.iter().all(|x| x.status == Status::Lost)
    }
}

/// The stage dates of a lead with its opportunity date filled from deals.
fn stage_dates(j: &Joined, l: &Lead) -> [Option<Date>; 4] {
    [l.stages[0], l.stages[1], l.stages[2], j.opportunity(l)]
}

/// Builds every report.
pub fn build(d: &Data, o: &Options) -> Actuals {
    let j = Joined::new(d);
    // The reports are independent: two at a time on two cores.
    let ((periods, cohorts), (sources, (acceptance, sla))) = rayon::join(
        || rayon::join(|| periods(d, &j, o.by), || cohorts(d, &j, o.by)),
        || {
            rayon::join(
                || sources(d, &j),
                || rayon::join(|| acceptance(d), || sla(d, &j)),
            )
        },
    );
    let curves = curves(d, &j, o.by);
    let ((stages, breakdowns), (pipeline, (influence, review))) = rayon::join(
        || rayon::join(|| stages(d, &j), || breakdowns(d)),
        || {
            rayon::join(
                || pipeline(d),
                || rayon::join(|| influence(d, &j), || review(d, &j, o)),
            )
        },
    );
    Actuals {
        as_of: d.as_of.to_string(),
        by: o.by,
        quality: d.quality.clone(),
        periods,
        cohorts,
        curves,
        sources,
        acceptance,
        sla,
        stages,
        breakdowns,
        pipeline,
        influence,
        review,
    }
}

/// Spend per period start, from monthly costs (weeks get none: costs are
/// monthly).
fn spend_by(d: &Data, by: By) -> Option<BTreeMap<Date, f64>> {
    if d.costs.is_empty() || by == By::Week {
        return None;
    }
    let mut m = BTreeMap::new();
    for c in &d.costs {
        *m.entry(by.start(c.month)).or_insert(0.0) += c.amount;
    }
    Some(m)
}

fn periods(d: &Data, j: &Joined, by: By) -> Vec<PeriodRow> {
    let mut rows: BTreeMap<Date, PeriodRow> = BTreeMap::new();
    fn at(rows: &mut BTreeMap<Date, PeriodRow>, by: By, date: Date) -> &mut PeriodRow {
        let start = by.start(date);
        rows.entry(start).or_insert_with(|| PeriodRow {
            label: by.label(start),
            start: start.to_string(),
            ..PeriodRow::default()
        })
    }
    for l in &d.leads {
        at(&mut rows, by, l.created).leads += 1;
        let s = stage_dates(j, l);
        if let Some(m) = s[0] {
            let r = at(&mut rows, by, m);
            r.mqls += 1;
            // The MQL cohort's decision, counted where the MQL happened.
            if l.stages[1].is_some() {
                r.sals += 1;
            }
            if l.rejected {
                r.rejected += 1;
            }
        }
        if let Some(x) = s[2] {
            at(&mut rows, by, x).sqls += 1;
        }
    }
    for x in &d.deals {
        at(&mut rows, by, x.created).opportunities += 1;
        if let Some(c) = x.closed {
            let r = at(&mut rows, by, c);
            match x.status {
                Status::Won => {
                    r.wins += 1;
                    r.revenue += x.amount.unwrap_or(0.0);
                }
                Status::Lost => r.losses += 1,
                Status::Open => {}
            }
        }
    }
    let spend = spend_by(d, by);
    rows.into_iter()
        .map(|(start, mut r)| {
            r.acceptance_rate = metrics::acceptance_rate(r.sals as f64, r.mqls as f64);
            r.spend = spend
                .as_ref()
                .map(|m| m.get(&start).copied().unwrap_or(0.0));
            r.cost_per_lead = r
                .spend
                .and_then(|s| metrics::cost_per_lead(s, r.leads as f64));
            r
        })
        .collect()
}

fn cohorts(d: &Data, j: &Joined, by: By) -> Vec<Cohort> {
    // How long won leads took, to tell young cohorts from failing ones.
    let mut to_win: Vec<i64> = d
        .leads
        .iter()
        .filter_map(|l| j.won(l).and_then(|x| x.closed).map(|c| days(l.created, c)))
        .collect();
    to_win.sort_unstable();
    let p90 = to_win.get(to_win.len() * 9 / 10).copied().unwrap_or(0);
    let mut rows: BTreeMap<Date, Cohort> = BTreeMap::new();
    for l in &d.leads {
        let start = by.start(l.created);
        let c = rows.entry(start).or_insert_with(|| Cohort {
            label: by.label(start),
            ..Cohort::default()
        });
        let s = stage_dates(j, l);
        c.leads += 1;
        c.mqls += usize::from(s[0].is_some());
        c.sals += usize::from(s[1].is_some());
        c.sqls += usize::from(s[2].is_some());
        c.opportunities += usize::from(s[3].is_some());
        c.rejected += usize::from(l.rejected);
        if let Some(w) = j.won(l) {
            c.wins += 1;
            c.revenue += w.amount.unwrap_or(0.0);
        } else if j.lost(l) {
            c.losses += 1;
        } else if !l.rejected {
            c.open += 1;
        }
    }
    let spend = spend_by(d, by);
    rows.into_iter()
        .map(|(start, mut c)| {
            c.lead_to_win = metrics::conversion(c.wins as f64, c.leads as f64);
            c.spend = spend
                .as_ref()
                .map(|m| m.get(&start).copied().unwrap_or(0.0));
            c.cac = c.spend.and_then(|s| metrics::cac(s, c.wins as f64));
            c.roi = c.spend.and_then(|s| metrics::roi(c.revenue, s));
            c.young = days(by.end(start), d.as_of) < p90;
            c
        })
        .collect()
}

/// Whole periods from the period starting at `start` to the one holding
/// `d`.
fn periods_between(by: By, start: Date, d: Date) -> i64 {
    let months = |x: Date| i64::from(x.year()) * 12 + i64::from(x.month());
    match by {
        By::Week => days(start, by.start(d)).div_euclid(7),
        By::Month => months(d) - months(start),
        By::Quarter => (months(by.start(d)) - months(start)).div_euclid(3),
    }
}

fn curves(d: &Data, j: &Joined, by: By) -> Vec<CohortCurve> {
    let mut counts: BTreeMap<Date, (usize, Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for l in &d.leads {
        let start = by.start(l.created);
        let c = counts
            .entry(start)
            .or_insert_with(|| (0, vec![0; CURVE_PERIODS], vec![0; CURVE_PERIODS]));
        c.0 += 1;
        let mark = |v: &mut Vec<usize>, at: Option<Date>| {
            if let Some(k) = at.map(|x| periods_between(by, start, x))
                && (0..CURVE_PERIODS as i64).contains(&k)
            {
                v[k as usize] += 1;
            }
        };
        mark(&mut c.1, j.opportunity(l));
        mark(&mut c.2, j.won(l).and_then(|x| x.closed));
    }
    counts
        .into_iter()
        .map(|(start, (leads, opp, won))| {
            // The last period seen whole or in part.
            let age = periods_between(by, start, d.as_of);
            let cumulate = |v: Vec<usize>| -> Vec<Option<f64>> {
                let mut total = 0;
                v.iter()
                    .enumerate()
                    .map(|(k, n)| {
                        total += n;
                        ((k as i64) <= age).then(|| total as f64 / leads.max(1) as f64)
                    })
                    .collect()
            };
            CohortCurve {
                label: by.label(start),
                leads,
                opportunity: cumulate(opp),
                won: cumulate(won),
            }
        })
        .collect()
}

/// Kaplan–Meier of deal cycles: created → closed; open deals censored at
/// the as-of date.
fn cycles<'a>(deals: impl Iterator<Item = &'a Deal>, as_of: Date) -> Survival {
    let items: Vec<(f64, bool)> = deals
        .map(|x| match x.closed {
            Some(c) => (days(x.created, c).max(0) as f64, true),
            None => (days(x.created, as_of).max(0) as f64, false),
        })
        .collect();
    Survival::estimate(&items)
}

/// The amounts of the won deals among `ds` (0, never -0, for none).
fn won_revenue(ds: &[&Deal]) -> f64 {
    ds.iter()
        .filter(|x| x.status == Status::Won)
        .filter_map(|x| x.amount)
        .fold(0.0, |a, b| a + b)
}

fn sizes<'a>(deals: impl Iterator<Item = &'a Deal>) -> Size {
    let mut v: Vec<f64> = deals
        .filter(|x| x.status == Status::Won)
        .filter_map(|x| x.amount)
        .collect();
    v.sort_by(f64::total_cmp);
    Size {
        mean: (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64),
        p50: v.get(v.len() / 2).copied().filter(|_| !v.is_empty()),
    }
}

fn sources(d: &Data, j: &Joined) -> Vec<SourceRow> {
    let lead_source: Map<&str, &str> = d
        .leads
        .iter()
        .map(|l| (l.id.as_str(), l.source.as_str()))
        .collect();
    // A deal counts for its lead's source; without a lead, its own.
    let source_of = |x: &Deal| -> String {
        x.lead
            .as_deref()
            .and_then(|l| lead_source.get(l))
            .map(|s| s.to_string())
            .or_else(|| x.source.clone())
            .unwrap_or_else(|| "(no source)".into())
    };
    let mut rows: BTreeMap<String, SourceRow> = BTreeMap::new();
    for l in &d.leads {
        if !rows.contains_key(&l.source) {
            rows.insert(l.source.clone(), SourceRow::default());
        }
        let Some(r) = rows.get_mut(&l.source) else {
            continue;
        };
        let s = stage_dates(j, l);
        r.leads += 1;
        r.mqls += usize::from(s[0].is_some());
        r.sals += usize::from(l.stages[0].is_some() && l.stages[1].is_some());
        r.sqls += usize::from(s[2].is_some());
    }
    let mut deals_by: BTreeMap<String, Vec<&Deal>> = BTreeMap::new();
    for x in &d.deals {
        deals_by.entry(source_of(x)).or_default().push(x);
    }
    let mut spend: BTreeMap<&str, f64> = BTreeMap::new();
    for c in &d.costs {
        *spend.entry(c.channel.as_str()).or_insert(0.0) += c.amount;
    }
    for (name, ds) in &deals_by {
        let r = rows.entry(name.clone()).or_default();
        r.opportunities = ds.len();
        r.wins = ds.iter().filter(|x| x.status == Status::Won).count();
        r.losses = ds.iter().filter(|x| x.status == Status::Lost).count();
        r.open_deals = ds.iter().filter(|x| x.status == Status::Open).count();
        r.revenue = won_revenue(ds);
        r.cycle_days = Days::of(&cycles(ds.iter().copied(), d.as_of));
        r.deal_size = sizes(ds.iter().copied());
    }
    rows.into_iter()
        .map(|(name, mut r)| {
            r.acceptance_rate = metrics::acceptance_rate(r.sals as f64, r.mqls as f64);
            r.win_rate = metrics::ratio(r.wins as f64, (r.wins + r.losses) as f64);
            if !d.costs.is_empty() {
                let s = spend.get(name.as_str()).copied().unwrap_or(0.0);
                r.spend = Some(s);
                r.cost_per_lead = metrics::cost_per_lead(s, r.leads as f64);
                r.cac = metrics::cac(s, r.wins as f64);
                r.roi = metrics::roi(r.revenue, s);
            }
            r.name = name;
            r
        })
        .collect()
}

fn acceptance(d: &Data) -> Vec<AcceptanceRow> {
    let mut rows: BTreeMap<(Date, &str), AcceptanceRow> = BTreeMap::new();
    for l in &d.leads {
        let Some(m) = l.stages[0] else { continue };
        let start = By::Month.start(m);
        let r = rows
            .entry((start, l.source.as_str()))
            .or_insert_with(|| AcceptanceRow {
                month: By::Month.label(start),
                source: l.source.clone(),
                ..AcceptanceRow::default()
            });
        r.mqls += 1;
        if l.stages[1].is_some() {
            r.accepted += 1;
        } else if l.rejected {
            r.rejected += 1;
        } else {
            r.pending += 1;
        }
    }
    rows.into_values()
        .map(|mut r| {
            r.acceptance_rate = metrics::acceptance_rate(r.accepted as f64, r.mqls as f64);
            r
        })
        .collect()
}

fn sla(d: &Data, j: &Joined) -> Vec<SlaRow> {
    if d.touches.is_empty() {
        return Vec::new();
    }
    let (within, need) = d
        .spec
        .sla
        .as_ref()
        .map_or((2, 1), |s| (i64::from(s.days), s.touches as usize));
    let mut rows: BTreeMap<Date, SlaRow> = BTreeMap::new();
    for l in &d.leads {
        let Some(m) = l.stages[0] else { continue };
        let start = By::Month.start(m);
        let r = rows.entry(start).or_insert_with(|| SlaRow {
            month: By::Month.label(start),
            ..SlaRow::default()
        });
        let ts = j
            .touches_of
            .get(l.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        let after: Vec<&Date> = ts.iter().filter(|t| **t >= m).collect();
        r.mqls += 1;
        r.followed_up += usize::from(!after.is_empty());
        r.within_sla +=
            usize::from(after.iter().filter(|t| days(m, ***t) <= within).count() >= need);
        r.ignored += usize::from(after.is_empty() && l.stages[1].is_none() && !l.rejected);
    }
    rows.into_values()
        .map(|mut r| {
            r.compliance = metrics::ratio(r.within_sla as f64, r.mqls as f64);
            r
        })
        .collect()
}

fn stages(d: &Data, j: &Joined) -> Vec<StageRow> {
    let mut out = Vec::new();
    for k in 0..STAGES.len() {
        let mut items = Vec::new();
        let (mut entered, mut converted) = (0, 0);
        for l in &d.leads {
            let s = stage_dates(j, l);
            let Some(from) = s[k] else { continue };
            entered += 1;
            // The next stage: the next date, or a win for opportunities.
            let next = if k + 1 < STAGES.len() {
                s[k + 1]
            } else {
                j.won(l).and_then(|x| x.closed)
            };
            match next {
                Some(to) => {
                    converted += 1;
                    items.push((days(from, to).max(0) as f64, true));
                }
                None => items.push((days(from, d.as_of).max(0) as f64, false)),
            }
        }
        let km = Survival::estimate(&items);
        out.push(StageRow {
            stage: STAGES[k].to_string(),
            entered,
            converted,
            conversion: metrics::conversion(converted as f64, entered as f64),
            days_p25: km.quantile(0.25),
            days_p50: km.quantile(0.5),
            days_p75: km.quantile(0.75),
        });
    }
    out
}

fn breakdowns(d: &Data) -> Vec<Breakdown> {
    let mut out = Vec::new();
    for (by, key) in [("owner", 0), ("product", 1)] {
        let mut groups: BTreeMap<String, Vec<&Deal>> = BTreeMap::new();
        for x in &d.deals {
            let name = if key == 0 { &x.owner } else { &x.product };
            if let Some(n) = name {
                groups.entry(n.clone()).or_default().push(x);
            }
        }
        for (name, ds) in groups {
            let wins = ds.iter().filter(|x| x.status == Status::Won).count();
            let losses = ds.iter().filter(|x| x.status == Status::Lost).count();
            out.push(Breakdown {
                by: by.into(),
                name,
                deals: ds.len(),
                wins,
                losses,
                open: ds.len() - wins - losses,
                win_rate: metrics::ratio(wins as f64, (wins + losses) as f64),
                revenue: won_revenue(&ds),
                cycle_days_p50: cycles(ds.iter().copied(), d.as_of).quantile(0.5),
                deal_size_mean: sizes(ds.iter().copied()).mean,
            });
        }
    }
    out
}

fn pipeline(d: &Data) -> Pipeline {
    let longest = d
        .deals
        .iter()
        .filter_map(|x| x.closed.map(|c| days(x.created, c)))
        .max()
        .unwrap_or(0);
    let mut p = Pipeline {
        longest_closed_days: longest,
        ..Pipeline::default()
    };
    let mut buckets: BTreeMap<(String, String), Bucket> = BTreeMap::new();
    for x in d.deals.iter().filter(|x| x.status == Status::Open) {
        let age = days(x.created, d.as_of);
        let stale = age > longest;
        let value = x.amount.unwrap_or(0.0);
        p.open += 1;
        p.value += value;
        p.stale += usize::from(stale);
        p.stale_value += if stale { value } else { 0.0 };
        let band = match age {
            ..=30 => "0–30 days",
            31..=90 => "31–90 days",
            91..=180 => "91–180 days",
            181..=365 => "181–365 days",
            _ => "over a year",
        };
        let order = match age {
            ..=30 => 0,
            31..=90 => 1,
            91..=180 => 2,
            181..=365 => 3,
            _ => 4,
        };
        for (by, name) in [
            ("stage".to_string(), x.stage.clone()),
            (format!("age{order}"), band.to_string()),
            (
                "category".to_string(),
                x.category.clone().unwrap_or_else(|| "(none)".into()),
            ),
        ] {
            let b = buckets
                .entry((by.clone(), name.clone()))
                .or_insert_with(|| Bucket {
                    by: by.trim_end_matches(char::is_numeric).to_string(),
                    name,
                    ..Bucket::default()
                });
            b.open += 1;
            b.value += value;
            b.stale += usize::from(stale);
        }
    }
    p.buckets = buckets.into_values().collect();
    p
}

fn influence(d: &Data, j: &Joined) -> Influence {
    let sales: Set<String> = d
        .spec
        .sales_sources
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    let marketing_kinds: Set<String> = d
        .spec
        .touches
        .as_ref()
        .map(|t| t.marketing.iter().map(|k| k.to_lowercase()).collect())
        .unwrap_or_default();
    let mut marketing_touch: Map<&str, Date> = Map::default();
    for t in &d.touches {
        if t.kind
            .as_ref()
            .is_some_and(|k| marketing_kinds.contains(&k.to_lowercase()))
        {
            let e = marketing_touch.entry(t.lead.as_str()).or_insert(t.date);
            *e = (*e).min(t.date);
        }
    }
    // The first marketing-sourced record of each account.
    let mut first_marketing: Map<&str, Date> = Map::default();
    for l in &d.leads {
        if let Some(a) = l.account.as_deref()
            && !sales.contains(&l.source.to_lowercase())
        {
            let e = first_marketing.entry(a).or_insert(l.created);
            *e = (*e).min(l.created);
        }
    }
    let mut out = Influence::default();
    for l in d
        .leads
        .iter()
        .filter(|l| sales.contains(&l.source.to_lowercase()))
    {
        out.sales_sourced_leads += 1;
        let touched = marketing_touch
            .get(l.id.as_str())
            .is_some_and(|t| *t <= l.created);
        let earlier = l
            .account
            .as_deref()
            .and_then(|a| first_marketing.get(a))
            .is_some_and(|t| *t < l.created);
        let influenced = touched || earlier;
        out.influenced_leads += usize::from(influenced);
        for x in j.deals(l) {
            out.sales_sourced_deals += 1;
            let before_deal = marketing_touch
                .get(l.id.as_str())
                .is_some_and(|t| *t <= x.created);
            if influenced || before_deal {
                out.influenced_deals += 1;
                if x.status == Status::Won {
                    out.influenced_wins += 1;
                    out.influenced_revenue += x.amount.unwrap_or(0.0);
                }
            }
        }
    }
    out
}

fn review(d: &Data, j: &Joined, o: &Options) -> Vec<ReviewRow> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    if o.review == 0 {
        return Vec::new();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(o.seed);
    let touches = |l: &Lead| j.touches_of.get(l.id.as_str()).map_or(0, Vec::len);
    let mut out = Vec::new();
    for kind in ["rejected", "ignored"] {
        let mut pool: Vec<&Lead> = d
            .leads
            .iter()
            .filter(|l| match kind {
                "rejected" => l.rejected,
                _ => {
                    l.stages[0].is_some() && l.stages[1].is_none() && !l.rejected && touches(l) == 0
                }
            })
            .collect();
        pool.sort_by(|a, b| a.id.cmp(&b.id));
        pool.shuffle(&mut rng);
        let mut picked: Vec<&Lead> = pool.into_iter().take(o.review).collect();
        picked.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        out.extend(picked.into_iter().map(|l| ReviewRow {
            kind: kind.into(),
            id: l.id.clone(),
            line: l.line,
            created: l.created.to_string(),
            source: l.source.clone(),
            score: l.score,
            owner: l.owner.clone(),
            mql: l.stages[0].map(|x| x.to_string()),
            reason: l.reason.clone(),
            touches: touches(l),
        }));
    }
    out
}

impl Exportable for Actuals {
    const KIND: &'static str = "actuals";

    fn primary(&self) -> &'static str {
        "periods"
    }

    fn view(&self) -> View {
        let q = &self.quality;
        let mut lines = vec![format!(
            "Data from {} to {}; as of {}{}",
            q.first_date.as_deref().unwrap_or("-"),
            q.last_date.as_deref().unwrap_or("-"),
            self.as_of,
            if q.as_of_given {
                " (given)"
            } else {
                " (the last date in the data)"
            }
        )];
        lines.push(format!(
            "Deals closed before created {}, before their lead {}; deals naming an unknown lead {}; \
             touches of unknown leads {}; dates outside the span {}; stale open deals {}; hidden after the as-of date {}",
            q.deals_closed_before_created,
            q.deals_closed_before_their_lead,
            q.deals_not_joining,
            q.touches_not_joining,
            q.dates_outside_span,
            q.stale_open_deals,
            q.hidden_after_as_of
        ));
        lines.extend(q.warnings.iter().map(|w| format!("warning: {w}")));
        let p = &self.pipeline;
        let i = &self.influence;
        let mut footer = vec![format!(
            "Open pipeline: {} deals worth {}; {} stale (older than the longest closed cycle, {} days) worth {}",
            p.open,
            crate::export::format::money(p.value),
            p.stale,
            p.longest_closed_days,
            crate::export::format::money(p.stale_value)
        )];
        if i.sales_sourced_leads > 0 {
            footer.push(format!(
                "Marketing-influenced: {} of {} sales-sourced leads; {} of {} their deals, {} wins, {}",
                i.influenced_leads,
                i.sales_sourced_leads,
                i.influenced_deals,
                i.sales_sourced_deals,
                i.influenced_wins,
                crate::export::format::money(i.influenced_revenue)
            ));
        }
        View {
            title: format!("Actuals as of {}", self.as_of),
            lines,
            tables: vec![
                files_table(q),
                periods_table(&self.periods),
                cohorts_table(&self.cohorts),
                sources_table(&self.sources),
                stages_table(&self.stages),
                acceptance_table(&self.acceptance),
                sla_table(&self.sla),
                breakdown_table(&self.breakdowns),
                pipeline_table(p),
                review_table(&self.review),
            ]
            .into_iter()
            .flatten()
            .collect(),
            footer,
            parts: Vec::new(),
        }
    }
}

fn opt(x: Option<f64>) -> Cell {
    Cell::from(x)
}

/// A text cell, empty when there is no text.
fn txt(s: impl Into<String>) -> Cell {
    let s = s.into();
    if s.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(s)
    }
}

fn files_table(q: &Quality) -> Option<Table> {
    let mut t = Table::new(
        "quality",
        "Data quality:",
        vec![
            col("file", "file", Unit::Text),
            col("what", "what", Unit::Text),
            col("rows", "rows", Unit::Count),
            col("kept", "kept", Unit::Count),
            col("unusable", "no id/date", Unit::Count),
            col("duplicate_ids", "duplicate ids", Unit::Count),
            col("blanks", "blank cells (column: count)", Unit::Text),
        ],
    );
    for f in &q.files {
        let blanks: Vec<String> = f
            .blanks
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        t.row(vec![
            f.file.as_str().into(),
            f.what.as_str().into(),
            f.rows.into(),
            f.kept.into(),
            f.unusable.into(),
            f.duplicate_ids.into(),
            txt(blanks.join("; ")),
        ]);
    }
    Some(t)
}

fn periods_table(rows: &[PeriodRow]) -> Option<Table> {
    let mut t = Table::new(
        "periods",
        "By period (leads, MQLs, SQLs, opportunities and closes dated in it; SALs, rejections and acceptance of its MQLs):",
        vec![
            col("label", "period", Unit::Text),
            col("leads", "leads", Unit::Count),
            col("mqls", "MQLs", Unit::Count),
            col("sals", "SALs", Unit::Count),
            col("rejected", "rejected", Unit::Count),
            col("acceptance_rate", "acceptance", Unit::Share),
            col("sqls", "SQLs", Unit::Count),
            col("opportunities", "opps", Unit::Count),
            col("wins", "wins", Unit::Count),
            col("losses", "losses", Unit::Count),
            col("revenue", "revenue", Unit::Money),
            col("spend", "spend", Unit::Money),
            col("cost_per_lead", "per lead", Unit::Money),
        ],
    );
    for r in rows {
        t.row(vec![
            r.label.as_str().into(),
            r.leads.into(),
            r.mqls.into(),
            r.sals.into(),
            r.rejected.into(),
            opt(r.acceptance_rate),
            r.sqls.into(),
            r.opportunities.into(),
            r.wins.into(),
            r.losses.into(),
            r.revenue.into(),
            opt(r.spend),
            opt(r.cost_per_lead),
        ]);
    }
    Some(t.with_chart("label", &["revenue"]))
}

fn cohorts_table(rows: &[Cohort]) -> Option<Table> {
    let mut t = Table::new(
        "cohorts",
        "Lead cohorts by arrival (followed to the as-of date; * young: still converting):",
        vec![
            col("label", "cohort", Unit::Text),
            col("leads", "leads", Unit::Count),
            col("mqls", "MQLs", Unit::Count),
            col("sals", "SALs", Unit::Count),
            col("rejected", "rejected", Unit::Count),
            col("sqls", "SQLs", Unit::Count),
            col("opportunities", "opps", Unit::Count),
            col("wins", "wins", Unit::Count),
            col("losses", "lost", Unit::Count),
            col("open", "open", Unit::Count),
            col("lead_to_win", "lead→win", Unit::Share),
            col("revenue", "revenue", Unit::Money),
            col("cac", "CAC", Unit::Money),
            col("roi", "ROI", Unit::Ratio),
            col("young", "young", Unit::Text),
        ],
    );
    for c in rows {
        t.row(vec![
            c.label.as_str().into(),
            c.leads.into(),
            c.mqls.into(),
            c.sals.into(),
            c.rejected.into(),
            c.sqls.into(),
            c.opportunities.into(),
            c.wins.into(),
            c.losses.into(),
            c.open.into(),
            opt(c.lead_to_win),
            c.revenue.into(),
            opt(c.cac),
            opt(c.roi),
            txt(if c.young { "*" } else { "" }),
        ]);
    }
    Some(t)
}

fn sources_table(rows: &[SourceRow]) -> Option<Table> {
    let mut t = Table::new(
        "sources",
        "By lead source (deals count for their lead's source):",
        vec![
            col("name", "source", Unit::Text),
            col("leads", "leads", Unit::Count),
            col("mqls", "MQLs", Unit::Count),
            col("acceptance_rate", "acceptance", Unit::Share),
            col("opportunities", "opps", Unit::Count),
            col("wins", "wins", Unit::Count),
            col("win_rate", "win rate", Unit::Share),
            col("revenue", "revenue", Unit::Money),
            col("cycle_days_p50", "cycle P50", Unit::Days),
            col("deal_size_mean", "deal size", Unit::Money),
            col("spend", "spend", Unit::Money),
            col("cac", "CAC", Unit::Money),
            col("roi", "ROI", Unit::Ratio),
        ],
    );
    for r in rows {
        t.row(vec![
            r.name.as_str().into(),
            r.leads.into(),
            r.mqls.into(),
            opt(r.acceptance_rate),
            r.opportunities.into(),
            r.wins.into(),
            opt(r.win_rate),
            r.revenue.into(),
            opt(r.cycle_days.p50),
            opt(r.deal_size.mean),
            opt(r.spend),
            opt(r.cac),
            opt(r.roi),
        ]);
    }
    Some(t.with_chart("name", &["revenue"]))
}

fn stages_table(rows: &[StageRow]) -> Option<Table> {
    let mut t = Table::new(
        "stages",
        "Stages (days to the next: Kaplan–Meier, open items censored; blank: not reached yet):",
        vec![
            col("stage", "stage", Unit::Text),
            col("entered", "entered", Unit::Count),
            col("converted", "to next", Unit::Count),
            col("conversion", "conversion", Unit::Share),
            col("days_p25", "days P25", Unit::Days),
            col("days_p50", "P50", Unit::Days),
            col("days_p75", "P75", Unit::Days),
        ],
    );
    for r in rows {
        t.row(vec![
            r.stage.as_str().into(),
            r.entered.into(),
            r.converted.into(),
            opt(r.conversion),
            opt(r.days_p25),
            opt(r.days_p50),
            opt(r.days_p75),
        ]);
    }
    Some(t)
}

fn acceptance_table(rows: &[AcceptanceRow]) -> Option<Table> {
    let mut t = Table::new(
        "acceptance",
        "Lead acceptance by month and source:",
        vec![
            col("month", "month", Unit::Text),
            col("source", "source", Unit::Text),
            col("mqls", "MQLs", Unit::Count),
            col("accepted", "accepted", Unit::Count),
            col("rejected", "rejected", Unit::Count),
            col("pending", "pending", Unit::Count),
            col("acceptance_rate", "acceptance", Unit::Share),
        ],
    );
    for r in rows {
        t.row(vec![
            r.month.as_str().into(),
            r.source.as_str().into(),
            r.mqls.into(),
            r.accepted.into(),
            r.rejected.into(),
            r.pending.into(),
            opt(r.acceptance_rate),
        ]);
    }
    Some(t.detail())
}

fn sla_table(rows: &[SlaRow]) -> Option<Table> {
    if rows.is_empty() {
        return None;
    }
    let mut t = Table::new(
        "sla",
        "SLA follow-up of MQLs by month:",
        vec![
            col("month", "month", Unit::Text),
            col("mqls", "MQLs", Unit::Count),
            col("followed_up", "followed up", Unit::Count),
            col("within_sla", "within SLA", Unit::Count),
            col("compliance", "compliance", Unit::Share),
            col("ignored", "ignored", Unit::Count),
        ],
    );
    for r in rows {
        t.row(vec![
            r.month.as_str().into(),
            r.mqls.into(),
            r.followed_up.into(),
            r.within_sla.into(),
            opt(r.compliance),
            r.ignored.into(),
        ]);
    }
    Some(t)
}

fn breakdown_table(rows: &[Breakdown]) -> Option<Table> {
    let mut t = Table::new(
        "breakdowns",
        "Deals by owner and product:",
        vec![
            col("by", "by", Unit::Text),
            col("name", "name", Unit::Text),
            col("deals", "deals", Unit::Count),
            col("wins", "wins", Unit::Count),
            col("losses", "losses", Unit::Count),
            col("open", "open", Unit::Count),
            col("win_rate", "win rate", Unit::Share),
            col("revenue", "revenue", Unit::Money),
            col("cycle_days_p50", "cycle P50", Unit::Days),
            col("deal_size_mean", "deal size", Unit::Money),
        ],
    );
    for r in rows {
        t.row(vec![
            r.by.as_str().into(),
            r.name.as_str().into(),
            r.deals.into(),
            r.wins.into(),
            r.losses.into(),
            r.open.into(),
            opt(r.win_rate),
            r.revenue.into(),
            opt(r.cycle_days_p50),
            opt(r.deal_size_mean),
        ]);
    }
    Some(t.detail())
}

fn pipeline_table(p: &Pipeline) -> Option<Table> {
    let mut t = Table::new(
        "pipeline",
        "Open pipeline at the as-of date:",
        vec![
            col("by", "by", Unit::Text),
            col("name", "name", Unit::Text),
            col("open", "open", Unit::Count),
            col("value", "value", Unit::Money),
            col("stale", "stale", Unit::Count),
        ],
    );
    for b in &p.buckets {
        t.row(vec![
            b.by.as_str().into(),
            b.name.as_str().into(),
            b.open.into(),
            b.value.into(),
            b.stale.into(),
        ]);
    }
    Some(t)
}

fn review_table(rows: &[ReviewRow]) -> Option<Table> {
    if rows.is_empty() {
        return None;
    }
    let mut t = Table::new(
        "review",
        "Review sample (rejected, and ignored: never followed up):",
        vec![
            col("kind", "kind", Unit::Text),
            col("id", "id", Unit::Text),
            col("line", "line", Unit::Count),
            col("created", "created", Unit::Text),
            col("source", "source", Unit::Text),
            col("score", "score", Unit::Number(1)),
            col("owner", "owner", Unit::Text),
            col("mql", "MQL date", Unit::Text),
            col("reason", "reason", Unit::Text),
            col("touches", "touches", Unit::Count),
        ],
    );
    for r in rows {
        t.row(vec![
            r.kind.as_str().into(),
            r.id.as_str().into(),
            r.line.into(),
            r.created.as_str().into(),
            r.source.as_str().into(),
            opt(r.score),
            txt(r.owner.clone().unwrap_or_default()),
            txt(r.mql.clone().unwrap_or_default()),
            txt(r.reason.clone().unwrap_or_default()),
            r.touches.into(),
        ]);
    }
    Some(t)
}

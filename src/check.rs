//! `revplan check`: what a valid file describes, in numbers.
//!
//! For each channel the summary gives the expected conversion at each step
//! of the revenue cycle — recycling included, from the absorbing chain
//! ([`crate::flow`]) with every parameter at its mean and the SLA met — and
//! the expected lag from lead to closed-won.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::calendar::{Calendar, WEEKS_PER_YEAR};
use crate::dist::{Delay, Prob};
use crate::export::format::{count, money, pct};
use crate::export::{Cell, Exportable, Table, Unit, View, col};
use crate::flow::channel_conversion;
use crate::load::{Loadable, Loaded};
use crate::model::{AcceptanceCurve, Advance, Capacity, LeadSource, Model, Scenario};

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct CheckReport {
    pub file: String,
    /// "scenario" or "model".
    pub kind: &'static str,
    pub model: ModelSummary,
    pub scenario: Option<ScenarioSummary>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ModelSummary {
    pub name: String,
    pub file: String,
    pub stages: Vec<StageSummary>,
    pub capacity: String,
    /// How the score shifts later conversions and the deal size.
    pub quality: Option<String>,
    pub uncertain: Vec<UncertainSummary>,
    /// Delays whose parameters are drawn per trial: the mean delay, and
    /// the spread of the draws' means.
    pub uncertain_delays: Vec<UncertainSummary>,
    pub open_deals: usize,
    pub open_amount: f64,
    /// Leads in flight at the start (MQLs, nurture).
    pub open_leads: usize,
    pub channels: Vec<ChannelSummary>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct StageSummary {
    pub name: String,
    pub role: Option<&'static str>,
    /// How leads leave it, in words.
    pub exit: String,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct UncertainSummary {
    pub key: String,
    pub mean: f64,
    pub p10: f64,
    pub p90: f64,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ChannelSummary {
    pub name: String,
    pub source: LeadSource,
    pub leads_per_week: f64,
    pub spend_per_week: f64,
    /// Expected leads and spend per week, averaged over the horizon (a
    /// 52-week year for a model file).
    /// P(a lead ever reaches the stage), by stage name.
    pub reach: BTreeMap<String, f64>,
    /// Conversion from each stage to the next ("mql→sal": 0.52), and the
    /// last stage to won.
    pub steps: Vec<Step>,
    pub lead_to_won: f64,
    pub lag_weeks: Option<f64>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Step {
    pub from: String,
    pub to: String,
    pub rate: f64,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ScenarioSummary {
    pub name: String,
    pub horizon_weeks: u32,
    pub start_date: Option<String>,
    /// What the target counts: revenue, wins, mqls, …
    pub metric: String,
    pub target: f64,
    pub target_periods: Vec<PeriodAmount>,
    pub variants: Vec<String>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PeriodAmount {
    pub label: String,
    pub amount: f64,
}

/// The summary of a loaded file.
pub fn report(loaded: &Loadable) -> CheckReport {
    match loaded {
        Loadable::Scenario(l) => CheckReport {
            file: l.file.display().to_string(),
            kind: "scenario",
            model: model_summary(
                &l.base.model,
                &l.model_name,
                &l.model_file.display().to_string(),
                &l.base.calendar,
            ),
            scenario: Some(scenario_summary(l)),
        },
        Loadable::Model(m) => CheckReport {
            file: m.file.display().to_string(),
            kind: "model",
            model: model_summary(
                &m.model,
                &m.model.name,
                &m.file.display().to_string(),
                &Calendar::new(WEEKS_PER_YEAR, None).expect("no date"),
            ),
            scenario: None,
        },
    }
}

fn scenario_summary(l: &Loaded) -> ScenarioSummary {
    let s: &Scenario = &l.base;
    let periods = s.calendar.periods(s.target.period);
    ScenarioSummary {
        name: s.name.clone(),
        horizon_weeks: s.weeks(),
        start_date: s.calendar.start.map(|d| d.to_string()),
        metric: s.target.metric.name(&s.model),
        target: s.target.total,
        target_periods: periods
            .iter()
            .zip(&s.target.periods)
            .map(|(p, amount)| PeriodAmount {
                label: p.label.clone(),
                amount: *amount,
            })
            .collect(),
        variants: l.variants.iter().map(|v| v.name.clone()).collect(),
    }
}

fn delay_text(d: &Delay) -> String {
    if d.pmf.len() == 1 {
        format!("{} wk", d.first)
    } else {
        format!(
            "{:.1} wk on average (P10–P90 {}–{})",
            d.mean(),
            d.quantile(0.1),
            d.quantile(0.9)
        )
    }
}

fn prob_text(p: &Prob) -> String {
    match p {
        Prob::Fixed(x) => pct(*x),
        Prob::Beta(d) => format!(
            "~{} (P10–P90 {}–{})",
            pct(d.mean()),
            pct(d.quantile(0.1)),
            pct(d.quantile(0.9))
        ),
    }
}

fn model_summary(m: &Model, name: &str, file: &str, cal: &Calendar) -> ModelSummary {
    let params = m.param_means();
    let stages = m
        .stages
        .iter()
        .zip(&m.funnel.transitions)
        .map(|(s, t)| {
            let mut exit = match t.advance {
                Advance::Score => {
                    let mut e = format!("score ≥ {}", m.scoring.threshold);
                    if let Some(n) = &m.scoring.nurture {
                        e.push_str(&format!(
                            "; nurture {} wk, +{} points at {} a week",
                            n.weeks,
                            n.lift,
                            pct(params[n.p_engage])
                        ));
                    }
                    e
                }
                Advance::Acceptance => format!(
                    "sales acceptance ({})",
                    curve_text(&m.scoring.acceptance, m)
                ),
                Advance::Rate(p) => format!("advance {}", prob_text(&m.params[p].prob)),
                Advance::Win(p) => format!("close: win {}", prob_text(&m.params[p].prob)),
            };
            if t.delay != Delay::fixed(0) {
                let what = if matches!(t.advance, Advance::Win(_)) {
                    "cycle"
                } else {
                    "after"
                };
                exit.push_str(&format!("; {what} {}", delay_text(&t.delay)));
            }
            for r in &t.recycle {
                exit.push_str(&format!(
                    "; else {} back to {} after {}",
                    prob_text(&m.params[r.p].prob),
                    m.stages[r.to].name,
                    delay_text(&r.delay)
                ));
            }
            if let (Advance::Win(_), Some(slip)) = (t.advance, &m.funnel.slip) {
                exit.push_str(&format!(
                    "; slips {} by {}",
                    prob_text(&m.params[slip.p].prob),
                    delay_text(&slip.delay)
                ));
            }
            StageSummary {
                name: s.name.clone(),
                role: s.role.map(|r| r.name()),
                exit,
            }
        })
        .collect();
    let capacity = match &m.capacity {
        Capacity::Unlimited => {
            "unlimited: every MQL is worked and judged by the acceptance curve alone".to_string()
        }
        Capacity::Team(t) if t.unlimited => {
            let tiers: Vec<String> = t
                .tiers
                .iter()
                .rev()
                .map(|x| {
                    format!(
                        "{} (score ≥ {}): {} touches",
                        x.name, x.min_score, x.touches
                    )
                })
                .collect();
            format!(
                "unlimited reps (paid {} per touch made), contact {} per touch; SLA {}",
                money(t.cost_per_touch_made()),
                prob_text(&m.params[t.contact_p].prob),
                tiers.join(", ")
            )
        }
        Capacity::Team(t) => {
            let hires: u32 = t.hires.iter().map(|h| h.count).sum();
            let tiers: Vec<String> = t
                .tiers
                .iter()
                .rev()
                .map(|x| {
                    format!(
                        "{} (score ≥ {}): {} touches",
                        x.name, x.min_score, x.touches
                    )
                })
                .collect();
            format!(
                "{} reps at start{}, {} touches/rep/week, contact {} per touch; SLA {}{}",
                t.reps,
                if hires > 0 {
                    format!(
                        " + {hires} hired (weeks {})",
                        t.hires
                            .iter()
                            .map(|h| h.week.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    String::new()
                },
                t.touches_per_rep_week,
                prob_text(&m.params[t.contact_p].prob),
                tiers.join(", "),
                if t.cost_per_rep_week > 0.0 || t.cost_per_touch > 0.0 {
                    format!(
                        "; cost {} a rep-week, {} a touch",
                        money(t.cost_per_rep_week),
                        money(t.cost_per_touch)
                    )
                } else {
                    String::new()
                }
            )
        }
    };
    let quality = m.scoring.quality.as_ref().map(|q| {
        let mut parts: Vec<String> = m
            .funnel
            .transitions
            .iter()
            .enumerate()
            .zip(&q.per_10)
            .filter(|(_, k)| **k != 0.0)
            .map(|((i, t), k)| {
                let what = if matches!(t.advance, Advance::Win(_)) {
                    "win rate".to_string()
                } else {
                    format!("{}→{}", m.stages[i].name, m.stages[i + 1].name)
                };
                format!("{what} {k:+} log-odds")
            })
            .collect();
        if q.size_per_10 != 0.0 {
            parts.push(format!("deal size ×{:.3}", q.size_per_10.exp()));
        }
        format!(
            "per 10 points above {}: {}",
            q.reference,
            if parts.is_empty() {
                "no change".to_string()
            } else {
                parts.join(", ")
            }
        )
    });
    let uncertain_delays = uncertain_delays(m);
    let uncertain = m
        .params
        .iter()
        .filter(|p| p.prob.is_uncertain())
        .map(|p| UncertainSummary {
            key: p.key.clone(),
            mean: p.prob.mean(),
            p10: p.prob.quantile(0.1),
            p90: p.prob.quantile(0.9),
        })
        .collect();
    let channels = m
        .channels
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let conv = channel_conversion(m, i, &params);
            let mut steps: Vec<Step> = m
                .stages
                .windows(2)
                .zip(conv.reach.windows(2))
                .map(|(s, r)| Step {
                    from: s[0].name.clone(),
                    to: s[1].name.clone(),
                    rate: if r[0] > 0.0 { r[1] / r[0] } else { 0.0 },
                })
                .collect();
            let last = conv.reach[conv.reach.len() - 1];
            steps.push(Step {
                from: m.stages[m.stages.len() - 1].name.clone(),
                to: "won".into(),
                rate: if last > 0.0 { conv.won / last } else { 0.0 },
            });
            // Averages over the horizon (a model alone: a 52-week year), so
            // seasonal and occasional channels show what they bring.
            let weeks = f64::from(cal.weeks);
            let (leads, spend) = (0..cal.weeks).fold((0.0, 0.0), |(l, s), w| {
                let x = c.expected_leads(w, cal);
                (l + x, s + c.spend(w, x))
            });
            ChannelSummary {
                name: c.name.clone(),
                source: c.source,
                leads_per_week: leads / weeks,
                spend_per_week: spend / weeks,
                reach: m
                    .stages
                    .iter()
                    .zip(&conv.reach)
                    .map(|(s, r)| (s.name.clone(), *r))
                    .collect(),
                steps,
                lead_to_won: conv.won,
                lag_weeks: conv.lag_weeks,
            }
        })
        .collect();
    ModelSummary {
        name: name.to_string(),
        file: file.to_string(),
        stages,
        capacity,
        quality,
        uncertain,
        uncertain_delays,
        open_deals: m.pipeline.iter().filter(|d| d.score.is_none()).count(),
        open_amount: m
            .pipeline
            .iter()
            .filter(|d| d.score.is_none())
            .map(|d| d.amount)
            .sum(),
        open_leads: m.pipeline.iter().filter(|d| d.score.is_some()).count(),
        channels,
        warnings: m.warnings.clone(),
    }
}

fn curve_text(c: &AcceptanceCurve, m: &Model) -> String {
    match c {
        AcceptanceCurve::Constant(p) => prob_text(&m.params[*p].prob),
        AcceptanceCurve::Logistic {
            max,
            midpoint,
            scale,
        } => format!(
            "logistic: max {}, midpoint {midpoint}, scale {scale}",
            prob_text(&m.params[*max].prob)
        ),
        AcceptanceCurve::Table { scores, .. } => format!("table of {} points", scores.len()),
    }
}

/// Renders reports in a format.
/// The reports of every file checked, for the export layer.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Checks {
    pub reports: Vec<CheckReport>,
}

impl Exportable for Checks {
    const KIND: &'static str = "check";

    fn primary(&self) -> &'static str {
        "channels"
    }

    /// One part per file for the terminal; for files, every file's stages
    /// and channels in one table each, with the file as a column.
    fn view(&self) -> View {
        let mut stages = stage_table(true);
        let mut channels = channel_table(&self.reports, true);
        for r in &self.reports {
            fill_stages(&mut stages, r, true);
            fill_channels(&mut channels, r, true);
        }
        View {
            tables: vec![channels.detail(), stages.detail()],
            parts: self.reports.iter().map(file_view).collect(),
            ..View::default()
        }
    }
}

fn stage_table(with_file: bool) -> Table {
    let mut columns = Vec::new();
    if with_file {
        columns.push(col("file", "file", Unit::Text));
    }
    columns.extend([
        col("stage", "stage", Unit::Text),
        col("role", "role", Unit::Text),
        col("exit", "how leads leave it", Unit::Text),
    ]);
    Table::new("stages", "  stages:", columns)
}

fn fill_stages(t: &mut Table, r: &CheckReport, with_file: bool) {
    for s in &r.model.stages {
        let mut row: Vec<Cell> = Vec::new();
        if with_file {
            row.push(r.file.clone().into());
        }
        row.extend([
            s.name.clone().into(),
            s.role.map_or(Cell::Empty, Cell::from),
            s.exit.clone().into(),
        ]);
        t.row(row);
    }
}

/// Every step seen in any of the models (they may differ in their stages).
fn steps(reports: &[CheckReport]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for c in reports.iter().flat_map(|r| &r.model.channels) {
        for s in &c.steps {
            let key = (s.from.clone(), s.to.clone());
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out
}

fn channel_table(reports: &[CheckReport], with_file: bool) -> Table {
    let mut columns = Vec::new();
    if with_file {
        columns.push(col("file", "file", Unit::Text));
    }
    columns.extend([
        col("channel", "channel", Unit::Text),
        col("source", "source", Unit::Text),
        col("leads_per_week", "leads/wk", Unit::Number(1)),
        col("spend_per_week", "spend/wk", Unit::Money),
    ]);
    for (from, to) in steps(reports) {
        columns.push(col(
            &format!("{from}_to_{to}"),
            &format!("{from}→{to}"),
            Unit::Share,
        ));
    }
    columns.extend([
        col("lead_to_won", "lead→won", Unit::Share),
        col("lag", "lag wk", Unit::Weeks),
    ]);
    Table::new(
        "channels",
        "  channels — expected conversion per step (recycling included, SLA met):",
        columns,
    )
}

fn fill_channels(t: &mut Table, r: &CheckReport, with_file: bool) {
    let keys: Vec<String> = t
        .columns
        .iter()
        .filter(|&c| c.key.contains("_to_") && c.key != "lead_to_won")
        .map(|c| c.key.clone())
        .collect();
    for c in &r.model.channels {
        let mut row: Vec<Cell> = Vec::new();
        if with_file {
            row.push(r.file.clone().into());
        }
        row.extend([
            c.name.clone().into(),
            c.source.name().into(),
            c.leads_per_week.into(),
            c.spend_per_week.into(),
        ]);
        for k in &keys {
            let rate = c
                .steps
                .iter()
                .find(|s| format!("{}_to_{}", s.from, s.to) == *k)
                .map(|s| s.rate);
            row.push(rate.into());
        }
        row.extend([c.lead_to_won.into(), c.lag_weeks.into()]);
        t.row(row);
    }
}

/// What one file describes, for the terminal.
fn file_view(r: &CheckReport) -> View {
    let m = &r.model;
    let mut v = View::default();
    match &r.scenario {
        Some(s) => {
            v.title = format!(
                "{}: ok — scenario \"{}\" on model \"{}\" ({})",
                r.file, s.name, m.name, m.file
            );
            let from = s
                .start_date
                .as_ref()
                .map_or(String::new(), |d| format!(" from {d}"));
            let unit: fn(f64) -> String = if s.metric == "revenue" { money } else { count };
            let periods: Vec<String> = s
                .target_periods
                .iter()
                .map(|p| format!("{} {}", p.label, unit(p.amount)))
                .collect();
            v.lines.push(format!(
                "  horizon {} weeks{from}; target {}{} ({})",
                s.horizon_weeks,
                unit(s.target),
                if s.metric == "revenue" {
                    String::new()
                } else {
                    format!(" {}", s.metric)
                },
                periods.join(", ")
            ));
            if !s.variants.is_empty() {
                v.lines
                    .push(format!("  variants: {}", s.variants.join(", ")));
            }
        }
        None => v.title = format!("{}: ok — model \"{}\"", r.file, m.name),
    }
    let mut stages = stage_table(false);
    fill_stages(&mut stages, r, false);
    v.tables.push(stages);
    let mut channels = channel_table(std::slice::from_ref(r), false);
    fill_channels(&mut channels, r, false);
    channels.notes.push(format!("capacity: {}", m.capacity));
    if let Some(q) = &m.quality {
        channels.notes.push(format!("lead quality: {q}"));
    }
    let listed =
        |what: &str, list: &[UncertainSummary], show: &dyn Fn(&UncertainSummary) -> String| {
            (!list.is_empty()).then(|| {
                let u: Vec<String> = list.iter().map(show).collect();
                format!("{what}, drawn per trial: {}", u.join("; "))
            })
        };
    channels
        .notes
        .extend(listed("uncertain", &m.uncertain, &|u| {
            format!(
                "{} {} (P10–P90 {}–{})",
                u.key,
                pct(u.mean),
                pct(u.p10),
                pct(u.p90)
            )
        }));
    channels
        .notes
        .extend(listed("uncertain delays", &m.uncertain_delays, &|u| {
            format!(
                "{} mean {:.1} weeks (P10–P90 of the draws {:.1}–{:.1})",
                u.key, u.mean, u.p10, u.p90
            )
        }));
    if m.open_deals + m.open_leads > 0 {
        channels.notes.push(format!(
            "open pipeline: {} deals, {}; {} leads in flight",
            m.open_deals,
            money(m.open_amount),
            m.open_leads
        ));
    }
    channels
        .notes
        .extend(m.warnings.iter().map(|w| format!("warning: {w}")));
    v.tables.push(channels);
    v
}

/// Each uncertain delay: its mean, and the P10 and P90 of its draws'
/// means.
fn uncertain_delays(m: &crate::model::Model) -> Vec<UncertainSummary> {
    m.uncertain_delays()
        .into_iter()
        .map(|d| {
            let mut means: Vec<f64> = d.draws.iter().map(crate::dist::Delay::mean).collect();
            means.sort_by(f64::total_cmp);
            let at = |q: f64| means[((means.len() - 1) as f64 * q).round() as usize];
            UncertainSummary {
                key: d.key.clone(),
                mean: means.iter().sum::<f64>() / means.len() as f64,
                p10: at(0.1),
                p90: at(0.9),
            }
        })
        .collect()
}

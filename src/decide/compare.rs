//! `revplan compare`: the base scenario and its variants side by side, with
//! differences measured trial by trial on the same random numbers.

use serde::Serialize;

use super::{Delta, Figures, Settings, columns_csv, paired, paired_hits, run_family};
use crate::model::Scenario;
use crate::output::{Format, TextTable, money, num, pct};
use crate::sim::SimError;

/// An alternative to compare with the base.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub name: String,
    pub description: Option<String>,
    pub scenario: Scenario,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VariantRow {
    pub name: String,
    pub description: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
    /// Revenue over the horizon, variant − base, trial by trial.
    pub delta_vs_base: Delta,
    /// P(revenue ≥ target), variant − base, trial by trial.
    pub p_hit_delta: Delta,
    /// Contribution (revenue − marketing spend − sales cost), variant −
    /// base, trial by trial.
    pub contribution_delta: Delta,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub scenario: String,
    pub engine: &'static str,
    pub trials: u64,
    pub seed: u64,
    pub target: f64,
    /// The base first (its deltas are zero), then each variant.
    pub variants: Vec<VariantRow>,
    /// The base's whole forecast (for reports; not printed).
    #[serde(skip)]
    pub base_forecast: crate::sim::Forecast,
}

/// Simulates the base and every candidate on the same random numbers.
pub fn compare(
    base: &Scenario,
    candidates: &[Candidate],
    settings: &Settings,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Comparison, SimError> {
    let mut family: Vec<&Scenario> = vec![base];
    family.extend(candidates.iter().map(|c| &c.scenario));
    let runs = run_family(&family, settings, progress)?;
    let target = base.target.total;
    let base_trials = &runs[0].per_trial;
    let base_contribution = &runs[0].per_trial_contribution;
    let names = std::iter::once(("base".to_string(), base.description.clone())).chain(
        candidates
            .iter()
            .map(|c| (c.name.clone(), c.description.clone())),
    );
    let variants = runs
        .iter()
        .zip(names)
        .map(|(r, (name, description))| VariantRow {
            name,
            description,
            figures: Figures::of(&r.forecast),
            delta_vs_base: paired(base_trials, &r.per_trial),
            p_hit_delta: paired_hits(&runs[0].per_trial_goal, &r.per_trial_goal, target),
            contribution_delta: paired(base_contribution, &r.per_trial_contribution),
        })
        .collect();
    Ok(Comparison {
        base_forecast: runs[0].forecast.clone(),
        scenario: base.name.clone(),
        engine: runs[0].forecast.engine,
        trials: runs[0].forecast.trials,
        seed: settings.seed,
        target,
        variants,
    })
}

fn signed_money(x: f64) -> String {
    if x >= 0.5 {
        format!("+{}", money(x))
    } else {
        money(x)
    }
}

fn points(x: f64) -> String {
    format!("{:+.1} pts", 100.0 * x)
}

pub fn render(c: &Comparison, format: Format) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(c).expect("serializable");
            s.push('\n');
            s
        }
        Format::Csv => csv(c),
        Format::Table => table(c),
    }
}

fn table(c: &Comparison) -> String {
    let mut out = format!(
        "Compare \"{}\": {} trials each (seed {}, {} engine), every variant on the same random numbers\n\
         Target {}. Differences are variant − base, trial by trial, with 95% intervals; better/same/worse: \
         share of trials in which the variant's revenue is higher, equal, lower.\n\n",
        c.scenario,
        c.trials,
        c.seed,
        c.engine,
        money(c.target)
    );
    let mut t = TextTable::new([
        "variant",
        "P(hit)",
        "Δ P(hit)",
        "mean",
        "Δ mean",
        "95% CI",
        "better/same/worse",
        "P10",
        "P50",
        "P90",
    ]);
    for v in &c.variants {
        let f = &v.figures;
        let base = v.name == "base";
        t.row(vec![
            v.name.clone(),
            pct(f.p_hit_target),
            if base {
                "-".into()
            } else {
                points(v.p_hit_delta.mean)
            },
            money(f.revenue.mean),
            if base {
                "-".into()
            } else {
                signed_money(v.delta_vs_base.mean)
            },
            if base {
                "-".into()
            } else {
                format!(
                    "{} … {}",
                    signed_money(v.delta_vs_base.ci_low),
                    signed_money(v.delta_vs_base.ci_high)
                )
            },
            if base {
                "-".into()
            } else {
                let d = &v.delta_vs_base;
                format!(
                    "{:.0}/{:.0}/{:.0}%",
                    100.0 * d.p_better,
                    100.0 * d.p_tie,
                    100.0 * d.p_worse
                )
            },
            money(f.revenue.p10),
            money(f.revenue.p50),
            money(f.revenue.p90),
        ]);
    }
    out.push_str(&t.render("  "));
    out.push('\n');
    let mut t = TextTable::new([
        "variant",
        "spend",
        "sales cost",
        "contribution",
        "Δ contribution",
        "CAC",
        "ROI",
        "leads",
        "MQLs",
        "accepted",
        "opps",
        "wins",
    ]);
    for v in &c.variants {
        let f = &v.figures;
        t.row(vec![
            v.name.clone(),
            money(f.spend.mean),
            money(f.sales_cost.mean),
            money(f.contribution.mean),
            if v.name == "base" {
                "-".into()
            } else {
                signed_money(v.contribution_delta.mean)
            },
            f.cac.map_or("-".into(), money),
            f.roi.map_or("-".into(), |r| format!("{r:.1}×")),
            num(f.stages.leads, 0),
            num(f.stages.mqls, 0),
            f.acceptance_rate.map_or("-".into(), pct),
            num(f.stages.opportunities, 0),
            num(f.stages.wins, 1),
        ]);
    }
    out.push_str(&t.render("  "));
    for v in c
        .variants
        .iter()
        .filter(|v| v.description.is_some() && v.name != "base")
    {
        out.push_str(&format!(
            "\n  {}: {}",
            v.name,
            v.description.as_deref().unwrap_or_default()
        ));
    }
    if c.variants.len() > 1 {
        out.push('\n');
    }
    out
}

fn csv(c: &Comparison) -> String {
    columns_csv(
        c.variants
            .iter()
            .map(|v| {
                let mut row = vec![("variant", v.name.clone())];
                row.extend(v.figures.columns());
                let (d, h) = (&v.delta_vs_base, &v.p_hit_delta);
                row.extend([
                    ("p_hit_delta", num(h.mean, 6)),
                    ("p_hit_delta_ci_low", num(h.ci_low, 6)),
                    ("p_hit_delta_ci_high", num(h.ci_high, 6)),
                    ("mean_delta", num(d.mean, 2)),
                    ("mean_delta_std_error", num(d.std_error, 2)),
                    ("mean_delta_ci_low", num(d.ci_low, 2)),
                    ("mean_delta_ci_high", num(d.ci_high, 2)),
                    ("p_better", num(d.p_better, 6)),
                    ("p_tie", num(d.p_tie, 6)),
                    ("p_worse", num(d.p_worse, 6)),
                    ("contribution_delta", num(v.contribution_delta.mean, 2)),
                    (
                        "contribution_delta_std_error",
                        num(v.contribution_delta.std_error, 2),
                    ),
                ]);
                row
            })
            .collect(),
    )
}

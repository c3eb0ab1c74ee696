//! `revplan compare`: the base scenario and its variants side by side, with
//! differences measured trial by trial on the same random numbers.

use serde::Serialize;

use super::{Delta, Figures, Settings, paired, paired_hits, run_family};
use crate::export::format::{count, money};
use crate::export::{Cell, Exportable, Table, Unit, View, col};
use crate::model::Scenario;
use crate::sim::SimError;

/// An alternative to compare with the base.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub name: String,
    pub description: Option<String>,
    pub scenario: Scenario,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
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

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
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

/// The variants to compare: the file's (all, or those named in `only`),
/// then the ad-hoc ones, each a name and the overrides that define it on
/// top of the base's.
pub fn candidates(
    file: &std::path::Path,
    base_sets: &[String],
    only: &[String],
    adhoc: &[(String, Vec<String>)],
) -> Result<(crate::load::Loaded, Vec<Candidate>), crate::Error> {
    let loaded = crate::load::load_scenario(file, base_sets)?;
    let chosen: Vec<&crate::load::Variant> = if only.is_empty() {
        loaded.all_variants()?.iter().collect()
    } else {
        only.iter()
            .map(|name| loaded.variant(name))
            .collect::<Result<_, _>>()?
    };
    let mut out: Vec<Candidate> = chosen
        .into_iter()
        .map(|v| Candidate {
            name: v.name.clone(),
            description: v.description.clone(),
            scenario: v.scenario.clone(),
        })
        .collect();
    for (name, sets) in adhoc {
        let mut own = base_sets.to_vec();
        own.extend(sets.iter().cloned());
        let adhoc = crate::load::load_scenario(file, &own)?;
        out.push(Candidate {
            name: name.clone(),
            description: Some("ad-hoc, from the command line".into()),
            scenario: adhoc.base,
        });
    }
    Ok((loaded, out))
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
            p_hit_delta: paired_hits(&runs[0], r, target),
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

impl Exportable for Comparison {
    const KIND: &'static str = "compare";

    fn primary(&self) -> &'static str {
        "all"
    }

    fn view(&self) -> View {
        let c = self;
        let mut v = View {
            title: format!(
                "Compare \"{}\": {} trials each (seed {}, {} engine), every variant on the same random numbers",
                c.scenario,
                count(c.trials as f64),
                c.seed,
                c.engine
            ),
            ..View::default()
        };
        v.lines.push(format!(
            "Target {}. Differences are variant − base, trial by trial, with 95% intervals; better/same/worse: \
             the share of trials in which the variant's revenue is higher, equal, lower.",
            money(c.target)
        ));
        let mut revenue = Table::new(
            "revenue",
            "",
            vec![
                col("variant", "variant", Unit::Text),
                col("p_hit", "P(hit)", Unit::Share),
                col("p_hit_delta", "Δ P(hit)", Unit::Share).signed(),
                col("revenue_mean", "mean", Unit::Money),
                col("revenue_delta", "Δ mean", Unit::Money).signed(),
                col("revenue_delta_ci_low", "95% low", Unit::Money).signed(),
                col("revenue_delta_ci_high", "95% high", Unit::Money).signed(),
                col("p_better", "better", Unit::Share),
                col("p_tie", "same", Unit::Share),
                col("p_worse", "worse", Unit::Share),
                col("revenue_p10", "P10", Unit::Money),
                col("revenue_p50", "P50", Unit::Money),
                col("revenue_p90", "P90", Unit::Money),
            ],
        );
        let mut costs = Table::new(
            "costs",
            "",
            vec![
                col("variant", "variant", Unit::Text),
                col("spend", "spend", Unit::Money),
                col("sales_cost", "sales cost", Unit::Money),
                col("contribution", "contribution", Unit::Money),
                col("contribution_delta", "Δ contribution", Unit::Money).signed(),
                col("cac", "CAC", Unit::Money),
                col("roi", "ROI", Unit::Ratio),
                col("leads", "leads", Unit::Count),
                col("mqls", "MQLs", Unit::Count),
                col("acceptance_rate", "accepted", Unit::Share),
                col("opportunities", "opps", Unit::Count),
                col("wins", "wins", Unit::Count),
            ],
        );
        let mut columns = vec![col("variant", "variant", Unit::Text)];
        columns.extend(Figures::columns());
        columns.extend([
            col("p_hit_delta", "Δ P(hit)", Unit::Share).signed(),
            col("p_hit_delta_ci_low", "Δ P(hit) 95% low", Unit::Share).signed(),
            col("p_hit_delta_ci_high", "Δ P(hit) 95% high", Unit::Share).signed(),
            col("revenue_delta", "Δ mean", Unit::Money).signed(),
            col("revenue_delta_std_error", "Δ mean ± SE", Unit::Money),
            col("revenue_delta_ci_low", "95% low", Unit::Money).signed(),
            col("revenue_delta_ci_high", "95% high", Unit::Money).signed(),
            col("p_better", "better", Unit::Share),
            col("p_tie", "same", Unit::Share),
            col("p_worse", "worse", Unit::Share),
            col("contribution_delta", "Δ contribution", Unit::Money).signed(),
            col(
                "contribution_delta_std_error",
                "Δ contribution ± SE",
                Unit::Money,
            ),
            col("description", "description", Unit::Text),
        ]);
        let mut all = Table::new("all", "", columns).detail();
        for r in &c.variants {
            let f = &r.figures;
            let (d, h, k) = (&r.delta_vs_base, &r.p_hit_delta, &r.contribution_delta);
            let base = r.name == "base";
            let delta = |x: f64| if base { Cell::Empty } else { x.into() };
            revenue.row(vec![
                r.name.clone().into(),
                f.p_hit_target.into(),
                delta(h.mean),
                f.revenue.mean.into(),
                delta(d.mean),
                delta(d.ci_low),
                delta(d.ci_high),
                delta(d.p_better),
                delta(d.p_tie),
                delta(d.p_worse),
                f.revenue.p10.into(),
                f.revenue.p50.into(),
                f.revenue.p90.into(),
            ]);
            costs.row(vec![
                r.name.clone().into(),
                f.spend.mean.into(),
                f.sales_cost.mean.into(),
                f.contribution.mean.into(),
                delta(k.mean),
                f.cac.into(),
                f.roi.into(),
                f.stages.leads.into(),
                f.stages.mqls.into(),
                f.acceptance_rate.into(),
                f.stages.opportunities.into(),
                f.stages.wins.into(),
            ]);
            let mut row: Vec<Cell> = vec![r.name.clone().into()];
            row.extend(f.cells());
            row.extend([
                h.mean.into(),
                h.ci_low.into(),
                h.ci_high.into(),
                d.mean.into(),
                d.std_error.into(),
                d.ci_low.into(),
                d.ci_high.into(),
                d.p_better.into(),
                d.p_tie.into(),
                d.p_worse.into(),
                k.mean.into(),
                k.std_error.into(),
                r.description.clone().map_or(Cell::Empty, Cell::from),
            ]);
            all.row(row);
        }
        let revenue =
            revenue.with_chart("variant", &["revenue_mean", "revenue_p10", "revenue_p90"]);
        v.tables.extend([revenue, costs, all]);
        for r in c
            .variants
            .iter()
            .filter(|r| r.description.is_some() && r.name != "base")
        {
            v.footer.push(format!(
                "  {}: {}",
                r.name,
                r.description.as_deref().unwrap_or_default()
            ));
        }
        v
    }
}

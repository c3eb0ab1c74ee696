//! `revplan sweep`: one parameter along a range of values, every point on
//! the same random numbers — above all the MQL threshold, where a lower bar
//! floods sales with weak leads and a higher one dries up the volume.

use serde::Serialize;

use super::{Figures, Objective, Settings, best_of, run_family_for};
use crate::export::format::{count, money};
use crate::export::{Cell, Exportable, Table, Unit, View, col};
use crate::model::Scenario;
use crate::sim::{Forecast, SimError};

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SweepPoint {
    /// The value as given.
    pub value: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// SLA touches the MQLs asked for over the horizon, per touch the team
    /// could make (above 1: follow-up is thinned).
    pub sales_load: Option<f64>,
    /// Expected number of weeks over capacity.
    pub weeks_over_capacity: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Sweep {
    pub scenario: String,
    pub param: String,
    pub engine: &'static str,
    pub trials: u64,
    pub seed: u64,
    pub target: f64,
    pub points: Vec<SweepPoint>,
    /// What "best" maximises.
    pub objective: Objective,
    /// The best point: the first of those not worse than the highest by
    /// more than two paired standard errors (`tied`).
    pub best: usize,
    pub tied: Vec<usize>,
}

fn load(f: &Forecast) -> (Option<f64>, Option<f64>) {
    match &f.capacity {
        // An unlimited team has no load to speak of.
        Some(weeks) if weeks.iter().all(|w| w.touches_available.is_infinite()) => (None, None),
        None => (None, None),
        Some(weeks) => {
            let need: f64 = weeks.iter().map(|w| w.mean_touches_needed).sum();
            let have: f64 = weeks.iter().map(|w| w.touches_available).sum();
            let over: f64 = weeks.iter().map(|w| w.p_over).sum();
            ((have > 0.0).then(|| need / have), Some(over))
        }
    }
}

/// Simulates each (value, scenario) on the same random numbers.
pub fn sweep(
    param: &str,
    points: &[(String, Scenario)],
    objective: Objective,
    settings: &Settings,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Sweep, SimError> {
    let family: Vec<&Scenario> = points.iter().map(|(_, s)| s).collect();
    let runs = run_family_for(&family, settings, progress, Some(objective))?;
    let out: Vec<SweepPoint> = runs
        .iter()
        .zip(points)
        .map(|(r, (value, _))| {
            let (sales_load, weeks_over_capacity) = load(&r.forecast);
            SweepPoint {
                value: value.clone(),
                figures: Figures::of(&r.forecast),
                sales_load,
                weeks_over_capacity,
            }
        })
        .collect();
    let base = points.first().map(|(_, s)| s);
    let (best, tied) = best_of(&runs, objective, base.map_or(0.0, |s| s.target.total));
    Ok(Sweep {
        scenario: base.map_or(String::new(), |s| s.name.clone()),
        param: param.to_string(),
        engine: runs.first().map_or("", |r| r.forecast.engine),
        trials: runs.first().map_or(0, |r| r.forecast.trials),
        seed: settings.seed,
        target: base.map_or(0.0, |s| s.target.total),
        points: out,
        objective,
        best,
        tied,
    })
}

/// The values of a numeric range as `--set` takes them: whole numbers
/// without a decimal point, others rounded to nine places.
pub fn range_values(from: f64, to: f64, step: f64) -> Result<Vec<String>, String> {
    Ok(range(from, to, step)?
        .into_iter()
        .map(|v| {
            let r = (v * 1e9).round() / 1e9;
            if r.fract() == 0.0 {
                format!("{r:.0}")
            } else {
                format!("{r}")
            }
        })
        .collect())
}

/// The scenario (or its variant) at each value of `param`, on top of the
/// overrides `sets`.
pub fn points(
    file: &std::path::Path,
    sets: &[String],
    variant: Option<&str>,
    param: &str,
    values: &[String],
) -> Result<Vec<(String, Scenario)>, crate::Error> {
    if values.is_empty() {
        return Err(crate::Error::Usage(
            "give --values A,B,C or --from X --to Y --step Z".into(),
        ));
    }
    let head = param.trim().split(['.', '[']).next().unwrap_or("");
    if matches!(head, "run" | "model" | "name" | "description" | "variants") {
        let why = match head {
            "run" => {
                "every point runs with the same trials and seed (common random numbers); \
                      give --trials or --seed to the command instead"
            }
            "variants" => "sweep a variant's key with --variant NAME and the key itself",
            _ => "it does not change what is simulated",
        };
        return Err(crate::Error::Usage(format!(
            "`{param}` cannot be swept: {why}"
        )));
    }
    if values.len() > MAX_POINTS {
        return Err(crate::Error::Usage(format!(
            "{} points is too many; at most {MAX_POINTS}",
            values.len()
        )));
    }
    values
        .iter()
        .map(|v| {
            let v = v.trim();
            if v.is_empty() {
                return Err(crate::Error::Usage(format!(
                    "--values has an empty value for `{param}`"
                )));
            }
            let mut all = sets.to_vec();
            all.push(format!("{param}={v}"));
            let loaded = crate::load::load_scenario(file, &all)?;
            let s = match variant {
                None => loaded.base,
                Some(name) => loaded.variant(name)?.scenario.clone(),
            };
            Ok((v.to_string(), s))
        })
        .collect()
}

/// Most points a sweep runs.
pub const MAX_POINTS: usize = 1001;

/// Values from `from` to `to` (inclusive) by `step`.
pub fn range(from: f64, to: f64, step: f64) -> Result<Vec<f64>, String> {
    if !(from.is_finite() && to.is_finite() && step.is_finite()) || step <= 0.0 {
        return Err("--from, --to and --step must be finite, with --step > 0".into());
    }
    let n = ((to - from) / step + 1e-9).floor();
    if n < 0.0 {
        return Err("--to must not be below --from".into());
    }
    if n + 1.0 > MAX_POINTS as f64 {
        return Err(format!(
            "{} points is too many; at most {MAX_POINTS}",
            n + 1.0
        ));
    }
    Ok((0..=n as usize).map(|i| from + step * i as f64).collect())
}

impl Exportable for Sweep {
    const KIND: &'static str = "sweep";

    fn primary(&self) -> &'static str {
        "all"
    }

    fn view(&self) -> View {
        let s = self;
        let mut v = View {
            title: format!(
                "Sweep of `{}` on \"{}\": {} trials a point (seed {}, {} engine), every point on the same random \
                 numbers",
                s.param,
                s.scenario,
                count(s.trials as f64),
                s.seed,
                s.engine
            ),
            ..View::default()
        };
        v.lines.push(format!("Target {}.", money(s.target)));
        let capacity = s.points.iter().any(|p| p.sales_load.is_some());
        let mut columns = vec![
            col("value", "value", Unit::Text),
            col("leads", "leads", Unit::Count),
            col("mqls", "MQLs", Unit::Count),
            col("acceptance_rate", "accepted", Unit::Share),
        ];
        if capacity {
            columns.extend([
                col("sales_load", "sales load", Unit::Share),
                col("weeks_over_capacity", "weeks over", Unit::Weeks),
            ]);
        }
        columns.extend([
            col("opportunities", "opps", Unit::Count),
            col("wins", "wins", Unit::Count),
            col("revenue_mean", "mean", Unit::Money),
            col("revenue_p10", "P10", Unit::Money),
            col("revenue_p90", "P90", Unit::Money),
            col("p_hit", "P(hit)", Unit::Share),
            col("contribution", "contribution", Unit::Money),
            col("best", "", Unit::Text),
        ]);
        let mut t = Table::new("points", "", columns);
        let mut all_columns = vec![col("value", "value", Unit::Text)];
        all_columns.extend(Figures::columns());
        all_columns.extend([
            col("sales_load", "sales load", Unit::Share),
            col("weeks_over_capacity", "weeks over", Unit::Weeks),
            col("best", "best", Unit::Text),
        ]);
        let mut all = Table::new("all", "", all_columns).detail();
        for (i, p) in s.points.iter().enumerate() {
            let f = &p.figures;
            let mark: Cell = if i == s.best {
                "← best".into()
            } else if s.tied.contains(&i) {
                "≈ best".into()
            } else {
                Cell::Empty
            };
            let mut row: Vec<Cell> = vec![
                p.value.clone().into(),
                f.stages.leads.into(),
                f.stages.mqls.into(),
                f.acceptance_rate.into(),
            ];
            if capacity {
                row.extend([p.sales_load.into(), p.weeks_over_capacity.into()]);
            }
            row.extend([
                f.stages.opportunities.into(),
                f.stages.wins.into(),
                f.revenue.mean.into(),
                f.revenue.p10.into(),
                f.revenue.p90.into(),
                f.p_hit_target.into(),
                f.contribution.mean.into(),
                mark.clone(),
            ]);
            t.row(row);
            let mut full: Vec<Cell> = vec![p.value.clone().into()];
            full.extend(f.cells());
            full.extend([p.sales_load.into(), p.weeks_over_capacity.into(), mark]);
            all.row(full);
        }
        t.notes.push(format!(
            "(best: the highest {}; ≈ best: not lower beyond two paired standard errors, the first of them marked \
             best)",
            match s.objective {
                Objective::Mean => "mean revenue",
                Objective::P50 => "median revenue",
                Objective::PHit => "P(hit)",
                Objective::Contribution => "mean contribution",
            }
        ));
        if capacity {
            t.notes.push(
                "(sales load: SLA touches asked over the horizon per touch the team can make; weeks over: expected \
                 weeks in which MQLs need more touches than the reps can make, so each gets fewer)"
                    .into(),
            );
        }
        v.tables.extend([t.with_chart("value", &["p_hit"]), all]);
        v
    }
}

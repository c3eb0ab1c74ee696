//! `revplan sweep`: one parameter along a range of values, every point on
//! the same random numbers — above all the MQL threshold, where a lower bar
//! floods sales with weak leads and a higher one dries up the volume.

use serde::Serialize;

use super::{Figures, Objective, Settings, best_of, columns_csv, run_family};
use crate::model::Scenario;
use crate::output::{Format, TextTable, money, num, pct};
use crate::sim::{Forecast, SimError};

#[derive(Clone, Debug, PartialEq, Serialize)]
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

#[derive(Clone, Debug, PartialEq, Serialize)]
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
    let runs = run_family(&family, settings, progress)?;
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

/// Values from `from` to `to` (inclusive) by `step`.
pub fn range(from: f64, to: f64, step: f64) -> Result<Vec<f64>, String> {
    if !(from.is_finite() && to.is_finite() && step.is_finite()) || step <= 0.0 {
        return Err("--from, --to and --step must be finite, with --step > 0".into());
    }
    let n = ((to - from) / step + 1e-9).floor();
    if n < 0.0 {
        return Err("--to must not be below --from".into());
    }
    if n > 1000.0 {
        return Err(format!("{} points is too many; at most 1001", n + 1.0));
    }
    Ok((0..=n as usize).map(|i| from + step * i as f64).collect())
}

pub fn render(s: &Sweep, format: Format) -> String {
    match format {
        Format::Json => {
            let mut t = serde_json::to_string_pretty(s).expect("serializable");
            t.push('\n');
            t
        }
        Format::Csv => csv(s),
        Format::Table => table(s),
    }
}

fn table(s: &Sweep) -> String {
    let mut out = format!(
        "Sweep of `{}` on \"{}\": {} trials a point (seed {}, {} engine), every point on the same random numbers\n\
         Target {}.\n\n",
        s.param,
        s.scenario,
        s.trials,
        s.seed,
        s.engine,
        money(s.target)
    );
    let capacity = s.points.iter().any(|p| p.sales_load.is_some());
    let mut headers = vec!["value", "leads", "MQLs", "accepted"];
    if capacity {
        headers.extend(["sales load", "weeks over"]);
    }
    headers.extend([
        "opps",
        "wins",
        "mean",
        "P10",
        "P90",
        "P(hit)",
        "contribution",
        "",
    ]);
    let mut t = TextTable::new(headers);
    for (i, p) in s.points.iter().enumerate() {
        let f = &p.figures;
        let mut row = vec![
            p.value.clone(),
            num(f.stages.leads, 0),
            num(f.stages.mqls, 0),
            f.acceptance_rate.map_or("-".into(), pct),
        ];
        if capacity {
            row.push(
                p.sales_load
                    .map_or("-".into(), |l| format!("{:.0}%", 100.0 * l)),
            );
            row.push(p.weeks_over_capacity.map_or("-".into(), |w| num(w, 1)));
        }
        row.extend([
            num(f.stages.opportunities, 0),
            num(f.stages.wins, 1),
            money(f.revenue.mean),
            money(f.revenue.p10),
            money(f.revenue.p90),
            pct(f.p_hit_target),
            money(f.contribution.mean),
            if i == s.best {
                "← best".into()
            } else if s.tied.contains(&i) {
                "≈ best".into()
            } else {
                String::new()
            },
        ]);
        t.row(row);
    }
    out.push_str(&t.render("  "));
    out.push_str(&format!(
        "  (best: the highest {}; ≈ best: not lower beyond two paired standard errors, the first of them \
         marked best)\n",
        match s.objective {
            Objective::Mean => "mean revenue",
            Objective::P50 => "median revenue",
            Objective::PHit => "P(hit)",
            Objective::Contribution => "mean contribution",
        }
    ));
    if capacity {
        out.push_str(
            "  (sales load: SLA touches asked over the horizon per touch the team can make; weeks over: expected\n   \
             weeks in which MQLs need more touches than the reps can make, so each gets fewer)\n",
        );
    }
    out
}

fn csv(s: &Sweep) -> String {
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| num(v, 6));
    columns_csv(
        s.points
            .iter()
            .map(|p| {
                let mut row = vec![("value", p.value.clone())];
                row.extend(p.figures.columns());
                row.extend([
                    ("sales_load", opt(p.sales_load)),
                    ("weeks_over_capacity", opt(p.weeks_over_capacity)),
                ]);
                row
            })
            .collect(),
    )
}

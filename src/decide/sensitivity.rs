//! `revplan sensitivity`: which assumptions matter most — the data of a
//! tornado chart.
//!
//! Each input is set to a low and a high value while everything else stays
//! as in the scenario (uncertain inputs keep their uncertainty): uncertain
//! rates at their P10 and P90, fixed rates, channel volumes and deal sizes
//! by a relative swing, the MQL threshold by a number of points. Every run
//! uses the same random numbers, so the swings are differences of the
//! input, not of the noise. Inputs are sorted by the swing of median
//! revenue.
//!
//! With `--trials auto` the family runs until the chart is drawn true:
//! from [`AUTO_FIRST`] trials, a round of [`AUTO_ROUND`] at a time, each
//! input's low and high runs (and the base, while any input runs) until its swing
//! of mean revenue and of P(hit) — paired, trial by trial, high minus low,
//! each controlled for the drawn rates and the deals' luck
//! ([`super::paired_so_far`]) — has a standard error below [`CHART_SHARE`] of the widest swing of its
//! kind (a tornado is drawn to that scale) or below a tenth of its own
//! swing, at most [`AUTO_CAP`] trials. An input whose swings are precise
//! stops there (the board plan's ran 256 or 512 trials: the inputs that
//! are uncertain rates, fixed at their P10 and P90, lose their own control
//! and need more). The median's swing, which orders
//! the chart, has no per-trial form; on the shipped plans it follows the
//! mean's within a few percent.

use serde::Serialize;

use super::levers::{scale_deal_size, scale_volume};
use super::{
    FAMILY_RELATIVE_SE, Rule, Settings, paired_p_hit, paired_revenue_so_far, run_family,
    run_family_until,
};
use crate::dist::Prob;
use crate::export::format::{count, money, pct};
use crate::export::{Cell, Exportable, Table, Unit, View, col};
use crate::model::Scenario;
use crate::run::Trials;
use crate::sim::SimError;

/// Trials of the first look with `--trials auto`: the standard errors the
/// rule reads are estimates too, each within about ±4.4% (1/√(2n)) of its
/// true value from 256 paired trials, and the controlled swings are as
/// honest there (tested over independent seeds).
pub const AUTO_FIRST: u64 = 256;
/// Trials between looks.
pub const AUTO_ROUND: u64 = 256;
/// Most trials a run takes with `--trials auto`.
pub const AUTO_CAP: u64 = 16_384;
/// A swing is precise when its standard error is below this share of the
/// widest swing of its kind (or a tenth of its own).
pub const CHART_SHARE: f64 = 0.025;

/// How far fixed inputs are moved.
#[derive(Clone, Copy, Debug)]
pub struct Swings {
    /// Relative swing of fixed rates, volumes and deal sizes (0.1 = ±10%).
    pub relative: f64,
    /// Points the MQL threshold moves either way.
    pub threshold_points: f64,
}

impl Default for Swings {
    fn default() -> Swings {
        Swings {
            relative: 0.1,
            threshold_points: 5.0,
        }
    }
}

/// What an input's low and high values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Setting {
    /// The value of a rate (a probability).
    Rate,
    /// A relative change of a volume or a size (−0.1 = 10% less).
    Change,
    /// The MQL threshold, in score points.
    Score,
}

impl Setting {
    fn show(self, x: f64) -> String {
        match self {
            Setting::Rate => pct(x),
            Setting::Change => format!("{:+.0}%", 100.0 * x),
            Setting::Score => format!("{x:.1}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Side {
    /// The input's value (in the row's `setting`).
    pub value: f64,
    pub p50: f64,
    pub mean: f64,
    pub p_hit: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct InputRow {
    pub input: String,
    pub kind: &'static str,
    pub setting: Setting,
    pub low: Side,
    pub high: Side,
    /// |P50 at high − P50 at low|.
    pub swing_p50: f64,
    /// |P(hit) at high − P(hit) at low|.
    pub swing_p_hit: f64,
    /// Trials of its low and high runs (with `--trials auto`, an input
    /// stops as soon as its swings are precise).
    pub trials: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Sensitivity {
    pub scenario: String,
    pub engine: &'static str,
    pub trials: u64,
    pub seed: u64,
    pub target: f64,
    pub base_p50: f64,
    pub base_p_hit: f64,
    /// Relative swing of fixed rates, volumes and deal sizes.
    pub relative_swing: f64,
    /// Points the threshold moved either way.
    pub threshold_points: f64,
    /// Sorted by `swing_p50`, largest first.
    pub inputs: Vec<InputRow>,
    /// Inputs that could not be swung (e.g. a response curve's ceiling).
    pub skipped: Vec<String>,
}

struct Case {
    input: String,
    kind: &'static str,
    setting: Setting,
    low: (f64, Scenario),
    high: (f64, Scenario),
}

fn cases(s: &Scenario, sw: Swings, skipped: &mut Vec<String>) -> Vec<Case> {
    let m = &s.model;
    let mut out = Vec::new();
    for (p, param) in m.params.iter().enumerate() {
        let (kind, lo, hi) = match &param.prob {
            Prob::Beta(_) => (
                "uncertain rate",
                param.prob.quantile(0.1),
                param.prob.quantile(0.9),
            ),
            Prob::Fixed(v) => (
                "rate",
                (v * (1.0 - sw.relative)).clamp(0.0, 1.0),
                (v * (1.0 + sw.relative)).clamp(0.0, 1.0),
            ),
        };
        if (hi - lo).abs() < 1e-12 {
            continue;
        }
        let with = |v: f64| {
            let mut t = s.clone();
            t.model.params[p].prob = Prob::Fixed(v);
            (v, t)
        };
        out.push(Case {
            input: param.key.clone(),
            kind,
            setting: Setting::Rate,
            low: with(lo),
            high: with(hi),
        });
    }
    for (c, ch) in m.channels.iter().enumerate() {
        let scaled = |k: f64| -> Result<(f64, Scenario), String> {
            let mut t = s.clone();
            scale_volume(&mut t, c, k)?;
            Ok((k - 1.0, t))
        };
        match (scaled(1.0 - sw.relative), scaled(1.0 + sw.relative)) {
            (Ok(low), Ok(high)) => out.push(Case {
                input: format!("channels.{}.volume", ch.name),
                kind: "volume",
                setting: Setting::Change,
                low,
                high,
            }),
            (_, Err(e)) | (Err(e), _) => skipped.push(format!("channels.{}.volume: {e}", ch.name)),
        }
    }
    let size = |k: f64| {
        let mut t = s.clone();
        scale_deal_size(&mut t, k);
        (k - 1.0, t)
    };
    out.push(Case {
        input: "deals.size (every channel)".into(),
        kind: "deal size",
        setting: Setting::Change,
        low: size(1.0 - sw.relative),
        high: size(1.0 + sw.relative),
    });
    let sc = &m.scoring;
    let threshold = |d: f64| {
        let mut t = s.clone();
        let v = (sc.threshold + d).clamp(sc.range.0, sc.range.1);
        t.model.scoring.threshold = v;
        (v, t)
    };
    if m.channels[0].funnel.transitions[0].advance == crate::model::Advance::Score {
        out.push(Case {
            input: "scoring.threshold".into(),
            kind: "threshold",
            setting: Setting::Score,
            low: threshold(-sw.threshold_points),
            high: threshold(sw.threshold_points),
        });
    }
    out
}

/// Runs the base and every input at its low and high value.
pub fn sensitivity(
    s: &Scenario,
    swings: Swings,
    settings: &Settings,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Sensitivity, SimError> {
    sensitivity_around(s, swings, settings, None, progress)
}

/// [`sensitivity`], around `base` when it is given: a forecast of `s`
/// with the same seed and engine (the board report's), whose figures are
/// then the chart's centre and which is not run again. The inputs' runs
/// do not depend on it.
pub fn sensitivity_around(
    s: &Scenario,
    swings: Swings,
    settings: &Settings,
    base: Option<&crate::sim::Forecast>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Sensitivity, SimError> {
    let mut skipped = Vec::new();
    let cases = cases(s, swings, &mut skipped);
    // The base run, when there is one, comes first.
    let at = usize::from(base.is_none());
    let mut family: Vec<&Scenario> = if base.is_none() { vec![s] } else { Vec::new() };
    for c in &cases {
        family.push(&c.low.1);
        family.push(&c.high.1);
    }
    let total = family.len();
    let runs = if settings.trials == Trials::Auto {
        let settings = Settings {
            max_trials: settings.max_trials.min(AUTO_CAP),
            ..settings.clone()
        };
        let settled = |r: &[crate::sim::Runner]| swings_settled(r, at, cases.len());
        let rule = Rule {
            min_trials: AUTO_FIRST,
            round: AUTO_ROUND,
            settled: &settled,
            reason: format!(
                "every swing's standard error fell below {}% of the widest (checked every \
                 {AUTO_ROUND} trials from {AUTO_FIRST})",
                100.0 * CHART_SHARE
            ),
        };
        run_family_until(&family, &settings, &|done| progress(done, total), &rule)?
    } else {
        run_family(&family, settings, &|done| progress(done, total))?
    };
    let base = base.unwrap_or_else(|| &runs[0].forecast);
    let side = |value: f64, f: &crate::sim::Forecast| Side {
        value,
        p50: f.revenue.p50,
        mean: f.revenue.mean,
        p_hit: f.p_hit_target,
    };
    let mut inputs: Vec<InputRow> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (lo, hi) = (&runs[at + 2 * i].forecast, &runs[at + 1 + 2 * i].forecast);
            InputRow {
                input: c.input.clone(),
                kind: c.kind,
                setting: c.setting,
                low: side(c.low.0, lo),
                high: side(c.high.0, hi),
                swing_p50: (hi.revenue.p50 - lo.revenue.p50).abs(),
                swing_p_hit: (hi.p_hit_target - lo.p_hit_target).abs(),
                trials: lo.trials,
            }
        })
        .collect();
    inputs.sort_by(|a, b| {
        b.swing_p50
            .total_cmp(&a.swing_p50)
            .then(a.input.cmp(&b.input))
    });
    Ok(Sensitivity {
        scenario: s.name.clone(),
        engine: runs.first().map_or(base.engine, |r| r.forecast.engine),
        trials: runs
            .iter()
            .map(|r| r.forecast.trials)
            .max()
            .unwrap_or(base.trials),
        seed: settings.seed,
        target: s.target.total,
        base_p50: base.revenue.p50,
        base_p_hit: base.p_hit_target,
        relative_swing: swings.relative,
        threshold_points: swings.threshold_points,
        inputs,
        skipped,
    })
}

/// Which runs have run enough: an input's low and high runs (`at` + 2i
/// and `at` + 1 + 2i) once its swings of mean revenue and of P(hit) are
/// precise at the chart's scale, the base (0, when `at` is 1) once every
/// input's are.
fn swings_settled(runners: &[crate::sim::Runner], at: usize, inputs: usize) -> Vec<bool> {
    let swings: Vec<[(f64, f64); 2]> = (0..inputs)
        .map(|i| {
            let (lo, hi) = (&runners[at + 2 * i], &runners[at + 1 + 2 * i]);
            [paired_revenue_so_far(lo, hi), paired_p_hit(lo, hi)]
        })
        .collect();
    let widest: [f64; 2] = [0, 1].map(|k| swings.iter().map(|s| s[k].0.abs()).fold(0.0, f64::max));
    let precise: Vec<bool> = swings
        .iter()
        .map(|s| {
            (0..2)
                .all(|k| s[k].1 <= (CHART_SHARE * widest[k]).max(FAMILY_RELATIVE_SE * s[k].0.abs()))
        })
        .collect();
    let mut out = vec![precise.iter().all(|p| *p); at];
    out.extend(precise.iter().flat_map(|p| [*p, *p]));
    out
}

impl Exportable for Sensitivity {
    const KIND: &'static str = "sensitivity";

    fn primary(&self) -> &'static str {
        "all"
    }

    fn view(&self) -> View {
        let s = self;
        let up_to = if s.inputs.iter().all(|r| r.trials == s.trials) {
            ""
        } else {
            "up to "
        };
        let mut v = View {
            title: format!(
                "Sensitivity of \"{}\": {up_to}{} trials a run (seed {}, {} engine), every run on the same random numbers",
                s.scenario,
                count(s.trials as f64),
                s.seed,
                s.engine
            ),
            ..View::default()
        };
        v.lines.push(format!(
            "Base: P50 {}, P(revenue ≥ {}) {}. Uncertain rates at P10/P90; fixed ones, volumes and sizes ±{:.0}%; \
             the threshold ±{} points.",
            money(s.base_p50),
            money(s.target),
            pct(s.base_p_hit),
            100.0 * s.relative_swing,
            s.threshold_points
        ));
        let mut t = Table::new(
            "inputs",
            "",
            vec![
                col("input", "input", Unit::Text),
                col("kind", "kind", Unit::Text),
                col("low", "low", Unit::Text),
                col("high", "high", Unit::Text),
                col("p50_low", "P50 low", Unit::Money),
                col("p50_high", "P50 high", Unit::Money),
                col("swing_p50", "swing", Unit::Money),
                col("p_hit_low", "P(hit) low", Unit::Share),
                col("p_hit_high", "P(hit) high", Unit::Share),
                col("trials", "trials", Unit::Count),
            ],
        );
        let mut all = Table::new(
            "all",
            "",
            vec![
                col("input", "input", Unit::Text),
                col("kind", "kind", Unit::Text),
                col("low_rate", "low rate", Unit::Share),
                col("high_rate", "high rate", Unit::Share),
                col("low_change", "low change", Unit::Share),
                col("high_change", "high change", Unit::Share),
                col("low_score", "low score", Unit::Number(1)),
                col("high_score", "high score", Unit::Number(1)),
                col("p50_low", "P50 low", Unit::Money),
                col("p50_high", "P50 high", Unit::Money),
                col("swing_p50", "swing", Unit::Money),
                col("p_hit_low", "P(hit) low", Unit::Share),
                col("p_hit_high", "P(hit) high", Unit::Share),
                col("mean_low", "mean low", Unit::Money),
                col("mean_high", "mean high", Unit::Money),
                col("trials", "trials", Unit::Count),
            ],
        )
        .detail();
        for r in &s.inputs {
            t.row(vec![
                r.input.clone().into(),
                r.kind.to_string().into(),
                r.setting.show(r.low.value).into(),
                r.setting.show(r.high.value).into(),
                r.low.p50.into(),
                r.high.p50.into(),
                r.swing_p50.into(),
                r.low.p_hit.into(),
                r.high.p_hit.into(),
                (r.trials as f64).into(),
            ]);
            let at = |which: Setting, x: f64| {
                if r.setting == which {
                    x.into()
                } else {
                    Cell::Empty
                }
            };
            all.row(vec![
                r.input.clone().into(),
                r.kind.to_string().into(),
                at(Setting::Rate, r.low.value),
                at(Setting::Rate, r.high.value),
                at(Setting::Change, r.low.value),
                at(Setting::Change, r.high.value),
                at(Setting::Score, r.low.value),
                at(Setting::Score, r.high.value),
                r.low.p50.into(),
                r.high.p50.into(),
                r.swing_p50.into(),
                r.low.p_hit.into(),
                r.high.p_hit.into(),
                r.low.mean.into(),
                r.high.mean.into(),
                (r.trials as f64).into(),
            ]);
        }
        t.notes
            .extend(s.skipped.iter().map(|k| format!("skipped: {k}")));
        v.tables.extend([t, all]);
        v
    }
}

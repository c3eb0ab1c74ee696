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

use serde::Serialize;

use super::levers::{scale_deal_size, scale_volume};
use super::{Settings, run_family};
use crate::dist::Prob;
use crate::model::Scenario;
use crate::output::{Format, TextTable, csv_text, money, num, pct};
use crate::sim::SimError;
use crate::spec::Trials;

/// Trials per run when `--trials auto` is asked.
pub const DEFAULT_TRIALS: u64 = 2048;

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

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    pub value: String,
    pub p50: f64,
    pub mean: f64,
    pub p_hit: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputRow {
    pub input: String,
    pub kind: &'static str,
    pub low: Side,
    pub high: Side,
    /// |P50 at high − P50 at low|.
    pub swing_p50: f64,
    /// |P(hit) at high − P(hit) at low|.
    pub swing_p_hit: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
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
    low: (String, Scenario),
    high: (String, Scenario),
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
            (pct(v), t)
        };
        out.push(Case {
            input: param.key.clone(),
            kind,
            low: with(lo),
            high: with(hi),
        });
    }
    for (c, ch) in m.channels.iter().enumerate() {
        let scaled = |k: f64| -> Result<(String, Scenario), String> {
            let mut t = s.clone();
            scale_volume(&mut t, c, k)?;
            Ok((format!("{:+.0}%", 100.0 * (k - 1.0)), t))
        };
        match (scaled(1.0 - sw.relative), scaled(1.0 + sw.relative)) {
            (Ok(low), Ok(high)) => out.push(Case {
                input: format!("channels.{}.volume", ch.name),
                kind: "volume",
                low,
                high,
            }),
            (_, Err(e)) | (Err(e), _) => skipped.push(format!("channels.{}.volume: {e}", ch.name)),
        }
    }
    let size = |k: f64| {
        let mut t = s.clone();
        scale_deal_size(&mut t, k);
        (format!("{:+.0}%", 100.0 * (k - 1.0)), t)
    };
    out.push(Case {
        input: "deals.size (every channel)".into(),
        kind: "deal size",
        low: size(1.0 - sw.relative),
        high: size(1.0 + sw.relative),
    });
    let sc = &m.scoring;
    let threshold = |d: f64| {
        let mut t = s.clone();
        let v = (sc.threshold + d).clamp(sc.range.0, sc.range.1);
        t.model.scoring.threshold = v;
        (num(v, 1), t)
    };
    if m.channels[0].funnel.transitions[0].advance == crate::model::Advance::Score {
        out.push(Case {
            input: "scoring.threshold".into(),
            kind: "threshold",
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
    let mut skipped = Vec::new();
    let cases = cases(s, swings, &mut skipped);
    let mut family: Vec<&Scenario> = vec![s];
    for c in &cases {
        family.push(&c.low.1);
        family.push(&c.high.1);
    }
    let mut settings = settings.clone();
    if settings.trials == Trials::Auto {
        settings.trials = Trials::Fixed(DEFAULT_TRIALS);
    }
    let total = family.len();
    let runs = run_family(&family, &settings, &|done| progress(done, total))?;
    let base = &runs[0].forecast;
    let side = |value: &str, f: &crate::sim::Forecast| Side {
        value: value.to_string(),
        p50: f.revenue.p50,
        mean: f.revenue.mean,
        p_hit: f.p_hit_target,
    };
    let mut inputs: Vec<InputRow> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (lo, hi) = (&runs[1 + 2 * i].forecast, &runs[2 + 2 * i].forecast);
            InputRow {
                input: c.input.clone(),
                kind: c.kind,
                low: side(&c.low.0, lo),
                high: side(&c.high.0, hi),
                swing_p50: (hi.revenue.p50 - lo.revenue.p50).abs(),
                swing_p_hit: (hi.p_hit_target - lo.p_hit_target).abs(),
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
        engine: base.engine,
        trials: base.trials,
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

pub fn render(s: &Sensitivity, format: Format) -> String {
    match format {
        Format::Json => {
            let mut t = serde_json::to_string_pretty(s).expect("serializable");
            t.push('\n');
            t
        }
        Format::Csv => {
            let header: Vec<String> = [
                "input",
                "kind",
                "low",
                "high",
                "p50_low",
                "p50_high",
                "swing_p50",
                "p_hit_low",
                "p_hit_high",
                "mean_low",
                "mean_high",
            ]
            .map(String::from)
            .to_vec();
            let rows: Vec<Vec<String>> = s
                .inputs
                .iter()
                .map(|r| {
                    vec![
                        r.input.clone(),
                        r.kind.to_string(),
                        r.low.value.clone(),
                        r.high.value.clone(),
                        num(r.low.p50, 2),
                        num(r.high.p50, 2),
                        num(r.swing_p50, 2),
                        num(r.low.p_hit, 6),
                        num(r.high.p_hit, 6),
                        num(r.low.mean, 2),
                        num(r.high.mean, 2),
                    ]
                })
                .collect();
            csv_text(&header, &rows)
        }
        Format::Table => {
            let mut out = format!(
                "Sensitivity of \"{}\": {} trials a run (seed {}, {} engine), every run on the same random numbers\n\
                                  Base: P50 {}, P(revenue ≥ {}) {}. Uncertain rates at P10/P90; fixed ones, volumes and sizes ±{:.0}%; \
                 the threshold ±{} points.\n\n",
                s.scenario,
                s.trials,
                s.seed,
                s.engine,
                money(s.base_p50),
                money(s.target),
                pct(s.base_p_hit),
                100.0 * s.relative_swing,
                s.threshold_points
            );
            let mut t = TextTable::new([
                "input",
                "kind",
                "low",
                "high",
                "P50 low",
                "P50 high",
                "swing",
                "P(hit) low",
                "P(hit) high",
            ]);
            t.right[1] = false;
            for r in &s.inputs {
                t.row(vec![
                    r.input.clone(),
                    r.kind.to_string(),
                    r.low.value.clone(),
                    r.high.value.clone(),
                    money(r.low.p50),
                    money(r.high.p50),
                    money(r.swing_p50),
                    pct(r.low.p_hit),
                    pct(r.high.p_hit),
                ]);
            }
            out.push_str(&t.render("  "));
            for k in &s.skipped {
                out.push_str(&format!("  skipped: {k}\n"));
            }
            out
        }
    }
}

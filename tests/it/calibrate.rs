//! Calibration against synthetic truth: exports generated from a known
//! model, calibrated, and each fitted interval checked to cover the truth
//! at its stated rate — with full follow-up, under heavy censoring, and
//! with a change of regime injected; the written model passes `check` and
//! runs.

use std::path::{Path, PathBuf};

use revplan::actuals::generate::{self, Generated, Options, generate};
use revplan::actuals::source::Preset;
use revplan::calibrate::{self, Calibration};

use crate::support::revplan;

fn write(dir: &Path, g: &Generated) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in &g.files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir.join("data.toml")
}

fn calibrated(o: &Options, as_of: Option<jiff::civil::Date>) -> Calibration {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &generate(o));
    let data =
        revplan::actuals::load(&path, as_of).unwrap_or_else(|e| panic!("{}", e.render(false, 120)));
    calibrate::calibrate(&data, &calibrate::Options::default())
}

/// The true rate of each step for a source of the generator's model.
fn truth(step: &str, s: &generate::SourceTruth) -> f64 {
    match step {
        // A quarter of MQLs get no touch, and IGNORED of those are never
        // decided: they never convert.
        "mql→sal" => s.p_accept * (1.0 - 0.25 * generate::IGNORED),
        "sal→sql" => s.p_sql,
        "sql→opportunity" => s.p_opp,
        "opportunity→won" => s.p_win,
        other => panic!("no truth for {other}"),
    }
}

/// Share of 90% intervals that hold the truth, over `sets` data sets,
/// and how many intervals that was.
fn coverage(
    sets: u64,
    leads: usize,
    weeks: u32,
    as_of_week: Option<i64>,
) -> (f64, usize, f64, f64) {
    let model = generate::model();
    let (mut hits, mut total, mut cycle_hits, mut sigma_hits) = (0usize, 0usize, 0usize, 0usize);
    for seed in 0..sets {
        let o = Options {
            preset: Preset::Salesforce,
            leads,
            seed: 1000 + seed,
            weeks,
            defects: false,
            ..Options::default()
        };
        let as_of = as_of_week.map(|w| o.start.checked_add(jiff::Span::new().days(w * 7)).unwrap());
        let c = calibrated(&o, as_of);
        for r in &c.rates {
            let s = model.iter().find(|s| s.name == r.source).unwrap();
            let t = truth(&r.step, s);
            total += 1;
            hits += usize::from(r.p5 <= t && t <= r.p95);
        }
        let cycle = c.times.first().expect("a cycle fit");
        let median = generate::CYCLE_MEDIAN_DAYS / 7.0;
        cycle_hits += usize::from(cycle.median_p5 <= median && median <= cycle.median_p95);
        let sigma = generate::CYCLE_SIGMA;
        sigma_hits += usize::from(cycle.sigma_p5 <= sigma && sigma <= cycle.sigma_p95);
    }
    (
        hits as f64 / total as f64,
        total,
        cycle_hits as f64 / sets as f64,
        sigma_hits as f64 / sets as f64,
    )
}

/// The band a 90% interval's coverage must fall in over `n` intervals:
/// 90% ± 3 binomial standard errors, the errors inflated by 2 because the
/// intervals of one data set share its pooled prior and are not
/// independent.
fn band(n: usize) -> (f64, f64) {
    let se = 2.0 * (0.9 * 0.1 / n as f64).sqrt();
    (0.9 - 3.0 * se, 0.9 + 3.0 * se)
}

#[test]
fn ninety_percent_intervals_cover_the_truth_ninety_percent_of_the_time() {
    // Small, medium and large histories: 600, 2,000 and 8,000 leads.
    for (sets, leads) in [(100, 600), (100, 2000), (25, 8000)] {
        let (cov, n, cycle, sigma) = coverage(sets, leads, 52, None);
        let (lo, hi) = band(n);
        eprintln!(
            "{leads} leads: {n} intervals, coverage {cov:.3} (band {lo:.3}–{hi:.3}); cycle median {cycle:.2}, sigma {sigma:.2}"
        );
        assert!(
            cov >= lo && cov <= hi,
            "{leads} leads: coverage {cov} outside {lo}–{hi}"
        );
        // `sets` intervals of the cycle's median: 90% ± 3 SE.
        let se = (0.09 / sets as f64).sqrt();
        assert!(
            (cycle - 0.9).abs() <= 3.0 * se,
            "{leads} leads: cycle median coverage {cycle}"
        );
        // Sigma's interval, drawn per trial with the median's.
        assert!(
            (sigma - 0.9).abs() <= 3.0 * se,
            "{leads} leads: cycle sigma coverage {sigma}"
        );
    }
}

#[test]
fn heavy_censoring_keeps_coverage() {
    // Exports taken 16 weeks into the year: the sales cycle's median is
    // 8.6 weeks, so most deals are still open and recent leads have had
    // little time to move.
    let (cov, n, cycle, sigma) = coverage(100, 2000, 52, Some(16));
    let (lo, hi) = band(n);
    eprintln!(
        "as-of week 16: {n} intervals, coverage {cov:.3} (band {lo:.3}–{hi:.3}); cycle median {cycle:.2}, sigma {sigma:.2}"
    );
    assert!(cov >= lo && cov <= hi, "coverage {cov} outside {lo}–{hi}");
    let se = (0.09f64 / 100.0).sqrt();
    assert!(
        (cycle - 0.9).abs() <= 3.0 * se,
        "cycle median coverage {cycle}"
    );
    assert!(
        (sigma - 0.9).abs() <= 3.0 * se,
        "cycle sigma coverage {sigma}"
    );
}

#[test]
fn a_change_of_regime_is_detected_and_since_fits_the_new_one() {
    let mut alarms = 0;
    for seed in 0..20 {
        let o = Options {
            leads: 3000,
            seed: 500 + seed,
            defects: false,
            ..Options::default()
        };
        let steady = calibrated(&o, None);
        alarms += steady
            .warnings
            .iter()
            .filter(|w| w.contains("regime"))
            .count();
    }
    // |z| > 3 rings by chance 0.27% of the time: 20 steady data sets give
    // no alarm with probability 95%; more than one would be 1 in 600.
    assert!(alarms <= 1, "{alarms} false alarms in 20 steady data sets");

    // Acceptance halves from week 26.
    let o = Options {
        leads: 3000,
        seed: 77,
        defects: false,
        shift: Some((26, 0.5)),
        ..Options::default()
    };
    let shifted = calibrated(&o, None);
    let warning = shifted
        .warnings
        .iter()
        .find(|w| w.contains("change of regime"))
        .expect("the change is detected");
    assert!(warning.contains("--since"), "{warning}");
    // Fitted since the change, acceptance is the new regime's.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &generate(&o));
    let data = revplan::actuals::load(&path, None).unwrap();
    let since = o.start.checked_add(jiff::Span::new().days(26 * 7)).unwrap();
    let recent = calibrate::calibrate(
        &data,
        &calibrate::Options {
            since: Some(since),
            ..calibrate::Options::default()
        },
    );
    assert!(!recent.warnings.iter().any(|w| w.contains("regime")));
    let model = generate::model();
    let mut covered = 0;
    for r in recent.rates.iter().filter(|r| r.step == "mql→sal") {
        let s = model.iter().find(|s| s.name == r.source).unwrap();
        let t = 0.5 * truth(&r.step, s);
        covered += usize::from(r.p5 <= t && t <= r.p95);
    }
    assert!(
        covered >= 4,
        "{covered} of 5 sources' new acceptance covered"
    );
}

#[test]
fn the_written_model_passes_check_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate(&Options {
        leads: 2000,
        seed: 3,
        ..Options::default()
    });
    let data = write(&dir.path().join("crm"), &g);
    let model = dir.path().join("model/calibrated.toml");
    let run = |args: &[&str]| revplan().args(args).output().unwrap();
    let out = run(&[
        "calibrate",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "calibration");
    assert!(json["open_deals"].as_u64().unwrap() > 0);
    let text = std::fs::read_to_string(&model).unwrap();
    // Every rate written with its evidence.
    assert!(
        text.contains("converted,") && text.contains("still open of") && text.contains("(90%:")
    );
    assert!(dir.path().join("model/calibrated-pipeline.csv").is_file());
    // Stage times with a log-normal tail past the longest seen, and the
    // sales cycle's median and sigma drawn per trial.
    assert!(text.contains("tail = { from = ") && text.contains("uncertainty = { log_median_sd"));
    let m = revplan::load::model_from_str("calibrated.toml", &text, &dir.path().join("model"))
        .unwrap_or_else(|e| panic!("{}", e.render(false, 100)))
        .model;
    let f = &m.channels[0].funnel;
    for (i, t) in f
        .transitions
        .iter()
        .enumerate()
        .take(f.close_stage())
        .skip(1)
    {
        assert!(
            t.delay.last() > 12,
            "stage {i} ends at week {}",
            t.delay.last()
        );
    }
    let cycle = f.transitions[f.close_stage()]
        .draws
        .as_ref()
        .expect("an uncertain cycle");
    assert_eq!(cycle.key, "deals.cycle");
    let means: Vec<f64> = cycle.draws.iter().map(|d| d.mean()).collect();
    let (lo, hi) = means
        .iter()
        .fold((f64::MAX, 0f64), |(a, b), x| (a.min(*x), b.max(*x)));
    assert!(hi > lo * 1.05, "the draws differ: {lo}–{hi}");
    let check = run(&["check", model.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let scenario = dir.path().join("model/next-quarter.toml");
    std::fs::write(
        &scenario,
        "name = \"next quarter\"\nmodel = \"calibrated.toml\"\nhorizon_weeks = 13\n\n[target]\ntotal = 500000\n",
    )
    .unwrap();
    for command in ["simulate", "plan"] {
        let out = run(&[command, scenario.to_str().unwrap(), "--trials", "300"]);
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The same data, the same bytes.
    let again = dir.path().join("model/again.toml");
    let out = run(&[
        "calibrate",
        data.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let again = std::fs::read_to_string(again).unwrap();
    assert_eq!(
        again.replace("again-pipeline.csv", "calibrated-pipeline.csv"),
        text
    );
}

#[test]
fn an_earlier_as_of_leaves_more_open_and_wider_intervals() {
    let o = Options {
        leads: 3000,
        seed: 9,
        defects: false,
        ..Options::default()
    };
    let late = calibrated(&o, None);
    let early = calibrated(
        &o,
        Some(o.start.checked_add(jiff::Span::new().days(20 * 7)).unwrap()),
    );
    let width = |c: &Calibration, step: &str| -> f64 {
        c.rates
            .iter()
            .filter(|r| r.step == step)
            .map(|r| r.p95 - r.p5)
            .sum()
    };
    for step in ["mql→sal", "sal→sql", "sql→opportunity", "opportunity→won"] {
        assert!(width(&early, step) > width(&late, step), "{step}");
    }
    assert!(
        early.times[0].censored as f64 / early.times[0].events as f64
            > late.times[0].censored as f64 / late.times[0].events as f64
    );
    let span = |c: &Calibration| c.times[0].median_p95 - c.times[0].median_p5;
    assert!(span(&early) > span(&late));
}

#[test]
fn seasonality_is_estimated_from_two_years_and_only_when_it_is_there() {
    let factors = [1.1, 1.1, 1.2, 1.1, 1.0, 0.7, 0.6, 0.7, 1.1, 1.2, 1.2, 1.0];
    let o = Options {
        leads: 12_000,
        seed: 21,
        weeks: 104,
        defects: false,
        seasonal: Some(factors),
        ..Options::default()
    };
    let c = calibrated(&o, None);
    let mean = factors.iter().sum::<f64>() / 12.0;
    for ch in &c.channels {
        let f = ch
            .seasonality
            .as_ref()
            .unwrap_or_else(|| panic!("{}: {}", ch.source, ch.seasonality_note));
        // Each month holds about leads/24 of a source's leads over two
        // years: a factor's relative standard error is about 1/√(that).
        let per_month = ch.leads as f64 / 12.0;
        let se = 1.0 / per_month.sqrt();
        for (m, (got, want)) in f.iter().zip(factors).enumerate() {
            let want = want / mean;
            assert!(
                (got - want).abs() <= 4.0 * se * want + 0.02,
                "{} month {}: {got:.3} vs {want:.3}",
                ch.source,
                m + 1
            );
        }
    }
    // Two flat years: nothing written; one year: not estimated, and said.
    let flat = calibrated(
        &Options {
            seasonal: None,
            ..o.clone()
        },
        None,
    );
    assert!(flat.channels.iter().all(|c| c.seasonality.is_none()));
    let one = calibrated(&Options { weeks: 52, ..o }, None);
    assert!(
        one.channels
            .iter()
            .all(|c| c.seasonality_note.contains("two years"))
    );
    assert!(one.model.contains("seasonality not estimated"));
}

#[test]
fn the_scores_effect_on_later_steps_is_recovered_and_written() {
    let o = Options {
        leads: 12_000,
        seed: 31,
        defects: false,
        quality: 0.3,
        ..Options::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &generate(&o));
    let data = revplan::actuals::load(&path, None).unwrap();
    let c = calibrate::calibrate(&data, &calibrate::Options::default());
    let effect = |step: &str| c.score_effects.iter().find(|e| e.step == step).unwrap();
    // Put into SQL, opportunity and win: found within 3 standard errors.
    for step in ["sal→sql", "sql→opportunity", "opportunity→won"] {
        let e = effect(step);
        assert!(e.used, "{e:?}");
        assert!((e.per_10_points - 0.3).abs() <= 3.0 * e.std_error, "{e:?}");
    }
    // Not put into acceptance or deal size: not found.
    for step in ["mql→sal", "deal size"] {
        let e = effect(step);
        assert!(
            !e.used && e.per_10_points.abs() <= 3.0 * e.std_error,
            "{e:?}"
        );
    }
    assert!(c.model.contains("quality = { reference = "), "{}", c.model);
    // The written model holds it: a model file with it passes `check`.
    let model = dir.path().join("q.toml");
    std::fs::write(&model, &c.model).unwrap();
    std::fs::write(dir.path().join("q-pipeline.csv"), &c.pipeline).unwrap();
    let text = std::fs::read_to_string(&model)
        .unwrap()
        .replace("calibrated-pipeline.csv", "q-pipeline.csv");
    std::fs::write(&model, text).unwrap();
    let out = revplan().arg("check").arg(&model).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without an effect, none is written (|z| > 3 rings 0.27% of the time
    // per step).
    let flat = calibrated(&Options { quality: 0.0, ..o }, None);
    assert!(
        flat.score_effects.iter().all(|e| !e.used),
        "{:?}",
        flat.score_effects
    );
    assert!(!flat.model.contains("quality = {"));
}

#[test]
fn a_hostile_source_name_stays_inside_its_comment() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        &generate(&Options {
            leads: 1500,
            seed: 5,
            defects: false,
            ..Options::default()
        }),
    );
    let leads = dir.path().join("leads.csv");
    let text = std::fs::read_to_string(&leads).unwrap();
    assert!(text.contains(",Referral,"));
    std::fs::write(
        &leads,
        text.replace(",Referral,", ",\"Ref\n[capacity]\nreps = 9\","),
    )
    .unwrap();
    let model = dir.path().join("m.toml");
    let out = revplan()
        .args([
            "calibrate",
            path.to_str().unwrap(),
            "--out",
            model.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&model).unwrap();
    assert!(
        !written
            .lines()
            .any(|l| l == "[capacity]" || l == "reps = 9"),
        "{written}"
    );
    assert!(written.contains("Ref\\n[capacity]\\nreps = 9"));
    let check = revplan().arg("check").arg(&model).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

//! Backtests on data generated from a known model: the model's P10–P90
//! intervals hold the actuals at their nominal 80% (within sampling
//! error), it beats the run-rate and pipeline baselines on pinball loss,
//! and the command's flags and errors behave.

use std::path::{Path, PathBuf};

use revplan::actuals::generate::{Options, generate};
use revplan::backtest::{self, Backtest, Metric};

use crate::support::revplan;

fn data(dir: &Path, seed: u64) -> PathBuf {
    let g = generate(&Options {
        leads: 6000,
        seed,
        weeks: 104,
        defects: false,
        ..Options::default()
    });
    for (name, bytes) in &g.files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir.join("data.toml")
}

fn run(path: &Path, metric: Metric, given_arrivals: bool) -> Backtest {
    let all = revplan::actuals::load(path, None).unwrap();
    backtest::run(
        path,
        &backtest::Options {
            // Windows that do not overlap: 13-week forecasts every 13 weeks.
            origins: backtest::every(&all, 13, 13),
            weeks: 13,
            metric,
            given_arrivals,
            trials: 2000,
            seed: 1,
        },
    )
    .unwrap()
}

#[test]
fn the_models_intervals_cover_at_their_nominal_rate_and_beat_the_baselines() {
    for metric in [Metric::Wins, Metric::Revenue] {
        let (mut inside, mut periods) = (0.0, 0usize);
        let mut wins_over_baselines = 0;
        let sets = 6usize;
        for seed in 0..sets {
            let dir = tempfile::tempdir().unwrap();
            let b = run(&data(dir.path(), 40 + seed as u64), metric, false);
            let model = &b.scores[0];
            inside += model.coverage_80 * b.periods as f64;
            periods += b.periods;
            wins_over_baselines += usize::from(
                model.pinball < b.scores[1].pinball && model.pinball < b.scores[2].pinball,
            );
        }
        let coverage = inside / periods as f64;
        // Periods of one origin share its calibration, so the binomial
        // standard error is inflated by 1.5; 3 of those either side.
        let se = 1.5 * (0.8 * 0.2 / periods as f64).sqrt();
        eprintln!(
            "{metric:?}: {periods} periods, P10–P90 coverage {coverage:.3} (80% ± {:.3})",
            3.0 * se
        );
        assert!(
            (coverage - 0.8).abs() <= 3.0 * se,
            "{metric:?}: coverage {coverage}"
        );
        assert!(
            wins_over_baselines >= sets - 1,
            "{metric:?}: model beat both baselines in {wins_over_baselines} of {sets}"
        );
    }
}

#[test]
fn given_arrivals_only_change_the_new_leads_part() {
    let dir = tempfile::tempdir().unwrap();
    let path = data(dir.path(), 7);
    let free = run(&path, Metric::Opportunities, false);
    let given = run(&path, Metric::Opportunities, true);
    assert_eq!(free.points.len(), given.points.len());
    // The actuals and the baselines are the same; the model's forecasts
    // differ, and knowing the arrivals narrows the window's interval.
    let width = |b: &Backtest| -> f64 {
        b.points
            .iter()
            .filter(|p| p.period == "total")
            .map(|p| p.model.0[5] - p.model.0[1])
            .sum()
    };
    for (a, b) in free.points.iter().zip(&given.points) {
        assert_eq!((a.actual, &a.run_rate), (b.actual, &b.run_rate));
    }
    assert!(
        width(&given) < width(&free),
        "{} vs {}",
        width(&given),
        width(&free)
    );
}

#[test]
fn the_command_scores_the_shipped_example_and_refuses_what_cannot_run() {
    let example = crate::support::root().join("examples/crm/salesforce/data.toml");
    let out = revplan()
        .args([
            "backtest",
            example.to_str().unwrap(),
            "--every",
            "8w",
            "--weeks",
            "8",
        ])
        .args(["--trials", "300", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "backtest");
    assert_eq!(json["scores"].as_array().unwrap().len(), 3);
    // Windows that would run past the data: none left.
    let out = revplan()
        .args([
            "backtest",
            example.to_str().unwrap(),
            "--every",
            "4w",
            "--weeks",
            "60",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no origin"));
    for bad in [["--every", "0w"], ["--every", "week"], ["--weeks", "0"]] {
        let out = revplan()
            .args(["backtest", example.to_str().unwrap()])
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

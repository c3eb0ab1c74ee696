//! The decision commands through the real binary: documented JSON keys,
//! CSV shapes, exit codes, and thread-count independence.

use predicates::prelude::*;

use crate::support::{revplan, run_json};

const SMALL: &str = "tests/data/small-scenario.toml";
const TWO: &str = "tests/data/two-channels-scenario.toml";

#[test]
fn compare_json_has_every_variant_and_paired_deltas() {
    let v = run_json(&[
        "compare",
        SMALL,
        "--trials",
        "400",
        "--seed",
        "3",
        "--variant",
        "copy",
        "--variant",
        "lower-bar",
        "--set",
        "scoring.threshold=50",
    ]);
    let rows = v["variants"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["base", "higher-bar", "copy", "lower-bar"]);
    for r in rows {
        for key in ["p_hit_target", "revenue", "spend", "stages", "cac", "roi"] {
            assert!(!r[key].is_null(), "{} lacks {key}", r["name"]);
        }
        for key in ["mean", "std_error", "ci_low", "ci_high", "p_better"] {
            assert!(r["delta_vs_base"][key].is_number(), "{key}");
        }
    }
    // The ad-hoc copy has no --set of its own: exactly the base.
    assert_eq!(rows[2]["delta_vs_base"]["mean"], 0.0);
    assert_eq!(rows[2]["revenue"], rows[0]["revenue"]);
    // Its own --set applies to it alone.
    assert!(
        rows[3]["stages"]["mqls"].as_f64().unwrap() > rows[0]["stages"]["mqls"].as_f64().unwrap()
    );
    assert_eq!(v["trials"], 400);
}

#[test]
fn a_set_before_any_variant_changes_the_base_and_every_variant() {
    let plain = run_json(&["compare", SMALL, "--trials", "200", "--only", "higher-bar"]);
    let changed = run_json(&[
        "compare",
        SMALL,
        "--trials",
        "200",
        "--only",
        "higher-bar",
        "--set",
        "deals.size.median=40000",
    ]);
    for i in 0..2 {
        let (a, b) = (
            plain["variants"][i]["revenue"]["mean"].as_f64().unwrap(),
            changed["variants"][i]["revenue"]["mean"].as_f64().unwrap(),
        );
        assert!(b > 1.5 * a, "variant {i}: {a} → {b}");
    }
}

#[test]
fn compare_output_does_not_depend_on_threads() {
    let run = |threads: &str| {
        revplan()
            .args(["compare", SMALL, "--trials", "300", "--format", "csv"])
            .args(["--threads", threads])
            .output()
            .unwrap()
            .stdout
    };
    let one = run("1");
    assert!(!one.is_empty());
    assert_eq!(one, run("2"));
    assert_eq!(one, run("3"));
    let text = String::from_utf8(one).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("variant,p_hit_share,"), "{}", lines[0]);
    assert_eq!(lines.len(), 3);
    let width = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == width));
}

/// The automatic decisions that stop member by member (`sensitivity`'s
/// inputs) or settle their trials on a first evaluation (`optimize`)
/// give the same bytes for any thread count.
#[test]
fn automatic_sensitivity_and_optimize_do_not_depend_on_threads() {
    let run = |args: &[&str], threads: &str| {
        revplan()
            .args(args)
            .args(["--format", "json", "--threads", threads])
            .output()
            .unwrap()
            .stdout
    };
    let two = "tests/data/two-channels-scenario.toml";
    let mut outputs = Vec::new();
    for args in [
        &["sensitivity", SMALL][..],
        &["optimize", two, "--budget", "1040000"][..],
    ] {
        let one = run(args, "1");
        assert!(!one.is_empty(), "{args:?}");
        assert_eq!(one, run(args, "3"), "{args:?}");
        outputs.push(one);
    }
    // The inputs stopped at different counts.
    let v: serde_json::Value = serde_json::from_slice(&outputs[0]).unwrap();
    let trials: Vec<u64> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["trials"].as_u64().unwrap())
        .collect();
    assert!(trials.iter().any(|t| *t != trials[0]), "{trials:?}");
}

#[test]
fn compare_refuses_unknown_variants() {
    revplan()
        .args(["compare", SMALL, "--only", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope"))
        .stderr(predicate::str::contains("higher-bar"));
}

#[test]
fn sweep_by_values_and_by_range() {
    let v = run_json(&[
        "sweep",
        SMALL,
        "--param",
        "scoring.threshold",
        "--from",
        "50",
        "--to",
        "70",
        "--step",
        "10",
        "--trials",
        "200",
    ]);
    let values: Vec<&str> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["50", "60", "70"]);
    assert!(v["best"].is_u64());
    let csv = revplan()
        .args([
            "sweep",
            SMALL,
            "--param",
            "capacity.reps",
            "--values",
            "1,2,4",
        ])
        .args(["--trials", "200", "--format", "csv"])
        .output()
        .unwrap();
    assert!(csv.status.success());
    let text = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.starts_with("value,"), "{text}");
}

#[test]
fn sweep_rejects_bad_ranges_and_values() {
    revplan()
        .args(["sweep", SMALL, "--param", "scoring.threshold"])
        .args(["--from", "70", "--to", "50", "--step", "5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--to"));
    revplan()
        .args(["sweep", SMALL, "--param", "scoring.threshold"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--values"));
    // A value that is not valid for the key: located on the command line.
    revplan()
        .args([
            "sweep",
            SMALL,
            "--param",
            "scoring.threshold",
            "--values",
            "60,high",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("scoring.threshold"));
    revplan()
        .args([
            "sweep",
            SMALL,
            "--param",
            "scoring.treshold",
            "--values",
            "60",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("threshold"));
}

#[test]
fn goal_exit_codes_follow_the_outcome() {
    let v = run_json(&[
        "goal",
        SMALL,
        "--confidence",
        "0.5",
        "--lever",
        "leads",
        "--trials",
        "300",
    ]);
    assert_eq!(v["reached"], true);
    assert!(v["value"].as_f64().unwrap() > 0.0);
    assert!(v["p_hit"].as_f64().unwrap() >= 0.5);
    revplan()
        .args(["goal", SMALL, "--confidence", "0.9", "--lever", "leads"])
        .args(["--trials", "100", "--set", "target.total=1e12"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("no value up to"));
    revplan()
        .args(["goal", SMALL, "--confidence", "0.9", "--lever", "wishes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown lever"));
    revplan()
        .args(["goal", SMALL, "--confidence", "1.5", "--lever", "leads"])
        .assert()
        .code(2);
    revplan()
        .args(["goal", TWO, "--confidence", "0.9", "--lever", "reps"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unlimited"));
}

#[test]
fn sensitivity_rows_and_bad_swings() {
    let out = revplan()
        .args(["sensitivity", TWO, "--trials", "200", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("input,kind,low_rate_share,high_rate_share,"),
        "{text}"
    );
    assert!(text.contains("deals.size (every channel)"), "{text}");
    assert!(text.contains("scoring.threshold"), "{text}");
    revplan()
        .args(["sensitivity", TWO, "--swing", "1.5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--swing"));
}

#[test]
fn optimize_spends_exactly_the_budget_within_bounds() {
    let v = run_json(&[
        "optimize",
        TWO,
        "--budget",
        "1040000",
        "--trials",
        "256",
        "--max",
        "search=400000",
    ]);
    let best = v["best"].as_array().unwrap();
    let total: f64 = best.iter().map(|a| a["budget"].as_f64().unwrap()).sum();
    assert!((total - 1_040_000.0).abs() < 1.0, "{total}");
    let search = best.iter().find(|a| a["channel"] == "search").unwrap();
    assert!(search["budget"].as_f64().unwrap() <= 400_000.0 + 1e-6);
    for key in [
        "revenue_delta",
        "p_hit_delta",
        "current_figures",
        "best_figures",
    ] {
        assert!(v[key].is_object(), "{key}");
    }
    revplan()
        .args([
            "optimize",
            TWO,
            "--budget",
            "1e9",
            "--max",
            "search=1000",
            "--max",
            "social=1000",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("outside"));
    revplan()
        .args(["optimize", TWO, "--budget", "1000", "--max", "nope=5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope"));
    revplan()
        .args(["optimize", TWO, "--budget", "1000", "--min", "search=-5"])
        .assert()
        .code(2);
    // A model without budget-driven channels has nothing to allocate.
    revplan()
        .args([
            "optimize",
            "tests/data/engine-fast.toml",
            "--budget",
            "1000",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("budget-driven"));
}

#[test]
fn decision_commands_have_examples_in_help() {
    for cmd in ["compare", "sweep", "goal", "sensitivity", "optimize"] {
        revplan()
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "revplan {cmd} scenarios/"
            )));
    }
}

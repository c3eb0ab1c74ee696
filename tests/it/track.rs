//! Tracking a plan against the shipped generated exports: at the start it
//! is the scenario's own forecast, booked revenue only grows with the
//! as-of date, a past period's P(hit) is what happened, and the command's
//! errors name what is missing.

use crate::support::{revplan, root};

/// `revplan track SCENARIO` on the shipped Salesforce exports, as JSON.
fn tracked(scenario: &str, as_of: &str, trials: &str) -> serde_json::Value {
    let out = revplan()
        .args(["track", scenario, "examples/crm/salesforce/data.toml"])
        .args(["--as-of", as_of, "--format", "json", "--trials", trials])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn track(as_of: &str) -> serde_json::Value {
    tracked("examples/crm/plan-2025.toml", as_of, "2000")
}

/// A shipped scenario copied into `dir` as `name` with `edits`, its model
/// named by `model` (relative in the file) made absolute.
fn edited(
    dir: &std::path::Path,
    scenario: &str,
    model: (&str, &str),
    edits: &[(&str, &str)],
    name: &str,
) -> String {
    let mut text = std::fs::read_to_string(root().join(scenario)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    text = text.replace(model.0, root().join(model.1).to_str().unwrap());
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn at_the_start_tracking_is_the_scenarios_forecast() {
    let t = track("2025-01-06");
    assert_eq!(t["weeks_elapsed"], 0);
    assert_eq!(t["booked"], 0.0);
    let out = revplan()
        .args([
            "simulate",
            "examples/crm/plan-2025.toml",
            "--trials",
            "2000",
            "--format",
            "json",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (a, b) = (
        t["p_hit"].as_f64().unwrap(),
        f["p_hit_target"].as_f64().unwrap(),
    );
    let se = (t["p_hit_std_error"].as_f64().unwrap().powi(2)
        + f["p_hit_std_error"].as_f64().unwrap().powi(2))
    .sqrt();
    assert!(
        (a - b).abs() <= 4.0 * se,
        "track {a} vs simulate {b} (SE {se})"
    );
}

#[test]
fn booked_grows_with_the_as_of_date_and_the_past_is_settled() {
    let mut last = -1.0;
    for as_of in ["2025-03-31", "2025-06-30", "2025-09-30", "2025-12-01"] {
        let t = track(as_of);
        let booked = t["booked"].as_f64().unwrap();
        assert!(booked >= last, "{as_of}: {booked} < {last}");
        last = booked;
        // The forecast's range starts at what is booked.
        assert!(t["forecast_p10"].as_f64().unwrap() >= booked);
        // Periods already over: booked is final and P(hit) is 0 or 1.
        for p in t["periods"].as_array().unwrap() {
            let (mean, booked) = (p["mean"].as_f64().unwrap(), p["booked"].as_f64().unwrap());
            assert!(mean >= booked - 1e-6);
            if mean == booked && p["p10"] == p["p90"] {
                let hit = p["p_hit"].as_f64().unwrap();
                assert!(hit == 0.0 || hit == 1.0, "{p}");
            }
        }
        let stages = t["stages"].as_array().unwrap();
        assert_eq!(stages.len(), 6);
    }
    // After the horizon nothing is left to forecast.
    let end = track("2026-03-01");
    assert_eq!(end["weeks_elapsed"], 52);
    assert_eq!(end["forecast_mean"], end["booked"]);
}

#[test]
fn a_lower_target_is_likelier_to_be_hit() {
    let dir = tempfile::tempdir().unwrap();
    let lower = edited(
        dir.path(),
        "examples/crm/plan-2025.toml",
        ("model-2025.toml", "examples/crm/model-2025.toml"),
        &[("annual = 1_000_000", "annual = 850_000")],
        "lower.toml",
    );
    let base = track("2025-09-30");
    let low = tracked(&lower, "2025-09-30", "2000");
    assert!(low["p_hit"].as_f64().unwrap() > base["p_hit"].as_f64().unwrap());
    assert!(low["target_to_date"].as_f64().unwrap() < base["target_to_date"].as_f64().unwrap());
}

#[test]
fn what_cannot_be_tracked_says_why() {
    let early = revplan()
        .args([
            "track",
            "examples/crm/plan-2025.toml",
            "examples/crm/salesforce/data.toml",
        ])
        .args(["--as-of", "2024-12-01"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(early.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&early.stderr).contains("has not started"));
    let dir = tempfile::tempdir().unwrap();
    let undated = edited(
        dir.path(),
        "examples/crm/plan-2025.toml",
        ("model-2025.toml", "examples/crm/model-2025.toml"),
        &[("start_date = 2025-01-06\n", "")],
        "undated.toml",
    );
    let out = revplan()
        .args(["track", &undated])
        .args(["examples/crm/salesforce/data.toml", "--as-of", "2025-06-30"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("start_date"));
}

#[test]
fn the_board_report_shows_the_plan_against_the_actuals() {
    let dir = tempfile::tempdir().unwrap();
    let out = revplan()
        .args(["report", "examples/crm/plan-2025.toml", "--out"])
        .arg(dir.path().join("r"))
        .args([
            "--data",
            "examples/crm/salesforce/data.toml",
            "--as-of",
            "2025-09-30",
        ])
        .args(["--no-sensitivity", "--trials", "500"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.path().join("r/index.html")).unwrap();
    assert!(html.contains("The plan against the actuals"));
    assert!(html.contains("week 38 of 52"), "the as-of line");
    // A plan that starts after the data: no such section, and a note why.
    let board = revplan()
        .args(["report", "scenarios/board-plan.toml", "--out"])
        .arg(dir.path().join("b"))
        .args(["--data", "examples/crm/salesforce/data.toml"])
        .args(["--no-sensitivity", "--trials", "200"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        board.status.success(),
        "{}",
        String::from_utf8_lossy(&board.stderr)
    );
    assert!(String::from_utf8_lossy(&board.stderr).contains("has not started"));
    let html = std::fs::read_to_string(dir.path().join("b/index.html")).unwrap();
    assert!(!html.contains("The plan against the actuals"));
}

#[test]
fn a_plan_on_another_model_is_tracked_with_its_own_names() {
    // The board plan's model names its channels and stages its own way:
    // sources map to its channels by name (plural or singular), the rest
    // are listed as other, and open items take its stage names.
    let dir = tempfile::tempdir().unwrap();
    let plan = edited(
        dir.path(),
        "scenarios/board-plan.toml",
        ("../models/b2b-saas.toml", "models/b2b-saas.toml"),
        &[("start_date = 2027-01-04", "start_date = 2025-01-06")],
        "plan.toml",
    );
    let t = tracked(&plan, "2025-06-30", "300");
    let names: Vec<&str> = t["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["what"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"referrals") && names.contains(&"(other) Content"),
        "{names:?}"
    );
    assert!(t["open_deals"].as_u64().unwrap() > 0);
}

//! The command line, through the real binary.

use predicates::prelude::*;
use serde_json::Value;

use crate::support::{rel, revplan, run_json, shipped};

fn check_json(args: &[&str]) -> Value {
    let out = revplan()
        .arg("check")
        .args(args)
        .arg("--format")
        .arg("json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], revplan::export::json::SCHEMA_VERSION);
    assert_eq!(v["kind"], "check");
    v["reports"].clone()
}

fn channel<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["model"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

#[test]
fn check_summarises_every_shipped_file() {
    for f in shipped() {
        let name = rel(&f);
        let out = revplan().args(["check", &name]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(": ok"), "{stdout}");
        assert!(
            stdout.contains("lead→won") && stdout.contains("lag wk"),
            "{stdout}"
        );
    }
}

#[test]
fn check_json_has_per_channel_conversion() {
    let v = check_json(&["scenarios/acme-52w.toml"]);
    let r = &v[0];
    assert_eq!(r["kind"], "scenario");
    assert_eq!(r["scenario"]["horizon_weeks"], 52);
    assert_eq!(r["scenario"]["target"], 7_500_000.0);
    let ps = channel(r, "paid_search");
    // P(Normal(50, 15) ≥ 60) = 1 − Φ(2/3).
    let p_mql = ps["reach"]["mql"].as_f64().unwrap();
    assert!((p_mql - 0.252_492_5).abs() < 1e-6, "{p_mql}");
    assert_eq!(ps["steps"].as_array().unwrap().len(), 5);
    assert!(ps["lag_weeks"].as_f64().unwrap() > 14.0);
}

#[test]
fn check_csv_has_a_row_per_channel() {
    let out = revplan()
        .args(["check", "scenarios/board-plan.toml", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let headers = rows.headers().unwrap().clone();
    assert!(
        headers.iter().any(|h| h == "mql_to_sal_share"),
        "{headers:?}"
    );
    assert_eq!(rows.records().count(), 6);
}

#[test]
fn overrides_change_the_model() {
    let base = check_json(&["scenarios/acme-52w.toml"]);
    let raised = check_json(&["scenarios/acme-52w.toml", "--set", "scoring.threshold=70"]);
    let p = |v: &Value| {
        channel(&v[0], "paid_search")["reach"]["mql"]
            .as_f64()
            .unwrap()
    };
    assert!(p(&raised) < p(&base));
    let v = check_json(&["models/b2b-saas.toml", "--set", "capacity=unlimited"]);
    assert!(
        v[0]["model"]["capacity"]
            .as_str()
            .unwrap()
            .starts_with("unlimited")
    );
    let v = check_json(&[
        "scenarios/acme-52w.toml",
        "--set",
        "channels.referral.volume.leads_per_week=30",
    ]);
    assert_eq!(channel(&v[0], "referral")["leads_per_week"], 30.0);
}

#[test]
fn bad_overrides_are_located_on_the_command_line() {
    revplan()
        .args([
            "check",
            "scenarios/acme-52w.toml",
            "--set",
            "scoring.treshold=70",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--set #1:1:1"))
        .stderr(predicate::str::contains("did you mean `threshold`?"));
    revplan()
        .args([
            "check",
            "scenarios/acme-52w.toml",
            "--set",
            "scoring.threshold=high",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--set #1:1:19"))
        .stderr(predicate::str::contains("expected a number"));
    revplan()
        .args([
            "check",
            "scenarios/acme-52w.toml",
            "--set",
            "channels.nowhere.cost_per_lead=1",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown key `nowhere`")
                .or(predicate::str::contains("nowhere")),
        );
    revplan()
        .args([
            "check",
            "scenarios/acme-52w.toml",
            "--set",
            "scoring.threshold",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected KEY=VALUE"));
}

#[test]
fn invalid_files_exit_2_with_file_line_and_column() {
    let mut files: Vec<_> = std::fs::read_dir("tests/invalid")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let located = regex_lite(r"\.(toml|csv):\d+:\d+: ");
    for f in files {
        let out = revplan().arg("check").arg(&f).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", f.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(located(&stderr), "{}: {stderr}", f.display());
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A tiny matcher for "…toml:LINE:COL: " without a regex crate.
fn regex_lite(_: &str) -> impl Fn(&str) -> bool {
    |s: &str| {
        s.match_indices(".toml:")
            .chain(s.match_indices(".csv:"))
            .any(|(i, m)| {
                let rest = &s[i + m.len()..];
                let mut parts = rest.splitn(3, ':');
                let (a, b) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                !a.is_empty()
                    && a.chars().all(|c| c.is_ascii_digit())
                    && !b.is_empty()
                    && b.chars().all(|c| c.is_ascii_digit())
            })
    }
}

#[test]
fn one_bad_file_does_not_hide_the_good_ones() {
    revplan()
        .args([
            "check",
            "scenarios/acme-52w.toml",
            "tests/invalid/wrong-type.toml",
        ])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("acme-52w"))
        .stderr(predicate::str::contains("wrong-type.toml:3:17"));
}

#[test]
fn missing_files_and_bad_usage_exit_2() {
    revplan()
        .args(["check", "nope.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read nope.toml: no such file",
        ));
    revplan().arg("check").assert().code(2);
    revplan()
        .args(["check", "x.toml", "--format", "xml"])
        .assert()
        .code(2);
    revplan().arg("frobnicate").assert().code(2);
}

#[test]
fn out_writes_the_file_and_nothing_to_stdout() {
    let dir = std::env::temp_dir().join(format!("revplan-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("check.json");
    revplan()
        .args([
            "check",
            "scenarios/acme-52w.toml",
            "--format",
            "json",
            "--out",
        ])
        .arg(&path)
        .assert()
        .success()
        .stdout("");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["reports"][0]["kind"], "scenario");
    // A folder that cannot be made (its parent is a file) fails at once,
    // before the scenario is even read: no work is lost to a bad --out.
    let blocked = dir.join("check.json").join("x.csv");
    revplan()
        .args(["simulate", "scenarios/no-such-file.toml", "--out"])
        .arg(&blocked)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot write"));
    assert!(!blocked.exists());
    // A missing folder is made, as `report` and `batch` make theirs.
    let nested = dir.join("new/deeper/plan.csv");
    revplan()
        .args(["plan", "scenarios/acme-52w.toml", "--no-simulation"])
        .args(["--format", "csv", "--out"])
        .arg(&nested)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&nested)
            .unwrap()
            .starts_with("week")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn schema_prints_json_schema() {
    for kind in ["model", "scenario"] {
        let out = revplan().args(["schema", kind]).output().unwrap();
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["properties"]["channels"].is_object());
    }
}

#[test]
fn help_has_examples() {
    revplan()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"));
    revplan()
        .args(["check", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "revplan check scenarios/board-plan.toml",
        ));
}

#[test]
fn errors_are_plain_when_not_a_terminal() {
    let out = revplan()
        .args(["check", "tests/invalid/wrong-type.toml"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\u{1b}'));
}

#[test]
fn plan_prints_quarters_headline_and_gap() {
    let out = revplan()
        .args(["plan", "scenarios/board-plan.toml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "2027-Q1",
        "2027-Q4",
        "Headline:",
        "Pipeline gap:",
        "Last useful lead week: 46",
        "Channels:",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let weekly = revplan()
        .args(["plan", "scenarios/board-plan.toml", "--weekly"])
        .output()
        .unwrap();
    let weekly = String::from_utf8(weekly.stdout).unwrap();
    assert!(weekly.contains("2027-12-27"), "{weekly}");
}

#[test]
fn plan_json_has_the_documented_keys() {
    let out = revplan()
        .args(["plan", "scenarios/board-plan.toml", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["target"], 9_000_000.0);
    let weeks = v["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 52);
    for key in [
        "week",
        "revenue",
        "wins",
        "opportunities",
        "sqls",
        "sals",
        "mqls",
        "leads",
        "spend",
        "leads_by_channel",
        "spend_by_channel",
        "target",
        "gap",
    ] {
        assert!(!weeks[10][key].is_null(), "weeks[].{key}");
    }
    assert!(
        weeks[10]["leads_by_channel"]["paid_search"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    for c in v["channels"].as_array().unwrap() {
        assert!(c["name"].is_string() && c["leads"].is_number() && c["spend"].is_number());
    }
    for key in [
        "leads",
        "mqls",
        "sals",
        "sqls",
        "opportunities",
        "wins",
        "spend",
    ] {
        assert!(v["totals"][key].as_f64().unwrap() > 0.0, "totals.{key}");
    }
    assert!(v["pipeline_gap"]["total"].as_f64().unwrap() > 0.0);
    assert_eq!(v["last_useful_lead_week"], 46);
}

#[test]
fn plan_csv_has_one_row_per_week() {
    let out = revplan()
        .args(["plan", "scenarios/acme-52w.toml", "--format", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    assert!(headers.iter().any(|h| h == "leads_paid_search"));
    let rows: Vec<_> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 52);
    let leads: f64 = rows[20][headers.iter().position(|h| h == "leads").unwrap()]
        .parse()
        .unwrap();
    assert!((leads - 231.0).abs() < 1.0, "{leads}");
}

#[test]
fn plan_variants_are_chosen_by_name() {
    let base = revplan()
        .args(["plan", "scenarios/board-plan.toml", "--format", "json"])
        .output()
        .unwrap();
    let v55 = revplan()
        .args([
            "plan",
            "scenarios/board-plan.toml",
            "--variant",
            "threshold-55",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(v55.status.success());
    let leads = |o: &std::process::Output| {
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["totals"]["leads"].as_f64().unwrap()
    };
    // A lower bar turns more leads into MQLs: fewer leads are needed.
    assert!(leads(&v55) < leads(&base));
    revplan()
        .args(["plan", "scenarios/board-plan.toml", "--variant", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no variant named `nope`"))
        .stderr(predicate::str::contains("threshold-55-and-sdrs"));
    revplan()
        .args(["plan", "models/acme.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a scenario file"));
}

fn simulate_json(args: &[&str]) -> Value {
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    run_json(&all)
}

#[test]
fn simulate_json_has_the_documented_keys() {
    let v = simulate_json(&["scenarios/acme-52w.toml", "--trials", "4096", "--seed", "3"]);
    assert_eq!(v["trials"], 4096);
    assert_eq!(v["seed"], 3);
    assert_eq!(v["target"], 7_500_000.0);
    let p = v["p_hit_target"].as_f64().unwrap();
    assert!(p > 0.0 && p < 1.0);
    for key in ["mean", "p10", "p50", "p90", "std_error"] {
        assert!(v["revenue"][key].as_f64().unwrap() > 0.0, "revenue.{key}");
    }
    let periods = v["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 4);
    for key in ["label", "target", "mean", "p10", "p50", "p90", "p_hit"] {
        assert!(!periods[2][key].is_null(), "periods[].{key}");
    }
    for key in ["leads", "mqls", "sals", "sqls", "opportunities", "wins"] {
        assert!(v["stages"][key].as_f64().unwrap() > 0.0, "stages.{key}");
    }
    for c in v["channels"].as_array().unwrap() {
        for key in [
            "name",
            "leads",
            "spend",
            "mqls",
            "sals",
            "opportunities",
            "wins",
            "revenue",
        ] {
            assert!(!c[key].is_null(), "channels[].{key}");
        }
        assert!(c.get("roi").is_some());
        assert_eq!(c["months"].as_array().unwrap().len(), 12);
    }
    assert_eq!(v["weeks"].as_array().unwrap().len(), 52);
    assert!(v["quantiles"].as_str().unwrap().contains("nearest rank"));
}

#[test]
fn simulate_output_does_not_depend_on_threads() {
    let run = |threads: &str| {
        revplan()
            .args([
                "simulate",
                "tests/data/engine-leads.toml",
                "--trials",
                "3000",
                "--format",
                "json",
                "--threads",
                threads,
            ])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(run("1"), run("2"));
}

#[test]
fn simulate_table_and_csv() {
    let out = revplan()
        .args([
            "simulate",
            "scenarios/board-plan.toml",
            "--trials",
            "2048",
            "--reports",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "P(revenue ≥ target)",
        "2027-Q3",
        "By lead source",
        "arrival month",
        "Capacity:",
        "leads engine",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // Not a terminal: no progress bar on stderr.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv_out = revplan()
        .args([
            "simulate",
            "scenarios/acme-52w.toml",
            "--trials",
            "2048",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(csv_out.stdout).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<_> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 1 + 4 + 12 + 52);
    assert_eq!(&rows[0][0], "horizon");
}

#[test]
fn simulate_rejects_bad_flags_with_exit_2() {
    revplan()
        .args(["simulate", "scenarios/acme-52w.toml", "--trials", "lots"])
        .assert()
        .code(2);
    revplan()
        .args(["simulate", "scenarios/acme-52w.toml", "--trials", "0"])
        .assert()
        .code(2);
    revplan()
        .args([
            "simulate",
            "scenarios/board-plan.toml",
            "--engine",
            "fast",
            "--trials",
            "10",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("capacity"));
    revplan()
        .args(["simulate", "scenarios/acme-52w.toml", "--engine", "quick"])
        .assert()
        .code(2);
}

#[test]
fn simulate_auto_trials_say_why_they_stopped() {
    let v = simulate_json(&["scenarios/acme-52w.toml", "--trials", "auto"]);
    assert_eq!(v["auto_trials"], true);
    assert!(v["stopped"].as_str().unwrap().contains("standard error"));
    assert!(v["p_hit_std_error"].as_f64().unwrap() < 0.005);
}

/// The words of an example as a shell would pass them (the examples quote
/// without spaces inside quotes), up to a redirection or `&&`.
fn shell_words(command: &str) -> Vec<String> {
    command
        .split(' ')
        .filter(|w| !w.is_empty())
        .take_while(|w| *w != ">" && *w != "&&")
        .map(|w| w.replace('\'', ""))
        .collect()
}

#[test]
fn help_examples_parse_and_wrap_between_arguments_at_any_width() {
    use revplan::cli::args::{HELP, command, examples};
    let cli = command(100);
    for h in HELP {
        for e in h.examples {
            let words = shell_words(e);
            assert_eq!(words[0], "revplan", "{e}");
            if let Err(err) = cli.clone().try_get_matches_from(&words) {
                panic!("`{e}` does not parse: {err}");
            }
        }
        for width in [40, 52, 64, 80, 100] {
            let text = examples(h.examples, "", width);
            let mut joined: Vec<String> = Vec::new();
            let mut current = String::new();
            for line in text.lines().skip(1) {
                let fits = line.chars().count() <= width;
                let one_word = !line.trim().contains(' ');
                assert!(fits || one_word, "{width}: `{line}`");
                let body = line.trim();
                let (body, more) = match body.strip_suffix(" \\") {
                    Some(b) => (b, true),
                    None => (body, false),
                };
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(body);
                if !more {
                    joined.push(std::mem::take(&mut current));
                }
            }
            let want: Vec<String> = h
                .examples
                .iter()
                .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            assert_eq!(joined, want, "{} at {width} columns", h.command);
        }
    }
    // The real help, in a narrow terminal, keeps each example whole.
    let out = revplan()
        .args(["sweep", "--help"])
        .env("COLUMNS", "44")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let examples_part = text.split("Examples:").nth(1).unwrap();
    assert!(examples_part.contains("\n    --param 'capacity.tiers[1].touches' \\\n"));
    for line in examples_part.lines() {
        assert!(line.chars().count() <= 44, "`{line}`");
    }
}

#[test]
fn completions_and_the_man_page_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = revplan().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        for cmd in ["simulate", "sensitivity", "completions"] {
            assert!(text.contains(cmd), "{shell}: {cmd}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("man/revplan.1");
    revplan()
        .arg("man")
        .arg("--out")
        .arg(&page)
        .assert()
        .success();
    let roff = std::fs::read_to_string(&page).unwrap();
    assert!(
        roff.starts_with(".ie") || roff.contains(".TH revplan"),
        "{roff}"
    );
    for cmd in ["simulate", "plan", "batch", "completions"] {
        assert!(roff.contains(cmd), "{cmd}");
    }
}

#[test]
fn output_flags_are_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    // xlsx is not for a terminal; assert_cmd's stdout is a pipe, so it is
    // written there and is a workbook.
    let out = revplan()
        .args(["check", "scenarios/acme-52w.toml", "--format", "xlsx"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(&out.stdout[..2], b"PK");
    // --table only with CSV; a comma decimal needs another delimiter.
    revplan()
        .args(["check", "scenarios/acme-52w.toml", "--table", "stages"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--table"));
    revplan()
        .args(["check", "scenarios/acme-52w.toml", "--format", "csv"])
        .args(["--csv-decimal", ","])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--csv-delimiter"));
    // An unknown table lists those there are.
    revplan()
        .args(["check", "scenarios/acme-52w.toml", "--format", "csv"])
        .args(["--table", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("channels, stages"));
    // A folder as --out.
    revplan()
        .args(["check", "scenarios/acme-52w.toml", "--out"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("folder"));
}

#[test]
fn every_command_writes_xlsx_that_reads_back() {
    use calamine::Reader;
    let dir = tempfile::tempdir().unwrap();
    let small = "tests/data/small-scenario.toml";
    let two = "tests/data/two-channels-scenario.toml";
    let runs: Vec<Vec<&str>> = vec![
        vec!["check", small],
        vec!["plan", small, "--trials", "200"],
        vec!["simulate", small, "--trials", "200"],
        vec!["compare", small, "--trials", "200"],
        vec![
            "sweep",
            small,
            "--param",
            "scoring.threshold",
            "--values",
            "55,65",
        ],
        vec!["goal", small, "--confidence", "0.5", "--lever", "leads"],
        vec!["sensitivity", small, "--trials", "200"],
        vec!["optimize", two, "--budget", "500000", "--trials", "200"],
    ];
    for args in runs {
        let path = dir.path().join(format!("{}.xlsx", args[0]));
        revplan()
            .args(&args)
            .args(["--format", "xlsx", "--out"])
            .arg(&path)
            .assert()
            .success();
        let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
        let names = book.sheet_names();
        assert!(!names.is_empty(), "{}", args[0]);
        let first = book.worksheet_range(&names[0]).unwrap();
        assert!(first.height() >= 2, "{}: {}", args[0], names[0]);
        let numbers = first
            .rows()
            .skip(1)
            .flatten()
            .filter(|c| matches!(c, calamine::Data::Float(_)))
            .count();
        assert!(numbers > 0, "{}: no numeric cell", args[0]);
    }
}

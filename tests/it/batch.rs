//! `revplan batch` and `revplan merge` through the real binary: a folder of
//! good and broken scenarios, failures isolated, resume after a kill,
//! shards merged equal to one run, and output names that cannot escape.

use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;

use crate::support::{revplan, root};

/// A folder of scenarios as an analyst keeps them: good ones (one with
/// variants, one in a subfolder, one with a space and a non-ASCII letter in
/// its name and a variant named like a path), broken ones, and a model file
/// beside them.
fn workspace() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("models")).unwrap();
    std::fs::create_dir_all(d.join("scen/emea")).unwrap();
    for m in ["small.toml", "two-channels.toml"] {
        std::fs::copy(root().join("tests/data").join(m), d.join("models").join(m)).unwrap();
    }
    let files = [
        (
            "scen/alpha.toml",
            "name = \"alpha\"\nmodel = \"../models/small.toml\"\nhorizon_weeks = 26\n\n\
             [target]\ntotal = 1_000_000\n\n\
             [[variants]]\nname = \"higher-bar\"\nset.scoring.threshold = 70\n",
        ),
        (
            "scen/beta.toml",
            "name = \"beta\"\nmodel = \"../models/two-channels.toml\"\nhorizon_weeks = 26\n\n\
             [target]\ntotal = 9_300_000\n",
        ),
        (
            "scen/emea/gamma.toml",
            "name = \"gamma\"\nmodel = \"../../models/small.toml\"\nhorizon_weeks = 20\n\n\
             [target]\ntotal = 500_000\n",
        ),
        (
            "scen/q1 plan ü.toml",
            "name = \"Q1 plan ü\"\nmodel = \"../models/small.toml\"\nhorizon_weeks = 13\n\n\
             [target]\ntotal = 300_000\n\n\
             [[variants]]\nname = \"../../escape\"\nset.scoring.threshold = 40\n\n\
             [[variants]]\nname = \"..\"\nset.scoring.threshold = 45\n",
        ),
        (
            "scen/broken-toml.toml",
            "name = \"broken\"\nmodel = \"../models/small.toml\"\nhorizon_weeks = [26\n",
        ),
        (
            "scen/unknown-key.toml",
            "name = \"typo\"\nmodel = \"../models/small.toml\"\nhorizon_wekes = 26\n\n\
             [target]\ntotal = 1_000_000\n",
        ),
        (
            "scen/no-model.toml",
            "name = \"lost\"\nmodel = \"../models/nope.toml\"\nhorizon_weeks = 26\n\n\
             [target]\ntotal = 1_000_000\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(d.join(name), text).unwrap();
    }
    std::fs::copy(
        root().join("tests/data/small.toml"),
        d.join("scen/a-model-beside.toml"),
    )
    .unwrap();
    dir
}

fn batch(ws: &Path, args: &[&str]) -> Output {
    revplan()
        .current_dir(ws)
        .arg("batch")
        .args(args)
        .args(["--trials", "256", "--seed", "11"])
        .output()
        .unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every file below `dir`, relative, sorted, with its bytes.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&dir.join("summary.json"))).unwrap()
}

fn rows(dir: &Path) -> Vec<serde_json::Value> {
    summary(dir)["rows"].as_array().unwrap().clone()
}

#[test]
fn a_folder_of_good_and_broken_scenarios() {
    let ws = workspace();
    let out = batch(ws.path(), &["scen", "--out", "runs"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a-model-beside.toml is a model file"),
        "{stderr}"
    );
    let runs = ws.path().join("runs");
    let rows = rows(&runs);
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["scenario"].as_str().unwrap().to_string(),
                r["variant"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("scen/alpha.toml", "base", "ok"),
        ("scen/alpha.toml", "higher-bar", "ok"),
        ("scen/beta.toml", "base", "ok"),
        ("scen/broken-toml.toml", "base", "failed"),
        ("scen/emea/gamma.toml", "base", "ok"),
        ("scen/no-model.toml", "base", "failed"),
        ("scen/q1 plan ü.toml", "base", "ok"),
        ("scen/q1 plan ü.toml", "../../escape", "ok"),
        ("scen/q1 plan ü.toml", "..", "ok"),
        ("scen/unknown-key.toml", "base", "failed"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    // Errors name the file, line and column, and the key.
    let error = |name: &str| {
        rows.iter().find(|r| r["scenario"] == name).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(error("scen/unknown-key.toml").contains("scen/unknown-key.toml:3:1"));
    assert!(
        error("scen/unknown-key.toml").contains("horizon_weeks"),
        "a suggestion"
    );
    assert!(error("scen/no-model.toml").contains("nope.toml"));
    assert!(error("scen/broken-toml.toml").contains("scen/broken-toml.toml:3"));
    // The good ones have their figures and files; numbers agree with the
    // single-scenario commands run with the same seed and trials.
    let alpha = &rows[0];
    assert_eq!(alpha["output"], "alpha");
    assert_eq!(alpha["trials"], 256);
    for f in [
        "forecast.json",
        "forecast.csv",
        "plan.json",
        "plan.csv",
        "result.json",
    ] {
        assert!(runs.join("alpha").join(f).is_file(), "{f}");
    }
    let single = revplan()
        .current_dir(ws.path())
        .args([
            "simulate",
            "scen/alpha.toml",
            "--format",
            "json",
            "--trials",
            "256",
            "--seed",
            "11",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(single.stdout.clone()).unwrap(),
        read(&runs.join("alpha/forecast.json"))
    );
    let single: serde_json::Value = serde_json::from_slice(&single.stdout).unwrap();
    assert_eq!(alpha["p_hit"], single["p_hit_target"]);
    assert_eq!(alpha["revenue_mean"], single["revenue"]["mean"]);
    assert_eq!(alpha["leads"], single["stages"]["leads"]);
    let plan = revplan()
        .current_dir(ws.path())
        .args([
            "plan",
            "scen/alpha.toml",
            "--variant",
            "higher-bar",
            "--no-simulation",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(plan.stdout).unwrap(),
        read(&runs.join("alpha/variants/higher-bar/plan.json"))
    );
    // The CSV has the same rows, with a header, and failed rows keep their
    // place with empty figures.
    let csv = read(&runs.join("summary.csv"));
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let headers = r.headers().unwrap().clone();
    for h in [
        "scenario",
        "variant",
        "target_usd",
        "revenue_mean_usd",
        "revenue_p10_usd",
        "revenue_p50_usd",
        "revenue_p90_usd",
        "p_hit_share",
        "spend_usd",
        "cac_usd",
        "roi_x",
        "leads",
        "mqls",
        "opportunities",
        "wins",
        "status",
        "error",
    ] {
        assert!(headers.iter().any(|x| x == h), "no column {h}");
    }
    let records: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), want.len());
    assert_eq!(&records[3][3], "failed");
    assert_eq!(&records[3][6], "");
    assert_eq!(summary(&runs)["failed"], 3);
    assert_eq!(summary(&runs)["scenarios"], 7);
}

#[test]
fn output_names_cannot_escape_the_folder() {
    let ws = workspace();
    // A path with `..` in it, a name with a space and `ü`, variants named
    // `../../escape` and `..`.
    let out = batch(ws.path(), &["scen/emea/../q1 plan ü.toml", "--out", "runs"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = ws.path().join("runs");
    let files: Vec<String> = tree(&runs).into_iter().map(|(n, _)| n).collect();
    assert!(
        files.contains(&"q1_plan_ü/forecast.json".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"q1_plan_ü/variants/_.._escape/plan.json".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"q1_plan_ü/variants/_/plan.json".to_string()),
        "{files:?}"
    );
    // Nothing was written beside the output folder or above it.
    let mut top: Vec<String> = std::fs::read_dir(ws.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["models", "runs", "scen"]);
    let scen: Vec<String> = tree(&ws.path().join("scen"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(scen.len(), 8, "{scen:?}");
    assert_eq!(rows(&runs)[0]["scenario"], "scen/q1 plan ü.toml");
}

#[test]
fn resume_after_a_kill_ends_with_the_same_summary() {
    let ws = workspace();
    let full = batch(ws.path(), &["scen", "--out", "full"]);
    assert_eq!(full.status.code(), Some(1));
    let full_dir = ws.path().join("full");

    // A run killed part-way, as the files show it: one scenario finished,
    // one with some outputs but no result (killed while writing), a
    // temporary file of a write in progress, one never started, and no
    // summary yet.
    let part = ws.path().join("part");
    for name in ["alpha", "q1_plan_ü"] {
        copy_tree(&full_dir.join(name), &part.join(name));
    }
    std::fs::remove_file(part.join("q1_plan_ü/result.json")).unwrap();
    std::fs::remove_dir_all(part.join("q1_plan_ü/variants")).unwrap();
    std::fs::write(part.join("q1_plan_ü/.plan.json.4242.tmp"), "{\"half").unwrap();
    let resumed = batch(ws.path(), &["scen", "--out", "part", "--resume"]);
    assert_eq!(resumed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(stderr.contains("1 reused"), "{stderr}");
    assert_eq!(
        read(&part.join("summary.csv")),
        read(&full_dir.join("summary.csv"))
    );
    assert_eq!(
        read(&part.join("summary.json")),
        read(&full_dir.join("summary.json"))
    );
    assert_eq!(
        read(&part.join("q1_plan_ü/variants/_/plan.json")),
        read(&full_dir.join("q1_plan_ü/variants/_/plan.json"))
    );

    // A second resume reuses every good scenario (failed ones are retried).
    let again = batch(ws.path(), &["scen", "--out", "part", "--resume"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("4 reused"));
    assert_eq!(
        read(&part.join("summary.csv")),
        read(&full_dir.join("summary.csv"))
    );

    // A changed input (the model two scenarios share) reruns those two.
    let model = ws.path().join("models/small.toml");
    let text = read(&model).replace("name = \"small\"", "name = \"small, edited\"");
    std::fs::write(&model, text).unwrap();
    let changed = batch(ws.path(), &["scen", "--out", "part", "--resume"]);
    assert!(
        String::from_utf8_lossy(&changed.stderr).contains("1 reused"),
        "only beta is unchanged"
    );
    // So do another seed, and other trials.
    let seed = revplan()
        .current_dir(ws.path())
        .args([
            "batch", "scen", "--out", "part", "--resume", "--trials", "256", "--seed", "12",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&seed.stderr).contains("0 reused"));
}

#[test]
fn a_real_kill_then_resume_gives_the_same_summary() {
    let ws = workspace();
    let full = batch(ws.path(), &["scen", "--out", "full", "--jobs", "1"]);
    assert_eq!(full.status.code(), Some(1));
    // Kill a run as soon as its first scenario is done, then resume.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_revplan"))
        .current_dir(ws.path())
        .args([
            "batch", "scen", "--out", "killed", "--jobs", "1", "--trials", "256", "--seed", "11",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let first = ws.path().join("killed/alpha/result.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !first.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    let resumed = batch(
        ws.path(),
        &["scen", "--out", "killed", "--resume", "--jobs", "1"],
    );
    assert_eq!(resumed.status.code(), Some(1));
    let full_dir = ws.path().join("full");
    let killed = ws.path().join("killed");
    assert_eq!(
        read(&killed.join("summary.csv")),
        read(&full_dir.join("summary.csv"))
    );
    assert_eq!(
        read(&killed.join("summary.json")),
        read(&full_dir.join("summary.json"))
    );
    // And every output, not only the summary.
    assert_eq!(tree(&killed), tree(&full_dir));
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

#[test]
fn shards_merged_equal_one_run() {
    let ws = workspace();
    let one = batch(ws.path(), &["scen", "--out", "one", "--charts"]);
    assert_eq!(one.status.code(), Some(1));
    let mut shard_dirs: Vec<PathBuf> = Vec::new();
    let mut owned = 0;
    for i in 0..3 {
        let dir = format!("shard-{i}");
        let out = batch(
            ws.path(),
            &[
                "scen",
                "--out",
                &dir,
                "--shard",
                &format!("{i}/3"),
                "--charts",
            ],
        );
        assert!(matches!(out.status.code(), Some(0 | 1)));
        owned += summary(&ws.path().join(&dir))["scenarios"]
            .as_u64()
            .unwrap();
        shard_dirs.push(ws.path().join(dir));
    }
    assert_eq!(owned, 7, "every scenario in exactly one shard");
    // Given in any order.
    shard_dirs.reverse();
    let merged = revplan()
        .current_dir(ws.path())
        .arg("merge")
        .args(&shard_dirs)
        .args(["--out", "merged"])
        .output()
        .unwrap();
    assert_eq!(
        merged.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    // The same files, byte for byte, plus the shards' records.
    let mut merged_files = tree(&ws.path().join("merged"));
    let records = merged_files
        .iter()
        .position(|(name, _)| name == "shards.json")
        .map(|i| merged_files.remove(i).1)
        .expect("merge writes shards.json");
    assert_eq!(merged_files, tree(&ws.path().join("one")));

    // Each shard's record: its scenarios, estimate and time, and its
    // failures under its own index (in shards.json and in the summary).
    let records: serde_json::Value = serde_json::from_slice(&records).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 3);
    let failed_rows: Vec<String> = rows(&ws.path().join("one"))
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| r["scenario"].as_str().unwrap().to_string())
        .collect();
    let mut attributed = Vec::new();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["index"], i);
        assert_eq!(r["count"], 3);
        assert!(r["elapsed_seconds"].as_f64().unwrap() > 0.0);
        assert!(r["estimated_seconds"].as_f64().unwrap() >= 0.0);
        let own = summary(&ws.path().join(format!("shard-{i}")));
        let own_failed: Vec<&str> = own["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "failed")
            .map(|r| r["scenario"].as_str().unwrap())
            .collect();
        for name in r["failed"].as_array().unwrap() {
            assert!(own_failed.contains(&name.as_str().unwrap()));
            attributed.push(name.as_str().unwrap().to_string());
        }
    }
    attributed.sort();
    let mut expected = failed_rows.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(attributed, expected, "every failure under its shard");
    let json = revplan()
        .current_dir(ws.path())
        .args(["merge", "shard-0", "shard-1", "shard-2", "--out", "m1"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(shown["shards"].as_array().unwrap().len(), 3);
    let table = revplan()
        .current_dir(ws.path())
        .args(["merge", "shard-0", "shard-1", "shard-2", "--out", "m1"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    for (i, r) in records.iter().enumerate() {
        if let Some(first) = r["failed"].as_array().unwrap().first() {
            let line = format!("shard {i}/3: ");
            assert!(
                table
                    .lines()
                    .any(|l| l.contains(&line) && l.contains(first.as_str().unwrap())),
                "{table}"
            );
        }
    }

    // A missing shard names the scenarios it would have run.
    let missing = revplan()
        .current_dir(ws.path())
        .args(["merge", "shard-0", "shard-2", "--out", "m2"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("shard 1/3 missing"), "{err}");
    let owned_by_1 = summary(&ws.path().join("shard-1"))["rows"][0]["scenario"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains(&owned_by_1), "{err}");

    // A shard killed before it finished: what has results, what is
    // missing, and how to finish it; --resume then lets the merge through.
    let cut = ws.path().join("shard-1");
    let victim = rows(&cut)
        .iter()
        .find(|r| r["status"] == "ok")
        .map(|r| {
            r["output"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string()
        })
        .unwrap();
    std::fs::remove_file(cut.join("summary.json")).unwrap();
    std::fs::remove_file(cut.join("shard.json")).unwrap();
    std::fs::remove_file(cut.join(&victim).join("result.json")).unwrap();
    let partial = revplan()
        .current_dir(ws.path())
        .args(["merge", "shard-0", "shard-1", "shard-2", "--out", "m5"])
        .output()
        .unwrap();
    assert_eq!(partial.status.code(), Some(2));
    let err = String::from_utf8_lossy(&partial.stderr);
    assert!(
        err.contains("shard 1/3 in") && err.contains("did not finish"),
        "{err}"
    );
    assert!(
        err.contains("missing: ") && err.contains("--resume"),
        "{err}"
    );
    let resumed = batch(
        ws.path(),
        &[
            "scen", "--out", "shard-1", "--shard", "1/3", "--charts", "--resume",
        ],
    );
    assert!(matches!(resumed.status.code(), Some(0 | 1)));
    let again = revplan()
        .current_dir(ws.path())
        .args(["merge", "shard-0", "shard-1", "shard-2", "--out", "m5"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    let mut files = tree(&ws.path().join("m5"));
    files.retain(|(name, _)| name != "shards.json");
    assert_eq!(files, tree(&ws.path().join("one")));
    let twice = revplan()
        .current_dir(ws.path())
        .args(["merge", "shard-0", "shard-0", "shard-1", "--out", "m3"])
        .output()
        .unwrap();
    assert_eq!(twice.status.code(), Some(2));
    let whole = revplan()
        .current_dir(ws.path())
        .args(["merge", "one", "--out", "m4"])
        .output()
        .unwrap();
    assert_eq!(whole.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&whole.stderr).contains("not a shard"));
}

#[test]
fn results_do_not_depend_on_jobs_or_threads() {
    let ws = workspace();
    let a = revplan()
        .current_dir(ws.path())
        .args([
            "batch",
            "scen",
            "--out",
            "a",
            "--trials",
            "256",
            "--jobs",
            "1",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    let b = revplan()
        .current_dir(ws.path())
        .args([
            "batch",
            "scen",
            "--out",
            "b",
            "--trials",
            "256",
            "--jobs",
            "3",
            "--threads",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(a.status.code(), Some(1));
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(tree(&ws.path().join("a")), tree(&ws.path().join("b")));
}

#[test]
fn bad_usage_exits_2() {
    let ws = workspace();
    for args in [
        vec!["nowhere", "--out", "x"],
        vec!["scen/*.nothing", "--out", "x"],
        vec!["scen", "--out", "x", "--shard", "3/3"],
        vec!["scen", "--out", "x", "--shard", "one/two"],
        vec!["scen", "--out", "x", "--jobs", "0"],
        vec!["models", "--out", "x"],
    ] {
        let out = revplan()
            .current_dir(ws.path())
            .arg("batch")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
    // Globs pick files; a glob can also name folders.
    let out = batch(ws.path(), &["scen/a*.toml", "scen/e*", "--out", "g"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = rows(&ws.path().join("g"))
        .iter()
        .map(|r| r["scenario"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["scen/alpha.toml", "scen/alpha.toml", "scen/emea/gamma.toml"]
    );
}

#[test]
fn a_rerun_removes_what_it_no_longer_writes() {
    let ws = workspace();
    let first = batch(ws.path(), &["scen/alpha.toml", "--out", "runs", "--charts"]);
    assert!(first.status.success());
    let alpha = ws.path().join("runs/alpha");
    assert!(alpha.join("variants/higher-bar/fan.png").is_file());
    // The variant is dropped from the file and charts are no longer asked for.
    let file = ws.path().join("scen/alpha.toml");
    let text = read(&file);
    std::fs::write(&file, &text[..text.find("[[variants]]").unwrap()]).unwrap();
    let second = batch(ws.path(), &["scen/alpha.toml", "--out", "runs", "--resume"]);
    assert!(second.status.success());
    let files: Vec<String> = tree(&alpha).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        files,
        [
            "forecast.csv",
            "forecast.json",
            "plan.csv",
            "plan.json",
            "result.json"
        ]
    );
    assert_eq!(rows(&ws.path().join("runs")).len(), 1);
}

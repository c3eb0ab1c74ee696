//! Every `cargo run --release -- …` command of the README runs: the same
//! arguments through the real binary, in a scratch folder that sees the
//! shipped models and scenarios, with the number of trials cut down so
//! that the suite stays quick (the full runs are what `cargo bench` and
//! the README's figures come from).

use std::path::Path;

use crate::support::{revplan, root};

/// Commands that simulate, and so take `--trials`.
const SIMULATING: &[&str] = &[
    "plan",
    "simulate",
    "compare",
    "sweep",
    "goal",
    "sensitivity",
    "optimize",
    "report",
    "batch",
    "backtest",
    "track",
];

fn readme_commands() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("cargo run --release -- "))
        .map(|l| {
            let l = l.split(" #").next().unwrap_or(l);
            // As a shell passes them: the README quotes without spaces.
            l.split_whitespace()
                .map(|w| w.replace('\'', ""))
                .collect::<Vec<_>>()
        })
        .fold(Vec::new(), |mut all, c| {
            // A command shown twice runs once.
            if !all.contains(&c) {
                all.push(c);
            }
            all
        })
}

fn link(from: &Path, to: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(from, to).unwrap();
    #[cfg(not(unix))]
    std::fs::create_dir_all(to).unwrap_or_else(|_| panic!("{from:?}"));
}

#[test]
fn the_readme_defines_each_figure_as_the_code_does() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (term, meaning) in revplan::metrics::DEFINITIONS {
        let row = format!("| {term} | {meaning} |");
        assert!(text.contains(&row), "README lacks: {row}");
    }
}

#[test]
fn every_readme_command_runs() {
    let commands = readme_commands();
    assert!(commands.len() >= 10, "{commands:?}");
    let dir = tempfile::tempdir().unwrap();
    for sub in ["models", "scenarios", "schemas", "examples"] {
        link(&root().join(sub), &dir.path().join(sub));
    }
    for args in commands {
        let mut args = args.clone();
        if SIMULATING.contains(&args[0].as_str()) {
            match args.iter().position(|a| a == "--trials") {
                Some(i) => args[i + 1] = "128".into(),
                None => args.extend(["--trials".into(), "128".into()]),
            }
        }
        for flag in ["--charts", "--out"] {
            if let Some(i) = args.iter().position(|a| a == flag) {
                let written = dir.path().join(&args[i + 1]);
                assert!(!written.exists(), "two README commands write {written:?}");
            }
        }
        let out = revplan()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        // goal exits 1 when the confidence is out of reach: still a run.
        let ok = out.status.success() || (args[0] == "goal" && out.status.code() == Some(1));
        assert!(
            ok,
            "revplan {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(i) = args.iter().position(|a| a == "--out") {
            let mut written = dir.path().join(&args[i + 1]);
            if args[0] == "report" {
                written = written.join("index.html");
            }
            assert!(written.metadata().unwrap().len() > 0, "{written:?}");
        }
        if let Some(i) = args.iter().position(|a| a == "--charts") {
            let charts = std::fs::read_dir(dir.path().join(&args[i + 1])).unwrap();
            assert!(charts.count() >= 2, "no charts from {args:?}");
        }
    }
}

/// The install block's `revplan` commands (completions, the manual page)
/// run, with their files written to a scratch folder instead.
#[test]
fn the_install_commands_run() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for line in text.lines().filter(|l| l.starts_with("revplan ")) {
        let line = line.split(" #").next().unwrap_or(line);
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        if !matches!(words.first(), Some(&"completions") | Some(&"man")) {
            continue;
        }
        let mut args: Vec<String> = Vec::new();
        let mut it = words.iter();
        while let Some(w) = it.next() {
            match *w {
                ">" => break,
                "--out" => {
                    it.next();
                    args.push("--out".into());
                    args.push(dir.path().join("page.1").display().to_string());
                }
                w => args.push(w.to_string()),
            }
        }
        let out = revplan().args(&args).output().unwrap();
        assert!(out.status.success(), "revplan {}", args.join(" "));
        ran += 1;
    }
    assert!(
        ran >= 2,
        "the README shows how to install completions and the manual"
    );
}

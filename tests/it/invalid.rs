//! Invalid files and their messages: every file in tests/invalid is
//! rejected with located problems, snapshotted so that a change in wording
//! or place is seen in review.

use std::path::PathBuf;

use revplan::load::load_any;

use crate::support::{rel, root};

fn invalid_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("tests/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_invalid_file_is_rejected_with_located_problems() {
    let files = invalid_files();
    assert!(files.len() >= 60, "{}", files.len());
    for f in files {
        let name = rel(&f);
        let err = match load_any(std::path::Path::new(&name), &[]) {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => e,
        };
        assert!(err.total >= 1);
        for p in &err.problems {
            assert!(p.line > 0 && p.column > 0, "{name}: unlocated problem {p}");
        }
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        insta::assert_snapshot!(stem, err.render(false, 100));
    }
}

#[test]
fn a_file_with_several_problems_reports_them_all() {
    let err = load_any(
        std::path::Path::new("tests/invalid/multiple-problems.toml"),
        &[],
    )
    .unwrap_err();
    let messages: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(err.total, 4, "{messages:#?}");
}

//! Loading never panics: on arbitrary bytes, on arbitrary TOML built from
//! the format's own keys, and on randomly mutated shipped files. Whatever
//! the input, the answer is a model or located problems.

use std::path::Path;

use proptest::prelude::*;
use revplan::load::{load_any, model_from_str, scenario_from_str};

use crate::support::root;

fn outcome_is_sane<T>(r: Result<T, revplan::InputError>) {
    if let Err(e) = r {
        assert!(e.total >= 1 && !e.problems.is_empty());
        let _ = e.render(false, 80);
    }
}

/// Keys and words of the format, so random documents reach deep.
const WORDS: &[&str] = &[
    "name",
    "model",
    "horizon_weeks",
    "start_date",
    "target",
    "total",
    "annual",
    "shares",
    "amounts",
    "period",
    "run",
    "trials",
    "seed",
    "mix",
    "variants",
    "set",
    "stages",
    "gate",
    "score",
    "acceptance",
    "close",
    "rate",
    "p",
    "delay",
    "recycle",
    "to",
    "scoring",
    "threshold",
    "range",
    "curve",
    "logistic",
    "max",
    "midpoint",
    "scale",
    "nurture",
    "weeks",
    "p_engage",
    "lift",
    "capacity",
    "unlimited",
    "reps",
    "touches_per_rep_week",
    "contact_p",
    "tiers",
    "min_score",
    "touches",
    "hires",
    "week",
    "count",
    "deals",
    "win_rate",
    "size",
    "cycle",
    "slip",
    "channels",
    "volume",
    "leads_per_week",
    "budget_per_week",
    "response",
    "exponential",
    "max_leads_per_week",
    "budget_scale",
    "cost_per_lead",
    "score",
    "dist",
    "normal",
    "mean",
    "sd",
    "lognormal",
    "median",
    "sigma",
    "alpha",
    "beta",
    "successes",
    "active_weeks",
    "seasonality",
    "by",
    "factors",
    "pipeline",
    "csv",
    "lead",
    "mql",
    "sal",
    "sql",
    "opportunity",
    "empirical",
    "values",
    "weights",
    "at_least",
    "at_most",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(String::from),
        1 => "[a-z_]{1,8}",
    ]
}

fn leaf() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-1.0),
            Just(0.0),
            Just(0.5),
            Just(1.0),
            Just(1e300),
            Just(60.0),
            Just(52.0),
            any::<f64>()
        ]
        .prop_map(toml::Value::Float),
        word().prop_map(toml::Value::String),
        any::<bool>().prop_map(toml::Value::Boolean),
    ]
}

fn value() -> impl Strategy<Value = toml::Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map(word(), inner, 0..6)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::btree_map(word(), value(), 0..10).prop_map(|m| {
        let t: toml::Table = m.into_iter().collect();
        toml::to_string(&t).unwrap_or_default()
    })
}

/// The shipped files, with scenario model paths made absolute.
fn shipped_texts() -> Vec<String> {
    crate::support::shipped()
        .iter()
        .map(|p| {
            let t = std::fs::read_to_string(p).unwrap();
            t.replace("\"../models/", &format!("\"{}/models/", root().display()))
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceNumber(usize, &'static str),
    Truncate(usize),
    Insert(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (
            any::<usize>(),
            proptest::sample::select(
                &[
                    "-1",
                    "0",
                    "1e308",
                    "nan",
                    "inf",
                    "1.5",
                    "99999999999999999999",
                    "\"x\"",
                    "[]",
                    "{}",
                    "1040",
                    "0.999999"
                ][..]
            )
        )
            .prop_map(|(a, b)| Mutation::ReplaceNumber(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), "[ -~]{0,30}").prop_map(|(a, b)| Mutation::Insert(a, b)),
    ]
}

fn mutate(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let n = lines.len();
    match m {
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapLines(a, b) => lines.swap(a % n, b % n),
        Mutation::ReplaceNumber(i, with) => {
            // Replace the i-th number-looking token in the document.
            let numbers: Vec<(usize, usize)> = lines
                .iter()
                .enumerate()
                .flat_map(|(li, l)| {
                    l.match_indices(|c: char| c.is_ascii_digit())
                        .map(move |(ci, _)| (li, ci))
                        .collect::<Vec<_>>()
                })
                .collect();
            if let Some(&(li, ci)) = numbers.get(i % numbers.len().max(1)) {
                let line = &lines[li];
                let end = line[ci..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
                    .map_or(line.len(), |e| ci + e);
                lines[li] = format!("{}{}{}", &line[..ci], with, &line[end..]);
            }
        }
        Mutation::Truncate(i) => {
            let mut cut = i % text.len().max(1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return text[..cut].to_string();
        }
        Mutation::Insert(i, s) => lines.insert(i % n, s.clone()),
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let dir = std::env::temp_dir().join(format!("revplan-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bytes.toml");
        std::fs::write(&path, &bytes).unwrap();
        outcome_is_sane(load_any(&path, &[]));
        let text = String::from_utf8_lossy(&bytes);
        outcome_is_sane(model_from_str("bytes.toml", &text, &dir));
    }

    #[test]
    fn arbitrary_toml_never_panics(doc in document(), as_scenario in any::<bool>()) {
        if as_scenario {
            let text = format!("model = \"{}/models/acme.toml\"\n{doc}", root().display());
            outcome_is_sane(scenario_from_str("doc.toml", &text, &root(), &[]));
        } else {
            outcome_is_sane(model_from_str("doc.toml", &doc, &root()));
        }
    }

    #[test]
    fn mutated_shipped_files_never_panic(
        which in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let texts = shipped_texts();
        let mut text = texts[which % texts.len()].clone();
        for m in &mutations {
            text = mutate(&text, m);
        }
        let dir = root().join("models");
        outcome_is_sane(scenario_from_str("mutated.toml", &text, &dir, &[]));
        outcome_is_sane(model_from_str("mutated.toml", &text, &dir));
    }

    #[test]
    fn arbitrary_overrides_never_panic(key in "[a-z_.\\[\\]0-9\"]{0,40}", value in "[ -~]{0,20}") {
        let arg = format!("{key}={value}");
        outcome_is_sane(revplan::load::load_scenario(Path::new("scenarios/acme-52w.toml"), &[arg]));
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep = format!("x = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    outcome_is_sane(model_from_str("deep.toml", &deep, &root()));
    let deep = format!("x = {}1{}", "{a = ".repeat(50_000), "}".repeat(50_000));
    outcome_is_sane(model_from_str("deep.toml", &deep, &root()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Any text makes one safe folder name: a single plain component that
    /// cannot climb out of, or hide in, the output folder.
    #[test]
    fn any_name_makes_a_safe_folder(text in any::<String>()) {
        let name = revplan::batch::safe_component(&text);
        let mut parts = Path::new(&name).components();
        prop_assert!(matches!(parts.next(), Some(std::path::Component::Normal(_))));
        prop_assert!(parts.next().is_none());
        prop_assert!(!name.starts_with('.') && !name.contains(['/', '\\']));
        prop_assert!(!name.is_empty() && name.len() <= 80);
    }

    /// `--shard` never panics, and what it accepts is a share that exists.
    #[test]
    fn any_shard_text_parses_or_is_refused(text in "[0-9/ x-]{0,12}") {
        if let Ok(s) = text.parse::<revplan::batch::Shard>() {
            prop_assert!(s.index < s.count);
        }
    }
}

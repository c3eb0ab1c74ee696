//! The JSON Schema: every shipped file conforms, the schema is strict, and
//! the copies in schemas/ are up to date.

use revplan::spec::{model_schema, scenario_schema};
use revplan::tree::{Sources, parse_document};
use serde_json::Value;

use crate::support::{rel, root, shipped};

fn as_json(text: &str) -> Value {
    let mut s = Sources::default();
    let id = s.add("x.toml", text);
    let (node, problems) = parse_document(&s, id);
    assert!(problems.is_empty(), "{problems:?}");
    node.to_json()
}

fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let v = jsonschema::validator_for(schema).expect("a valid schema");
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn schemas_are_valid_json_schema() {
    for s in [model_schema(), scenario_schema()] {
        assert!(jsonschema::meta::is_valid(&s));
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    }
}

#[test]
fn every_shipped_file_conforms_to_its_schema() {
    let (model, scenario) = (model_schema(), scenario_schema());
    let files = shipped();
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let json = as_json(&std::fs::read_to_string(&f).unwrap());
        let schema = if json.get("model").is_some() {
            &scenario
        } else {
            &model
        };
        let e = errors(schema, &json);
        assert!(e.is_empty(), "{}: {e:#?}", rel(&f));
    }
}

#[test]
fn the_schema_rejects_unknown_keys_and_wrong_types() {
    let text = std::fs::read_to_string(root().join("models/acme.toml")).unwrap();
    let typo = text.replace("cost_per_lead = 80", "cost_per_led = 80");
    assert_ne!(typo, text, "the test must change the file");
    assert!(!errors(&model_schema(), &as_json(&typo)).is_empty());
    let bad = text.replace("threshold = 60", "threshold = \"sixty\"");
    assert_ne!(bad, text, "the test must change the file");
    assert!(!errors(&model_schema(), &as_json(&bad)).is_empty());
    let text = std::fs::read_to_string(root().join("scenarios/board-plan.toml")).unwrap();
    let typo = text.replace("set.scoring.threshold = 55", "set.scoring.treshold = 55");
    assert_ne!(typo, text, "the test must change the file");
    assert!(!errors(&scenario_schema(), &as_json(&typo)).is_empty());
}

#[test]
fn the_shipped_schema_files_are_current() {
    for (file, schema) in [("model", model_schema()), ("scenario", scenario_schema())] {
        let path = root().join(format!("schemas/{file}.schema.json"));
        let mut expected = serde_json::to_string_pretty(&schema).unwrap();
        expected.push('\n');
        let found = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            found == expected,
            "{} is stale: run `cargo run -- schema {file} --out schemas/{file}.schema.json`",
            rel(&path)
        );
    }
}

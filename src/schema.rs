//! The JSON Schemas revplan publishes: of its input files (model,
//! scenario), for editors, and of every command's JSON output, for the
//! programs that read them. Output schemas are derived from the very types
//! that are serialized, so they cannot drift from the output.

use schemars::JsonSchema;
use serde_json::{Value as Json, json};

use crate::export::Exportable;
use crate::export::json::SCHEMA_VERSION;

/// Which schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Model,
    Scenario,
    Forecast,
    Plan,
    Compare,
    Sweep,
    Goal,
    Sensitivity,
    Optimize,
    Check,
    BatchSummary,
    DataSource,
    Actuals,
    Calibration,
    Backtest,
    Track,
}

/// The schema of a kind.
pub fn of(kind: Kind) -> Json {
    match kind {
        Kind::Model => crate::spec::model_schema(),
        Kind::Scenario => crate::spec::scenario_schema(),
        Kind::Forecast => output::<crate::sim::Forecast>(),
        Kind::Plan => output::<crate::plan::Plan>(),
        Kind::Compare => output::<crate::decide::compare::Comparison>(),
        Kind::Sweep => output::<crate::decide::sweep::Sweep>(),
        Kind::Goal => output::<crate::decide::goal::GoalResult>(),
        Kind::Sensitivity => output::<crate::decide::sensitivity::Sensitivity>(),
        Kind::Optimize => output::<crate::decide::optimize::Optimization>(),
        Kind::Check => output::<crate::check::Checks>(),
        Kind::BatchSummary => output::<crate::batch::Summary>(),
        Kind::DataSource => input::<crate::actuals::source::DataSource>("data-source"),
        Kind::Actuals => output::<crate::actuals::report::Actuals>(),
        Kind::Calibration => output::<crate::calibrate::Calibration>(),
        Kind::Backtest => output::<crate::backtest::Backtest>(),
        Kind::Track => output::<crate::track::Track>(),
    }
}

/// The schema of an input file read through serde: the type's own.
fn input<T: JsonSchema>(name: &str) -> Json {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut v = schema.to_value();
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "$id".into(),
            json!(format!("https://revplan.dev/schema/{name}.json")),
        );
        obj.insert("title".into(), json!(format!("revplan {name} file")));
    }
    v
}

/// The schema of a command's JSON output: the type's own, with the
/// `schema_version` and `kind` every output starts with.
fn output<T: Exportable + JsonSchema>() -> Json {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut v = schema.to_value();
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "$id".into(),
            json!(format!("https://revplan.dev/schema/{}.json", T::KIND)),
        );
        obj.insert("title".into(), json!(format!("revplan {} output", T::KIND)));
        let props = obj
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(props) = props {
            props.insert(
                "schema_version".into(),
                json!({"const": SCHEMA_VERSION, "description": "The layout's version; raised when a key is removed or changes meaning."}),
            );
            props.insert(
                "kind".into(),
                json!({"const": T::KIND, "description": "What the document holds."}),
            );
        }
        let required = obj.entry("required").or_insert_with(|| json!([]));
        if let Some(r) = required.as_array_mut() {
            r.insert(0, json!("kind"));
            r.insert(0, json!("schema_version"));
        }
    }
    v
}

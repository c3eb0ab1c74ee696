//! The export layer: every command's result through every format — the
//! terminal table, CSV (each table, both dialects), JSON validated against
//! its published schema, and the xlsx workbook read back with calamine.

use std::io::Cursor;
use std::sync::OnceLock;

use calamine::{Data, Reader, Xlsx};
use revplan::export::{Cell, ExportError, Exportable, Format, Table, Unit, WriteOptions};
use revplan::export::{col, csv as csvw};
use revplan::run::{RunConfig, Trials};
use revplan::schema::Kind;
use serde_json::Value;

use crate::support::root;

/// Every command's result on the small test scenarios, computed once.
struct Fixtures {
    forecast: revplan::sim::Forecast,
    plan: revplan::plan::Plan,
    compare: revplan::decide::compare::Comparison,
    sweep: revplan::decide::sweep::Sweep,
    goal: revplan::decide::goal::GoalResult,
    sensitivity: revplan::decide::sensitivity::Sensitivity,
    optimize: revplan::decide::optimize::Optimization,
    check: revplan::check::Checks,
    summary: revplan::batch::Summary,
}

fn settings() -> RunConfig {
    RunConfig {
        trials: Trials::Fixed(400),
        seed: 5,
        ..RunConfig::default()
    }
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        // Relative to the package root (the tests' folder), so that paths
        // in the views do not depend on where the checkout is.
        let small = std::path::PathBuf::from("tests/data/small-scenario.toml");
        let two = std::path::PathBuf::from("tests/data/two-channels-scenario.toml");
        let cfg = settings();
        let none = &|_| {};
        let s = revplan::load::load_scenario(&small, &[]).unwrap().base;
        let forecast = revplan::sim::simulate(&s, &cfg, &|_| {}).unwrap();
        let opts = revplan::plan::PlanOptions::new();
        let plan = revplan::decide::ask::ask(&s, &opts, None, &cfg, &|_| {}).unwrap();
        let (loaded, cands) = revplan::decide::compare::candidates(&small, &[], &[], &[]).unwrap();
        let compare = revplan::decide::compare::compare(&loaded.base, &cands, &cfg, none).unwrap();
        let values = ["55".to_string(), "65".to_string()];
        let points =
            revplan::decide::sweep::points(&small, &[], None, "scoring.threshold", &values)
                .unwrap();
        let objective = revplan::decide::Objective::PHit;
        let sweep =
            revplan::decide::sweep::sweep("scoring.threshold", &points, objective, &cfg, none)
                .unwrap();
        let lever = revplan::decide::levers::Lever::parse("leads", &s).unwrap();
        let goal = revplan::decide::goal::goal(&s, &lever, 0.5, &cfg, &|_| {}).unwrap();
        let swings = revplan::decide::sensitivity::Swings {
            relative: 0.1,
            threshold_points: 5.0,
        };
        let sensitivity =
            revplan::decide::sensitivity::sensitivity(&s, swings, &cfg, &|_, _| {}).unwrap();
        let t = revplan::load::load_scenario(&two, &[]).unwrap().base;
        let bounds = revplan::decide::optimize::bounds(&t, &[]).unwrap();
        let optimize = revplan::decide::optimize::optimize(
            &t,
            500_000.0,
            revplan::decide::Objective::Mean,
            &bounds,
            &cfg,
            none,
        )
        .unwrap();
        let reports = [&small, &two]
            .iter()
            .map(|f| revplan::check::report(&revplan::load::load_any(f, &[]).unwrap()))
            .collect();
        Fixtures {
            forecast,
            plan,
            compare,
            sweep,
            goal,
            sensitivity,
            optimize,
            check: revplan::check::Checks { reports },
            summary: batch_summary(),
        }
    })
}

/// A batch of the two test scenarios, its summary as written.
fn batch_summary() -> revplan::batch::Summary {
    let dir = tempfile::tempdir().unwrap();
    let paths = vec!["tests/data/small-scenario.toml".to_string()];
    let found = revplan::batch::discover(&paths).unwrap();
    let opts = revplan::batch::Options {
        trials: Some(Trials::Fixed(200)),
        seed: Some(3),
        max_trials: revplan::run::DEFAULT_MAX_TRIALS,
        engine: revplan::run::EngineKind::Auto,
        allow_large: false,
        charts: false,
        resume: false,
        shard: None,
        jobs: 1,
        threads: Some(1),
    };
    revplan::batch::run(&paths, &found, dir.path(), &opts, &|_| {})
        .unwrap()
        .summary
}

fn bytes<T: Exportable>(x: &T, opts: &WriteOptions) -> Vec<u8> {
    revplan::export::write(x, opts).unwrap()
}

/// The terminal view holds the title and every table that is always shown.
fn through_text<T: Exportable>(x: &T) {
    let view = x.view();
    let text = String::from_utf8(bytes(x, &WriteOptions::of(Format::Table))).unwrap();
    assert!(text.contains(view.title.as_str()), "{}: {text}", T::KIND);
    let detail = WriteOptions {
        detail: true,
        ..WriteOptions::of(Format::Table)
    };
    let long = String::from_utf8(bytes(x, &detail)).unwrap();
    assert!(long.len() >= text.len(), "{}", T::KIND);
    for t in &view.tables {
        if let Some(c) = t.columns.first() {
            assert!(long.contains(c.header.as_str()), "{}: {}", T::KIND, t.name);
        }
    }
}

/// Every table is reachable in CSV, with a header of keys and units, one
/// row per row, numbers where the cell is a number (to the rounding of
/// its unit), and the same with `;` and a decimal comma.
fn through_csv<T: Exportable>(x: &T) {
    let view = x.view();
    for t in &view.tables {
        let opts = WriteOptions {
            table: Some(t.name.to_string()),
            ..WriteOptions::of(Format::Csv)
        };
        let text = String::from_utf8(bytes(x, &opts)).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let keys: Vec<String> = t.columns.iter().map(csvw::key).collect();
        assert_eq!(header, keys, "{}.{}", T::KIND, t.name);
        let records: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), t.rows.len(), "{}.{}", T::KIND, t.name);
        for (rec, row) in records.iter().zip(&t.rows) {
            for ((field, cell), column) in rec.iter().zip(row).zip(&t.columns) {
                same_cell(field, cell, column.unit, &format!("{}.{}", T::KIND, t.name));
            }
        }
        let european = WriteOptions {
            csv: csvw::Dialect {
                delimiter: b';',
                decimal_comma: true,
            },
            ..opts
        };
        let text = String::from_utf8(bytes(x, &european)).unwrap();
        let mut r = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(text.as_bytes());
        let back: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(back.len(), records.len());
        for (a, b) in back.iter().zip(&records) {
            let a: Vec<String> = a.iter().map(|f| f.replace(',', ".")).collect();
            let b: Vec<String> = b.iter().map(|f| f.replace(',', ".")).collect();
            assert_eq!(a, b, "{}.{}", T::KIND, t.name);
        }
    }
}

/// A CSV field is its cell: text (made safe), a number within half a
/// unit of its rounding, or empty.
fn same_cell(field: &str, cell: &Cell, unit: Unit, what: &str) {
    match cell {
        Cell::Text(s) => assert_eq!(field, csvw::safe_text(s), "{what}"),
        Cell::Empty => assert_eq!(field, "", "{what}"),
        Cell::Num(x) => {
            let y: f64 = field
                .parse()
                .unwrap_or_else(|_| panic!("{what}: `{field}`"));
            let decimals = match unit {
                Unit::Money | Unit::Weeks | Unit::Days => 2,
                Unit::Share => 6,
                Unit::Ratio => 4,
                Unit::Count => 3,
                Unit::Number(d) => i32::from(d),
                Unit::Text => 6,
            };
            let half = 0.5 * 10f64.powi(-decimals) * (1.0 + 1e-9) + x.abs() * 1e-15;
            assert!((x - y).abs() <= half, "{what}: {x} written as {field}");
        }
    }
}

/// The JSON is versioned and valid against `revplan schema <kind>`.
fn through_json<T: Exportable>(x: &T, kind: Kind) -> Value {
    let v: Value = serde_json::from_slice(&bytes(x, &WriteOptions::of(Format::Json))).unwrap();
    assert_eq!(v["schema_version"], revplan::export::json::SCHEMA_VERSION);
    assert_eq!(v["kind"], T::KIND);
    let schema = revplan::schema::of(kind);
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!(
            "{}: not a valid schema: {e} at {}",
            T::KIND,
            e.instance_path()
        );
    }
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .take(10)
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", T::KIND);
    v
}

/// The workbook has a sheet per table, the header of keys, and numbers as
/// numbers (exactly the cell's value) and text as text.
fn through_xlsx<T: Exportable>(x: &T) {
    let view = x.view();
    let data = bytes(x, &WriteOptions::of(Format::Xlsx));
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(data)).unwrap();
    let names = book.sheet_names();
    assert_eq!(names.len(), view.tables.len().max(1), "{}", T::KIND);
    for (t, name) in view.tables.iter().zip(&names) {
        assert!(name.starts_with(&t.name[..t.name.len().min(28)]), "{name}");
        let range = book.worksheet_range(name).unwrap();
        let rows: Vec<&[Data]> = range.rows().collect();
        assert_eq!(rows.len(), t.rows.len() + 1, "{}.{}", T::KIND, t.name);
        for (j, c) in t.columns.iter().enumerate() {
            assert_eq!(rows[0][j], Data::String(csvw::key(c)), "{}", t.name);
        }
        for (r, row) in rows[1..].iter().zip(&t.rows) {
            for (j, cell) in row.iter().enumerate() {
                let got = r.get(j).cloned().unwrap_or(Data::Empty);
                let want = match cell {
                    Cell::Num(v) => Data::Float(*v),
                    Cell::Text(s) => Data::String(s.clone()),
                    Cell::Empty => Data::Empty,
                };
                assert_eq!(got, want, "{}.{} column {j}", T::KIND, t.name);
            }
        }
    }
}

fn every_format<T: Exportable>(x: &T, kind: Kind) -> Value {
    through_text(x);
    through_csv(x);
    through_xlsx(x);
    let json = through_json(x, kind);
    let unknown = WriteOptions {
        table: Some("nope".into()),
        ..WriteOptions::of(Format::Csv)
    };
    match revplan::export::write(x, &unknown) {
        Err(ExportError::NoTable { known, .. }) => assert!(known.contains(x.primary())),
        other => panic!("{}: {other:?}", T::KIND),
    }
    json
}

#[test]
fn every_result_goes_through_every_format() {
    let f = fixtures();
    every_format(&f.forecast, Kind::Forecast);
    every_format(&f.plan, Kind::Plan);
    every_format(&f.compare, Kind::Compare);
    every_format(&f.sweep, Kind::Sweep);
    every_format(&f.goal, Kind::Goal);
    every_format(&f.sensitivity, Kind::Sensitivity);
    every_format(&f.optimize, Kind::Optimize);
    every_format(&f.check, Kind::Check);
    every_format(&f.summary, Kind::BatchSummary);
    let data =
        revplan::actuals::load(&root().join("examples/crm/hubspot/data.toml"), None).unwrap();
    let options = revplan::actuals::report::Options {
        review: 3,
        ..Default::default()
    };
    every_format(
        &revplan::actuals::report::build(&data, &options),
        Kind::Actuals,
    );
}

#[test]
fn a_forecast_csv_reaches_sources_periods_and_monthly_reports() {
    let f = fixtures();
    let view = f.forecast.view();
    let names: Vec<&str> = view.tables.iter().map(|t| t.name).collect();
    for want in [
        "periods",
        "sources",
        "sources_monthly",
        "all_periods",
        "pipeline",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    // The by-source table agrees with the JSON, row by row.
    let json = through_json(&f.forecast, Kind::Forecast);
    let sources = view.table("sources").unwrap();
    let revenue = sources
        .columns
        .iter()
        .position(|c| c.key == "revenue")
        .unwrap();
    for (row, src) in sources
        .rows
        .iter()
        .zip(json["channels"].as_array().unwrap())
    {
        let Cell::Num(x) = row[revenue] else {
            panic!("revenue is a number")
        };
        assert_eq!(Some(x), src["revenue"].as_f64());
    }
}

#[test]
fn a_money_column_has_one_scale_and_counts_have_separators() {
    let mut t = Table::new(
        "t",
        "",
        vec![
            col("name", "name", Unit::Text),
            col("revenue", "revenue", Unit::Money),
            col("leads", "leads", Unit::Count),
        ],
    );
    for (n, r, l) in [
        ("a", 908_000.0, 20301.0),
        ("b", 1_240_000.0, 9.0),
        ("c", 4_864.0, 1_234_567.0),
    ] {
        t.row(vec![n.into(), r.into(), l.into()]);
    }
    let text = revplan::export::text::table(&t, "");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].contains("$908K") && lines[2].contains("$1,240K"),
        "{text}"
    );
    assert!(lines[3].contains("$5K"), "{text}");
    assert!(
        lines[1].contains("20,301") && lines[3].contains("1,234,567"),
        "{text}"
    );
}

#[test]
fn json_and_csv_keep_every_figure_of_the_sweep() {
    let f = fixtures();
    let json = through_json(&f.sweep, Kind::Sweep);
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    let view = f.sweep.view();
    let t = view.table(f.sweep.primary()).unwrap();
    assert_eq!(t.rows.len(), 2);
}

#[test]
fn the_published_output_schemas_are_current() {
    for (kind, name) in [
        (Kind::Forecast, "forecast"),
        (Kind::Plan, "plan"),
        (Kind::Compare, "compare"),
        (Kind::Sweep, "sweep"),
        (Kind::Goal, "goal"),
        (Kind::Sensitivity, "sensitivity"),
        (Kind::Optimize, "optimize"),
        (Kind::Check, "check"),
        (Kind::BatchSummary, "batch-summary"),
        (Kind::Actuals, "actuals"),
        (Kind::Calibration, "calibration"),
        (Kind::Backtest, "backtest"),
        (Kind::Track, "track"),
        (Kind::DataSource, "data-source"),
    ] {
        let path = root().join(format!("schemas/{name}.schema.json"));
        let shipped: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .unwrap();
        assert_eq!(
            shipped,
            revplan::schema::of(kind),
            "{} is stale: revplan schema {name} --out schemas/{name}.schema.json",
            path.display()
        );
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text survives CSV (in both dialects) exactly, except that a
        /// text a spreadsheet would run as a formula gets a leading `'`;
        /// a parsed field never starts a formula.
        #[test]
        fn csv_text_round_trips_and_never_starts_a_formula(
            texts in proptest::collection::vec(any::<String>(), 1..6),
            x in -1e12f64..1e12,
            european in any::<bool>(),
        ) {
            let mut t = Table::new("t", "", vec![
                col("name", "name", Unit::Text),
                col("value", "value", Unit::Money),
            ]);
            for s in &texts {
                t.row(vec![s.clone().into(), x.into()]);
            }
            let dialect = if european {
                csvw::Dialect { delimiter: b';', decimal_comma: true }
            } else {
                csvw::Dialect::default()
            };
            let text = csvw::write(&t, dialect);
            let mut r = csv::ReaderBuilder::new()
                .delimiter(dialect.delimiter)
                .from_reader(text.as_bytes());
            let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
            prop_assert_eq!(rows.len(), texts.len());
            for (row, s) in rows.iter().zip(&texts) {
                let field = &row[0];
                let dangerous = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
                prop_assert!(!field.starts_with(['=', '+', '-', '@', '\t', '\r']));
                if dangerous {
                    prop_assert_eq!(field, format!("'{s}"));
                } else {
                    prop_assert_eq!(field, s.as_str());
                }
                let y: f64 = row[1].replace(',', ".").parse().unwrap();
                prop_assert!((x - y).abs() <= 0.005 + x.abs() * 1e-15);
            }
        }
    }
}

/// What each command shows on a terminal, as a reviewed snapshot: a change
/// in layout or in a figure shows up in review.
#[test]
fn terminal_views_are_as_reviewed() {
    let f = fixtures();
    let text = |x: &dyn Fn(&WriteOptions) -> Vec<u8>| {
        String::from_utf8(x(&WriteOptions::of(Format::Table))).unwrap()
    };
    insta::assert_snapshot!("forecast", text(&|o| bytes(&f.forecast, o)));
    insta::assert_snapshot!("plan", text(&|o| bytes(&f.plan, o)));
    insta::assert_snapshot!("compare", text(&|o| bytes(&f.compare, o)));
    insta::assert_snapshot!("sweep", text(&|o| bytes(&f.sweep, o)));
    insta::assert_snapshot!("goal", text(&|o| bytes(&f.goal, o)));
    insta::assert_snapshot!("sensitivity", text(&|o| bytes(&f.sensitivity, o)));
    insta::assert_snapshot!("optimize", text(&|o| bytes(&f.optimize, o)));
    insta::assert_snapshot!("check", text(&|o| bytes(&f.check, o)));
    insta::assert_snapshot!("batch-summary", text(&|o| bytes(&f.summary, o)));
}

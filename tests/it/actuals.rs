//! Actuals: generated CRM exports with the defects real ones have, read
//! through both presets, checked against the truth they were made from;
//! each kind of bad input refused with file, line, column and value.

use std::path::{Path, PathBuf};

use revplan::actuals::generate::{Generated, Options, generate};
use revplan::actuals::report::{Actuals, By, Options as ReportOptions, build};
use revplan::actuals::source::Preset;
use revplan::actuals::{self, Status};

use crate::support::{revplan, root};

fn write(dir: &Path, g: &Generated) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in &g.files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir.join("data.toml")
}

fn made(preset: Preset, leads: usize, seed: u64) -> (tempfile::TempDir, PathBuf, Generated) {
    let dir = tempfile::tempdir().unwrap();
    let g = generate(&Options {
        preset,
        leads,
        seed,
        ..Options::default()
    });
    let path = write(dir.path(), &g);
    (dir, path, g)
}

fn report(path: &Path, as_of: Option<jiff::civil::Date>) -> Actuals {
    let data = actuals::load(path, as_of).unwrap_or_else(|e| panic!("{}", e.render(false, 120)));
    build(&data, &ReportOptions::default())
}

#[test]
fn the_reports_recover_the_generated_truth_through_either_preset() {
    for preset in [Preset::Salesforce, Preset::Hubspot] {
        let (_dir, path, g) = made(preset, 3000, 11);
        let t = &g.truth;
        let a = report(&path, None);
        let q = &a.quality;
        let leads_file = &q.files[0];
        assert_eq!(leads_file.kept, t.leads, "{preset:?}");
        assert_eq!(leads_file.duplicate_ids, t.duplicate_rows);
        assert_eq!(leads_file.rows, t.leads + t.duplicate_rows);
        let source_column = if preset == Preset::Salesforce {
            "Lead Source"
        } else {
            "Original Source"
        };
        assert_eq!(leads_file.blanks[source_column], t.blank_sources);
        assert_eq!(q.deals_not_joining, t.deals_not_joining);
        assert!(
            q.stale_open_deals >= t.stale,
            "{} < {}",
            q.stale_open_deals,
            t.stale
        );
        assert_eq!(q.as_of, t.as_of.unwrap().to_string());
        let sum = |f: &dyn Fn(&revplan::actuals::report::PeriodRow) -> usize| {
            a.periods.iter().map(f).sum::<usize>()
        };
        assert_eq!(sum(&|p| p.leads), t.leads);
        assert_eq!(sum(&|p| p.mqls), t.mqls);
        assert_eq!(sum(&|p| p.sals), t.sals);
        assert_eq!(sum(&|p| p.rejected), t.rejected);
        assert_eq!(sum(&|p| p.sqls), t.sqls);
        assert_eq!(sum(&|p| p.opportunities), t.deals);
        assert_eq!(sum(&|p| p.wins), t.wins);
        assert_eq!(sum(&|p| p.losses), t.losses);
        let revenue: f64 = a.periods.iter().map(|p| p.revenue).sum();
        assert!(
            (revenue - t.revenue).abs() < 0.01,
            "{revenue} vs {}",
            t.revenue
        );
        assert_eq!(a.pipeline.open, t.open);
        for (name, (leads, wins, revenue)) in &t.sources {
            let s = a
                .sources
                .iter()
                .find(|s| &s.name == name)
                .unwrap_or_else(|| panic!("no {name}"));
            assert_eq!((s.leads, s.wins), (*leads, *wins), "{name}");
            assert!((s.revenue - revenue).abs() < 0.01, "{name}");
        }
        // Spend: the costs file's total, and the model's cost per lead
        // (blank-source leads are costed to their true source, so a little
        // more per lead that is named).
        let spend: f64 = a.periods.iter().filter_map(|p| p.spend).sum();
        let model = revplan::actuals::generate::model();
        let from_sources: f64 = a.sources.iter().filter_map(|s| s.spend).sum();
        assert!(
            (spend - from_sources).abs() < 0.01,
            "{spend} vs {from_sources}"
        );
        for m in model.iter().filter(|m| m.cost_per_lead > 0.0) {
            let s = a.sources.iter().find(|s| s.name == m.name).unwrap();
            let cpl = s.cost_per_lead.unwrap();
            assert!(
                cpl >= m.cost_per_lead - 1e-9 && cpl < m.cost_per_lead * 1.05,
                "{}: {cpl}",
                m.name
            );
        }
        // Renamed values are normalised: no lower-case copy of a source, one
        // product name.
        assert!(a.sources.iter().all(|s| s.name != "paid search"));
        let products: Vec<&str> = a
            .breakdowns
            .iter()
            .filter(|b| b.by == "product")
            .map(|b| b.name.as_str())
            .collect();
        assert_eq!(products, ["GTX Basic", "GTX Pro"]);
    }
}

#[test]
fn both_layouts_of_one_history_give_the_same_reports() {
    // The HubSpot layout stores Berlin midnights as UTC timestamps (23:00
    // the day before), `;` with decimal commas, a BOM and CRLF; read with
    // its time zone it must say what the Salesforce layout says.
    let (_a, sf, _) = made(Preset::Salesforce, 2000, 5);
    let (_b, hs, _) = made(Preset::Hubspot, 2000, 5);
    let (x, y) = (report(&sf, None), report(&hs, None));
    assert_eq!(x.as_of, y.as_of);
    assert_eq!(x.periods, y.periods);
    assert_eq!(x.cohorts, y.cohorts);
    assert_eq!(x.sources, y.sources);
    assert_eq!(x.stages, y.stages);
    assert_eq!(x.sla, y.sla);
    assert_eq!(x.influence, y.influence);
    assert_eq!(
        (x.pipeline.open, x.pipeline.value),
        (y.pipeline.open, y.pipeline.value)
    );
}

#[test]
fn utc_timestamps_without_their_zone_are_flagged_and_shift_by_a_day() {
    let (_b, hs, _) = made(Preset::Hubspot, 500, 5);
    let text = std::fs::read_to_string(&hs)
        .unwrap()
        .replace("time_zone = \"Europe/Berlin\"\n", "");
    std::fs::write(&hs, text).unwrap();
    let a = report(&hs, None);
    assert!(
        a.quality
            .warnings
            .iter()
            .any(|w| w.contains("23:00 UTC") && w.contains("time_zone")),
        "{:?}",
        a.quality.warnings
    );
    let (_a, sf, _) = made(Preset::Salesforce, 500, 5);
    let b = report(&sf, None);
    let day = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
    assert_eq!(day(&b.as_of).since(day(&a.as_of)).unwrap().get_days(), 1);
}

#[test]
fn as_of_hides_what_happened_later() {
    let (_d, path, _) = made(Preset::Salesforce, 3000, 3);
    let full = report(&path, None);
    let cut = jiff::civil::date(2025, 6, 30);
    let early = report(&path, Some(cut));
    assert_eq!(early.as_of, "2025-06-30");
    assert!(
        early
            .periods
            .iter()
            .all(|p| p.start.as_str() <= "2025-06-01")
    );
    for p in &early.periods {
        let f = full.periods.iter().find(|f| f.label == p.label).unwrap();
        // Events dated up to the cut are all there, whatever came later.
        assert_eq!(
            (p.leads, p.opportunities, p.wins, p.losses),
            (f.leads, f.opportunities, f.wins, f.losses),
            "{}",
            p.label
        );
        assert_eq!(p.revenue, f.revenue);
    }
    // Deals that closed after the cut were open at it.
    let data = actuals::load(&path, Some(cut)).unwrap();
    let open_then = data
        .deals
        .iter()
        .filter(|d| d.status == Status::Open)
        .count();
    assert_eq!(early.pipeline.open, open_then);
    assert!(early.pipeline.open > 0);
    assert!(
        data.deals
            .iter()
            .all(|d| d.created <= cut && d.closed.is_none_or(|c| c <= cut))
    );
    // Young cohorts are marked: the last months are still converting.
    assert!(early.cohorts.last().unwrap().young);
    assert!(!full.cohorts.first().unwrap().young);
    // The cohort curves stop at the as-of date and never fall.
    for c in &early.curves {
        let seen: Vec<f64> = c.won.iter().map_while(|x| *x).collect();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{}", c.label);
        assert!(c.won[seen.len()..].iter().all(Option::is_none));
    }
    let last = early.curves.last().unwrap();
    assert_eq!(last.label, "2025-06");
    assert_eq!(last.won.iter().filter(|x| x.is_some()).count(), 1);
}

#[test]
fn censoring_is_explicit_open_items_are_not_failures() {
    let (_d, path, _) = made(Preset::Salesforce, 3000, 9);
    let a = report(&path, Some(jiff::civil::date(2025, 4, 15)));
    // Early in the life of the deals most are open: Kaplan–Meier does not
    // count them as closed, so the median cycle is longer than the median
    // of the few that closed.
    let data = actuals::load(&path, Some(jiff::civil::date(2025, 4, 15))).unwrap();
    let mut closed: Vec<i64> = data
        .deals
        .iter()
        .filter_map(|d| d.closed.map(|c| actuals::days(d.created, c)))
        .filter(|x| *x >= 0)
        .collect();
    closed.sort_unstable();
    let naive = closed[closed.len() / 2] as f64;
    let total_open: usize = a.sources.iter().map(|s| s.open_deals).sum();
    assert!(total_open > closed.len() / 2, "{total_open} open");
    for s in a.sources.iter().filter(|s| s.opportunities > 20) {
        if let Some(p50) = s.cycle_days.p50 {
            assert!(p50 >= naive * 0.8, "{}: {p50} vs naive {naive}", s.name);
        }
    }
}

#[test]
fn the_review_sample_is_reproducible_and_right() {
    let (_d, path, _) = made(Preset::Salesforce, 2000, 4);
    let data = actuals::load(&path, None).unwrap();
    let opts = |seed| ReportOptions {
        by: By::Quarter,
        review: 10,
        seed,
    };
    let a = build(&data, &opts(7));
    assert_eq!(a, build(&data, &opts(7)));
    assert_ne!(a.review, build(&data, &opts(8)).review);
    let rejected: Vec<_> = a.review.iter().filter(|r| r.kind == "rejected").collect();
    let ignored: Vec<_> = a.review.iter().filter(|r| r.kind == "ignored").collect();
    assert_eq!((rejected.len(), ignored.len()), (10, 10));
    for r in &rejected {
        let l = data.leads.iter().find(|l| l.id == r.id).unwrap();
        assert!(l.rejected && r.reason.is_some());
    }
    for r in &ignored {
        assert_eq!(r.touches, 0);
        let l = data.leads.iter().find(|l| l.id == r.id).unwrap();
        assert!(l.stages[0].is_some() && l.stages[1].is_none() && !l.rejected);
    }
    assert!(a.periods.iter().all(|p| p.label.contains("-Q")));
}

fn small(dir: &Path, data: &str, leads: &str) -> PathBuf {
    std::fs::write(dir.join("leads.csv"), leads).unwrap();
    let p = dir.join("data.toml");
    std::fs::write(&p, data).unwrap();
    p
}

const PLAIN: &str = "[leads]\nfile = \"leads.csv\"\nid = \"id\"\ncreated = \"created\"\nsource = \"source\"\nscore = \"score\"\n";

#[test]
fn ambiguous_dates_are_refused_naming_the_column_and_examples() {
    let dir = tempfile::tempdir().unwrap();
    let p = small(
        dir.path(),
        PLAIN,
        "id,created,source,score\n1,01/02/2025,Web,50\n2,03/04/2025,Web,60\n",
    );
    let e = actuals::load(&p, None).unwrap_err().render(false, 200);
    assert!(
        e.contains("leads.csv:1:2") && e.contains("`created`") && e.contains("01/02/2025"),
        "{e}"
    );
    assert!(e.contains("date_format"), "{e}");
    let p = small(
        dir.path(),
        &format!("date_format = \"dmy\"\n{PLAIN}"),
        "id,created,source,score\n1,01/02/2025,Web,50\n2,03/04/2025,Web,60\n",
    );
    let data = actuals::load(&p, None).unwrap();
    assert_eq!(data.leads[0].created.to_string(), "2025-02-01");
}

#[test]
fn every_bad_cell_is_reported_at_once_with_line_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let p = small(
        dir.path(),
        PLAIN,
        "id,created,source,score\n1,2025-01-02,Web,50\n2,soon,Web,sixty\n3,2025-02-30,Web,70\n,2025-01-05,Web,1\n",
    );
    let e = actuals::load(&p, None).unwrap_err();
    let text = e.render(false, 200);
    assert_eq!(e.total, 3, "{text}");
    for needle in [
        "leads.csv:3:2",
        "`soon`",
        "leads.csv:3:4",
        "`sixty`",
        "leads.csv:4:2",
        "`2025-02-30`",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // A missing column names what the header has.
    let p = small(
        dir.path(),
        &PLAIN.replace("\"source\"", "\"Lead Source\""),
        "id,created,source,score\n1,2025-01-02,Web,50\n",
    );
    let text = actuals::load(&p, None).unwrap_err().render(false, 200);
    assert!(
        text.contains("no column `Lead Source`") && text.contains("id, created, source, score"),
        "{text}"
    );
    // Unknown keys in the data-source file are refused with their place.
    let p = small(
        dir.path(),
        &format!("{PLAIN}colour = 1\n"),
        "id,created,source,score\n",
    );
    let text = actuals::load(&p, None).unwrap_err().render(false, 200);
    assert!(
        text.contains("data.toml:7:1") && text.contains("colour"),
        "{text}"
    );
}

#[test]
fn incomplete_rows_are_kept_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let p = small(
        dir.path(),
        PLAIN,
        "id,created,source,score\n1,2025-01-02,,\n2,,Web,3\n,2025-01-03,Web,4\n3,2025-01-04,Web,5\n3,2025-01-04,Web,5\n",
    );
    let data = actuals::load(&p, None).unwrap();
    let f = &data.quality.files[0];
    assert_eq!((f.rows, f.kept, f.unusable, f.duplicate_ids), (5, 2, 2, 1));
    assert_eq!(f.blanks["source"], 1);
    assert_eq!(data.leads[0].source, "(blank)");
}

#[test]
fn a_workbook_reads_like_its_csv() {
    let (dir, path, _) = made(Preset::Salesforce, 400, 2);
    let csv = std::fs::read_to_string(dir.path().join("leads.csv")).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let date_format = rust_xlsxwriter::Format::new().set_num_format("m/d/yyyy");
    for (r, line) in csv::Reader::from_reader(csv.as_bytes())
        .records()
        .enumerate()
    {
        let line = line.unwrap();
        for (c, v) in line.iter().enumerate() {
            let (row, col) = (r as u32 + 1, c as u16);
            let parts: Vec<&str> = v.split('/').collect();
            if parts.len() == 3 {
                let d = rust_xlsxwriter::ExcelDateTime::from_ymd(
                    parts[2].parse().unwrap(),
                    parts[0].parse().unwrap(),
                    parts[1].parse().unwrap(),
                )
                .unwrap();
                ws.write_datetime_with_format(row, col, &d, &date_format)
                    .unwrap();
            } else if let Ok(x) = v.parse::<f64>() {
                ws.write_number(row, col, x).unwrap();
            } else {
                ws.write_string(row, col, v).unwrap();
            }
        }
    }
    let header: Vec<String> = csv::Reader::from_reader(csv.as_bytes())
        .headers()
        .unwrap()
        .iter()
        .map(String::from)
        .collect();
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    wb.save(dir.path().join("leads.xlsx")).unwrap();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("file = \"leads.csv\"", "file = \"leads.xlsx\"");
    let xpath = dir.path().join("data-xlsx.toml");
    std::fs::write(&xpath, text).unwrap();
    let (a, b) = (report(&path, None), report(&xpath, None));
    assert_eq!(a.periods, b.periods);
    assert_eq!(a.sources, b.sources);
}

#[test]
fn the_command_writes_every_format_and_the_json_has_the_promised_keys() {
    let dir = root().join("examples/crm/salesforce/data.toml");
    let out = revplan()
        .args(["actuals", dir.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "actuals");
    for k in [
        "as_of", "quality", "periods", "sources", "stages", "pipeline",
    ] {
        assert!(!v[k].is_null(), "{k}");
    }
    for k in [
        "label",
        "leads",
        "mqls",
        "sals",
        "sqls",
        "opportunities",
        "wins",
        "losses",
        "revenue",
        "acceptance_rate",
    ] {
        assert!(v["periods"][0].get(k).is_some(), "periods.{k}");
    }
    for k in ["name", "leads", "wins", "win_rate", "revenue"] {
        assert!(v["sources"][0].get(k).is_some(), "sources.{k}");
    }
    for k in ["p25", "p50", "p75"] {
        assert!(v["sources"][0]["cycle_days"].get(k).is_some());
    }
    for k in ["mean", "p50"] {
        assert!(v["sources"][0]["deal_size"].get(k).is_some());
    }
    for k in ["stage", "entered", "converted", "days_p50"] {
        assert!(v["stages"][0].get(k).is_some(), "stages.{k}");
    }
    for k in ["open", "value", "stale"] {
        assert!(v["pipeline"].get(k).is_some(), "pipeline.{k}");
    }
    let schema = revplan::schema::of(revplan::schema::Kind::Actuals);
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&v));
    for format in ["table", "csv"] {
        let out = revplan()
            .args(["actuals", dir.to_str().unwrap(), "--format", format])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(!out.stdout.is_empty());
    }
    let out = revplan()
        .args([
            "actuals",
            dir.to_str().unwrap(),
            "--review",
            "5",
            "--format",
            "csv",
            "--table",
            "review",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 11, "{text}");
}

#[test]
fn the_shipped_examples_are_what_the_generator_makes() {
    for (preset, name) in [
        (Preset::Salesforce, "salesforce"),
        (Preset::Hubspot, "hubspot"),
    ] {
        let g = generate(&Options {
            preset,
            leads: 2000,
            seed: 1,
            ..Options::default()
        });
        for (file, bytes) in &g.files {
            let shipped =
                std::fs::read(root().join(format!("examples/crm/{name}/{file}"))).unwrap();
            assert!(
                shipped == *bytes,
                "examples/crm/{name}/{file} is stale: revplan generate-crm examples/crm/{name} --preset {name} --leads 2000"
            );
        }
    }
}

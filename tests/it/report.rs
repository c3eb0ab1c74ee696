//! Charts and the HTML report: valid SVG and PNG of the stated size, the
//! same bytes for the same inputs, names from files escaped everywhere, a
//! page that fetches nothing, and — where Chromium is installed (CI
//! installs it) — the page opened in a real headless browser.

use std::path::{Path, PathBuf};

use revplan::chart::{self, Chart, PNG_SCALE};
use revplan::run::Trials;
use revplan::sim::{EngineKind, RunConfig, simulate};

use crate::support::{revplan, root};

fn forecast(file: &str, trials: u64) -> revplan::sim::Forecast {
    let s = revplan::load::load_scenario(&root().join(file), &[])
        .unwrap()
        .base;
    let opts = RunConfig {
        trials: Trials::Fixed(trials),
        seed: 5,
        max_trials: trials,
        engine: EngineKind::Auto,
        allow_large: false,
    };
    simulate(&s, &opts, &|_| {}).unwrap()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

fn check_chart(c: &Chart) {
    assert!(c.svg.starts_with("<svg"), "{}: {}", c.name, &c.svg[..40]);
    assert!(c.svg.trim_end().ends_with("</svg>"), "{}", c.name);
    assert!(
        c.svg
            .contains(&format!("viewBox=\"0 0 {} {}\"", c.width, c.height)),
        "{}",
        c.name
    );
    let expect = (
        (c.width as f32 * PNG_SCALE).ceil() as u32,
        (c.height as f32 * PNG_SCALE).ceil() as u32,
    );
    assert_eq!(png_size(&c.png), expect, "{}", c.name);
    assert!(c.png.len() > 10_000, "{}: {} bytes", c.name, c.png.len());
    // Text is drawn: titles and axis labels are in the SVG.
    assert!(c.svg.matches("<text").count() > 8, "{}", c.name);
}

#[test]
fn every_chart_is_valid_svg_and_png_and_repeatable() {
    let f = forecast("tests/data/small-scenario.toml", 400);
    let charts = chart::forecast_charts(&f, true).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fan",
            "histogram",
            "waterfall",
            "channel-roi",
            "waterfall-by-channel"
        ]
    );
    for c in &charts {
        check_chart(c);
    }
    assert!(charts[0].svg.contains("Cumulative revenue"));
    assert!(charts[1].svg.contains("P(hit)"));
    // Same forecast, same bytes.
    let again = chart::forecast_charts(&f, true).unwrap();
    for (a, b) in charts.iter().zip(&again) {
        assert_eq!(a.svg, b.svg, "{}", a.name);
        assert_eq!(a.png, b.png, "{}", a.name);
    }
    let s = revplan::load::load_scenario(&root().join("tests/data/small-scenario.toml"), &[])
        .unwrap()
        .base;
    let p = revplan::plan::plan(&s, &revplan::plan::PlanOptions::new()).unwrap();
    for c in chart::plan_charts(&p).unwrap() {
        check_chart(&c);
    }
}

#[test]
fn the_histogram_counts_every_trial_once() {
    let f = forecast("tests/data/small-scenario.toml", 700);
    let bins = &f.revenue_histogram.bins;
    assert_eq!(bins.len(), revplan::sim::HISTOGRAM_BINS);
    assert_eq!(bins.iter().map(|b| b.trials).sum::<u64>(), f.trials);
    assert!(bins.windows(2).all(|w| (w[0].to - w[1].from).abs() < 1e-6));
    // The bins span the middle 99.8% of the outcomes.
    assert!(bins[0].from <= f.revenue.p5 && bins[bins.len() - 1].to >= f.revenue.p95);
}

#[test]
fn names_from_files_are_text_in_charts() {
    let f = forecast("tests/data/hostile-scenario.toml", 300);
    for c in chart::forecast_charts(&f, true).unwrap() {
        assert!(!c.svg.contains("<script"), "{}", c.name);
        assert!(!c.svg.contains("<b>"), "{}", c.name);
        assert!(!c.svg.contains("<img"), "{}", c.name);
    }
    let roi = chart::roi(&f).unwrap();
    assert!(
        roi.svg
            .contains("&lt;script&gt;window.__xss=3&lt;/script&gt;search"),
        "the channel name is shown, escaped"
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("revplan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn charts_flag_writes_the_charts_that_fit() {
    let dir = scratch("charts");
    let small = "tests/data/small-scenario.toml";
    let runs: [&[&str]; 5] = [
        &["plan", small],
        &["simulate", small, "--trials", "200", "--by-channel"],
        &["compare", small, "--trials", "200"],
        &[
            "sweep",
            small,
            "--param",
            "scoring.threshold",
            "--values",
            "50,60,70",
            "--trials",
            "100",
        ],
        &["sensitivity", small, "--trials", "100"],
    ];
    for args in runs {
        revplan()
            .args(args)
            .arg("--charts")
            .arg(&dir)
            .assert()
            .success();
    }
    let mut expected: Vec<String> = [
        "channel-roi",
        "fan",
        "histogram",
        "plan-waterfall",
        "sweep",
        "tornado",
        "variants",
        "waterfall",
        "waterfall-by-channel",
        "weekly-plan",
    ]
    .iter()
    .flat_map(|n| [format!("{n}.png"), format!("{n}.svg")])
    .collect();
    expected.sort();
    assert_eq!(files_in(&dir), expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The tags of a page and the contents of its style sheets: everything but
/// its text, where names from the files appear escaped and may quote markup.
fn markup(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| start + e + 1);
        let tag = &rest[start..end];
        out.push_str(tag);
        out.push(' ');
        rest = &rest[end..];
        if tag.to_ascii_lowercase().starts_with("<style") {
            let close = rest
                .to_ascii_lowercase()
                .find("</style")
                .unwrap_or(rest.len());
            out.push_str(&rest[..close]);
            rest = &rest[close..];
        }
    }
    out
}

/// Every reference the page makes: it must be nothing but its own PNGs.
fn outside_references(html: &str) -> Vec<String> {
    let lower = markup(html).to_ascii_lowercase();
    let mut out = Vec::new();
    for bad in [
        "<script", "<img", "<link", "<iframe", "<object", "<embed", "@import", "url(",
    ] {
        if lower.contains(bad) {
            out.push(bad.to_string());
        }
    }
    for attr in [" src=", " srcset=", " action=", " xlink:href=", " poster="] {
        if lower.contains(attr) {
            out.push(attr.trim().to_string());
        }
    }
    // Links: only to files beside the page.
    for part in lower.split(" href=\"").skip(1) {
        let target = part.split('"').next().unwrap_or_default();
        let local = !target.contains(':') && !target.starts_with("//") && target.ends_with(".png");
        if !local {
            out.push(format!("href={target}"));
        }
    }
    // The only absolute URL allowed is the SVG namespace.
    for scheme in ["http://", "https://"] {
        for (i, _) in lower.match_indices(scheme) {
            if !lower[i..].starts_with("http://www.w3.org/2000/svg") {
                out.push(lower[i..(i + 40).min(lower.len())].to_string());
            }
        }
    }
    out
}

fn make_report(file: &str, dir: &Path, extra: &[&str]) {
    revplan()
        .args(["report", file, "--out"])
        .arg(dir)
        .args(["--trials", "200"])
        .args(extra)
        .assert()
        .success()
        .stdout(predicates::str::contains("index.html"));
}

#[test]
fn the_report_is_self_contained_escaped_and_repeatable() {
    let dir = scratch("report");
    make_report("tests/data/hostile-scenario.toml", &dir, &[]);
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_eq!(outside_references(&html), Vec::<String>::new());
    // Every name from the files is shown as text.
    for escaped in [
        "&lt;script&gt;window.__xss=1&lt;/script&gt; Q&amp;A &quot;plan&quot;",
        "&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;",
        "&lt;svg onload=alert(4)&gt;higher&lt;/svg&gt;",
        "&lt;/table&gt;&lt;script&gt;alert(5)&lt;/script&gt;",
        "&lt;script&gt;window.__xss=3&lt;/script&gt;search",
        "events &amp; &quot;shows&quot; &lt;b&gt;",
        "hostile &lt;i&gt;model&lt;/i&gt;",
    ] {
        assert!(html.contains(escaped), "missing escaped `{escaped}`");
    }
    for section in [
        "The plan: what the target takes",
        "The forecast",
        "By lead source",
        "1. Lead production",
        "2. Sales performance",
        "3. End-to-end return",
        "Variants compared",
        "Which assumptions matter most",
    ] {
        assert!(html.contains(section), "no section `{section}`");
    }
    // Each linked PNG is there, and the charts are inline.
    let files = files_in(&dir);
    for part in html.split(" href=\"").skip(1) {
        let target = part.split('"').next().unwrap();
        assert!(files.iter().any(|f| f == target), "{target} not written");
    }
    assert!(html.matches("<svg").count() >= 9);
    assert!(html.contains("@media print"));
    // Same inputs and seed: the same bytes, whatever the thread count.
    let again = scratch("report-again");
    make_report(
        "tests/data/hostile-scenario.toml",
        &again,
        &["--threads", "1"],
    );
    assert_eq!(
        std::fs::read(again.join("index.html")).unwrap(),
        html.as_bytes()
    );
    assert_eq!(
        std::fs::read(again.join("fan.png")).unwrap(),
        std::fs::read(dir.join("fan.png")).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&again).unwrap();
}

#[test]
fn the_reference_check_catches_what_it_should() {
    assert!(!outside_references("<img src=\"a.png\">").is_empty());
    assert!(!outside_references("<a href=\"https://x.io/a.png\">").is_empty());
    assert!(!outside_references("<style>body{background:url(x.png)}</style>").is_empty());
    assert!(!outside_references("<a href=\"other.html\">").is_empty());
    assert!(
        outside_references("<svg xmlns=\"http://www.w3.org/2000/svg\"></svg><a href=\"fan.png\">")
            .is_empty()
    );
    // Escaped text that quotes markup is not a reference.
    assert!(outside_references("<p>&lt;img src=x&gt; url(x)</p>").is_empty());
}

/// Whether the browser test must run (CI sets it) or may be skipped.
fn browser_required() -> bool {
    std::env::var_os("REVPLAN_BROWSER_TESTS").is_some_and(|v| v == "1")
}

#[test]
fn the_report_opens_cleanly_in_headless_chromium() {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let script = root().join("tests/browser/check-report.mjs");
    let playwright = root().join("tests/browser/node_modules/playwright-core");
    let node = std::process::Command::new("node").arg("--version").output();
    let ready = chromium.exists() && playwright.exists() && node.is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            !browser_required(),
            "REVPLAN_BROWSER_TESTS=1 but Chromium ({}), node or tests/browser/node_modules is missing: \
             run .ci/run, or `apt-get install chromium` and `npm ci` in tests/browser",
            chromium.display()
        );
        eprintln!("skipped: no Chromium/playwright-core here (CI runs it)");
        return;
    }
    let out = root().join("target/browser");
    for (name, file) in [
        ("hostile", "tests/data/hostile-scenario.toml"),
        ("board-plan", "scenarios/board-plan.toml"),
    ] {
        let dir = scratch(&format!("browser-{name}"));
        make_report(file, &dir, &["--no-sensitivity"]);
        let result = std::process::Command::new("node")
            .arg(&script)
            .arg(&dir)
            .arg(out.join(name))
            .env("CHROMIUM", &chromium)
            .output()
            .unwrap();
        assert!(
            result.status.success(),
            "{name}: {}\n{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        );
        assert!(out.join(name).join("report-laptop.png").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// With `--data`, the report adds what actually happened: its tables and
/// charts inline, every name from the exports escaped, nothing fetched.
#[test]
fn the_report_shows_the_actuals_it_is_given() {
    let dir = scratch("report-actuals");
    let data = dir.join("crm");
    let g = revplan::actuals::generate::generate(&revplan::actuals::generate::Options {
        leads: 600,
        ..Default::default()
    });
    std::fs::create_dir_all(&data).unwrap();
    for (name, bytes) in &g.files {
        std::fs::write(data.join(name), bytes).unwrap();
    }
    let toml = std::fs::read_to_string(data.join("data.toml"))
        .unwrap()
        .replace(
            "\"\" = \"Unknown\"",
            "\"\" = \"<script>window.__x=1</script>\"",
        );
    std::fs::write(data.join("data.toml"), toml).unwrap();
    let out = dir.join("out");
    let status = revplan()
        .args([
            "report",
            "scenarios/acme-52w.toml",
            "--no-sensitivity",
            "--trials",
            "256",
            "--data",
        ])
        .arg(data.join("data.toml"))
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<h2>What actually happened</h2>"));
    assert!(
        !html.contains("<script>"),
        "a name from the data was not escaped"
    );
    assert!(html.contains("&lt;script&gt;window.__x=1&lt;/script&gt;"));
    assert_eq!(outside_references(&html), Vec::<String>::new());
    for name in ["cohort-conversion", "acceptance", "stage-velocity"] {
        assert!(out.join(format!("{name}.png")).is_file(), "{name}");
        assert!(html.contains(&format!("href=\"{name}.png\"")), "{name}");
    }
}

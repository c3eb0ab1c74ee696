//! The HTML board report: one self-contained page (inline SVG and CSS, no
//! script, no font or file fetched from anywhere) with the headline, the
//! plan by quarter, the forecast charts, the three reports by lead source,
//! the variants compared and the sensitivity tornado; plus every chart as a
//! PNG file beside it.
//!
//! [`build`] runs what the page needs (plan, forecast, comparison,
//! sensitivity) and draws the charts; [`html`] writes the page. Every name
//! that comes from a file is escaped ([`escape`]); the page carries no date,
//! so the same inputs and seed give the same bytes.

use crate::chart::{self, Chart, ChartError};
use crate::decide::compare::{Candidate, Comparison, compare};
use crate::decide::sensitivity::{Sensitivity, Swings, sensitivity_around};
use crate::decide::{Settings, Z95};
use crate::export::format::{count, money, pct};
use crate::export::{Exportable, Table};
use crate::load::Loaded;
use crate::plan::Plan;
use crate::sim::{Forecast, SimError, simulate};

/// What the report includes beyond the base forecast and plan.
#[derive(Clone, Copy, Debug)]
pub struct ReportOptions {
    /// Run the sensitivity analysis (the slowest part).
    pub sensitivity: bool,
    /// Draw the revenue-cycle waterfall of each channel too.
    pub by_channel: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            sensitivity: true,
            by_channel: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Chart(#[from] ChartError),
}

/// Everything the page shows.
#[derive(Clone, Debug)]
pub struct Report {
    pub scenario: String,
    pub description: Option<String>,
    pub model: String,
    pub horizon_weeks: u32,
    pub start_date: Option<String>,
    /// The plan, or why it could not be made.
    pub plan: Result<Plan, String>,
    pub forecast: Forecast,
    pub comparison: Option<Comparison>,
    pub sensitivity: Option<Sensitivity>,
    /// What actually happened, when the report is given the team's data.
    pub actuals: Option<crate::actuals::report::Actuals>,
    /// The plan against the actuals, with the re-forecast from the as-of
    /// date (when data is given and the plan has started).
    pub track: Option<crate::track::Track>,
    pub charts: Vec<Chart>,
}

/// The steps [`build`] reports to its progress callback.
pub const STEPS: usize = 5;

/// Runs the plan, the forecast, the comparison of the variants and the
/// sensitivity analysis, and draws the charts.
pub fn build(
    loaded: &Loaded,
    settings: &Settings,
    options: ReportOptions,
    progress: &(dyn Fn(usize, &str) + Sync),
) -> Result<Report, ReportError> {
    let s = &loaded.base;
    progress(0, "planning");
    let plan = crate::plan::plan(s, &crate::plan::PlanOptions::new()).map_err(|e| e.to_string());
    progress(1, "forecasting");
    // With variants, the comparison's base run is the forecast (same seed,
    // trials and engine); without, a plain simulation.
    let comparison = if loaded.variants.is_empty() {
        None
    } else {
        let candidates: Vec<Candidate> = loaded
            .variants
            .iter()
            .map(|v| Candidate {
                name: v.name.clone(),
                description: v.description.clone(),
                scenario: v.scenario.clone(),
            })
            .collect();
        Some(compare(s, &candidates, settings, &|_| {})?)
    };
    let forecast = match &comparison {
        Some(c) => c.base_forecast.clone(),
        None => simulate(s, settings, &|_| {})?,
    };
    progress(2, "sensitivity");
    let sens = if options.sensitivity {
        // Around the forecast: the chart's centre is the report's.
        Some(sensitivity_around(
            s,
            Swings {
                relative: 0.1,
                threshold_points: 5.0,
            },
            settings,
            Some(&forecast),
            &|_, _| {},
        )?)
    } else {
        None
    };
    progress(3, "drawing");
    let mut charts = chart::forecast_charts(&forecast, options.by_channel)?;
    if let Ok(p) = &plan {
        charts.extend(chart::plan_charts(p)?);
    }
    if let Some(c) = &comparison {
        charts.extend(chart::variants_charts(c)?);
    }
    if let Some(t) = &sens {
        charts.extend(chart::sensitivity_charts(t)?);
    }
    progress(4, "writing");
    Ok(Report {
        scenario: s.name.clone(),
        description: s.description.clone(),
        model: loaded.model_name.clone(),
        horizon_weeks: s.weeks(),
        start_date: s.calendar.start.map(|d| d.to_string()),
        plan,
        forecast,
        comparison,
        sensitivity: sens,
        actuals: None,
        track: None,
        charts,
    })
}

/// The page and the PNG of every chart: (file name, bytes).
pub fn files(r: &Report) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("index.html".to_string(), html(r).into_bytes())];
    out.extend(
        r.charts
            .iter()
            .map(|c| (format!("{}.png", c.name), c.png.clone())),
    );
    out
}

/// Text made safe for HTML, in element content and in quoted attributes.
pub use crate::export::html::escape;

const STYLE: &str = r#"
:root { --ink: #282830; --muted: #6e6e78; --rule: #e1e1e6; --accent: #1f77b4; --good: #2c9646; --bad: #c81e2d; --card: #f6f7f9; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 64px; }
header h1 { font-size: 30px; line-height: 1.2; margin: 0 0 4px; }
header p { margin: 2px 0; color: var(--muted); }
h2 { font-size: 21px; margin: 40px 0 8px; padding-top: 8px; border-top: 2px solid var(--ink); }
h3 { font-size: 16px; margin: 24px 0 6px; }
p.note, .note { color: var(--muted); font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; margin: 20px 0 8px; }
.card { background: var(--card); border-radius: 8px; padding: 12px 14px; }
.card .k { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 24px; font-weight: 700; line-height: 1.25; }
.card .s { font-size: 12px; color: var(--muted); }
.good { color: var(--good); } .bad { color: var(--bad); }
figure { margin: 16px 0 24px; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 4px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; margin: 8px 0 16px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--rule); text-align: right; white-space: nowrap; vertical-align: top; }
td:first-child { white-space: normal; min-width: 10em; }
td .sub { display: block; font-weight: 400; font-size: 12px; color: var(--muted); }
th { font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--rule); }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: 700; border-top: 2px solid var(--rule); }
td.name { font-weight: 600; }
footer { margin-top: 48px; font-size: 12px; color: var(--muted); }
@media (max-width: 700px) { main { padding: 16px 12px 40px; } .card .v { font-size: 20px; } }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { font-size: 11px; }
  main { max-width: none; padding: 0; }
  h2 { break-before: page; break-after: avoid; }
  header + section h2 { break-before: auto; }
  figure, table, .cards { break-inside: avoid; }
  .scroll { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// The page.
pub fn html(r: &Report) -> String {
    let mut h = String::new();
    let title = format!("{} — revenue plan and forecast", r.scenario);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    h.push_str(&format!("<title>{}</title>\n", escape(&title)));
    h.push_str(&format!(
        "<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
    ));
    header(&mut h, r);
    headline(&mut h, r);
    plan_section(&mut h, r);
    forecast_section(&mut h, r);
    sources_section(&mut h, r);
    variants_section(&mut h, r);
    sensitivity_section(&mut h, r);
    track_section(&mut h, r);
    actuals_section(&mut h, r);
    appendix(&mut h, r);
    let f = &r.forecast;
    h.push_str(&format!(
        "<footer>Made by revplan {} · {} engine, {} trials, seed {} · quantiles: {}. The same files, seed and trials give the same page.</footer>\n",
        env!("CARGO_PKG_VERSION"),
        escape(f.engine),
        f.trials,
        f.seed,
        escape(f.quantiles)
    ));
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn header(h: &mut String, r: &Report) {
    h.push_str("<header>\n");
    h.push_str(&format!("<h1>{}</h1>\n", escape(&r.scenario)));
    if let Some(d) = &r.description {
        h.push_str(&format!("<p>{}</p>\n", escape(d)));
    }
    let from = r
        .start_date
        .as_ref()
        .map_or(String::new(), |d| format!(" from {}", escape(d)));
    h.push_str(&format!(
        "<p>Model “{}” · {} weeks{from} · target {}</p>\n",
        escape(&r.model),
        r.horizon_weeks,
        money(r.forecast.target)
    ));
    h.push_str("</header>\n");
}

fn card(h: &mut String, key: &str, value: &str, sub: &str, class: &str) {
    h.push_str(&format!(
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v {}\">{}</div><div class=\"s\">{}</div></div>\n",
        escape(key),
        class,
        escape(value),
        escape(sub)
    ));
}

fn headline(h: &mut String, r: &Report) {
    let f = &r.forecast;
    h.push_str("<section>\n<div class=\"cards\">\n");
    card(
        h,
        "Target",
        &money(f.target),
        &format!("{} weeks", r.horizon_weeks),
        "",
    );
    let class = if f.p_hit_target >= 0.8 {
        "good"
    } else if f.p_hit_target < 0.5 {
        "bad"
    } else {
        ""
    };
    card(
        h,
        "P(revenue ≥ target)",
        &pct(f.p_hit_target),
        &format!("± {} (1 standard error)", pct(f.p_hit_std_error)),
        class,
    );
    card(
        h,
        "Revenue P50",
        &money(f.revenue.p50),
        &format!(
            "P10 {} · P90 {}",
            money(f.revenue.p10),
            money(f.revenue.p90)
        ),
        "",
    );
    card(
        h,
        "Mean revenue",
        &money(f.revenue.mean),
        &format!("{} from the open pipeline", money(f.revenue_pipeline.mean)),
        "",
    );
    card(
        h,
        "Costs",
        &money(f.spend.mean + f.sales_cost.mean),
        &format!(
            "marketing {} + sales team {}",
            money(f.spend.mean),
            money(f.sales_cost.mean)
        ),
        "",
    );
    card(
        h,
        "Contribution",
        &money(f.contribution.mean),
        "revenue − marketing − sales team",
        "",
    );
    if let Some(a) = f.headline.acceptance_rate {
        card(
            h,
            "Lead acceptance",
            &pct(a),
            "SALs per MQL of the new leads",
            "",
        );
    }
    if let Some(c) = f.headline.cac {
        card(
            h,
            "CAC",
            &money(c),
            &format!(
                "marketing and sales per win; marketing only {}",
                opt_money(f.headline.cac_marketing)
            ),
            "",
        );
    }
    if let Ok(p) = &r.plan {
        card(
            h,
            "Pipeline gap",
            &money(p.pipeline_gap.total),
            "what no new lead can reach in time",
            if p.pipeline_gap.total > 0.05 * p.target {
                "bad"
            } else {
                ""
            },
        );
        card(
            h,
            "Leads the plan needs",
            &count(p.totals.leads),
            &format!("budget {}", money(p.headline.budget)),
            "",
        );
    }
    h.push_str("</div>\n");
    h.push_str(&format!(
        "<p class=\"note\">P(revenue ≥ target) is the share of {} simulated years in which revenue reached the target. \
         P10/P50/P90: 1 in 10, half, 9 in 10 of the simulated outcomes are at or below.</p>\n",
        f.trials
    ));
    h.push_str("</section>\n");
}

fn figure(h: &mut String, r: &Report, name: &str, caption: &str) {
    if let Some(c) = r.charts.iter().find(|c| c.name == name) {
        h.push_str("<figure>\n");
        // The SVG comes from the chart module, which escapes its text.
        h.push_str(&c.svg);
        h.push_str(&format!(
            "<figcaption>{} (<a href=\"{}.png\">PNG</a>)</figcaption>\n</figure>\n",
            escape(caption),
            escape(&c.name)
        ));
    }
}

/// A table of a view, as HTML; `total` marks its last row.
fn table(h: &mut String, t: &Table, total: bool) {
    h.push_str(&crate::export::html::table(t, total));
}

fn plan_section(h: &mut String, r: &Report) {
    h.push_str("<section>\n<h2>The plan: what the target takes</h2>\n");
    let p = match &r.plan {
        Ok(p) => p,
        Err(why) => {
            h.push_str(&format!(
                "<p>The plan could not be made: {}</p>\n</section>\n",
                escape(why)
            ));
            return;
        }
    };
    h.push_str(&format!(
        "<p>Working back from the target through close rates and the whole distribution of every delay: \
         {} leads, {} MQLs, {} opportunities and {} wins, for a budget of {}. The open pipeline brings {}; \
         {} is a <b>pipeline gap</b> that only leads from before the start could have brought.{}</p>\n",
        count(p.totals.leads),
        count(p.totals.mqls),
        count(p.totals.opportunities),
        count(p.totals.wins),
        money(p.headline.budget),
        money(p.revenue_pipeline),
        money(p.pipeline_gap.total),
        p.last_useful_lead_week.map_or(String::new(), |w| format!(
            " A lead arriving after week {w} cannot close inside the horizon."
        ))
    ));
    let view = p.view();
    if let Some(q) = view.table("quarters") {
        table(
            h,
            &q.select(
                "quarters",
                &[
                    "period",
                    "target",
                    "pipeline",
                    "new_leads",
                    "gap",
                    "leads",
                    "mqls",
                    "sals",
                    "sqls",
                    "opportunities",
                    "wins",
                    "spend",
                ],
            ),
            true,
        );
    }
    figure(
        h,
        r,
        "weekly-plan",
        "Leads needed each week by source, opportunities to create, and the weekly target split into open pipeline, new leads and the gap.",
    );
    figure(
        h,
        r,
        "plan-waterfall",
        "The plan's totals at each stage of the revenue cycle.",
    );
    h.push_str("</section>\n");
}

fn forecast_section(h: &mut String, r: &Report) {
    let f = &r.forecast;
    h.push_str("<section>\n<h2>The forecast: how likely, and how wide</h2>\n");
    h.push_str(&format!(
        "<p>{} simulated years, each drawing the uncertain rates once and then every arrival, score, \
         follow-up, delay, slip, win and deal size. Revenue reaches the target {} of the time (95% interval \
         {} to {}).</p>\n",
        f.trials,
        pct(f.p_hit_target),
        pct((f.p_hit_target - Z95 * f.p_hit_std_error).max(0.0)),
        pct((f.p_hit_target + Z95 * f.p_hit_std_error).min(1.0))
    ));
    figure(
        h,
        r,
        "fan",
        "Cumulative revenue: the shaded bands hold 8 in 10 and half of the outcomes; the grey area is the open pipeline's part.",
    );
    if let Some(t) = f.view().table("periods") {
        table(h, t, false);
    }
    figure(
        h,
        r,
        "histogram",
        "Revenue over the horizon across the simulated years; green bars reach the target.",
    );
    figure(
        h,
        r,
        "waterfall",
        "Mean volume at each stage inside the horizon, and the conversion from the stage before.",
    );
    h.push_str("</section>\n");
}

fn opt_money(x: Option<f64>) -> String {
    x.map_or("–".into(), money)
}

fn sources_section(h: &mut String, r: &Report) {
    let f = &r.forecast;
    h.push_str("<section>\n<h2>By lead source</h2>\n");
    h.push_str(
        "<p class=\"note\">Mean per simulated year over the horizon. Sales-sourced leads (outbound, referrals) are sources too.</p>\n",
    );
    figure(
        h,
        r,
        "channel-roi",
        "Spend against the revenue each source's new leads bring inside the horizon.",
    );
    let view = f.view();
    let Some(sources) = view.table("sources") else {
        return;
    };
    h.push_str("<h3>1. Lead production</h3>\n");
    let keys = [
        "source",
        "sourced_by",
        "leads",
        "spend",
        "cost_per_lead",
        "mqls",
        "mql_rate",
    ];
    table(h, &sources.select("production", &keys), false);
    h.push_str("<h3>2. Sales performance against those leads</h3>\n");
    let keys = [
        "source",
        "acceptance_rate",
        "sqls",
        "opportunities",
        "wins",
        "lost",
        "recycled",
        "dropped",
    ];
    table(h, &sources.select("performance", &keys), false);
    h.push_str("<h3>3. End-to-end return</h3>\n");
    h.push_str(
        "<p class=\"note\">What each source's new leads of the horizon brought: inside it, and with what \
         they go on to bring after it. Deals already open at the start are their own line, below.</p>\n",
    );
    let keys = [
        "source",
        "revenue",
        "spend",
        "roi",
        "revenue_eventual",
        "roi_eventual",
        "cac",
    ];
    table(h, &sources.select("return", &keys), false);
    if let Some(t) = view.table("pipeline") {
        table(h, t, true);
    }
    h.push_str("<p class=\"note\">");
    for (i, (term, meaning)) in crate::metrics::DEFINITIONS.iter().enumerate() {
        if i > 0 {
            h.push_str(" · ");
        }
        h.push_str(&format!("<b>{}</b>: {}", escape(term), escape(meaning)));
    }
    h.push_str("</p>\n");
    figure(
        h,
        r,
        "waterfall-by-channel",
        "The revenue cycle of each source, on the same scale.",
    );
    h.push_str("</section>\n");
}

fn variants_section(h: &mut String, r: &Report) {
    let Some(c) = &r.comparison else {
        return;
    };
    h.push_str("<section>\n<h2>Variants compared</h2>\n");
    h.push_str(&format!(
        "<p>Each variant runs the same {} simulated years as the base, on the same random numbers, so \
         differences measure the change, not the noise. Intervals are 95%.</p>\n",
        c.trials
    ));
    figure(
        h,
        r,
        "variants",
        "Revenue over the horizon for each variant: P10–P90 bars, P25–P75 boxes, P50 ticks and mean dots.",
    );
    let view = c.view();
    for name in ["revenue", "costs"] {
        if let Some(t) = view.table(name) {
            table(h, t, false);
        }
    }
    for l in &view.footer {
        h.push_str(&format!("<p class=\"note\">{}</p>\n", escape(l.trim())));
    }
    h.push_str("</section>\n");
}

fn sensitivity_section(h: &mut String, r: &Report) {
    let Some(s) = &r.sensitivity else {
        return;
    };
    h.push_str("<section>\n<h2>Which assumptions matter most</h2>\n");
    h.push_str(&format!(
        "<p>Revenue P50 and P(hit) with one input at a time at its low and its high value — uncertain \
         rates at their P10 and P90, fixed rates, volumes and deal sizes ±{:.0}%, the MQL threshold \
         ±{} points — the rest as planned; {} simulated years each, on the same random numbers.</p>\n",
        100.0 * s.relative_swing,
        s.threshold_points,
        s.trials
    ));
    figure(h, r, "tornado", "Largest swing of revenue P50 on top.");
    if let Some(t) = s.view().table("inputs") {
        table(h, t, false);
    }
    if !s.skipped.is_empty() {
        h.push_str("<p class=\"note\">Not swung: ");
        let items: Vec<String> = s.skipped.iter().map(|x| escape(x)).collect();
        h.push_str(&items.join("; "));
        h.push_str("</p>\n");
    }
    h.push_str("</section>\n");
}

impl Report {
    /// Adds what actually happened: its section and its charts.
    pub fn with_actuals(
        mut self,
        a: crate::actuals::report::Actuals,
    ) -> Result<Report, ReportError> {
        self.charts.extend(chart::actuals_charts(&a)?);
        self.actuals = Some(a);
        Ok(self)
    }
}

impl Report {
    /// Adds the plan against the actuals and the re-forecast from today.
    pub fn with_track(mut self, t: crate::track::Track) -> Report {
        self.track = Some(t);
        self
    }
}

fn track_section(h: &mut String, r: &Report) {
    let Some(t) = &r.track else {
        return;
    };
    let view = t.view();
    h.push_str("<section>\n<h2>The plan against the actuals</h2>\n");
    for line in &view.lines {
        h.push_str(&format!("<p class=\"note\">{}</p>\n", escape(line)));
    }
    for name in ["periods", "stages", "sources"] {
        if let Some(table_view) = view.table(name) {
            h.push_str(&format!("<h3>{}</h3>\n", escape(&table_view.title)));
            table(h, table_view, false);
        }
    }
    h.push_str("</section>\n");
}

fn actuals_section(h: &mut String, r: &Report) {
    let Some(a) = &r.actuals else {
        return;
    };
    let view = a.view();
    h.push_str("<section>\n<h2>What actually happened</h2>\n");
    for line in &view.lines {
        h.push_str(&format!("<p class=\"note\">{}</p>\n", escape(line)));
    }
    for line in &view.footer {
        h.push_str(&format!("<p>{}</p>\n", escape(line)));
    }
    for name in ["periods", "sources", "cohorts", "stages", "quality"] {
        if let Some(t) = view.table(name) {
            h.push_str(&format!(
                "<h3>{}</h3>\n",
                escape(t.title.trim_end_matches(':'))
            ));
            table(h, t, false);
        }
    }
    figure(
        h,
        r,
        "cohort-conversion",
        "Each arrival cohort's conversion as it aged, to the as-of date.",
    );
    figure(
        h,
        r,
        "acceptance",
        "Lead acceptance by month: all sources and the largest.",
    );
    figure(
        h,
        r,
        "stage-velocity",
        "Days from each stage to the next (Kaplan–Meier).",
    );
    h.push_str("</section>\n");
}

fn appendix(h: &mut String, r: &Report) {
    let f = &r.forecast;
    h.push_str("<section>\n<h2>Appendix: monthly reports by lead source</h2>\n");
    h.push_str(
        "<p class=\"note\">Mean per simulated year, by arrival month: the leads of each month and what they \
         did.</p>\n",
    );
    let view = f.view();
    let Some(monthly) = view.table("sources_monthly") else {
        return;
    };
    let keys = [
        "month",
        "leads",
        "spend",
        "cost_per_lead",
        "mqls",
        "acceptance_rate",
        "sqls",
        "opportunities",
        "wins",
        "lost",
        "revenue",
        "revenue_eventual",
        "roi_eventual",
    ];
    for c in &f.channels {
        h.push_str(&format!("<h3>{}</h3>\n", escape(&c.name)));
        table(
            h,
            &monthly
                .rows_where("source", &c.name)
                .select("monthly", &keys),
            false,
        );
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("plain"), "plain");
    }
}

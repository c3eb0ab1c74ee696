//! The forecast as a [`View`]: the headline in sentences, then the target's
//! periods, the reports by lead source, the open pipeline, and (for files
//! and `--reports`) every period and week, the monthly reports by arrival
//! month, the stages and the capacity week by week.

use crate::export::format::{count, money, pct, times};
use crate::export::{Cell, Exportable, Table, Unit, View, col};

use super::{ChannelFigures, Forecast, PeriodStat};

impl Exportable for Forecast {
    const KIND: &'static str = "forecast";

    fn primary(&self) -> &'static str {
        "all_periods"
    }

    fn view(&self) -> View {
        let f = self;
        let from = f
            .start_date
            .as_ref()
            .map_or(String::new(), |d| format!(" from {d}"));
        let mut v = View {
            title: format!(
                "Forecast for \"{}\": {} weeks{from}, {} trials (seed {}, {} engine)",
                f.scenario,
                f.horizon_weeks,
                count(f.trials as f64),
                f.seed,
                f.engine
            ),
            ..View::default()
        };
        if f.auto_trials {
            v.lines
                .push(format!("  trials: stopped because {}", f.stopped));
        }
        v.lines.extend(headline(f));
        v.tables.push(periods(f));
        v.tables.push(sources(f));
        if let Some(t) = pipeline(f) {
            v.tables.push(t);
        }
        v.tables.push(all_periods(f));
        v.tables.push(sources_monthly(f));
        v.tables.push(stages(f));
        if let Some(t) = capacity(f) {
            v.tables.push(t);
        }
        v.footer.extend(capacity_sentence(f));
        v.footer.push(format!("Quantiles: {}.", f.quantiles));
        v.footer
            .extend(f.warnings.iter().map(|w| format!("warning: {w}")));
        v
    }
}

/// The target's unit: dollars, or a count.
fn goal_unit(f: &Forecast) -> Unit {
    if f.metric == "revenue" {
        Unit::Money
    } else {
        Unit::Count
    }
}

fn amount(f: &Forecast, x: f64) -> String {
    if f.metric == "revenue" {
        money(x)
    } else {
        count(x)
    }
}

fn headline(f: &Forecast) -> Vec<String> {
    let mut out = Vec::new();
    let r = &f.revenue;
    let unit = if f.metric == "revenue" {
        String::new()
    } else {
        format!(" {}", f.metric)
    };
    out.push(String::new());
    let controlled = if f.p_hit_variance_removed > 0.0 {
        format!(
            " (controlled for {}, which explain {} of its variance)",
            f.p_hit_controlled_for,
            pct(f.p_hit_variance_removed)
        )
    } else {
        String::new()
    };
    out.push(format!(
        "Target {}{unit}: P({} ≥ target) = {} ± {}{controlled}",
        amount(f, f.target),
        f.metric,
        pct(f.p_hit_target),
        pct(f.p_hit_std_error)
    ));
    if let Some(g) = &f.goal {
        out.push(format!(
            "{}: mean {} · P10 {} · P50 {} · P90 {}",
            f.metric,
            count(g.mean),
            count(g.p10),
            count(g.p50),
            count(g.p90)
        ));
    }
    out.push(format!(
        "Revenue: mean {} ± {} · P5 {} · P10 {} · P50 {} · P90 {} · P95 {}",
        money(r.mean),
        money(r.std_error),
        money(r.p5),
        money(r.p10),
        money(r.p50),
        money(r.p90),
        money(r.p95)
    ));
    out.push(format!(
        "  from new leads {} (with what they bring after the horizon: {}), from the open pipeline {}",
        money(f.revenue_new.mean),
        money(f.revenue_new_eventual.mean),
        money(f.revenue_pipeline.mean),
    ));
    let h = &f.headline;
    out.push(format!(
        "Costs: marketing {} + sales team {}; contribution {} (P10 {}, P90 {})",
        money(f.spend.mean),
        money(f.sales_cost.mean),
        money(f.contribution.mean),
        money(f.contribution.p10),
        money(f.contribution.p90),
    ));
    out.push(format!(
        "New leads: lead acceptance {} · CAC {} (marketing only {}) · ROI {} (eventually {})",
        h.acceptance_rate.map_or("-".into(), pct),
        h.cac.map_or("-".into(), money),
        h.cac_marketing.map_or("-".into(), money),
        h.roi.map_or("-".into(), times),
        h.roi_eventual.map_or("-".into(), times),
    ));
    let s = &f.stages;
    out.push(format!(
        "Stages (mean per trial, inside the horizon): leads {} · MQLs {} · SALs {} · SQLs {} · opportunities {} · wins {}",
        count(s.leads),
        count(s.mqls),
        count(s.sals),
        count(s.sqls),
        count(s.opportunities),
        count(s.wins)
    ));
    out
}

fn periods(f: &Forecast) -> Table {
    let u = goal_unit(f);
    let mut t = Table::new(
        "periods",
        "",
        vec![
            col("period", "period", Unit::Text),
            col("target", "target", u),
            col("mean", "mean", u),
            col("p10", "P10", u),
            col("p50", "P50", u),
            col("p90", "P90", u),
            col("p_hit", "P(hit)", Unit::Share),
            col("pipeline_revenue", "pipeline", Unit::Money),
        ],
    );
    for p in &f.periods {
        t.row(vec![
            p.label.clone().into(),
            p.target.into(),
            p.mean.into(),
            p.p10.into(),
            p.p50.into(),
            p.p90.into(),
            p.p_hit.into(),
            p.pipeline_mean.into(),
        ]);
    }
    t.with_chart("period", &["target", "mean"])
}

/// The horizon, every quarter, month and week, with every quantile.
fn all_periods(f: &Forecast) -> Table {
    let u = goal_unit(f);
    let mut t = Table::new(
        "all_periods",
        "Every period and week",
        vec![
            col("kind", "kind", Unit::Text),
            col("label", "label", Unit::Text),
            col("first_week", "first week", Unit::Number(0)),
            col("last_week", "last week", Unit::Number(0)),
            col("target", "target", u),
            col("mean", "mean", u),
            col("std_error", "± SE", u),
            col("p5", "P5", u),
            col("p10", "P10", u),
            col("p25", "P25", u),
            col("p50", "P50", u),
            col("p75", "P75", u),
            col("p90", "P90", u),
            col("p95", "P95", u),
            col("p_hit", "P(hit)", Unit::Share),
            col("pipeline_revenue", "pipeline", Unit::Money),
        ],
    )
    .detail();
    let goal = f.goal.as_ref().unwrap_or(&f.revenue);
    t.row(vec![
        "horizon".into(),
        "total".into(),
        0u32.into(),
        f.horizon_weeks.saturating_sub(1).into(),
        f.target.into(),
        goal.mean.into(),
        goal.std_error.into(),
        goal.p5.into(),
        goal.p10.into(),
        goal.p25.into(),
        goal.p50.into(),
        goal.p75.into(),
        goal.p90.into(),
        goal.p95.into(),
        f.p_hit_target.into(),
        f.revenue_pipeline.mean.into(),
    ]);
    let period = |kind: &str, p: &PeriodStat| -> Vec<Cell> {
        vec![
            kind.into(),
            p.label.clone().into(),
            p.first_week.into(),
            p.last_week.into(),
            p.target.into(),
            p.mean.into(),
            p.std_error.into(),
            p.p5.into(),
            p.p10.into(),
            p.p25.into(),
            p.p50.into(),
            p.p75.into(),
            p.p90.into(),
            p.p95.into(),
            p.p_hit.into(),
            p.pipeline_mean.into(),
        ]
    };
    for p in &f.quarters {
        t.row(period("quarter", p));
    }
    for p in &f.months {
        t.row(period("month", p));
    }
    for w in &f.weeks {
        t.row(vec![
            "week".into(),
            w.date.clone().unwrap_or_else(|| w.week.to_string()).into(),
            w.week.into(),
            w.week.into(),
            w.target.into(),
            w.mean.into(),
            Cell::Empty,
            w.p5.into(),
            w.p10.into(),
            Cell::Empty,
            w.p50.into(),
            Cell::Empty,
            w.p90.into(),
            w.p95.into(),
            w.p_hit.into(),
            w.pipeline_mean.into(),
        ]);
    }
    t
}

/// The columns of a source's figures, after its name (or month).
fn figure_columns() -> Vec<crate::export::Column> {
    vec![
        col("leads", "leads", Unit::Count),
        col("spend", "spend", Unit::Money),
        col("cost_per_lead", "per lead", Unit::Money),
        col("mqls", "MQLs", Unit::Count),
        col("mql_rate", "MQL rate", Unit::Share),
        col("acceptance_rate", "accepted", Unit::Share),
        col("sqls", "SQLs", Unit::Count),
        col("opportunities", "opps", Unit::Count),
        col("wins", "wins", Unit::Count),
        col("lost", "lost", Unit::Count),
        col("recycled", "recycled", Unit::Count),
        col("dropped", "dropped", Unit::Count),
        col("revenue", "revenue", Unit::Money),
        col("roi", "ROI", Unit::Ratio),
        col("revenue_eventual", "eventually", Unit::Money),
        col("roi_eventual", "ROI", Unit::Ratio),
        col("cac", "CAC", Unit::Money),
    ]
}

fn figure_cells(x: &ChannelFigures) -> Vec<Cell> {
    vec![
        x.leads.into(),
        x.spend.into(),
        x.cost_per_lead.into(),
        x.mqls.into(),
        crate::metrics::conversion(x.mqls, x.leads).into(),
        x.acceptance_rate.into(),
        x.sqls.into(),
        x.opportunities.into(),
        x.wins.into(),
        x.lost.into(),
        x.recycled.into(),
        x.dropped.into(),
        x.revenue.into(),
        x.roi.into(),
        x.revenue_eventual.into(),
        x.roi_eventual.into(),
        x.cac.into(),
    ]
}

fn sources(f: &Forecast) -> Table {
    let mut columns = vec![
        col("source", "source", Unit::Text),
        col("sourced_by", "by", Unit::Text),
    ];
    columns.extend(figure_columns());
    let mut t = Table::new(
        "sources",
        "By lead source: what each source's new leads of the horizon did (mean per trial; the open pipeline \
         apart):",
        columns,
    );
    for c in &f.channels {
        let mut row: Vec<Cell> = vec![c.name.clone().into(), c.source.name().into()];
        row.extend(figure_cells(&c.figures));
        t.row(row);
    }
    t.with_chart("source", &["spend", "revenue"])
}

/// Each source's leads by arrival month: what the leads of a month did.
fn sources_monthly(f: &Forecast) -> Table {
    let mut columns = vec![
        col("source", "source", Unit::Text),
        col("month", "month", Unit::Text),
    ];
    columns.extend(figure_columns());
    let mut t = Table::new(
        "sources_monthly",
        "By lead source and arrival month: the leads of each month and what they did (mean per trial):",
        columns,
    )
    .detail();
    for c in &f.channels {
        for m in &c.months {
            let mut row: Vec<Cell> = vec![c.name.clone().into(), m.label.clone().into()];
            row.extend(figure_cells(&m.figures));
            t.row(row);
        }
    }
    t
}

fn pipeline(f: &Forecast) -> Option<Table> {
    let pl = &f.pipeline.figures;
    if pl.deals + pl.leads <= 0.0 {
        return None;
    }
    let mut t = Table::new(
        "pipeline",
        "Open at the start (by the CRM's forecast category where there is one):",
        vec![
            col("category", "category", Unit::Text),
            col("deals", "deals", Unit::Count),
            col("value", "value", Unit::Money),
            col("leads_in_flight", "leads in flight", Unit::Count),
            col("wins", "wins", Unit::Count),
            col("revenue", "revenue", Unit::Money),
            col("revenue_eventual", "eventually", Unit::Money),
        ],
    );
    for c in &f.pipeline.by_category {
        let x = &c.figures;
        t.row(vec![
            c.category.name().into(),
            x.deals.into(),
            x.value.into(),
            x.leads.into(),
            x.wins.into(),
            x.revenue.into(),
            x.revenue_eventual.into(),
        ]);
    }
    t.row(vec![
        "all".into(),
        pl.deals.into(),
        pl.value.into(),
        pl.leads.into(),
        pl.wins.into(),
        pl.revenue.into(),
        pl.revenue_eventual.into(),
    ]);
    Some(t)
}

fn stages(f: &Forecast) -> Table {
    let mut t = Table::new(
        "stages",
        "First entries into each stage inside the horizon (mean per trial):",
        vec![
            col("stage", "stage", Unit::Text),
            col("mean", "mean", Unit::Count),
            col("std_error", "± SE", Unit::Count),
        ],
    )
    .detail();
    for s in &f.stages.by_stage {
        t.row(vec![
            s.stage.clone().into(),
            s.mean.into(),
            s.std_error.into(),
        ]);
    }
    t
}

fn capacity(f: &Forecast) -> Option<Table> {
    let cap = f.capacity.as_ref()?;
    let mut t = Table::new(
        "capacity",
        "Sales follow-up week by week:",
        vec![
            col("week", "week", Unit::Number(0)),
            col("touches_needed", "touches asked", Unit::Count),
            col("touches_available", "touches the team has", Unit::Count),
            col("p_over", "P(over)", Unit::Share),
        ],
    )
    .detail();
    for w in cap {
        t.row(vec![
            w.week.into(),
            w.mean_touches_needed.into(),
            w.touches_available.into(),
            w.p_over.into(),
        ]);
    }
    Some(t)
}

fn capacity_sentence(f: &Forecast) -> Option<String> {
    let cap = f
        .capacity
        .as_ref()
        .filter(|c| c.iter().any(|w| w.touches_available.is_finite()))?;
    let tight: Vec<&super::CapacityWeek> = cap.iter().filter(|w| w.p_over > 0.5).collect();
    let worst = cap.iter().map(|w| w.p_over).fold(0.0, f64::max);
    Some(if tight.is_empty() {
        format!(
            "Capacity: the SLA fits in most trials (worst week: over capacity in {} of trials)",
            pct(worst)
        )
    } else {
        format!(
            "Capacity: over in more than half the trials in {} week(s), from week {}; follow-up thins and \
             acceptance falls there",
            tight.len(),
            tight[0].week
        )
    })
}

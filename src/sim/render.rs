//! The forecast as a terminal summary, CSV (one row per period and week) or
//! JSON.

use crate::output::{Format, TextTable, count, csv_text, money, num, pct};

use super::{ChannelFigures, Forecast, PeriodStat};

/// Renders a forecast; `reports` adds the monthly reports by lead source to
/// the terminal view.
pub fn render(f: &Forecast, format: Format, reports: bool) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(f).expect("serializable");
            s.push('\n');
            s
        }
        Format::Csv => csv(f),
        Format::Table => table(f, reports),
    }
}

fn pm(p: f64, se: f64) -> String {
    format!("{} ± {}", pct(p), pct(se))
}

fn opt_money(x: Option<f64>) -> String {
    x.map_or("-".into(), money)
}

fn table(f: &Forecast, reports: bool) -> String {
    let mut out = String::new();
    let from = f
        .start_date
        .as_ref()
        .map_or(String::new(), |d| format!(" from {d}"));
    out.push_str(&format!(
        "Forecast for \"{}\": {} weeks{from}, {} trials (seed {}, {} engine)\n",
        f.scenario, f.horizon_weeks, f.trials, f.seed, f.engine
    ));
    if f.auto_trials {
        out.push_str(&format!("  trials: stopped because {}\n", f.stopped));
    }
    let r = &f.revenue;
    let unit: fn(f64) -> String = if f.metric == "revenue" { money } else { count };
    out.push_str(&format!(
        "\nTarget {}{}: P({} ≥ target) = {}\n",
        unit(f.target),
        if f.metric == "revenue" {
            String::new()
        } else {
            format!(" {}", f.metric)
        },
        f.metric,
        pm(f.p_hit_target, f.p_hit_std_error)
    ));
    if let Some(g) = &f.goal {
        out.push_str(&format!(
            "{}: mean {} · P10 {} · P50 {} · P90 {}\n",
            f.metric,
            count(g.mean),
            count(g.p10),
            count(g.p50),
            count(g.p90)
        ));
    }
    out.push_str(&format!(
        "Revenue: mean {} ± {} · P5 {} · P10 {} · P50 {} · P90 {} · P95 {}\n",
        money(r.mean),
        money(r.std_error),
        money(r.p5),
        money(r.p10),
        money(r.p50),
        money(r.p90),
        money(r.p95)
    ));
    out.push_str(&format!(
        "  from new leads {} (with what they bring after the horizon: {}), from the open pipeline {}\n",
        money(f.revenue_new.mean),
        money(f.revenue_new_eventual.mean),
        money(f.revenue_pipeline.mean),
    ));
    let h = &f.headline;
    out.push_str(&format!(
        "Costs: marketing {} + sales team {}; contribution {} (P10 {}, P90 {})\n",
        money(f.spend.mean),
        money(f.sales_cost.mean),
        money(f.contribution.mean),
        money(f.contribution.p10),
        money(f.contribution.p90),
    ));
    out.push_str(&format!(
        "New leads: lead acceptance {} · CAC {} (marketing only {}) · ROI {} (eventually {})\n",
        h.acceptance_rate.map_or("-".into(), pct),
        opt_money(h.cac),
        opt_money(h.cac_marketing),
        times(h.roi),
        times(h.roi_eventual),
    ));
    out.push('\n');
    out.push_str(&periods(&f.periods, unit));
    let s = &f.stages;
    out.push_str(&format!(
        "\nStages (mean per trial, inside the horizon): leads {} · MQLs {} · SALs {} · SQLs {} · opportunities {} · wins {}\n",
        count(s.leads),
        count(s.mqls),
        count(s.sals),
        count(s.sqls),
        count(s.opportunities),
        count(s.wins)
    ));
    out.push_str(
        "\nBy lead source: what each source's new leads of the horizon did (mean per trial; the open pipeline \
         apart):\n",
    );
    let mut t = TextTable::new([
        "channel",
        "source",
        "leads",
        "spend",
        "per lead",
        "MQLs",
        "accepted",
        "SQLs",
        "opps",
        "wins",
        "revenue",
        "ROI",
        "eventually",
        "ROI",
        "CAC",
    ]);
    t.right[1] = false;
    for c in &f.channels {
        let x = &c.figures;
        t.row(vec![
            c.name.clone(),
            format!("{:?}", c.source).to_lowercase(),
            count(x.leads),
            money(x.spend),
            opt_money(x.cost_per_lead),
            count(x.mqls),
            x.acceptance_rate.map_or("-".into(), pct),
            count(x.sqls),
            count(x.opportunities),
            count(x.wins),
            money(x.revenue),
            times(x.roi),
            money(x.revenue_eventual),
            times(x.roi_eventual),
            opt_money(x.cac),
        ]);
    }
    out.push_str(&t.render("  "));
    let pl = &f.pipeline.figures;
    if pl.deals + pl.leads > 0.0 {
        out.push_str(&format!(
            "  open pipeline: {} deals worth {}{} → {} wins, {} inside the horizon ({} eventually)\n",
            count(pl.deals),
            money(pl.value),
            if pl.leads > 0.0 {
                format!(" and {} leads in flight", count(pl.leads))
            } else {
                String::new()
            },
            count(pl.wins),
            money(pl.revenue),
            money(pl.revenue_eventual),
        ));
        for c in &f.pipeline.by_category {
            out.push_str(&format!(
                "    {}: {} deals worth {} → {} inside the horizon\n",
                c.category.name(),
                count(c.figures.deals),
                money(c.figures.value),
                money(c.figures.revenue)
            ));
        }
    }
    if reports {
        for c in &f.channels {
            out.push_str(&format!(
                "\n{} — monthly reports by arrival month: the leads of each month and what they did (mean per trial):\n",
                c.name
            ));
            let mut t = TextTable::new([
                "month",
                "leads",
                "spend",
                "per lead",
                "MQLs",
                "accepted",
                "SQLs",
                "opps",
                "won",
                "lost",
                "recycled",
                "dropped",
                "revenue",
                "eventually",
                "ROI",
            ]);
            for m in &c.months {
                let x: &ChannelFigures = &m.figures;
                t.row(vec![
                    m.label.clone(),
                    count(x.leads),
                    money(x.spend),
                    opt_money(x.cost_per_lead),
                    count(x.mqls),
                    x.acceptance_rate.map_or("-".into(), pct),
                    count(x.sqls),
                    count(x.opportunities),
                    count(x.wins),
                    count(x.lost),
                    count(x.recycled),
                    count(x.dropped),
                    money(x.revenue),
                    money(x.revenue_eventual),
                    times(x.roi_eventual),
                ]);
            }
            out.push_str(&t.render("  "));
        }
    }
    if let Some(cap) = f
        .capacity
        .as_ref()
        .filter(|c| c.iter().any(|w| w.touches_available.is_finite()))
    {
        let tight: Vec<&super::CapacityWeek> = cap.iter().filter(|w| w.p_over > 0.5).collect();
        let worst = cap.iter().map(|w| w.p_over).fold(0.0, f64::max);
        if tight.is_empty() {
            out.push_str(&format!(
                "\nCapacity: the SLA fits in most trials (worst week: over capacity in {} of trials)\n",
                pct(worst)
            ));
        } else {
            out.push_str(&format!(
                "\nCapacity: over in more than half the trials in {} week(s), from week {}; follow-up thins and \
                 acceptance falls there\n",
                tight.len(),
                tight[0].week
            ));
        }
    }
    out.push_str(&format!("\nQuantiles: {}.\n", f.quantiles));
    for w in &f.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

fn times(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.1}×"))
}

fn periods(ps: &[PeriodStat], unit: fn(f64) -> String) -> String {
    let mut t = TextTable::new([
        "period", "target", "mean", "P10", "P50", "P90", "P(hit)", "pipeline",
    ]);
    for p in ps {
        t.row(vec![
            p.label.clone(),
            unit(p.target),
            unit(p.mean),
            unit(p.p10),
            unit(p.p50),
            unit(p.p90),
            pct(p.p_hit),
            money(p.pipeline_mean),
        ]);
    }
    t.render("  ")
}

fn csv(f: &Forecast) -> String {
    let header: Vec<String> = [
        "kind",
        "label",
        "first_week",
        "last_week",
        "target",
        "mean",
        "std_error",
        "p5",
        "p10",
        "p25",
        "p50",
        "p75",
        "p90",
        "p95",
        "p_hit",
        "pipeline_mean",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    let r = &f.revenue;
    rows.push(vec![
        "horizon".into(),
        "total".into(),
        "0".into(),
        f.horizon_weeks.saturating_sub(1).to_string(),
        num(f.target, 2),
        num(r.mean, 2),
        num(r.std_error, 2),
        num(r.p5, 2),
        num(r.p10, 2),
        num(r.p25, 2),
        num(r.p50, 2),
        num(r.p75, 2),
        num(r.p90, 2),
        num(r.p95, 2),
        num(f.p_hit_target, 6),
        num(f.revenue_pipeline.mean, 2),
    ]);
    for (kind, ps) in [("quarter", &f.quarters), ("month", &f.months)] {
        for p in ps.iter() {
            rows.push(vec![
                kind.into(),
                p.label.clone(),
                p.first_week.to_string(),
                p.last_week.to_string(),
                num(p.target, 2),
                num(p.mean, 2),
                num(p.std_error, 2),
                num(p.p5, 2),
                num(p.p10, 2),
                num(p.p25, 2),
                num(p.p50, 2),
                num(p.p75, 2),
                num(p.p90, 2),
                num(p.p95, 2),
                num(p.p_hit, 6),
                num(p.pipeline_mean, 2),
            ]);
        }
    }
    for w in &f.weeks {
        rows.push(vec![
            "week".into(),
            w.date.clone().unwrap_or_else(|| format!("W{}", w.week)),
            w.week.to_string(),
            w.week.to_string(),
            num(w.target, 2),
            num(w.mean, 2),
            String::new(),
            num(w.p5, 2),
            num(w.p10, 2),
            String::new(),
            num(w.p50, 2),
            String::new(),
            num(w.p90, 2),
            num(w.p95, 2),
            num(w.p_hit, 6),
            num(w.pipeline_mean, 2),
        ]);
    }
    csv_text(&header, &rows)
}

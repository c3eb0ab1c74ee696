//! The plan as a terminal table, CSV (one row per week) or JSON.

use crate::output::{Format, TextTable, csv_text, money, num, pct};

use super::{PeriodRow, Plan, Volumes};

/// Renders a plan; `weekly` adds the week-by-week table to the terminal view.
pub fn render(p: &Plan, format: Format, weekly: bool) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(p).expect("serializable");
            s.push('\n');
            s
        }
        Format::Csv => csv(p),
        Format::Table => table(p, weekly),
    }
}

fn count(x: f64) -> String {
    if x.abs() >= 100.0 {
        num(x, 0)
    } else {
        num(x, 1)
    }
}

fn volume_cells(v: &Volumes) -> Vec<String> {
    vec![
        count(v.leads),
        count(v.mqls),
        count(v.sals),
        count(v.sqls),
        count(v.opportunities),
        count(v.wins),
        money(v.spend),
    ]
}

const VOLUME_HEADERS: [&str; 7] = ["leads", "MQLs", "SALs", "SQLs", "opps", "wins", "spend"];

/// Formats an amount in the target's unit: dollars, or a count.
fn unit(p: &Plan) -> fn(f64) -> String {
    if p.metric == "revenue" { money } else { count }
}

fn period_table(p: &Plan, rows: &[PeriodRow], total: Option<&PeriodRow>) -> String {
    let u = unit(p);
    let mut headers = vec!["period", "target", "pipeline", "new leads", "gap", "short"];
    headers.extend(VOLUME_HEADERS);
    let mut t = TextTable::new(headers);
    for r in rows.iter().chain(total) {
        let mut cells = vec![
            r.label.clone(),
            u(r.target),
            u(r.revenue_pipeline),
            u(r.revenue_new),
            u(r.gap),
            u(r.shortfall),
        ];
        cells.extend(volume_cells(&r.volumes));
        t.row(cells);
    }
    t.render("  ")
}

fn table(p: &Plan, weekly: bool) -> String {
    let mut out = String::new();
    let from = p
        .start_date
        .as_ref()
        .map_or(String::new(), |d| format!(" from {d}"));
    let u = unit(p);
    out.push_str(&format!(
        "Plan for \"{}\": target {}{} in {} weeks{from}\n\n",
        p.scenario,
        u(p.target),
        if p.metric == "revenue" {
            String::new()
        } else {
            format!(" {}", p.metric)
        },
        p.horizon_weeks
    ));
    out.push_str(&story(p));
    let total = PeriodRow {
        label: "total".into(),
        first_week: 0,
        last_week: p.horizon_weeks.saturating_sub(1),
        target: p.weeks.iter().map(|w| w.target).sum(),
        revenue: p.revenue,
        revenue_pipeline: p.revenue_pipeline,
        revenue_new: p.revenue_new,
        gap: p.pipeline_gap.total,
        shortfall: p.weeks.iter().map(|w| w.shortfall).sum(),
        volumes: p.totals.clone(),
    };
    out.push_str(&period_table(p, &p.quarters, Some(&total)));
    out.push_str(&format!(
        "  (target{} = expected {} from the open pipeline + from new leads + the gap; short = what the schedule misses)\n",
        if (p.aim - 1.0).abs() > 1e-9 {
            format!(" (the plan's aim: {:.2}× the target)", p.aim)
        } else {
            String::new()
        },
        p.metric
    ));
    if weekly {
        out.push('\n');
        let mut headers = vec!["week", "date", "target", "pipeline", "new leads", "gap"];
        headers.extend(VOLUME_HEADERS);
        headers.push("reps needed");
        let mut t = TextTable::new(headers);
        t.right[1] = false;
        for w in &p.weeks {
            let mut cells = vec![
                w.week.to_string(),
                w.date.clone().unwrap_or_else(|| w.quarter.clone()),
                u(w.target),
                u(w.revenue_pipeline),
                u(w.revenue_new),
                u(w.gap),
            ];
            cells.extend(volume_cells(&w.volumes));
            cells.push(match (w.reps_needed, w.over_capacity) {
                (Some(r), true) => format!("{r:.1} (over)"),
                (Some(r), false) => format!("{r:.1}"),
                (None, _) => "-".into(),
            });
            t.row(cells);
        }
        out.push_str(&t.render("  "));
    }

    let h = &p.headline;
    let opt = |x: Option<f64>, f: fn(f64) -> String| x.map_or("-".to_string(), f);
    out.push_str(&format!(
        "\nHeadline: budget {} · sales team {} · cost per lead {} · cost per opportunity {} · CAC {} \
         (marketing only {}) · pipeline coverage {} · lead acceptance {}\n",
        money(h.budget),
        money(h.sales_cost),
        opt(h.cost_per_lead, money),
        opt(h.cost_per_opportunity, money),
        opt(h.cac, money),
        opt(h.cac_marketing, money),
        opt(h.pipeline_coverage, |c| format!("{c:.1}×")),
        opt(h.lead_acceptance_rate, pct),
    ));
    let (mk, sl) = (&h.marketing_sourced, &h.sales_sourced);
    let share = |a: f64, b: f64| {
        if a + b > 0.0 {
            pct(a / (a + b))
        } else {
            "-".into()
        }
    };
    out.push_str(&format!(
        "  marketing-sourced: {} of leads, {} of new wins, {} of spend; sales-sourced: {} of leads, {} of new wins\n",
        share(mk.leads, sl.leads),
        share(mk.wins, sl.wins),
        share(mk.spend, sl.spend),
        share(sl.leads, mk.leads),
        share(sl.wins, mk.wins),
    ));

    out.push_str("\nChannels:\n");
    let mut t = TextTable::new([
        "channel", "source", "plan", "leads", "spend", "per lead", "MQLs", "opps", "wins",
        "revenue",
    ]);
    t.right[1] = false;
    t.right[2] = false;
    for c in &p.channels {
        t.row(vec![
            c.name.clone(),
            format!("{:?}", c.source).to_lowercase(),
            c.share
                .map_or("held".into(), |s| format!("{} share", pct(s))),
            count(c.leads),
            money(c.spend),
            c.cost_per_lead.map_or("-".into(), money),
            count(c.mqls),
            count(c.opportunities),
            count(c.wins),
            money(c.revenue),
        ]);
    }
    out.push_str(&t.render("  "));

    let g = &p.pipeline_gap;
    out.push_str(&format!("\nPipeline gap: {}", u(g.total)));
    if g.total > 0.0 {
        let parts: Vec<String> = g
            .periods
            .iter()
            .filter(|x| x.amount > 0.5)
            .map(|x| format!("{} {}", x.label, u(x.amount)))
            .collect();
        out.push_str(&format!(" ({})", parts.join(", ")));
        if let Some(w) = g.closed_by_week {
            out.push_str(&format!(
                "; from week {w} new leads and the pipeline carry 95%+ of each week"
            ));
        }
        out.push('\n');
        let pre = &g.pre_horizon;
        out.push_str(&format!(
            "  it is what leads from before the start would bring: {} leads over weeks {}..-1, \
             giving {} opportunities and {} wins inside the horizon\n",
            count(pre.leads),
            pre.from_week,
            count(pre.inside.opportunities),
            count(pre.inside.wins)
        ));
    } else {
        out.push('\n');
    }
    match p.last_useful_lead_week {
        Some(w) => {
            let date = p.weeks.get(w as usize).and_then(|x| x.date.clone());
            out.push_str(&format!(
                "Last useful lead week: {w}{}: a lead arriving later cannot close inside the horizon\n",
                date.map_or(String::new(), |d| format!(" ({d})"))
            ));
        }
        None => {
            out.push_str("Last useful lead week: none — no new lead can close inside the horizon\n")
        }
    }
    if let Some(c) = &p.capacity {
        if c.weeks_over.is_empty() {
            out.push_str(&format!(
                "Capacity: the SLA fits every week (at most {:.1} reps' worth of touches needed)\n",
                c.max_reps_needed
            ));
        } else {
            out.push_str(&format!(
                "Capacity: over in {} week(s), from week {}; up to {:.1} reps needed\n",
                c.weeks_over.len(),
                c.weeks_over[0],
                c.max_reps_needed
            ));
        }
    }
    out.push_str(&format!(
                        "Fit: revenue + gap meets the target to within {} a week outside the gap ({} in the {} gap weeks) and {} a {} \
         (responses span {} weeks)\n",
        pct(p.fit.max_weekly_error_outside_gap),
        pct(p.fit.max_weekly_error),
        p.fit.gap_weeks,
                pct(p.fit.max_period_error),
        match p.period {
            crate::calendar::PeriodKind::Quarter => "quarter",
            crate::calendar::PeriodKind::Month => "month",
        },
        p.fit.response_weeks
    ));
    for w in &p.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The plan as an ask, in a few sentences: what it costs, what it is built
/// to bring and why that is not the target, how likely it is to reach the
/// target as simulated, and what a coarser schedule costs.
fn story(p: &Plan) -> String {
    let u = unit(p);
    let h = &p.headline;
    let mut out = String::new();
    let sized = p.sizing.as_ref().filter(|z| z.reached);
    let what = match sized {
        Some(z) => format!(
            "The ask, sized for P({} ≥ {}) ≥ {}",
            p.metric,
            u(p.target),
            pct(z.confidence)
        ),
        None => "The ask".to_string(),
    };
    let levels = match p.granularity {
        super::Granularity::Week => "week by week",
        super::Granularity::Month => "a level a month",
        super::Granularity::Quarter => "a level a quarter",
    };
    out.push_str(&format!(
        "{what}: a marketing budget of {} for {} leads ({levels}{}), and a sales team costing {}.\n",
        money(h.budget),
        count(p.totals.leads),
        p.last_lead_week
            .map_or(String::new(), |w| format!(", the last bought in week {w}")),
        money(h.sales_cost),
    ));
    let aimed = (p.aim - 1.0).abs() > 1e-9;
    out.push_str(&format!(
        "  It {} to bring {} in expectation: the open pipeline {} and new leads {}",
        if aimed {
            format!(
                "aims at {:.2}× the target ({}) and is built",
                p.aim,
                u(p.aim * p.target)
            )
        } else {
            "is built".to_string()
        },
        u(p.revenue),
        u(p.revenue_pipeline),
        u(p.revenue_new),
    ));
    if p.pipeline_gap.total > 0.005 * p.target {
        out.push_str(&format!(
            "; the rest of the {}, the pipeline gap of {}, only leads from before the start could have \
             brought\n",
            if aimed { "aim" } else { "target" },
            u(p.pipeline_gap.total)
        ));
    } else {
        out.push_str(".\n");
    }
    if let Some(sim) = &p.simulated {
        out.push_str(&format!(
            "  Simulated ({} trials, seed {}): revenue mean {} (P10 {}, P90 {}); P({} ≥ {}) = {} ± {}.\n",
            num(sim.trials as f64, 0),
            sim.seed,
            money(sim.mean),
            money(sim.p10),
            money(sim.p90),
            p.metric,
            u(p.target),
            pct(sim.p_hit),
            pct(sim.p_hit_std_error),
        ));
    }
    match &p.sizing {
        Some(z) if !z.reached => out.push_str(&format!(
            "  No plan aiming up to {:.1}× the target reaches {}: the pipeline gap, sales capacity and the channels' \
             ceilings limit it.\n",
            z.aim,
            pct(z.confidence)
        )),
        None if p.simulated.as_ref().is_some_and(|s| s.p_hit < 0.5) => out.push_str(
            "  To size the plan for a confidence level: revplan plan SCENARIO --confidence 0.8\n",
        ),
        _ => {}
    }
    if let Some(c) = &p.granularity_cost {
        out.push_str(&format!(
            "  {} levels cost {} against the weekly inverse ({} budget, {} leads) and miss a week by up to {} \
             (weekly: {}); weeks swing by up to {} (weekly: {}).\n",
            match c.granularity {
                super::Granularity::Month => "Monthly",
                super::Granularity::Quarter => "Quarterly",
                super::Granularity::Week => "Weekly",
            },
            signed_money(c.budget - c.budget_exact),
            money(c.budget_exact),
            count(c.leads_exact),
            pct(c.max_weekly_error),
            pct(c.max_weekly_error_exact),
            pct(c.max_week_to_week_change),
            pct(c.max_week_to_week_change_exact),
        ));
    }
    out.push('\n');
    out
}

fn signed_money(x: f64) -> String {
    if x >= 0.0 {
        format!("+{}", money(x))
    } else {
        format!("−{}", money(-x))
    }
}

fn csv(p: &Plan) -> String {
    let names: Vec<String> = p.channels.iter().map(|c| c.name.clone()).collect();
    let mut header: Vec<String> = [
        "week",
        "date",
        "quarter",
        "month",
        "target",
        "revenue",
        "revenue_pipeline",
        "revenue_new",
        "gap",
        "shortfall",
        "leads",
        "mqls",
        "sals",
        "sqls",
        "opportunities",
        "wins",
        "spend",
    ]
    .map(String::from)
    .to_vec();
    header.extend(names.iter().map(|n| format!("leads_{n}")));
    header.extend(names.iter().map(|n| format!("spend_{n}")));
    header.extend(
        [
            "touches_needed",
            "touches_available",
            "reps",
            "reps_needed",
            "over_capacity",
        ]
        .map(String::from),
    );
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| num(v, 4));
    let rows: Vec<Vec<String>> = p
        .weeks
        .iter()
        .map(|w| {
            let v = &w.volumes;
            let mut r = vec![
                w.week.to_string(),
                w.date.clone().unwrap_or_default(),
                w.quarter.clone(),
                w.month.clone(),
                num(w.target, 2),
                num(w.revenue, 2),
                num(w.revenue_pipeline, 2),
                num(w.revenue_new, 2),
                num(w.gap, 2),
                num(w.shortfall, 2),
                num(v.leads, 4),
                num(v.mqls, 4),
                num(v.sals, 4),
                num(v.sqls, 4),
                num(v.opportunities, 4),
                num(v.wins, 4),
                num(v.spend, 2),
            ];
            r.extend(names.iter().map(|n| num(w.leads_by_channel[n], 4)));
            r.extend(names.iter().map(|n| num(w.spend_by_channel[n], 2)));
            r.extend([
                opt(w.touches_needed),
                opt(w.touches_available),
                opt(w.reps),
                opt(w.reps_needed),
                w.over_capacity.to_string(),
            ]);
            r
        })
        .collect();
    csv_text(&header, &rows)
}

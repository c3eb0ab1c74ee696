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

fn period_table(rows: &[PeriodRow], total: Option<&PeriodRow>) -> String {
    let mut headers = vec!["period", "target", "pipeline", "new leads", "gap", "short"];
    headers.extend(VOLUME_HEADERS);
    let mut t = TextTable::new(headers);
    for r in rows.iter().chain(total) {
        let mut cells = vec![
            r.label.clone(),
            money(r.target),
            money(r.revenue_pipeline),
            money(r.revenue_new),
            money(r.gap),
            money(r.shortfall),
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
    out.push_str(&format!(
        "Plan for \"{}\": target {} in {} weeks{from}\n\n",
        p.scenario,
        money(p.target),
        p.horizon_weeks
    ));
    let total = PeriodRow {
        label: "total".into(),
        first_week: 0,
        last_week: p.horizon_weeks.saturating_sub(1),
        target: p.target,
        revenue: p.revenue,
        revenue_pipeline: p.revenue_pipeline,
        revenue_new: p.revenue_new,
        gap: p.pipeline_gap.total,
        shortfall: p.weeks.iter().map(|w| w.shortfall).sum(),
        volumes: p.totals.clone(),
    };
    out.push_str(&period_table(&p.quarters, Some(&total)));
    out.push_str(
        "  (target = expected revenue from the open pipeline + from new leads + the gap; \
         short = what the schedule misses)\n",
    );
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
                money(w.target),
                money(w.revenue_pipeline),
                money(w.revenue_new),
                money(w.gap),
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
        "\nHeadline: budget {} · cost per lead {} · cost per opportunity {} · CAC {} · pipeline coverage {} · \
         lead acceptance {}\n",
        money(h.budget),
        opt(h.cost_per_lead, money),
        opt(h.cost_per_opportunity, money),
        opt(h.cac, money),
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
    out.push_str(&format!("\nPipeline gap: {}", money(g.total)));
    if g.total > 0.0 {
        let parts: Vec<String> = g
            .periods
            .iter()
            .filter(|x| x.amount > 0.5)
            .map(|x| format!("{} {}", x.label, money(x.amount)))
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

//! The plan as a [`View`]: the ask in a few sentences, the quarters, the
//! channels, what the pipeline gap is, and (for files and `--weekly`)
//! every week with each channel's leads and spend.

use crate::export::format::{count, money, pct};
use crate::export::{Cell, Column, Exportable, Table, Unit, View, col};

use super::{PeriodRow, Plan, Volumes};

impl Exportable for Plan {
    const KIND: &'static str = "plan";

    fn primary(&self) -> &'static str {
        "weeks"
    }

    fn view(&self) -> View {
        let p = self;
        let u = unit(p);
        let from = p
            .start_date
            .as_ref()
            .map_or(String::new(), |d| format!(" from {d}"));
        let mut v = View {
            title: format!(
                "Plan for \"{}\": target {}{} in {} weeks{from}",
                p.scenario,
                u(p.target),
                if p.metric == "revenue" {
                    String::new()
                } else {
                    format!(" {}", p.metric)
                },
                p.horizon_weeks
            ),
            ..View::default()
        };
        v.lines.push(String::new());
        v.lines.extend(story(p).lines().map(String::from));
        v.lines.extend(headline(p));
        v.tables.push(periods(p, "quarters", &p.quarters, true));
        v.tables.push(channels(p));
        v.tables.push(weeks(p));
        v.tables
            .push(periods(p, "months", &p.months, false).detail());
        v.footer.extend(gap(p));
        v
    }
}

/// Formats an amount in the target's unit: dollars, or a count.
fn unit(p: &Plan) -> fn(f64) -> String {
    if p.metric == "revenue" { money } else { count }
}

fn goal_unit(p: &Plan) -> Unit {
    if p.metric == "revenue" {
        Unit::Money
    } else {
        Unit::Count
    }
}

fn volume_columns() -> Vec<Column> {
    vec![
        col("leads", "leads", Unit::Count),
        col("mqls", "MQLs", Unit::Count),
        col("sals", "SALs", Unit::Count),
        col("sqls", "SQLs", Unit::Count),
        col("opportunities", "opps", Unit::Count),
        col("wins", "wins", Unit::Count),
        col("spend", "spend", Unit::Money),
    ]
}

fn volume_cells(v: &Volumes) -> Vec<Cell> {
    vec![
        v.leads.into(),
        v.mqls.into(),
        v.sals.into(),
        v.sqls.into(),
        v.opportunities.into(),
        v.wins.into(),
        v.spend.into(),
    ]
}

fn periods(p: &Plan, name: &'static str, rows: &[PeriodRow], total: bool) -> Table {
    let u = goal_unit(p);
    let mut columns = vec![
        col("period", "period", Unit::Text),
        col("target", "target", u),
        col("pipeline", "pipeline", u),
        col("new_leads", "new leads", u),
        col("gap", "gap", u),
        col("shortfall", "short", u),
    ];
    columns.extend(volume_columns());
    let mut t = Table::new(name, "", columns);
    let mut add = |r: &PeriodRow| {
        let mut cells: Vec<Cell> = vec![
            r.label.clone().into(),
            r.target.into(),
            r.revenue_pipeline.into(),
            r.revenue_new.into(),
            r.gap.into(),
            r.shortfall.into(),
        ];
        cells.extend(volume_cells(&r.volumes));
        t.row(cells);
    };
    for r in rows {
        add(r);
    }
    if total {
        add(&PeriodRow {
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
        });
        t.notes.push(format!(
            "(target{} = expected {} from the open pipeline + from new leads + the gap; short = what the \
             schedule misses)",
            if (p.aim - 1.0).abs() > 1e-9 {
                format!(" (the plan's aim: {:.2}× the target)", p.aim)
            } else {
                String::new()
            },
            p.metric
        ));
    }
    t.with_chart("period", &["pipeline", "new_leads", "gap"])
}

fn weeks(p: &Plan) -> Table {
    let u = goal_unit(p);
    let names: Vec<&str> = p.channels.iter().map(|c| c.name.as_str()).collect();
    let mut columns = vec![
        col("week", "week", Unit::Number(0)),
        col("date", "date", Unit::Text),
        col("quarter", "quarter", Unit::Text),
        col("month", "month", Unit::Text),
        col("target", "target", u),
        col("revenue", "expected", u),
        col("revenue_pipeline", "pipeline", u),
        col("revenue_new", "new leads", u),
        col("gap", "gap", u),
        col("shortfall", "short", u),
    ];
    columns.extend(volume_columns());
    for n in &names {
        columns.push(col(
            &format!("leads_{n}"),
            &format!("{n} leads"),
            Unit::Count,
        ));
    }
    for n in &names {
        columns.push(col(
            &format!("spend_{n}"),
            &format!("{n} spend"),
            Unit::Money,
        ));
    }
    columns.extend([
        col("touches_needed", "touches asked", Unit::Count),
        col("touches_available", "touches the team has", Unit::Count),
        col("reps", "reps", Unit::Number(2)),
        col("reps_needed", "reps needed", Unit::Number(2)),
        col("over_capacity", "over", Unit::Text),
    ]);
    let mut t = Table::new("weeks", "Week by week:", columns).detail();
    for w in &p.weeks {
        let mut cells: Vec<Cell> = vec![
            w.week.into(),
            w.date.clone().map_or(Cell::Empty, Cell::from),
            w.quarter.clone().into(),
            w.month.clone().into(),
            w.target.into(),
            w.revenue.into(),
            w.revenue_pipeline.into(),
            w.revenue_new.into(),
            w.gap.into(),
            w.shortfall.into(),
        ];
        cells.extend(volume_cells(&w.volumes));
        cells.extend(
            names
                .iter()
                .map(|n| Cell::from(w.leads_by_channel.get(*n).copied())),
        );
        cells.extend(
            names
                .iter()
                .map(|n| Cell::from(w.spend_by_channel.get(*n).copied())),
        );
        cells.extend([
            w.touches_needed.into(),
            w.touches_available.filter(|x| x.is_finite()).into(),
            w.reps.filter(|x| x.is_finite()).into(),
            w.reps_needed.into(),
            if w.touches_needed.is_some() {
                Cell::from(if w.over_capacity { "yes" } else { "no" })
            } else {
                Cell::Empty
            },
        ]);
        t.row(cells);
    }
    t
}

fn channels(p: &Plan) -> Table {
    let u = goal_unit(p);
    let mut t = Table::new(
        "channels",
        "Channels:",
        vec![
            col("channel", "channel", Unit::Text),
            col("source", "source", Unit::Text),
            col("share", "plan share", Unit::Share),
            col("leads", "leads", Unit::Count),
            col("spend", "spend", Unit::Money),
            col("cost_per_lead", "per lead", Unit::Money),
            col("mqls", "MQLs", Unit::Count),
            col("opportunities", "opps", Unit::Count),
            col("wins", "wins", Unit::Count),
            col("revenue", "revenue", u),
        ],
    );
    for c in &p.channels {
        t.row(vec![
            c.name.clone().into(),
            c.source.name().into(),
            c.share.into(),
            c.leads.into(),
            c.spend.into(),
            c.cost_per_lead.into(),
            c.mqls.into(),
            c.opportunities.into(),
            c.wins.into(),
            c.revenue.into(),
        ]);
    }
    if p.channels.iter().any(|c| c.share.is_none()) {
        t.notes.push(
            "(no plan share: held at its own volume, as sales-sourced channels are by default)"
                .into(),
        );
    }
    t
}

fn headline(p: &Plan) -> Vec<String> {
    let h = &p.headline;
    let opt = |x: Option<f64>, f: fn(f64) -> String| x.map_or("-".to_string(), f);
    let (mk, sl) = (&h.marketing_sourced, &h.sales_sourced);
    let share = |a: f64, b: f64| {
        if a + b > 0.0 {
            pct(a / (a + b))
        } else {
            "-".into()
        }
    };
    vec![
        format!(
            "Headline: budget {} · sales team {} · cost per lead {} · cost per opportunity {} · CAC {} \
             (marketing only {}) · pipeline coverage {} · lead acceptance {}",
            money(h.budget),
            money(h.sales_cost),
            opt(h.cost_per_lead, money),
            opt(h.cost_per_opportunity, money),
            opt(h.cac, money),
            opt(h.cac_marketing, money),
            opt(h.pipeline_coverage, |c| format!("{c:.1}×")),
            opt(h.lead_acceptance_rate, pct),
        ),
        format!(
            "  marketing-sourced: {} of leads, {} of new wins, {} of spend; sales-sourced: {} of leads, {} of new wins",
            share(mk.leads, sl.leads),
            share(mk.wins, sl.wins),
            share(mk.spend, sl.spend),
            share(sl.leads, mk.leads),
            share(sl.wins, mk.wins),
        ),
    ]
}

/// The gap, the last useful week, capacity, the fit and the warnings.
fn gap(p: &Plan) -> Vec<String> {
    let u = unit(p);
    let mut out = Vec::new();
    let g = &p.pipeline_gap;
    let mut line = format!("Pipeline gap: {}", u(g.total));
    if g.total > 0.0 {
        let parts: Vec<String> = g
            .periods
            .iter()
            .filter(|x| x.amount > 0.5)
            .map(|x| format!("{} {}", x.label, u(x.amount)))
            .collect();
        line.push_str(&format!(" ({})", parts.join(", ")));
        if let Some(w) = g.closed_by_week {
            line.push_str(&format!(
                "; from week {w} new leads and the pipeline carry 95%+ of each week"
            ));
        }
        out.push(line);
        let pre = &g.pre_horizon;
        out.push(format!(
            "  it is what leads from before the start would bring: {} leads over weeks {}..-1, giving {} \
             opportunities and {} wins inside the horizon",
            count(pre.leads),
            pre.from_week,
            count(pre.inside.opportunities),
            count(pre.inside.wins)
        ));
    } else {
        out.push(line);
    }
    out.push(match p.last_useful_lead_week {
        Some(w) => {
            let date = p.weeks.get(w as usize).and_then(|x| x.date.clone());
            format!(
                "Last useful lead week: {w}{}: a lead arriving later cannot close inside the horizon",
                date.map_or(String::new(), |d| format!(" ({d})"))
            )
        }
        None => "Last useful lead week: none — no new lead can close inside the horizon".into(),
    });
    if let Some(c) = &p.capacity {
        out.push(if c.weeks_over.is_empty() {
            format!(
                "Capacity: the SLA fits every week (at most {:.1} reps' worth of touches needed)",
                c.max_reps_needed
            )
        } else {
            format!(
                "Capacity: over in {} week(s), from week {}; up to {:.1} reps needed",
                c.weeks_over.len(),
                c.weeks_over[0],
                c.max_reps_needed
            )
        });
    }
    out.push(format!(
        "Fit: expected {} + gap meets the target to within {} a week outside the gap ({} in the {} gap weeks) and \
         {} a {} (responses span {} weeks)",
        p.metric,
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
    out.extend(p.warnings.iter().map(|w| format!("warning: {w}")));
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
            count(sim.trials as f64),
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
            "  {} levels: {} than the weekly inverse ({} budget, {} leads); they miss a week's target by up \
             to {} (weekly: {}), and the lead volume changes by up to {} from one week to the next (weekly: {}).\n",
            match c.granularity {
                super::Granularity::Month => "Monthly",
                super::Granularity::Quarter => "Quarterly",
                super::Granularity::Week => "Weekly",
            },
            cheaper(c.budget - c.budget_exact),
            money(c.budget_exact),
            count(c.leads_exact),
            pct(c.max_weekly_error),
            pct(c.max_weekly_error_exact),
            pct(c.max_week_to_week_change),
            pct(c.max_week_to_week_change_exact),
        ));
    }
    out
}

fn cheaper(x: f64) -> String {
    if x > 0.0 {
        format!("{} more", money(x))
    } else {
        format!("{} less", money(-x))
    }
}

//! Charts of a plan: what each week needs — leads by channel, opportunities
//! to create, and where the weekly target's revenue comes from (the open
//! pipeline, new leads, the gap) — and the plan's revenue-cycle waterfall.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::forecast::{Waterfall, plan_stages};
use super::{
    Chart, ChartError, Drawn, Figure, PIPELINE, TARGET, WIDTH, colour, count_tick, font, heading,
    legend, mesh, money_tick, panel, render, top,
};
use crate::export::format::{count, money};
use crate::plan::Plan;

/// Every plan chart.
pub fn plan_charts(p: &Plan) -> Result<Vec<Chart>, ChartError> {
    Ok(vec![weekly_plan(p)?, plan_waterfall(p)?])
}

struct Weekly<'a>(&'a Plan);

/// Leads needed each week stacked by channel, opportunities to create, and
/// the weekly target split into open pipeline, new leads and the gap.
pub fn weekly_plan(p: &Plan) -> Result<Chart, ChartError> {
    render(&Weekly(p), "weekly-plan", "The weekly plan", (WIDTH, 900))
}

/// Vertical bars stacked from 0, one stack per week: (layer, corners).
fn stacked(weeks: usize, layers: &[(String, RGBColor, Vec<f64>)]) -> Vec<(usize, [(f64, f64); 2])> {
    let mut out = Vec::new();
    for w in 0..weeks {
        let mut base = 0.0;
        for (k, (_, _, v)) in layers.iter().enumerate() {
            let h = v.get(w).copied().unwrap_or(0.0).max(0.0);
            if h > 0.0 {
                let x = w as f64;
                out.push((k, [(x + 0.08, base), (x + 0.92, base + h)]));
                base += h;
            }
        }
    }
    out
}

/// Draws stacked layers with a legend entry each.
fn draw_stacked<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    weeks: usize,
    layers: &[(String, RGBColor, Vec<f64>)],
) -> Drawn {
    let bars = stacked(weeks, layers);
    for (k, (name, c, _)) in layers.iter().enumerate() {
        let fill = c.mix(0.85);
        chart
            .draw_series(
                bars.iter()
                    .filter(|(i, _)| *i == k)
                    .map(|(_, r)| Rectangle::new(*r, fill.filled())),
            )?
            .label(name.clone())
            .legend(super::swatch(fill));
    }
    Ok(())
}

impl Figure for Weekly<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let p = self.0;
        let area = heading(
            root,
            "What each week needs",
            &format!(
                "{} · target {} · {} leads, {} opportunities, budget {} · pipeline gap {}",
                p.scenario,
                money(p.target),
                count(p.totals.leads),
                count(p.totals.opportunities),
                money(p.headline.budget),
                money(p.pipeline_gap.total)
            ),
        )?;
        let weeks = p.weeks.len().max(1);
        let x_range = 0.0..weeks as f64;
        let panels = area.split_by_breakpoints([] as [i32; 0], [300, 520]);
        let week_labels = |x: &f64| format!("{x:.0}");

        // Leads by channel.
        let names: Vec<String> = p.channels.iter().map(|c| c.name.clone()).collect();
        let layers: Vec<(String, RGBColor, Vec<f64>)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let v = p
                    .weeks
                    .iter()
                    .map(|w| w.leads_by_channel.get(n).copied().unwrap_or(0.0))
                    .collect();
                (n.clone(), colour(i), v)
            })
            .collect();
        // Headroom for the legend of up to ten sources.
        let y_max = top(p.weeks.iter().map(|w| w.volumes.leads), 0.8);
        let mut chart = panel(&panels[0], "leads needed, by lead source", 28, 70)
            .build_cartesian_2d(x_range.clone(), 0.0..y_max)?;
        mesh(&mut chart, 12.0)
            .x_label_formatter(&week_labels)
            .y_label_formatter(&|y| count_tick(*y))
            .draw()?;
        draw_stacked(&mut chart, weeks, &layers)?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;

        // Opportunities to create.
        let y_max = top(p.weeks.iter().map(|w| w.volumes.opportunities), 0.15);
        let mut chart = panel(&panels[1], "opportunities to create", 28, 70)
            .build_cartesian_2d(x_range.clone(), 0.0..y_max)?;
        mesh(&mut chart, 12.0)
            .x_label_formatter(&week_labels)
            .y_label_formatter(&|y| count_tick(*y))
            .draw()?;
        let opp = colour(4);
        chart.draw_series(p.weeks.iter().enumerate().map(|(w, x)| {
            let w = w as f64;
            Rectangle::new(
                [
                    (w + 0.08, 0.0),
                    (w + 0.92, x.volumes.opportunities.max(0.0)),
                ],
                opp.mix(0.8).filled(),
            )
        }))?;

        // Where the weekly target comes from.
        let layers = vec![
            (
                "open pipeline".to_string(),
                PIPELINE,
                p.weeks.iter().map(|w| w.revenue_pipeline).collect(),
            ),
            (
                "new leads".to_string(),
                colour(0),
                p.weeks.iter().map(|w| w.revenue_new).collect(),
            ),
            (
                "pipeline gap (no new lead can reach it)".to_string(),
                TARGET,
                p.weeks.iter().map(|w| w.gap).collect(),
            ),
        ];
        let y_max = top(
            p.weeks
                .iter()
                .map(|w| (w.revenue_pipeline + w.revenue_new + w.gap.max(0.0)).max(w.target)),
            0.25,
        );
        let mut chart = panel(
            &panels[2],
            "the weekly revenue target and where it comes from",
            44,
            70,
        )
        .build_cartesian_2d(x_range, 0.0..y_max)?;
        mesh(&mut chart, 12.0)
            .axis_desc_style(font(13.0))
            .x_desc("week of the horizon")
            .x_label_formatter(&week_labels)
            .y_label_formatter(&|y| money_tick(*y))
            .draw()?;
        draw_stacked(&mut chart, weeks, &layers)?;
        chart
            .draw_series(LineSeries::new(
                p.weeks
                    .iter()
                    .enumerate()
                    .flat_map(|(w, x)| [(w as f64, x.target), ((w + 1) as f64, x.target)]),
                TARGET.stroke_width(2),
            ))?
            .label("weekly target")
            .legend(super::stroke(TARGET.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

/// The plan's totals as a revenue-cycle waterfall.
pub fn plan_waterfall(p: &Plan) -> Result<Chart, ChartError> {
    let w = Waterfall {
        title: "The plan's revenue cycle: volume needed at each stage".into(),
        subtitle: format!(
            "{} · totals over the horizon, log scale · under each: conversion from the stage before",
            p.scenario
        ),
        panels: vec![(None, plan_stages(&p.totals))],
        columns: 1,
    };
    render(
        &w,
        "plan-waterfall",
        "The plan's revenue cycle",
        (WIDTH, super::HEIGHT),
    )
}

//! Charts of a forecast: the cumulative-revenue fan, the histogram of
//! horizon revenue, the revenue-cycle waterfall (overall and by channel) and
//! spend against revenue by channel.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    BLUE, Chart, ChartError, DrawError, Drawn, Figure, GOOD, GRID, HEIGHT, INK, MUTED, PIPELINE,
    TARGET, WIDTH, bold, colour, count_tick, font, heading, label, legend, mesh, money_tick, muted,
    pct_tick, render, stroke, swatch, top,
};
use crate::export::format::{count, money, pct, thousands};
use crate::sim::Forecast;

/// Every forecast chart; the waterfall of each channel too when asked.
pub fn forecast_charts(f: &Forecast, by_channel: bool) -> Result<Vec<Chart>, ChartError> {
    let mut out = vec![fan(f)?, histogram(f)?, waterfall(f)?, roi(f)?];
    if by_channel {
        out.push(waterfall_by_channel(f)?);
    }
    Ok(out)
}

fn subtitle(f: &Forecast) -> String {
    format!(
        "{} · {} trials, seed {} · P(revenue ≥ {}) = {} ± {}",
        f.scenario,
        thousands(f.trials),
        f.seed,
        money(f.target),
        pct(f.p_hit_target),
        pct(f.p_hit_std_error)
    )
}

// ---- Fan -----------------------------------------------------------------

struct Fan<'a>(&'a Forecast);

/// Cumulative revenue by week: P10–P90 and P25–P75 bands, the P50 line,
/// the cumulative target, and the open pipeline's part apart.
pub fn fan(f: &Forecast) -> Result<Chart, ChartError> {
    render(&Fan(f), "fan", "Cumulative revenue", (WIDTH, HEIGHT))
}

impl Figure for Fan<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let f = self.0;
        let area = heading(
            root,
            "Cumulative revenue: the range of outcomes",
            &subtitle(f),
        )?;
        let weeks = f.weeks.len();
        let series = |g: &dyn Fn(&crate::sim::WeekStat) -> f64| -> Vec<(f64, f64)> {
            std::iter::once((0.0, 0.0))
                .chain(
                    f.weeks
                        .iter()
                        .enumerate()
                        .map(|(i, w)| ((i + 1) as f64, g(w))),
                )
                .collect()
        };
        let p10 = series(&|w| w.cumulative_p10);
        let p25 = series(&|w| w.cumulative_p25);
        let p50 = series(&|w| w.cumulative_p50);
        let p75 = series(&|w| w.cumulative_p75);
        let p90 = series(&|w| w.cumulative_p90);
        let target = series(&|w| w.cumulative_target);
        let pipeline = series(&|w| w.cumulative_pipeline_mean);
        let y_max = top(p90.iter().chain(&target).map(|p| p.1), 0.1);
        let x_max = weeks.max(1) as f64;
        let mut chart = ChartBuilder::on(&area)
            .margin(18)
            .margin_top(8)
            .margin_right(104)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        mesh(&mut chart, 13.0)
            .disable_x_mesh()
            .axis_desc_style(font(14.0))
            .x_desc("week of the horizon")
            .y_desc("revenue since the start")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| money_tick(*y))
            .draw()?;
        // Quarter boundaries and names along the top.
        for (i, q) in f.quarters.iter().enumerate() {
            let x0 = f64::from(q.first_week);
            if i > 0 {
                chart.draw_series(LineSeries::new(
                    vec![(x0, 0.0), (x0, y_max)],
                    GRID.stroke_width(1),
                ))?;
            }
            let mid = 0.5 * (x0 + f64::from(q.last_week) + 1.0);
            chart.draw_series(std::iter::once(Text::new(
                q.label.clone(),
                (mid, y_max * 0.985),
                muted(13.0).pos(plotters::style::text_anchor::Pos::new(
                    HPos::Center,
                    VPos::Top,
                )),
            )))?;
        }
        let band = |lo: &[(f64, f64)], hi: &[(f64, f64)]| -> Vec<(f64, f64)> {
            hi.iter().copied().chain(lo.iter().rev().copied()).collect()
        };
        let outer = BLUE.mix(0.14);
        let inner = BLUE.mix(0.30);
        chart
            .draw_series(std::iter::once(Polygon::new(
                band(&p10, &p90),
                outer.filled(),
            )))?
            .label("P10–P90 (8 in 10 outcomes)")
            .legend(swatch(outer));
        chart
            .draw_series(std::iter::once(Polygon::new(
                band(&p25, &p75),
                inner.filled(),
            )))?
            .label("P25–P75 (half of outcomes)")
            .legend(swatch(inner));
        chart
            .draw_series(
                AreaSeries::new(pipeline.clone(), 0.0, PIPELINE.mix(0.35)).border_style(PIPELINE),
            )?
            .label("from the open pipeline (mean)")
            .legend(swatch(PIPELINE.mix(0.35)));
        chart
            .draw_series(LineSeries::new(p50.clone(), BLUE.stroke_width(3)))?
            .label("P50 (median)")
            .legend(stroke(BLUE.stroke_width(3)));
        chart
            .draw_series(DashedLineSeries::new(
                target.clone(),
                10,
                6,
                TARGET.stroke_width(2),
            ))?
            .label("target")
            .legend(stroke(TARGET.stroke_width(2)));
        // End values right of the last week, at least a line of text apart.
        if let (Some(m), Some(t)) = (p50.last(), target.last()) {
            let (px, py) = chart.backend_coord(&(x_max, m.1));
            let (_, ty) = chart.backend_coord(&(x_max, t.1));
            let (py, ty) = if (py - ty).abs() >= 18 {
                (py, ty)
            } else if py <= ty {
                let mid = (py + ty) / 2;
                (mid - 9, mid + 9)
            } else {
                let mid = (py + ty) / 2;
                (mid + 9, mid - 9)
            };
            let p50_text = format!("P50 {}", money(m.1));
            let target_text = format!("target {}", money(t.1));
            label(
                root,
                &p50_text,
                (px + 6, py),
                bold(12.0),
                HPos::Left,
                VPos::Center,
            )?;
            let red = bold(12.0).color(&TARGET);
            label(
                root,
                &target_text,
                (px + 6, ty),
                red,
                HPos::Left,
                VPos::Center,
            )?;
        }
        // Below the quarter names.
        legend(&mut chart, SeriesLabelPosition::Coordinate(12, 30))
    }
}

// ---- Histogram -------------------------------------------------------------

struct Histo<'a>(&'a Forecast);

/// Horizon revenue across trials, the target and P(hit) on it.
pub fn histogram(f: &Forecast) -> Result<Chart, ChartError> {
    render(
        &Histo(f),
        "histogram",
        "Revenue over the horizon",
        (WIDTH, HEIGHT),
    )
}

impl Figure for Histo<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let f = self.0;
        let area = heading(
            root,
            "Revenue over the horizon, across trials",
            &subtitle(f),
        )?;
        let bins = &f.revenue_histogram.bins;
        let n = f.trials.max(1) as f64;
        let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
            return Err(DrawError("no trials to draw".into()));
        };
        let lo = first.from.min(f.target);
        let hi = last.to.max(f.target);
        let pad = 0.03 * (hi - lo).max(1.0);
        let y_max = top(bins.iter().map(|b| b.trials as f64 / n), 0.25);
        let mut chart = ChartBuilder::on(&area)
            .margin(18)
            .margin_top(8)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .build_cartesian_2d((lo - pad)..(hi + pad), 0.0..y_max)?;
        mesh(&mut chart, 13.0)
            .axis_desc_style(font(14.0))
            .x_desc("revenue over the horizon")
            .y_desc("share of trials")
            .x_label_formatter(&|x| money_tick(*x))
            .y_label_formatter(&|y| format!("{:.1}%", 100.0 * y))
            .draw()?;
        let below = BLUE.mix(0.55);
        let above = GOOD.mix(0.75);
        let bar = |b: &crate::sim::Bin, c: RGBAColor| {
            let w = b.to - b.from;
            Rectangle::new(
                [
                    (b.from + 0.06 * w, 0.0),
                    (b.to - 0.06 * w, b.trials as f64 / n),
                ],
                c.filled(),
            )
        };
        let mid = |b: &crate::sim::Bin| 0.5 * (b.from + b.to);
        chart
            .draw_series(
                bins.iter()
                    .filter(|b| mid(b) < f.target)
                    .map(|b| bar(b, below)),
            )?
            .label("below the target")
            .legend(swatch(below));
        chart
            .draw_series(
                bins.iter()
                    .filter(|b| mid(b) >= f.target)
                    .map(|b| bar(b, above)),
            )?
            .label("at or above the target")
            .legend(swatch(above));
        for (q, v) in [
            ("P10", f.revenue.p10),
            ("P50", f.revenue.p50),
            ("P90", f.revenue.p90),
        ] {
            chart.draw_series(LineSeries::new(
                vec![(v, 0.0), (v, y_max * 0.86)],
                MUTED.stroke_width(1),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{q} {}", money_tick(v)),
                (v, y_max * 0.87),
                muted(12.0).pos(plotters::style::text_anchor::Pos::new(
                    HPos::Center,
                    VPos::Bottom,
                )),
            )))?;
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(f.target, 0.0), (f.target, y_max)],
                10,
                6,
                TARGET.stroke_width(2),
            ))?
            .label("target")
            .legend(stroke(TARGET.stroke_width(2)));
        let (px, py) = chart.backend_coord(&(f.target, y_max * 0.97));
        let right_half = f.target > 0.5 * (lo + hi);
        let (h, dx) = if right_half {
            (HPos::Right, -8)
        } else {
            (HPos::Left, 8)
        };
        label(
            root,
            &format!(
                "target {} · P(hit) {}",
                money(f.target),
                pct(f.p_hit_target)
            ),
            (px + dx, py + 8),
            bold(15.0).color(&TARGET),
            h,
            VPos::Top,
        )?;
        legend(
            &mut chart,
            if right_half {
                SeriesLabelPosition::UpperLeft
            } else {
                SeriesLabelPosition::UpperRight
            },
        )
    }
}

// ---- Waterfall ---------------------------------------------------------------

/// Stage volumes in order, for the waterfall: (stage, count).
pub type Stages = Vec<(String, f64)>;

fn stages_of(leads: f64, mqls: f64, sals: f64, sqls: f64, opportunities: f64, wins: f64) -> Stages {
    [
        ("leads", leads),
        ("MQLs", mqls),
        ("SALs", sals),
        ("SQLs", sqls),
        ("opportunities", opportunities),
        ("wins", wins),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v))
    .collect()
}

pub(super) struct Waterfall {
    pub title: String,
    pub subtitle: String,
    /// Panels: an optional name and its stages.
    pub panels: Vec<(Option<String>, Stages)>,
    pub columns: usize,
}

/// Volume at each stage and the conversion from the stage before, over the
/// horizon (mean per trial).
pub fn waterfall(f: &Forecast) -> Result<Chart, ChartError> {
    let s = &f.stages;
    let w = Waterfall {
        title: "The revenue cycle: volume at each stage".into(),
        subtitle: format!(
            "{} · mean per trial inside the horizon, log scale · under each: conversion from the stage before",
            f.scenario
        ),
        panels: vec![(
            None,
            stages_of(s.leads, s.mqls, s.sals, s.sqls, s.opportunities, s.wins),
        )],
        columns: 1,
    };
    render(&w, "waterfall", "The revenue cycle", (WIDTH, HEIGHT))
}

/// The waterfall of each channel, side by side on the same scale.
pub fn waterfall_by_channel(f: &Forecast) -> Result<Chart, ChartError> {
    let panels: Vec<(Option<String>, Stages)> = f
        .channels
        .iter()
        .map(|c| {
            let x = &c.figures;
            (
                Some(c.name.clone()),
                stages_of(x.leads, x.mqls, x.sals, x.sqls, x.opportunities, x.wins),
            )
        })
        .collect();
    let columns = 3.min(panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let w = Waterfall {
        title: "The revenue cycle by lead source".into(),
        subtitle: format!(
            "{} · mean per trial inside the horizon, log scale, the same for every source",
            f.scenario
        ),
        panels,
        columns,
    };
    render(
        &w,
        "waterfall-by-channel",
        "The revenue cycle by lead source",
        (WIDTH, 90 + 300 * rows as u32),
    )
}

impl Figure for Waterfall {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let area = heading(root, &self.title, &self.subtitle)?;
        let values = self.panels.iter().flat_map(|p| p.1.iter().map(|s| s.1));
        let positive: Vec<f64> = values.filter(|v| *v > 0.0).collect();
        let lo = positive.iter().copied().fold(f64::INFINITY, f64::min);
        let lo = if lo.is_finite() {
            (lo / 3.0).max(0.01)
        } else {
            0.1
        };
        let hi = top(positive.iter().copied(), 0.0) * 6.0;
        let rows = self.panels.len().div_ceil(self.columns).max(1);
        let cells = area.split_evenly((rows, self.columns));
        let compact = self.panels.len() > 1;
        for ((name, stages), cell) in self.panels.iter().zip(cells) {
            draw_funnel(root, &cell, name.as_deref(), stages, (lo, hi), compact)?;
        }
        Ok(())
    }
}

fn draw_funnel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    name: Option<&str>,
    stages: &Stages,
    (lo, hi): (f64, f64),
    compact: bool,
) -> Drawn {
    let n = stages.len().max(1);
    let mut b = ChartBuilder::on(area);
    b.margin(if compact { 8 } else { 18 })
        .x_label_area_size(if compact { 24 } else { 34 })
        .y_label_area_size(if compact { 48 } else { 64 });
    if let Some(name) = name {
        b.caption(name, bold(15.0));
    }
    let mut chart = b.build_cartesian_2d(-0.5..(n as f64 - 0.5), (lo..hi).log_scale())?;
    mesh(&mut chart, if compact { 10.0 } else { 12.0 })
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|y| count_tick(*y))
        .y_labels(if compact { 4 } else { 8 })
        .draw()?;
    let width = if compact { 0.38 } else { 0.34 };
    for (i, (_, v)) in stages.iter().enumerate() {
        if *v <= 0.0 {
            continue;
        }
        let x = i as f64;
        let c = colour(0).mix(0.45 + 0.5 * (i as f64 / n as f64));
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - width, lo), (x + width, *v)],
            c.filled(),
        )))?;
    }
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let slot = f64::from(xr.end - xr.start) / n as f64;
    let size = if compact { 10.0 } else { 13.0 };
    for (i, (stage, v)) in stages.iter().enumerate() {
        let px = xr.start + (slot * (i as f64 + 0.5)) as i32;
        // Stage name under the axis; the count above the bar; the
        // conversion from the stage before under the name.
        label(
            root,
            stage,
            (px, yr.end + 6),
            font(size),
            HPos::Center,
            VPos::Top,
        )?;
        let (_, top_y) = chart.backend_coord(&(i as f64, v.max(lo)));
        label(
            root,
            &count(*v),
            (px, top_y - 4),
            bold(size),
            HPos::Center,
            VPos::Bottom,
        )?;
        if i > 0 && !compact {
            let before = stages[i - 1].1;
            let conv = if before > 0.0 {
                pct(v / before)
            } else {
                "-".into()
            };
            label(
                root,
                &format!("{conv} of {}", stages[i - 1].0),
                (px, yr.end + 22),
                muted(12.0),
                HPos::Center,
                VPos::Top,
            )?;
        } else if i > 0 {
            let before = stages[i - 1].1;
            if before > 0.0 {
                label(
                    root,
                    &pct_tick(v / before),
                    (px, top_y - 16),
                    muted(9.0),
                    HPos::Center,
                    VPos::Bottom,
                )?;
            }
        }
    }
    Ok(())
}

/// The waterfall of a plan's totals (used by the planner's charts).
pub(super) fn plan_stages(v: &crate::plan::Volumes) -> Stages {
    stages_of(v.leads, v.mqls, v.sals, v.sqls, v.opportunities, v.wins)
}

// ---- Spend and revenue by channel ---------------------------------------------

struct Roi<'a>(&'a Forecast);

/// Spend against revenue by lead source, with ROI.
pub fn roi(f: &Forecast) -> Result<Chart, ChartError> {
    let rows = f.channels.len().max(1) as u32;
    render(
        &Roi(f),
        "channel-roi",
        "Spend and revenue by lead source",
        (WIDTH, (160 + 64 * rows).max(360)),
    )
}

impl Figure for Roi<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let f = self.0;
        let area = heading(
            root,
            "Spend and revenue by lead source",
            &format!(
                "{} · mean per trial over the horizon · revenue from each source's new leads",
                f.scenario
            ),
        )?;
        let n = f.channels.len().max(1);
        let x_max = top(
            f.channels
                .iter()
                .flat_map(|c| [c.figures.spend, c.figures.revenue]),
            0.3,
        );
        let mut chart = ChartBuilder::on(&area)
            .margin(18)
            .margin_top(4)
            .x_label_area_size(40)
            .y_label_area_size(170)
            .build_cartesian_2d(0.0..x_max, -0.5..(n as f64 - 0.5))?;
        mesh(&mut chart, 13.0)
            .disable_y_mesh()
            .y_labels(0)
            .x_label_formatter(&|x| money_tick(*x))
            .draw()?;
        let spend_c = colour(1).mix(0.8);
        let rev_c = colour(0).mix(0.8);
        let row_y = |i: usize| (n - 1 - i) as f64;
        chart
            .draw_series(f.channels.iter().enumerate().map(|(i, c)| {
                let y = row_y(i);
                Rectangle::new(
                    [(0.0, y + 0.04), (c.figures.spend, y + 0.36)],
                    spend_c.filled(),
                )
            }))?
            .label("spend")
            .legend(swatch(spend_c));
        chart
            .draw_series(f.channels.iter().enumerate().map(|(i, c)| {
                let y = row_y(i);
                Rectangle::new(
                    [(0.0, y - 0.36), (c.figures.revenue, y - 0.04)],
                    rev_c.filled(),
                )
            }))?
            .label("revenue")
            .legend(swatch(rev_c));
        for (i, c) in f.channels.iter().enumerate() {
            let y = row_y(i);
            let (px, py) = chart.backend_coord(&(0.0, y));
            label(
                root,
                &c.name,
                (px - 10, py),
                bold(14.0),
                HPos::Right,
                VPos::Center,
            )?;
            let end = c.figures.spend.max(c.figures.revenue);
            let (ex, _) = chart.backend_coord(&(end, y));
            let text = match c.figures.roi {
                Some(r) => format!(
                    "ROI {:.1}× · {} → {}",
                    r,
                    money(c.figures.spend),
                    money(c.figures.revenue)
                ),
                None => format!("no spend · {}", money(c.figures.revenue)),
            };
            label(
                root,
                &text,
                (ex + 8, py),
                font(13.0).color(&INK),
                HPos::Left,
                VPos::Center,
            )?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

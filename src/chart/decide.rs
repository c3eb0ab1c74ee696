//! Charts of decisions: variants side by side (revenue intervals and
//! P(hit)), the tornado of a sensitivity run, and the curves of a sweep.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    BLUE, Chart, ChartError, Drawn, Figure, GOOD, INK, TARGET, WIDTH, bold, boxed_label, colour,
    count_tick, font, heading, label, legend, mesh, money_tick, muted, panel, pct_tick, render,
    stroke, swatch, top,
};
use crate::decide::compare::Comparison;
use crate::decide::sensitivity::Sensitivity;
use crate::decide::sweep::Sweep;
use crate::export::format::{money, pct, thousands};

/// Rows of names down the left of a chart whose y runs −0.5..n−0.5, the
/// first name on top.
fn row_y(n: usize, i: usize) -> f64 {
    (n - 1 - i) as f64
}

// ---- Variants ------------------------------------------------------------------

struct Variants<'a>(&'a Comparison);

/// The variants' comparison chart.
pub fn variants_charts(c: &Comparison) -> Result<Vec<Chart>, ChartError> {
    let rows = c.variants.len().max(1) as u32;
    Ok(vec![render(
        &Variants(c),
        "variants",
        "Variants compared",
        (WIDTH, (170 + 70 * rows).max(380)),
    )?])
}

impl Figure for Variants<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let c = self.0;
        let area = heading(
            root,
            "Variants compared: revenue over the horizon",
            &format!(
                "{} · {} trials each on the same random numbers, seed {} · bars P10–P90, boxes P25–P75, ticks P50, dots the mean",
                c.scenario,
                thousands(c.trials),
                c.seed
            ),
        )?;
        let n = c.variants.len().max(1);
        let lo = c
            .variants
            .iter()
            .map(|v| v.figures.revenue.p10)
            .fold(c.target, f64::min);
        let hi = c
            .variants
            .iter()
            .map(|v| v.figures.revenue.p90)
            .fold(c.target, f64::max);
        let span = (hi - lo).max(1.0);
        let mut chart = ChartBuilder::on(&area)
            .margin(18)
            .margin_top(4)
            .x_label_area_size(40)
            .y_label_area_size(200)
            .right_y_label_area_size(230)
            .build_cartesian_2d(
                (lo - 0.05 * span)..(hi + 0.05 * span),
                -0.5..(n as f64 - 0.5),
            )?;
        mesh(&mut chart, 13.0)
            .disable_y_mesh()
            .y_labels(0)
            .x_label_formatter(&|x| money_tick(*x))
            .draw()?;
        for (i, v) in c.variants.iter().enumerate() {
            let y = row_y(n, i);
            let r = &v.figures.revenue;
            let col = if i == 0 { colour(7) } else { colour(0) };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(r.p10, y - 0.05), (r.p90, y + 0.05)],
                col.mix(0.45).filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(r.p25, y - 0.22), (r.p75, y + 0.22)],
                col.mix(0.75).filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(r.p50, y - 0.3), (r.p50, y + 0.3)],
                INK.stroke_width(3),
            )))?;
            chart.draw_series(std::iter::once(Circle::new((r.mean, y), 5, WHITE.filled())))?;
            chart.draw_series(std::iter::once(Circle::new(
                (r.mean, y),
                5,
                INK.stroke_width(2),
            )))?;
            let (px, py) = chart.backend_coord(&(lo - 0.05 * span, y));
            label(
                root,
                &v.name,
                (px - 10, py),
                bold(14.0),
                HPos::Right,
                VPos::Center,
            )?;
            let (qx, _) = chart.backend_coord(&(hi + 0.05 * span, y));
            let text = if i == 0 {
                format!("P(hit) {}", pct(v.figures.p_hit_target))
            } else {
                format!(
                    "P(hit) {} ({:+.1} pts)",
                    pct(v.figures.p_hit_target),
                    100.0 * v.p_hit_delta.mean
                )
            };
            let better = v.p_hit_delta.mean > 0.0 && v.p_hit_delta.ci_low > 0.0;
            let worse = v.p_hit_delta.mean < 0.0 && v.p_hit_delta.ci_high < 0.0;
            let style = if better {
                bold(14.0).color(&GOOD)
            } else if worse {
                bold(14.0).color(&TARGET)
            } else {
                bold(14.0)
            };
            label(
                root,
                &text,
                (qx + 12, py - 9),
                style,
                HPos::Left,
                VPos::Center,
            )?;
            if i > 0 {
                let d = &v.delta_vs_base;
                label(
                    root,
                    &format!(
                        "mean {}{}",
                        if d.mean >= 0.0 { "+" } else { "" },
                        money(d.mean)
                    ),
                    (qx + 12, py + 10),
                    muted(12.0),
                    HPos::Left,
                    VPos::Center,
                )?;
            }
        }
        chart.draw_series(DashedLineSeries::new(
            vec![(c.target, -0.5), (c.target, n as f64 - 0.5)],
            8,
            5,
            TARGET.stroke_width(2),
        ))?;
        let (tx, ty) = chart.backend_coord(&(c.target, n as f64 - 0.5));
        label(
            root,
            &format!("target {}", money(c.target)),
            (tx, ty - 4),
            bold(13.0).color(&TARGET),
            HPos::Center,
            VPos::Bottom,
        )?;
        Ok(())
    }
}

// ---- Tornado -------------------------------------------------------------------

/// Inputs shown in the tornado (the rest are in the table).
pub const TORNADO_ROWS: usize = 14;

struct Tornado<'a>(&'a Sensitivity);

/// The tornado of a sensitivity run: revenue P50 with each input at its low
/// and its high value, largest swing on top.
pub fn sensitivity_charts(s: &Sensitivity) -> Result<Vec<Chart>, ChartError> {
    let rows = s.inputs.len().clamp(1, TORNADO_ROWS) as u32;
    Ok(vec![render(
        &Tornado(s),
        "tornado",
        "Which assumptions matter most",
        (WIDTH, 190 + 44 * rows),
    )?])
}

impl Figure for Tornado<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let s = self.0;
        let rows: Vec<_> = s.inputs.iter().take(TORNADO_ROWS).collect();
        let area = heading(
            root,
            "Which assumptions matter most: revenue P50",
            &format!(
                "{} · each input at its low and high value, the rest as planned · base P50 {}, P(hit) {}",
                s.scenario,
                money(s.base_p50),
                pct(s.base_p_hit)
            ),
        )?;
        let n = rows.len().max(1);
        let lo = rows
            .iter()
            .flat_map(|r| [r.low.p50, r.high.p50])
            .fold(s.base_p50, f64::min);
        let hi = rows
            .iter()
            .flat_map(|r| [r.low.p50, r.high.p50])
            .fold(s.base_p50, f64::max);
        let span = (hi - lo).max(1.0);
        let x0 = lo - 0.12 * span;
        let x1 = hi + 0.12 * span;
        let mut chart = ChartBuilder::on(&area)
            .margin(18)
            .margin_top(4)
            .x_label_area_size(40)
            .y_label_area_size(290)
            .build_cartesian_2d(x0..x1, -0.5..(n as f64 - 0.5))?;
        mesh(&mut chart, 13.0)
            .disable_y_mesh()
            .y_labels(0)
            .x_label_formatter(&|x| money_tick(*x))
            .draw()?;
        let low_c = colour(1).mix(0.8);
        let high_c = colour(0).mix(0.8);
        let bar = |y: f64, v: f64, c: RGBAColor| {
            Rectangle::new(
                [(s.base_p50.min(v), y - 0.34), (s.base_p50.max(v), y + 0.34)],
                c.filled(),
            )
        };
        chart
            .draw_series(
                rows.iter()
                    .enumerate()
                    .map(|(i, r)| bar(row_y(n, i), r.low.p50, low_c)),
            )?
            .label("input at its low value")
            .legend(swatch(low_c));
        chart
            .draw_series(
                rows.iter()
                    .enumerate()
                    .map(|(i, r)| bar(row_y(n, i), r.high.p50, high_c)),
            )?
            .label("input at its high value")
            .legend(swatch(high_c));
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(s.base_p50, -0.5), (s.base_p50, n as f64 - 0.5)],
            INK.stroke_width(2),
        )))?;
        for (i, r) in rows.iter().enumerate() {
            let y = row_y(n, i);
            let (px, py) = chart.backend_coord(&(x0, y));
            label(
                root,
                &r.input,
                (px - 10, py - 8),
                bold(13.0),
                HPos::Right,
                VPos::Center,
            )?;
            label(
                root,
                &format!("{} · {} … {}", r.kind, r.low.value, r.high.value),
                (px - 10, py + 9),
                muted(11.0),
                HPos::Right,
                VPos::Center,
            )?;
            // Each end's P50, outside its bar.
            for v in [r.low.p50, r.high.p50] {
                let (vx, _) = chart.backend_coord(&(v, y));
                let (h, dx) = if v < s.base_p50 {
                    (HPos::Right, -6)
                } else {
                    (HPos::Left, 6)
                };
                label(
                    root,
                    &money_tick(v),
                    (vx + dx, py),
                    font(11.0),
                    h,
                    VPos::Center,
                )?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

// ---- Sweep ---------------------------------------------------------------------

struct SweepCurves<'a>(&'a Sweep);

/// A sweep's curves: P(hit) and mean revenue; MQLs and opportunities;
/// sales load when there is a sales team.
pub fn sweep_charts(s: &Sweep) -> Result<Vec<Chart>, ChartError> {
    let load = s.points.iter().any(|p| p.sales_load.is_some());
    Ok(vec![render(
        &SweepCurves(s),
        "sweep",
        "Sweep",
        (WIDTH, if load { 980 } else { 720 }),
    )?])
}

impl Figure for SweepCurves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let s = self.0;
        let area = heading(
            root,
            &format!("Sweep of {}", s.param),
            &format!(
                "{} · {} trials a point on the same random numbers, seed {} · best point circled",
                s.scenario,
                thousands(s.trials),
                s.seed
            ),
        )?;
        // Numeric values are placed by value; anything else in order.
        let numeric: Option<Vec<f64>> = s
            .points
            .iter()
            .map(|p| p.value.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect();
        let xs: Vec<f64> = match &numeric {
            Some(v) => v.clone(),
            None => (0..s.points.len()).map(|i| i as f64).collect(),
        };
        let (xl, xh) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(*x), b.max(*x))
            });
        let pad = if xh > xl { 0.04 * (xh - xl) } else { 1.0 };
        let x_range = (xl - pad)..(xh + pad);
        let load = s.points.iter().any(|p| p.sales_load.is_some());
        let panels = if load {
            area.split_by_breakpoints([] as [i32; 0], [300, 600])
        } else {
            area.split_by_breakpoints([] as [i32; 0], [320])
        };
        let labels: Vec<String> = s.points.iter().map(|p| p.value.clone()).collect();
        let is_numeric = numeric.is_some();
        let x_fmt = move |x: &f64| {
            if is_numeric {
                let r = (x * 1e6).round() / 1e6;
                if r.fract() == 0.0 {
                    format!("{r:.0}")
                } else {
                    format!("{r}")
                }
            } else {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        };
        let best = s.best;
        let last = panels.len() - 1;

        // P(hit).
        let mut chart = panel(&panels[0], "P(revenue ≥ target)", 28, 64)
            .build_cartesian_2d(x_range.clone(), 0.0..1.05)?;
        mesh(&mut chart, 12.0)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|y| pct_tick(*y))
            .draw()?;
        let ph: Vec<(f64, f64)> = xs
            .iter()
            .zip(&s.points)
            .map(|(x, p)| (*x, p.figures.p_hit_target))
            .collect();
        chart.draw_series(LineSeries::new(ph.clone(), GOOD.stroke_width(3)).point_size(4))?;
        if let Some((x, y)) = ph.get(best) {
            chart.draw_series(std::iter::once(Circle::new(
                (*x, *y),
                10,
                INK.stroke_width(2),
            )))?;
            let (px, py) = chart.backend_coord(&(*x, *y));
            let (xr, _) = chart.plotting_area().get_pixel_range();
            let (h, dx) = if px > (xr.start + xr.end) / 2 {
                (HPos::Right, -16)
            } else {
                (HPos::Left, 16)
            };
            boxed_label(
                root,
                &format!("best: {} → {}", s.points[best].value, pct(*y)),
                (px + dx, py + 14),
                bold(13.0),
                h,
                VPos::Top,
            )?;
        }

        // MQLs and opportunities.
        let y_max = top(
            s.points
                .iter()
                .flat_map(|p| [p.figures.stages.mqls, p.figures.stages.opportunities]),
            0.12,
        );
        let mut chart = panel(
            &panels[1],
            "MQLs and opportunities over the horizon (mean per trial)",
            if last == 1 { 44 } else { 28 },
            64,
        )
        .build_cartesian_2d(x_range.clone(), 0.0..y_max)?;
        let mut grid = mesh(&mut chart, 12.0);
        grid.axis_desc_style(font(13.0))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|y| count_tick(*y));
        if last == 1 {
            grid.x_desc(s.param.as_str());
        }
        grid.draw()?;
        let line = |g: &dyn Fn(&crate::decide::sweep::SweepPoint) -> f64| -> Vec<(f64, f64)> {
            xs.iter().zip(&s.points).map(|(x, p)| (*x, g(p))).collect()
        };
        chart
            .draw_series(
                LineSeries::new(line(&|p| p.figures.stages.mqls), BLUE.stroke_width(3))
                    .point_size(4),
            )?
            .label("MQLs")
            .legend(stroke(BLUE.stroke_width(3)));
        let opp = colour(4);
        chart
            .draw_series(
                LineSeries::new(
                    line(&|p| p.figures.stages.opportunities),
                    opp.stroke_width(3),
                )
                .point_size(4),
            )?
            .label("opportunities")
            .legend(stroke(opp.stroke_width(3)));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;

        // Sales load.
        if load {
            let y_max = top(s.points.iter().filter_map(|p| p.sales_load), 0.15).max(1.2);
            let mut chart = panel(
                &panels[2],
                "sales load: SLA touches asked per touch the reps can make",
                44,
                64,
            )
            .build_cartesian_2d(x_range, 0.0..y_max)?;
            mesh(&mut chart, 12.0)
                .axis_desc_style(font(13.0))
                .x_desc(s.param.as_str())
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&|y| pct_tick(*y))
                .draw()?;
            let (a, b) = (x_range_start(&xs, pad), x_range_end(&xs, pad));
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(a, 1.0), (b, 1.0)],
                    8,
                    5,
                    TARGET.stroke_width(2),
                ))?
                .label("capacity (100%)")
                .legend(stroke(TARGET.stroke_width(2)));
            let pts: Vec<(f64, f64)> = xs
                .iter()
                .zip(&s.points)
                .filter_map(|(x, p)| p.sales_load.map(|l| (*x, l)))
                .collect();
            let c = colour(1);
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(3)).point_size(4))?
                .label("sales load")
                .legend(stroke(c.stroke_width(3)));
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

fn x_range_start(xs: &[f64], pad: f64) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min) - pad
}

fn x_range_end(xs: &[f64], pad: f64) -> f64 {
    xs.iter().copied().fold(f64::NEG_INFINITY, f64::max) + pad
}

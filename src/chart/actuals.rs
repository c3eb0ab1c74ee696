//! Charts of actuals: how arrival cohorts converted as they aged, lead
//! acceptance month by month, and how long each stage takes.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    Chart, ChartError, DrawingArea, Drawn, Figure, HEIGHT, INK, Shift, WIDTH, bold, colour, font,
    heading, label, legend, mesh, panel, pct_tick, render, stroke, top,
};
use crate::actuals::report::{Actuals, CURVE_PERIODS};

/// The charts of an actuals report.
pub fn actuals_charts(a: &Actuals) -> Result<Vec<Chart>, ChartError> {
    Ok(vec![
        render(
            &Curves(a),
            "cohort-conversion",
            "Cohort conversion",
            (WIDTH, 900),
        )?,
        render(
            &Acceptance(a),
            "acceptance",
            "Lead acceptance by month",
            (WIDTH, HEIGHT),
        )?,
        render(
            &Velocity(a),
            "stage-velocity",
            "Stage velocity",
            (WIDTH, (200 + 70 * a.stages.len() as u32).max(360)),
        )?,
    ])
}

struct Curves<'a>(&'a Actuals);
struct Acceptance<'a>(&'a Actuals);
struct Velocity<'a>(&'a Actuals);

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let a = self.0;
        let unit = format!("{:?}", a.by).to_lowercase();
        let area = heading(
            root,
            "How each cohort converted as it aged",
            &format!(
                "leads by arrival {unit} · share that became an opportunity, and that was won, by {unit}s since arrival · as of {}",
                a.as_of
            ),
        )?;
        let panels = area.split_evenly((2, 1));
        let x_max = (CURVE_PERIODS - 1) as f64;
        let shown: Vec<_> = a.curves.iter().filter(|c| c.leads > 0).collect();
        for (k, (caption, pick)) in [("lead → opportunity", 0usize), ("lead → won", 1usize)]
            .into_iter()
            .enumerate()
        {
            let series = |c: &crate::actuals::report::CohortCurve| -> Vec<(f64, f64)> {
                let v = if pick == 0 { &c.opportunity } else { &c.won };
                v.iter()
                    .enumerate()
                    .filter_map(|(i, x)| x.map(|y| (i as f64, y)))
                    .collect()
            };
            let y_max = top(
                shown
                    .iter()
                    .flat_map(|c| series(c).into_iter().map(|p| p.1)),
                0.15,
            );
            let mut chart =
                panel(&panels[k], caption, 36, 64).build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
            mesh(&mut chart, 12.0)
                .x_desc(format!("{unit}s since arrival"))
                .y_label_formatter(&|y| pct_tick(*y))
                .draw()?;
            let n = shown.len().max(1);
            for (i, c) in shown.iter().enumerate() {
                // Older cohorts darker; the youngest lightest.
                let shade = 0.25 + 0.75 * (i as f64 + 1.0) / n as f64;
                let style = colour(0).mix(1.25 - shade).stroke_width(2);
                let s = chart.draw_series(LineSeries::new(series(c), style))?;
                if i == 0 || i + 1 == n {
                    s.label(format!("{} ({} leads)", c.label, c.leads))
                        .legend(stroke(style));
                }
            }
            legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        }
        Ok(())
    }
}

impl Figure for Acceptance<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let a = self.0;
        let area = heading(
            root,
            "Lead acceptance by month",
            "SALs per MQL of each month's MQLs, all sources (bold) and the largest sources",
        )?;
        let months: Vec<String> = {
            let mut m: Vec<String> = a.acceptance.iter().map(|r| r.month.clone()).collect();
            m.dedup();
            m
        };
        let at = |m: &str| months.iter().position(|x| x == m).unwrap_or(0) as f64;
        let mut by_source: std::collections::BTreeMap<&str, usize> = Default::default();
        for r in &a.acceptance {
            *by_source.entry(r.source.as_str()).or_default() += r.mqls;
        }
        let mut big: Vec<(&str, usize)> = by_source.into_iter().collect();
        big.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
        big.truncate(5);
        let x_max = (months.len().max(2) - 1) as f64;
        let mut chart = panel(&area, "", 40, 64).build_cartesian_2d(-0.3..x_max + 0.3, 0.0..1.0)?;
        let labels = months.clone();
        mesh(&mut chart, 12.0)
            .x_labels(months.len().min(13))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| pct_tick(*y))
            .draw()?;
        for (k, (source, _)) in big.iter().enumerate() {
            let pts: Vec<(f64, f64)> = a
                .acceptance
                .iter()
                .filter(|r| r.source == *source)
                .filter_map(|r| r.acceptance_rate.map(|y| (at(&r.month), y)))
                .collect();
            let style = colour(k + 1).mix(0.7).stroke_width(2);
            chart
                .draw_series(LineSeries::new(pts, style))?
                .label(*source)
                .legend(stroke(style));
        }
        let all: Vec<(f64, f64)> = months
            .iter()
            .filter_map(|m| {
                let rows = a.acceptance.iter().filter(|r| &r.month == m);
                let (acc, mqls) = rows.fold((0, 0), |t, r| (t.0 + r.accepted, t.1 + r.mqls));
                crate::metrics::acceptance_rate(acc as f64, mqls as f64).map(|y| (at(m), y))
            })
            .collect();
        let style = INK.stroke_width(4);
        chart
            .draw_series(LineSeries::new(all, style))?
            .label("all sources")
            .legend(stroke(style));
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

impl Figure for Velocity<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let a = self.0;
        let area = heading(
            root,
            "Days from each stage to the next",
            "Kaplan–Meier quartiles (open items censored): bar P25–P75, tick P50; an open end is not reached yet",
        )?;
        let n = a.stages.len().max(1);
        // Room on the right for the labels; an open end stops short of it.
        let known = top(
            a.stages
                .iter()
                .flat_map(|s| [s.days_p25, s.days_p50, s.days_p75])
                .flatten(),
            0.05,
        );
        let x_max = known * 1.6;
        let mut chart = ChartBuilder::on(&area)
            .margin(18)
            .margin_top(4)
            .x_label_area_size(40)
            .y_label_area_size(130)
            .build_cartesian_2d(0.0..x_max, -0.5..(n as f64 - 0.5))?;
        mesh(&mut chart, 13.0)
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("days")
            .draw()?;
        let row = |i: usize| (n - 1 - i) as f64;
        for (i, s) in a.stages.iter().enumerate() {
            let y = row(i);
            let lo = s.days_p25.unwrap_or(0.0);
            let hi = s.days_p75.unwrap_or(known);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(lo, y - 0.25), (hi, y + 0.25)],
                colour(0)
                    .mix(if s.days_p75.is_some() { 0.7 } else { 0.3 })
                    .filled(),
            )))?;
            if let Some(m) = s.days_p50 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(m, y - 0.35), (m, y + 0.35)],
                    INK.stroke_width(3),
                )))?;
            }
            let (px, py) = chart.backend_coord(&(0.0, y));
            label(
                root,
                &s.stage,
                (px - 10, py),
                bold(14.0),
                HPos::Right,
                VPos::Center,
            )?;
            let (ex, _) = chart.backend_coord(&(hi, y));
            let text = format!(
                "{}{} of {} on · P50 {}",
                if s.days_p75.is_none() { "… " } else { "" },
                s.converted,
                s.entered,
                s.days_p50
                    .map_or("not reached".into(), |d| format!("{d:.0} days"))
            );
            label(
                root,
                &text,
                (ex + 8, py),
                font(13.0),
                HPos::Left,
                VPos::Center,
            )?;
        }
        Ok(())
    }
}

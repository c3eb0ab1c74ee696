//! The backtest chart: each origin's forecast of each period as a fan
//! (P10–P90, P25–P75, P50) with what happened marked on it.

use plotters::prelude::*;

use super::{
    Chart, ChartError, DrawingArea, Drawn, Figure, HEIGHT, INK, Shift, WIDTH, colour, count_tick,
    heading, legend, mesh, money_tick, panel, render, swatch, top,
};
use crate::backtest::{Backtest, Metric};

/// The charts of a backtest.
pub fn backtest_charts(b: &Backtest) -> Result<Vec<Chart>, ChartError> {
    Ok(vec![render(
        &Fans(b),
        "backtest",
        "Backtest: forecasts against what happened",
        (WIDTH, HEIGHT),
    )?])
}

struct Fans<'a>(&'a Backtest);

impl Figure for Fans<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let b = self.0;
        let points: Vec<_> = b.points.iter().filter(|p| p.period != "total").collect();
        let area = heading(
            root,
            "Each forecast against what happened",
            &format!(
                "{} origins · each bar one period of one origin's {}-week forecast: P10–P90, P25–P75, P50 · dot: the actual (red outside P10–P90)",
                b.origins.len(),
                b.weeks
            ),
        )?;
        let y_max = top(
            points
                .iter()
                .flat_map(|p| [p.model.0[5], p.actual])
                .chain(std::iter::once(1.0)),
            0.1,
        );
        let n = points.len().max(1) as f64;
        let mut chart = panel(&area, "", 40, 72).build_cartesian_2d(-0.6..n - 0.4, 0.0..y_max)?;
        let labels: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i == 0 || points[i - 1].origin != p.origin {
                    p.origin.clone()
                } else {
                    String::new()
                }
            })
            .collect();
        let money = b.metric == Metric::Revenue;
        mesh(&mut chart, 11.0)
            .x_labels(points.len().min(60))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| {
                if money {
                    money_tick(*y)
                } else {
                    count_tick(*y)
                }
            })
            .draw()?;
        let band = |lo: usize, hi: usize, alpha: f64| {
            points.iter().enumerate().map(move |(i, p)| {
                let x = i as f64;
                Rectangle::new(
                    [(x - 0.3, p.model.0[lo]), (x + 0.3, p.model.0[hi])],
                    colour(0).mix(alpha).filled(),
                )
            })
        };
        chart
            .draw_series(band(1, 5, 0.25))?
            .label("P10–P90")
            .legend(swatch(colour(0).mix(0.25)));
        chart
            .draw_series(band(2, 4, 0.5))?
            .label("P25–P75")
            .legend(swatch(colour(0).mix(0.5)));
        chart.draw_series(points.iter().enumerate().map(|(i, p)| {
            let x = i as f64;
            PathElement::new(
                vec![(x - 0.3, p.model.0[3]), (x + 0.3, p.model.0[3])],
                INK.stroke_width(2),
            )
        }))?;
        chart
            .draw_series(points.iter().enumerate().map(|(i, p)| {
                let inside = p.model.0[1] <= p.actual && p.actual <= p.model.0[5];
                let c = if inside { INK } else { RED };
                Circle::new((i as f64, p.actual), 4, c.filled())
            }))?
            .label("actual")
            .legend(|(x, y)| Circle::new((x + 6, y), 4, INK.filled()));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

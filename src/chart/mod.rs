//! Charts of plans, forecasts and decisions, drawn with plotters as SVG and
//! PNG from the same drawing code.
//!
//! Text is set in DejaVu Sans, embedded in the binary (the `dejavu` crate)
//! and registered once, so no system font or fontconfig is needed. SVG
//! output names the family `sans-serif` and escapes every text; nothing here
//! reads or writes files — a [`Chart`] holds the bytes, and the caller puts
//! them in place.

mod actuals;
mod backtest;
mod decide;
mod forecast;
mod plan;

pub use actuals::actuals_charts;
pub use backtest::backtest_charts;
pub use decide::{sensitivity_charts, sweep_charts, variants_charts};
pub use forecast::{fan, forecast_charts, histogram, roi, waterfall, waterfall_by_channel};
pub use plan::{plan_charts, plan_waterfall, weekly_plan};

use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A drawn chart: its file stem, title, and the same picture as SVG text
/// and PNG bytes.
#[derive(Clone, Debug)]
pub struct Chart {
    pub name: String,
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub svg: String,
    pub png: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot draw the {chart} chart: {message}")]
pub struct ChartError {
    pub chart: String,
    pub message: String,
}

/// A failure inside a drawing, before it knows which chart it was.
#[derive(Debug)]
pub struct DrawError(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawError {
    fn from(e: DrawingAreaErrorKind<E>) -> DrawError {
        DrawError(e.to_string())
    }
}

/// The result of a drawing step.
pub type Drawn = Result<(), DrawError>;

/// Something that draws itself on any plotters backend.
pub trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn;
}

/// Default canvas of a chart, in pixels.
pub const WIDTH: u32 = 1100;
pub const HEIGHT: u32 = 620;

static FONTS: Once = Once::new();

/// Registers the embedded DejaVu faces as `sans-serif` (once).
fn register_fonts() {
    FONTS.call_once(|| {
        // Registration fails only on a corrupt font, and the fonts are
        // compiled in: a failure would show as missing text, not a panic.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Pixels of the PNG per pixel of the SVG: sharp on high-density screens
/// and in print.
pub const PNG_SCALE: f32 = 1.5;

/// Draws a figure as SVG, and rasterises that SVG as the PNG, so the two
/// are the same picture.
pub fn render<F: Figure>(
    figure: &F,
    name: &str,
    title: &str,
    (width, height): (u32, u32),
) -> Result<Chart, ChartError> {
    register_fonts();
    let fail = |e: DrawError| ChartError {
        chart: name.to_string(),
        message: e.0,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.into()))?;
        figure.draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.into()))?;
    }
    let png = rasterise(&svg, PNG_SCALE).map_err(|m| fail(DrawError(m)))?;
    Ok(Chart {
        name: name.to_string(),
        title: title.to_string(),
        width,
        height,
        svg,
        png,
    })
}

/// The font database of the rasteriser: the embedded DejaVu faces, as the
/// `sans-serif` family.
fn fonts() -> std::sync::Arc<resvg::usvg::fontdb::Database> {
    static DB: std::sync::OnceLock<std::sync::Arc<resvg::usvg::fontdb::Database>> =
        std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_font_data(dejavu::sans::regular().to_vec());
        db.load_font_data(dejavu::sans::bold().to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        std::sync::Arc::new(db)
    })
    .clone()
}

/// An SVG as PNG bytes, `scale` pixels per SVG pixel, on white.
pub fn rasterise(svg: &str, scale: f32) -> Result<Vec<u8>, String> {
    use resvg::{tiny_skia, usvg};
    let options = usvg::Options {
        fontdb: fonts(),
        font_family: "DejaVu Sans".into(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| e.to_string())?;
    let size = tree.size();
    let w = (size.width() * scale).ceil() as u32;
    let h = (size.height() * scale).ceil() as u32;
    let mut pixmap = tiny_skia::Pixmap::new(w.max(1), h.max(1)).ok_or("the chart has no area")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| e.to_string())
}

// ---- Shared look -------------------------------------------------------

/// Ten distinguishable colours (Tableau 10), for channels and series.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub const INK: RGBColor = RGBColor(40, 40, 48);
pub const MUTED: RGBColor = RGBColor(110, 110, 120);
pub const GRID: RGBColor = RGBColor(225, 225, 230);
pub const BLUE: RGBColor = RGBColor(31, 119, 180);
pub const TARGET: RGBColor = RGBColor(200, 30, 45);
pub const PIPELINE: RGBColor = RGBColor(150, 150, 160);
pub const GOOD: RGBColor = RGBColor(44, 150, 70);

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// plotters writes SVG text at 1/1.24 of the size it lays out with; the
/// text styles below ask for this much more, so that a chart scaled to a
/// page column still reads at about the size named.
const TEXT_SCALE: f64 = 1.2;

pub fn font(size: f64) -> TextStyle<'static> {
    ("sans-serif", size * TEXT_SCALE).into_font().color(&INK)
}

pub fn bold(size: f64) -> TextStyle<'static> {
    ("sans-serif", size * TEXT_SCALE, FontStyle::Bold)
        .into_font()
        .color(&INK)
}

pub fn muted(size: f64) -> TextStyle<'static> {
    ("sans-serif", size * TEXT_SCALE).into_font().color(&MUTED)
}

/// Writes a title and a subtitle at the top; returns the area below.
pub fn heading<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, DrawError> {
    root.draw(&Text::new(title.to_string(), (24, 16), bold(22.0)))?;
    if !subtitle.is_empty() {
        root.draw(&Text::new(subtitle.to_string(), (24, 46), muted(15.0)))?;
    }
    let (_, rest) = root.split_vertically(if subtitle.is_empty() { 52 } else { 74 });
    Ok(rest)
}

/// Text at absolute pixel coordinates, anchored.
pub fn label<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    (x, y): (i32, i32),
    style: TextStyle<'static>,
    h: HPos,
    v: VPos,
) -> Drawn {
    root.draw(&Text::new(
        text.to_string(),
        (x, y),
        style.pos(Pos::new(h, v)),
    ))?;
    Ok(())
}

/// A label on a white box, for text placed over lines and bars.
pub fn boxed_label<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    (x, y): (i32, i32),
    style: TextStyle<'static>,
    h: HPos,
    v: VPos,
) -> Drawn {
    let (w, ht) = root.estimate_text_size(text, &style)?;
    let (w, ht) = (w as i32, ht as i32);
    let left = match h {
        HPos::Left => x,
        HPos::Center => x - w / 2,
        HPos::Right => x - w,
    };
    let top = match v {
        VPos::Top => y,
        VPos::Center => y - ht / 2,
        VPos::Bottom => y - ht,
    };
    let pad = 3;
    root.draw(&Rectangle::new(
        [(left - pad, top - pad), (left + w + pad, top + ht + pad)],
        WHITE.mix(0.9).filled(),
    ))?;
    label(root, text, (x, y), style, h, v)
}

/// Short money for axis ticks: $0, $750K, $1.2M, $15M, $2.5B.
pub fn money_tick(x: f64) -> String {
    let sign = if x < -0.5 { "-" } else { "" };
    let a = x.abs();
    let short = |v: f64, unit: &str| {
        let s = if v >= 100.0 || (v - v.round()).abs() < 0.05 {
            format!("{:.0}", v)
        } else {
            format!("{:.1}", v)
        };
        format!("{sign}${s}{unit}")
    };
    if a >= 1e9 {
        short(a / 1e9, "B")
    } else if a >= 1e6 {
        short(a / 1e6, "M")
    } else if a >= 1e3 {
        short(a / 1e3, "K")
    } else {
        format!("{sign}${:.0}", a)
    }
}

/// Counts for axis ticks: 950, 1.2K, 26K.
pub fn count_tick(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}K", x / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}K", x / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// A percentage tick: 0%, 45%.
pub fn pct_tick(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

/// The upper end of an axis: the largest value plus a margin, never zero.
pub fn top(values: impl IntoIterator<Item = f64>, margin: f64) -> f64 {
    let m = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    if m > 0.0 { m * (1.0 + margin) } else { 1.0 }
}

/// A legend swatch: a filled bar.
pub fn swatch(c: RGBAColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], c.filled())
}

/// A legend stroke: a short line.
pub fn stroke(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style)
}

/// Draws the series legend in the given corner.
pub fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(at)
        .label_font(font(13.0))
        .background_style(WHITE.mix(0.9))
        .border_style(GRID)
        .margin(8)
        .draw()?;
    Ok(())
}

/// One panel of a figure of stacked panels: its caption above, `x_labels`
/// and `y_labels` pixels for the tick labels below and to the left.
pub fn panel<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    x_labels: u32,
    y_labels: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.margin(14)
        .margin_top(4)
        .caption(caption, bold(15.0))
        .x_label_area_size(x_labels)
        .y_label_area_size(y_labels);
    b
}

/// The house grid: light lines only at the labelled ticks, muted axes and
/// tick labels of `size` points. The caller adds formatters and draws.
pub fn mesh<'a, 'b, X, Y, DB>(
    chart: &'b mut ChartContext<'a, DB, plotters::coord::cartesian::Cartesian2d<X, Y>>,
    size: f64,
) -> plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
    DB: DrawingBackend,
{
    let mut m = chart.configure_mesh();
    m.light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .label_style(font(size));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(money_tick(0.0), "$0");
        assert_eq!(money_tick(750_000.0), "$750K");
        assert_eq!(money_tick(1_200_000.0), "$1.2M");
        assert_eq!(money_tick(9_000_000.0), "$9M");
        assert_eq!(money_tick(-2_500.0), "-$2.5K");
        assert_eq!(money_tick(120_000_000.0), "$120M");
        assert_eq!(count_tick(950.0), "950");
        assert_eq!(count_tick(1_250.0), "1.2K");
        assert_eq!(count_tick(26_000.0), "26K");
        assert_eq!(pct_tick(0.45), "45%");
        assert_eq!(top([1.0, f64::NAN, 3.0], 0.1), 3.3000000000000003);
        assert_eq!(top([], 0.1), 1.0);
    }
}

//! The trend as a picture: weekly ticket volume (bars, resolved in a
//! darker shade) above the weekly median and 90th-percentile time to
//! resolve (lines, hours), drawn with plotters into a buffer and written
//! as PNG. Text needs a TrueType font, which the caller supplies.

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::report::{Figures, Report, iso_week};

/// The picture's size in pixels.
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 800;

/// Why a chart was not drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the font cannot be read as TrueType/OpenType")]
    BadFont,
    #[error("drawing the chart: {0}")]
    Draw(String),
    #[error("encoding the PNG: {0}")]
    Encode(#[from] png::EncodingError),
}

/// The font family name the chart registers its font under.
const FAMILY: &str = "tether-chart";

/// Draws `weekly` (a report grouped by week) as a PNG, with text in `font`
/// (TTF/OTF bytes; registered once per process under a private name).
pub fn weekly_trend(weekly: &Report, font: &'static [u8]) -> Result<Vec<u8>, ChartError> {
    register_font(FAMILY, FontStyle::Normal, font).map_err(|_| ChartError::BadFont)?;
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(weekly, &mut pixels).map_err(|e| ChartError::Draw(e.to_string()))?;
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
    }
    Ok(out)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// The most weeks a chart shows (ten years); a longer period shows its
/// last ten years.
const MAX_WEEKS: i64 = 520;

/// Every ISO week from the report's `since` to its `now`, each with its
/// figures or `None` when no ticket was opened in it, so the x axis is
/// time and a quiet week shows as a gap rather than vanishing.
pub fn week_slots(weekly: &Report) -> Vec<(String, Option<&Figures>)> {
    const WEEK: i64 = 7 * 86_400;
    let first = weekly.since.max(weekly.now.saturating_sub(MAX_WEEKS.saturating_mul(WEEK)));
    let mut slots: Vec<(String, Option<&Figures>)> = Vec::new();
    let mut at = first;
    while at <= weekly.now || slots.last().is_none_or(|(w, _)| *w != iso_week(weekly.now)) {
        let week = iso_week(at);
        if slots.last().is_none_or(|(w, _)| *w != week) {
            let figures = weekly.groups.iter().find(|g| g.key == week).map(|g| &g.figures);
            slots.push((week, figures));
        }
        match at.checked_add(WEEK) {
            Some(next) => at = next,
            None => break,
        }
        if slots.len() as i64 > MAX_WEEKS + 2 {
            break;
        }
    }
    slots
}

fn draw(weekly: &Report, pixels: &mut [u8]) -> DrawResult {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(HEIGHT / 2);
    let slots = week_slots(weekly);
    let weeks: Vec<&str> = slots.iter().map(|(w, _)| w.as_str()).collect();
    // Both panels share one x axis: week i is centred on i.
    let n = weeks.len().max(1);
    let x_range = -0.5..n as f64 - 0.5;
    let label = |x: &f64| {
        let i = x.round();
        match weeks.get(i as usize) {
            Some(week) if (x - i).abs() < 0.01 && i >= 0.0 => (*week).to_owned(),
            _ => String::new(),
        }
    };
    let font = |size| (FAMILY, size).into_font();

    let filled = || slots.iter().enumerate().filter_map(|(i, (_, f))| f.map(|f| (i, f)));
    let max_volume = filled().map(|(_, f)| f.volume).max().unwrap_or(0).max(1);
    let mut volume = ChartBuilder::on(&top)
        .caption("Tickets opened per week (dark: resolved)", font(24))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range.clone(), 0..max_volume + max_volume / 10 + 1)?;
    volume
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(12))
        .x_label_formatter(&label)
        .label_style(font(14))
        .y_desc("tickets")
        .draw()?;
    let bars = |value: fn(&crate::report::Figures) -> u64, color: RGBColor| {
        filled().map(move |(i, f)| {
            let x = i as f64;
            Rectangle::new([(x - 0.4, 0), (x + 0.4, value(f))], color.filled())
        })
    };
    volume.draw_series(bars(|f| f.volume, RGBColor(158, 202, 225)))?;
    volume.draw_series(bars(|f| f.resolved, RGBColor(49, 130, 189)))?;

    let hours = |secs: Option<i64>| secs.map(|s| s as f64 / 3600.0);
    let max_hours = filled().filter_map(|(_, f)| hours(f.p90_resolve_secs)).fold(1.0_f64, f64::max);
    let mut resolve = ChartBuilder::on(&bottom)
        .caption("Time to resolve (hours): median and 90th percentile", font(24))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, 0.0..max_hours * 1.1)?;
    resolve
        .configure_mesh()
        .x_labels(n.min(12))
        .x_label_formatter(&label)
        .label_style(font(14))
        .y_desc("hours")
        .draw()?;
    let series = |value: fn(&crate::report::Figures) -> Option<i64>| {
        filled().filter_map(move |(i, f)| hours(value(f)).map(|h| (i as f64, h)))
    };
    let median_color = RGBColor(49, 130, 189);
    let p90_color = RGBColor(230, 85, 13);
    resolve
        .draw_series(LineSeries::new(
            series(|f| f.median_resolve_secs),
            median_color.stroke_width(3),
        ))?
        .label("median")
        .legend(move |(x, y)| {
            PathElement::new([(x, y), (x + 20, y)], median_color.stroke_width(3))
        });
    resolve
        .draw_series(LineSeries::new(series(|f| f.p90_resolve_secs), p90_color.stroke_width(3)))?
        .label("90th percentile")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], p90_color.stroke_width(3)));
    resolve
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(font(14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Priority, TicketId, TicketSummary};
    use crate::report::{GroupBy, compute};

    /// The font the Debian package recommends (fonts-dejavu-core).
    const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    #[test]
    fn the_trend_is_a_png_of_the_stated_size() {
        let font =
            std::fs::read(FONT).unwrap_or_else(|e| panic!("{FONT} (fonts-dejavu-core): {e}"));
        let font: &'static [u8] = Box::leak(font.into_boxed_slice());
        let rows: Vec<TicketSummary> = (0..40)
            .map(|i| TicketSummary {
                id: TicketId(i),
                category: Category::Network,
                priority: Priority::P3,
                host: None,
                requester: "r".into(),
                technician: "t".into(),
                opened_at: 1_793_610_000 + i * 86_400 / 2,
                due_at: 1_793_610_000 + i * 86_400,
                resolved_at: (i % 3 != 0).then_some(1_793_610_000 + i * 86_400 / 2 + i * 3_600),
                first_resolved_at: None,
                max_tier: 1,
                escalations: 0,
                reopens: 0,
            })
            .collect();
        let report = compute(&rows, GroupBy::Week, 0, 1_800_000_000);
        let png_bytes = weekly_trend(&report, font).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (WIDTH, HEIGHT));
        assert!(matches!(weekly_trend(&report, b"not a font"), Err(ChartError::BadFont)));
    }

    #[test]
    fn quiet_weeks_keep_their_place_on_the_axis() {
        const T0: i64 = 1_793_610_000; // Monday 2026-11-02, ISO week 45.
        let row = |id: i64, at: i64| TicketSummary {
            id: TicketId(id),
            category: Category::Network,
            priority: Priority::P3,
            host: None,
            requester: "r".into(),
            technician: "t".into(),
            opened_at: at,
            due_at: at,
            resolved_at: None,
            first_resolved_at: None,
            max_tier: 1,
            escalations: 0,
            reopens: 0,
        };
        let week = 7 * 86_400;
        let rows = [row(1, T0), row(2, T0 + 3 * week)];
        let report = compute(&rows, GroupBy::Week, T0 - week, T0 + 3 * week + 1);
        let slots = week_slots(&report);
        let names: Vec<&str> = slots.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(names, ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48"]);
        let volumes: Vec<u64> = slots.iter().map(|(_, f)| f.map_or(0, |f| f.volume)).collect();
        assert_eq!(volumes, [0, 1, 0, 0, 1]);
    }
}

//! The SVG picture of one or several reports: `--chart out.svg` after a run, and
//! `permit-load chart --out cmp.svg a.json b.json …` to compare saved runs.
//!
//! Two panels, one line per report (legend = report labels):
//!
//! 1. latency by percentile: x on the "nines" scale (0, 90, 99, 99.9, 99.99 % at equal
//!    steps), y = latency in µs on a log scale, so a fast median and a slow tail fit together;
//! 2. throughput: answers per second over the seconds of measurement.
//!
//! Only plotters' SVG backend is used: the text is SVG `<text>`, no font files are read.

use std::path::Path;

use plotters::prelude::*;

use crate::limits::REPORTS_PER_CHART_MAX;
use crate::report::Report;

const WIDTH_PX: u32 = 1100;
const HEIGHT_PX: u32 = 960;
/// Timeline points covering less than this much of a second are left out (too noisy).
const SPAN_MIN_S: f64 = 0.2;

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("no reports to draw")]
    Empty,
    #[error("at most {REPORTS_PER_CHART_MAX} reports fit on one chart")]
    TooMany,
    #[error("drawing {path}: {message}")]
    Draw { path: String, message: String },
}

/// The axis label for a point on the nines scale: 0 → "0", 1 → "90", 3 → "99.9".
pub fn nines_label(nines: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-nines));
    let decimals = (nines.ceil() as i64 - 2).max(0) as usize;
    let text = format!("{p:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Draws `reports` into an SVG file at `path`.
pub fn draw(reports: &[Report], path: &Path) -> Result<(), ChartError> {
    if reports.is_empty() {
        return Err(ChartError::Empty);
    }
    if reports.len() > REPORTS_PER_CHART_MAX {
        return Err(ChartError::TooMany);
    }
    draw_inner(reports, path).map_err(|e| ChartError::Draw {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_inner(reports: &[Report], path: &Path) -> DrawResult {
    let root = SVGBackend::new(path, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = match reports {
        [one] => format!("permit-load: {}", one.label),
        _ => format!("permit-load: {} runs compared", reports.len()),
    };
    let root = root.titled(&title, ("sans-serif", 26))?;
    let (top, bottom) = root.split_vertically(HEIGHT_PX * 55 / 100);
    draw_percentiles(reports, &top)?;
    draw_throughput(reports, &bottom)?;
    root.present()?;
    Ok(())
}

/// Tableau 10, then black and dark olive: distinguishable on white, in this order, one for each
/// report a chart may hold.
const COLORS: [RGBColor; REPORTS_PER_CHART_MAX] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0x6b, 0x6b, 0x00),
];

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

fn draw_percentiles<DB: DrawingBackend>(
    reports: &[Report],
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let curves = reports.iter().flat_map(|r| r.percentile_curve.iter());
    let depth = curves
        .clone()
        .map(|p| p.nines)
        .fold(1.0f64, f64::max)
        .ceil();
    let lo = curves
        .clone()
        .map(|p| p.latency_us)
        .min()
        .unwrap_or(1)
        .max(1) as f64;
    let hi = curves.map(|p| p.latency_us).max().unwrap_or(10).max(2) as f64;
    let (lo, hi) = (lo / 1.5, hi * 1.5);
    let mut chart = ChartBuilder::on(area)
        .caption("Latency by percentile", ("sans-serif", 20))
        .margin(18)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..depth, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(depth as usize + 1)
        .x_desc("percentile (%)")
        .y_desc("latency (log scale)")
        .x_label_formatter(&|x| nines_label(*x))
        .y_label_formatter(&|y| format_us(*y))
        .draw()?;
    for (i, r) in reports.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(
                r.percentile_curve
                    .iter()
                    .map(|p| (p.nines, (p.latency_us.max(1) as f64).max(lo))),
                c.stroke_width(2),
            ))?
            .label(legend_text(r))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn draw_throughput<DB: DrawingBackend>(
    reports: &[Report],
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let points = |r: &Report| -> Vec<(f64, f64)> {
        r.timeline
            .iter()
            .filter(|p| p.span_s >= SPAN_MIN_S)
            .map(|p| (p.second as f64 + p.span_s / 2.0, p.rps))
            .collect()
    };
    let all: Vec<Vec<(f64, f64)>> = reports.iter().map(points).collect();
    let x_max = all
        .iter()
        .flatten()
        .map(|p| p.0)
        .fold(1.0f64, f64::max)
        .ceil();
    let y_max = all.iter().flatten().map(|p| p.1).fold(1.0f64, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("Throughput", ("sans-serif", 20))
        .margin(18)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("seconds of measurement")
        .y_desc("answers per second")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for (i, (r, pts)) in reports.iter().zip(all).enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(format!(
                "{} ({:.0} req/s)",
                r.label, r.totals.throughput_rps
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn legend_text(r: &Report) -> String {
    let l = &r.latency_us;
    format!(
        "{} (p50 {} µs, p99 {} µs, max {} µs)",
        r.label, l.p50, l.p99, l.max
    )
}

/// An axis label for `v` µs: `20 µs`, `1.5 ms`, `2 s`.
pub fn format_us(v: f64) -> String {
    let (value, unit) = if v >= 1e6 {
        (v / 1e6, "s")
    } else if v >= 1e3 {
        (v / 1e3, "ms")
    } else {
        (v, "µs")
    };
    let text = format!("{value:.1}");
    format!(
        "{} {unit}",
        text.trim_end_matches('0').trim_end_matches('.')
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::synthetic_report;

    #[test]
    fn nines_labels() {
        // Proves the nines axis is labelled 0, 90, 99, 99.9, 99.99.
        let labels: Vec<String> = (0..5).map(|x| nines_label(f64::from(x))).collect();
        assert_eq!(labels, ["0", "90", "99", "99.9", "99.99"]);
    }

    #[test]
    fn latency_axis_labels() {
        // Proves latency axis labels carry a unit scaled to the value.
        assert_eq!(format_us(20.0), "20 µs");
        assert_eq!(format_us(1500.0), "1.5 ms");
        assert_eq!(format_us(10_000.0), "10 ms");
        assert_eq!(format_us(2_000_000.0), "2 s");
    }

    #[test]
    fn writes_an_svg_with_labels() {
        // Proves the chart file is written as SVG and carries the titles, axis labels and every
        // report's label.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cmp.svg");
        let reports = [
            synthetic_report("run-alpha", 20_000, false),
            synthetic_report("run-beta", 5_000, true),
        ];
        draw(&reports, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "{}",
            &svg[..80.min(svg.len())]
        );
        for text in [
            "Latency by percentile",
            "Throughput",
            "run-alpha",
            "run-beta",
            "99.9",
            "percentile (%)",
        ] {
            assert!(svg.contains(text), "missing {text:?}");
        }
    }

    #[test]
    fn refuses_no_reports_and_too_many() {
        // Proves an empty list and more than the limit are refused before anything is drawn.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.svg");
        assert!(matches!(draw(&[], &path), Err(ChartError::Empty)));
        let many = vec![synthetic_report("r", 100, false); REPORTS_PER_CHART_MAX + 1];
        assert!(matches!(draw(&many, &path), Err(ChartError::TooMany)));
        assert!(!path.exists());
    }
}

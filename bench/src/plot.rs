//! SVG plots of throughput: by engine over threads, and over batch size.

use crate::report::{table_name, Row};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Points of each engine.
type Series = BTreeMap<String, Vec<(f64, f64)>>;

/// One small chart: a title and one line per engine.
struct Panel {
    title: String,
    series: Series,
}

fn color_of(engine: &str) -> RGBColor {
    match engine {
        "numashard" => RGBColor(214, 39, 40),
        "numashard-delegate" => RGBColor(255, 127, 14),
        "dashmap" => RGBColor(31, 119, 180),
        "scc" => RGBColor(44, 160, 44),
        "papaya" => RGBColor(148, 103, 189),
        "rwlock16" => RGBColor(127, 127, 127),
        _ => RGBColor(23, 190, 207),
    }
}

fn draw(
    path: &Path,
    title: &str,
    x_desc: &str,
    x_label: &dyn Fn(f64) -> String,
    panels: &[Panel],
) -> Result<(), String> {
    if panels.is_empty() {
        return Ok(());
    }
    let cols = panels.len().min(3);
    let rows = panels.len().div_ceil(cols);
    let root = SVGBackend::new(path, (cols as u32 * 470, rows as u32 * 330 + 40)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(err)?;
    for (area, panel) in root.split_evenly((rows, cols)).iter().zip(panels) {
        let points = panel.series.values().flatten();
        let (mut x_min, mut x_max, mut y_max) = (f64::MAX, f64::MIN, 0f64);
        for &(x, y) in points {
            x_min = x_min.min(x);
            x_max = x_max.max(x);
            y_max = y_max.max(y);
        }
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d((x_min - 0.5)..(x_max + 0.5), 0f64..(y_max * 1.25).max(0.1))
            .map_err(err)?;
        let ticks = ((x_max - x_min) * 2.0) as usize + 3;
        let label = |x: &f64| if (x - x.round()).abs() < 1e-6 { x_label(x.round()) } else { String::new() };
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("Mops/s")
            .x_labels(ticks)
            .x_label_formatter(&label)
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        for (engine, pts) in &panel.series {
            let color = color_of(engine);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?
                .label(engine.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

fn sorted(mut series: Series) -> Series {
    for pts in series.values_mut() {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

/// Throughput by engine over threads, one panel per table/workload/distribution/mode
/// with at least two thread counts.
pub fn by_threads(rows: &[Row], path: &Path) -> Result<(), String> {
    let mut panels: BTreeMap<(u64, String, String, String, usize), Series> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.stall.is_none()) {
        panels
            .entry((r.entries, r.workload.clone(), r.distribution.clone(), r.mode.clone(), r.batch))
            .or_default()
            .entry(r.engine.clone())
            .or_default()
            .push((r.threads as f64, r.mops));
    }
    let panels: Vec<Panel> = panels
        .into_iter()
        .filter(|(_, series)| series.values().any(|pts| pts.len() >= 2))
        .map(|((entries, workload, dist, mode, batch), series)| Panel {
            title: format!(
                "{} {workload} {dist} · {}",
                table_name(entries),
                if mode == "batch" { format!("batch {batch}") } else { mode }
            ),
            series: sorted(series),
        })
        .collect();
    draw(path, "numashard-bench: throughput by threads", "client threads", &|x| format!("{x}"), &panels)
}

/// Throughput by engine over batch size (log scale; single calls at the left),
/// one panel per table/workload/distribution/threads with at least two modes.
pub fn by_batch(rows: &[Row], path: &Path) -> Result<(), String> {
    let mut panels: BTreeMap<(u64, String, String, usize), Series> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.stall.is_none()) {
        let x = if r.mode == "batch" { (r.batch as f64).log2() } else { -1.0 };
        panels
            .entry((r.entries, r.workload.clone(), r.distribution.clone(), r.threads))
            .or_default()
            .entry(r.engine.clone())
            .or_default()
            .push((x, r.mops));
    }
    let panels: Vec<Panel> = panels
        .into_iter()
        .filter(|(_, series)| series.values().any(|pts| pts.len() >= 2))
        .map(|((entries, workload, dist, threads), series)| Panel {
            title: format!("{} {workload} {dist} · {threads} thread(s)", table_name(entries)),
            series: sorted(series),
        })
        .collect();
    let label = |x: f64| if x < 0.0 { "single".to_string() } else { format!("{}", 1u64 << x as u32) };
    draw(
        path,
        "numashard-bench: throughput (ops) by batch size",
        "ops per batch (single = one call per op)",
        &label,
        &panels,
    )
}

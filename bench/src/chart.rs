//! The ingest chart: events per second against batch size, for the service
//! and for COPY, both axes logarithmic.

use crate::ingest::SweepPoint;
use anyhow::{Result, anyhow};
use plotters::prelude::*;
use std::path::Path;

pub fn draw(path: &Path, points: &[SweepPoint]) -> Result<()> {
    let service: Vec<(f64, f64)> = points
        .iter()
        .map(|point| (point.batch_size as f64, point.service.per_second()))
        .collect();
    let copy: Vec<(f64, f64)> = points
        .iter()
        .map(|point| (point.batch_size as f64, point.copy.per_second()))
        .collect();
    let rates = service.iter().chain(&copy).map(|(_, rate)| *rate);
    let low = rates.clone().fold(f64::INFINITY, f64::min).max(1.0) / 2.0;
    let high = rates.fold(1.0, f64::max) * 2.0;
    let largest_batch = points
        .iter()
        .map(|point| point.batch_size as f64)
        .fold(10.0, f64::max);

    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)
        .map_err(|error| anyhow!("chart: {error}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Batch ingest: events/s by batch size", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (0.8f64..largest_batch * 1.25).log_scale(),
            (low..high).log_scale(),
        )
        .map_err(|error| anyhow!("chart: {error}"))?;
    chart
        .configure_mesh()
        .x_desc("entries per batch (one transaction each)")
        .y_desc("events/s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|error| anyhow!("chart: {error}"))?;
    for (label, series, color) in [
        ("binary COPY (ceiling)", &copy, RGBColor(200, 80, 40)),
        ("AppendAuditLogs", &service, RGBColor(40, 90, 200)),
    ] {
        chart
            .draw_series(LineSeries::new(
                series.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|error| anyhow!("chart: {error}"))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                series
                    .iter()
                    .map(|point| Circle::new(*point, 4, color.filled())),
            )
            .map_err(|error| anyhow!("chart: {error}"))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|error| anyhow!("chart: {error}"))?;
    root.present().map_err(|error| anyhow!("chart: {error}"))?;
    Ok(())
}

//! The figures table: every measured figure beside its ceiling and target.

use super::*;

impl Report {
    pub(super) fn figures(&self) -> Vec<Figure> {
        let mut figures = Vec::new();
        let (service, copy) = &self.ingest;
        figures.push(at_least(
            format!(
                "Batch ingest, {} events, batches of {} (mean {:.0}), {} clients",
                self.events, self.batch_size, self.mean_batch, self.clients
            ),
            rate(service),
            format!("{} (binary COPY)", rate(copy)),
            service.per_second() / copy.per_second(),
            0.70,
        ));
        for point in &self.sweep {
            figures.push(Figure {
                name: format!(
                    "Ingest at batch size {} ({} events sample)",
                    point.batch_size, point.events
                ),
                service: rate(&point.service),
                ceiling: format!("{} (binary COPY)", rate(&point.copy)),
                ratio: point.service.per_second() / point.copy.per_second(),
                target: "—".into(),
                pass: None,
                miss: String::new(),
            });
        }
        for single in &self.singles {
            let spread = match single.spread {
                Spread::AllTenants => "spread over 64 tenants",
                Spread::OneTenant => "one tenant",
            };
            figures.push(at_least(
                format!(
                    "Single appends, {spread}, {} calls, {} clients",
                    single.service.events, self.clients
                ),
                rate(&single.service),
                format!(
                    "{} (direct INSERT under the head lock)",
                    rate(&single.direct)
                ),
                single.service.per_second() / single.direct.per_second(),
                0.80,
            ));
        }
        for page in &self.pages {
            let direct = page.direct.p99.as_secs_f64();
            let allowed = (direct * 1.3).max(direct + 0.001);
            let service = page.service.p99.as_secs_f64();
            let pass = service <= allowed;
            let position = if page.deep { "after 90%" } else { "first" };
            figures.push(Figure {
                name: format!(
                    "List page p99, {}, {position} ({} matching)",
                    page.filter, page.matching
                ),
                service: format!("{} (p50 {})", ms(page.service.p99), ms(page.service.p50)),
                ceiling: format!("{} (p50 {})", ms(page.direct.p99), ms(page.direct.p50)),
                ratio: service / direct.max(1e-9),
                target: format!("≤ {:.2} ms", allowed * 1000.0),
                pass: Some(pass),
                miss: if pass {
                    String::new()
                } else {
                    format!(
                        "p99 {:.2} ms where ≤ {:.2} ms is wanted: {:.2} ms over",
                        service * 1000.0,
                        allowed * 1000.0,
                        (service - allowed) * 1000.0
                    )
                },
            });
        }
        for deep in self.pages.iter().filter(|page| page.deep) {
            let Some(first) = self
                .pages
                .iter()
                .find(|page| !page.deep && page.filter == deep.filter)
            else {
                continue;
            };
            let ratio = deep.service.p99.as_secs_f64() / first.service.p99.as_secs_f64().max(1e-9);
            let pass = ratio <= 1.5;
            figures.push(Figure {
                name: format!("Deep page / first page (service p99), {}", deep.filter),
                service: ms(deep.service.p99),
                ceiling: format!("{} (first page)", ms(first.service.p99)),
                ratio,
                target: "≤ 1.50".into(),
                pass: Some(pass),
                miss: if pass {
                    String::new()
                } else {
                    format!("{ratio:.2}× the first page where ≤ 1.50× is wanted")
                },
            });
        }
        let export = &self.export;
        figures.push(at_least(
            format!(
                "Export of the largest tenant ({} entries, newest first)",
                export.service.events
            ),
            format!(
                "{} ({:.1} MB of messages)",
                rate(&export.service),
                export.service_bytes as f64 / 1e6
            ),
            format!(
                "{} (COPY TO, {:.1} MB)",
                rate(&export.copy),
                export.copy_bytes as f64 / 1e6
            ),
            export.service.per_second() / export.copy.per_second(),
            0.50,
        ));
        for stats in &self.stats {
            let ratio = stats.service.as_secs_f64() / stats.direct.as_secs_f64().max(1e-9);
            let pass = ratio <= 2.0;
            figures.push(Figure {
                name: format!("GetAuditStats, {} ({} entries)", stats.window, stats.total),
                service: ms(stats.service),
                ceiling: format!("{} (the six SELECTs)", ms(stats.direct)),
                ratio,
                target: "≤ 2.00".into(),
                pass: Some(pass),
                miss: if pass {
                    String::new()
                } else {
                    format!("{ratio:.2}× the direct SQL where ≤ 2× is wanted")
                },
            });
        }
        let mib = self.high_water_mark as f64 / (1024.0 * 1024.0);
        let pass = mib < 200.0;
        figures.push(Figure {
            name: "Server peak memory (VmHWM)".into(),
            service: format!("{mib:.0} MiB"),
            ceiling: "—".into(),
            ratio: mib / 200.0,
            target: "< 200 MiB".into(),
            pass: Some(pass),
            miss: if pass {
                String::new()
            } else {
                format!(
                    "{mib:.0} MiB where < 200 MiB is wanted: {:.0} MiB over",
                    mib - 200.0
                )
            },
        });
        figures
    }
}

//! BENCHMARKS.md: the machine, the command, every figure beside its
//! ceiling with the ratio, the target and pass/miss, the misses quantified,
//! and the pg_stat_statements evidence of each phase.

use crate::appends::Spread;
use crate::db::{RoleTotals, StatementStat};
use crate::export::ExportResult;
use crate::ingest::{Rate, SweepPoint};
use crate::machine::Machine;
use crate::pages::PageResult;
use crate::stats::StatsResult;
use std::fmt::Write;
use std::time::Duration;

/// What one phase left in pg_stat_statements and in the server's memory.
#[derive(Debug, Clone)]
pub struct PhaseEvidence {
    pub phase: &'static str,
    pub peak_rss: u64,
    pub roles: Vec<RoleTotals>,
    pub top: Vec<StatementStat>,
    /// RPCs the service side made in the phase, and operations (COPYs,
    /// transactions, SELECTs) the ceiling side made: the divisors of the
    /// per-call columns.
    pub service_calls: u64,
    pub ceiling_calls: u64,
}

/// Single appends at one spread.
#[derive(Debug, Clone, Copy)]
pub struct SingleAppends {
    pub spread: Spread,
    pub service: Rate,
    pub direct: Rate,
}

/// Everything one run measured.
pub struct Report {
    pub machine: Machine,
    pub postgres: String,
    /// The cluster's settings that differ from the defaults.
    pub postgres_settings: String,
    pub command: String,
    pub events: u64,
    pub clients: usize,
    pub batch_size: u64,
    pub mean_batch: f64,
    pub seed: u64,
    pub page_samples: usize,
    pub indexes: (i64, i64),
    /// Partitions of `audit_logs` and of `ceiling_logs` (0: not partitioned).
    pub partitions: (i64, i64),
    pub ingest: (Rate, Rate),
    pub sweep: Vec<SweepPoint>,
    pub singles: Vec<SingleAppends>,
    pub pages: Vec<PageResult>,
    pub export: ExportResult,
    pub stats: Vec<StatsResult>,
    pub high_water_mark: u64,
    pub evidence: Vec<PhaseEvidence>,
    pub chart_link: String,
    pub run_time: Duration,
    /// The 1-minute load average at the start and at the end of the run.
    pub load: (f64, f64),
}

/// One row of the figures table.
struct Figure {
    name: String,
    service: String,
    ceiling: String,
    ratio: f64,
    target: String,
    /// None for figures without a target (the batch-size sweep).
    pass: Option<bool>,
    /// How far from the target, for a miss.
    miss: String,
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn rate(rate: &Rate) -> String {
    format!("{:.0}/s", rate.per_second())
}

fn at_least(name: String, service: String, ceiling: String, ratio: f64, target: f64) -> Figure {
    let pass = ratio >= target;
    Figure {
        name,
        service,
        ceiling,
        ratio,
        target: format!("≥ {target:.2}"),
        pass: Some(pass),
        miss: if pass {
            String::new()
        } else {
            format!(
                "{ratio:.2} of the ceiling where {target:.2} is wanted: {:.0}% short",
                (1.0 - ratio / target) * 100.0
            )
        },
    }
}

impl Report {
    fn figures(&self) -> Vec<Figure> {
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

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let figures = self.figures();
        let scored: Vec<&Figure> = figures.iter().filter(|f| f.pass.is_some()).collect();
        let passed = scored.iter().filter(|f| f.pass == Some(true)).count();
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Written by `audit-bench` (crate `bench/`): the service next to what the same \
             Postgres does directly, in one run on one cluster. {passed} of {} targets met. \
             The whole run took {:.0} s.\n",
            scored.len(),
            self.run_time.as_secs_f64()
        );
        let _ = writeln!(out, "## Machine\n");
        let m = &self.machine;
        let _ = writeln!(
            out,
            "- CPU: {} ({} cores)\n- Memory: {:.1} GiB\n- Kernel: {}\n- Postgres: {} \
             (throwaway cluster, Unix socket; defaults except {}: fsync and synchronous_commit \
             on)\n- Load average (1 min) at the start and end of the run: {:.1} and {:.1} (other \
             work shares the cores)\n",
            m.cpu,
            m.cores,
            m.memory_gib,
            m.kernel,
            self.postgres,
            self.postgres_settings,
            self.load.0,
            self.load.1
        );
        let _ = writeln!(out, "## Command\n\n```sh\n{}\n```\n", self.command);
        let _ = writeln!(
            out,
            "Data set (seed {}): {} events over 64 tenants (the largest holds a quarter), 12 \
             months of `occurred_at`, 1,000 actors and 200 targets per tenant, 40 actions in \
             6 prefixes, 4 results, addresses in 300 /24 networks, 100–500 bytes of metadata. \
             Client, server and Postgres share the machine's cores.\n",
            self.seed, self.events
        );
        let _ = writeln!(out, "## Figures\n");
        let _ = writeln!(
            out,
            "| figure | service | ceiling | ratio | target | result |\n|---|---|---|---|---|---|"
        );
        for figure in &figures {
            let result = match figure.pass {
                Some(true) => "pass",
                Some(false) => "**miss**",
                None => "—",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {} | {result} |",
                figure.name, figure.service, figure.ceiling, figure.ratio, figure.target
            );
        }
        let _ = writeln!(out, "\n![ingest rate by batch size]({})\n", self.chart_link);
        let misses: Vec<&Figure> = figures.iter().filter(|f| f.pass == Some(false)).collect();
        if !misses.is_empty() {
            let _ = writeln!(out, "## Missed targets\n");
            // One explanation per phase, after that phase's misses.
            let mut explained: Option<String> = None;
            for figure in misses {
                let explanation = self.explanation(&figure.name);
                if explained.as_ref().is_some_and(|last| *last != explanation) {
                    let _ = writeln!(out, "\n  {}\n", explained.take().unwrap_or_default());
                }
                let _ = writeln!(out, "- {}: {}.", figure.name, figure.miss);
                explained = Some(explanation);
            }
            if let Some(last) = explained {
                let _ = writeln!(out, "\n  {last}");
            }
            let _ = writeln!(out);
        }
        self.write_method(&mut out);
        self.write_evidence(&mut out);
        out
    }

    /// Per-call statements and Postgres time of one role in one phase.
    fn per_call(&self, phase: &str, role: &str) -> Option<(f64, f64)> {
        let evidence = self.evidence.iter().find(|e| e.phase == phase)?;
        let totals = evidence.roles.iter().find(|r| r.role == role)?;
        let calls = if role == crate::db::CEILING_ROLE {
            evidence.ceiling_calls
        } else {
            evidence.service_calls
        }
        .max(1) as f64;
        Some((totals.calls as f64 / calls, totals.total_ms / calls))
    }

    /// The measured reasons behind a missed figure, from the phase's
    /// pg_stat_statements read-out.
    fn explanation(&self, figure: &str) -> String {
        let phase = match figure {
            name if name.starts_with("Batch ingest") => "Batch ingest",
            name if name.starts_with("Single appends") => "Single appends",
            name if name.starts_with("List page") || name.starts_with("Deep page") => "List pages",
            name if name.starts_with("Export") => "Export",
            name if name.starts_with("GetAuditStats") => "Stats",
            _ => {
                let peaks: Vec<String> = self
                    .evidence
                    .iter()
                    .map(|e| format!("{} {:.0} MiB", e.phase, e.peak_rss as f64 / 1048576.0))
                    .collect();
                return format!("Peak RSS by phase: {}.", peaks.join(", "));
            }
        };
        let (Some(server), Some(ceiling)) = (
            self.per_call(phase, "postgres"),
            self.per_call(phase, crate::db::CEILING_ROLE),
        ) else {
            return String::new();
        };
        // What the server's code does per call beyond the ceiling's SQL
        // (server/src/store and server/src/rpc), to read the numbers by.
        let design = match phase {
            "Batch ingest" | "Single appends" => {
                "An append transaction is BEGIN, `SELECT … FOR UPDATE` on the chain heads of \
                 its tenants (a tenant row is inserted first only for a new tenant), the UNNEST \
                 INSERT whose CTE also moves the heads, and COMMIT: four round trips to the \
                 ceiling's five per call, plus the gRPC call. At most one append transaction \
                 per core runs at once; calls that arrive meanwhile, of any tenants, share the \
                 next one (group commit), so fewer statements than calls can run. Before the \
                 statements the service decodes and validates every entry, and under the lock \
                 computes each entry's canonical-JSON digest and chain hash, on the same two \
                 cores as Postgres, the client and the ceiling's client."
            }
            "List pages" => {
                "Each page read is its own read-only transaction, begun and named in one \
                 simple query (`BEGIN READ ONLY; SET LOCAL application_name = …`, so an \
                 abandoned call can be cancelled), then the page SELECT; the COMMIT is sent \
                 after the page is handed on: two round trips where the direct side has one. \
                 Then rows decoded by position into domain entries and protobuf (metadata \
                 JSON → Struct), a hop to the stream's task, HTTP/2 framing, and the client's \
                 decoding of the page (the direct side reads its rows into owned values, \
                 metadata parsed as JSON)."
            }
            "Export" => {
                "The export is one such page transaction per 1000 rows, the next page read \
                 while the current one is encoded and sent; each row is decoded and \
                 re-encoded as protobuf, where COPY streams Postgres' own binary rows from one \
                 statement."
            }
            _ => "The server runs the six aggregates in one read-only snapshot, as here.",
        };
        // A row lock wait counts as execution time: the head lock's mean
        // says how long appends queued behind others of the same tenant.
        let lock_wait = self
            .evidence
            .iter()
            .find(|e| e.phase == phase)
            .into_iter()
            .flat_map(|e| &e.top)
            .filter(|s| s.query.contains("FOR UPDATE"))
            .map(|s| {
                format!(
                    "`SELECT … FOR UPDATE` ({}) averaged {:.3} ms. ",
                    s.role, s.mean_ms
                )
            })
            .collect::<String>();
        let lock_wait = if lock_wait.is_empty() {
            String::new()
        } else {
            format!("Of that, the chain-head lock: {lock_wait}")
        };
        format!(
            "Per call the server ran {:.1} statements taking {:.3} ms inside Postgres; the \
             ceiling {:.1} statements taking {:.3} ms (pg_stat_statements, phase \"{phase}\" \
             below). {lock_wait}The rest of the gap is outside Postgres. {design}",
            server.0, server.1, ceiling.0, ceiling.1
        )
    }

    fn write_method(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## How each figure is taken\n\n\
             - **Batch ingest**: the events go through AppendAuditLogs from {c} connections, \
             each batch one tenant's and one transaction; the ceiling loads the same events \
             with one binary COPY per batch (also {c} connections) into `ceiling_logs`, made \
             `LIKE audit_logs INCLUDING ALL` ({} and {} indexes) and partitioned by the same \
             bounds ({} and {} partitions). Requests and COPY payloads \
             are built before the clock starts, 200 batches at a time; only sending is timed. \
             The ceiling's digest and hash columns are SHA-256 over the id, not the canonical \
             form. The batch-size sweep uses smaller samples (shown) of fresh events.\n\
             - **Single appends**: one entry per call, {c} calls in flight; the ceiling is \
             BEGIN, `SELECT … FROM ceiling_tenants … FOR UPDATE`, a one-row INSERT, the head \
             UPDATE and COMMIT on {c} connections. \"One tenant\" sends every call to the \
             largest tenant.\n\
             - **List pages**: the largest tenant, newest first, page_size 100 and limit 100 \
             (one page), {s} calls per row after 10 warm-up calls, alternating with the same \
             keyset SELECT run directly (prepared, LIMIT 101 as the server asks, every column \
             of every row read into an owned value, metadata parsed as JSON, as the \
             service's client decodes its page). The deep \
             page starts after 90% of the matches: the service gets the page token from \
             streaming that far, the direct SQL the position from an OFFSET query; both \
             start at the same entry (checked). Service time is until the page arrives.\n\
             - **Export**: the largest tenant's entries streamed in pages of 1000 against \
             `COPY (SELECT … ORDER BY occurred_at DESC, id DESC) TO STDOUT (FORMAT binary)`, \
             median of 3 runs each.\n\
             - **Stats**: GetAuditStats with an admin token across all tenants (day \
             histogram, top 10 actors), against the server's six aggregate SELECTs in one \
             repeatable-read transaction; median of 3.\n\
             - **Memory**: VmHWM of the server process at the end; VmRSS sampled every \
             100 ms for the per-phase peaks below.\n",
            self.indexes.0,
            self.indexes.1,
            self.partitions.0,
            self.partitions.1,
            c = self.clients,
            s = self.page_samples,
        );
    }

    fn write_evidence(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Evidence: pg_stat_statements by phase\n\n\
             Reset before each phase. `postgres` is the server's role, `ceiling` the direct \
             connections'. Execution time is inside Postgres only: what a side spends beyond \
             it goes to round trips, the driver, the ORM and gRPC.\n"
        );
        for phase in &self.evidence {
            let _ = writeln!(
                out,
                "### {}\n\nServer RSS peak in this phase: {:.0} MiB.\n",
                phase.phase,
                phase.peak_rss as f64 / (1024.0 * 1024.0)
            );
            let _ = writeln!(
                out,
                "| role | calls made | statements | per call | execution time | per call |\n\
                 |---|---|---|---|---|---|"
            );
            for role in &phase.roles {
                let calls = if role.role == crate::db::CEILING_ROLE {
                    phase.ceiling_calls
                } else {
                    phase.service_calls
                };
                let per_call = calls.max(1) as f64;
                let _ = writeln!(
                    out,
                    "| {} | {calls} | {} | {:.1} | {:.0} ms | {:.3} ms |",
                    role.role,
                    role.calls,
                    role.calls as f64 / per_call,
                    role.total_ms,
                    role.total_ms / per_call
                );
            }
            let _ = writeln!(
                out,
                "\n| role | statement | calls | mean | total |\n|---|---|---|---|---|"
            );
            for statement in &phase.top {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {:.3} ms | {:.0} ms |",
                    statement.role,
                    shorten(&statement.query),
                    statement.calls,
                    statement.mean_ms,
                    statement.total_ms
                );
            }
            let _ = writeln!(out);
        }
    }
}

/// One line of at most 110 characters, safe inside a table cell.
fn shorten(query: &str) -> String {
    let limit = 110;
    let flat: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat.replace('|', "\\|").replace('`', "'");
    if flat.chars().count() <= limit {
        return flat;
    }
    let cut: String = flat.chars().take(limit.saturating_sub(3)).collect();
    format!("{cut}…")
}

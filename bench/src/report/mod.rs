//! BENCHMARKS.md: the machine, the command, every figure beside its
//! ceiling with the ratio, the target and pass/miss, the misses quantified,
//! and the pg_stat_statements evidence of each phase.

//!
//! - `figures`: the table's rows and their targets
//! - `notes`: why each miss happens, and how each figure was measured
//! - `evidence`: the pg_stat_statements tables per phase

mod evidence;
mod figures;
mod notes;

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
}

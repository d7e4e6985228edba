//! `audit-bench`: issue 5's benchmark. Starts a throwaway Postgres and the
//! release `audit-server` against it, measures each figure beside its
//! ceiling (what the same Postgres does directly), and writes
//! BENCHMARKS.md and the ingest chart.
//!
//! ```text
//! cargo run --release -p audit-bench                       # the 1M run
//! cargo run --release -p audit-bench -- --events 10000000  # the 10M run
//! ```
//!
//! # Layout
//! - `dataset`: the seeded data set; `rows`, `copy_binary`: its two encodings
//! - `cluster`, `server`, `memory`, `db`, `client`: what runs and how it is reached
//! - `ingest`, `appends`, `pages`, `export`, `stats`: one module per figure
//! - `report`, `chart`, `machine`: the output

mod appends;
mod chart;
mod client;
mod cluster;
mod copy_binary;
mod counting_codec;
mod dataset;
mod db;
mod direct_row;
mod export;
mod ingest;
mod machine;
mod memory;
mod pages;
mod report;
mod rows;
mod server;
mod stats;

use anyhow::{Context, Result, bail};
use appends::Spread;
use clap::Parser;
use dataset::DataSet;
use ingest::{CeilingSequences, SweepPoint};
use memory::RssSampler;
use report::{PhaseEvidence, Report, SingleAppends};
use sqlx::PgConnection;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Measures the audit service against direct Postgres on a throwaway
/// cluster and writes BENCHMARKS.md.
#[derive(Parser, Debug)]
#[command(name = "audit-bench")]
struct Args {
    /// Events in the data set (the 10M run: --events 10000000).
    #[arg(long, default_value_t = DEFAULT_EVENTS)]
    events: u64,
    /// Concurrent clients (connections) for ingest and single appends.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Entries per AppendAuditLogs call (and per COPY) in the main ingest.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
    batch: u64,
    /// Calls per side for each page latency row. At 200 the p99 was the
    /// second-slowest call, and on this shared 2-core machine about 0.3% of
    /// the service's calls and 0.1% of the direct SELECTs take over 3 ms
    /// (up to 6.7; raw samples at 100,000 events, 1,000 calls per row), so
    /// whether a row passed hung on whether two of those fell in it. At
    /// 1,000 the p99 is the tenth-slowest call.
    #[arg(long, default_value_t = 1000)]
    page_samples: usize,
    /// Single-append calls per side over 64 tenants (default: events / 50,
    /// within 500..=20000); half as many for one tenant.
    #[arg(long)]
    single_appends: Option<u64>,
    /// The data set's seed.
    #[arg(long, default_value_t = 5)]
    seed: u64,
    /// Where to write the report (default: BENCHMARKS.md at the repo root
    /// for the default size, BENCHMARKS-<size>.md for another, e.g.
    /// BENCHMARKS-10M.md).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Where to draw the chart (default: bench/ingest.svg, or
    /// bench/ingest-<size>.svg, with the default output, else ingest.svg
    /// next to --output).
    #[arg(long)]
    chart: Option<PathBuf>,
}

/// The repository root: this crate's parent directory.
fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let (default_report, default_chart) = default_paths(args.events);
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| repo_root().join(default_report));
    let chart_path = match (&args.chart, &args.output) {
        (Some(chart), _) => chart.clone(),
        (None, Some(output)) => output.with_file_name("ingest.svg"),
        (None, None) => repo_root().join(default_chart),
    };
    if let Some(dir) = output.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let binary = server::server_binary()?;
    // Stopping the run (Ctrl-C, or SIGTERM from a timeout) drops it, and
    // with it the server child and the cluster: an hour into the 10M run
    // nobody should have to find and stop a 5 GB Postgres by hand.
    let report = tokio::select! {
        report = run(&args, &binary, &chart_path, started) => report?,
        signal = stop_requested() => bail!("stopped by {signal}; the cluster and the server are stopped and removed"),
    };
    std::fs::write(&output, report.to_markdown())
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!(
        "bench: wrote {} and {}",
        output.display(),
        chart_path.display()
    );
    Ok(())
}

/// Waits for SIGINT or SIGTERM and names it.
async fn stop_requested() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        // Without a SIGTERM handler, Ctrl-C still cleans up.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}

/// Events in the default run, whose report is BENCHMARKS.md.
const DEFAULT_EVENTS: u64 = 1_000_000;

/// Where a run writes its report and chart, relative to the repo root,
/// without --output: a run of another size than the default (the 10M run,
/// by hand) gets files of its own rather than overwrite the 1M report.
fn default_paths(events: u64) -> (String, String) {
    if events == DEFAULT_EVENTS {
        return ("BENCHMARKS.md".to_owned(), "bench/ingest.svg".to_owned());
    }
    let size = match events {
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    };
    (
        format!("BENCHMARKS-{size}.md"),
        format!("bench/ingest-{size}.svg"),
    )
}

/// The command that reproduces this run.
fn command_line() -> String {
    let release = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.ends_with("release")))
        .unwrap_or(false);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut command = format!(
        "cargo run{} -p audit-bench",
        if release { " --release" } else { "" }
    );
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    command
}

/// Resets pg_stat_statements before a phase.
async fn begin_phase(conn: &mut PgConnection, sampler: &RssSampler, name: &str) -> Result<()> {
    eprintln!("bench: {name}");
    db::reset_statements(conn).await?;
    sampler.take_peak();
    Ok(())
}

/// Collects what a phase left in pg_stat_statements and its memory peak;
/// `calls` are the RPCs and the ceiling's operations it made.
async fn end_phase(
    conn: &mut PgConnection,
    sampler: &RssSampler,
    phase: &'static str,
    calls: (u64, u64),
) -> Result<PhaseEvidence> {
    Ok(PhaseEvidence {
        phase,
        peak_rss: sampler.take_peak(),
        roles: db::role_totals(conn).await?,
        top: db::top_statements(conn, 8).await?,
        service_calls: calls.0,
        ceiling_calls: calls.1,
    })
}

async fn run(args: &Args, binary: &Path, chart_path: &Path, started: Instant) -> Result<Report> {
    let machine = machine::Machine::read();
    let load_at_start = machine::load_average();
    let cluster = cluster::Cluster::start(&cluster::settings(machine.memory_gib))?;
    let database = "audit_bench";
    db::create_database(&cluster.url("postgres"), database).await?;
    let server_url = cluster.url(database);
    let ceiling_url = server_url.replacen("postgres@", &format!("{}@", db::CEILING_ROLE), 1);
    let data_dir = tempfile::Builder::new()
        .prefix("audit-bench-server-")
        .tempdir()
        .context("cannot create the server's data dir")?;
    let server = server::ServerProcess::start(binary, &server_url, data_dir.path()).await?;
    let endpoint = server.endpoint();
    let sampler = RssSampler::start(server.pid());
    let tokens = client::Tokens::issue()?;
    let mut conn = db::connect(&ceiling_url).await?;
    db::create_ceiling_tables(&mut conn).await?;
    let indexes = (
        db::index_count(&mut conn, "audit_logs").await?,
        db::index_count(&mut conn, "ceiling_logs").await?,
    );
    let partitions = (
        db::partition_count(&mut conn, "audit_logs").await?,
        db::partition_count(&mut conn, "ceiling_logs").await?,
    );
    let set = DataSet::new(args.seed, args.events);
    let sequences = CeilingSequences::default();
    let mut evidence = Vec::new();

    begin_phase(&mut conn, &sampler, "batch ingest").await?;
    let batches = ingest::plan(&set.tenant_events, args.batch, args.seed);
    let mean_batch = args.events as f64 / batches.len().max(1) as f64;
    let (service, copy) = ingest::in_turns(
        &endpoint,
        &tokens,
        &ceiling_url,
        &set,
        &batches,
        args.clients,
        &sequences,
    )
    .await?;
    eprintln!("bench:   service {:.0} events/s", service.per_second());
    eprintln!("bench:   COPY {:.0} events/s", copy.per_second());
    let batch_count = batches.len() as u64;
    evidence.push(
        end_phase(
            &mut conn,
            &sampler,
            "Batch ingest",
            (batch_count, batch_count),
        )
        .await?,
    );
    db::vacuum_analyze(&mut conn).await?;

    begin_phase(&mut conn, &sampler, "list pages").await?;
    let pages = pages::measure(&endpoint, &tokens, &mut conn, args.page_samples).await?;
    // Timed calls and warm-ups; the few calls that find positions aside.
    let page_calls = pages.len() as u64 * (args.page_samples as u64 + 10);
    evidence.push(end_phase(&mut conn, &sampler, "List pages", (page_calls, page_calls)).await?);

    begin_phase(&mut conn, &sampler, "export").await?;
    let export = export::measure(&endpoint, &tokens, &mut conn).await?;
    evidence.push(end_phase(&mut conn, &sampler, "Export", (3, 3)).await?);

    begin_phase(&mut conn, &sampler, "stats").await?;
    let stats = stats::measure(&endpoint, &tokens, &mut conn).await?;
    evidence.push(end_phase(&mut conn, &sampler, "Stats", (6, 6)).await?);

    // Writes after the reads, so the reads see exactly the data set.
    begin_phase(&mut conn, &sampler, "batch-size sweep").await?;
    let mut sweep = Vec::new();
    for (index, batch_size) in [1u64, 10, 100, 1000].into_iter().enumerate() {
        let events = ingest::sweep_sample(batch_size, args.events);
        let batches = ingest::sweep_plan(&set, batch_size, events, args.seed);
        let stream = 100 + index as u64;
        let service =
            ingest::through_service(&endpoint, &tokens, &set, stream, &batches, args.clients)
                .await?;
        let copy = ingest::through_copy(
            &ceiling_url,
            &set,
            stream,
            &batches,
            args.clients,
            &sequences,
        )
        .await?;
        eprintln!(
            "bench:   batch {batch_size}: service {:.0}/s, COPY {:.0}/s",
            service.per_second(),
            copy.per_second()
        );
        sweep.push(SweepPoint {
            batch_size,
            events: batches.len() as u64 * batch_size,
            service,
            copy,
        });
    }
    let sweep_batches: u64 = sweep
        .iter()
        .map(|point| point.events / point.batch_size)
        .sum();
    evidence.push(
        end_phase(
            &mut conn,
            &sampler,
            "Batch-size sweep",
            (sweep_batches, sweep_batches),
        )
        .await?,
    );

    begin_phase(&mut conn, &sampler, "single appends").await?;
    appends::seed_ceiling_heads(&mut conn, &sequences).await?;
    let calls = args
        .single_appends
        .unwrap_or((args.events / 50).clamp(500, 20_000));
    let mut singles = Vec::new();
    for (stream, spread, calls) in [
        (2, Spread::AllTenants, calls),
        (3, Spread::OneTenant, calls / 2),
    ] {
        let events = appends::events(&set, stream, calls, spread);
        let (service, direct) =
            appends::in_turns(&endpoint, &tokens, &ceiling_url, &events, args.clients).await?;
        eprintln!(
            "bench:   {spread:?}: service {:.0}/s, direct {:.0}/s",
            service.per_second(),
            direct.per_second()
        );
        singles.push(SingleAppends {
            spread,
            service,
            direct,
        });
    }
    let single_calls = calls + calls / 2;
    evidence.push(
        end_phase(
            &mut conn,
            &sampler,
            "Single appends",
            (single_calls, single_calls),
        )
        .await?,
    );

    let high_water_mark = sampler.high_water_mark();
    drop(server);
    chart::draw(chart_path, &sweep)?;
    let output_dir = args
        .output
        .as_deref()
        .and_then(Path::parent)
        .map_or_else(repo_root, Path::to_path_buf);
    let chart_link = chart_path
        .strip_prefix(&output_dir)
        .unwrap_or(chart_path)
        .display()
        .to_string();
    Ok(Report {
        machine,
        postgres: cluster.version(),
        postgres_settings: cluster.settings.clone(),
        command: command_line(),
        events: args.events,
        clients: args.clients,
        batch_size: args.batch,
        mean_batch,
        seed: args.seed,
        page_samples: args.page_samples,
        indexes,
        partitions,
        ingest: (service, copy),
        sweep,
        singles,
        pages,
        export,
        stats,
        high_water_mark,
        evidence,
        chart_link,
        run_time: started.elapsed(),
        load: (load_at_start, machine::load_average()),
    })
}

//! `audit`: read, export and record the audit trail of the audit-log
//! service from a terminal.
//!
//! # Layout
//! - [`cli`]: the clap definitions; [`filter`] and [`time`]: the filter
//!   flags and the times they take.
//! - [`commands`]: one module per subcommand.
//! - [`service`]: the only caller of the client library.
//! - [`output`]: table, JSON, NDJSON and CSV writers, and the stats bars;
//!   [`metadata`]: the `--metadata` JSON object.
//! - [`resume`]: the state file that makes an export resumable;
//!   [`progress`]: progress bars on stderr.
//! - [`error`] and [`exit`]: one error type, one line on stderr, one exit
//!   code per kind of failure.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod error;
mod exit;
mod filter;
mod metadata;
mod output;
mod progress;
mod resume;
mod service;
mod time;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // One task at a time: a current-thread runtime is all a CLI needs.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit::report(&error),
    }
}

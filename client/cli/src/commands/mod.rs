//! One module per subcommand; [`run`] connects and dispatches.

mod append;
mod delete;
mod describe;
mod export;
mod get;
mod import;
mod list;
mod stats;
mod verify;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::service::Service;

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let command = match cli.command {
        // Offline: an auditor verifies an export without reaching the service.
        Command::Verify(args) => return verify::run(args),
        command => command,
    };
    let service = Service::connect(&cli.endpoint, cli.token.as_deref(), cli.timeout).await?;
    match command {
        Command::List(args) => list::run(&service, args).await,
        Command::Get(args) => get::run(&service, args).await,
        Command::Delete(args) => delete::run(&service, args).await,
        Command::Describe => describe::run(&service).await,
        Command::Stats(args) => stats::run(&service, args).await,
        Command::Append(args) => append::run(&service, args).await,
        Command::Import(args) => import::run(&service, args).await,
        Command::Export(args) => export::run(&service, args).await,
        Command::Verify(args) => verify::run(args),
    }
}

//! One module per subcommand; [`run`] connects and dispatches.

mod append;
mod checkpoint;
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
use std::time::Duration;

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let connection = Connection {
        endpoint: cli.endpoint,
        token: cli.token,
        timeout: cli.timeout,
    };
    let command = match cli.command {
        // Offline: an auditor verifies an export without reaching the service.
        // It reaches the service only for a checkpoint's public key when
        // none is given.
        Command::Verify(args) => return verify::run(args, &connection).await,
        command => command,
    };
    let service = connection.connect().await?;
    match command {
        Command::List(args) => list::run(&service, args).await,
        Command::Get(args) => get::run(&service, args).await,
        Command::Delete(args) => delete::run(&service, args).await,
        Command::Describe => describe::run(&service).await,
        Command::Stats(args) => stats::run(&service, args).await,
        Command::Append(args) => append::run(&service, args).await,
        Command::Import(args) => import::run(&service, args).await,
        Command::Export(args) => export::run(&service, args).await,
        Command::Checkpoint(args) => checkpoint::run(&service, args).await,
        Command::Verify(args) => verify::run(args, &connection).await,
    }
}

/// Where the service is, for commands that connect only when they must.
pub struct Connection {
    pub endpoint: String,
    pub token: Option<String>,
    pub timeout: Duration,
}

impl Connection {
    pub async fn connect(&self) -> Result<Service, CliError> {
        Service::connect(&self.endpoint, self.token.as_deref(), self.timeout).await
    }
}

//! `audit-server`: serves the audit API, or runs one administrative command.

use audit_server::app::Application;
use audit_server::auth::{self, JwtSecret};
use audit_server::config::{ApiKeyCommand, Cli, Command, ServerArgs, TokenArgs};
use audit_server::store::AuditStore;
use audit_server::telemetry;
use clap::Parser;
use std::process::ExitCode;

/// mimalloc rather than the system allocator: reading a List page
/// allocates a few thousand small values (row columns, metadata maps,
/// protobuf messages) and frees them moments later; see BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.server).await,
        Command::Migrate => migrate(&cli.server).await,
        Command::Token(args) => token(&cli.server, &args),
        Command::ApiKey(command) => api_key(&cli.server, command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: &ServerArgs) -> Result<(), String> {
    let _telemetry = telemetry::init("audit-server");
    let settings = args.settings().map_err(|error| error.to_string())?;
    let dev_secret = settings.jwt_secret.is_dev();
    let app = Application::build(settings)
        .await
        .map_err(|error| error.to_string())?;
    tracing::info!(address = %app.local_addr(), database = %redact(&args.database_url), backend = app.store().backend_name(), "audit server ready");
    if dev_secret {
        eprintln!(
            "using the development secret in {dir}/dev-secret (loopback only). Get a token with:\n  \
             TOKEN=$(cargo run -q -p audit-server -- token --tenant acme --scope \"audit:read audit:append audit:write\")",
            dir = args.data_dir.display()
        );
    }
    app.run_until_stopped(stop_signal())
        .await
        .map_err(|error| error.to_string())
}

async fn migrate(args: &ServerArgs) -> Result<(), String> {
    let store = AuditStore::connect(&args.database_url)
        .await
        .map_err(|error| error.to_string())?;
    store.migrate().await.map_err(|error| error.to_string())?;
    eprintln!("migrations applied to {}", redact(&args.database_url));
    Ok(())
}

fn token(args: &ServerArgs, token: &TokenArgs) -> Result<(), String> {
    let secret = JwtSecret::resolve(args.jwt_secret.clone(), &args.data_dir, args.listen)
        .map_err(|error| error.to_string())?;
    let ttl = auth::parse_ttl(&token.ttl).map_err(|error| error.to_string())?;
    let jwt = auth::issue_token(&secret, &token.subject, &token.tenant, &token.scope, ttl)
        .map_err(|error| error.to_string())?;
    println!("{jwt}");
    Ok(())
}

async fn api_key(args: &ServerArgs, command: ApiKeyCommand) -> Result<(), String> {
    let store = AuditStore::connect(&args.database_url)
        .await
        .map_err(|error| error.to_string())?;
    store.migrate().await.map_err(|error| error.to_string())?;
    match command {
        ApiKeyCommand::Create {
            tenant,
            scope,
            name,
        } => {
            let created = auth::create_api_key(&store, &tenant, &scope, &name)
                .await
                .map_err(|error| error.to_string())?;
            eprintln!(
                "created API key {} for tenant {tenant}; it is shown once:",
                created.id
            );
            println!("{}", created.key);
        }
        ApiKeyCommand::List => {
            let keys = store
                .list_api_keys()
                .await
                .map_err(|error| error.to_string())?;
            println!(
                "{:<24} {:<16} {:<20} {:<8} SCOPES",
                "ID", "TENANT", "NAME", "STATE"
            );
            for key in keys {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<16} {:<20} {:<8} {}",
                    key.id, key.tenant_id, key.name, state, key.scopes
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            if !auth::revoke_api_key(&store, &id)
                .await
                .map_err(|error| error.to_string())?
            {
                return Err(format!("no API key with id {id}"));
            }
            eprintln!("revoked API key {id}");
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(terminate) => terminate,
                Err(error) => {
                    tracing::warn!(%error, "cannot watch SIGTERM; stopping on SIGINT only");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// Hides a password in a database URL before it is logged.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

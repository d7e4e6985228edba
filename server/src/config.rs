//! Command-line flags with environment fallbacks, and the settings the
//! application is built from.

use crate::auth::{AuthError, JwtSecret};
use crate::checkpoint::CheckpointSigner;
use crate::checkpoint::key::read_previous_key;
use crate::follow::FollowSettings;
use crate::retention::{MAX_RETENTION_DAYS, RetentionSettings};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The embedded default: a SQLite file beside the server, so the first start
/// needs no database server.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/audit.db?mode=rwc";

#[derive(Debug, Parser)]
#[command(name = "audit-server", version, about = "The audit-log gRPC service")]
pub struct Cli {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serves the gRPC API (the default when no command is given).
    Serve,
    /// Applies pending database migrations and exits.
    Migrate,
    /// Prints a JWT signed with the configured secret, alone on stdout.
    Token(TokenArgs),
    /// Manages API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The tenant whose trail the token reaches.
    #[arg(long)]
    pub tenant: String,
    /// Space-separated scopes: audit:read audit:append audit:write audit:admin.
    #[arg(long)]
    pub scope: String,
    /// How long the token is valid, e.g. 30s, 15m, 1h.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// The token's subject, recorded as the actor of deletions.
    #[arg(long, default_value = "operator")]
    pub subject: String,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Creates a key and prints it once; only its hash is stored.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        scope: String,
        /// A name to recognise the key by in `api-key list`.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Lists keys (never their secrets).
    List,
    /// Revokes a key at once.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to serve gRPC on.
    #[arg(
        long,
        env = "AUDIT_LISTEN",
        default_value = "127.0.0.1:50051",
        global = true
    )]
    pub listen: SocketAddr,
    /// Postgres (`postgres://…`) or SQLite (`sqlite://…`) URL.
    #[arg(long, env = "AUDIT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// HS256 secret for JWTs and page tokens; at least 32 bytes off loopback.
    #[arg(long, env = "AUDIT_JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// PEM public key (Ed25519 or RSA) also accepted for JWTs.
    #[arg(long, env = "AUDIT_JWT_PUBLIC_KEY", global = true)]
    pub jwt_public_key: Option<PathBuf>,
    /// Where the dev secret lives when no secret is given.
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Largest request or response message, in bytes.
    #[arg(long, env = "AUDIT_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024, global = true)]
    pub max_message_bytes: usize,
    /// Most concurrent HTTP/2 streams per connection.
    #[arg(
        long,
        env = "AUDIT_MAX_CONCURRENT_STREAMS",
        default_value_t = 256,
        global = true
    )]
    pub max_concurrent_streams: u32,
    /// How long in-flight calls may take to finish after SIGINT or SIGTERM.
    #[arg(long, env = "AUDIT_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub shutdown_grace: Duration,
    /// Ed25519 key that signs checkpoints: a file holding the 32-byte seed
    /// as hex or base64. Without one, loopback only, `<data-dir>/signing-key`
    /// (generated on first use).
    #[arg(long, env = "AUDIT_SIGNING_KEY", global = true)]
    pub signing_key: Option<PathBuf>,
    /// Public keys of earlier signing keys, comma-separated, each as 64 hex
    /// digits or a file holding them: after a key rotation, checkpoints
    /// they signed still verify and GetPublicKeys still lists them.
    #[arg(
        long,
        env = "AUDIT_PREVIOUS_PUBLIC_KEYS",
        value_delimiter = ',',
        value_name = "HEX|FILE",
        global = true
    )]
    pub previous_public_keys: Vec<String>,
    /// How often every tenant whose chain head moved gets a signed
    /// checkpoint, e.g. 10m; 0 turns periodic checkpoints off.
    #[arg(long, env = "AUDIT_CHECKPOINT_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration, global = true)]
    pub checkpoint_interval: Duration,
    /// Directory each checkpoint is also written to, as
    /// `<tenant>/<sequence>.json`, outside the database.
    #[arg(long, env = "AUDIT_CHECKPOINT_DIR", global = true)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Address to serve Prometheus metrics on (`GET /metrics`, plain
    /// HTTP); no metrics listener without it.
    #[arg(long, env = "AUDIT_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,
    /// Most concurrent audit.v1 streaming calls (List, Verify, …) on the
    /// whole server; more are refused with RESOURCE_EXHAUSTED. 0 means no
    /// limit.
    #[arg(
        long,
        env = "AUDIT_MAX_STREAMING_CALLS",
        default_value_t = 256,
        global = true
    )]
    pub max_streaming_calls: usize,
    /// Most append transactions at once; appends that arrive meanwhile
    /// wait in the server and share the next one (group commit). 0 picks
    /// one per core, at least 2, on Postgres, and 1 on SQLite.
    #[arg(long, env = "AUDIT_APPEND_WRITERS", default_value_t = 0, global = true)]
    pub append_writers: usize,
    /// Most follow streams (ListAuditLogs with follow) open at once per
    /// tenant; admin streams across all tenants share one more such cap.
    #[arg(
        long,
        env = "AUDIT_MAX_FOLLOW_STREAMS_PER_TENANT",
        default_value_t = 16,
        global = true
    )]
    pub max_follow_streams_per_tenant: usize,
    /// A follower more than this many entries behind the chain heads…
    #[arg(
        long,
        env = "AUDIT_FOLLOW_MAX_LAG",
        default_value_t = 10_000,
        global = true
    )]
    pub follow_max_lag: u64,
    /// …for this long without catching up is ended with RESOURCE_EXHAUSTED
    /// and a resume token.
    #[arg(long, env = "AUDIT_FOLLOW_LAG_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub follow_lag_timeout: Duration,
    /// How often followers re-read the chain heads without a notification:
    /// the bound on delay when a notification is lost.
    #[arg(long, env = "AUDIT_FOLLOW_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration, global = true)]
    pub follow_poll_interval: Duration,
    /// The fewest days any tenant's retention policy may keep entries.
    #[arg(long, env = "AUDIT_RETENTION_MINIMUM_DAYS", default_value_t = 365, value_parser = clap::value_parser!(i32).range(1..=i64::from(MAX_RETENTION_DAYS)), global = true)]
    pub retention_minimum_days: i32,
    /// How often the purge job removes expired entries, e.g. 1h; 0 turns
    /// it off.
    #[arg(long, env = "AUDIT_RETENTION_PURGE_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration, global = true)]
    pub retention_purge_interval: Duration,
    /// Most entries the purge removes per transaction.
    #[arg(long, env = "AUDIT_RETENTION_BATCH_SIZE", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000), global = true)]
    pub retention_batch_size: u32,
}

/// Limits on what one client may ask of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_concurrent_streams: u32,
    /// Most concurrent audit.v1 streaming calls (List, Verify) over all
    /// connections; 0 means no limit.
    pub max_streaming_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 16 * 1024 * 1024,
            max_concurrent_streams: 256,
            max_streaming_calls: 256,
        }
    }
}

/// Everything [`crate::app::Application::build`] needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub jwt_secret: JwtSecret,
    pub jwt_public_key: Option<Vec<u8>>,
    pub limits: Limits,
    pub shutdown_grace: Duration,
    /// How often health checks the database.
    pub health_interval: Duration,
    /// The key checkpoints are signed with.
    pub signing_key: CheckpointSigner,
    /// Period of the automatic checkpoints; zero turns them off.
    pub checkpoint_interval: Duration,
    /// Where checkpoints are also written as JSON files.
    pub checkpoint_dir: Option<PathBuf>,
    /// Where `/metrics` is served; `None` opens no metrics port.
    pub metrics_listen: Option<SocketAddr>,
    /// Caps, lag bound and poll interval of follow streams.
    pub follow: FollowSettings,
    /// The retention minimum and the purge job's pace.
    pub retention: RetentionSettings,
    /// Most concurrent append transactions; 0 for the backend's default.
    pub append_writers: usize,
}

impl ServerArgs {
    /// Resolves the secret and reads key files; fails with one clear line.
    pub fn settings(&self) -> Result<Settings, AuthError> {
        let jwt_secret = JwtSecret::resolve(self.jwt_secret.clone(), &self.data_dir, self.listen)?;
        let jwt_public_key = match &self.jwt_public_key {
            Some(path) => Some(std::fs::read(path).map_err(|error| {
                AuthError::Config(format!(
                    "cannot read --jwt-public-key {}: {error}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let previous_keys = self
            .previous_public_keys
            .iter()
            .filter(|given| !given.trim().is_empty())
            .map(|given| read_previous_key(given))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| AuthError::Config(error.to_string()))?;
        let signing_key =
            CheckpointSigner::resolve(self.signing_key.as_deref(), &self.data_dir, self.listen)
                .map_err(|error| AuthError::Config(error.to_string()))?
                .with_previous(previous_keys);
        Ok(Settings {
            listen: self.listen,
            database_url: self.database_url.clone(),
            jwt_secret,
            jwt_public_key,
            limits: Limits {
                max_message_bytes: self.max_message_bytes,
                max_concurrent_streams: self.max_concurrent_streams,
                max_streaming_calls: self.max_streaming_calls,
            },
            shutdown_grace: self.shutdown_grace,
            health_interval: Duration::from_secs(5),
            signing_key,
            checkpoint_interval: self.checkpoint_interval,
            checkpoint_dir: self.checkpoint_dir.clone(),
            metrics_listen: self.metrics_listen,
            follow: FollowSettings {
                max_streams_per_tenant: self.max_follow_streams_per_tenant,
                max_lag: self.follow_max_lag,
                lag_timeout: self.follow_lag_timeout,
                poll_interval: self.follow_poll_interval,
            },
            retention: RetentionSettings {
                minimum_days: self.retention_minimum_days,
                purge_interval: self.retention_purge_interval,
                batch_size: self.retention_batch_size,
            },
            append_writers: self.append_writers,
        })
    }
}

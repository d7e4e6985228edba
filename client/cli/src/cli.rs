//! The command line: connection flags, the filter flags shared by `list`,
//! `export` and `stats`, and one subcommand per task.

use crate::filter::FilterArgs;
use crate::metadata::parse_metadata;
use crate::output::Format;
use crate::time::{TimeArg, parse_time};
use audit_proto::{ActorType, Granularity, Result as Outcome};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Read, export and record the audit trail of the audit-log service.
#[derive(Debug, Parser)]
#[command(name = "audit", version, max_term_width = 100)]
#[command(
    after_help = "Exit codes: 0 ok, 1 other errors (including invalid arguments \
    the server refused, and a broken chain found by `verify`), 2 usage, 3 unauthenticated or permission denied, 4 not found, \
    5 server unavailable, 6 a checkpoint whose signature or key does not verify (`verify`)."
)]
pub struct Cli {
    /// The service's URI.
    #[arg(
        long,
        env = "AUDIT_ENDPOINT",
        default_value = "http://127.0.0.1:50051",
        global = true,
        help_heading = "Connection"
    )]
    pub endpoint: String,

    /// A bearer token: a JWT or an API key.
    #[arg(
        long,
        env = "AUDIT_TOKEN",
        hide_env_values = true,
        global = true,
        help_heading = "Connection"
    )]
    pub token: Option<String>,

    /// How long each call may take (`30s`, `5m`); a long listing continues
    /// past it from where the cut call stopped.
    #[arg(
        long,
        env = "AUDIT_TIMEOUT",
        default_value = "30s",
        value_parser = humantime::parse_duration,
        global = true,
        help_heading = "Connection"
    )]
    pub timeout: Duration,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists the entries matching the filters, newest first.
    List(ListArgs),
    /// Prints one entry by id.
    Get(GetArgs),
    /// Deletes one entry; the service records the deletion.
    Delete(DeleteArgs),
    /// Describes the filter fields, sort orders, actions and target types.
    Describe,
    /// Counts the entries matching the filters: totals, top lists, histogram.
    Stats(StatsArgs),
    /// Records one event and prints its id.
    Append(AppendArgs),
    /// Appends every event of an NDJSON file, such as one `export` wrote.
    Import(ImportArgs),
    /// Writes the entries matching the filters to a file; resumable.
    Export(ExportArgs),
    /// Verifies the hash chain in an NDJSON export, offline; exits 0 when
    /// intact, 1 when broken, 6 when the checkpoint given does not verify.
    Verify(VerifyArgs),
    /// Has the service sign a checkpoint of the chain head and saves it as
    /// JSON, for a later `verify --checkpoint`.
    Checkpoint(CheckpointArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Stop after N entries (default: every match).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    pub limit: Option<u32>,

    /// Oldest entries first.
    #[arg(long, conflicts_with = "follow")]
    pub oldest_first: bool,

    /// Print the matching history in commit order, then every new matching
    /// entry as it commits, until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// Output format [default: table on a terminal, ndjson otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Entries per streamed message.
    #[arg(long, hide = true, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: u32,

    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The entry's id.
    pub id: String,

    /// Output format [default: indented JSON].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The entry's id.
    pub id: String,

    /// Why the entry is deleted; kept in the deletion record.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Histogram bucket width.
    #[arg(long, value_enum, default_value = "day")]
    pub by: Bucket,

    /// How many actors to rank (1 to 100).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub top: u32,

    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Debug, Args)]
pub struct AppendArgs {
    /// Dotted name such as `user.login`.
    #[arg(long)]
    pub action: String,
    /// Who acted: their id.
    #[arg(long, value_name = "ID")]
    pub actor_id: Option<String>,
    /// The kind of actor.
    #[arg(long, value_enum, value_name = "TYPE")]
    pub actor_type: Option<ActorKind>,
    #[arg(long, value_name = "EMAIL")]
    pub actor_email: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub actor_name: Option<String>,
    /// What was acted on: its type (`api_key`).
    #[arg(long, value_name = "TYPE")]
    pub target_type: Option<String>,
    #[arg(long, value_name = "ID", requires = "target_type")]
    pub target_id: Option<String>,
    #[arg(long, value_name = "NAME", requires = "target_type")]
    pub target_name: Option<String>,
    /// How the action ended.
    #[arg(long, value_enum)]
    pub result: Option<ResultKind>,
    /// An IPv4 or IPv6 address.
    #[arg(long, value_name = "IP")]
    pub client_ip: Option<String>,
    /// When it happened: RFC 3339 or relative (`5m`) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub occurred_at: Option<TimeArg>,
    /// A JSON object of free-form context.
    #[arg(long, value_name = "JSON", value_parser = parse_metadata)]
    pub metadata: Option<prost_types::Struct>,
    /// Makes a retry safe: the same key and content store nothing new.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An NDJSON file: one event per line, as `list --format ndjson` prints.
    pub file: PathBuf,

    /// Events per append call.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch_size: u16,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file to write; `FILE.resume` tracks progress until it completes.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,

    /// File format [default: csv for a `.csv` file, ndjson otherwise].
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,

    /// Oldest entries first.
    #[arg(long)]
    pub oldest_first: bool,

    /// Continue an interrupted export; automatic when `FILE.resume` exists.
    #[arg(long)]
    pub resume: bool,

    /// Entries per streamed message: how much an interruption can lose.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: u32,

    /// Stops after N messages as if interrupted (for tests).
    #[arg(long, hide = true, value_name = "N")]
    pub stop_after: Option<u64>,

    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The export must be unfiltered and of one tenant: a filtered export \
    misses links of the chain. Entries deleted through the service are vouched for by their \
    deletion records in the same export. Prints one line: `intact: FIRST..LAST, N entries, \
    head HEX` (exit 0) or `broken at sequence S: KIND (why)` (exit 1), or `checkpoint \
    rejected: why` (exit 6). The file is read line by line; one not in sequence order is \
    sorted in bounded memory (runs in temporary files)."
)]
pub struct VerifyArgs {
    /// An NDJSON export, as `audit export` or `audit list --format ndjson`
    /// writes it, in any order.
    pub file: PathBuf,

    /// The hash of the link just before the export's first entry, for an
    /// export that starts after sequence 1 (e.g. the head of an earlier
    /// export); without it that first link is taken on trust.
    #[arg(long, value_name = "HEX", value_parser = parse_hash_arg)]
    pub anchor: Option<[u8; 32]>,

    /// A head hash kept from elsewhere (a `VerifyAuditChain` verdict's
    /// `head_hash`, an earlier export's head): the export must end at it or
    /// pass through it, otherwise its tail was cut or the chain rewritten.
    #[arg(long, value_name = "HEX", value_parser = parse_hash_arg)]
    pub head: Option<[u8; 32]>,

    /// A signed checkpoint (a JSON file from the server's --checkpoint-dir
    /// or `audit checkpoint`): its signature is checked, and the export
    /// must pass through its sequence with its head hash.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    /// The Ed25519 public key that checks the checkpoint: 64 hex digits or
    /// a file holding them [default: fetched from the service with
    /// GetPublicKeys].
    #[arg(long, value_name = "HEX|FILE", requires = "checkpoint")]
    pub public_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Where to save it [default: standard output].
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Another tenant's chain (needs `audit:admin`) [default: the caller's].
    #[arg(long, value_name = "TENANT", default_value = "")]
    pub tenant: String,
}

/// A SHA-256 hash as 64 hex digits.
fn parse_hash_arg(text: &str) -> Result<[u8; 32], String> {
    audit_client::integrity::parse_hash(text)
        .ok_or_else(|| "must be 64 hex digits (a SHA-256 hash)".to_owned())
}

/// The formats an export file can have: one entry per line or row, so a
/// byte offset after any message is a clean place to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Ndjson,
    Csv,
}

impl From<ExportFormat> for Format {
    fn from(format: ExportFormat) -> Self {
        match format {
            ExportFormat::Ndjson => Format::Ndjson,
            ExportFormat::Csv => Format::Csv,
        }
    }
}

/// `ActorType` as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActorKind {
    User,
    #[value(name = "api_key")]
    ApiKey,
    Service,
    System,
}

impl From<ActorKind> for ActorType {
    fn from(kind: ActorKind) -> Self {
        match kind {
            ActorKind::User => ActorType::User,
            ActorKind::ApiKey => ActorType::ApiKey,
            ActorKind::Service => ActorType::Service,
            ActorKind::System => ActorType::System,
        }
    }
}

/// `Result` as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultKind {
    Success,
    Failure,
    Denied,
    Error,
}

impl From<ResultKind> for Outcome {
    fn from(kind: ResultKind) -> Self {
        match kind {
            ResultKind::Success => Outcome::Success,
            ResultKind::Failure => Outcome::Failure,
            ResultKind::Denied => Outcome::Denied,
            ResultKind::Error => Outcome::Error,
        }
    }
}

/// `Granularity` as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Bucket {
    Hour,
    Day,
    Week,
    Month,
}

impl From<Bucket> for Granularity {
    fn from(bucket: Bucket) -> Self {
        match bucket {
            Bucket::Hour => Granularity::Hour,
            Bucket::Day => Granularity::Day,
            Bucket::Week => Granularity::Week,
            Bucket::Month => Granularity::Month,
        }
    }
}

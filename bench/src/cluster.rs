//! A throwaway Postgres cluster in a temp dir, reached only through its Unix
//! socket: sqlx sets no TCP_NODELAY, and over TCP small statements and COPY
//! meet Nagle and delayed-ACK stalls of 40 ms that would make every ceiling
//! meaningless. `initdb` and `postgres` refuse to run as root, so as root
//! they run as the `postgres` user.

use anyhow::{Context, Result, bail};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running cluster; stopped and deleted when dropped.
pub struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    data: PathBuf,
    as_root: bool,
    pub port: u16,
    /// The settings that differ from Postgres' defaults, as the report
    /// names them.
    pub settings: String,
}

/// The settings that differ from Postgres' defaults, for a machine with
/// `memory_gib` of memory. fsync and synchronous_commit stay on, so commits
/// are durable on both sides. shared_buffers is a quarter of memory (the
/// usual starting point), 1 to 8 GB, so the 1M set and most of the 10M
/// set's indexes stay in Postgres' own cache. max_wal_size and
/// checkpoint_timeout are raised because with the defaults a checkpoint
/// comes after every 1 GB of WAL, and the first change to each index page
/// after a checkpoint writes the whole page to the WAL again: at 10 million
/// rows that, not the rows, dominated ingest on both sides.
pub fn settings(memory_gib: f64) -> Vec<(&'static str, String)> {
    let shared_buffers_gb = (memory_gib / 4.0).floor().clamp(1.0, 8.0) as u64;
    vec![
        ("shared_buffers", format!("{shared_buffers_gb}GB")),
        ("max_wal_size", "8GB".to_owned()),
        ("checkpoint_timeout", "15min".to_owned()),
        ("max_connections", "200".to_owned()),
    ]
}

impl Cluster {
    /// Initialises and starts a cluster with `settings` (see [`settings`])
    /// and pg_stat_statements for the notes.
    pub fn start(settings: &[(&'static str, String)]) -> Result<Self> {
        let bin = postgres_bin_dir().context(
            "initdb/pg_ctl not found on PATH or under /usr/lib/postgresql/*/bin: install postgres",
        )?;
        let as_root = std::fs::metadata("/proc/self").is_ok_and(|proc| proc.uid() == 0);
        let root = tempfile::Builder::new()
            .prefix("audit-bench-pg-")
            .tempdir()
            .context("cannot create a temp dir for postgres")?
            .keep();
        let cluster = Self {
            data: root.join("data"),
            bin,
            root,
            as_root,
            // Only names the socket file (.s.PGSQL.PORT): nothing listens on TCP.
            port: 5432,
            settings: settings
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        if as_root {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:").arg(&cluster.root);
            run(chown)?;
        }
        let mut initdb = cluster.tool("initdb");
        initdb.arg("-D").arg(&cluster.data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        run(initdb)?;
        let mut options = format!(
            "-p {} -k {} -c listen_addresses= \
             -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all",
            cluster.port,
            cluster.root.display()
        );
        for (name, value) in settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        let mut pg_ctl = cluster.tool("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(&cluster.data)
            .arg("-l")
            .arg(cluster.root.join("postgres.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        if let Err(error) = run(pg_ctl) {
            let log =
                std::fs::read_to_string(cluster.root.join("postgres.log")).unwrap_or_default();
            bail!("{error}\npostgres log:\n{log}");
        }
        Ok(cluster)
    }

    /// Returns the URL of database `name` through the socket.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/{name}?host={}",
            self.port,
            self.root.display()
        )
    }

    /// Returns `postgres --version`, e.g. "postgres (PostgreSQL) 15.14".
    pub fn version(&self) -> String {
        Command::new(self.bin.join("postgres"))
            .arg("--version")
            .output()
            .ok()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    }

    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if !self.as_root {
            return Command::new(program);
        }
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut pg_ctl = self.tool("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"]);
        if let Err(error) = run(pg_ctl) {
            eprintln!("bench: cannot stop postgres: {error}");
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Finds the directory holding `initdb` and `pg_ctl`: on PATH first, then
/// the newest `/usr/lib/postgresql/<version>/bin`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn run(mut command: Command) -> Result<()> {
    let described = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {described}"))?;
    if !output.status.success() {
        bail!(
            "{described} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

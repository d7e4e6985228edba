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
}

impl Cluster {
    /// Initialises and starts a cluster. Settings are Postgres' defaults
    /// (fsync and synchronous_commit on, so commits are durable on both
    /// sides) except a larger shared_buffers that holds the data set, and
    /// pg_stat_statements for the notes.
    pub fn start() -> Result<Self> {
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
        let options = format!(
            "-p {} -k {} -c listen_addresses= -c shared_buffers=1GB -c max_connections=200 \
             -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all",
            cluster.port,
            cluster.root.display()
        );
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

//! A throwaway Postgres cluster: one per test process, started on first use,
//! one fresh database per test on it; and private clusters for tests that
//! stop Postgres under a running server.
//!
//! Set `AUDIT_TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`)
//! to use an existing server instead; its user must be allowed to create
//! databases, and the `test_*` databases are left behind for inspection.

use sea_orm::{ConnectionTrait, Database};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The environment variable naming an existing Postgres to test against.
pub const DATABASE_URL_VAR: &str = "AUDIT_TEST_DATABASE_URL";

/// A running cluster that this process started.
#[derive(Debug)]
pub struct PostgresCluster {
    /// The URL of the `postgres` maintenance database (trust auth, TCP).
    admin_url: String,
    port: u16,
    pg_ctl: PathBuf,
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
    as_root: bool,
    /// A private cluster is stopped and deleted when dropped; the shared one
    /// lives in a static and is left to the watchdog.
    private: bool,
}

static CLUSTER: OnceLock<PostgresCluster> = OnceLock::new();

/// Creates an empty database and returns its URL.
pub async fn fresh_database_url() -> String {
    let admin_url = match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => shared_cluster().admin_url.clone(),
    };
    create_database(&admin_url).await
}

/// Creates an empty database on the server of `admin_url` and returns its
/// URL.
async fn create_database(admin_url: &str) -> String {
    let name = format!("test_{}", uuid::Uuid::now_v7().simple());
    let admin = Database::connect(admin_url)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to test postgres {admin_url}: {error}"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
    admin
        .close()
        .await
        .expect("failed to close the admin connection");
    with_database(admin_url, &name)
}

/// Returns `url` pointing at database `name` instead, keeping its query.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

/// Returns the process-wide cluster, starting it on first use.
///
/// Statics are never dropped, so the cluster cannot be stopped by a `Drop`
/// guard. Instead `start` spawns a watchdog shell that polls this process
/// with `kill -0` and, once it is gone (tests done, panic, Ctrl-C or even
/// SIGKILL), stops the cluster and deletes its directory. The watchdog runs
/// in its own process group so a Ctrl-C in the terminal does not kill it
/// first, and holds none of our stdio, so `cargo test | tee` ends on time.
fn shared_cluster() -> &'static PostgresCluster {
    CLUSTER.get_or_init(|| {
        PostgresCluster::start(false).unwrap_or_else(|error| {
            panic!("cannot start a throwaway postgres for the tests: {error}")
        })
    })
}

impl PostgresCluster {
    /// Starts a cluster of the test's own, for tests that stop and start
    /// Postgres under a running server; the shared one must stay up for
    /// every other test. It is stopped and deleted when dropped.
    pub fn start_private() -> Self {
        Self::start(true)
            .unwrap_or_else(|error| panic!("cannot start a private throwaway postgres: {error}"))
    }

    /// Creates an empty database on this cluster and returns its URL.
    pub async fn fresh_database_url(&self) -> String {
        create_database(&self.admin_url).await
    }

    /// Stops the cluster as an operator would (`pg_ctl stop -m fast`):
    /// sessions are terminated, and the port refuses connections until
    /// [`resume`](Self::resume).
    pub fn stop(&self) {
        let mut pg_ctl = tool(&self.pg_ctl, self.as_root);
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "fast", "stop"]);
        run(pg_ctl).unwrap_or_else(|error| panic!("cannot stop postgres: {error}"));
    }

    /// Starts the stopped cluster again on the same port.
    pub fn resume(&self) {
        self.launch(self.port)
            .unwrap_or_else(|error| panic!("cannot start postgres again: {error}"));
    }

    fn start(private: bool) -> Result<Self, String> {
        let bin = postgres_bin_dir().ok_or(
            "initdb/pg_ctl not found on PATH or under /usr/lib/postgresql/*/bin; \
             install postgres or set AUDIT_TEST_DATABASE_URL",
        )?;
        let as_root = std::fs::metadata("/proc/self").is_ok_and(|proc| proc.uid() == 0);
        let root = tempfile::Builder::new()
            .prefix("audit-tests-pg-")
            .tempdir()
            .map_err(|error| format!("cannot create a temp dir: {error}"))?
            .keep();
        let data = root.join("data");
        let log = root.join("postgres.log");
        spawn_watchdog(&bin, &root, &data, as_root)?;
        if as_root {
            // initdb and postgres refuse to run as root.
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:").arg(&root);
            run(chown)?;
        }
        let mut initdb = tool(&bin.join("initdb"), as_root);
        initdb.arg("-D").arg(&data).args([
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
        let mut cluster = Self {
            admin_url: String::new(),
            port: 0,
            pg_ctl: bin.join("pg_ctl"),
            root,
            data,
            log,
            as_root,
            private,
        };
        let mut last_error = String::new();
        // A free port can be taken between probing and binding: retry.
        for _ in 0..3 {
            let port = free_port()?;
            match cluster.launch(port) {
                Ok(()) => {
                    cluster.port = port;
                    cluster.admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
                    return Ok(cluster);
                }
                Err(error) => last_error = error,
            }
        }
        let log_text = std::fs::read_to_string(&cluster.log).unwrap_or_default();
        Err(format!("{last_error}\npostgres log:\n{log_text}"))
    }

    /// Starts postgres on the initialised data directory, waiting until it
    /// accepts connections.
    fn launch(&self, port: u16) -> Result<(), String> {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            self.root.display()
        );
        let mut pg_ctl = tool(&self.pg_ctl, self.as_root);
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        run(pg_ctl)
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        if !self.private {
            return;
        }
        let mut pg_ctl = tool(&self.pg_ctl, self.as_root);
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"]);
        // Already stopped is fine; the watchdog retries once we exit.
        let _ = run(pg_ctl);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Finds the directory holding `initdb` and `pg_ctl`: on PATH first, then
/// the newest Debian-style `/usr/lib/postgresql/<version>/bin`.
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

/// Stops the cluster and removes `root` once this process has exited.
fn spawn_watchdog(bin: &Path, root: &Path, data: &Path, as_root: bool) -> Result<(), String> {
    const SCRIPT: &str = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 1; done
        if [ "$5" = 1 ]; then
            runuser -u postgres -- "$2" -D "$3" stop -m immediate
        else
            "$2" -D "$3" stop -m immediate
        fi
        rm -rf "$4"
    "#;
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("audit-tests-pg-watchdog")
        .arg(std::process::id().to_string())
        .arg(bin.join("pg_ctl"))
        .arg(data)
        .arg(root)
        .arg(if as_root { "1" } else { "0" })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|error| format!("cannot spawn the postgres watchdog: {error}"))
}

/// Returns a command running `program`, as the postgres user when we are
/// root.
fn tool(program: &Path, as_postgres: bool) -> Command {
    if !as_postgres {
        return Command::new(program);
    }
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).arg(program);
    command
}

/// Runs a setup command to completion.
fn run(mut command: Command) -> Result<(), String> {
    let described = format!("{command:?}");
    // Captured output: postgres itself logs to a file (`pg_ctl -l`), so
    // nothing long-lived holds these pipes open.
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {described}: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{described} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free port: {error}"))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_swapped_in_the_url() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "t1"),
            "postgres://u:p@h:5432/t1"
        );
        assert_eq!(with_database("postgres://h:1", "t1"), "postgres://h:1/t1");
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "t1"),
            "postgres://h/t1?sslmode=disable"
        );
    }
}

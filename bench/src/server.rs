//! The release `audit-server` binary as a child process, so its memory is
//! its own and can be read from /proc/PID/status.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The JWT secret the bench gives the server and signs its tokens with.
pub const JWT_SECRET: &str = "audit-bench-secret-0123456789-abcdefghijklmnop";

/// A running server; killed when dropped.
pub struct ServerProcess {
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `binary` on a free loopback port against `database_url` and
    /// waits until it answers.
    pub async fn start(binary: &Path, database_url: &str, data_dir: &Path) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("cannot find a free port")?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = data_dir.join("server.log");
        let log_file = File::create(&log).context("cannot create the server log")?;
        let child = Command::new(binary)
            .env("AUDIT_LISTEN", addr.to_string())
            .env("AUDIT_DATABASE_URL", database_url)
            .env("AUDIT_JWT_SECRET", JWT_SECRET)
            .env("AUDIT_DATA_DIR", data_dir)
            .env("AUDIT_CHECKPOINT_INTERVAL", "0")
            .env("OTEL_SDK_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = Self { addr, child, log };
        server.wait_until_serving().await?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn wait_until_serving(&mut self) -> Result<()> {
        let started = tokio::time::Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited at start ({status}): {}", self.log_text());
            }
            if is_serving(&self.endpoint()).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not serve within 60 s: {}", self.log_text())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the `audit-server` binary next to this executable (cargo puts
/// every binary of a profile in `target/<profile>/`), building it with the
/// same cargo and profile when it is missing.
pub fn server_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("the bench executable has no path")?;
    let dir = exe
        .parent()
        .context("the bench executable has no directory")?;
    let binary = dir.join(format!("audit-server{}", std::env::consts::EXE_SUFFIX));
    if binary.is_file() {
        return Ok(binary);
    }
    let Some(cargo) = std::env::var_os("CARGO") else {
        bail!(
            "{} is missing and CARGO is not set: run `cargo build --release -p audit-server` \
             first, or start the bench with `cargo run --release -p audit-bench`",
            binary.display()
        );
    };
    let release = dir.file_name().is_some_and(|name| name == "release");
    eprintln!(
        "bench: {} is missing; building it (cargo build{} -p audit-server -p audit-bench)",
        binary.display(),
        if release { " --release" } else { "" }
    );
    let mut build = Command::new(cargo);
    // Both packages, as `cargo run -p audit-bench` unifies features over
    // the bench's whole tree: built alone, the server would get another
    // feature set and cargo would rebuild sqlx and everything above it.
    build.args(["build", "-p", "audit-server", "-p", "audit-bench"]);
    if release {
        build.arg("--release");
    }
    let status = build.status().context("cannot run cargo build")?;
    if !status.success() || !binary.is_file() {
        bail!(
            "`cargo build -p audit-server` did not produce {}",
            binary.display()
        );
    }
    Ok(binary)
}

/// Returns true once the server's health check says SERVING (it needs no
/// token): the port is bound before migrations finish.
async fn is_serving(endpoint: &str) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(endpoint.to_owned()) else {
        return false;
    };
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .is_ok_and(|reply| reply.get_ref().status == ServingStatus::Serving as i32)
}

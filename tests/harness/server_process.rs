//! [`ServerProcess`]: the real `audit-server` binary as a child process, for
//! the tests that kill it with SIGKILL. An in-process server cannot be
//! killed that way without taking the test with it.
//!
//! The binary is the one `cargo test --workspace` (or `cargo build -p
//! audit-server`) built next to the test executable; set
//! `AUDIT_SERVER_BIN` to use another one.

use crate::app::TEST_JWT_SECRET;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The environment variable naming the server binary to run.
pub const SERVER_BIN_VAR: &str = "AUDIT_SERVER_BIN";

/// How long a start may take before the test gives up on it.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `audit-server` process; killed when dropped.
pub struct ServerProcess {
    pub addr: SocketAddr,
    database_url: String,
    data_dir: PathBuf,
    child: Option<Child>,
}

impl ServerProcess {
    /// Starts the server on a free loopback port against `database_url`,
    /// keeping its development files and log in `data_dir`, and waits until
    /// its health check says SERVING.
    pub async fn start(database_url: &str, data_dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("cannot find a free port")
            .port();
        let mut server = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            database_url: database_url.to_owned(),
            data_dir: data_dir.to_owned(),
            child: None,
        };
        server.start_again().await;
        server
    }

    /// Returns `http://host:port` for clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills the process with SIGKILL, as the OOM killer or a power cut
    /// would: no draining, no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("cannot SIGKILL the server");
            child.wait().expect("cannot reap the killed server");
        }
    }

    /// Starts a new process on the same port and database, and waits until
    /// it serves.
    pub async fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "the server process is already running"
        );
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.data_dir.join("server.log"))
            .expect("cannot open the server log");
        let child = Command::new(server_binary())
            .env("AUDIT_LISTEN", self.addr.to_string())
            .env("AUDIT_DATABASE_URL", &self.database_url)
            .env("AUDIT_JWT_SECRET", TEST_JWT_SECRET)
            .env("AUDIT_DATA_DIR", &self.data_dir)
            .env("AUDIT_CHECKPOINT_INTERVAL", "0")
            .env("OTEL_SDK_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", server_binary().display()));
        self.child = Some(child);
        self.wait_until_serving().await;
    }

    async fn wait_until_serving(&mut self) {
        let started = tokio::time::Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("the server exited at start ({status}): {}", self.log());
            }
            if health_is_serving(self.endpoint()).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the server did not serve within {START_TIMEOUT:?}: {}",
            self.log()
        );
    }

    /// Returns what the server logged, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn health_is_serving(endpoint: String) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(endpoint) else {
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

/// Returns the `audit-server` binary: `AUDIT_SERVER_BIN`, else the one in
/// the target directory this test executable was built into
/// (`target/<profile>/deps/api-…` → `target/<profile>/audit-server`).
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(SERVER_BIN_VAR) {
        return PathBuf::from(path);
    }
    let test_exe = std::env::current_exe().expect("the test executable has a path");
    let profile_dir = test_exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let binary = profile_dir.join(format!("audit-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo test --workspace` (which builds it) or \
         `cargo build -p audit-server` first, or set {SERVER_BIN_VAR}",
        binary.display()
    );
    binary
}

//! [`TestApp`]: the real server on `127.0.0.1:0`, a fresh database, and one
//! helper per RPC acting as a tenant's user.

use crate::Backend;
use audit_client::{AuditClient, Error};
use audit_proto::{
    AuditLog, AuditLogInput, AuditStats, DeleteAuditLogResponse, FilterMetadata,
    GetAuditStatsRequest, ListAuditLogsRequest, ListAuditLogsResponse,
};
use audit_server::app::{Application, StartupError};
use audit_server::auth::{CreatedApiKey, JwtSecret, create_api_key, issue_token, revoke_api_key};
use audit_server::checkpoint::CheckpointSigner;
use audit_server::config::{Limits, Settings};
use audit_server::follow::FollowSettings;
use audit_server::retention::RetentionSettings;
use audit_server::store::AuditStore;
use futures_util::TryStreamExt;
use std::net::SocketAddr;
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The HS256 secret the test server trusts.
pub const TEST_JWT_SECRET: &str = "audit-tests-secret-at-least-32-bytes-long";
/// The seed of the key the test server signs checkpoints with.
pub const TEST_SIGNING_SEED: [u8; 32] = [7; 32];
/// The tenant most tests write to.
pub const ACME: &str = "acme";
/// A second tenant, to prove isolation.
pub const GLOBEX: &str = "globex";
/// The admin's own tenant; admins reach every tenant.
pub const ADMIN_TENANT: &str = "platform";
/// Every scope a tenant's own user can hold.
pub const ALL_SCOPES: &str = "audit:read audit:append audit:write";

/// A running server on a fresh database, stopped when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when the settings asked for it.
    pub metrics_addr: Option<SocketAddr>,
    pub backend: Backend,
    secret: JwtSecret,
    /// As built, with `listen` pinned to the bound address, so a restart
    /// serves the same database on the same port.
    settings: Settings,
    store: AuditStore,
    anonymous: AuditClient,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), StartupError>>>,
    /// Holds the SQLite file and the server's data dir.
    _dir: TempDir,
}

impl TestApp {
    /// Starts the server with default settings.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the server after `configure` adjusted its settings.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("failed to create a temp dir for the test server");
        let secret = JwtSecret::new(TEST_JWT_SECRET);
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().expect("loopback address parses"),
            database_url: backend.fresh_database_url(dir.path()).await,
            jwt_secret: secret.clone(),
            jwt_public_key: None,
            limits: Limits::default(),
            shutdown_grace: Duration::from_secs(5),
            health_interval: Duration::from_millis(500),
            signing_key: CheckpointSigner::from_seed(TEST_SIGNING_SEED),
            checkpoint_interval: Duration::ZERO,
            checkpoint_dir: None,
            metrics_listen: None,
            follow: FollowSettings::default(),
            // Tests run purges themselves, at a `now` of their choosing.
            retention: RetentionSettings {
                purge_interval: Duration::ZERO,
                ..RetentionSettings::default()
            },
            append_writers: 0,
        };
        configure(&mut settings);
        let application = Application::build(settings.clone())
            .await
            .unwrap_or_else(|error| panic!("failed to build the {backend:?} test server: {error}"));
        let addr = application.local_addr();
        settings.listen = addr;
        let metrics_addr = application.metrics_addr();
        settings.metrics_listen = metrics_addr;
        let store = application.store().clone();
        let (shutdown, server) = run(application);
        let anonymous = AuditClient::connect(format!("http://{addr}"))
            .await
            .expect("failed to connect to the test server");
        Self {
            addr,
            metrics_addr,
            backend,
            secret,
            settings,
            store,
            anonymous,
            shutdown: Some(shutdown),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Stops the server (draining calls for the configured grace period)
    /// and starts a new one on the same address and database, as a rolling
    /// restart would. Clients made before keep working once it is up.
    pub async fn restart(&mut self) {
        self.stop_server().await;
        self.start_server().await;
    }

    /// Restarts as [`restart`](Self::restart) does, with `configure`
    /// applied to the settings first (a rotated key, another option).
    pub async fn restart_with(&mut self, configure: impl FnOnce(&mut Settings)) {
        self.stop_server().await;
        configure(&mut self.settings);
        self.start_server().await;
    }

    /// Stops the server and waits until it has returned; the port refuses
    /// calls until [`start_server`](Self::start_server).
    pub async fn stop_server(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task panicked")
                .expect("the server stopped cleanly");
        }
    }

    /// Starts a server on the address and database of the stopped one.
    pub async fn start_server(&mut self) {
        assert!(self.server.is_none(), "the server is already running");
        let application = Application::build(self.settings.clone())
            .await
            .unwrap_or_else(|error| panic!("failed to restart the test server: {error}"));
        assert_eq!(
            application.local_addr(),
            self.addr,
            "restarted on the same address"
        );
        self.store = application.store().clone();
        let (shutdown, server) = run(application);
        self.shutdown = Some(shutdown);
        self.server = Some(server);
    }

    /// Starts a second server process on this one's database (its own port
    /// and data dir), as another replica behind a load balancer would be.
    pub async fn spawn_replica(&self) -> TestApp {
        let dir = tempfile::tempdir().expect("failed to create a temp dir for the replica");
        let mut settings = self.settings.clone();
        settings.listen = "127.0.0.1:0".parse().expect("loopback address parses");
        if settings.metrics_listen.is_some() {
            settings.metrics_listen = Some(settings.listen);
        }
        let application = Application::build(settings.clone())
            .await
            .unwrap_or_else(|error| panic!("failed to build the replica: {error}"));
        let addr = application.local_addr();
        settings.listen = addr;
        let metrics_addr = application.metrics_addr();
        settings.metrics_listen = metrics_addr;
        let store = application.store().clone();
        let (shutdown, server) = run(application);
        let anonymous = AuditClient::connect(format!("http://{addr}"))
            .await
            .expect("failed to connect to the replica");
        TestApp {
            addr,
            metrics_addr,
            backend: self.backend,
            secret: self.secret.clone(),
            settings,
            store,
            anonymous,
            shutdown: Some(shutdown),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Returns a JWT for `subject` in `tenant` with `scopes`, valid for `ttl`.
    pub fn token_with_ttl(
        &self,
        subject: &str,
        tenant: &str,
        scopes: &str,
        ttl: Duration,
    ) -> String {
        issue_token(&self.secret, subject, tenant, scopes, ttl)
            .expect("failed to issue a test token")
    }

    /// Returns a one-hour JWT for `subject` in `tenant` with `scopes`.
    pub fn token(&self, subject: &str, tenant: &str, scopes: &str) -> String {
        self.token_with_ttl(subject, tenant, scopes, Duration::from_secs(3600))
    }

    /// Returns a client for user `{tenant}-user` with `scopes`.
    pub fn client_for(&self, tenant: &str, scopes: &str) -> AuditClient {
        self.client_as(&format!("{tenant}-user"), tenant, scopes)
    }

    /// Returns a client for `subject` in `tenant` with `scopes`.
    pub fn client_as(&self, subject: &str, tenant: &str, scopes: &str) -> AuditClient {
        self.with_token(self.token(subject, tenant, scopes))
    }

    /// Returns a client sending `token` as is (a JWT, an API key, garbage).
    pub fn with_token(&self, token: impl Into<String>) -> AuditClient {
        self.anonymous.with_token(token)
    }

    /// Returns the server's address as a client endpoint, `http://host:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Scrapes `/metrics`; the test server must have been started with
    /// `metrics_listen` set.
    pub async fn scrape(&self) -> crate::Scrape {
        let addr = self
            .metrics_addr
            .expect("this test server was started without metrics_listen");
        crate::Scrape::from(addr).await
    }

    /// Returns a client that sends no `authorization` header.
    pub fn anonymous(&self) -> AuditClient {
        self.anonymous.clone()
    }

    /// Returns a client for `auditor`, an `audit:admin` of [`ADMIN_TENANT`].
    pub fn admin(&self) -> AuditClient {
        self.client_as("auditor", ADMIN_TENANT, "audit:admin")
    }

    /// Returns the URL of the database the server uses.
    pub fn database_url(&self) -> &str {
        &self.settings.database_url
    }

    /// Returns the server's store, for administrative steps such as API keys.
    pub fn store(&self) -> &AuditStore {
        &self.store
    }

    /// Creates an API key for `tenant` with `scopes`.
    pub async fn api_key(&self, tenant: &str, scopes: &str) -> CreatedApiKey {
        create_api_key(&self.store, tenant, scopes, "test key")
            .await
            .expect("failed to create an API key")
    }

    /// Revokes an API key by id.
    pub async fn revoke_api_key(&self, id: &str) {
        let revoked = revoke_api_key(&self.store, id)
            .await
            .expect("failed to revoke an API key");
        assert!(revoked, "API key {id} was not found to revoke");
    }

    /// Appends `entries` as `tenant`'s user and returns their ids; the call
    /// must succeed.
    pub async fn seed(&self, tenant: &str, entries: Vec<AuditLogInput>) -> Vec<String> {
        self.append(tenant, entries)
            .await
            .unwrap_or_else(|error| panic!("seeding {tenant} failed: {error:?}"))
    }

    /// AppendAuditLogs as `tenant`'s user.
    pub async fn append(
        &self,
        tenant: &str,
        entries: Vec<AuditLogInput>,
    ) -> Result<Vec<String>, Error> {
        self.client_for(tenant, ALL_SCOPES).append(entries).await
    }

    /// ListAuditLogs as `tenant`'s user: every entry of the stream.
    pub async fn list(
        &self,
        tenant: &str,
        request: ListAuditLogsRequest,
    ) -> Result<Vec<AuditLog>, Error> {
        self.client_for(tenant, ALL_SCOPES)
            .list_with(request)
            .collect()
            .await
    }

    /// ListAuditLogs as `tenant`'s user: every message of the stream, as
    /// the server sent it.
    pub async fn list_pages(
        &self,
        tenant: &str,
        request: ListAuditLogsRequest,
    ) -> Result<Vec<ListAuditLogsResponse>, Error> {
        let pages = self
            .client_for(tenant, ALL_SCOPES)
            .list_with(request)
            .pages();
        pages
            .map_ok(|page| ListAuditLogsResponse {
                audit_logs: page.entries,
                next_page_token: page.next_page_token,
                total_count: page.total_count,
            })
            .try_collect()
            .await
    }

    /// GetAuditLog as `tenant`'s user.
    pub async fn get(&self, tenant: &str, id: &str) -> Result<AuditLog, Error> {
        self.client_for(tenant, ALL_SCOPES).get(id).await
    }

    /// DeleteAuditLog as `tenant`'s user.
    pub async fn delete(
        &self,
        tenant: &str,
        id: &str,
        reason: &str,
    ) -> Result<DeleteAuditLogResponse, Error> {
        self.client_for(tenant, ALL_SCOPES).delete(id, reason).await
    }

    /// GetAuditStats as `tenant`'s user.
    pub async fn stats(
        &self,
        tenant: &str,
        request: GetAuditStatsRequest,
    ) -> Result<AuditStats, Error> {
        self.client_for(tenant, ALL_SCOPES)
            .stats_with(request)
            .send()
            .await
    }

    /// DescribeFilters as `tenant`'s user.
    pub async fn describe_filters(&self, tenant: &str) -> Result<FilterMetadata, Error> {
        self.client_for(tenant, ALL_SCOPES).describe_filters().await
    }

    /// Returns true while `run_until_stopped` has not returned.
    pub fn is_serving(&self) -> bool {
        self.server
            .as_ref()
            .is_some_and(|server| !server.is_finished())
    }

    /// Signals shutdown and waits for `run_until_stopped` to return (at
    /// once when the server was already stopped).
    pub async fn stop(mut self) -> Result<(), StartupError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server.await.expect("the server task panicked"),
            None => Ok(()),
        }
    }
}

/// Runs `application` on a task until the returned sender fires or drops.
fn run(application: Application) -> (oneshot::Sender<()>, JoinHandle<Result<(), StartupError>>) {
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async move {
        // A dropped sender stops the server as well.
        let _ = stopped.await;
    }));
    (shutdown, server)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The runtime ends with the test and aborts the task anyway; this
        // lets the server close its listener and pool cleanly if it can.
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

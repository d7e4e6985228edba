//! Graceful shutdown: `run_until_stopped` returns once its shutdown future
//! resolves, and the port stops accepting calls.

use audit_client::AuditClient;
use audit_tests::{ACME, Backend, TestApp, input, on_both_backends};
use std::time::Duration;

on_both_backends!(run_until_stopped_returns_after_the_shutdown_signal);
async fn run_until_stopped_returns_after_the_shutdown_signal(backend: Backend) {
    // A long grace period: returning quickly proves the server drained and
    // stopped, not that the grace timer gave up on it.
    let app = TestApp::spawn_with(backend, |settings| {
        settings.shutdown_grace = Duration::from_secs(60)
    })
    .await;
    app.seed(ACME, vec![input("user.login")]).await;
    let addr = app.addr;
    assert!(app.is_serving(), "the server runs until it is told to stop");

    let stopped = tokio::time::timeout(Duration::from_secs(20), app.stop()).await;

    let outcome = stopped.expect("run_until_stopped returned within 20 s of the signal");
    outcome.expect("run_until_stopped returned Ok");
    let reconnect = AuditClient::connect(format!("http://{addr}")).await;
    assert!(reconnect.is_err(), "the port is closed after shutdown");
}

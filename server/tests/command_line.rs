//! The `audit-server` executable as an operator runs it: its administrative
//! commands and its refusals at start.
//!
//! Being an integration test of this package also makes `cargo test
//! --workspace` build the executable itself, which the kill -9 tests in
//! `tests/api` run as a child process.

use audit_server::auth::{JwtSecret, JwtVerifier, Scope};
use std::path::Path;
use std::process::{Command, Output};

const SERVER: &str = env!("CARGO_BIN_EXE_audit-server");

/// A secret long enough for any listener.
const SECRET: &str = "command-line-test-secret-of-at-least-32-bytes";

/// Runs the executable with `args`, in `dir`, with none of the caller's
/// `AUDIT_*` or `OTEL_*` settings leaking in.
fn audit_server(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(SERVER);
    command.current_dir(dir).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("AUDIT_") || name.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.env("OTEL_SDK_DISABLED", "true");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("cannot run audit-server")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_public_listener_without_a_jwt_secret_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = audit_server(dir.path(), &["--listen", "0.0.0.0:0"], &[]);

    assert!(!output.status.success(), "it must not start: {output:?}");
    let message = stderr(&output);
    assert!(
        message.contains("0.0.0.0:0") && message.to_lowercase().contains("secret"),
        "the refusal names the listener and the missing secret: {message}"
    );
    assert!(!message.contains("panicked"), "{message}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created for a server that did not start"
    );
}

#[test]
fn a_short_jwt_secret_is_refused_on_a_public_listener() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = audit_server(
        dir.path(),
        &["--listen", "0.0.0.0:0"],
        &[("AUDIT_JWT_SECRET", "short")],
    );

    assert!(!output.status.success(), "it must not start: {output:?}");
    let message = stderr(&output);
    assert!(message.contains("5-byte"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn token_prints_a_jwt_the_server_accepts_for_its_tenant_and_scopes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = audit_server(
        dir.path(),
        &[
            "token",
            "--tenant",
            "acme",
            "--scope",
            "audit:read audit:append",
            "--subject",
            "oncall",
        ],
        &[("AUDIT_JWT_SECRET", SECRET)],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    let token = String::from_utf8(output.stdout).expect("utf-8 token");
    let verifier = JwtVerifier::new(&JwtSecret::new(SECRET), None).expect("verifier");
    let caller = verifier
        .verify(token.trim())
        .expect("the token verifies with the same secret");
    assert_eq!(caller.tenant_id, "acme");
    assert_eq!(caller.subject, "oncall");
    assert!(caller.require(Scope::Read).is_ok(), "{caller:?}");
    assert!(caller.require(Scope::Append).is_ok(), "{caller:?}");
    assert!(
        caller.require(Scope::Write).is_err(),
        "no scope beyond the ones asked for: {caller:?}"
    );
    assert!(
        JwtVerifier::new(
            &JwtSecret::new("another-secret-of-at-least-32-bytes!!"),
            None
        )
        .expect("verifier")
        .verify(token.trim())
        .is_err(),
        "another secret must not accept it"
    );
}

#[test]
fn migrate_creates_the_embedded_database_and_can_run_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("audit.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());

    for run in 1..=2 {
        let output = audit_server(dir.path(), &["migrate", "--database-url", &url], &[]);
        assert!(output.status.success(), "run {run}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("migrations applied"),
            "run {run}: {}",
            stderr(&output)
        );
    }
    assert!(file.is_file(), "the database file exists after migrate");
}

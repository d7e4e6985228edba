//! Running the binary against a test server, the entries most tests seed,
//! and golden files.

use audit_proto::{ActorType, AuditLogInput, Result as Outcome};
use audit_tests::{ACME, ALL_SCOPES, AuditLogInputExt, TestApp, input, utc};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of `audit` printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the run succeeded and returns its stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "audit failed: {self:#?}");
        self.stdout
    }

    /// Asserts the run failed with `code` and one `error: …` line, and
    /// returns that line.
    pub fn failed(self, code: i32) -> String {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        let error = lines
            .last()
            .unwrap_or_else(|| panic!("nothing on stderr: {self:#?}"));
        assert!(error.starts_with("error: "), "not an error line: {self:#?}");
        error.to_string()
    }
}

/// The `audit` command for one caller of one server.
#[derive(Clone)]
pub struct Audit {
    endpoint: String,
    token: String,
}

impl Audit {
    /// Runs as `acme-user` with every scope, against `app`.
    pub fn for_app(app: &TestApp) -> Self {
        Self::as_tenant(app, ACME)
    }

    /// Runs as `{tenant}-user` with every scope, against `app`.
    pub fn as_tenant(app: &TestApp, tenant: &str) -> Self {
        Self {
            endpoint: format!("http://{}", app.addr),
            token: app.token(&format!("{tenant}-user"), tenant, ALL_SCOPES),
        }
    }

    /// Runs against `endpoint` with `token`.
    pub fn at(endpoint: &str, token: &str) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            token: token.to_owned(),
        }
    }

    /// Returns the command `audit ARGS` with the endpoint and token in the
    /// environment, as an operator would set them.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_audit"));
        command
            .args(args)
            .env("AUDIT_ENDPOINT", &self.endpoint)
            .env("AUDIT_TOKEN", &self.token);
        command
    }

    /// Runs `audit ARGS` off the async runtime, so the server keeps serving
    /// meanwhile.
    pub async fn run(&self, args: &[&str]) -> Run {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || {
            let output = command.output().expect("failed to run audit");
            Run {
                code: output.status.code().expect("audit was killed by a signal"),
                stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
                stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
            }
        })
        .await
        .expect("the audit runner panicked")
    }
}

/// Four entries with fixed times covering every column: a login with
/// metadata, a read with an HTTP request, a denied API-key action, and a
/// system action with nothing but a type. Newest is the system backup.
pub fn fixture() -> Vec<AuditLogInput> {
    vec![
        input("user.login")
            .by("u1", ActorType::User)
            .email("alice@acme.test")
            .named("Alice")
            .on("session", "s1")
            .outcome(Outcome::Success)
            .client_ip("10.0.0.7")
            .at(utc("2024-01-01T09:00:00Z"))
            .metadata(serde_json::json!({"mfa": true, "attempt": 1})),
        input("document.read")
            .by("u2", ActorType::User)
            .email("bob@acme.test")
            .on("document", "d1")
            .outcome(Outcome::Success)
            .client_ip("10.0.0.8")
            .at(utc("2024-01-01T10:30:00.25Z"))
            .request("GET", "/documents/d1", 200)
            .labelled("req-2"),
        input("api_key.created")
            .by("k1", ActorType::ApiKey)
            .on("api_key", "key_7")
            .outcome(Outcome::Denied)
            .client_ip("2001:db8::1")
            .at(utc("2024-01-02T08:15:00Z"))
            .idempotency_key("create-key-7"),
        input("system.backup")
            .by("", ActorType::System)
            .outcome(Outcome::Error)
            .at(utc("2024-01-03T00:00:00Z")),
    ]
}

/// Replaces what the server assigns (ids, the receive time, and the
/// digests and hashes that follow from them) with placeholders, so output
/// can be compared with a golden file.
pub fn normalise(text: &str, ids: &[String], received_at: &str) -> String {
    let mut text = text.replace(received_at, "<received_at>");
    for (index, id) in ids.iter().enumerate() {
        text = text.replace(id.as_str(), &format!("<id{}>", index + 1));
    }
    replace_hashes(&text)
}

/// Replaces every run of exactly 64 lowercase hex digits with `<sha256>`.
fn replace_hashes(text: &str) -> String {
    let is_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if is_hex(c) {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 64 { "<sha256>" } else { &run });
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// Returns the receive time of the seeded batch as the CLI prints it.
pub async fn received_at(app: &TestApp, id: &str) -> String {
    let entry = app.get(ACME, id).await.expect("get a seeded entry");
    audit_client::timestamp_to_rfc3339(&entry.received_at.expect("received_at is set"))
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with `tests/golden/NAME`; `UPDATE_GOLDEN=1` rewrites
/// the file instead.
pub fn assert_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    assert_eq!(
        actual,
        expected,
        "output differs from {} (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

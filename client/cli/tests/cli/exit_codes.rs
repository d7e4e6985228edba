//! Exit codes and the one-line errors behind them.

use crate::support::Audit;
use audit_tests::{ACME, Backend, TestApp};

#[tokio::test]
async fn usage_errors_exit_2() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let audit = Audit::for_app(&app);
    for args in [
        vec!["list", "--no-such-flag"],
        vec!["list", "--since", "last tuesday"],
        vec!["list", "--actor-type", "robot"],
        vec!["stats", "--top", "0"],
        vec!["append", "--action", "a", "--metadata", "[1]"],
        vec!["get"],
    ] {
        let run = audit.run(&args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
    }
    let bad_endpoint = Audit::at("http://[::1", "t").run(&["list"]).await.failed(2);
    assert!(bad_endpoint.contains("invalid endpoint"), "{bad_endpoint}");
}

#[tokio::test]
async fn a_bad_token_or_a_missing_scope_exits_3() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let endpoint = format!("http://{}", app.addr);
    let error = Audit::at(&endpoint, "not-a-token")
        .run(&["list"])
        .await
        .failed(3);
    assert!(error.starts_with("error: unauthenticated: "), "{error}");

    let reader = app.token("reader", ACME, "audit:read");
    let error = Audit::at(&endpoint, &reader)
        .run(&["append", "--action", "user.login"])
        .await
        .failed(3);
    assert!(error.starts_with("error: permission denied: "), "{error}");
}

#[tokio::test]
async fn an_unknown_id_exits_4() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let error = Audit::for_app(&app)
        .run(&["get", "0190a3c4-0000-7000-8000-000000000001"])
        .await
        .failed(4);
    assert!(error.starts_with("error: not found: "), "{error}");
}

#[tokio::test]
async fn a_closed_port_exits_5() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
        listener.local_addr().expect("local address").port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let error = Audit::at(&endpoint, "t").run(&["list"]).await.failed(5);
    assert!(error.contains("cannot connect to"), "{error}");
    assert!(error.to_lowercase().contains("refused"), "{error}");
}

#[tokio::test]
async fn invalid_arguments_exit_1_naming_each_field() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let audit = Audit::for_app(&app);
    let error = audit
        .run(&["list", "--client-ip", "not-an-ip", "--action", "a b"])
        .await
        .failed(1);
    assert!(error.starts_with("error: invalid argument: "), "{error}");
    assert!(error.contains("filter.client_ip: "), "{error}");

    let error = audit.run(&["get", "not-a-uuid"]).await.failed(1);
    assert!(error.contains("id: must be a UUID"), "{error}");

    let error = audit
        .run(&["append", "--action", "has space"])
        .await
        .failed(1);
    assert!(error.contains("entries[0].action: "), "{error}");
}

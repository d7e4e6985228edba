//! GetAuditLog: one entry by id, NOT_FOUND when there is none.

use audit_tests::{ACME, Backend, TestApp, assert_code, input, on_both_backends};
use tonic::Code;

on_both_backends!(get_returns_the_entry_with_that_id);
async fn get_returns_the_entry_with_that_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app
        .seed(ACME, vec![input("user.login"), input("user.logout")])
        .await;

    let entry = app.get(ACME, &ids[1]).await.expect("get");

    assert_eq!(
        (entry.id.as_str(), entry.action.as_str()),
        (ids[1].as_str(), "user.logout")
    );
}

on_both_backends!(get_of_an_unknown_id_is_not_found);
async fn get_of_an_unknown_id_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, vec![input("user.login")]).await;
    let unknown = uuid::Uuid::now_v7().to_string();

    let status = assert_code(app.get(ACME, &unknown).await, Code::NotFound);

    assert!(
        status.message().contains(&unknown),
        "the message names the id: {}",
        status.message()
    );
}

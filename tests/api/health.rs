//! gRPC health: SERVING for the server and for `audit.v1.AuditService`,
//! without a token.

use audit_tests::{Backend, TestApp, on_both_backends};
use std::time::Duration;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

on_both_backends!(health_reports_serving);
async fn health_reports_serving(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.addr))
        .expect("valid endpoint")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel);

    for service in ["", "audit.v1.AuditService"] {
        // The service's status is set by the first database check, which runs
        // as the server starts: allow it a moment.
        let mut status = None;
        for _ in 0..50 {
            let reply = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await;
            status = Some(
                reply
                    .as_ref()
                    .map(|reply| reply.get_ref().status)
                    .map_err(|status| status.code()),
            );
            if status == Some(Ok(ServingStatus::Serving as i32)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            status,
            Some(Ok(ServingStatus::Serving as i32)),
            "health of {service:?}"
        );
    }
}

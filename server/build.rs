//! Generates the `AuditService` server stubs from `proto/`. Every message
//! is the `audit-proto` crate's, except the ListAuditLogs reply: the server
//! sends pages it encoded itself (`wire::ListReply`), which the stubs from
//! `audit-proto` could not carry.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let descriptors = protox::compile(["audit/v1/audit.proto"], ["../proto"])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .extern_path(".audit.v1", "::audit_proto")
        .extern_path(".audit.v1.ListAuditLogsResponse", "crate::wire::ListReply")
        .compile_fds(descriptors)?;
    Ok(())
}

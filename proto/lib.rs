//! The `audit.v1` contract: message types, the tonic client for
//! `AuditService` (the server generates its own stubs), and the encoded
//! descriptor set for gRPC reflection.
//!
//! Both the server and the client crates depend on this crate alone for the
//! wire format, so a backend that only records events never builds the
//! storage layer.
//!
//! [`integrity`] holds the canonical bytes of an entry and the hash chain
//! (`docs/integrity.md`), shared by the server and offline verifiers;
//! [`checkpoint`] the signed checkpoints of a chain head.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

/// Generated types and stubs of the `audit.v1` package.
pub mod v1 {
    tonic::include_proto!("audit.v1");
}

/// The encoded `FileDescriptorSet` of `audit/v1/audit.proto` and its imports,
/// registered with the reflection service so grpcurl can describe the API.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("audit_descriptor");

pub mod checkpoint;
pub mod integrity;

pub use v1::*;

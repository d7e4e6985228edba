//! AppendAuditLogs requests, as the protobuf a client sends, through the
//! server's batch and entry validation.

#![no_main]

use audit_fuzz::append::check_append_request;
use audit_proto as pb;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = pb::AppendAuditLogsRequest::decode(data) {
        check_append_request(&request);
    }
});

//! ListAuditLogs requests through filter and paging validation. The first
//! byte picks how the rest is read: as the request's protobuf encoding
//! (bit 0 clear; bit 1 makes the caller an admin), or field by field.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use audit_fuzz::list::{ListFields, check_list_request};
use audit_proto as pb;
use audit_validation::filter::TenantAccess;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let Ok(request) = pb::ListAuditLogsRequest::decode(rest) else {
            return;
        };
        let access = TenantAccess {
            tenant_id: "acme".to_owned(),
            admin: mode & 2 != 0,
        };
        check_list_request(&request, &access);
    } else if let Ok(fields) = ListFields::arbitrary_take_rest(Unstructured::new(rest)) {
        let (request, access) = fields.request();
        check_list_request(&request, &access);
    }
});

//! DescribeFilters: the filter fields, sort orders, and the actions and
//! target types present in the caller's tenant only.

use audit_proto::{FilterMetadata, FilterOperator as Op, SortOrder};
use audit_tests::{ACME, AuditLogInputExt, Backend, GLOBEX, TestApp, input, on_both_backends};
use prost::Message;
use std::collections::BTreeSet;

/// Returns the field names of `audit.v1.AuditLogFilter` as compiled into the
/// contract crate, so a field added to the proto must be described too.
fn filter_field_names_in_the_contract() -> BTreeSet<String> {
    let descriptors = prost_types::FileDescriptorSet::decode(audit_proto::FILE_DESCRIPTOR_SET)
        .expect("the contract's descriptor set decodes");
    let filter = descriptors
        .file
        .iter()
        .filter(|file| file.package() == "audit.v1")
        .flat_map(|file| &file.message_type)
        .find(|message| message.name() == "AuditLogFilter")
        .expect("audit.v1.AuditLogFilter is in the contract");
    filter
        .field
        .iter()
        .map(|field| field.name().to_owned())
        .collect()
}

fn operators(metadata: &FilterMetadata, name: &str) -> Vec<Op> {
    let field = metadata
        .fields
        .iter()
        .find(|field| field.name == name)
        .unwrap_or_else(|| panic!("{name} is described"));
    field
        .operators
        .iter()
        .map(|op| Op::try_from(*op).expect("known operator"))
        .collect()
}

fn values(metadata: &FilterMetadata, name: &str) -> BTreeSet<String> {
    let field = metadata
        .fields
        .iter()
        .find(|field| field.name == name)
        .unwrap_or_else(|| panic!("{name} is described"));
    field.values.iter().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

on_both_backends!(describes_every_filter_field_and_sort_order);
async fn describes_every_filter_field_and_sort_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let metadata = app.describe_filters(ACME).await.expect("describe");

    let described: BTreeSet<String> = metadata
        .fields
        .iter()
        .map(|field| field.name.clone())
        .collect();
    assert_eq!(described, filter_field_names_in_the_contract());
    assert_eq!(
        described.len(),
        metadata.fields.len(),
        "each field is described once"
    );
    assert!(metadata.fields.iter().all(|field| !field.r#type.is_empty()
        && !field.description.is_empty()
        && !field.operators.is_empty()));
    assert!(operators(&metadata, "action").contains(&Op::Prefix));
    assert!(operators(&metadata, "client_ip").contains(&Op::Cidr));
    assert_eq!(operators(&metadata, "start_time"), [Op::AtOrAfter]);
    assert_eq!(operators(&metadata, "end_time"), [Op::Before]);
    assert_eq!(
        values(&metadata, "result"),
        set(&[
            "RESULT_SUCCESS",
            "RESULT_FAILURE",
            "RESULT_DENIED",
            "RESULT_ERROR"
        ])
    );
    assert_eq!(
        values(&metadata, "actor_type"),
        set(&[
            "ACTOR_TYPE_USER",
            "ACTOR_TYPE_API_KEY",
            "ACTOR_TYPE_SERVICE",
            "ACTOR_TYPE_SYSTEM"
        ])
    );
    let orders: BTreeSet<i32> = metadata.sort_orders.iter().copied().collect();
    assert_eq!(
        orders,
        BTreeSet::from([SortOrder::NewestFirst as i32, SortOrder::OldestFirst as i32])
    );
}

on_both_backends!(lists_the_actions_and_target_types_of_the_callers_tenant_only);
async fn lists_the_actions_and_target_types_of_the_callers_tenant_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(
        ACME,
        vec![
            input("user.login"),
            input("user.login"),
            input("document.read").on("document", "d1"),
            input("user.logout").on("user", "u1"),
        ],
    )
    .await;
    app.seed(
        GLOBEX,
        vec![
            input("invoice.paid").on("invoice", "i1"),
            input("user.login"),
        ],
    )
    .await;

    let acme = app.describe_filters(ACME).await.expect("describe");
    let globex = app.describe_filters(GLOBEX).await.expect("describe");
    let empty = app.describe_filters("initech").await.expect("describe");

    let as_set = |items: &[String]| items.iter().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        as_set(&acme.actions),
        set(&["document.read", "user.login", "user.logout"])
    );
    assert_eq!(
        acme.actions.len(),
        3,
        "each action once: {:?}",
        acme.actions
    );
    assert_eq!(as_set(&acme.target_types), set(&["document", "user"]));
    assert_eq!(
        as_set(&globex.actions),
        set(&["invoice.paid", "user.login"])
    );
    assert_eq!(as_set(&globex.target_types), set(&["invoice"]));
    assert!(empty.actions.is_empty() && empty.target_types.is_empty());
}

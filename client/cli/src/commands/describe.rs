//! `audit describe`: the filter fields with their flags and operators, the
//! sort orders, and the actions and target types present in the tenant.

use crate::error::CliError;
use crate::output::{self, columns::aligned};
use crate::service::Service;
use audit_proto::{FilterMetadata, FilterOperator, SortOrder};

pub async fn run(service: &Service) -> Result<(), CliError> {
    let metadata = service.describe().await?;
    output::print(&render(&metadata))
}

fn render(metadata: &FilterMetadata) -> String {
    let mut rows = vec![
        ["FIELD", "FLAG", "TYPE", "OPERATORS", "DESCRIPTION"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for field in &metadata.fields {
        let operators: Vec<String> = field
            .operators
            .iter()
            .map(|operator| operator_name(*operator))
            .collect();
        let mut description = field.description.clone();
        if !field.values.is_empty() {
            let values: Vec<String> = field.values.iter().map(|name| short_name(name)).collect();
            description.push_str(&format!(" ({})", values.join(", ")));
        }
        rows.push(vec![
            field.name.clone(),
            flag(&field.name),
            field.r#type.clone(),
            operators.join(", "),
            description,
        ]);
    }
    let mut text = format!("Filter fields\n{}", aligned(&rows, &[]));

    text.push_str("\nSort orders\n");
    for order in &metadata.sort_orders {
        let line = match SortOrder::try_from(*order) {
            Ok(SortOrder::NewestFirst) => "newest_first (default)".to_owned(),
            Ok(SortOrder::OldestFirst) => "oldest_first (--oldest-first)".to_owned(),
            _ => format!("{order}"),
        };
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str(&list("Actions", &metadata.actions));
    text.push_str(&list("Target types", &metadata.target_types));
    text
}

/// A titled list, one value per line, or `(none)`.
fn list(title: &str, values: &[String]) -> String {
    let mut text = format!("\n{title} ({})\n", values.len());
    if values.is_empty() {
        text.push_str("  (none)\n");
    }
    for value in values {
        text.push_str(&format!("  {value}\n"));
    }
    text
}

/// The command-line flag for a filter field.
fn flag(field: &str) -> String {
    match field {
        "start_time" => "--since".to_owned(),
        "end_time" => "--until".to_owned(),
        "tenant_id" => "--tenant".to_owned(),
        name => format!("--{}", name.replace('_', "-")),
    }
}

/// `FILTER_OPERATOR_AT_OR_AFTER` → `at_or_after`.
fn operator_name(operator: i32) -> String {
    FilterOperator::try_from(operator)
        .map(|operator| {
            operator
                .as_str_name()
                .trim_start_matches("FILTER_OPERATOR_")
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|_| operator.to_string())
}

/// `ACTOR_TYPE_API_KEY` → `api_key`, as the flags take it.
fn short_name(name: &str) -> String {
    let short = ["ACTOR_TYPE_", "RESULT_"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .unwrap_or(name);
    short.to_ascii_lowercase()
}

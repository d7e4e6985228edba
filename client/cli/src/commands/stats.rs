//! `audit stats`: the total, the top actions, target types, results and
//! actors, and a histogram drawn as bars.

use crate::cli::StatsArgs;
use crate::error::CliError;
use crate::output::{self, bars, columns::aligned};
use crate::service::Service;
use audit_client::timestamp_to_datetime;
use audit_proto::{AuditStats, CountBy, Granularity};

pub async fn run(service: &Service, args: StatsArgs) -> Result<(), CliError> {
    let filter = args.filters.to_filter(chrono::Utc::now());
    let stats = service.stats(filter, args.by.into(), args.top).await?;
    output::print(&render(&stats, args.top as usize))
}

/// Renders the report; lists are cut to `top` rows like the actor ranking.
fn render(stats: &AuditStats, top: usize) -> String {
    let mut text = format!("Total: {}\n", stats.total);
    text.push_str(&counts("By action", &stats.by_action, stats.total, top));
    text.push_str(&counts(
        "By target type",
        &stats.by_target_type,
        stats.total,
        top,
    ));
    let by_result: Vec<CountBy> = stats
        .by_result
        .iter()
        .map(|count| CountBy {
            key: count.key.trim_start_matches("RESULT_").to_ascii_lowercase(),
            count: count.count,
        })
        .collect();
    text.push_str(&counts("By result", &by_result, stats.total, top));

    text.push_str("\nTop actors\n");
    let actors: Vec<Vec<String>> = stats
        .top_actors
        .iter()
        .map(|actor| {
            vec![
                non_empty(&actor.actor_id),
                actor.actor_email.clone(),
                actor.actor_name.clone(),
                actor.count.to_string(),
            ]
        })
        .collect();
    text.push_str(&or_none(aligned(&actors, &[3])));

    text.push_str(&histogram(stats));
    text
}

/// A titled list of keys with counts and their share of `total`.
fn counts(title: &str, counts: &[CountBy], total: i64, top: usize) -> String {
    let rows: Vec<Vec<String>> = counts
        .iter()
        .take(top)
        .map(|count| {
            vec![
                non_empty(&count.key),
                count.count.to_string(),
                percent(count.count, total),
            ]
        })
        .collect();
    let mut text = format!("\n{title}\n{}", or_none(aligned(&rows, &[1, 2])));
    if counts.len() > top {
        text.push_str(&format!("  … and {} more\n", counts.len() - top));
    }
    text
}

/// The histogram: one line per non-empty bucket, `label  count  bar`.
fn histogram(stats: &AuditStats) -> String {
    let granularity = Granularity::try_from(stats.bucket).unwrap_or(Granularity::Day);
    let name = match granularity {
        Granularity::Hour => "hour",
        Granularity::Week => "week",
        Granularity::Month => "month",
        Granularity::Day | Granularity::Unspecified => "day",
    };
    let mut text = format!("\nBy {name}\n");
    if stats.histogram.is_empty() {
        text.push_str("  (none)\n");
        return text;
    }
    let labels: Vec<String> = stats
        .histogram
        .iter()
        .map(|bucket| bucket_label(bucket.start.as_ref(), granularity))
        .collect();
    let max = stats.histogram.iter().map(|bucket| bucket.count).max();
    let max = max.unwrap_or(0);
    let label_width = labels.iter().map(String::len).max().unwrap_or(0);
    let count_width = max.to_string().len();
    let width = bars::width_after(2 + label_width + 2 + count_width + 2);
    for (label, bucket) in labels.iter().zip(&stats.histogram) {
        text.push_str(&format!(
            "  {label:label_width$}  {:>count_width$}  {}\n",
            bucket.count,
            bars::bar(bucket.count, max, width)
        ));
    }
    text
}

/// A bucket's start as precise as its width: `2024-05-01 13:00` for hours,
/// `2024-05` for months, the first day otherwise.
fn bucket_label(start: Option<&prost_types::Timestamp>, granularity: Granularity) -> String {
    let Some(start) = start.and_then(|time| timestamp_to_datetime(time).ok()) else {
        return "?".to_owned();
    };
    let format = match granularity {
        Granularity::Hour => "%Y-%m-%d %H:00",
        Granularity::Month => "%Y-%m",
        _ => "%Y-%m-%d",
    };
    start.format(format).to_string()
}

fn percent(count: i64, total: i64) -> String {
    if total <= 0 {
        return String::new();
    }
    format!("{:.1}%", count as f64 * 100.0 / total as f64)
}

/// Names the empty key (entries without a target) rather than printing a
/// blank.
fn non_empty(key: &str) -> String {
    if key.is_empty() {
        "(none)".to_owned()
    } else {
        key.to_owned()
    }
}

fn or_none(rows: String) -> String {
    if rows.is_empty() {
        "  (none)\n".to_owned()
    } else {
        rows
    }
}

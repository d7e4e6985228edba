//! Entries as aligned columns for a terminal: time, actor, action, target,
//! result, ip.
//!
//! Widths are fixed rather than fitted to the data, so rows can be printed
//! as they arrive; longer values are cut with `…`.

use super::EntryWriter;
use audit_client::timestamp_to_datetime;
use audit_proto::{ActorType, AuditLog, Result as Outcome};
use chrono::SecondsFormat;
use std::io::{self, Write};

/// Column titles and widths; the last column is not padded.
const COLUMNS: [(&str, usize); 6] = [
    ("TIME", 20),
    ("ACTOR", 24),
    ("ACTION", 24),
    ("TARGET", 28),
    ("RESULT", 7),
    ("IP", 0),
];

/// What an empty cell shows.
const NONE: &str = "-";

pub struct TableWriter;

impl EntryWriter for TableWriter {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        write_row(out, COLUMNS.map(|(title, _)| title.to_owned()))
    }

    fn entry(&mut self, out: &mut dyn Write, entry: &AuditLog) -> io::Result<()> {
        write_row(
            out,
            [
                time(entry),
                actor(entry),
                entry.action.clone(),
                target(entry),
                result_name(entry.result).to_owned(),
                entry.client_ip.clone(),
            ],
        )
    }

    fn end(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

fn write_row(out: &mut dyn Write, cells: [String; 6]) -> io::Result<()> {
    let mut line = String::new();
    for ((_, width), cell) in COLUMNS.iter().zip(cells) {
        let cell = if cell.is_empty() {
            NONE.to_owned()
        } else {
            cell
        };
        if *width == 0 {
            line.push_str(&cell);
        } else {
            line.push_str(&fit(&cell, *width));
            line.push_str("  ");
        }
    }
    writeln!(out, "{}", line.trim_end())
}

/// Pads or cuts `text` to exactly `width` characters.
fn fit(text: &str, width: usize) -> String {
    let length = text.chars().count();
    if length <= width {
        format!("{text:width$}")
    } else {
        let kept: String = text.chars().take(width - 1).collect();
        format!("{kept}…")
    }
}

/// The time to the second: enough to tell rows apart at a glance.
fn time(entry: &AuditLog) -> String {
    entry
        .occurred_at
        .as_ref()
        .and_then(|time| timestamp_to_datetime(time).ok())
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The actor as a person would name them: email, else id, else name, else
/// their kind (a `system` actor often has nothing else).
fn actor(entry: &AuditLog) -> String {
    let Some(actor) = &entry.actor else {
        return String::new();
    };
    [&actor.email, &actor.id, &actor.name]
        .into_iter()
        .find(|value| !value.is_empty())
        .cloned()
        .unwrap_or_else(|| actor_type_name(actor.r#type).to_owned())
}

/// The target as `type:id`.
fn target(entry: &AuditLog) -> String {
    match &entry.target {
        None => String::new(),
        Some(target) if target.id.is_empty() => target.r#type.clone(),
        Some(target) => format!("{}:{}", target.r#type, target.id),
    }
}

/// `ActorType::ApiKey` → `api_key`, as the flags spell it; empty when
/// unspecified.
fn actor_type_name(value: i32) -> &'static str {
    match ActorType::try_from(value) {
        Ok(ActorType::User) => "user",
        Ok(ActorType::ApiKey) => "api_key",
        Ok(ActorType::Service) => "service",
        Ok(ActorType::System) => "system",
        Ok(ActorType::Unspecified) | Err(_) => "",
    }
}

/// `Result::Denied` → `denied`, as the flags spell it; empty when
/// unspecified.
fn result_name(value: i32) -> &'static str {
    match Outcome::try_from(value) {
        Ok(Outcome::Success) => "success",
        Ok(Outcome::Failure) => "failure",
        Ok(Outcome::Denied) => "denied",
        Ok(Outcome::Error) => "error",
        Ok(Outcome::Unspecified) | Err(_) => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_padded_or_cut_to_their_width() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 5), "abcd…");
        assert_eq!(fit("abcde", 5), "abcde");
    }
}

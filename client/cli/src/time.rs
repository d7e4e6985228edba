//! Times on the command line: RFC 3339 (`2024-05-01T12:00:00Z`),
//! a date (`2024-05-01`, midnight UTC) or an age meaning that long ago (`90m`,
//! `24h`, `7d`, `2w`), so an operator can type `--since 24h`.

use chrono::{DateTime, NaiveDate, Utc};
use std::time::Duration;

/// A time as typed: the text, kept so a resumed export can compare flags,
/// and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeArg {
    pub text: String,
    pub time: TimeSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    At(DateTime<Utc>),
    /// That long before the command started.
    Ago(Duration),
}

impl TimeArg {
    /// Returns the instant this names, with relative times counted back from
    /// `now`.
    pub fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.time {
            TimeSpec::At(time) => time,
            TimeSpec::Ago(age) => chrono::TimeDelta::from_std(age)
                .ok()
                .and_then(|age| now.checked_sub_signed(age))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

/// Parses `--since`/`--until`/`--occurred-at`; a clap value parser, so a bad
/// time is a usage error.
pub fn parse_time(text: &str) -> Result<TimeArg, String> {
    let time = if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        TimeSpec::At(time.with_timezone(&Utc))
    } else if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        TimeSpec::At(date.and_time(chrono::NaiveTime::MIN).and_utc())
    } else if let Ok(age) = humantime::parse_duration(text) {
        TimeSpec::Ago(age)
    } else {
        return Err(
            "expected RFC 3339 (2024-05-01T12:00:00Z), a date (2024-05-01) \
             or an age such as 30m, 24h, 7d"
                .to_owned(),
        );
    };
    Ok(TimeArg {
        text: text.to_owned(),
        time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_dates_or_ages() {
        let now = DateTime::parse_from_rfc3339("2024-05-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |text: &str| parse_time(text).unwrap().resolve(now).to_rfc3339();
        assert_eq!(at("2024-05-01T08:30:00+02:00"), "2024-05-01T06:30:00+00:00");
        assert_eq!(at("2024-05-01"), "2024-05-01T00:00:00+00:00");
        assert_eq!(at("24h"), "2024-05-09T12:00:00+00:00");
        assert_eq!(at("7d"), "2024-05-03T12:00:00+00:00");
        assert_eq!(at("90m"), "2024-05-10T10:30:00+00:00");
        assert!(parse_time("yesterday").is_err());
    }
}

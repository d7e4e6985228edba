//! Times the offline chain verifier: builds N chained entries in memory
//! (default 200,000; `-- N` for another count) and reports entries per
//! second, for entries already decoded and for an NDJSON file read the way
//! `audit verify` reads it (in sequence order, and newest first).
//! A benchmark, not a test; the target is 200,000 entries/s per core.
//!
//! ```sh
//! cargo run --release -p audit-client --example verify_bench -- 200000
//! ```

use audit_client::integrity::{VerifyOptions, verify_entries, verify_ndjson_file};
use audit_client::{Actor, AuditLog, RequestInfo, Target, audit_log_to_json, json_to_struct};
use audit_proto::integrity::{GENESIS_HASH, chain_hash, content_digest};
use std::io::Write;
use std::time::{Duration, Instant};

const DEFAULT_ENTRIES: usize = 200_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count = match std::env::args().nth(1) {
        Some(text) => text.parse()?,
        None => DEFAULT_ENTRIES,
    };
    let entries = chain(count)?;

    let started = Clock::start();
    let verdict = verify_entries(entries.clone(), &VerifyOptions::default());
    started.report("decoded entries", count);
    if !verdict.is_intact() {
        return Err(format!("the synthetic chain did not verify: {verdict:?}").into());
    }

    // The NDJSON path an auditor takes: `verify_ndjson_file`, which reads
    // each line into borrowed fields. Once in sequence order (streamed),
    // once newest first (sorted first, in memory at this size).
    let dir = tempfile::tempdir()?;
    for (name, newest_first) in [("sequence order", false), ("newest first", true)] {
        let path = dir
            .path()
            .join(format!("{}.ndjson", name.replace(' ', "-")));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let ordered: Box<dyn Iterator<Item = &AuditLog>> = if newest_first {
            Box::new(entries.iter().rev())
        } else {
            Box::new(entries.iter())
        };
        for entry in ordered {
            writeln!(file, "{}", audit_log_to_json(entry))?;
        }
        file.flush()?;
        drop(file);
        let started = Clock::start();
        let verdict = verify_ndjson_file(&path, &VerifyOptions::default())?;
        started.report(&format!("NDJSON file, {name}"), count);
        if !verdict.is_intact() {
            return Err(format!("the NDJSON chain did not verify: {verdict:?}").into());
        }
    }
    Ok(())
}

/// Wall time, and the CPU time of this (single) thread where Linux tells
/// it: on a shared machine the CPU time is the per-core figure.
struct Clock {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Clock {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: thread_cpu_time(),
        }
    }

    fn report(&self, what: &str, count: usize) {
        let wall = self.wall.elapsed().as_secs_f64();
        let mut line = format!(
            "{what}: {count} entries in {wall:.3} s wall = {:.0} entries/s",
            count as f64 / wall
        );
        if let (Some(before), Some(now)) = (self.cpu, thread_cpu_time()) {
            let cpu = (now - before).as_secs_f64();
            line.push_str(&format!(
                "; {cpu:.3} s CPU = {:.0} entries per CPU-second",
                count as f64 / cpu
            ));
        }
        println!("{line}");
    }
}

/// The time this thread has run on a CPU (Linux: `/proc/thread-self/schedstat`).
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// A chain of `count` entries shaped like real ones: every field set, a
/// few metadata keys.
fn chain(count: usize) -> Result<Vec<AuditLog>, Box<dyn std::error::Error>> {
    let mut previous = GENESIS_HASH;
    let mut entries = Vec::with_capacity(count);
    for index in 0..count {
        let sequence = i64::try_from(index)? + 1;
        let mut entry = AuditLog {
            id: format!("019a0000-0000-7000-8000-{index:012x}"),
            tenant_id: "acme".into(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000 + sequence,
                nanos: 123_000,
            }),
            received_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000 + sequence,
                nanos: 456_000,
            }),
            action: "document.read".into(),
            actor: Some(Actor {
                id: format!("u{}", index % 100),
                r#type: 1,
                name: "Ada Lovelace".into(),
                email: "ada@example.com".into(),
            }),
            target: Some(Target {
                r#type: "document".into(),
                id: format!("d{index}"),
                name: "Quarterly report".into(),
            }),
            result: 1,
            client_ip: "10.1.2.3".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64)".into(),
            request: Some(RequestInfo {
                method: "GET".into(),
                path: format!("/documents/d{index}"),
                status_code: 200,
            }),
            metadata: Some(json_to_struct(serde_json::json!({
                "attempt": 1,
                "mfa": true,
                "ratio": 0.25,
                "tags": ["finance", "q3"],
            }))?),
            request_id: format!("req-{index}"),
            idempotency_key: String::new(),
            sequence,
            ..Default::default()
        };
        let digest = content_digest(&entry)?;
        previous = chain_hash(&digest, &previous);
        entry.content_digest = digest.to_vec();
        entry.hash = previous.to_vec();
        entries.push(entry);
    }
    Ok(entries)
}

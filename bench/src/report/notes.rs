//! Why a figure misses its target, and how each phase was measured.

use super::*;

impl Report {
    /// Per-call statements and Postgres time of one role in one phase.
    fn per_call(&self, phase: &str, role: &str) -> Option<(f64, f64)> {
        let evidence = self.evidence.iter().find(|e| e.phase == phase)?;
        let totals = evidence.roles.iter().find(|r| r.role == role)?;
        let calls = if role == crate::db::CEILING_ROLE {
            evidence.ceiling_calls
        } else {
            evidence.service_calls
        }
        .max(1) as f64;
        Some((totals.calls as f64 / calls, totals.total_ms / calls))
    }

    /// The measured reasons behind a missed figure, from the phase's
    /// pg_stat_statements read-out.
    pub(super) fn explanation(&self, figure: &str) -> String {
        let phase = match figure {
            name if name.starts_with("Batch ingest") => "Batch ingest",
            name if name.starts_with("Single appends") => "Single appends",
            name if name.starts_with("List page") || name.starts_with("Deep page") => "List pages",
            name if name.starts_with("Export") => "Export",
            name if name.starts_with("GetAuditStats") => "Stats",
            _ => {
                let peaks: Vec<String> = self
                    .evidence
                    .iter()
                    .map(|e| format!("{} {:.0} MiB", e.phase, e.peak_rss as f64 / 1048576.0))
                    .collect();
                return format!("Peak RSS by phase: {}.", peaks.join(", "));
            }
        };
        let (Some(server), Some(ceiling)) = (
            self.per_call(phase, "postgres"),
            self.per_call(phase, crate::db::CEILING_ROLE),
        ) else {
            return String::new();
        };
        // What the server's code does per call beyond the ceiling's SQL
        // (server/src/store and server/src/rpc), to read the numbers by.
        let design = match phase {
            "Batch ingest" | "Single appends" => {
                "An append to tenants whose chain heads the server wrote last is one \
                 statement, its own transaction: the UNNEST INSERT, whose CTE moves each head \
                 only if it is still the one the entries were linked to and also stores new \
                 idempotency keys (one round trip to the ceiling's five per call, plus the gRPC \
                 call). Otherwise (a tenant's first append in this server, a head moved or \
                 locked elsewhere, a retried call's key found stored) it is BEGIN, `SELECT … \
                 FOR UPDATE` on the heads, the key lookup when there are keys, that INSERT and \
                 COMMIT: four or five round trips. The one statement runs on a connection of \
                 the server's append pool, which (unlike sqlx's pool) sends nothing when the \
                 connection comes back. One append transaction runs at a time unless 100 \
                 entries or more wait (then up to one per core); calls that arrive meanwhile, \
                 of any tenants, share the next one (group commit), so fewer statements than \
                 calls can run; after a group of under 100 entries, while fewer wait, the writer \
                 waits up to 1 ms for its callers' next appends. Before its \
                 statement \
                 the service decodes and validates every entry and computes each entry's \
                 canonical-JSON digest and chain hash, on the same two cores as Postgres, the \
                 client and the ceiling's client."
            }
            "List pages" => {
                "Each page is one SELECT on a connection of the server's read pool, run as \
                 its own statement (an abandoned call's query is cancelled by the backend pid \
                 the connection learned when it opened): one round trip, as on the direct \
                 side. Each row is written into the page's protobuf from its column bytes as \
                 it arrives, while Postgres produces the next (metadata jsonb → Struct as it \
                 is parsed); then HTTP/2 framing (the first page is read and sent on the \
                 call's own task), and the client's decoding of the page (the direct side \
                 reads its rows into owned values, metadata parsed as JSON)."
            }
            "Export" => {
                "The export is one such SELECT per 1000 rows, read in order by a task of its \
                 own up to two pages ahead of the one being sent; each row is written as \
                 protobuf from its column bytes, where COPY streams Postgres' own binary rows \
                 from one statement."
            }
            _ => "The server runs the six aggregates in one read-only snapshot, as here.",
        };
        // A row lock wait counts as execution time: the head lock's mean
        // says how long appends queued behind others of the same tenant.
        let lock_wait = self
            .evidence
            .iter()
            .find(|e| e.phase == phase)
            .into_iter()
            .flat_map(|e| &e.top)
            .filter(|s| s.query.contains("FOR UPDATE"))
            .map(|s| {
                format!(
                    "`SELECT … FOR UPDATE` ({}) averaged {:.3} ms. ",
                    s.role, s.mean_ms
                )
            })
            .collect::<String>();
        let lock_wait = if lock_wait.is_empty() {
            String::new()
        } else {
            format!("Of that, the chain-head lock: {lock_wait}")
        };
        format!(
            "Per call the server ran {:.1} statements taking {:.3} ms inside Postgres; the \
             ceiling {:.1} statements taking {:.3} ms (pg_stat_statements, phase \"{phase}\" \
             below). {lock_wait}The rest of the gap is outside Postgres. {design}",
            server.0, server.1, ceiling.0, ceiling.1
        )
    }

    pub(super) fn write_method(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## How each figure is taken\n\n\
             - **Batch ingest**: the events go through AppendAuditLogs from {c} connections, \
             each batch one tenant's and one transaction; the ceiling loads the same events \
             with one binary COPY per batch (also {c} connections) into `ceiling_logs`, made \
             `LIKE audit_logs INCLUDING ALL` ({} and {} indexes) and partitioned by the same \
             bounds ({} and {} partitions). The sides take turns, 200 batches at a time \
             (service first), and each rate is over its own turns; a turn's requests or \
             COPY payloads are built before its clock starts, so only sending is timed. \
             The ceiling's digest and hash columns are SHA-256 over the id, not the canonical \
             form. The batch-size sweep uses smaller samples (shown) of fresh events, one \
             side after the other.\n\
             - **Single appends**: one entry per call, {c} calls in flight; the ceiling is \
             BEGIN, `SELECT … FROM ceiling_tenants … FOR UPDATE`, a one-row INSERT, the head \
             UPDATE and COMMIT on {c} connections. The calls go in 4 rounds, each side \
             in turn (service first), and each rate is over its 4 rounds. \"One tenant\" \
             sends every call to the largest tenant.\n\
             - **List pages**: the largest tenant, newest first, page_size 100 and limit 100 \
             (one page), {s} calls per row after 10 warm-up calls, the rows taking turns a \
             call at a time, each call alternating with the same \
             keyset SELECT run directly (prepared, LIMIT 101 as the server asks, every column \
             of every row read into an owned value, metadata parsed as JSON, as the \
             service's client decodes its page). The deep \
             page starts after 90% of the matches: the service gets the page token from \
             streaming that far, the direct SQL the position from an OFFSET query; both \
             start at the same entry (checked). Service time is until the page arrives.\n\
             - **Export**: the largest tenant's entries streamed in pages of 1000 against \
             `COPY (SELECT … ORDER BY occurred_at DESC, id DESC) TO STDOUT (FORMAT binary)`, \
             median of 3 runs each.\n\
             - **Stats**: GetAuditStats with an admin token across all tenants (day \
             histogram, top 10 actors), against the server's six aggregate SELECTs in one \
             repeatable-read transaction; median of 3.\n\
             - **Memory**: VmHWM of the server process at the end; VmRSS sampled every \
             100 ms for the per-phase peaks below.\n",
            self.indexes.0,
            self.indexes.1,
            self.partitions.0,
            self.partitions.1,
            c = self.clients,
            s = self.page_samples,
        );
    }
}

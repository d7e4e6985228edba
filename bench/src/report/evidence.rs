//! The pg_stat_statements evidence of each phase.

use super::*;

impl Report {
    pub(super) fn write_evidence(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Evidence: pg_stat_statements by phase\n\n\
             Reset before each phase. `postgres` is the server's role, `ceiling` the direct \
             connections'. Execution time is inside Postgres only: what a side spends beyond \
             it goes to round trips, the driver, the ORM and gRPC.\n"
        );
        for phase in &self.evidence {
            let _ = writeln!(
                out,
                "### {}\n\nServer RSS peak in this phase: {:.0} MiB.\n",
                phase.phase,
                phase.peak_rss as f64 / (1024.0 * 1024.0)
            );
            let _ = writeln!(
                out,
                "| role | calls made | statements | per call | execution time | per call |\n\
                 |---|---|---|---|---|---|"
            );
            for role in &phase.roles {
                let calls = if role.role == crate::db::CEILING_ROLE {
                    phase.ceiling_calls
                } else {
                    phase.service_calls
                };
                let per_call = calls.max(1) as f64;
                let _ = writeln!(
                    out,
                    "| {} | {calls} | {} | {:.1} | {:.0} ms | {:.3} ms |",
                    role.role,
                    role.calls,
                    role.calls as f64 / per_call,
                    role.total_ms,
                    role.total_ms / per_call
                );
            }
            let _ = writeln!(
                out,
                "\n| role | statement | calls | mean | total |\n|---|---|---|---|---|"
            );
            for statement in &phase.top {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {:.3} ms | {:.0} ms |",
                    statement.role,
                    shorten(&statement.query),
                    statement.calls,
                    statement.mean_ms,
                    statement.total_ms
                );
            }
            let _ = writeln!(out);
        }
    }
}

/// One line of at most 110 characters, safe inside a table cell.
fn shorten(query: &str) -> String {
    let limit = 110;
    let flat: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat.replace('|', "\\|").replace('`', "'");
    if flat.chars().count() <= limit {
        return flat;
    }
    let cut: String = flat.chars().take(limit.saturating_sub(3)).collect();
    format!("{cut}…")
}

//! `audit list --follow`: prints the history, then entries as they commit,
//! and Ctrl-C (SIGINT) ends it with well-formed output and exit code 0.

use crate::support::Audit;
use audit_tests::{ACME, AuditLogInputExt, Backend, TestApp, input};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

// Multi-threaded: the test blocks on the pipe while the server serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_prints_history_then_live_entries_until_ctrl_c() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed(ACME, vec![input("user.login").labelled("history")])
        .await;
    let mut child = Audit::for_app(&app)
        .command(&["list", "--follow", "--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("audit starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    // Output arrives on a thread: reading a pipe blocks. Chunks, not lines:
    // the JSON array ends an entry's line only when the next one comes.
    let (chunks, arrived) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stdout.read(&mut buffer) {
            if read == 0
                || chunks
                    .send(String::from_utf8_lossy(&buffer[..read]).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    let next_line = || {
        arrived
            .recv_timeout(Duration::from_secs(10))
            .expect("audit printed in time")
    };
    let mut printed = String::new();
    while !printed.contains("\"history\"") {
        printed.push_str(&next_line());
    }
    app.seed(ACME, vec![input("user.logout").labelled("live")])
        .await;
    while !printed.contains("\"live\"") {
        printed.push_str(&next_line());
    }

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("the waiter ran")
        .expect("audit exits");
    assert_eq!(status.code(), Some(0), "Ctrl-C ends a follow cleanly");
    while let Ok(line) = arrived.recv_timeout(Duration::from_secs(1)) {
        printed.push_str(&line);
    }
    reader.join().expect("the reader thread");
    let entries: serde_json::Value =
        serde_json::from_str(&printed).expect("the output is one complete JSON array");
    let labels: Vec<&str> = entries
        .as_array()
        .expect("an array")
        .iter()
        .map(|entry| entry["request_id"].as_str().expect("a request_id"))
        .collect();
    assert_eq!(labels, ["history", "live"]);
}

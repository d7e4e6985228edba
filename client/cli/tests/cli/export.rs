//! `audit export`: a full export, and one interrupted then resumed, which
//! must hold exactly the same entries.

use crate::support::Audit;
use audit_tests::AuditLogInputExt;
use audit_tests::{ACME, Backend, TestApp, input, on_both_backends, utc};
use std::path::Path;

/// Seeds 25 entries a minute apart, so pages of 10 split them 10/10/5.
async fn seed_25(app: &TestApp) {
    let batch = (0..25)
        .map(|n| {
            input(if n % 3 == 0 {
                "user.login"
            } else {
                "document.read"
            })
            .at(utc(&format!("2024-02-01T10:{n:02}:00Z")))
            .labelled(&format!("n{n}"))
        })
        .collect();
    app.seed(ACME, batch).await;
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn resume_file(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".resume");
    name.into()
}

on_both_backends!(an_interrupted_export_resumes_to_exactly_the_full_set);
async fn an_interrupted_export_resumes_to_exactly_the_full_set(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_25(&app).await;
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();

    for extension in ["ndjson", "csv"] {
        let full = dir.path().join(format!("full.{extension}"));
        let resumed = dir.path().join(format!("resumed.{extension}"));
        let (full_arg, resumed_arg) = (full.to_str().unwrap(), resumed.to_str().unwrap());
        let run = audit
            .run(&["export", "--output", full_arg, "--page-size", "10"])
            .await;
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stderr.contains("exported 25 entries"), "{run:?}");
        assert!(!resume_file(&full).exists());

        let stopped = audit
            .run(&[
                "export",
                "--output",
                resumed_arg,
                "--page-size",
                "10",
                "--stop-after",
                "1",
            ])
            .await;
        assert_eq!(stopped.code, 1, "{stopped:?}");
        assert!(resume_file(&resumed).exists());
        // Half a page written after the last recorded message, as a crash
        // mid-write would leave it: the resume must drop it.
        let mut partial = read(&resumed);
        let header_lines = if extension == "csv" { 1 } else { 0 };
        assert_eq!(partial.lines().count(), header_lines + 10, "{partial}");
        partial.push_str("{\"action\":\"half a li");
        std::fs::write(&resumed, partial).unwrap();

        let stopped_again = audit
            .run(&[
                "export",
                "--output",
                resumed_arg,
                "--page-size",
                "7",
                "--stop-after",
                "1",
            ])
            .await;
        assert_eq!(stopped_again.code, 1, "{stopped_again:?}");
        assert!(
            stopped_again.stderr.contains("after 10 entries"),
            "{stopped_again:?}"
        );

        let finished = audit
            .run(&["export", "--output", resumed_arg, "--resume"])
            .await;
        assert_eq!(finished.code, 0, "{finished:?}");
        assert!(finished.stderr.contains("after 17 entries"), "{finished:?}");
        assert!(!resume_file(&resumed).exists());
        assert_eq!(read(&resumed), read(&full), "{extension}");
    }
}

#[tokio::test]
async fn an_export_killed_mid_stream_resumes_to_exactly_the_full_set() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for chunk in 0..3 {
        let batch = (0..1000)
            .map(|n| input("bulk.event").labelled(&format!("c{chunk}n{n}")))
            .collect();
        app.seed(ACME, batch).await;
    }
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.ndjson");
    let killed = dir.path().join("killed.ndjson");
    audit
        .run(&["export", "--output", full.to_str().unwrap()])
        .await
        .ok();

    // One entry per message makes the export slow enough to kill once it
    // has recorded some progress.
    let mut child = audit
        .command(&[
            "export",
            "--output",
            killed.to_str().unwrap(),
            "--page-size",
            "1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start audit export");
    let state = resume_file(&killed);
    let recorded = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            let entries = std::fs::read_to_string(&state).ok().and_then(|text| {
                let state: serde_json::Value = serde_json::from_str(&text).ok()?;
                state["entries"].as_u64()
            });
            if entries.is_some_and(|entries| entries >= 50) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        false
    })
    .await
    .unwrap();
    child.kill().expect("kill audit export");
    child.wait().expect("reap audit export");
    assert!(recorded, "the export recorded no progress");
    assert!(
        resume_file(&killed).exists(),
        "the export finished before the kill"
    );

    let resumed = audit
        .run(&["export", "--output", killed.to_str().unwrap()])
        .await;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(
        resumed.stderr.contains("resuming the export"),
        "{resumed:?}"
    );
    assert_eq!(read(&killed), read(&full));
    assert_eq!(read(&full).lines().count(), 3000);
}

#[tokio::test]
async fn relative_times_mean_the_same_instant_when_resumed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let now = chrono::Utc::now();
    let batch = (0..12)
        .map(|n| input("recent").at(utc(&(now - chrono::TimeDelta::minutes(n + 1)).to_rfc3339())))
        .collect();
    app.seed(ACME, batch).await;
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recent.ndjson");
    let arg = path.to_str().unwrap();
    let common = [
        "export",
        "--output",
        arg,
        "--since",
        "1h",
        "--page-size",
        "5",
    ];

    let mut stopped = common.to_vec();
    stopped.extend(["--stop-after", "1"]);
    assert_eq!(audit.run(&stopped).await.code, 1);
    // A later run resolves `1h` against the first run's start, so its page
    // token (bound to the filter) is still accepted.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    audit.run(&common).await.ok();
    assert_eq!(read(&path).lines().count(), 12);
}

#[tokio::test]
async fn a_resume_with_other_options_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    seed_25(&app).await;
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let arg = path.to_str().unwrap();

    let args = [
        "export",
        "--output",
        arg,
        "--action",
        "user.*",
        "--page-size",
        "2",
    ];
    let mut stopped = args.to_vec();
    stopped.extend(["--stop-after", "1"]);
    assert_eq!(audit.run(&stopped).await.code, 1);

    let error = audit
        .run(&["export", "--output", arg, "--action", "document.*"])
        .await
        .failed(1);
    assert!(error.contains("--action user.*"), "{error}");
    assert!(error.contains("delete it to start over"), "{error}");

    audit.run(&args).await.ok();
    assert_eq!(read(&path).lines().count(), 9);

    let error = audit
        .run(&["export", "--output", arg, "--resume"])
        .await
        .failed(1);
    assert!(error.contains("nothing to resume"), "{error}");
}

//! The recorder against a scripted in-memory sink: batching, age, flush,
//! resends, isolation of refused events, overflow and shutdown.

use super::config::RecorderConfig;
use super::fake_sink::{FakeSink, Reply};
use super::sink::FailureKind;
use super::{OverflowPolicy, Recorder};
use audit_proto::AuditLogInput;
use std::time::{Duration, Instant};

fn event(action: &str) -> AuditLogInput {
    AuditLogInput {
        action: action.to_owned(),
        ..Default::default()
    }
}

pub(crate) fn config() -> RecorderConfig {
    RecorderConfig {
        flush_interval: Duration::from_secs(3600),
        max_backoff: Duration::from_millis(20),
        shutdown_timeout: Duration::from_secs(5),
        ..RecorderConfig::default()
    }
}

/// Polls `condition` every 10 ms for up to 5 s.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn record_stamps_a_key_and_time_but_keeps_given_ones() {
    let sink = FakeSink::storing();
    let recorder = Recorder::start_with(config(), sink.clone());
    recorder.record(event("a"));
    recorder.record(AuditLogInput {
        idempotency_key: "mine".into(),
        ..event("b")
    });
    recorder.flush().await;

    let stored = sink.stored();
    let key = uuid::Uuid::parse_str(&stored[0].idempotency_key).expect("a UUID key");
    assert_eq!(key.get_version_num(), 7);
    assert!(stored[0].occurred_at.is_some());
    assert_eq!(stored[1].idempotency_key, "mine");
}

#[tokio::test]
async fn full_batches_go_out_at_once_and_flush_sends_the_rest() {
    let sink = FakeSink::storing();
    let recorder = Recorder::start_with(
        RecorderConfig {
            batch_size: 10,
            ..config()
        },
        sink.clone(),
    );
    for i in 0..25 {
        recorder.record(event(&format!("e{i}")));
    }
    eventually("two full batches", || recorder.sent() == 20).await;
    assert_eq!(
        recorder.buffered(),
        5,
        "the partial batch waits for its age"
    );

    recorder.flush().await;

    assert_eq!(recorder.sent(), 25);
    let sizes: Vec<usize> = sink.calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let expected: Vec<String> = (0..25).map(|i| format!("e{i}")).collect();
    assert_eq!(sink.stored_actions(), expected);
}

#[tokio::test]
async fn a_partial_batch_goes_out_when_its_oldest_event_is_old_enough() {
    let sink = FakeSink::storing();
    let interval = Duration::from_millis(200);
    let recorder = Recorder::start_with(
        RecorderConfig {
            flush_interval: interval,
            ..config()
        },
        sink.clone(),
    );
    let start = Instant::now();
    recorder.record(event("lonely"));
    eventually("the event is sent", || recorder.sent() == 1).await;
    assert!(start.elapsed() >= interval, "sent before the interval");
}

#[tokio::test]
async fn transient_failures_resend_the_same_keys() {
    let sink = FakeSink::new(|call, _| {
        if call < 3 {
            Reply::Fail(FailureKind::Transient)
        } else {
            Reply::Store
        }
    });
    let recorder = Recorder::start_with(config(), sink.clone());
    for i in 0..5 {
        recorder.record(event(&format!("e{i}")));
    }
    recorder.flush().await;

    let calls = sink.calls();
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|keys| keys == &calls[0]), "keys changed");
    assert_eq!(sink.stored().len(), 5);
    assert_eq!((recorder.sent(), recorder.failed()), (5, 0));
}

#[tokio::test]
async fn a_hung_append_times_out_and_is_resent() {
    let sink = FakeSink::new(|call, _| if call == 0 { Reply::Hang } else { Reply::Store });
    let recorder = Recorder::start_with(
        RecorderConfig {
            request_timeout: Duration::from_millis(50),
            ..config()
        },
        sink.clone(),
    );
    recorder.record(event("e"));
    recorder.flush().await;
    assert_eq!(sink.calls().len(), 2);
    assert_eq!(recorder.sent(), 1);
}

#[tokio::test]
async fn a_refused_event_is_isolated_and_the_others_are_stored() {
    let sink = FakeSink::new(|_, batch| {
        if batch.iter().any(|event| event.action == "bad") {
            Reply::Fail(FailureKind::Rejected)
        } else {
            Reply::Store
        }
    });
    let recorder = Recorder::start_with(config(), sink.clone());
    for action in ["e0", "e1", "e2", "bad", "e4", "e5", "e6", "e7"] {
        recorder.record(event(action));
    }
    recorder.flush().await;

    assert_eq!(
        sink.stored_actions(),
        ["e0", "e1", "e2", "e4", "e5", "e6", "e7"]
    );
    assert_eq!((recorder.sent(), recorder.failed()), (7, 1));

    // The pipeline keeps going after the refusal.
    recorder.record(event("after"));
    recorder.flush().await;
    assert_eq!(recorder.sent(), 8);
}

#[tokio::test]
async fn a_fatal_failure_fails_the_batch_without_splitting() {
    let sink = FakeSink::new(|_, _| Reply::Fail(FailureKind::Fatal));
    let recorder = Recorder::start_with(config(), sink.clone());
    for i in 0..8 {
        recorder.record(event(&format!("e{i}")));
    }
    recorder.flush().await;
    assert_eq!(sink.calls().len(), 1);
    assert_eq!((recorder.sent(), recorder.failed()), (0, 8));
}

async fn overflow(policy: OverflowPolicy) -> (Recorder, FakeSink) {
    let sink = FakeSink::storing();
    let recorder = Recorder::start_with(
        RecorderConfig {
            buffer_capacity: 5,
            overflow: policy,
            ..config()
        },
        sink.clone(),
    );
    for i in 0..8 {
        recorder.record(event(&format!("e{i}")));
    }
    assert_eq!(recorder.dropped(), 3);
    assert_eq!(recorder.buffered(), 5);
    recorder.flush().await;
    (recorder, sink)
}

#[tokio::test]
async fn drop_newest_keeps_the_first_events() {
    let (_recorder, sink) = overflow(OverflowPolicy::DropNewest).await;
    assert_eq!(sink.stored_actions(), ["e0", "e1", "e2", "e3", "e4"]);
}

#[tokio::test]
async fn drop_oldest_keeps_the_latest_events() {
    let (_recorder, sink) = overflow(OverflowPolicy::DropOldest).await;
    assert_eq!(sink.stored_actions(), ["e3", "e4", "e5", "e6", "e7"]);
}

#[tokio::test]
async fn the_batch_in_flight_counts_against_the_capacity() {
    let sink = FakeSink::new(|_, _| Reply::Hang);
    let recorder = Recorder::start_with(
        RecorderConfig {
            batch_size: 4,
            buffer_capacity: 6,
            ..config()
        },
        sink.clone(),
    );
    for i in 0..4 {
        recorder.record(event(&format!("e{i}")));
    }
    eventually("the full batch is in flight", || sink.calls().len() == 1).await;
    for i in 4..10 {
        recorder.record(event(&format!("e{i}")));
    }
    assert_eq!(recorder.buffered(), 6);
    assert_eq!(recorder.dropped(), 4);
}

#[tokio::test]
async fn shutdown_sends_what_is_buffered_and_then_drops_new_events() {
    let sink = FakeSink::storing();
    let recorder = Recorder::start_with(config(), sink.clone());
    for i in 0..3 {
        recorder.record(event(&format!("e{i}")));
    }
    let stats = recorder.shutdown().await;
    assert_eq!((stats.sent, stats.dropped, stats.failed), (3, 0, 0));

    recorder.record(event("late"));
    assert_eq!(recorder.dropped(), 1);
    assert_eq!(
        recorder.shutdown().await.dropped,
        1,
        "a second call returns"
    );
    recorder.flush().await;
}

#[tokio::test]
async fn shutdown_gives_up_at_its_deadline() {
    let sink = FakeSink::new(|_, _| Reply::Fail(FailureKind::Transient));
    let recorder = Recorder::start_with(
        RecorderConfig {
            shutdown_timeout: Duration::from_millis(200),
            ..config()
        },
        sink,
    );
    for i in 0..3 {
        recorder.record(event(&format!("e{i}")));
    }
    let start = Instant::now();
    let stats = recorder.shutdown().await;
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!((stats.sent, stats.failed), (0, 3));
    assert_eq!(recorder.buffered(), 0);
}

#[tokio::test]
async fn dropping_the_last_handle_still_delivers() {
    let sink = FakeSink::storing();
    let recorder = Recorder::start_with(config(), sink.clone());
    let clone = recorder.clone();
    recorder.record(event("a"));
    drop(recorder);
    clone.record(event("b"));
    drop(clone);
    eventually("both events are stored", || sink.stored().len() == 2).await;
}

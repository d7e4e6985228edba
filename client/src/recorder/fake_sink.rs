//! A scripted in-memory stand-in for the audit service, for unit tests of
//! the recorder and the layer.

use super::sink::{BatchSink, FailureKind, SendFailure};
use audit_proto::AuditLogInput;
use std::sync::{Arc, Mutex};

type Script = dyn Fn(usize, &[AuditLogInput]) -> Reply + Send + Sync;

/// What the fake service does with one call.
pub(crate) enum Reply {
    Store,
    Fail(FailureKind),
    Hang,
}

/// A fake service: stores batches, or fails or hangs as its script says.
#[derive(Clone)]
pub(crate) struct FakeSink {
    script: Arc<Script>,
    log: Arc<Mutex<Log>>,
}

#[derive(Default)]
struct Log {
    /// The idempotency keys of every call, in call order.
    calls: Vec<Vec<String>>,
    stored: Vec<AuditLogInput>,
}

impl FakeSink {
    pub(crate) fn new(
        script: impl Fn(usize, &[AuditLogInput]) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self {
            script: Arc::new(script),
            log: Arc::default(),
        }
    }

    pub(crate) fn storing() -> Self {
        Self::new(|_, _| Reply::Store)
    }

    pub(crate) fn stored(&self) -> Vec<AuditLogInput> {
        self.log.lock().expect("log lock").stored.clone()
    }

    pub(crate) fn stored_actions(&self) -> Vec<String> {
        self.stored()
            .into_iter()
            .map(|event| event.action)
            .collect()
    }

    pub(crate) fn calls(&self) -> Vec<Vec<String>> {
        self.log.lock().expect("log lock").calls.clone()
    }
}

impl BatchSink for FakeSink {
    async fn append(&self, batch: Vec<AuditLogInput>) -> Result<(), SendFailure> {
        let call = {
            let mut log = self.log.lock().expect("log lock");
            log.calls
                .push(batch.iter().map(|e| e.idempotency_key.clone()).collect());
            log.calls.len() - 1
        };
        match (self.script)(call, &batch) {
            Reply::Store => {
                self.log.lock().expect("log lock").stored.extend(batch);
                Ok(())
            }
            Reply::Fail(kind) => Err(SendFailure {
                kind,
                message: format!("scripted {kind:?}"),
            }),
            Reply::Hang => std::future::pending().await,
        }
    }
}

impl FakeSink {
    /// Returns a recorder that sends to this sink only when flushed.
    pub(crate) fn recorder(&self) -> super::Recorder {
        let config = super::config::RecorderConfig {
            flush_interval: std::time::Duration::from_secs(3600),
            ..Default::default()
        };
        super::Recorder::start_with(config, self.clone())
    }
}

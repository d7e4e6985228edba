//! [`Application`]: connects the store, binds the port, and serves the audit
//! service with health and reflection until told to stop.

use crate::auth::{AuthError, AuthLayer, Authenticator};
use crate::checkpoint::Checkpointer;
use crate::config::Settings;
use crate::follow::FollowHub;
use crate::metrics::Metrics;
use crate::rpc::stubs::audit_service_server::AuditServiceServer;
use crate::rpc::{AuditRpc, PageTokenKey};
use crate::rpc_trace::RpcTraceLayer;
use crate::store::{AuditStore, StoreError};
use std::net::SocketAddr;
use std::time::Duration;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Why the server could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("serving: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A bound, migrated server, ready to run.
pub struct Application {
    settings: Settings,
    store: AuditStore,
    incoming: TcpIncoming,
    local_addr: SocketAddr,
    /// The bound `/metrics` listener, when `metrics_listen` is set.
    metrics_listener: Option<(tokio::net::TcpListener, SocketAddr)>,
}

impl Application {
    /// Connects and migrates the database, prepares the partitions of the
    /// coming months (Postgres), then binds the listen address
    /// (port 0 picks a free port).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let store = AuditStore::connect(&settings.database_url)
            .await?
            .with_append_writers(settings.append_writers);
        store.migrate().await?;
        // A failure here only sends appends to the DEFAULT partition until
        // the daily upkeep succeeds: not a reason to refuse to serve.
        if let Err(error) = crate::partitions::prepare(&store).await {
            tracing::warn!(%error, "audit log partition upkeep failed at start");
        }
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|source| StartupError::Bind {
                address: settings.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            address: settings.listen,
            source,
        })?;
        // Small unary calls must not wait on Nagle's algorithm.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let metrics_listener = match settings.metrics_listen {
            Some(address) => Some(bind_metrics(address).await?),
            None => None,
        };
        Ok(Self {
            settings,
            store,
            incoming,
            local_addr,
            metrics_listener,
        })
    }

    /// Returns the address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Returns the port actually bound.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// Returns the address `/metrics` is served on, if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|(_, address)| *address)
    }

    /// Returns the store, for administrative commands and tests.
    pub fn store(&self) -> &AuditStore {
        &self.store
    }

    /// Serves until `shutdown` resolves, then lets in-flight calls finish
    /// for at most the configured grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Application {
            settings,
            store,
            incoming,
            local_addr,
            metrics_listener,
        } = self;
        let limits = settings.limits;
        let metrics = Metrics::new(store.clone(), limits.max_streaming_calls);
        let metrics_task = metrics_listener.map(|(listener, address)| {
            tracing::info!(%address, "serving Prometheus metrics at /metrics");
            tokio::spawn(crate::metrics::http::serve(listener, metrics.clone()))
        });
        let authenticator = Authenticator::new(
            &settings.jwt_secret,
            settings.jwt_public_key.as_deref(),
            store.clone(),
        )?;
        let checkpointer = Checkpointer::new(
            store.clone(),
            settings.signing_key.clone(),
            settings.checkpoint_dir.clone(),
        );
        let follow_hub = FollowHub::new(settings.follow);
        let rpc = AuditRpc::new(
            store.clone(),
            PageTokenKey::derive(settings.jwt_secret.bytes()),
            checkpointer.clone(),
            settings.retention,
        )
        .with_follow(follow_hub.clone());
        let chain_relay = store.start_chain_relay();
        let audit_service = AuditServiceServer::new(rpc)
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(limits.max_message_bytes);

        let purge_task = (!settings.retention.purge_interval.is_zero()).then(|| {
            tokio::spawn(crate::retention::task::run_periodic(
                store.clone(),
                settings.signing_key.clone(),
                settings.retention,
            ))
        });

        let partition_task = tokio::spawn(crate::partitions::task::run_periodic(store.clone()));

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let health_task = tokio::spawn(watch_database(
            store,
            health_reporter,
            settings.health_interval,
            metrics.clone(),
        ));

        let checkpoint_task = (!settings.checkpoint_interval.is_zero()).then(|| {
            tokio::spawn(crate::checkpoint::task::run_periodic(
                checkpointer,
                settings.checkpoint_interval,
            ))
        });

        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(audit_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        // grpcurl 1.8 only speaks the older v1alpha reflection.
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(audit_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;

        let layers = tower::ServiceBuilder::new()
            .layer(RpcTraceLayer::new(metrics))
            .layer(AuthLayer::new(authenticator))
            .into_inner();
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: no new calls, draining in-flight ones");
            // Follow streams never finish by themselves: end them now (with
            // a resume token) so draining takes as long as the unary calls.
            follow_hub.stop();
            let _ = stopping_tx.send(());
        };
        let serve = Server::builder()
            .max_concurrent_streams(limits.max_concurrent_streams)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .layer(layers)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(audit_service)
            .serve_with_incoming_shutdown(incoming, signal);
        tracing::info!(address = %local_addr, "serving audit.v1.AuditService");

        let grace = settings.shutdown_grace;
        let grace_expired = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let outcome = tokio::select! {
            served = serve => served.map_err(StartupError::from),
            _ = grace_expired => {
                tracing::warn!(grace = ?grace, "grace period over: dropping calls still in flight");
                Ok(())
            }
        };
        health_task.abort();
        if let Some(metrics_task) = metrics_task {
            metrics_task.abort();
        }
        for task in chain_relay {
            task.abort();
        }
        if let Some(checkpoint_task) = checkpoint_task {
            checkpoint_task.abort();
        }
        if let Some(purge_task) = purge_task {
            purge_task.abort();
        }
        partition_task.abort();
        outcome
    }
}

/// Reports SERVING only while the database answers.
async fn watch_database(
    store: AuditStore,
    reporter: HealthReporter,
    interval: Duration,
    metrics: Metrics,
) {
    let mut last = None;
    loop {
        let healthy = matches!(
            tokio::time::timeout(Duration::from_secs(2), store.ping()).await,
            Ok(Ok(()))
        );
        let status = if healthy {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        metrics.set_serving(healthy);
        if last != Some(healthy) {
            if healthy {
                tracing::info!("database reachable: health SERVING");
            } else {
                tracing::warn!("database unreachable: health NOT_SERVING");
            }
            last = Some(healthy);
        }
        reporter.set_service_status("", status).await;
        reporter
            .set_service_status("audit.v1.AuditService", status)
            .await;
        tokio::time::sleep(interval).await;
    }
}

/// Binds the `/metrics` port at build time, so a taken port fails startup
/// instead of leaving the server unobservable.
async fn bind_metrics(
    address: SocketAddr,
) -> Result<(tokio::net::TcpListener, SocketAddr), StartupError> {
    let bind_error = |source| StartupError::Bind { address, source };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    Ok((listener, bound))
}

//! [`ClientBuilder`]: where the service is, who is calling, and how long
//! and how often to try.

use crate::{AuditClient, Error, RetryPolicy};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// The endpoint [`ClientBuilder::from_env`] uses when `AUDIT_ENDPOINT` is unset.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";
/// How long each call may take unless configured otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// How long connecting may take unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest HTTP/2 frame the client lets the server send. A List page of
/// 100 entries is about 70 KB: at HTTP/2's default 16 KiB that is five
/// frames, five writes on the server and as many wake-ups here; at this
/// size, one of each.
const MAX_FRAME_BYTES: u32 = 1024 * 1024;

/// Configures and connects an [`AuditClient`].
///
/// ```no_run
/// use audit_client::{AuditClient, RetryPolicy};
/// use std::time::Duration;
///
/// # async fn example() -> Result<(), audit_client::Error> {
/// let client = AuditClient::builder("http://audit.internal:50051")
///     .api_key("ak_live_…")
///     .deadline(Duration::from_secs(10))
///     .connect_timeout(Duration::from_secs(2))
///     .retry_policy(RetryPolicy { max_attempts: 6, ..RetryPolicy::default() })
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    endpoint: String,
    token: String,
    deadline: Option<Duration>,
    connect_timeout: Duration,
    retry: RetryPolicy,
    #[cfg(feature = "tls")]
    tls: Option<tonic::transport::ClientTlsConfig>,
}

impl ClientBuilder {
    /// Starts a configuration for `endpoint`: `http://host:port`,
    /// `https://host` (with the `tls` feature), or `host:port` for plaintext.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            token: String::new(),
            deadline: Some(DEFAULT_DEADLINE),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Reads `AUDIT_ENDPOINT` (default [`DEFAULT_ENDPOINT`]) and
    /// `AUDIT_TOKEN` (a JWT or an API key; unset sends none) from the
    /// environment.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), audit_client::Error> {
    /// let client = audit_client::ClientBuilder::from_env().connect().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), with `lookup` standing in for the
    /// environment (a config file, a test's map).
    ///
    /// ```
    /// use audit_client::ClientBuilder;
    ///
    /// let builder = ClientBuilder::from_env_with(|name| match name {
    ///     "AUDIT_ENDPOINT" => Some("audit.internal:50051".to_owned()),
    ///     _ => None,
    /// });
    /// assert_eq!(builder.endpoint(), "audit.internal:50051");
    /// ```
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let endpoint = lookup("AUDIT_ENDPOINT")
            .filter(|endpoint| !endpoint.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let token = lookup("AUDIT_TOKEN").unwrap_or_default();
        Self::new(endpoint.trim()).bearer_token(token.trim())
    }

    /// Returns the endpoint as configured.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends `token` (a JWT) as `authorization: Bearer <token>`; an empty
    /// token sends no header.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// Sends an API key; the service takes keys in the same bearer header as
    /// tokens.
    pub fn api_key(self, key: impl Into<String>) -> Self {
        self.bearer_token(key)
    }

    /// Bounds each call (sent as `grpc-timeout`); for List, each call of the
    /// stream, which resumes after a deadline that cut it short.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Lets calls run as long as the server allows.
    pub fn no_deadline(mut self) -> Self {
        self.deadline = None;
        self
    }

    /// Bounds how long establishing the connection may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how calls that met an unavailable server are retried.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Uses `tls` for `https://` endpoints instead of the webpki root
    /// certificates, e.g. to trust a private CA.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, tls: tonic::transport::ClientTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Connects now, failing with [`Error::Connect`] if the server cannot be
    /// reached.
    pub async fn connect(self) -> Result<AuditClient, Error> {
        let endpoint = self.transport_endpoint()?;
        let channel = endpoint.connect().await.map_err(|source| Error::Connect {
            endpoint: endpoint.uri().to_string(),
            source,
        })?;
        Ok(self.into_client(channel))
    }

    /// Returns a client that connects on its first call (and reconnects
    /// after failures), so a service can start while the audit service is
    /// still down.
    pub fn connect_lazy(self) -> Result<AuditClient, Error> {
        let channel = self.transport_endpoint()?.connect_lazy();
        Ok(self.into_client(channel))
    }

    fn into_client(self, channel: Channel) -> AuditClient {
        AuditClient::from_channel(channel)
            .with_token(self.token)
            .with_deadline(self.deadline)
            .with_retry_policy(self.retry)
    }

    fn transport_endpoint(&self) -> Result<Endpoint, Error> {
        let text = self.endpoint.trim();
        let uri = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let invalid = |reason: String| Error::InvalidEndpoint {
            endpoint: self.endpoint.clone(),
            reason,
        };
        let endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|error| invalid(error.to_string()))?
            .connect_timeout(self.connect_timeout)
            .max_frame_size(MAX_FRAME_BYTES)
            .user_agent(concat!("audit-client/", env!("CARGO_PKG_VERSION")))
            .map_err(|error| invalid(error.to_string()))?;
        match uri.split_once("://").map(|(scheme, _)| scheme) {
            Some("http") => Ok(endpoint),
            Some("https") => self.with_tls(endpoint).map_err(invalid),
            _ => Err(invalid("the scheme must be http or https".to_owned())),
        }
    }

    #[cfg(feature = "tls")]
    fn with_tls(&self, endpoint: Endpoint) -> Result<Endpoint, String> {
        let tls = self
            .tls
            .clone()
            .unwrap_or_else(|| tonic::transport::ClientTlsConfig::new().with_webpki_roots());
        endpoint.tls_config(tls).map_err(|error| error.to_string())
    }

    #[cfg(not(feature = "tls"))]
    fn with_tls(&self, _endpoint: Endpoint) -> Result<Endpoint, String> {
        Err("https:// needs audit-client's `tls` feature".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::{ClientBuilder, DEFAULT_ENDPOINT};
    use crate::Error;

    #[test]
    fn from_env_with_trims_and_falls_back_to_the_default_endpoint() {
        let blank = ClientBuilder::from_env_with(|_| Some("  ".to_owned()));
        assert_eq!(blank.endpoint(), DEFAULT_ENDPOINT);
        let spaced = ClientBuilder::from_env_with(|name| {
            (name == "AUDIT_ENDPOINT").then(|| " audit:50051\n".to_owned())
        });
        assert_eq!(spaced.endpoint(), "audit:50051");
    }

    #[tokio::test]
    async fn endpoints_without_a_scheme_are_plaintext() {
        let client = ClientBuilder::new("127.0.0.1:1").connect_lazy();
        assert!(client.is_ok(), "{client:?}");
    }

    #[tokio::test]
    async fn https_needs_the_tls_feature() {
        let client = ClientBuilder::new("https://audit.example.com").connect_lazy();
        if cfg!(feature = "tls") {
            assert!(client.is_ok(), "{client:?}");
        } else {
            assert!(
                matches!(&client, Err(Error::InvalidEndpoint { reason, .. }) if reason.contains("tls")),
                "{client:?}"
            );
        }
    }
}

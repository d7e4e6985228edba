//! The interceptor that adds `authorization: Bearer <token>` to each call.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Adds `authorization: Bearer <token>` to every request; sends no header
/// when the token is empty.
#[derive(Debug, Clone)]
pub struct BearerToken {
    header: Header,
}

#[derive(Debug, Clone)]
enum Header {
    None,
    Value(MetadataValue<Ascii>),
    /// The token cannot travel in a header (e.g. it holds a newline); each
    /// call fails locally rather than going out unauthenticated.
    Invalid,
}

impl BearerToken {
    /// Prepares the header for `token`.
    pub fn new(token: impl Into<String>) -> Self {
        let token = token.into();
        let header = if token.is_empty() {
            Header::None
        } else {
            match format!("Bearer {token}").parse() {
                Ok(value) => Header::Value(value),
                Err(_) => Header::Invalid,
            }
        };
        Self { header }
    }
}

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        match &self.header {
            Header::None => {}
            Header::Value(value) => {
                request
                    .metadata_mut()
                    .insert("authorization", value.clone());
            }
            Header::Invalid => {
                return Err(Status::unauthenticated(
                    "the bearer token holds characters a header cannot carry",
                ));
            }
        }
        #[cfg(feature = "otel")]
        crate::trace_context::inject_current(request.metadata_mut());
        Ok(request)
    }
}

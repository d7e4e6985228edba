//! What the layer reads from a request: the default action name, the
//! client's address, and the header values it copies into the event.

use http::request::Parts;
use std::net::{IpAddr, SocketAddr};
use tonic::transport::server::TcpConnectInfo;

/// The service's limit on action names, in bytes.
const MAX_ACTION_BYTES: usize = 256;
/// The service's limit on user agents and request paths, in bytes.
pub(crate) const MAX_TEXT_BYTES: usize = 4096;
/// The service's limit on request ids, in bytes.
pub(crate) const MAX_FIELD_BYTES: usize = 1024;

/// Returns the action [`AuditLayer`](super::AuditLayer) records by default.
///
/// A gRPC call (`content-type: application/grpc…`) to
/// `/package.Service/Method` becomes `package.service.method`, each name in
/// snake case: `/grpc.health.v1.Health/Check` → `grpc.health.v1.health.check`,
/// `/audit.v1.AuditService/ListAuditLogs` →
/// `audit.v1.audit_service.list_audit_logs`. Any other request becomes
/// `http.` and its lowercased method, such as `http.get`; its path is in the
/// event's `request.path`. Call it from an
/// [`action_fn`](super::AuditLayer::action_fn) to keep the default for
/// most requests:
///
/// ```
/// use audit_client::layer::default_action;
///
/// # fn main() -> Result<(), http::Error> {
/// let request = http::Request::post("/grpc.health.v1.Health/Check")
///     .header("content-type", "application/grpc")
///     .body(())?;
/// let (parts, ()) = request.into_parts();
/// assert_eq!(default_action(&parts), "grpc.health.v1.health.check");
/// # Ok(())
/// # }
/// ```
pub fn default_action(parts: &Parts) -> String {
    let action = match grpc_method(parts) {
        Some((service, method)) => {
            let service: Vec<String> = service.split('.').map(snake_case).collect();
            format!("{}.{}", service.join("."), snake_case(method))
        }
        None => format!("http.{}", parts.method.as_str().to_ascii_lowercase()),
    };
    // The service refuses whitespace, control characters and '*' (reserved
    // for prefix filters): replace them rather than lose the event.
    let action: String = action
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '*' {
                '_'
            } else {
                c
            }
        })
        .collect();
    truncate(&action, MAX_ACTION_BYTES).to_owned()
}

/// Returns whether the request is gRPC (not gRPC-Web, whose status travels
/// inside the body where the layer does not look).
pub(crate) fn is_grpc(parts: &Parts) -> bool {
    parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| {
            content_type.starts_with("application/grpc")
                && !content_type.starts_with("application/grpc-web")
        })
}

/// Splits a gRPC path `/package.Service/Method` into its two names.
fn grpc_method(parts: &Parts) -> Option<(&str, &str)> {
    if !is_grpc(parts) {
        return None;
    }
    let (service, method) = parts.uri.path().strip_prefix('/')?.split_once('/')?;
    let valid = !service.is_empty() && !method.is_empty() && !method.contains('/');
    valid.then_some((service, method))
}

/// `ListAuditLogs` → `list_audit_logs`, `HTTPServer` → `http_server`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (index, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let previous = index.checked_sub(1).map(|i| chars[i]);
            let next = chars.get(index + 1);
            let after_word = previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit());
            let ends_acronym =
                previous.is_some_and(char::is_uppercase) && next.is_some_and(|n| n.is_lowercase());
            if after_word || ends_acronym {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Returns the client's address: the first hop of `x-forwarded-for` when
/// trusted and valid, else the connection's peer address as tonic
/// (`TcpConnectInfo`) or a plain `SocketAddr` extension records it.
pub(crate) fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> Option<IpAddr> {
    let forwarded = trust_forwarded_for.then(|| forwarded_for(parts)).flatten();
    let ip = forwarded.or_else(|| {
        parts
            .extensions
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .or_else(|| parts.extensions.get::<SocketAddr>().copied())
            .map(|addr| addr.ip())
    })?;
    // `::ffff:10.0.0.7` is stored as `10.0.0.7`, so IPv4 filters match it.
    Some(ip.to_canonical())
}

/// Parses the first hop of `x-forwarded-for`: `ip`, or `ip:port`.
fn forwarded_for(parts: &Parts) -> Option<IpAddr> {
    let header = parts.headers.get("x-forwarded-for")?.to_str().ok()?;
    let first = header.split(',').next()?.trim();
    first
        .parse::<IpAddr>()
        .ok()
        .or_else(|| first.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

/// Returns a header's text, cut to `max_bytes`; empty when absent or not
/// visible ASCII.
pub(crate) fn header_text(parts: &Parts, name: &str, max_bytes: usize) -> String {
    parts
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|text| truncate(text, max_bytes).to_owned())
        .unwrap_or_default()
}

/// Cuts `text` to at most `max_bytes`, on a character boundary.
pub(crate) fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, path: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(()).expect("valid test request");
        request.into_parts().0
    }

    const GRPC: (&str, &str) = ("content-type", "application/grpc+proto");

    #[test]
    fn grpc_paths_become_dotted_snake_case_actions() {
        let check = parts("POST", "/grpc.health.v1.Health/Check", &[GRPC]);
        assert_eq!(default_action(&check), "grpc.health.v1.health.check");
        let list = parts("POST", "/audit.v1.AuditService/ListAuditLogs", &[GRPC]);
        assert_eq!(
            default_action(&list),
            "audit.v1.audit_service.list_audit_logs"
        );
        let acronym = parts("POST", "/pkg.HTTPServer/GetURLFor2", &[GRPC]);
        assert_eq!(default_action(&acronym), "pkg.http_server.get_url_for2");
    }

    #[test]
    fn other_requests_become_http_and_their_method() {
        assert_eq!(default_action(&parts("GET", "/users/42", &[])), "http.get");
        // A gRPC-looking path without the gRPC content type is plain HTTP.
        let post = parts("POST", "/pkg.Service/Method", &[]);
        assert_eq!(default_action(&post), "http.post");
        let web = parts(
            "POST",
            "/pkg.Service/Method",
            &[("content-type", "application/grpc-web")],
        );
        assert_eq!(default_action(&web), "http.post");
    }

    #[test]
    fn forwarded_for_first_hop_wins_when_trusted() {
        let mut request = parts("GET", "/", &[("x-forwarded-for", "203.0.113.7, 10.0.0.1")]);
        request
            .extensions
            .insert("192.0.2.1:5000".parse::<SocketAddr>().expect("addr"));
        assert_eq!(
            client_ip(&request, true),
            Some("203.0.113.7".parse().expect("ip"))
        );
        assert_eq!(
            client_ip(&request, false),
            Some("192.0.2.1".parse().expect("ip"))
        );
    }

    #[test]
    fn forwarded_for_with_port_or_garbage() {
        let with_port = parts("GET", "/", &[("x-forwarded-for", "[2001:db8::1]:443")]);
        assert_eq!(
            client_ip(&with_port, true),
            Some("2001:db8::1".parse().expect("ip"))
        );
        let garbage = parts("GET", "/", &[("x-forwarded-for", "unknown")]);
        assert_eq!(client_ip(&garbage, true), None);
    }

    #[test]
    fn mapped_ipv4_is_stored_as_ipv4() {
        let mut request = parts("GET", "/", &[]);
        request.extensions.insert(TcpConnectInfo {
            local_addr: None,
            remote_addr: Some("[::ffff:10.0.0.7]:1234".parse().expect("addr")),
        });
        assert_eq!(
            client_ip(&request, true),
            Some("10.0.0.7".parse().expect("ip"))
        );
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("hello", 10), "hello");
    }
}

//! Reads the server's `/metrics` the way Prometheus would: a plain HTTP/1.1
//! GET on the metrics port, then the text exposition parsed into samples.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP reply: status code, headers as sent, body.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends `GET path` to `addr` and reads the whole reply.
pub async fn http_get(addr: SocketAddr, path: &str) -> HttpReply {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to the metrics port {addr}: {error}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("failed to send the scrape request");
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .await
        .expect("failed to read the scrape reply");
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP reply: {raw:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    HttpReply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// One scrape of `/metrics`.
#[derive(Debug)]
pub struct Scrape {
    pub text: String,
}

impl Scrape {
    /// Scrapes `addr`; the reply must be 200 with the text format.
    pub async fn from(addr: SocketAddr) -> Self {
        let reply = http_get(addr, "/metrics").await;
        assert_eq!(reply.status, 200, "scrape failed: {reply:?}");
        assert!(
            reply
                .head
                .to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "not the Prometheus text format: {}",
            reply.head
        );
        Self { text: reply.body }
    }

    /// The value of the sample `name` whose labels include all of
    /// `labels`, or `None` when there is no such sample.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.text.lines().find_map(|line| {
            if line.starts_with('#') {
                return None;
            }
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((series_name, rest)) => (series_name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let matches = series_name == name
                && labels.iter().all(|(key, wanted)| {
                    series_labels
                        .split(',')
                        .any(|pair| pair == format!("{key}=\"{wanted}\""))
                });
            matches.then(|| value.parse().ok()).flatten()
        })
    }

    /// Like [`value`](Self::value), but the sample must exist.
    #[track_caller]
    pub fn expect(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in the scrape:\n{}", self.text))
    }
}

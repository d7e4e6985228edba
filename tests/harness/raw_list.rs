//! ListAuditLogs read as the bytes the server sent, one message each: for
//! tests of the wire form itself, which the typed client decodes away.

use audit_proto::ListAuditLogsRequest;
use prost::bytes::Buf;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::transport::Channel;
use tonic_prost::ProstEncoder;

/// Every message of a ListAuditLogs stream, undecoded, called with `token`.
pub async fn list_raw(
    endpoint: &str,
    token: &str,
    request: ListAuditLogsRequest,
) -> Result<Vec<Vec<u8>>, Status> {
    let channel = Channel::from_shared(endpoint.to_owned())
        .map_err(|error| Status::invalid_argument(error.to_string()))?
        .connect()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    let mut request = tonic::Request::new(request);
    let bearer = format!("Bearer {token}")
        .parse()
        .map_err(|_| Status::invalid_argument("the token is not a header value"))?;
    request.metadata_mut().insert("authorization", bearer);
    let path = http::uri::PathAndQuery::from_static("/audit.v1.AuditService/ListAuditLogs");
    let mut stream = grpc
        .server_streaming(request, path, RawCodec)
        .await?
        .into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    Ok(messages)
}

/// Encodes the request with prost; hands each reply over as its bytes.
struct RawCodec;

impl Codec for RawCodec {
    type Encode = ListAuditLogsRequest;
    type Decode = Vec<u8>;
    type Encoder = ProstEncoder<ListAuditLogsRequest>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        // The buffer holds exactly one message's bytes.
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

//! The prost codec, counting the bytes of every message it decodes: the
//! export's size on the wire, read off the frames the client decodes
//! anyway. Re-encoding each page to learn its size (`encoded_len`) would
//! add work to the service's side of the measurement that no client does;
//! the COPY side only counts its chunks.

use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// [`ProstCodec`] with a byte count of what it decoded.
pub struct CountingCodec<T, U> {
    inner: ProstCodec<T, U>,
    decoded_bytes: Arc<AtomicU64>,
}

impl<T, U> CountingCodec<T, U> {
    /// Adds the size of each decoded message to `decoded_bytes`.
    pub fn new(decoded_bytes: Arc<AtomicU64>) -> Self {
        Self {
            inner: ProstCodec::new(),
            decoded_bytes,
        }
    }
}

impl<T, U> Codec for CountingCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CountingDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        CountingDecoder {
            inner: self.inner.decoder(),
            decoded_bytes: Arc::clone(&self.decoded_bytes),
        }
    }
}

pub struct CountingDecoder<U> {
    inner: ProstDecoder<U>,
    decoded_bytes: Arc<AtomicU64>,
}

impl<U: Message + Default> Decoder for CountingDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // The buffer holds exactly one message's bytes.
        let size = prost::bytes::Buf::remaining(buf) as u64;
        let message = self.inner.decode(buf)?;
        if message.is_some() {
            self.decoded_bytes.fetch_add(size, Ordering::Relaxed);
        }
        Ok(message)
    }
}

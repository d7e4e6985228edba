//! Postgres' binary COPY format, written by hand: the 11-byte signature,
//! flags and header extension, then per tuple a field count and each field
//! as a length (-1 for NULL) and its binary send form, then a -1 trailer.

/// A COPY ... (FORMAT binary) payload being built.
pub struct CopyWriter {
    buffer: Vec<u8>,
}

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

impl CopyWriter {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buffer = Vec::with_capacity(bytes + 19);
        buffer.extend_from_slice(SIGNATURE);
        buffer.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buffer.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Self { buffer }
    }

    pub fn start_tuple(&mut self, fields: i16) {
        self.buffer.extend_from_slice(&fields.to_be_bytes());
    }

    /// text and varchar send their UTF-8 bytes, bytea its bytes.
    pub fn bytes(&mut self, value: &[u8]) {
        let length = i32::try_from(value.len()).unwrap_or(i32::MAX);
        self.buffer.extend_from_slice(&length.to_be_bytes());
        self.buffer.extend_from_slice(value);
    }

    pub fn text(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    pub fn null(&mut self) {
        self.buffer.extend_from_slice(&(-1i32).to_be_bytes());
    }

    pub fn int2(&mut self, value: i16) {
        self.bytes(&value.to_be_bytes());
    }

    pub fn int4(&mut self, value: i32) {
        self.bytes(&value.to_be_bytes());
    }

    pub fn int8(&mut self, value: i64) {
        self.bytes(&value.to_be_bytes());
    }

    pub fn uuid(&mut self, value: &uuid::Uuid) {
        self.bytes(value.as_bytes());
    }

    /// jsonb's binary form is a version byte (1) and the JSON text.
    pub fn jsonb(&mut self, json: &str) {
        let length = i32::try_from(json.len() + 1).unwrap_or(i32::MAX);
        self.buffer.extend_from_slice(&length.to_be_bytes());
        self.buffer.push(1);
        self.buffer.extend_from_slice(json.as_bytes());
    }

    /// Appends the trailer and returns the payload.
    pub fn finish(mut self) -> Vec<u8> {
        self.buffer.extend_from_slice(&(-1i16).to_be_bytes());
        self.buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_payload_is_header_and_trailer() {
        let payload = CopyWriter::with_capacity(0).finish();
        assert_eq!(payload.len(), 11 + 4 + 4 + 2);
        assert_eq!(&payload[..11], SIGNATURE);
        assert_eq!(&payload[19..], &[0xff, 0xff]);
    }

    #[test]
    fn fields_carry_their_length() {
        let mut writer = CopyWriter::with_capacity(16);
        writer.start_tuple(2);
        writer.int2(7);
        writer.null();
        let payload = writer.finish();
        assert_eq!(&payload[19..21], &[0, 2]);
        assert_eq!(&payload[21..27], &[0, 0, 0, 2, 0, 7]);
        assert_eq!(&payload[27..31], &[0xff, 0xff, 0xff, 0xff]);
    }
}

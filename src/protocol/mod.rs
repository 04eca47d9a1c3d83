//! Request decoding and response encoding on top of the `kafka-protocol` crate, the table of
//! supported versions ([`versions`]) and the record-batch header view ([`batch`]). No state, no
//! I/O: callers hand in whole frames (without the 4-byte length prefix) and get bytes back.

pub mod fetch_frame;
pub mod versions;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable};

/// The fixed start of every request header (all header versions): api key, api version,
/// correlation id. Readable even when the rest of the frame is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePrefix {
    /// Raw API key, possibly one Gregor does not know.
    pub api_key: i16,
    /// Requested API version.
    pub api_version: i16,
    /// Echoed in the response header.
    pub correlation_id: i32,
}

impl FramePrefix {
    /// Reads the first 8 bytes of a frame; `None` if it is shorter than that.
    pub fn peek(frame: &[u8]) -> Option<FramePrefix> {
        let mut b = frame.get(..8)?;
        Some(FramePrefix {
            api_key: b.get_i16(),
            api_version: b.get_i16(),
            correlation_id: b.get_i32(),
        })
    }
}

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    /// The API, known to be in the supported table at a served version.
    pub api_key: ApiKey,
    /// The header, with client id and correlation id.
    pub header: RequestHeader,
    /// The body.
    pub body: RequestKind,
}

/// Why a frame could not be turned into a [`Request`]. Each case has one well-defined answer in
/// [`crate::broker`]: an error response where Kafka sends one, else a logged close.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than a request header prefix.
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    /// An API key Gregor does not serve.
    #[error("unsupported API key {0}")]
    UnknownApi(i16),
    /// A served API at a version outside the served range.
    #[error("unsupported version {version} of {api:?}")]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The version asked for.
        version: i16,
    },
    /// Header or body bytes that do not decode.
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed {
        /// The API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// What the decoder said.
        reason: String,
    },
}

/// Decodes a whole request frame (after the length prefix).
pub fn decode_request(frame: Bytes) -> Result<Request, DecodeError> {
    let prefix = FramePrefix::peek(&frame).ok_or(DecodeError::TooShort(frame.len()))?;
    let api_key = ApiKey::try_from(prefix.api_key)
        .ok()
        .filter(|k| versions::support(*k).is_some())
        .ok_or(DecodeError::UnknownApi(prefix.api_key))?;
    let support = versions::support(api_key).ok_or(DecodeError::UnknownApi(prefix.api_key))?;
    let version = prefix.api_version;
    if version < support.served_min || version > support.max {
        return Err(DecodeError::UnsupportedVersion {
            api: api_key,
            version,
        });
    }
    let malformed = |e: anyhow::Error| DecodeError::Malformed {
        api: api_key,
        version,
        reason: format!("{e:#}"),
    };
    let mut buf = frame;
    let header = RequestHeader::decode(&mut buf, api_key.request_header_version(version))
        .map_err(malformed)?;
    let body = RequestKind::decode(api_key, &mut buf, version).map_err(malformed)?;
    Ok(Request {
        api_key,
        header,
        body,
    })
}

/// Encodes a response frame, length prefix included. The response header version follows the
/// API and version, except that ApiVersions always uses header v0 (Kafka's rule, so a client
/// can read the answer before it knows what the broker speaks).
pub fn encode_response(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    body: &ResponseKind,
) -> anyhow::Result<BytesMut> {
    // (Fetch responses, the only large ones, are encoded by `fetch_frame` with their record
    // bytes left in the files.)
    let mut out = BytesMut::with_capacity(256);
    out.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    header.encode(&mut out, api_key.response_header_version(version))?;
    body.encode(&mut out, version)?;
    let len = i32::try_from(out.len() - 4)?;
    out[..4].copy_from_slice(&len.to_be_bytes());
    Ok(out)
}

/// Encodes an ApiVersions response at v0 whatever was asked: the answer Kafka gives to an
/// ApiVersions request at a version it does not know, so the client can retry with one it does.
pub fn encode_api_versions_v0(
    correlation_id: i32,
    body: &ApiVersionsResponse,
) -> anyhow::Result<BytesMut> {
    encode_response(
        correlation_id,
        ApiKey::ApiVersions,
        0,
        &ResponseKind::ApiVersions(body.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ApiVersionsRequest;
    use kafka_protocol::protocol::StrBytes;

    fn frame(key: ApiKey, version: i16, body: &impl Encodable) -> Bytes {
        let mut b = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(7)
            .with_client_id(Some(StrBytes::from_static_str("t")))
            .encode(&mut b, key.request_header_version(version))
            .unwrap();
        body.encode(&mut b, version).unwrap();
        b.freeze()
    }

    #[test]
    fn decodes_a_supported_request() {
        let f = frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
        let r = decode_request(f).unwrap();
        assert_eq!(r.api_key, ApiKey::ApiVersions);
        assert_eq!(r.header.correlation_id, 7);
        assert_eq!(r.header.client_id.as_deref(), Some("t"));
    }

    #[test]
    fn rejects_unknown_keys_versions_and_garbage() {
        assert!(matches!(
            decode_request(Bytes::from_static(&[0, 1])),
            Err(DecodeError::TooShort(2))
        ));
        let f = Bytes::from_static(&[0x7f, 0, 0, 0, 0, 0, 0, 1]);
        assert!(matches!(
            decode_request(f),
            Err(DecodeError::UnknownApi(0x7f00))
        ));
        let f = frame(ApiKey::ApiVersions, 2, &ApiVersionsRequest::default());
        let mut bad = BytesMut::from(&f[..]);
        bad[2..4].copy_from_slice(&99i16.to_be_bytes());
        assert!(matches!(
            decode_request(bad.freeze()),
            Err(DecodeError::UnsupportedVersion { version: 99, .. })
        ));
        let trunc = Bytes::from_static(&[0, 3, 0, 9, 0, 0, 0, 1, 0, 5]);
        assert!(matches!(
            decode_request(trunc),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn response_frame_has_length_prefix() {
        let body = ResponseKind::ApiVersions(ApiVersionsResponse::default());
        let out = encode_response(9, ApiKey::ApiVersions, 3, &body).unwrap();
        let len = i32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
        assert_eq!(len, out.len() - 4);
        assert_eq!(&out[4..8], &9i32.to_be_bytes());
    }
}

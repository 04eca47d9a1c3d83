//! ApiVersions, generated from [`crate::protocol::versions::SUPPORTED`].

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::ApiVersionsResponse;

use crate::protocol::versions::SUPPORTED;

/// The ApiVersions response with `error_code` and the supported table. Features are left at
/// their defaults so v3+ carries no tagged fields (old librdkafka fails on them).
pub fn response(error_code: i16) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_finalized_features_epoch(-1)
        .with_api_keys(
            SUPPORTED
                .iter()
                .map(|s| {
                    ApiVersion::default()
                        .with_api_key(s.key as i16)
                        .with_min_version(s.advertised_min)
                        .with_max_version(s.max)
                })
                .collect(),
        )
}

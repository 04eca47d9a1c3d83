//! ApiVersions, generated from [`crate::protocol::versions::SUPPORTED`], with the feature
//! levels Gregor implements.

use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::ApiVersionsResponse;

use super::sb;
use crate::protocol::versions::SUPPORTED;

/// Feature levels advertised (v3+ tagged fields), as Kafka 4.4 does for what Gregor serves:
/// `(name, supported min, supported max, finalized level)`.
///
/// - `metadata.version` 33 (4.4-IV2), Kafka 4.4's: what `kafka-features describe` shows.
/// - `group.version` 1: the KIP-848 consumer protocol is on.
///
/// `transaction.version` is not advertised, so clients keep the first transaction protocol
/// (KIP-890 part 2's epoch bump per transaction is not served).
const FEATURES: &[(&str, i16, i16, i16)] =
    &[("metadata.version", 7, 33, 33), ("group.version", 0, 1, 1)];

/// The ApiVersions response with `error_code` and the supported table. Below v4, supported
/// features whose minimum is 0 are left out, as Kafka does (KIP-1022: older clients reject
/// a 0 minimum).
pub fn response(error_code: i16, version: i16) -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default()
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
        );
    if version >= 3 && error_code == 0 {
        r = r
            .with_supported_features(
                FEATURES
                    .iter()
                    .filter(|(_, min, _, _)| version >= 4 || *min > 0)
                    .map(|(name, min, max, _)| {
                        SupportedFeatureKey::default()
                            .with_name(sb(*name))
                            .with_min_version(*min)
                            .with_max_version(*max)
                    })
                    .collect(),
            )
            .with_finalized_features_epoch(1)
            .with_finalized_features(
                FEATURES
                    .iter()
                    .map(|(name, _, _, level)| {
                        FinalizedFeatureKey::default()
                            .with_name(sb(*name))
                            .with_max_version_level(*level)
                            .with_min_version_level(*level)
                    })
                    .collect(),
            );
    }
    r
}

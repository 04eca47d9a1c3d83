//! The one table of API keys and version ranges Gregor serves. ApiVersions is generated from it,
//! the README's table is checked against it by a test, and every entry is answered by a handler
//! in [`crate::broker`] (a test sends each API at each advertised version). Add a row only
//! together with its handler.

use kafka_protocol::messages::ApiKey;

/// One supported API: the range advertised in ApiVersions, and the lowest version actually
/// served (Kafka 4.x advertises Produce from v0 because older librdkafka turns compression off
/// otherwise, but refuses v0-v2 when a request arrives).
#[derive(Debug, Clone, Copy)]
pub struct ApiSupport {
    /// The API.
    pub key: ApiKey,
    /// Lowest version advertised in ApiVersions.
    pub advertised_min: i16,
    /// Lowest version served.
    pub served_min: i16,
    /// Highest version advertised and served.
    pub max: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> ApiSupport {
    ApiSupport {
        key,
        advertised_min: min,
        served_min: min,
        max,
    }
}

/// Every API Gregor answers, in API-key order.
pub static SUPPORTED: &[ApiSupport] = &[
    ApiSupport {
        key: ApiKey::Produce,
        advertised_min: 0,
        served_min: 3,
        max: 12,
    },
    api(ApiKey::Fetch, 4, 18),
    api(ApiKey::ListOffsets, 1, 10),
    api(ApiKey::Metadata, 0, 13),
    api(ApiKey::OffsetCommit, 2, 9),
    api(ApiKey::OffsetFetch, 1, 9),
    api(ApiKey::FindCoordinator, 0, 6),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::DescribeGroups, 0, 6),
    api(ApiKey::ListGroups, 0, 5),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::InitProducerId, 0, 5),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
    api(ApiKey::AddPartitionsToTxn, 0, 5),
    api(ApiKey::AddOffsetsToTxn, 0, 4),
    api(ApiKey::EndTxn, 0, 5),
    api(ApiKey::WriteTxnMarkers, 1, 1),
    api(ApiKey::TxnOffsetCommit, 0, 5),
    api(ApiKey::DescribeAcls, 1, 3),
    api(ApiKey::CreateAcls, 1, 3),
    api(ApiKey::DeleteAcls, 1, 3),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::DescribeLogDirs, 1, 4),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::ElectLeaders, 0, 2),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::AlterPartitionReassignments, 0, 1),
    api(ApiKey::ListPartitionReassignments, 0, 0),
    api(ApiKey::OffsetDelete, 0, 0),
    api(ApiKey::DescribeClientQuotas, 0, 1),
    api(ApiKey::DescribeQuorum, 0, 2),
    api(ApiKey::DescribeCluster, 0, 2),
    api(ApiKey::DescribeProducers, 0, 0),
    api(ApiKey::DescribeTransactions, 0, 0),
    api(ApiKey::ListTransactions, 0, 2),
    api(ApiKey::ConsumerGroupHeartbeat, 0, 1),
    api(ApiKey::ConsumerGroupDescribe, 0, 1),
    api(ApiKey::DescribeTopicPartitions, 0, 0),
];

/// The support entry for an API key, if Gregor serves it.
pub fn support(key: ApiKey) -> Option<&'static ApiSupport> {
    SUPPORTED.iter().find(|s| s.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_within_what_the_codec_can_encode() {
        for s in SUPPORTED {
            let codec = s.key.valid_versions();
            assert!(s.served_min >= codec.min, "{:?}", s.key);
            assert!(s.max <= codec.max, "{:?}", s.key);
            assert!(s.advertised_min <= s.served_min, "{:?}", s.key);
        }
        for w in SUPPORTED.windows(2) {
            assert!(
                (w[0].key as i16) < (w[1].key as i16),
                "{:?} before {:?}: keep the table in API-key order",
                w[0].key,
                w[1].key
            );
        }
    }

    #[test]
    fn readme_table_matches() {
        let readme = include_str!("../../README.md");
        let table: Vec<&str> = readme
            .split("<!-- api-table:start -->")
            .nth(1)
            .and_then(|t| t.split("<!-- api-table:end -->").next())
            .expect("README has the api table")
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| API"))
            .collect();
        assert_eq!(table.len(), SUPPORTED.len(), "one README row per API");
        for (row, s) in table.iter().zip(SUPPORTED) {
            let want = format!(
                "| {:?} | {} | {}-{}",
                s.key, s.key as i16, s.served_min, s.max
            );
            assert!(
                row.starts_with(&want),
                "README row {row:?} should start with {want:?}"
            );
        }
    }
}

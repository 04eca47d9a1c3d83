//! The error codes a response carries (top-level, per topic, per partition, per group), for
//! the metrics' `gregor_request_errors_total` (Kafka's `ErrorsPerSec`, which counts
//! `errorCounts()` the same way). Zeros are left out, so an answer without errors costs no
//! allocation.

use kafka_protocol::messages::{FetchResponse, ResponseKind};

/// The non-zero error codes of `body`.
pub(super) fn of(body: &ResponseKind) -> Vec<i16> {
    use ResponseKind as Rs;
    let mut out = Vec::new();
    let mut add = |c: i16| {
        if c != 0 {
            out.push(c);
        }
    };
    match body {
        Rs::Produce(r) => r
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .for_each(|p| add(p.error_code)),
        Rs::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| add(p.error_code)),
        Rs::Metadata(r) => r.topics.iter().for_each(|t| {
            add(t.error_code);
            t.partitions.iter().for_each(|p| add(p.error_code));
        }),
        Rs::OffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| add(p.error_code)),
        Rs::TxnOffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| add(p.error_code)),
        Rs::OffsetFetch(r) => {
            add(r.error_code);
            r.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| add(p.error_code));
            r.groups.iter().for_each(|g| {
                add(g.error_code);
                g.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .for_each(|p| add(p.error_code));
            });
        }
        Rs::OffsetDelete(r) => {
            add(r.error_code);
            r.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| add(p.error_code));
        }
        Rs::DeleteRecords(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| add(p.error_code)),
        Rs::FindCoordinator(r) => {
            add(r.error_code);
            r.coordinators.iter().for_each(|c| add(c.error_code));
        }
        Rs::LeaveGroup(r) => {
            add(r.error_code);
            r.members.iter().for_each(|m| add(m.error_code));
        }
        Rs::JoinGroup(r) => add(r.error_code),
        Rs::SyncGroup(r) => add(r.error_code),
        Rs::Heartbeat(r) => add(r.error_code),
        Rs::ListGroups(r) => add(r.error_code),
        Rs::DescribeGroups(r) => r.groups.iter().for_each(|g| add(g.error_code)),
        Rs::DeleteGroups(r) => r.results.iter().for_each(|g| add(g.error_code)),
        Rs::ConsumerGroupHeartbeat(r) => add(r.error_code),
        Rs::ConsumerGroupDescribe(r) => r.groups.iter().for_each(|g| add(g.error_code)),
        Rs::CreateTopics(r) => r.topics.iter().for_each(|t| add(t.error_code)),
        Rs::DeleteTopics(r) => r.responses.iter().for_each(|t| add(t.error_code)),
        Rs::CreatePartitions(r) => r.results.iter().for_each(|t| add(t.error_code)),
        Rs::DescribeConfigs(r) => r.results.iter().for_each(|t| add(t.error_code)),
        Rs::AlterConfigs(r) => r.responses.iter().for_each(|t| add(t.error_code)),
        Rs::IncrementalAlterConfigs(r) => r.responses.iter().for_each(|t| add(t.error_code)),
        Rs::InitProducerId(r) => add(r.error_code),
        Rs::AddPartitionsToTxn(r) => {
            add(r.error_code);
            r.results_by_topic_v3_and_below
                .iter()
                .flat_map(|t| &t.results_by_partition)
                .for_each(|p| add(p.partition_error_code));
            r.results_by_transaction
                .iter()
                .flat_map(|x| &x.topic_results)
                .flat_map(|t| &t.results_by_partition)
                .for_each(|p| add(p.partition_error_code));
        }
        Rs::AddOffsetsToTxn(r) => add(r.error_code),
        Rs::EndTxn(r) => add(r.error_code),
        Rs::ApiVersions(r) => add(r.error_code),
        Rs::DescribeCluster(r) => add(r.error_code),
        Rs::ListTransactions(r) => add(r.error_code),
        Rs::DescribeTransactions(r) => r.transaction_states.iter().for_each(|t| add(t.error_code)),
        Rs::DescribeProducers(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| add(p.error_code)),
        Rs::OffsetForLeaderEpoch(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| add(p.error_code)),
        Rs::DescribeTopicPartitions(r) => r.topics.iter().for_each(|t| {
            add(t.error_code);
            t.partitions.iter().for_each(|p| add(p.error_code));
        }),
        Rs::DescribeLogDirs(r) => {
            add(r.error_code);
            r.results.iter().for_each(|d| add(d.error_code));
        }
        Rs::DescribeQuorum(r) => {
            add(r.error_code);
            r.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| add(p.error_code));
        }
        Rs::ElectLeaders(r) => {
            add(r.error_code);
            r.replica_election_results
                .iter()
                .flat_map(|t| &t.partition_result)
                .for_each(|p| add(p.error_code));
        }
        Rs::ListPartitionReassignments(r) => add(r.error_code),
        Rs::AlterPartitionReassignments(r) => {
            add(r.error_code);
            r.responses
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| add(p.error_code));
        }
        Rs::DescribeAcls(r) => add(r.error_code),
        Rs::CreateAcls(r) => r.results.iter().for_each(|x| add(x.error_code)),
        Rs::DeleteAcls(r) => r.filter_results.iter().for_each(|x| add(x.error_code)),
        Rs::DescribeClientQuotas(r) => add(r.error_code),
        Rs::WriteTxnMarkers(r) => r
            .markers
            .iter()
            .flat_map(|m| &m.topics)
            .flat_map(|t| &t.partitions)
            .for_each(|p| add(p.error_code)),
        // Fetch is counted from its own reply (`of_fetch`); every other API the dispatch point
        // serves has an arm above.
        _ => {}
    }
    out
}

/// The non-zero error codes of a Fetch response.
pub(super) fn of_fetch(r: &FetchResponse) -> Vec<i16> {
    std::iter::once(r.error_code)
        .chain(
            r.responses
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| p.error_code),
        )
        .filter(|&c| c != 0)
        .collect()
}

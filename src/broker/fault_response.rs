//! The answer to a request that an injected fault fails as a whole: every partition, group
//! or key of the request answered with the error, or the top-level error code where the
//! response has one (Kafka's `AbstractRequest.getErrorResponse`). Nothing is done.

use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::sb;

/// Whether the dispatch point can build an error answer to `api` (an error fault rule for
/// any other API is refused when added).
pub fn supports(api: ApiKey) -> bool {
    use ApiKey as A;
    matches!(
        api,
        A::Produce
            | A::Fetch
            | A::ListOffsets
            | A::Metadata
            | A::OffsetCommit
            | A::OffsetFetch
            | A::OffsetDelete
            | A::FindCoordinator
            | A::JoinGroup
            | A::Heartbeat
            | A::LeaveGroup
            | A::SyncGroup
            | A::DescribeGroups
            | A::ListGroups
            | A::DeleteGroups
            | A::InitProducerId
            | A::AddPartitionsToTxn
            | A::AddOffsetsToTxn
            | A::EndTxn
            | A::TxnOffsetCommit
            | A::CreateTopics
            | A::DeleteTopics
            | A::CreatePartitions
            | A::OffsetForLeaderEpoch
            | A::DeleteRecords
            | A::DescribeCluster
            | A::ConsumerGroupHeartbeat
            | A::ConsumerGroupDescribe
    )
}

/// The error answer to `body`; `None` for an API [`supports`] refuses (rules for those are
/// refused when added, so the dispatch point closes the connection if it ever gets here).
pub fn error_response(body: &RequestKind, version: i16, e: ResponseError) -> Option<ResponseKind> {
    use RequestKind as Rq;
    use ResponseKind as Rs;
    let code = e.code();
    let message = || {
        Some(sb(format!(
            "injected fault: {}",
            crate::cluster::faults::error_name(e)
        )))
    };
    Some(match body {
        Rq::Produce(r) => Rs::Produce(
            ProduceResponse::default().with_responses(
                r.topic_data
                    .iter()
                    .map(|t| {
                        produce_response::TopicProduceResponse::default()
                            .with_name(t.name.clone())
                            .with_topic_id(t.topic_id)
                            .with_partition_responses(
                                t.partition_data
                                    .iter()
                                    .map(|p| {
                                        produce_response::PartitionProduceResponse::default()
                                            .with_index(p.index)
                                            .with_error_code(code)
                                            .with_base_offset(-1)
                                            .with_log_append_time_ms(-1)
                                            .with_log_start_offset(-1)
                                            .with_error_message((version >= 8).then(message).flatten())
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        Rq::Fetch(r) => Rs::Fetch(
            FetchResponse::default()
                .with_error_code(if version >= 7 { code } else { 0 })
                .with_responses(
                    r.topics
                        .iter()
                        .map(|t| {
                            fetch_response::FetchableTopicResponse::default()
                                .with_topic(t.topic.clone())
                                .with_topic_id(t.topic_id)
                                .with_partitions(
                                    t.partitions
                                        .iter()
                                        .map(|p| {
                                            fetch_response::PartitionData::default()
                                                .with_partition_index(p.partition)
                                                .with_error_code(code)
                                                .with_high_watermark(-1)
                                                .with_last_stable_offset(-1)
                                                .with_log_start_offset(-1)
                                                .with_aborted_transactions(Some(Vec::new()))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                ),
        ),
        Rq::ListOffsets(r) => Rs::ListOffsets(
            ListOffsetsResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        list_offsets_response::ListOffsetsTopicResponse::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        list_offsets_response::ListOffsetsPartitionResponse::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(code)
                                            .with_timestamp(-1)
                                            .with_offset(-1)
                                            .with_leader_epoch(-1)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        Rq::Metadata(r) => Rs::Metadata(
            MetadataResponse::default().with_topics(
                r.topics
                    .iter()
                    .flatten()
                    .map(|t| {
                        metadata_response::MetadataResponseTopic::default()
                            .with_name(t.name.clone())
                            .with_topic_id(t.topic_id)
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        Rq::OffsetCommit(r) => Rs::OffsetCommit(
            OffsetCommitResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        offset_commit_response::OffsetCommitResponseTopic::default()
                            .with_name(t.name.clone())
                            .with_topic_id(t.topic_id)
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        offset_commit_response::OffsetCommitResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        Rq::OffsetFetch(r) => Rs::OffsetFetch(if version >= 8 {
            OffsetFetchResponse::default().with_groups(
                r.groups
                    .iter()
                    .map(|g| {
                        offset_fetch_response::OffsetFetchResponseGroup::default()
                            .with_group_id(g.group_id.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            )
        } else {
            OffsetFetchResponse::default().with_error_code(if version >= 2 { code } else { 0 }).with_topics(
                r.topics
                    .iter()
                    .flatten()
                    .map(|t| {
                        offset_fetch_response::OffsetFetchResponseTopic::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partition_indexes
                                    .iter()
                                    .map(|&i| {
                                        offset_fetch_response::OffsetFetchResponsePartition::default()
                                            .with_partition_index(i)
                                            .with_committed_offset(-1)
                                            .with_committed_leader_epoch(-1)
                                            .with_metadata(Some(sb("")))
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
        }),
        Rq::OffsetDelete(_) => {
            Rs::OffsetDelete(OffsetDeleteResponse::default().with_error_code(code))
        }
        Rq::FindCoordinator(r) => Rs::FindCoordinator(if version >= 4 {
            FindCoordinatorResponse::default().with_coordinators(
                r.coordinator_keys
                    .iter()
                    .map(|k| {
                        find_coordinator_response::Coordinator::default()
                            .with_key(k.clone())
                            .with_node_id(BrokerId(-1))
                            .with_host(sb(""))
                            .with_port(-1)
                            .with_error_code(code)
                            .with_error_message(message())
                    })
                    .collect(),
            )
        } else {
            FindCoordinatorResponse::default()
                .with_error_code(code)
                .with_error_message((version >= 1).then(message).flatten())
                .with_node_id(BrokerId(-1))
                .with_host(sb(""))
                .with_port(-1)
        }),
        Rq::JoinGroup(r) => Rs::JoinGroup(
            JoinGroupResponse::default()
                .with_error_code(code)
                .with_generation_id(-1)
                .with_protocol_name((version < 7).then(|| sb("")))
                .with_leader(sb(""))
                .with_member_id(r.member_id.clone()),
        ),
        Rq::Heartbeat(_) => Rs::Heartbeat(HeartbeatResponse::default().with_error_code(code)),
        Rq::ConsumerGroupHeartbeat(_) => Rs::ConsumerGroupHeartbeat(
            ConsumerGroupHeartbeatResponse::default()
                .with_error_code(code)
                .with_error_message(message()),
        ),
        Rq::ConsumerGroupDescribe(r) => Rs::ConsumerGroupDescribe(
            ConsumerGroupDescribeResponse::default().with_groups(
                r.group_ids
                    .iter()
                    .map(|g| {
                        consumer_group_describe_response::DescribedGroup::default()
                            .with_group_id(g.clone())
                            .with_error_code(code)
                            .with_error_message(message())
                    })
                    .collect(),
            ),
        ),
        Rq::LeaveGroup(_) => Rs::LeaveGroup(LeaveGroupResponse::default().with_error_code(code)),
        Rq::SyncGroup(_) => Rs::SyncGroup(SyncGroupResponse::default().with_error_code(code)),
        Rq::DescribeGroups(r) => Rs::DescribeGroups(
            DescribeGroupsResponse::default().with_groups(
                r.groups
                    .iter()
                    .map(|g| {
                        describe_groups_response::DescribedGroup::default()
                            .with_group_id(g.clone())
                            .with_error_code(code)
                            .with_group_state(sb(""))
                            .with_protocol_type(sb(""))
                            .with_protocol_data(sb(""))
                    })
                    .collect(),
            ),
        ),
        Rq::ListGroups(_) => Rs::ListGroups(ListGroupsResponse::default().with_error_code(code)),
        Rq::DeleteGroups(r) => Rs::DeleteGroups(
            DeleteGroupsResponse::default().with_results(
                r.groups_names
                    .iter()
                    .map(|g| {
                        delete_groups_response::DeletableGroupResult::default()
                            .with_group_id(g.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        Rq::InitProducerId(_) => Rs::InitProducerId(
            InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        ),
        Rq::AddPartitionsToTxn(r) => Rs::AddPartitionsToTxn(if version >= 4 {
            AddPartitionsToTxnResponse::default().with_error_code(code)
        } else {
            AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(
                r.v3_and_below_topics
                    .iter()
                    .map(|t| {
                        add_partitions_to_txn_response::AddPartitionsToTxnTopicResult::default()
                            .with_name(t.name.clone())
                            .with_results_by_partition(
                                t.partitions
                                    .iter()
                                    .map(|&p| {
                                        add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult::default()
                                            .with_partition_index(p)
                                            .with_partition_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
        }),
        Rq::AddOffsetsToTxn(_) => {
            Rs::AddOffsetsToTxn(AddOffsetsToTxnResponse::default().with_error_code(code))
        }
        Rq::EndTxn(_) => Rs::EndTxn(
            EndTxnResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        ),
        Rq::TxnOffsetCommit(r) => Rs::TxnOffsetCommit(
            TxnOffsetCommitResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        txn_offset_commit_response::TxnOffsetCommitResponseTopic::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        txn_offset_commit_response::TxnOffsetCommitResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        Rq::CreateTopics(r) => Rs::CreateTopics(
            CreateTopicsResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        create_topics_response::CreatableTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(code)
                            .with_error_message(message())
                            .with_num_partitions(-1)
                            .with_replication_factor(-1)
                            .with_configs(None)
                    })
                    .collect(),
            ),
        ),
        Rq::DeleteTopics(r) => {
            let named = r.topic_names.iter().map(|n| (Some(n.clone()), uuid::Uuid::nil()));
            let states = r.topics.iter().map(|t| (t.name.clone(), t.topic_id));
            Rs::DeleteTopics(
                DeleteTopicsResponse::default().with_responses(
                    named
                        .chain(states)
                        .map(|(name, id)| {
                            delete_topics_response::DeletableTopicResult::default()
                                .with_name(name)
                                .with_topic_id(id)
                                .with_error_code(code)
                                .with_error_message(message())
                        })
                        .collect(),
                ),
            )
        }
        Rq::CreatePartitions(r) => Rs::CreatePartitions(
            CreatePartitionsResponse::default().with_results(
                r.topics
                    .iter()
                    .map(|t| {
                        create_partitions_response::CreatePartitionsTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(code)
                            .with_error_message(message())
                    })
                    .collect(),
            ),
        ),
        Rq::OffsetForLeaderEpoch(r) => Rs::OffsetForLeaderEpoch(
            OffsetForLeaderEpochResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        offset_for_leader_epoch_response::OffsetForLeaderTopicResult::default()
                            .with_topic(t.topic.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        offset_for_leader_epoch_response::EpochEndOffset::default()
                                            .with_partition(p.partition)
                                            .with_error_code(code)
                                            .with_leader_epoch(-1)
                                            .with_end_offset(-1)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        Rq::DeleteRecords(r) => Rs::DeleteRecords(
            DeleteRecordsResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        delete_records_response::DeleteRecordsTopicResult::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        delete_records_response::DeleteRecordsPartitionResult::default()
                                            .with_partition_index(p.partition_index)
                                            .with_low_watermark(-1)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        Rq::DescribeCluster(_) => Rs::DescribeCluster(
            DescribeClusterResponse::default()
                .with_error_code(code)
                .with_error_message(message()),
        ),
        _ => return None,
    })
}

/// Collects what a request names, up to a limit: each partition, or each topic once.
struct Named {
    out: Vec<(String, Option<i32>)>,
    limit: usize,
    per_topic: bool,
}

impl Named {
    fn full(&self) -> bool {
        self.out.len() >= self.limit
    }

    /// Topic `name` and the partitions of it the request names.
    fn topic(&mut self, name: String, partitions: impl Iterator<Item = i32>) {
        if self.full() {
            return;
        }
        if self.per_topic {
            self.out.push((name, None));
            return;
        }
        let room = self.limit - self.out.len();
        self.out
            .extend(partitions.take(room).map(|p| (name.clone(), Some(p))));
    }
}

/// The topics and partitions a request names, for fault matchers (`None`: a whole topic),
/// at most `limit` of them. Topic ids are resolved with `name_of`.
pub fn request_partitions(
    body: &RequestKind,
    name_of: impl Fn(uuid::Uuid) -> Option<String>,
    limit: usize,
) -> Vec<(String, Option<i32>)> {
    collect(body, name_of, limit, false)
}

/// The topics a request names, once per topic entry, at most `limit` of them (for the
/// request log: no per-partition work).
pub fn request_topics(
    body: &RequestKind,
    name_of: impl Fn(uuid::Uuid) -> Option<String>,
    limit: usize,
) -> Vec<String> {
    collect(body, name_of, limit, true)
        .into_iter()
        .map(|(t, _)| t)
        .collect()
}

fn collect(
    body: &RequestKind,
    name_of: impl Fn(uuid::Uuid) -> Option<String>,
    limit: usize,
    per_topic: bool,
) -> Vec<(String, Option<i32>)> {
    use RequestKind as Rq;
    let named = |name: &str, id: uuid::Uuid| -> String {
        if name.is_empty() {
            name_of(id).unwrap_or_default()
        } else {
            name.to_string()
        }
    };
    let mut n = Named {
        out: Vec::new(),
        limit,
        per_topic,
    };
    // A whole topic (Metadata, CreateTopics, ...): per topic either way.
    let whole = |n: &mut Named, name: String| {
        if !n.full() {
            n.out.push((name, None));
        }
    };
    match body {
        Rq::Produce(r) => {
            for t in r.topic_data.iter() {
                if n.full() {
                    break;
                }
                n.topic(
                    named(&t.name, t.topic_id),
                    t.partition_data.iter().map(|p| p.index),
                );
            }
        }
        Rq::Fetch(r) => {
            for t in r.topics.iter() {
                if n.full() {
                    break;
                }
                n.topic(
                    named(&t.topic, t.topic_id),
                    t.partitions.iter().map(|p| p.partition),
                );
            }
        }
        Rq::ListOffsets(r) => {
            for t in r.topics.iter() {
                if n.full() {
                    break;
                }
                n.topic(
                    t.name.to_string(),
                    t.partitions.iter().map(|p| p.partition_index),
                );
            }
        }
        Rq::OffsetCommit(r) => {
            for t in r.topics.iter() {
                if n.full() {
                    break;
                }
                n.topic(
                    named(&t.name, t.topic_id),
                    t.partitions.iter().map(|p| p.partition_index),
                );
            }
        }
        Rq::TxnOffsetCommit(r) => {
            for t in r.topics.iter() {
                if n.full() {
                    break;
                }
                n.topic(
                    t.name.to_string(),
                    t.partitions.iter().map(|p| p.partition_index),
                );
            }
        }
        Rq::AddPartitionsToTxn(r) => {
            let topics = r
                .v3_and_below_topics
                .iter()
                .chain(r.transactions.iter().flat_map(|t| t.topics.iter()));
            for t in topics {
                if n.full() {
                    break;
                }
                n.topic(t.name.to_string(), t.partitions.iter().copied());
            }
        }
        Rq::OffsetForLeaderEpoch(r) => {
            for t in r.topics.iter() {
                if n.full() {
                    break;
                }
                n.topic(
                    t.topic.to_string(),
                    t.partitions.iter().map(|p| p.partition),
                );
            }
        }
        Rq::DeleteRecords(r) => {
            for t in r.topics.iter() {
                if n.full() {
                    break;
                }
                n.topic(
                    t.name.to_string(),
                    t.partitions.iter().map(|p| p.partition_index),
                );
            }
        }
        Rq::Metadata(r) => {
            for t in r.topics.iter().flatten() {
                if n.full() {
                    break;
                }
                let name = match &t.name {
                    Some(name) => name.to_string(),
                    None => name_of(t.topic_id).unwrap_or_default(),
                };
                whole(&mut n, name);
            }
        }
        Rq::CreateTopics(r) => {
            for t in r.topics.iter() {
                if n.full() {
                    break;
                }
                whole(&mut n, t.name.to_string());
            }
        }
        Rq::DeleteTopics(r) => {
            for t in r.topic_names.iter() {
                if n.full() {
                    break;
                }
                whole(&mut n, t.to_string());
            }
            for t in r.topics.iter() {
                if n.full() {
                    break;
                }
                let name = t.name.as_ref().map(|name| name.to_string());
                whole(
                    &mut n,
                    name.or_else(|| name_of(t.topic_id)).unwrap_or_default(),
                );
            }
        }
        Rq::CreatePartitions(r) => {
            for t in r.topics.iter() {
                if n.full() {
                    break;
                }
                whole(&mut n, t.name.to_string());
            }
        }
        _ => {}
    }
    n.out
}

#[cfg(test)]
mod tests {
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::protocol::{encode_response, versions};

    fn s(x: &str) -> StrBytes {
        StrBytes::from_string(x.to_string())
    }

    /// A request of `api` at `version` naming topic t, partition 0, group g, with only the
    /// fields that version has.
    fn sample(api: ApiKey, version: i16) -> RequestKind {
        use RequestKind as Rq;
        let t = || TopicName(s("t"));
        match api {
            ApiKey::Produce => {
                Rq::Produce(ProduceRequest::default().with_acks(-1).with_topic_data(
                    vec![produce_request::TopicProduceData::default()
                        .with_name(if version < 13 {
                            t()
                        } else {
                            TopicName::default()
                        })
                        .with_topic_id(if version >= 13 {
                            uuid::Uuid::from_u128(7)
                        } else {
                            uuid::Uuid::nil()
                        })
                        .with_partition_data(vec![
                            produce_request::PartitionProduceData::default(),
                        ])],
                ))
            }
            ApiKey::Fetch => Rq::Fetch(FetchRequest::default().with_topics(
                vec![fetch_request::FetchTopic::default()
                    .with_topic(if version < 13 {
                        t()
                    } else {
                        TopicName::default()
                    })
                    .with_topic_id(if version >= 13 {
                        uuid::Uuid::from_u128(7)
                    } else {
                        uuid::Uuid::nil()
                    })
                    .with_partitions(vec![fetch_request::FetchPartition::default()])],
            )),
            ApiKey::ListOffsets => {
                Rq::ListOffsets(ListOffsetsRequest::default().with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(t())
                    .with_partitions(vec![list_offsets_request::ListOffsetsPartition::default()]),
            ]))
            }
            ApiKey::Metadata => Rq::Metadata(MetadataRequest::default().with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default().with_name(Some(t())),
            ]))),
            ApiKey::OffsetCommit => Rq::OffsetCommit(
                OffsetCommitRequest::default()
                    .with_group_id(GroupId(s("g")))
                    .with_topics(vec![
                        offset_commit_request::OffsetCommitRequestTopic::default()
                            .with_name(t())
                            .with_partitions(vec![Default::default()]),
                    ]),
            ),
            ApiKey::OffsetFetch if version >= 8 => {
                Rq::OffsetFetch(OffsetFetchRequest::default().with_groups(vec![
                    offset_fetch_request::OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(s("g"))),
                ]))
            }
            ApiKey::OffsetFetch => Rq::OffsetFetch(
                OffsetFetchRequest::default()
                    .with_group_id(GroupId(s("g")))
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopic::default()
                            .with_name(t())
                            .with_partition_indexes(vec![0]),
                    ])),
            ),
            ApiKey::FindCoordinator if version >= 4 => Rq::FindCoordinator(
                FindCoordinatorRequest::default().with_coordinator_keys(vec![s("g")]),
            ),
            ApiKey::FindCoordinator => {
                Rq::FindCoordinator(FindCoordinatorRequest::default().with_key(s("g")))
            }
            ApiKey::JoinGroup => Rq::JoinGroup(JoinGroupRequest::default().with_member_id(s("m"))),
            ApiKey::DescribeGroups => Rq::DescribeGroups(
                DescribeGroupsRequest::default().with_groups(vec![GroupId(s("g"))]),
            ),
            ApiKey::DeleteGroups => Rq::DeleteGroups(
                DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g"))]),
            ),
            ApiKey::AddPartitionsToTxn if version < 4 => Rq::AddPartitionsToTxn(
                AddPartitionsToTxnRequest::default().with_v3_and_below_topics(vec![
                    add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                        .with_name(t())
                        .with_partitions(vec![0]),
                ]),
            ),
            ApiKey::TxnOffsetCommit => {
                Rq::TxnOffsetCommit(TxnOffsetCommitRequest::default().with_topics(vec![
                txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                    .with_name(t())
                    .with_partitions(vec![Default::default()]),
            ]))
            }
            ApiKey::CreateTopics => {
                Rq::CreateTopics(CreateTopicsRequest::default().with_topics(vec![
                    create_topics_request::CreatableTopic::default().with_name(t()),
                ]))
            }
            ApiKey::DeleteTopics if version >= 6 => {
                Rq::DeleteTopics(DeleteTopicsRequest::default().with_topics(vec![
                    delete_topics_request::DeleteTopicState::default().with_name(Some(t())),
                ]))
            }
            ApiKey::DeleteTopics => {
                Rq::DeleteTopics(DeleteTopicsRequest::default().with_topic_names(vec![t()]))
            }
            ApiKey::CreatePartitions => {
                Rq::CreatePartitions(CreatePartitionsRequest::default().with_topics(vec![
                    create_partitions_request::CreatePartitionsTopic::default().with_name(t()),
                ]))
            }
            ApiKey::OffsetForLeaderEpoch => {
                Rq::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default().with_topics(vec![
                offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                    .with_topic(t())
                    .with_partitions(vec![Default::default()]),
            ]))
            }
            ApiKey::DeleteRecords => {
                Rq::DeleteRecords(DeleteRecordsRequest::default().with_topics(vec![
                delete_records_request::DeleteRecordsTopic::default()
                    .with_name(t())
                    .with_partitions(vec![Default::default()]),
            ]))
            }
            other => default_request(other),
        }
    }

    fn default_request(api: ApiKey) -> RequestKind {
        use RequestKind as Rq;
        match api {
            ApiKey::Heartbeat => Rq::Heartbeat(Default::default()),
            ApiKey::LeaveGroup => Rq::LeaveGroup(Default::default()),
            ApiKey::SyncGroup => Rq::SyncGroup(Default::default()),
            ApiKey::ListGroups => Rq::ListGroups(Default::default()),
            ApiKey::InitProducerId => Rq::InitProducerId(Default::default()),
            ApiKey::AddPartitionsToTxn => Rq::AddPartitionsToTxn(Default::default()),
            ApiKey::AddOffsetsToTxn => Rq::AddOffsetsToTxn(Default::default()),
            ApiKey::EndTxn => Rq::EndTxn(Default::default()),
            ApiKey::OffsetDelete => Rq::OffsetDelete(Default::default()),
            ApiKey::DescribeCluster => Rq::DescribeCluster(Default::default()),
            ApiKey::ConsumerGroupHeartbeat => Rq::ConsumerGroupHeartbeat(Default::default()),
            ApiKey::ConsumerGroupDescribe => Rq::ConsumerGroupDescribe(
                ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("g"))]),
            ),
            other => panic!("no sample request for {other:?}"),
        }
    }

    #[test]
    fn request_partitions_stop_at_the_limit() {
        let topics = (0..10_000)
            .map(|i| {
                metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(TopicName(s(&format!("t{i}")))))
            })
            .collect();
        let req = RequestKind::Metadata(MetadataRequest::default().with_topics(Some(topics)));
        assert_eq!(request_partitions(&req, |_| None, 5).len(), 5);
        assert_eq!(request_partitions(&req, |_| None, usize::MAX).len(), 10_000);
        let produce = RequestKind::Produce(
            ProduceRequest::default().with_topic_data(
                (0..3)
                    .map(|i| {
                        produce_request::TopicProduceData::default()
                            .with_name(TopicName(s(&format!("p{i}"))))
                            .with_partition_data(vec![Default::default(), Default::default()])
                    })
                    .collect(),
            ),
        );
        assert_eq!(
            request_topics(&produce, |_| None, 17),
            ["p0", "p1", "p2"],
            "each topic once, no per-partition entries"
        );
        assert_eq!(request_topics(&req, |_| None, 17).len(), 17);
        let got = request_partitions(&produce, |_| None, 3);
        assert_eq!(
            got,
            vec![
                ("p0".to_string(), Some(0)),
                ("p0".to_string(), Some(0)),
                ("p1".to_string(), Some(0))
            ]
        );
    }

    /// Every API an error rule may name answers, at every version Gregor serves, with a
    /// response that encodes (a field set outside its versions would fail) and carries the
    /// error.
    #[test]
    fn every_error_answer_encodes_at_every_served_version() {
        let mut checked = 0;
        for support in versions::SUPPORTED {
            let api = support.key;
            if !supports(api) {
                continue;
            }
            for version in support.served_min..=support.max {
                let req = sample(api, version);
                let body = error_response(&req, version, ResponseError::NotEnoughReplicas)
                    .unwrap_or_else(|| panic!("{api:?} v{version}: no answer"));
                let encoded = encode_response(1, api, version, &body)
                    .unwrap_or_else(|e| panic!("{api:?} v{version}: {e:#}"));
                let text = format!("{body:?}");
                assert!(
                    text.contains(&ResponseError::NotEnoughReplicas.code().to_string()),
                    "{api:?} v{version}: the error is in the answer: {text}"
                );
                assert!(encoded.len() > 8);
                checked += 1;
            }
        }
        assert!(checked > 150, "{checked} API versions checked");
        assert!(!supports(ApiKey::SaslHandshake));
        assert!(error_response(
            &RequestKind::SaslHandshake(Default::default()),
            0,
            ResponseError::NotEnoughReplicas
        )
        .is_none());
    }
}

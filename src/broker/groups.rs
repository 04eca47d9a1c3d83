//! Consumer-group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit, OffsetFetch, OffsetDelete, ListGroups, DescribeGroups, DeleteGroups. Each
//! converts the wire message to the coordinator's plain types and back; the logic is in
//! [`crate::group`].

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator as WireCoordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{sb, security, Node, RequestContext};
use crate::group::{self, CommitPartition, FetchedOffset, GroupError, LeaveMember};

fn code(e: &Option<GroupError>) -> i16 {
    e.as_ref().map_or(0, |e| e.code().code())
}

fn opt(s: &Option<StrBytes>) -> Option<String> {
    s.as_ref().map(|s| s.to_string())
}

/// FindCoordinator: each key's coordinator is the leader of its internal partition, from the
/// cluster's view. With that partition's log directory offline it has no leader, and Kafka
/// answers COORDINATOR_NOT_AVAILABLE with no node. Key type 0 is a group id (placed by
/// `__consumer_offsets`), 1 a transactional id (placed by `__transaction_state`).
pub fn find_coordinator(
    node: &Node,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let transactional = req.key_type == 1;
    let locate = |key: &str| match if transactional {
        node.cluster.txn_coordinator(key)
    } else {
        node.cluster.group_coordinator(key)
    } {
        Some(n) => (BrokerId(n.id), sb(n.host), n.port, 0),
        None => (
            BrokerId(-1),
            sb(""),
            -1,
            ResponseError::CoordinatorNotAvailable.code(),
        ),
    };
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let (id, host, port, error) = locate(&key);
                WireCoordinator::default()
                    .with_key(key)
                    .with_node_id(id)
                    .with_host(host)
                    .with_port(port)
                    .with_error_code(error)
            })
            .collect();
        FindCoordinatorResponse::default().with_coordinators(coordinators)
    } else {
        let (id, host, port, error) = locate(&req.key);
        FindCoordinatorResponse::default()
            .with_node_id(id)
            .with_host(host)
            .with_port(port)
            .with_error_code(error)
    }
}

/// JoinGroup, parked until the rebalance completes.
pub async fn join_group(
    node: &Node,
    req: JoinGroupRequest,
    version: i16,
    ctx: &RequestContext,
) -> JoinGroupResponse {
    let join = group::JoinRequest {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        group_instance_id: opt(&req.group_instance_id),
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        client_id: ctx.client_id.clone(),
        client_host: ctx.client_host(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    let r = node.cluster.groups.join(join).await;
    let mut resp = JoinGroupResponse::default()
        .with_error_code(code(&r.error))
        .with_generation_id(r.generation_id)
        .with_protocol_name(r.protocol_name.map(sb))
        .with_leader(sb(r.leader))
        .with_member_id(sb(r.member_id))
        .with_members(
            r.members
                .into_iter()
                .map(|m| {
                    let mut wm = JoinGroupResponseMember::default()
                        .with_member_id(sb(m.member_id))
                        .with_metadata(m.metadata);
                    if version >= 5 {
                        wm = wm.with_group_instance_id(m.group_instance_id.map(sb));
                    }
                    wm
                })
                .collect(),
        );
    if version < 7 && resp.protocol_name.is_none() {
        // Before v7 the protocol name is not nullable.
        resp.protocol_name = Some(StrBytes::default());
    }
    if version >= 7 {
        resp = resp.with_protocol_type(r.protocol_type.map(sb));
    }
    if version >= 9 {
        resp = resp.with_skip_assignment(r.skip_assignment);
    }
    resp
}

/// SyncGroup, parked until the leader's assignment is in.
pub async fn sync_group(node: &Node, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
    let sync = group::SyncRequest {
        group_id: req.group_id.to_string(),
        generation_id: req.generation_id,
        member_id: req.member_id.to_string(),
        group_instance_id: opt(&req.group_instance_id),
        protocol_type: opt(&req.protocol_type),
        protocol_name: opt(&req.protocol_name),
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let r = node.cluster.groups.sync(sync).await;
    let mut resp = SyncGroupResponse::default()
        .with_error_code(code(&r.error))
        .with_assignment(r.assignment);
    if version >= 5 {
        resp = resp
            .with_protocol_type(r.protocol_type.map(sb))
            .with_protocol_name(r.protocol_name.map(sb));
    }
    resp
}

/// Heartbeat.
pub async fn heartbeat(node: &Node, req: HeartbeatRequest) -> HeartbeatResponse {
    let hb = group::HeartbeatRequest {
        group_id: req.group_id.to_string(),
        generation_id: req.generation_id,
        member_id: req.member_id.to_string(),
        group_instance_id: opt(&req.group_instance_id),
    };
    let r = node.cluster.groups.heartbeat(hb).await;
    HeartbeatResponse::default().with_error_code(code(&r.err()))
}

/// LeaveGroup: one member (v0-v2) or a batch (v3+, KIP-345).
pub async fn leave_group(node: &Node, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let members = if version >= 3 {
        req.members
            .into_iter()
            .map(|m| LeaveMember {
                member_id: m.member_id.to_string(),
                group_instance_id: opt(&m.group_instance_id),
            })
            .collect()
    } else {
        vec![LeaveMember {
            member_id: req.member_id.to_string(),
            group_instance_id: None,
        }]
    };
    let leave = group::LeaveRequest {
        group_id: req.group_id.to_string(),
        members,
    };
    let r = node
        .cluster
        .groups
        .leave(leave)
        .await
        .unwrap_or_else(|e| group::LeaveResult {
            error: Some(e),
            members: Vec::new(),
        });
    if version < 3 {
        let member_error = r.members.first().and_then(|(_, e)| *e);
        return LeaveGroupResponse::default().with_error_code(code(&r.error.or(member_error)));
    }
    LeaveGroupResponse::default()
        .with_error_code(code(&r.error))
        .with_members(
            r.members
                .into_iter()
                .map(|(m, e)| {
                    MemberResponse::default()
                        .with_member_id(sb(m.member_id))
                        .with_group_instance_id(m.group_instance_id.map(sb))
                        .with_error_code(code(&e))
                })
                .collect(),
        )
}

/// One partition of an OffsetCommit or TxnOffsetCommit as the wire carries it.
pub(super) struct WireCommit<'a> {
    pub(super) topic: &'a str,
    pub(super) partition: i32,
    pub(super) offset: i64,
    /// -1 where the version carries none.
    pub(super) leader_epoch: i32,
    pub(super) metadata: Option<&'a StrBytes>,
}

/// The partitions of a commit request split into those of existing partitions, as the group
/// coordinator takes them (a null metadata is the empty string, as in Kafka), and the unknown
/// ones (UNKNOWN_TOPIC_OR_PARTITION).
pub(super) fn known_commits<'a>(
    node: &Node,
    wire: impl Iterator<Item = WireCommit<'a>>,
) -> (Vec<CommitPartition>, Vec<(String, i32)>) {
    let mut partitions = Vec::new();
    let mut unknown = Vec::new();
    for w in wire {
        let known = node
            .cluster
            .topics
            .get(w.topic)
            .is_some_and(|t| t.partition(w.partition).is_some());
        if !known {
            unknown.push((w.topic.to_string(), w.partition));
            continue;
        }
        partitions.push(CommitPartition {
            topic: w.topic.to_string(),
            partition: w.partition,
            offset: w.offset,
            leader_epoch: w.leader_epoch,
            metadata: w.metadata.map(|m| m.to_string()).unwrap_or_default(),
        });
    }
    (partitions, unknown)
}

/// Per-partition codes `(topic, partition, code)` grouped by topic in first-seen order, built
/// into a response's partition and topic types.
pub(super) fn by_topic<P, T>(
    all: impl IntoIterator<Item = (String, i32, i16)>,
    partition: impl Fn(i32, i16) -> P,
    topic: impl Fn(String, Vec<P>) -> T,
) -> Vec<T> {
    let mut grouped: Vec<(String, Vec<P>)> = Vec::new();
    for (t, p, code) in all {
        let entry = partition(p, code);
        match grouped.iter_mut().find(|(name, _)| *name == t) {
            Some((_, ps)) => ps.push(entry),
            None => grouped.push((t, vec![entry])),
        }
    }
    grouped.into_iter().map(|(t, ps)| topic(t, ps)).collect()
}

/// OffsetCommit: group members (generation checked) or standalone consumers (generation -1).
pub async fn offset_commit(
    node: &Node,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let (partitions, unknown) = known_commits(
        node,
        req.topics.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| WireCommit {
                topic: &t.name,
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p.committed_metadata.as_ref(),
            })
        }),
    );
    let commit = group::OffsetCommitRequest {
        api_version: version,
        group_id: req.group_id.to_string(),
        generation_id: req.generation_id_or_member_epoch,
        member_id: req.member_id.to_string(),
        group_instance_id: opt(&req.group_instance_id),
        retention_ms: (version <= 4 && req.retention_time_ms != -1)
            .then_some(req.retention_time_ms),
        partitions,
    };
    let results = if commit.partitions.is_empty() {
        Vec::new()
    } else {
        node.cluster.groups.commit(commit).await
    };
    let all = results
        .into_iter()
        .map(|r| (r.topic, r.partition, code(&r.error)))
        .chain(
            unknown
                .into_iter()
                .map(|(t, p)| (t, p, ResponseError::UnknownTopicOrPartition.code())),
        );
    let by_topic = by_topic(
        all,
        |partition, error| {
            OffsetCommitResponsePartition::default()
                .with_partition_index(partition)
                .with_error_code(error)
        },
        |topic, partitions| {
            OffsetCommitResponseTopic::default()
                .with_name(TopicName(sb(topic)))
                .with_partitions(partitions)
        },
    );
    OffsetCommitResponse::default().with_topics(by_topic)
}

/// The committed offsets of one group, for the wanted partitions (or all), or the group-level
/// error (NOT_COORDINATOR when its shard is not loaded here).
async fn fetch_group(
    node: &Node,
    group: &str,
    wanted: Option<Vec<(String, i32)>>,
    require_stable: bool,
    member: Option<(Option<String>, i32)>,
) -> (Vec<FetchedOffset>, i16) {
    if !super::owns_group(node, group) {
        return (Vec::new(), ResponseError::NotCoordinator.code());
    }
    if let Some((member_id, epoch)) = member {
        // v9: a consumer-group member fetches at its current epoch.
        let checked = node
            .cluster
            .groups
            .check_offset_fetch_member(group, member_id, epoch)
            .await;
        if let Err(e) = checked {
            return (Vec::new(), e.code().code());
        }
    }
    match node
        .cluster
        .groups
        .fetch_offsets(group, wanted, require_stable)
        .await
    {
        Ok(offsets) => (offsets, 0),
        Err(e) => (Vec::new(), e.code().code()),
    }
}

/// `(topic, partitions)` pairs as a flat list of `(topic, partition)`.
fn flatten(topics: impl Iterator<Item = (TopicName, Vec<i32>)>) -> Vec<(String, i32)> {
    topics
        .flat_map(|(name, ps)| ps.into_iter().map(move |p| (name.to_string(), p)))
        .collect()
}

fn group_topics(offsets: Vec<FetchedOffset>) -> Vec<(String, Vec<FetchedOffset>)> {
    let mut out: Vec<(String, Vec<FetchedOffset>)> = Vec::new();
    for o in offsets {
        match out.iter_mut().find(|(t, _)| *t == o.topic) {
            Some((_, v)) => v.push(o),
            None => out.push((o.topic.clone(), vec![o])),
        }
    }
    out
}

/// OffsetFetch: one group (v0-v7) or several (v8+).
pub async fn offset_fetch(
    node: &Node,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let require_stable = version >= 7 && req.require_stable;
    if version >= 8 {
        let mut groups = Vec::with_capacity(req.groups.len());
        for g in req.groups {
            let wanted = g
                .topics
                .map(|ts| flatten(ts.into_iter().map(|t| (t.name, t.partition_indexes))));
            let member = (version >= 9).then(|| (opt(&g.member_id), g.member_epoch));
            let (offsets, error) =
                fetch_group(node, &g.group_id, wanted, require_stable, member).await;
            let topics = group_topics(offsets)
                .into_iter()
                .map(|(t, ps)| {
                    OffsetFetchResponseTopics::default()
                        .with_name(TopicName(sb(t)))
                        .with_partitions(
                            ps.into_iter()
                                .map(|o| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(o.partition)
                                        .with_committed_offset(o.offset)
                                        .with_committed_leader_epoch(o.leader_epoch)
                                        .with_metadata(Some(sb(o.metadata)))
                                        .with_error_code(code(&o.error))
                                })
                                .collect(),
                        )
                })
                .collect();
            groups.push(
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id)
                    .with_error_code(error)
                    .with_topics(topics),
            );
        }
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = req
        .topics
        .map(|ts| flatten(ts.into_iter().map(|t| (t.name, t.partition_indexes))));
    let (offsets, error) = fetch_group(node, &req.group_id, wanted, require_stable, None).await;
    let topics = group_topics(offsets)
        .into_iter()
        .map(|(t, ps)| {
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(sb(t)))
                .with_partitions(
                    ps.into_iter()
                        .map(|o| {
                            let mut p = OffsetFetchResponsePartition::default()
                                .with_partition_index(o.partition)
                                .with_committed_offset(o.offset)
                                .with_metadata(Some(sb(o.metadata)))
                                .with_error_code(code(&o.error));
                            if version >= 5 {
                                p = p.with_committed_leader_epoch(o.leader_epoch);
                            }
                            p
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default()
        .with_error_code(if version >= 2 { error } else { 0 })
        .with_topics(topics)
}

/// OffsetDelete: only for partitions the group is not subscribed to.
pub async fn offset_delete(node: &Node, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let parts: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.to_string(), p.partition_index))
        })
        .collect();
    let group_id = req.group_id.to_string();
    let (error, partitions) = match node.cluster.groups.delete_offsets(&group_id, parts).await {
        Ok(o) => (o.error, o.partitions),
        Err(e) => (Some(e), Vec::new()),
    };
    let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
    for r in partitions {
        let entry = OffsetDeleteResponsePartition::default()
            .with_partition_index(r.partition)
            .with_error_code(code(&r.error));
        match topics.iter_mut().find(|t| *t.name == *r.topic.as_str()) {
            Some(t) => t.partitions.push(entry),
            None => topics.push(
                OffsetDeleteResponseTopic::default()
                    .with_name(TopicName(sb(r.topic)))
                    .with_partitions(vec![entry]),
            ),
        }
    }
    OffsetDeleteResponse::default()
        .with_error_code(code(&error))
        .with_topics(topics)
}

/// ListGroups, with the state filter of v4+.
pub async fn list_groups(node: &Node, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let states: Vec<String> = if version >= 4 {
        req.states_filter.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let types: Vec<String> = if version >= 5 {
        req.types_filter
            .iter()
            .map(|s| s.to_string().to_ascii_lowercase())
            .collect()
    } else {
        Vec::new()
    };
    let groups = node
        .cluster
        .groups
        .list_groups(states)
        .await
        .into_iter()
        // Each broker lists the groups it coordinates; admin clients ask every broker.
        .filter(|g| super::owns_group(node, &g.group_id))
        .filter(|g| types.is_empty() || types.iter().any(|t| t == g.group_type))
        .map(|g| {
            let mut l = ListedGroup::default()
                .with_group_id(GroupId(sb(g.group_id)))
                .with_protocol_type(sb(g.protocol_type));
            if version >= 4 {
                l = l.with_group_state(sb(g.state));
            }
            if version >= 5 {
                l = l.with_group_type(sb(g.group_type));
            }
            l
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

/// DescribeGroups: members with their assignments while Stable; unknown groups are "Dead"
/// (GROUP_ID_NOT_FOUND from v6, as Kafka 4).
pub async fn describe_groups(
    node: &Node,
    req: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut groups = Vec::with_capacity(req.groups.len());
    let group_ops = security::operations(
        req.include_authorized_operations,
        security::GROUP_OPERATIONS,
    );
    for id in req.groups {
        let d = if super::owns_group(node, &id) {
            node.cluster.groups.describe_group(&id).await
        } else {
            Err(group::GroupError::NotCoordinator)
        };
        let d = match d {
            Ok(d) => d,
            Err(e) => group::GroupDescription {
                group_id: id.to_string(),
                error: Some(e),
                state: "",
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            },
        };
        groups.push({
            let mut g = DescribedGroup::default()
                .with_group_id(id)
                .with_error_code(code(&d.error))
                .with_group_state(sb(d.state))
                .with_protocol_type(sb(d.protocol_type))
                .with_protocol_data(sb(d.protocol))
                .with_authorized_operations(group_ops)
                .with_members(
                    d.members
                        .into_iter()
                        .map(|m| {
                            let mut wm = DescribedGroupMember::default()
                                .with_member_id(sb(m.member_id))
                                .with_client_id(sb(m.client_id))
                                .with_client_host(sb(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment);
                            if version >= 4 {
                                wm = wm.with_group_instance_id(m.group_instance_id.map(sb));
                            }
                            wm
                        })
                        .collect(),
                );
            if version >= 6 && d.state == "Dead" && d.error.is_none() {
                let message = format!("Group {} not found.", g.group_id.0);
                g = g
                    .with_error_code(ResponseError::GroupIdNotFound.code())
                    .with_error_message(Some(sb(message)));
            }
            g
        });
    }
    DescribeGroupsResponse::default().with_groups(groups)
}

/// DeleteGroups: only empty groups, as Kafka.
pub async fn delete_groups(node: &Node, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let (names, elsewhere): (Vec<String>, Vec<String>) = req
        .groups_names
        .iter()
        .map(|g| g.to_string())
        .partition(|g| super::owns_group(node, g));
    let results = node
        .cluster
        .groups
        .delete_groups(&names)
        .await
        .into_iter()
        .chain(
            elsewhere
                .into_iter()
                .map(|g| (g, Some(group::GroupError::NotCoordinator))),
        )
        .map(|(g, e)| {
            DeletableGroupResult::default()
                .with_group_id(GroupId(sb(g)))
                .with_error_code(code(&e))
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}

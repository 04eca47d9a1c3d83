//! `/api/groups`: every group with its members and lag; one group's members, assignments
//! (for KIP-848 groups the target too) and per-partition committed offset, end offset, lag and
//! owner, which is what the page draws its assignment picture from; offset resets of an
//! Empty group; and `/api/transactions`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Answer, ApiError};
use crate::cluster::Cluster;
use crate::group::records::{assignment_partitions, subscription_topics};
use crate::group::{CommitPartition, GroupListing, OffsetCommitRequest};
use crate::txn::ListFilter;

/// One member as the API shows it.
struct Member {
    member_id: String,
    client_id: String,
    host: String,
    instance_id: Option<String>,
    member_epoch: Option<i32>,
    assignment: Vec<(String, i32)>,
    target: Option<Vec<(String, i32)>>,
}

/// What the coordinator says of one group, protocol by protocol.
struct Described {
    listing: GroupListing,
    assignor: String,
    epoch: Option<i32>,
    members: Vec<Member>,
    subscribed: BTreeSet<String>,
    committed: BTreeMap<(String, i32), i64>,
}

fn pairs(list: Vec<(String, Vec<i32>)>) -> Vec<(String, i32)> {
    list.into_iter()
        .flat_map(|(t, ps)| ps.into_iter().map(move |p| (t.clone(), p)))
        .collect()
}

async fn described(c: &Cluster, listing: GroupListing) -> Result<Described, ApiError> {
    let id = listing.group_id.clone();
    let gone = |e: crate::group::GroupError| ApiError::not_found(format!("group {id}: {e}"));
    let mut d = Described {
        listing,
        assignor: String::new(),
        epoch: None,
        members: Vec::new(),
        subscribed: BTreeSet::new(),
        committed: BTreeMap::new(),
    };
    if d.listing.group_type == "consumer" {
        let g = c.groups.describe_consumer_group(&id).await.map_err(gone)?;
        let name_of = |(tid, ps): (uuid::Uuid, Vec<i32>)| {
            let name = c
                .topics
                .get_by_id(tid)
                .map_or_else(|| tid.to_string(), |t| t.name.clone());
            (name, ps)
        };
        d.assignor = g.assignor;
        d.epoch = Some(g.group_epoch);
        for m in g.members {
            d.subscribed
                .extend(m.subscribed_topic_names.iter().cloned());
            d.members.push(Member {
                member_id: m.member_id,
                client_id: m.client_id,
                host: m.client_host,
                instance_id: m.instance_id,
                member_epoch: Some(m.member_epoch),
                assignment: pairs(m.assignment.into_iter().map(name_of).collect()),
                target: Some(pairs(
                    m.target_assignment.into_iter().map(name_of).collect(),
                )),
            });
        }
    } else {
        let g = c.groups.describe_group(&id).await.map_err(gone)?;
        d.assignor = g.protocol;
        let consumer = g.protocol_type == "consumer";
        for m in g.members {
            if consumer {
                d.subscribed
                    .extend(subscription_topics(&m.metadata).unwrap_or_default());
            }
            let assignment = if consumer {
                pairs(assignment_partitions(&m.assignment).unwrap_or_default())
            } else {
                Vec::new()
            };
            d.members.push(Member {
                member_id: m.member_id,
                client_id: m.client_id,
                host: m.client_host,
                instance_id: m.group_instance_id,
                member_epoch: None,
                assignment,
                target: None,
            });
        }
    }
    d.members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    for o in c
        .groups
        .fetch_offsets(&id, None, false)
        .await
        .map_err(gone)?
    {
        if o.offset >= 0 {
            d.committed.insert((o.topic, o.partition), o.offset);
        }
    }
    Ok(d)
}

/// One partition the group touches: owner, target owner, committed, end, lag.
struct PartitionRow {
    topic: String,
    partition: i32,
    owner: Option<String>,
    target_owner: Option<String>,
    committed: Option<i64>,
    end_offset: i64,
}

impl PartitionRow {
    /// As kafka-consumer-groups: end minus committed, not clamped; none without a commit.
    fn lag(&self) -> Option<i64> {
        self.committed.map(|o| self.end_offset - o)
    }

    fn to_json(&self) -> Value {
        json!({
            "topic": self.topic,
            "partition": self.partition,
            "owner": self.owner,
            "target_owner": self.target_owner,
            "committed": self.committed,
            "end_offset": self.end_offset,
            "lag": self.lag(),
        })
    }
}

/// One row per partition of every topic the group subscribes to, is assigned or committed.
fn partitions(c: &Cluster, d: &Described) -> Vec<PartitionRow> {
    let mut topics: BTreeSet<String> = d.subscribed.clone();
    topics.extend(d.committed.keys().map(|(t, _)| t.clone()));
    for m in &d.members {
        topics.extend(m.assignment.iter().map(|(t, _)| t.clone()));
    }
    let owner = |tp: &(String, i32), target: bool| {
        d.members
            .iter()
            .find(|m| {
                let list = if target {
                    m.target.as_ref()
                } else {
                    Some(&m.assignment)
                };
                list.is_some_and(|l| l.contains(tp))
            })
            .map(|m| m.member_id.clone())
    };
    let mut rows = Vec::new();
    for name in topics {
        let Some(t) = c.topics.get(&name) else {
            continue;
        };
        for p in t.partitions() {
            let tp = (name.clone(), p.index);
            rows.push(PartitionRow {
                owner: owner(&tp, false),
                target_owner: (d.listing.group_type == "consumer")
                    .then(|| owner(&tp, true))
                    .flatten(),
                committed: d.committed.get(&tp).copied(),
                end_offset: super::topics::offsets(&p).high_watermark,
                topic: name.clone(),
                partition: p.index,
            });
        }
    }
    rows
}

fn total_lag(rows: &[PartitionRow]) -> Option<i64> {
    let lags: Vec<i64> = rows.iter().filter_map(PartitionRow::lag).collect();
    (!lags.is_empty()).then(|| lags.iter().sum())
}

fn topic_partitions(list: &[(String, i32)]) -> Value {
    json!(list
        .iter()
        .map(|(t, p)| json!({"topic": t, "partition": p}))
        .collect::<Vec<_>>())
}

async fn listing(c: &Cluster, group: &str) -> Option<GroupListing> {
    c.groups
        .list_groups(Vec::new())
        .await
        .into_iter()
        .find(|g| g.group_id == group)
}

/// `GET /api/groups`.
pub(super) async fn list(State(c): State<Arc<Cluster>>) -> Answer {
    let mut groups = c.groups.list_groups(Vec::new()).await;
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        // A group that went away between the list and its description is left out.
        let Ok(d) = described(&c, g).await else {
            continue;
        };
        let rows = partitions(&c, &d);
        let topics: BTreeSet<&str> = rows.iter().map(|r| r.topic.as_str()).collect();
        out.push(json!({
            "group_id": d.listing.group_id,
            "protocol": d.listing.group_type,
            "protocol_type": d.listing.protocol_type,
            "state": d.listing.state,
            "members": d.members.len(),
            "lag": total_lag(&rows),
            "topics": topics.len(),
        }));
    }
    Ok(Json(json!({ "groups": out })))
}

/// `GET /api/groups/{g}`.
pub(super) async fn describe(State(c): State<Arc<Cluster>>, Path(group): Path<String>) -> Answer {
    let l = listing(&c, &group)
        .await
        .ok_or_else(|| ApiError::not_found(format!("no group {group}")))?;
    let d = described(&c, l).await?;
    let rows = partitions(&c, &d);
    let members: Vec<Value> = d
        .members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.host,
                "instance_id": m.instance_id,
                "member_epoch": m.member_epoch,
                "assignment": topic_partitions(&m.assignment),
                "target": m.target.as_deref().map(topic_partitions),
            })
        })
        .collect();
    Ok(Json(json!({
        "group_id": d.listing.group_id,
        "protocol": d.listing.group_type,
        "protocol_type": d.listing.protocol_type,
        "state": d.listing.state,
        "assignor": d.assignor,
        "epoch": d.epoch,
        "lag": total_lag(&rows),
        "members": members,
        "partitions": rows.iter().map(PartitionRow::to_json).collect::<Vec<_>>(),
    })))
}

/// `POST /api/groups/{g}/offsets` body.
#[derive(Debug, Deserialize)]
pub(super) struct Reset {
    topic: String,
    partitions: Option<Vec<i32>>,
    to: String,
    offset: Option<i64>,
    timestamp: Option<i64>,
}

/// `POST /api/groups/{g}/offsets`: commits new offsets for an Empty (or new) group, as
/// `kafka-consumer-groups --reset-offsets --execute` does; an offset outside the log is moved
/// to its nearest end, as that tool does.
pub(super) async fn reset_offsets(
    State(c): State<Arc<Cluster>>,
    Path(group): Path<String>,
    Json(req): Json<Reset>,
) -> Answer {
    if let Some(l) = listing(&c, &group).await {
        if l.state != "Empty" && l.state != "Dead" {
            return Err(ApiError::conflict(format!(
                "Assignments can only be reset if the group '{group}' is inactive, but the \
                 current state is {}.",
                l.state
            )));
        }
    }
    let t = c
        .topics
        .get(&req.topic)
        .ok_or_else(|| ApiError::not_found(format!("no topic {}", req.topic)))?;
    let indexes = req
        .partitions
        .clone()
        .unwrap_or_else(|| (0..t.partition_count()).collect());
    let mut commits = Vec::with_capacity(indexes.len());
    for i in indexes {
        let p = t
            .partition(i)
            .ok_or_else(|| ApiError::bad(format!("no partition {}-{i}", req.topic)))?;
        let o = super::topics::offsets(&p);
        let at = match req.to.as_str() {
            "earliest" => o.log_start,
            "latest" => o.high_watermark,
            "offset" => req
                .offset
                .ok_or_else(|| ApiError::bad("to=offset needs offset"))?,
            "timestamp" => {
                let ts = req
                    .timestamp
                    .ok_or_else(|| ApiError::bad("to=timestamp needs timestamp"))?;
                let p2 = p.clone();
                tokio::task::spawn_blocking(move || p2.log().offset_for_timestamp(ts))
                    .await
                    .ok()
                    .flatten()
                    .map_or(o.high_watermark, |(off, _)| off)
            }
            other => {
                return Err(ApiError::bad(format!(
                    "to must be earliest, latest, offset or timestamp, not {other:?}"
                )))
            }
        }
        .clamp(o.log_start, o.high_watermark);
        commits.push(CommitPartition {
            topic: req.topic.clone(),
            partition: i,
            offset: at,
            leader_epoch: -1,
            metadata: String::new(),
        });
    }
    let results = c
        .groups
        .commit(OffsetCommitRequest {
            group_id: group.clone(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            retention_ms: None,
            partitions: commits.clone(),
            api_version: 8,
        })
        .await;
    if let Some(e) = results.iter().find_map(|r| r.error.as_ref()) {
        return Err(ApiError::conflict(format!("the commit was refused: {e}")));
    }
    tracing::info!(group = %group, topic = %req.topic, to = %req.to, "offsets reset from the console");
    let offsets: Vec<Value> = commits
        .iter()
        .map(|p| json!({"topic": p.topic, "partition": p.partition, "offset": p.offset}))
        .collect();
    Ok(Json(json!({ "offsets": offsets })))
}

/// Every transactional id the coordinator knows, by id.
pub(super) async fn all_transactions(c: &Cluster) -> Vec<crate::txn::TxnMetadata> {
    let mut list = c
        .txns
        .list(ListFilter {
            states: Vec::new(),
            producer_ids: Vec::new(),
            min_duration_ms: -1,
        })
        .await;
    list.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
    list
}

/// `GET /api/transactions`.
pub(super) async fn transactions(State(c): State<Arc<Cluster>>) -> Answer {
    let list = all_transactions(&c).await;
    let out: Vec<Value> = list
        .into_iter()
        .map(|m| {
            let parts: Vec<(String, i32)> = m.partitions.into_iter().collect();
            json!({
                "transactional_id": m.transactional_id,
                "producer_id": m.producer_id,
                "producer_epoch": m.producer_epoch,
                "state": m.state.name(),
                "timeout_ms": m.timeout_ms,
                "start_ms": m.start_ms,
                "partitions": topic_partitions(&parts),
            })
        })
        .collect();
    Ok(Json(json!({ "transactions": out })))
}

/// One group's figures for `/metrics`.
pub(super) struct GroupLag {
    pub(super) group: String,
    pub(super) protocol: &'static str,
    pub(super) state: &'static str,
    pub(super) members: usize,
    /// `(topic, partition, committed, lag)` of each partition with a committed offset.
    pub(super) partitions: Vec<(String, i32, i64, i64)>,
}

/// Every group's members and lag.
pub(super) async fn lag_rows(c: &Cluster) -> Vec<GroupLag> {
    let mut groups = c.groups.list_groups(Vec::new()).await;
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let Ok(d) = described(c, g).await else {
            continue;
        };
        let partitions = partitions(c, &d)
            .into_iter()
            .filter_map(|r| Some((r.committed?, r.lag()?, r)))
            .map(|(committed, lag, r)| (r.topic, r.partition, committed, lag))
            .collect();
        out.push(GroupLag {
            group: d.listing.group_id,
            protocol: d.listing.group_type,
            state: d.listing.state,
            members: d.members.len(),
            partitions,
        });
    }
    out
}

//! What a group's coordinator says about it: its type (ListGroups v5), its members and their
//! partitions (DescribeGroups, decoding each classic consumer's `ConsumerProtocolAssignment`;
//! ConsumerGroupDescribe for a KIP-848 consumer group), its committed offsets (OffsetFetch).

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, DescribeGroupsRequest, GroupId, ListGroupsRequest,
    OffsetFetchRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::client::{retry, Client, Error, To};
use crate::group::records::assignment_partitions;

/// One member and what it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member id.
    pub member_id: String,
    /// `group.instance.id` (static membership).
    pub instance_id: Option<String>,
    /// The client's `client.id`.
    pub client_id: String,
    /// The client's address as the broker saw it.
    pub host: String,
    /// Owned partitions by topic; `None` if the assignment could not be read (another
    /// protocol type than `consumer`, or bytes that do not decode).
    pub assignment: Option<Vec<(String, Vec<i32>)>>,
}

/// A group as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group id.
    pub group: String,
    /// Its coordinator's node id.
    pub coordinator: i32,
    /// `classic` or `consumer` (KIP-848); `classic` when the broker predates ListGroups v5.
    pub kind: String,
    /// Kafka's state name (`Stable`, `Empty`, `Dead`, ...).
    pub state: String,
    /// The classic protocol type (`consumer`, `connect`, empty for offsets only).
    pub protocol_type: String,
    /// The chosen assignor (`range`, `uniform`, ...).
    pub protocol: String,
    /// The members, sorted by client id then member id.
    pub members: Vec<Member>,
    /// False if the coordinator knows no such group (Dead, or GROUP_ID_NOT_FOUND).
    pub exists: bool,
}

/// The group's type from its coordinator's ListGroups (v5+), if the broker tells.
fn group_kind(c: &mut Client, coordinator: i32, group: &str) -> Result<Option<String>, Error> {
    if c.version::<ListGroupsRequest>(To::Node(coordinator))? < Some(5) {
        return Ok(None);
    }
    let (_, resp) = c.call(To::Node(coordinator), |_| ListGroupsRequest::default())?;
    Error::check(resp.error_code, None, || {
        format!("list groups on broker {coordinator}")
    })?;
    Ok(resp
        .groups
        .into_iter()
        .find(|g| g.group_id.as_str() == group)
        .map(|g| g.group_type.to_string()))
}

/// Describes `group` at its coordinator, retried while the coordinator moves or loads.
pub fn describe_group(c: &mut Client, group: &str) -> Result<GroupInfo, Error> {
    retry(|| {
        let coordinator = c.coordinator(group)?;
        let kind = group_kind(c, coordinator, group)?;
        let to = To::Node(coordinator);
        if kind.as_deref() == Some("consumer")
            && c.version::<ConsumerGroupDescribeRequest>(to)?.is_some()
        {
            consumer_group(c, coordinator, group)
        } else {
            classic_group(c, coordinator, group, kind)
        }
    })
}

fn classic_group(
    c: &mut Client,
    coordinator: i32,
    group: &str,
    kind: Option<String>,
) -> Result<GroupInfo, Error> {
    let (_, resp) = c.call(To::Node(coordinator), |_| {
        DescribeGroupsRequest::default()
            .with_groups(vec![GroupId(StrBytes::from_string(group.to_string()))])
    })?;
    let g = resp
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| Error::Invalid("DescribeGroups answered no group".into()))?;
    let missing = g.error_code == ResponseError::GroupIdNotFound.code();
    if !missing {
        Error::check(g.error_code, g.error_message.as_ref(), || {
            format!("describe group '{group}'")
        })?;
    }
    let consumer = g.protocol_type.as_str() == "consumer";
    let mut members: Vec<Member> = g
        .members
        .into_iter()
        .map(|m| Member {
            member_id: m.member_id.to_string(),
            instance_id: m.group_instance_id.map(|i| i.to_string()),
            client_id: m.client_id.to_string(),
            host: m.client_host.to_string(),
            assignment: consumer
                .then(|| assignment_partitions(&m.member_assignment))
                .flatten(),
        })
        .collect();
    members.sort_by(|a, b| (&a.client_id, &a.member_id).cmp(&(&b.client_id, &b.member_id)));
    let state = if missing {
        "Dead".to_string()
    } else {
        g.group_state.to_string()
    };
    Ok(GroupInfo {
        group: group.to_string(),
        coordinator,
        kind: kind
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "classic".into()),
        exists: state != "Dead",
        state,
        protocol_type: g.protocol_type.to_string(),
        protocol: g.protocol_data.to_string(),
        members,
    })
}

fn consumer_group(c: &mut Client, coordinator: i32, group: &str) -> Result<GroupInfo, Error> {
    let (_, resp) = c.call(To::Node(coordinator), |_| {
        ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(StrBytes::from_string(group.to_string()))])
    })?;
    let g = resp
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| Error::Invalid("ConsumerGroupDescribe answered no group".into()))?;
    Error::check(g.error_code, g.error_message.as_ref(), || {
        format!("describe group '{group}'")
    })?;
    let mut members: Vec<Member> = g
        .members
        .into_iter()
        .map(|m| Member {
            member_id: m.member_id.to_string(),
            instance_id: m.instance_id.map(|i| i.to_string()),
            client_id: m.client_id.to_string(),
            host: m.client_host.to_string(),
            assignment: Some(
                m.assignment
                    .topic_partitions
                    .into_iter()
                    .map(|t| (t.topic_name.to_string(), t.partitions))
                    .collect(),
            ),
        })
        .collect();
    members.sort_by(|a, b| (&a.client_id, &a.member_id).cmp(&(&b.client_id, &b.member_id)));
    Ok(GroupInfo {
        group: group.to_string(),
        coordinator,
        kind: "consumer".into(),
        exists: g.group_state.as_str() != "Dead",
        state: g.group_state.to_string(),
        protocol_type: "consumer".into(),
        protocol: g.assignor_name.to_string(),
        members,
    })
}

/// The group's committed offsets (OffsetFetch for every topic), by topic and partition.
pub fn committed(c: &mut Client, group: &str) -> Result<BTreeMap<(String, i32), i64>, Error> {
    retry(|| {
        let coordinator = c.coordinator(group)?;
        let gid = || GroupId(StrBytes::from_string(group.to_string()));
        let (v, resp) = c.call(To::Node(coordinator), |v| {
            if v >= 8 {
                OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                    .with_group_id(gid())
                    .with_topics(None)])
            } else {
                OffsetFetchRequest::default()
                    .with_group_id(gid())
                    .with_topics(None)
            }
        })?;
        let what = || format!("committed offsets of group '{group}'");
        let mut out = BTreeMap::new();
        let mut add = |topic: String, partition: i32, offset: i64, code: i16| {
            Error::check(code, None, what)?;
            if offset >= 0 {
                out.insert((topic, partition), offset);
            }
            Ok::<(), Error>(())
        };
        if v >= 8 {
            for g in resp.groups {
                Error::check(g.error_code, None, what)?;
                for t in g.topics {
                    for p in t.partitions {
                        add(
                            t.name.to_string(),
                            p.partition_index,
                            p.committed_offset,
                            p.error_code,
                        )?;
                    }
                }
            }
        } else {
            Error::check(resp.error_code, None, what)?;
            for t in resp.topics {
                for p in t.partitions {
                    add(
                        t.name.to_string(),
                        p.partition_index,
                        p.committed_offset,
                        p.error_code,
                    )?;
                }
            }
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(topics: &[(&str, &[i32])], trailer: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 3];
        b.extend((topics.len() as i32).to_be_bytes());
        for (t, ps) in topics {
            b.extend((t.len() as i16).to_be_bytes());
            b.extend(t.as_bytes());
            b.extend((ps.len() as i32).to_be_bytes());
            for p in *ps {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend(trailer);
        b
    }

    #[test]
    fn assignments_decode_and_bad_counts_are_refused() {
        let b = assignment(&[("orders", &[0, 2]), ("x", &[])], &(-1i32).to_be_bytes());
        assert_eq!(
            assignment_partitions(&b).unwrap(),
            vec![
                ("orders".to_string(), vec![0, 2]),
                ("x".to_string(), vec![])
            ]
        );
        assert_eq!(assignment_partitions(&[]).unwrap(), vec![]);
        // A count far past the bytes left is refused before any allocation.
        let mut huge = vec![0, 0];
        huge.extend(i32::MAX.to_be_bytes());
        assert!(assignment_partitions(&huge).is_none());
        let mut parts = vec![0, 0, 0, 0, 0, 1, 0, 1, b't'];
        parts.extend(0x4000_0000i32.to_be_bytes());
        assert!(assignment_partitions(&parts).is_none());
        // Truncated anywhere: an error, never a panic.
        for cut in 0..b.len() - 4 {
            let _ = assignment_partitions(&b[..cut]);
        }
        assert!(assignment_partitions(&b[..b.len() - 6]).is_none());
        assert!(assignment_partitions(&[0xff, 0xff]).is_none());
    }
}

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

/// Reads a `ConsumerProtocolAssignment` (every version: `version` int16, then
/// `[topic string, [partition int32]]`, then user data, which is ignored). Each count is
/// checked against the bytes left before anything is allocated for it.
pub fn decode_assignment(b: &[u8]) -> Result<Vec<(String, Vec<i32>)>, String> {
    struct Cursor<'a>(&'a [u8]);
    impl Cursor<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            if self.0.len() < n {
                return Err(format!("needs {n} bytes, {} left", self.0.len()));
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }
        fn i16(&mut self) -> Result<i16, String> {
            let b = self.take(2)?;
            Ok(i16::from_be_bytes([b[0], b[1]]))
        }
        fn i32(&mut self) -> Result<i32, String> {
            let b = self.take(4)?;
            Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        }
        /// A count of items of at least `min` bytes each, checked against what is left.
        fn count(&mut self, min: usize, what: &str) -> Result<usize, String> {
            let n = self.i32()?;
            usize::try_from(n)
                .ok()
                .filter(|n| n.saturating_mul(min) <= self.0.len())
                .ok_or_else(|| format!("{what} count {n} with {} bytes left", self.0.len()))
        }
    }
    if b.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = Cursor(b);
    let version = c.i16()?;
    if version < 0 {
        return Err(format!("assignment version {version}"));
    }
    let topics = c.count(6, "topic")?;
    let mut out = Vec::with_capacity(topics);
    for _ in 0..topics {
        let len = c.i16()?;
        let len = usize::try_from(len).map_err(|_| format!("topic name length {len}"))?;
        let name = std::str::from_utf8(c.take(len)?)
            .map_err(|_| "topic name is not UTF-8".to_string())?
            .to_string();
        let n = c.count(4, "partition")?;
        let mut parts = Vec::with_capacity(n);
        for _ in 0..n {
            parts.push(c.i32()?);
        }
        out.push((name, parts));
    }
    Ok(out)
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
                .then(|| decode_assignment(&m.member_assignment).ok())
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
            decode_assignment(&b).unwrap(),
            vec![
                ("orders".to_string(), vec![0, 2]),
                ("x".to_string(), vec![])
            ]
        );
        assert_eq!(decode_assignment(&[]).unwrap(), vec![]);
        // A count far past the bytes left is refused before any allocation.
        let mut huge = vec![0, 0];
        huge.extend(i32::MAX.to_be_bytes());
        assert!(decode_assignment(&huge)
            .unwrap_err()
            .contains("topic count"));
        let mut parts = vec![0, 0, 0, 0, 0, 1, 0, 1, b't'];
        parts.extend(0x4000_0000i32.to_be_bytes());
        assert!(decode_assignment(&parts)
            .unwrap_err()
            .contains("partition count"));
        // Truncated anywhere: an error, never a panic.
        for cut in 0..b.len() - 4 {
            let _ = decode_assignment(&b[..cut]);
        }
        assert!(decode_assignment(&b[..b.len() - 6]).is_err());
        assert!(decode_assignment(&[0xff, 0xff]).is_err());
    }
}

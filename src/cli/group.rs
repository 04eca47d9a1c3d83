//! `gregor group list|describe|reset-offsets|delete`, with kafka-consumer-groups' rules: lag is
//! the log end offset minus the committed offset; offsets are reset only while the group is
//! Empty or Dead, committed as an admin does (generation -1, no member id), and only with
//! `--execute` (otherwise the plan is printed).

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    DeleteGroupsRequest, GroupId, ListGroupsRequest, OffsetCommitRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use serde_json::{json, Value};

use super::client::{retry, Client, Error, To};
use super::members::{committed, describe_group, GroupInfo, Member};
use super::{or_dash, table, Format, GroupArgs, GroupCommand, Out, ResetArgs};

/// Runs `gregor group ...`.
pub fn run(a: &GroupArgs) -> Result<(), Error> {
    let mut c = Client::connect(&a.conn.bootstrap)?;
    let mut out = Out::new();
    let f = a.conn.format;
    match &a.what {
        GroupCommand::List => list(&mut c, &mut out, f),
        GroupCommand::Describe { group } => describe(&mut c, &mut out, f, group),
        GroupCommand::ResetOffsets(r) => reset(&mut c, &mut out, f, r),
        GroupCommand::Delete { groups } => delete(&mut c, &mut out, f, groups),
    }
}

/// A listed group: id, state, type, protocol type.
type Listed = (String, String, String, String);

fn list(c: &mut Client, out: &mut Out, f: Format) -> Result<(), Error> {
    // Each broker lists the groups it coordinates.
    c.metadata(Some(&[]))?;
    let mut groups: BTreeMap<String, Listed> = BTreeMap::new();
    for id in c.known_brokers() {
        let (v, resp) = c.call(To::Node(id), |_| ListGroupsRequest::default())?;
        Error::check(resp.error_code, None, || {
            format!("list groups on broker {id}")
        })?;
        for g in resp.groups {
            let dash = |s: &StrBytes, since: i16| {
                if v >= since {
                    s.to_string()
                } else {
                    "-".to_string()
                }
            };
            let id = g.group_id.to_string();
            groups.insert(
                id.clone(),
                (
                    id,
                    dash(&g.group_state, 4),
                    dash(&g.group_type, 5),
                    g.protocol_type.to_string(),
                ),
            );
        }
    }
    match f {
        Format::Json => out.json(&Value::Array(
            groups
                .values()
                .map(|(g, s, t, p)| json!({"group": g, "state": s, "type": t, "protocol_type": p}))
                .collect(),
        )),
        Format::Table => {
            let rows: Vec<Vec<String>> = groups
                .into_values()
                .map(|(g, s, t, p)| vec![g, s, t, if p.is_empty() { "-".into() } else { p }])
                .collect();
            out.put(&table(&["GROUP", "STATE", "TYPE", "PROTOCOL-TYPE"], &rows))
        }
    }
}

/// `topic:0,1` for a table cell, `(idle)` for none.
fn assignment_text(m: &Member) -> String {
    match &m.assignment {
        None => "?".into(),
        Some(a) if a.iter().all(|(_, ps)| ps.is_empty()) => "(idle)".into(),
        Some(a) => a
            .iter()
            .filter(|(_, ps)| !ps.is_empty())
            .map(|(t, ps)| {
                let ps: Vec<String> = ps.iter().map(i32::to_string).collect();
                format!("{t}:{}", ps.join(","))
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Each partition's committed and end offset and its owner.
struct OffsetRow<'a> {
    topic: String,
    partition: i32,
    committed: Option<i64>,
    end: Option<i64>,
    owner: Option<&'a Member>,
}

fn offset_rows<'a>(
    c: &mut Client,
    info: &'a GroupInfo,
    committed: &BTreeMap<(String, i32), i64>,
) -> Result<Vec<OffsetRow<'a>>, Error> {
    let mut owners: BTreeMap<(String, i32), &Member> = BTreeMap::new();
    for m in &info.members {
        for (t, ps) in m.assignment.iter().flatten() {
            for p in ps {
                owners.insert((t.clone(), *p), m);
            }
        }
    }
    let keys: BTreeSet<(String, i32)> = committed.keys().chain(owners.keys()).cloned().collect();
    let topics: Vec<String> = keys
        .iter()
        .map(|(t, _)| t.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Offsets of a topic deleted since are shown without an end.
    let meta = c.metadata(Some(&topics))?;
    let live: Vec<(String, i32)> = keys
        .iter()
        .filter(|(t, p)| meta.require(t).is_ok_and(|i| i.partition(*p).is_some()))
        .cloned()
        .collect();
    let ends = if live.is_empty() {
        BTreeMap::new()
    } else {
        c.list_offsets(&live, -1, 0)?
    };
    Ok(keys
        .into_iter()
        .map(|k| OffsetRow {
            committed: committed.get(&k).copied(),
            end: ends.get(&k).copied(),
            owner: owners.get(&k).copied(),
            topic: k.0,
            partition: k.1,
        })
        .collect())
}

fn describe(c: &mut Client, out: &mut Out, f: Format, group: &str) -> Result<(), Error> {
    let info = describe_group(c, group)?;
    let committed = committed(c, group)?;
    if !info.exists && committed.is_empty() {
        return Err(Error::Kafka {
            error: ResponseError::GroupIdNotFound,
            message: Some(format!("Consumer group '{group}' does not exist.")),
            what: String::new(),
        });
    }
    let rows = offset_rows(c, &info, &committed)?;
    let lag = |r: &OffsetRow<'_>| match (r.committed, r.end) {
        // As kafka-consumer-groups: not clamped (a commit past the end shows negative lag).
        (Some(c), Some(e)) => Some(e - c),
        _ => None,
    };
    match f {
        Format::Json => out.json(&json!({
            "group": info.group,
            "state": info.state,
            "type": info.kind,
            "protocol_type": info.protocol_type,
            "protocol": info.protocol,
            "coordinator": info.coordinator,
            "members": info.members.iter().map(|m| json!({
                "member_id": m.member_id,
                "instance_id": m.instance_id,
                "client_id": m.client_id,
                "host": m.host,
                "assignment": m.assignment.as_ref().map(|a| a.iter()
                    .map(|(t, ps)| json!({"topic": t, "partitions": ps}))
                    .collect::<Vec<_>>()),
            })).collect::<Vec<_>>(),
            "offsets": rows.iter().map(|r| json!({
                "topic": r.topic,
                "partition": r.partition,
                "committed": r.committed,
                "end": r.end,
                "lag": lag(r),
                "member_id": r.owner.map(|m| &m.member_id),
                "client_id": r.owner.map(|m| &m.client_id),
                "host": r.owner.map(|m| &m.host),
            })).collect::<Vec<_>>(),
        })),
        Format::Table => {
            let mut text = String::new();
            let protocol = match (info.protocol_type.as_str(), info.protocol.as_str()) {
                ("", "") => "-".to_string(),
                (t, "") => t.to_string(),
                (t, p) => format!("{t}/{p}"),
            };
            for (k, v) in [
                ("GROUP", info.group.clone()),
                ("STATE", info.state.clone()),
                ("TYPE", info.kind.clone()),
                ("PROTOCOL", protocol),
                ("COORDINATOR", info.coordinator.to_string()),
                ("MEMBERS", info.members.len().to_string()),
            ] {
                text.push_str(&format!("{k:<13}{v}\n"));
            }
            let dash = |s: Option<&String>| s.map_or_else(|| "-".to_string(), String::clone);
            let offsets: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.topic.clone(),
                        r.partition.to_string(),
                        or_dash(r.committed),
                        or_dash(r.end),
                        or_dash(lag(r)),
                        dash(r.owner.map(|m| &m.member_id)),
                        dash(r.owner.map(|m| &m.host)),
                        dash(r.owner.map(|m| &m.client_id)),
                    ]
                })
                .collect();
            if !offsets.is_empty() {
                text.push('\n');
                text.push_str(&table(
                    &[
                        "TOPIC",
                        "PARTITION",
                        "CURRENT-OFFSET",
                        "LOG-END-OFFSET",
                        "LAG",
                        "CONSUMER-ID",
                        "HOST",
                        "CLIENT-ID",
                    ],
                    &offsets,
                ));
            }
            if !info.members.is_empty() {
                let members: Vec<Vec<String>> = info
                    .members
                    .iter()
                    .map(|m| {
                        vec![
                            m.member_id.clone(),
                            dash(m.instance_id.as_ref()),
                            m.client_id.clone(),
                            m.host.clone(),
                            assignment_text(m),
                        ]
                    })
                    .collect();
                text.push('\n');
                text.push_str(&table(
                    &[
                        "MEMBER-ID",
                        "INSTANCE-ID",
                        "CLIENT-ID",
                        "HOST",
                        "PARTITIONS",
                    ],
                    &members,
                ));
            }
            out.put(&text)
        }
    }
}

/// `--topic` values: `orders` (every partition) or `orders:0,2`.
fn parse_topics(c: &mut Client, specs: &[String]) -> Result<Vec<(String, i32)>, Error> {
    let mut named: Vec<(String, Option<Vec<i32>>)> = Vec::new();
    for s in specs {
        match s.split_once(':') {
            None => named.push((s.clone(), None)),
            Some((t, ps)) => {
                let ps = ps
                    .split(',')
                    .map(|p| p.trim().parse::<i32>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        Error::Usage(format!("bad --topic {s:?}: expected TOPIC or TOPIC:P,P"))
                    })?;
                named.push((t.to_string(), Some(ps)));
            }
        }
    }
    let topics: Vec<String> = named.iter().map(|(t, _)| t.clone()).collect();
    let meta = c.metadata_ready(&topics)?;
    let mut out = BTreeSet::new();
    for (t, ps) in named {
        let info = meta.require(&t)?;
        match ps {
            None => out.extend(info.partitions.iter().map(|p| (t.clone(), p.partition))),
            Some(ps) => {
                for p in ps {
                    if info.partition(p).is_none() {
                        return Err(Error::Usage(format!(
                            "topic '{t}' has no partition {p} (it has {})",
                            info.partitions.len()
                        )));
                    }
                    out.insert((t.clone(), p));
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// The new offset of each partition, kept between log start and end (Kafka's
/// `checkOffsetsRange`, whose warnings go to stderr).
fn plan(
    c: &mut Client,
    r: &ResetArgs,
    parts: &[(String, i32)],
    committed: &BTreeMap<(String, i32), i64>,
) -> Result<BTreeMap<(String, i32), i64>, Error> {
    let earliest = c.list_offsets(parts, -2, 0)?;
    let latest = c.list_offsets(parts, -1, 0)?;
    let at_time = match r.to.to_timestamp {
        Some(ts) => Some(c.list_offsets(parts, ts, 0)?),
        None => None,
    };
    let mut out = BTreeMap::new();
    let offset = |m: &BTreeMap<(String, i32), i64>, k: &(String, i32)| {
        m.get(k)
            .copied()
            .ok_or_else(|| Error::Invalid(format!("no offset for {}-{}", k.0, k.1)))
    };
    for k in parts {
        let (lo, hi) = (offset(&earliest, k)?, offset(&latest, k)?);
        let want = if r.to.to_earliest {
            lo
        } else if r.to.to_latest {
            hi
        } else if let Some(o) = r.to.to_offset {
            o
        } else if let Some(at) = &at_time {
            Some(offset(at, k)?).filter(|o| *o >= 0).unwrap_or(hi)
        } else if let Some(n) = r.to.shift_by {
            let cur = committed.get(k).ok_or_else(|| {
                Error::Usage(format!(
                    "Cannot shift offset for partition {}-{} since there is no current committed offset",
                    k.0, k.1
                ))
            })?;
            cur.saturating_add(n)
        } else {
            return Err(Error::Usage("no --to-* option given".into()));
        };
        let new = if want > hi {
            eprintln!(
                "New offset ({want}) is higher than latest offset for topic partition {}-{}. Value will be set to {hi}",
                k.0, k.1
            );
            hi
        } else if want < lo {
            eprintln!(
                "New offset ({want}) is lower than earliest offset for topic partition {}-{}. Value will be set to {lo}",
                k.0, k.1
            );
            lo
        } else {
            want
        };
        out.insert(k.clone(), new);
    }
    Ok(out)
}

/// Commits `offsets` for `group` as an admin (generation -1, no member).
fn commit(
    c: &mut Client,
    group: &str,
    offsets: &BTreeMap<(String, i32), i64>,
) -> Result<(), Error> {
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for ((t, p), o) in offsets {
        by_topic.entry(t).or_default().push((*p, *o));
    }
    retry(|| {
        let coordinator = c.coordinator(group)?;
        let (_, resp) = c.call(To::Node(coordinator), |_| {
            OffsetCommitRequest::default()
                .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
                .with_generation_id_or_member_epoch(-1)
                .with_member_id(StrBytes::new())
                .with_topics(
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            OffsetCommitRequestTopic::default()
                                .with_name(TopicName(StrBytes::from_string(t.to_string())))
                                .with_partitions(
                                    ps.iter()
                                        .map(|(p, o)| {
                                            OffsetCommitRequestPartition::default()
                                                .with_partition_index(*p)
                                                .with_committed_offset(*o)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
        })?;
        for t in resp.topics {
            for p in t.partitions {
                Error::check(p.error_code, None, || {
                    format!(
                        "commit offsets of {}-{} for group '{group}'",
                        t.name.as_str(),
                        p.partition_index
                    )
                })?;
            }
        }
        Ok(())
    })
}

fn reset(c: &mut Client, out: &mut Out, f: Format, r: &ResetArgs) -> Result<(), Error> {
    let group = r.group.as_str();
    let info = describe_group(c, group)?;
    if info.state != "Empty" && info.state != "Dead" {
        return Err(Error::Usage(format!(
            "Assignments can only be reset if the group '{group}' is inactive, but the current state is {}.",
            info.state
        )));
    }
    let committed = committed(c, group)?;
    let parts = if r.all_topics {
        committed.keys().cloned().collect()
    } else {
        parse_topics(c, &r.topics)?
    };
    let offsets = plan(c, r, &parts, &committed)?;
    if r.execute && !offsets.is_empty() {
        commit(c, group, &offsets)?;
    }
    match f {
        Format::Json => out.json(&json!({
            "group": group,
            "executed": r.execute,
            "offsets": offsets.iter().map(|((t, p), o)| json!({
                "topic": t, "partition": p, "new_offset": o,
            })).collect::<Vec<_>>(),
        }))?,
        Format::Table => {
            let rows: Vec<Vec<String>> = offsets
                .iter()
                .map(|((t, p), o)| vec![group.to_string(), t.clone(), p.to_string(), o.to_string()])
                .collect();
            out.put(&table(
                &["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
                &rows,
            ))?;
        }
    }
    if !r.execute {
        out.flush()?;
        eprintln!("Dry run: nothing was committed (add --execute to commit these offsets).");
    }
    Ok(())
}

fn delete(c: &mut Client, out: &mut Out, f: Format, groups: &[String]) -> Result<(), Error> {
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    for g in groups {
        let outcome = retry(|| {
            let coordinator = c.coordinator(g)?;
            let (_, resp) = c.call(To::Node(coordinator), |_| {
                DeleteGroupsRequest::default()
                    .with_groups_names(vec![GroupId(StrBytes::from_string(g.clone()))])
            })?;
            let r = resp
                .results
                .into_iter()
                .next()
                .ok_or_else(|| Error::Invalid("DeleteGroups answered no group".into()))?;
            Error::check(r.error_code, None, || format!("delete group '{g}'"))
        });
        match outcome {
            Ok(()) => deleted.push(g.clone()),
            Err(e) => failed.push(e),
        }
    }
    match f {
        Format::Json => out.json(&json!(deleted
            .iter()
            .map(|g| json!({ "group": g }))
            .collect::<Vec<_>>()))?,
        Format::Table => {
            for g in &deleted {
                out.put(&format!("Deleted group '{g}'.\n"))?;
            }
        }
    }
    Error::all(failed)
}

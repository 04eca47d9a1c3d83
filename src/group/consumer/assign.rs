//! The server-side assignors: `uniform` (Kafka's default: balanced, sticky) and `range`.
//!
//! Both see each member's resolved subscription (topic names) and the topics' metadata, and
//! return every member's target. Partitions of topics nobody subscribes to, or that do not
//! exist, are left out. Deterministic: members are taken in member-id order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use super::{Assignment, TopicImage};

/// One member as an assignor sees it.
pub(super) struct AssignMember<'a> {
    pub(super) member_id: &'a str,
    /// Resolved subscribed topic names.
    pub(super) topics: BTreeSet<String>,
    /// The member's previous target (for stickiness).
    pub(super) previous: Option<&'a Assignment>,
}

/// The assignors Gregor has.
pub(super) const ASSIGNORS: &[&str] = &["uniform", "range"];

/// Runs assignor `name` (`range`, else `uniform`).
pub(super) fn assign(
    name: &str,
    members: &[AssignMember<'_>],
    topics: &TopicImage,
) -> HashMap<String, Assignment> {
    if name == "range" {
        range(members, topics)
    } else {
        uniform(members, topics)
    }
}

/// Range: per topic, the members subscribed to it (by id) get consecutive ranges; the first
/// `partitions % members` get one more.
fn range(members: &[AssignMember<'_>], topics: &TopicImage) -> HashMap<String, Assignment> {
    let mut sorted: Vec<&AssignMember<'_>> = members.iter().collect();
    sorted.sort_by(|a, b| a.member_id.cmp(b.member_id));
    let mut out: HashMap<String, Assignment> = sorted
        .iter()
        .map(|m| (m.member_id.to_string(), Assignment::new()))
        .collect();
    let names: BTreeSet<&String> = sorted.iter().flat_map(|m| m.topics.iter()).collect();
    for name in names {
        let Some(meta) = topics.get(name) else {
            continue;
        };
        let subs: Vec<&&AssignMember<'_>> =
            sorted.iter().filter(|m| m.topics.contains(name)).collect();
        let n = subs.len() as i32;
        let (each, extra) = (meta.partitions / n, meta.partitions % n);
        let mut next = 0;
        for (i, m) in subs.iter().enumerate() {
            let count = each + i32::from((i as i32) < extra);
            if count > 0 {
                let a = out.entry(m.member_id.to_string()).or_default();
                a.entry(meta.id).or_default().extend(next..next + count);
            }
            next += count;
        }
    }
    out
}

/// Uniform: every partition to one subscribed member, counts as even as the subscriptions
/// allow. A partition stays with its previous owner while that keeps the balance; the rest go
/// to the least loaded member that may take them.
fn uniform(members: &[AssignMember<'_>], topics: &TopicImage) -> HashMap<String, Assignment> {
    let mut sorted: Vec<&AssignMember<'_>> = members.iter().collect();
    sorted.sort_by(|a, b| a.member_id.cmp(b.member_id));
    // Every partition to place, with the topic it belongs to; the members that may own a
    // partition are listed once per topic.
    let mut eligible: Vec<Vec<usize>> = Vec::new();
    let mut partitions: Vec<((Uuid, i32), usize)> = Vec::new();
    let names: BTreeSet<&String> = sorted.iter().flat_map(|m| m.topics.iter()).collect();
    for name in names {
        let Some(meta) = topics.get(name) else {
            continue;
        };
        let ti = eligible.len();
        eligible.push(
            sorted
                .iter()
                .enumerate()
                .filter(|(_, m)| m.topics.contains(name))
                .map(|(i, _)| i)
                .collect(),
        );
        partitions.extend((0..meta.partitions).map(|p| ((meta.id, p), ti)));
    }
    let previous: HashMap<(Uuid, i32), usize> = sorted
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            m.previous
                .into_iter()
                .flat_map(move |a| a.iter())
                .flat_map(move |(t, ps)| ps.iter().map(move |p| ((*t, *p), i)))
        })
        .collect();
    let mut owner: BTreeMap<(Uuid, i32), usize> = BTreeMap::new();
    let mut count = vec![0usize; sorted.len()];
    // Quota: with everyone eligible for everything, nobody keeps more than the ceiling.
    let ceiling = if sorted.is_empty() {
        0
    } else {
        partitions.len().div_ceil(sorted.len())
    };
    // 1. Sticky: keep previous owners that are still eligible, up to the ceiling.
    for (key, ti) in &partitions {
        if let Some(&i) = previous.get(key) {
            if eligible[*ti].contains(&i) && count[i] < ceiling {
                owner.insert(*key, i);
                count[i] += 1;
            }
        }
    }
    // 2. The rest to the least loaded eligible member.
    for (key, ti) in &partitions {
        if owner.contains_key(key) {
            continue;
        }
        if let Some(&i) = eligible[*ti].iter().min_by_key(|&&i| (count[i], i)) {
            owner.insert(*key, i);
            count[i] += 1;
        }
    }
    // 3. Balance: move partitions from a member to an eligible one with two fewer. Each move
    // lowers the sum of squared counts, so this ends.
    let topic_of: HashMap<(Uuid, i32), usize> = partitions.iter().copied().collect();
    loop {
        let mut moved = false;
        let keys: Vec<(Uuid, i32)> = owner.keys().rev().copied().collect();
        for key in keys {
            let from = owner[&key];
            let Some(ti) = topic_of.get(&key) else {
                continue;
            };
            if let Some(&to) = eligible[*ti].iter().min_by_key(|&&i| (count[i], i)) {
                if count[to] + 1 < count[from] {
                    owner.insert(key, to);
                    count[from] -= 1;
                    count[to] += 1;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let mut out: HashMap<String, Assignment> = sorted
        .iter()
        .map(|m| (m.member_id.to_string(), Assignment::new()))
        .collect();
    for ((topic, p), i) in owner {
        out.entry(sorted[i].member_id.to_string())
            .or_default()
            .entry(topic)
            .or_default()
            .insert(p);
    }
    out
}

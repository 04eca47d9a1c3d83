//! One member's move towards its target assignment (Kafka's `CurrentAssignmentBuilder`).
//!
//! - STABLE at an older epoch: compute the next step.
//! - UNREVOKED_PARTITIONS: wait until the member's reported partitions no longer include any
//!   it must revoke, then compute the next step at the next epoch.
//! - UNRELEASED_PARTITIONS: compute the next step, which hands over partitions other members
//!   have released meanwhile.
//!
//! The next step: keep `assigned ∩ target`; if the member still owns partitions outside the
//! target, it must revoke them first (staying at its epoch); otherwise it moves to the target
//! epoch and gets the target partitions nobody else holds.

use uuid::Uuid;

use super::{Assignment, ConsumerMember, MemberState};

/// What the reconciliation needs from the group.
pub(super) struct Target<'a> {
    /// The target assignment epoch.
    pub(super) epoch: i32,
    /// The member's target.
    pub(super) partitions: &'a Assignment,
    /// Whether another member than this one holds the partition.
    pub(super) held_by_other: &'a dyn Fn(Uuid, i32) -> bool,
}

/// Whether `owned` (as reported; `None` when not reported) still includes any of `revoking`.
fn owns_any(owned: Option<&Assignment>, revoking: &Assignment) -> bool {
    let Some(owned) = owned else { return true };
    owned.iter().any(|(topic, parts)| {
        revoking
            .get(topic)
            .is_some_and(|r| parts.iter().any(|p| r.contains(p)))
    })
}

/// The member after one reconciliation step; equal to `member` when nothing changes.
pub(super) fn reconcile(
    member: &ConsumerMember,
    target: &Target<'_>,
    owned: Option<&Assignment>,
) -> ConsumerMember {
    match member.state {
        MemberState::Stable if member.epoch == target.epoch => member.clone(),
        MemberState::Stable | MemberState::UnreleasedPartitions => {
            next_step(member, member.epoch, target, owned)
        }
        MemberState::UnrevokedPartitions => {
            if owns_any(owned, &member.revoking) {
                member.clone()
            } else {
                let mut revoked = member.clone();
                revoked.revoking.clear();
                next_step(&revoked, member.epoch, target, owned)
            }
        }
    }
}

fn with_epoch(member: &ConsumerMember, epoch: i32) -> ConsumerMember {
    let mut m = member.clone();
    if m.epoch != epoch {
        m.previous_epoch = m.epoch;
        m.epoch = epoch;
    }
    m
}

fn next_step(
    member: &ConsumerMember,
    epoch: i32,
    target: &Target<'_>,
    owned: Option<&Assignment>,
) -> ConsumerMember {
    let mut assigned = Assignment::new();
    let mut revoking = Assignment::new();
    let mut pending = Assignment::new();
    let mut unreleased = false;
    let topics: std::collections::BTreeSet<Uuid> = target
        .partitions
        .keys()
        .chain(member.assigned.keys())
        .copied()
        .collect();
    let empty = Default::default();
    for topic in topics {
        let want = target.partitions.get(&topic).unwrap_or(&empty);
        let have = member.assigned.get(&topic).unwrap_or(&empty);
        let keep: std::collections::BTreeSet<i32> = have.intersection(want).copied().collect();
        let give_up: std::collections::BTreeSet<i32> = have.difference(&keep).copied().collect();
        let mut get = std::collections::BTreeSet::new();
        for p in want.difference(&keep) {
            let revoking_here = member.revoking.get(&topic).is_some_and(|r| r.contains(p));
            if (target.held_by_other)(topic, *p) && !revoking_here {
                unreleased = true;
            } else {
                get.insert(*p);
            }
        }
        if !keep.is_empty() {
            assigned.insert(topic, keep);
        }
        if !give_up.is_empty() {
            revoking.insert(topic, give_up);
        }
        if !get.is_empty() {
            pending.insert(topic, get);
        }
    }
    if !revoking.is_empty() && owns_any(owned, &revoking) {
        let mut m = with_epoch(member, epoch);
        m.state = MemberState::UnrevokedPartitions;
        m.assigned = assigned;
        m.revoking = revoking;
        m.stamp_assignment_epochs(member, m.epoch);
        return m;
    }
    for (topic, parts) in pending {
        assigned.entry(topic).or_default().extend(parts);
    }
    let mut m = with_epoch(member, target.epoch);
    m.state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    m.assigned = assigned;
    m.revoking = Assignment::new();
    m.stamp_assignment_epochs(member, m.epoch);
    m
}

//! Fault injection: rules that make the broker fail, or lose the response of, chosen requests.
//! Tests use it today; it is shaped so users can later drive it from the CLI or an HTTP call
//! (a rule is plain data: which API, which topic/partition, what to do, how many times).
//!
//! Two hook points, both in [`crate::broker`]: [`Faults::partition_error`] is asked per
//! partition by handlers that answer per partition (Produce today), and
//! [`Faults::drop_response`] is asked by the dispatch point once a request was handled, to
//! drop the response and close the connection (a lost response: the work was done).

use std::sync::Mutex;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer the partition with this error without doing the work.
    PartitionError(ResponseError),
    /// Do the work, then close the connection instead of answering.
    DropResponse,
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// The API it applies to.
    pub api: ApiKey,
    /// Only this topic, if set.
    pub topic: Option<String>,
    /// Only this partition, if set.
    pub partition: Option<i32>,
    /// What to do.
    pub action: FaultAction,
    /// How many more times it fires; the rule is removed at 0.
    pub remaining: u32,
}

/// The active rules.
#[derive(Debug, Default)]
pub struct Faults {
    /// Rules in the order they were added; the first match fires.
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    /// Adds a rule.
    pub fn add(&self, rule: FaultRule) {
        self.lock().push(rule);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Rules still active.
    pub fn active(&self) -> Vec<FaultRule> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one firing of the first rule matching, if any.
    fn fire(&self, api: ApiKey, matches: impl Fn(&FaultRule) -> bool) -> Option<FaultAction> {
        let mut rules = self.lock();
        if rules.is_empty() {
            return None;
        }
        let i = rules.iter().position(|r| r.api == api && matches(r))?;
        let action = rules[i].action;
        rules[i].remaining = rules[i].remaining.saturating_sub(1);
        if rules[i].remaining == 0 {
            rules.remove(i);
        }
        Some(action)
    }

    /// An injected error for one partition of a request, if a rule says so.
    pub fn partition_error(
        &self,
        api: ApiKey,
        topic: &str,
        partition: i32,
    ) -> Option<ResponseError> {
        match self.fire(api, |r| {
            matches!(r.action, FaultAction::PartitionError(_))
                && r.topic.as_deref().is_none_or(|t| t == topic)
                && r.partition.is_none_or(|p| p == partition)
        })? {
            FaultAction::PartitionError(e) => Some(e),
            FaultAction::DropResponse => None,
        }
    }

    /// Whether to drop this request's response (after the work was done).
    pub fn drop_response(&self, api: ApiKey) -> bool {
        self.fire(api, |r| r.action == FaultAction::DropResponse)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_the_given_number_of_times_and_match_scope() {
        let f = Faults::default();
        f.add(FaultRule {
            api: ApiKey::Produce,
            topic: Some("t".into()),
            partition: Some(1),
            action: FaultAction::PartitionError(ResponseError::NotEnoughReplicas),
            remaining: 2,
        });
        f.add(FaultRule {
            api: ApiKey::Produce,
            topic: None,
            partition: None,
            action: FaultAction::DropResponse,
            remaining: 1,
        });
        assert_eq!(f.partition_error(ApiKey::Produce, "t", 0), None);
        assert_eq!(f.partition_error(ApiKey::Produce, "u", 1), None);
        assert_eq!(f.partition_error(ApiKey::Fetch, "t", 1), None);
        assert_eq!(
            f.partition_error(ApiKey::Produce, "t", 1),
            Some(ResponseError::NotEnoughReplicas)
        );
        assert_eq!(
            f.partition_error(ApiKey::Produce, "t", 1),
            Some(ResponseError::NotEnoughReplicas)
        );
        assert_eq!(f.partition_error(ApiKey::Produce, "t", 1), None);
        assert!(!f.drop_response(ApiKey::Fetch));
        assert!(f.drop_response(ApiKey::Produce));
        assert!(!f.drop_response(ApiKey::Produce));
        assert!(f.active().is_empty());
    }
}

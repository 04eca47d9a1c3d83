//! Dynamic broker configs: keys set at run time through AlterConfigs / IncrementalAlterConfigs
//! on a BROKER resource, either for one broker (`--entity-name 1`) or as the cluster-wide
//! default (`--entity-default`, the empty resource name). Kafka keeps them in its metadata log;
//! Gregor in `__gregor_metadata/broker-configs.properties` (written by the topic registry).
//!
//! Precedence, as Kafka resolves a broker key: the broker's own dynamic value, the cluster
//! default, the static setting, the built-in default. What may change at run time: the broker
//! synonyms of topic configs (`log.retention.ms`, `message.max.bytes`, ...), which apply at once
//! to every topic without its own override; keys Gregor does not know are stored and described
//! as Kafka does (it accepts any unknown name); Gregor's other broker keys are fixed at start.

use std::collections::BTreeMap;

use super::{broker_config_def, unit_synonym, ConfigSource, TopicConfigDef, TOPIC_CONFIGS};
use crate::properties::Properties;

/// The dynamic layer: the cluster default and each broker's own values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicBrokerConfigs {
    /// `--entity-default`: every broker's.
    pub cluster_default: BTreeMap<String, String>,
    /// Per broker id.
    pub per_broker: BTreeMap<i32, BTreeMap<String, String>>,
}

/// What a key is, for a dynamic update.
#[derive(Debug, Clone, Copy)]
pub enum DynamicKey {
    /// The broker synonym of a topic config: validated with its type, applied to topics.
    TopicDefault(&'static TopicConfigDef),
    /// A coarser-unit key a topic default falls back to (`log.retention.hours`): a number.
    UnitSynonym,
    /// A key Gregor does not know: stored, described as sensitive with a null value (Kafka).
    Unknown,
    /// A broker key Gregor reads once at start.
    Static,
}

/// Classifies `key` for a dynamic update.
pub fn classify(key: &str) -> DynamicKey {
    if let Some(d) = TOPIC_CONFIGS
        .iter()
        .find(|d| !d.broker_key.is_empty() && d.broker_key == key)
    {
        return DynamicKey::TopicDefault(d);
    }
    if unit_synonym(key).is_some() {
        return DynamicKey::UnitSynonym;
    }
    if broker_config_def(key).is_some() {
        return DynamicKey::Static;
    }
    DynamicKey::Unknown
}

impl DynamicBrokerConfigs {
    /// What a freshly formatted Kafka 4.4 cluster holds: `kafka-storage format` records
    /// `min.insync.replicas=1` as the cluster default (eligible leader replicas are on).
    pub fn formatted() -> Self {
        let mut c = DynamicBrokerConfigs::default();
        c.cluster_default
            .insert("min.insync.replicas".into(), "1".into());
        c
    }

    /// The entity's map: `None` is the cluster default.
    pub fn entity(&self, broker: Option<i32>) -> Option<&BTreeMap<String, String>> {
        match broker {
            None => Some(&self.cluster_default),
            Some(id) => self.per_broker.get(&id),
        }
    }

    /// The entity's map, created if missing.
    pub fn entity_mut(&mut self, broker: Option<i32>) -> &mut BTreeMap<String, String> {
        match broker {
            None => &mut self.cluster_default,
            Some(id) => self.per_broker.entry(id).or_default(),
        }
    }

    /// The dynamic values of `key` for broker `node`, most specific first.
    pub fn layers(&self, node: i32, key: &str) -> Vec<(String, ConfigSource)> {
        let mut out = Vec::new();
        if let Some(v) = self.per_broker.get(&node).and_then(|m| m.get(key)) {
            out.push((v.clone(), ConfigSource::DynamicBroker));
        }
        if let Some(v) = self.cluster_default.get(key) {
            out.push((v.clone(), ConfigSource::DynamicDefaultBroker));
        }
        out
    }

    /// As stored: `default.KEY=VALUE` and `broker.ID.KEY=VALUE`.
    pub fn to_properties(&self) -> Properties {
        let mut p = Properties::new();
        for (k, v) in &self.cluster_default {
            p.insert(format!("default.{k}"), v.clone());
        }
        for (id, m) in &self.per_broker {
            for (k, v) in m {
                p.insert(format!("broker.{id}.{k}"), v.clone());
            }
        }
        p
    }

    /// Reads [`Self::to_properties`]' form back; a line of another shape is an error.
    pub fn from_properties(p: &Properties) -> Result<Self, String> {
        let mut c = DynamicBrokerConfigs::default();
        for (k, v) in p {
            if let Some(key) = k.strip_prefix("default.") {
                c.cluster_default.insert(key.to_string(), v.clone());
            } else if let Some((id, key)) = k
                .strip_prefix("broker.")
                .and_then(|rest| rest.split_once('.'))
            {
                let id: i32 = id.parse().map_err(|_| format!("bad broker id in {k:?}"))?;
                c.per_broker
                    .entry(id)
                    .or_default()
                    .insert(key.to_string(), v.clone());
            } else {
                return Err(format!("unexpected key {k:?}"));
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_resolves_most_specific_first() {
        let mut c = DynamicBrokerConfigs::formatted();
        c.entity_mut(Some(1))
            .insert("log.retention.ms".into(), "1000".into());
        c.entity_mut(None)
            .insert("log.retention.ms".into(), "2000".into());
        let back = DynamicBrokerConfigs::from_properties(&c.to_properties()).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            c.layers(1, "log.retention.ms"),
            vec![
                ("1000".to_string(), ConfigSource::DynamicBroker),
                ("2000".to_string(), ConfigSource::DynamicDefaultBroker)
            ]
        );
        assert_eq!(c.layers(2, "log.retention.ms").len(), 1);
        assert!(DynamicBrokerConfigs::from_properties(
            &[("x".to_string(), "1".to_string())].into_iter().collect()
        )
        .is_err());
    }

    #[test]
    fn classifies_keys() {
        assert!(matches!(
            classify("log.retention.ms"),
            DynamicKey::TopicDefault(_)
        ));
        assert!(matches!(classify("node.id"), DynamicKey::Static));
        assert!(matches!(classify("no.such.key"), DynamicKey::Unknown));
    }
}

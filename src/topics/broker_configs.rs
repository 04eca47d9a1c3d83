//! Dynamic broker configs ([`crate::config::DynamicBrokerConfigs`]) on disk and applied: loaded
//! at start (a new data directory starts with what `kafka-storage format` records), changed by
//! AlterConfigs / IncrementalAlterConfigs on a BROKER resource, written atomically before they
//! take effect, and re-applied to every topic's produce rules and log config (a topic's own
//! overrides still win).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{TopicError, TopicRegistry};
use crate::config::{classify_dynamic, Config, DynamicBrokerConfigs, DynamicKey};
use crate::properties;

fn path(config: &Config) -> PathBuf {
    config
        .data_dir
        .join("__gregor_metadata")
        .join("broker-configs.properties")
}

/// Loads the dynamic layer into `config` (creating the file on a new data directory).
pub(super) fn load(config: &Config) -> Result<(), TopicError> {
    let file = path(config);
    let dynamic = if file.exists() {
        let props = properties::read(&file)
            .map_err(|e| TopicError::InvalidBrokerConfig(format!("{}: {e}", file.display())))?;
        DynamicBrokerConfigs::from_properties(&props)
            .map_err(|e| TopicError::InvalidBrokerConfig(format!("{}: {e}", file.display())))?
    } else {
        let fresh = DynamicBrokerConfigs::formatted();
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        properties::write_atomic(&file, &fresh.to_properties())?;
        fresh
    };
    config.set_dynamic_configs(dynamic);
    Ok(())
}

impl TopicRegistry {
    /// Changes the dynamic configs of `broker` (`None`: the cluster default) to `f(old)`:
    /// every key must be one Kafka lets change at run time and its value must parse; then the
    /// change is persisted and applied to every topic.
    pub fn alter_broker_configs(
        &self,
        broker: Option<i32>,
        validate_only: bool,
        f: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), TopicError> {
        let _admin = self.admin_lock();
        let mut next = self.config.dynamic_configs();
        let before = next.entity(broker).cloned().unwrap_or_default();
        let entity = next.entity_mut(broker);
        f(entity);
        let fixed: Vec<&str> = entity
            .keys()
            .chain(before.keys())
            .filter(|k| before.get(*k) != entity.get(*k))
            .filter(|k| matches!(classify_dynamic(k), DynamicKey::Static))
            .map(String::as_str)
            .collect();
        if !fixed.is_empty() {
            return Err(TopicError::InvalidBrokerConfig(format!(
                "Cannot update these configs dynamically: [{}]",
                fixed.join(", ")
            )));
        }
        for (k, v) in entity.iter() {
            let checked = match classify_dynamic(k) {
                DynamicKey::TopicDefault(d) => d.validate(v),
                DynamicKey::UnitSynonym => v
                    .trim()
                    .parse::<i64>()
                    .map(|_| ())
                    .map_err(|_| "Not a number".to_string()),
                DynamicKey::Unknown | DynamicKey::Static => Ok(()),
            };
            checked.map_err(|reason| {
                TopicError::InvalidBrokerConfig(format!(
                    "Invalid value {v} for configuration {k}: {reason}"
                ))
            })?;
        }
        if broker.is_some() && entity.is_empty() {
            next.per_broker.retain(|_, m| !m.is_empty());
        }
        if validate_only {
            return Ok(());
        }
        properties::write_atomic(&path(&self.config), &next.to_properties())?;
        self.config.set_dynamic_configs(next);
        // Topic defaults may have changed: every topic's rules and log config, again.
        for topic in self.all() {
            self.apply_configs(&topic);
        }
        Ok(())
    }
}

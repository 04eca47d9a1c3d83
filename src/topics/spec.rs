//! A topic's metadata file, `__gregor_metadata/topics/<topic>.properties`, as read at start
//! (the registry writes it; see the module documentation of [`super`]).

use std::collections::BTreeMap;
use std::path::Path;

use uuid::Uuid;

use super::TopicError;
use crate::properties;

/// A topic as its metadata file describes it.
pub(super) struct TopicSpec {
    pub(super) name: String,
    pub(super) id: Uuid,
    pub(super) internal: bool,
    pub(super) count: i32,
    pub(super) replication_factor: i32,
    /// `replicas.<index>` as stored.
    pub(super) replicas: BTreeMap<i32, Vec<i32>>,
    /// `leader.epoch.<index>` as stored: the epoch of the last leader move.
    pub(super) epochs: BTreeMap<i32, i32>,
    pub(super) overrides: BTreeMap<String, String>,
}

/// Reads a topic's metadata file.
pub(super) fn read_spec(path: &Path) -> Result<TopicSpec, TopicError> {
    {
        let props = properties::read(path).map_err(|e| TopicError::InvalidConfig(e.to_string()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| TopicError::InvalidConfig("bad file name".into()))?
            .to_string();
        let id = props
            .get("topic.id")
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| TopicError::InvalidConfig("missing topic.id".into()))?;
        let count: i32 = props
            .get("partitions")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| TopicError::InvalidConfig("missing partitions".into()))?;
        let internal = props.get("internal").is_some_and(|v| v == "true");
        let replication_factor: i32 = props
            .get("replication.factor")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let epochs: BTreeMap<i32, i32> = props
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.strip_prefix("leader.epoch.")?.parse().ok()?,
                    v.trim().parse().ok()?,
                ))
            })
            .collect();
        let replicas: BTreeMap<i32, Vec<i32>> = props
            .iter()
            .filter_map(|(k, v)| {
                let index = k.strip_prefix("replicas.")?.parse().ok()?;
                let ids: Option<Vec<i32>> = v.split(',').map(|b| b.trim().parse().ok()).collect();
                Some((index, ids?))
            })
            .collect();
        let overrides: BTreeMap<String, String> = props
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("config.")
                    .map(|k| (k.to_string(), v.clone()))
            })
            .collect();
        Ok(TopicSpec {
            name,
            id,
            internal,
            count,
            replication_factor,
            replicas,
            epochs,
            overrides,
        })
    }
}

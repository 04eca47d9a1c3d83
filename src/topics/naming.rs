//! Kafka's topic name rules (`org.apache.kafka.common.internals.Topic.validate`).

/// Longest legal topic name (Kafka: 249, so `<topic>-<partition>` fits a file name).
pub const MAX_NAME_LEN: usize = 249;

/// Why a topic name is illegal; answered with INVALID_TOPIC_EXCEPTION.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    /// Empty name.
    #[error("topic name is empty")]
    Empty,
    /// `.` or `..`.
    #[error("topic name cannot be \".\" or \"..\"")]
    Dots,
    /// Over 249 characters.
    #[error("topic name is {0} characters, longer than 249")]
    TooLong(usize),
    /// A character outside `[a-zA-Z0-9._-]`.
    #[error("topic name {0:?} has characters outside [a-zA-Z0-9._-]")]
    BadChars(String),
}

/// Checks a topic name against Kafka's rules.
pub fn validate_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::Dots);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(TopicNameError::TooLong(name.len()));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(TopicNameError::BadChars(name.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_rules() {
        assert!(validate_topic_name("orders.v1_x-2").is_ok());
        assert_eq!(validate_topic_name(""), Err(TopicNameError::Empty));
        assert_eq!(validate_topic_name(".."), Err(TopicNameError::Dots));
        assert!(validate_topic_name("a/b").is_err());
        assert!(validate_topic_name("ü").is_err());
        assert!(validate_topic_name(&"a".repeat(249)).is_ok());
        assert!(validate_topic_name(&"a".repeat(250)).is_err());
    }
}

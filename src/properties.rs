//! The `key=value` format of Kafka's `server.properties`, used both to read the optional broker
//! properties file and for the small metadata files Gregor writes itself (`meta.properties`,
//! one file per topic).
//!
//! Supported syntax: one `key=value` (or `key: value`) per line, `#` and `!` comment lines, blank
//! lines, surrounding whitespace trimmed. Line continuations and escapes are not supported: no
//! key or value Gregor reads or writes needs them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// An ordered map of properties, so files Gregor writes are stable and diffable.
pub type Properties = BTreeMap<String, String>;

/// Errors reading a properties file.
#[derive(Debug, thiserror::Error)]
pub enum PropertiesError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A non-comment line without `=` or `:`.
    #[error("{path}:{line}: expected key=value")]
    Syntax {
        /// The file with the bad line.
        path: String,
        /// 1-based line number.
        line: usize,
    },
}

/// Parses properties text; `origin` names the source in error messages.
pub fn parse(text: &str, origin: &str) -> Result<Properties, PropertiesError> {
    let mut props = Properties::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line
            .find(['=', ':'])
            .ok_or_else(|| PropertiesError::Syntax {
                path: origin.to_string(),
                line: i + 1,
            })?;
        let (key, value) = (line[..split].trim(), line[split + 1..].trim());
        props.insert(key.to_string(), value.to_string());
    }
    Ok(props)
}

/// Reads and parses a properties file.
pub fn read(path: &Path) -> Result<Properties, PropertiesError> {
    let text = std::fs::read_to_string(path).map_err(|source| PropertiesError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Renders properties as text, one `key=value` per line, keys sorted.
pub fn render(props: &Properties) -> String {
    let mut out = String::new();
    for (k, v) in props {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// Writes `props` to `path` atomically: a temp file in the same directory, fsync, rename, then
/// fsync of the directory, so a crash leaves either the old or the new file, never a torn one.
pub fn write_atomic(path: &Path, props: &Properties) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(render(props).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comments_separators_and_whitespace() {
        let p = parse(
            "# c\n! c\n\n a = 1 \nb:2\nlisteners=PLAINTEXT://h:9092\n",
            "t",
        )
        .unwrap();
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
        assert_eq!(p["listeners"], "PLAINTEXT://h:9092");
        assert!(matches!(
            parse("nokey\n", "t"),
            Err(PropertiesError::Syntax { line: 1, .. })
        ));
    }

    #[test]
    fn atomic_write_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.properties");
        let mut p = Properties::new();
        p.insert("topic.id".into(), "abc".into());
        write_atomic(&path, &p).unwrap();
        assert_eq!(read(&path).unwrap(), p);
        assert!(!path.with_extension("tmp").exists());
    }
}

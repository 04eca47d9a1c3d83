//! Comparing two decoded responses field by field: each is printed with `{:#?}`, parsed into a
//! tree, flattened into `path = value` pairs (list elements keyed by their identifying field
//! where they have one, so lists of different length still line up), normalised where the two
//! brokers must differ (addresses, ids, random member ids, throttle, message wording), and
//! compared.

use std::collections::BTreeMap;

/// A parsed `{:#?}` value.
#[derive(Debug)]
enum Tree {
    Leaf(String),
    /// A struct, map, tuple struct or `Some(..)`: `(field name or None for list items, child)`.
    Node {
        open: char,
        children: Vec<(Option<String>, Tree)>,
    },
}

fn parse(text: &str) -> Tree {
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let (_, tree) = parse_value(&lines, &mut i, lines.first().copied().unwrap_or(""));
    tree
}

/// `line` is the first line of the value (the part after `name: ` if any).
fn parse_value(lines: &[&str], i: &mut usize, first: &str) -> (Option<String>, Tree) {
    let v = first.trim().trim_end_matches(',');
    *i += 1;
    let open = v.chars().last().filter(|c| matches!(c, '{' | '[' | '('));
    let Some(open) = open else {
        return (None, Tree::Leaf(v.to_string()));
    };
    let close = match open {
        '{' => '}',
        '[' => ']',
        _ => ')',
    };
    let type_name = v[..v.len() - 1].trim().to_string();
    let mut children = Vec::new();
    while *i < lines.len() {
        let line = lines[*i].trim();
        if line.trim_end_matches(',') == close.to_string() {
            *i += 1;
            break;
        }
        // `name: value` for struct fields (field names are identifiers), a bare value for list,
        // tuple and Some items. Map entries (`"key": value`) keep the key as the name.
        let (name, rest) = match field_split(line) {
            Some((n, r)) if open == '{' => (Some(n.to_string()), r),
            _ => (None, line),
        };
        let (_, child) = parse_value(lines, i, rest);
        children.push((name, child));
    }
    let tree = Tree::Node { open, children };
    // `Some(x)`, `TopicName(x)`, `StrBytes(x)` with one leaf inside: the leaf, so values compare
    // as text.
    if let Tree::Node {
        open: '(',
        children,
    } = &tree
    {
        if let [(None, Tree::Leaf(leaf))] = children.as_slice() {
            return (None, Tree::Leaf(format!("{type_name}({leaf})")));
        }
    }
    (None, tree)
}

fn field_split(line: &str) -> Option<(&str, &str)> {
    let (name, rest) = line.split_once(": ")?;
    let ok = !name.is_empty()
        && (name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.starts_with('"'));
    ok.then_some((name, rest))
}

/// Fields that identify a list element, in the order they are tried.
const KEY_FIELDS: &[&str] = &[
    "api_key",
    "name",
    "topic",
    "partition_index",
    "partition",
    "index",
    "group_id",
    "resource_name",
    "key",
    "broker_id",
    "node_id",
];

fn flatten(tree: &Tree, path: &str, out: &mut BTreeMap<String, String>) {
    match tree {
        Tree::Leaf(v) => {
            out.insert(path.to_string(), v.clone());
        }
        Tree::Node { open, children } => {
            if children.is_empty() {
                out.insert(path.to_string(), format!("{open}empty"));
            }
            let keys: Vec<Option<String>> = children.iter().map(|(_, c)| element_key(c)).collect();
            for (i, (name, child)) in children.iter().enumerate() {
                // Siblings sharing a key (synonyms of one name) fall back to their position.
                let key = keys[i]
                    .clone()
                    .filter(|k| keys.iter().filter(|o| o.as_deref() == Some(k)).count() == 1);
                let p = match name {
                    Some(n) => {
                        if path.is_empty() {
                            n.clone()
                        } else {
                            format!("{path}.{n}")
                        }
                    }
                    None => format!("{path}[{}]", key.unwrap_or(i.to_string())),
                };
                flatten(child, &p, out);
            }
        }
    }
}

fn element_key(t: &Tree) -> Option<String> {
    let Tree::Node { children, .. } = t else {
        return None;
    };
    KEY_FIELDS.iter().find_map(|k| {
        children.iter().find_map(|(n, c)| match (n, c) {
            (Some(n), Tree::Leaf(v)) if n == k => Some(format!("{k}={v}")),
            _ => None,
        })
    })
}

/// Leaf names whose values must differ between two brokers, and what they become.
fn normalise(path: &str, value: &str) -> String {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    let leaf = leaf.split('[').next().unwrap_or(leaf);
    let is_null =
        value == "None" || value == "-1" || value.contains("00000000-0000-0000-0000-000000000000");
    match leaf {
        "throttle_time_ms" => "<throttle>".into(),
        "host" | "port" => "<address>".into(),
        "cluster_id" => "<cluster id>".into(),
        "log_dir" => "<log dir>".into(),
        "last_fetch_timestamp" | "last_caught_up_timestamp" | "transaction_start_time_ms"
            if !is_null =>
        {
            "<time>".into()
        }
        "topic_id" if !is_null => "<topic id>".into(),
        "error_message" | "batch_index_error_message" if value != "None" => {
            "Some(<message>)".into()
        }
        "member_id" | "leader" if value != "\"\"" && !value.is_empty() => "<member id>".into(),
        "producer_id" if !is_null && value != "ProducerId(-1)" => "<producer id>".into(),
        _ => value.to_string(),
    }
}

/// `path = value` pairs of a response's `{:#?}` text, normalised.
pub fn fields(debug: &str) -> BTreeMap<String, String> {
    let mut raw = BTreeMap::new();
    // `ResponseKind::X(XResponse { .. })`: start inside the variant.
    let tree = match parse(debug) {
        Tree::Node {
            open: '(',
            mut children,
        } if children.len() == 1 => children.remove(0).1,
        t => t,
    };
    flatten(&tree, "", &mut raw);
    raw.into_iter()
        .map(|(p, v)| {
            let n = normalise(&p, &v);
            (p, n)
        })
        .filter(|(p, _)| !p.ends_with("unknown_tagged_fields"))
        .collect()
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Where.
    pub path: String,
    /// Gregor's value (`<absent>` if Gregor has no such field).
    pub gregor: String,
    /// Kafka's value.
    pub kafka: String,
}

/// Every field that differs between the two.
pub fn compare(
    gregor: &BTreeMap<String, String>,
    kafka: &BTreeMap<String, String>,
) -> Vec<Difference> {
    let mut out = Vec::new();
    for (p, g) in gregor {
        match kafka.get(p) {
            Some(k) if k == g => {}
            Some(k) => out.push(Difference {
                path: p.clone(),
                gregor: g.clone(),
                kafka: k.clone(),
            }),
            None => out.push(Difference {
                path: p.clone(),
                gregor: g.clone(),
                kafka: "<absent>".into(),
            }),
        }
    }
    for (p, k) in kafka {
        if !gregor.contains_key(p) {
            out.push(Difference {
                path: p.clone(),
                gregor: "<absent>".into(),
                kafka: k.clone(),
            });
        }
    }
    out
}

/// `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    // `{a,b,c}`: any of the alternatives (one group at a time, recursively).
    if let (Some(open), Some(close)) = (pattern.find('{'), pattern.find('}')) {
        if open < close {
            let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
            return pattern[open + 1..close]
                .split(',')
                .any(|alt| glob(&format!("{head}{alt}{tail}"), text));
        }
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Checks of the machinery itself, run before the corpus.
pub fn self_check() {
    #[derive(Debug)]
    #[allow(dead_code)] // read through Debug
    struct P {
        partition_index: i32,
        error_code: i16,
        error_message: Option<String>,
    }
    #[derive(Debug)]
    #[allow(dead_code)] // read through Debug
    struct T {
        name: String,
        partitions: Vec<P>,
        throttle_time_ms: i32,
    }
    let a = T {
        name: "t".into(),
        partitions: vec![
            P {
                partition_index: 0,
                error_code: 0,
                error_message: None,
            },
            P {
                partition_index: 1,
                error_code: 3,
                error_message: Some("gone".into()),
            },
        ],
        throttle_time_ms: 5,
    };
    let b = T {
        name: "t".into(),
        partitions: vec![P {
            partition_index: 1,
            error_code: 3,
            error_message: Some("other words".into()),
        }],
        throttle_time_ms: 0,
    };
    let d = compare(&fields(&format!("{a:#?}")), &fields(&format!("{b:#?}")));
    let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "partitions[partition_index=0].error_code",
            "partitions[partition_index=0].error_message",
            "partitions[partition_index=0].partition_index",
        ],
        "{d:#?}"
    );
    assert!(glob(
        "api_keys[*].max_version",
        "api_keys[api_key=3].max_version"
    ));
    assert!(!glob(
        "api_keys[*].max_version",
        "api_keys[api_key=3].min_version"
    ));
    assert!(glob("*", "anything"));
    assert!(glob(
        "api_keys[api_key={17,36}].*",
        "api_keys[api_key=36].max_version"
    ));
    assert!(!glob(
        "api_keys[api_key={17,36}].*",
        "api_keys[api_key=3].max_version"
    ));
    assert!(glob("{a,b}/{x,y}", "b/x"));
}

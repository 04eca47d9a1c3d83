//! The shape of the source tree: the import arrows between top-level modules of `src/` form no
//! cycle, the leaves import no other module, and no source file outside tests is much over 800
//! lines. Read from the `crate::` paths in each file (`use crate::x`, `crate::x::...`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a file belongs to (`src/log/segment.rs` -> `log`), if any.
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// Test-only code (files of unit tests, `#[cfg(test)]` modules at the end of a file) may
/// reach anywhere; only the code the broker runs counts.
fn production_text(file: &Path, text: &str) -> Option<String> {
    let name = file.file_name()?.to_str()?;
    if name == "tests.rs" || name.ends_with("_tests.rs") || name == "test_util.rs" {
        return None;
    }
    let cut = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    Some(text[..cut].to_string())
}

/// The top-level modules named by `crate::` paths in `text`, comments included only if they
/// are code (doc links count: a doc that links a module means the code is about it, and
/// the test would rather be strict).
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&name) {
                out.insert(name.clone());
            }
            if name.is_empty() && rest.starts_with('{') {
                // `use crate::{a, b::c}`: every name at the start of an item.
                let group: String = rest.chars().take_while(|c| *c != '}').collect();
                for part in group.trim_start_matches('{').split(',') {
                    let head: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if modules.contains(&head) {
                        out.insert(head);
                    }
                }
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let all = files(&src());
    let modules: BTreeSet<String> = all.iter().filter_map(|f| module_of(f)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for f in &all {
        let Some(m) = module_of(f) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        let Some(code) = production_text(f, &text) else {
            continue;
        };
        for dep in imports(&code, &modules) {
            if dep != m {
                g.get_mut(&m).unwrap().insert(dep);
            }
        }
    }
    g
}

/// A cycle through `start`, if any, as the list of modules on it.
fn cycle_from(g: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        g: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in &g[at] {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(g, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(g, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let g = graph();
    for (m, deps) in &g {
        eprintln!(
            "{m} -> {}",
            deps.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    for m in g.keys() {
        if let Some(cycle) = cycle_from(&g, m) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
    // The leaves and the pure state machine.
    for leaf in ["record", "clock", "properties"] {
        assert!(g[leaf].is_empty(), "{leaf} imports {:?}", g[leaf]);
    }
    assert!(
        g["config"]
            .iter()
            .all(|d| d == "properties" || d == "record"),
        "config imports {:?}",
        g["config"]
    );
    assert!(
        g["group"].iter().all(|d| d == "config"),
        "group imports {:?}",
        g["group"]
    );
    assert!(!g["server"].contains("broker"), "server knows only frames");
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("a".into(), BTreeSet::from(["b".to_string()]));
    g.insert("b".into(), BTreeSet::from(["c".to_string()]));
    g.insert("c".into(), BTreeSet::from(["a".to_string()]));
    g.insert("d".into(), BTreeSet::new());
    assert_eq!(
        cycle_from(&g, "a"),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(cycle_from(&g, "d"), None);
    let mods: BTreeSet<String> = ["log", "record"].iter().map(|s| s.to_string()).collect();
    assert_eq!(imports("use crate::{log::X, record::batch};", &mods), mods);
}

#[test]
fn no_source_file_is_much_over_800_lines() {
    for f in files(&src()) {
        let text = std::fs::read_to_string(&f).unwrap();
        let Some(code) = production_text(&f, &text) else {
            continue;
        };
        let lines = code.lines().count();
        assert!(
            lines <= 850,
            "{} has {lines} lines outside its tests",
            f.display()
        );
    }
}

//! The shape of `src/`, read from its imports (`crate::` and `super::` paths, and a module's
//! own children named from its `mod.rs`), so that it stays as the README's "How the code is
//! laid out" says:
//!
//! - no import circle among the files of `src/` (test modules aside);
//! - each layer imports only the ones below it: `network/`, `image/`, `engine/` and the small
//!   helpers know nothing of containers, the runtime, the commands, the server or the ABI;
//!   `registry/` and `saveload/` work on the graph and the tag store, never the runtime;
//!   `container/` never reaches up into the runtime.
//!
//! Each rule is checked on the real tree and, so that the check itself can fail, on a small
//! tree with the fault it looks for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A file's module path: `src/container/start.rs` -> `["container", "start"]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The source of a file without its `#[cfg(test)]` modules (unit tests may reach anywhere).
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|l| l.trim_start().starts_with("mod ") || l.contains(" mod "))
        {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The paths a `use` tree or a path expression starting at `s` names, relative to where it
/// starts: `a::b::{c, d::e}` -> `a::b::c`, `a::b::d::e`.
fn paths_at(s: &str) -> Vec<Vec<String>> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut segs = Vec::new();
    let mut rest = s.trim_start();
    loop {
        let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        segs.push(name);
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => return vec![segs],
        }
    }
    let Some(group) = rest.strip_prefix('{') else {
        return vec![segs];
    };
    let (mut depth, mut items, mut start) = (0, Vec::new(), 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for item in items {
        for p in paths_at(item) {
            if p.first().is_some_and(|f| f == "self") || p.is_empty() {
                out.push(segs.clone());
            } else {
                out.push([segs.clone(), p].concat());
            }
        }
    }
    out
}

/// Every module path a file refers to, absolute (`crate::a::b` -> `["a", "b"]`).
fn references(module: &[String], text: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let starts = |pat: &str| -> Vec<usize> {
        code.match_indices(pat)
            .map(|(i, _)| i)
            .filter(|&i| {
                let before = code[..i].chars().next_back();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            })
            .collect()
    };
    for i in starts("crate::") {
        out.extend(paths_at(&code[i + "crate::".len()..]));
    }
    let parent = &module[..module.len().saturating_sub(1)];
    for i in starts("super::") {
        for p in paths_at(&code[i + "super::".len()..]) {
            out.push([parent.to_vec(), p].concat());
        }
    }
    // A folder's `mod.rs` names its children directly (`use start::start`, `start::run()`).
    for child in children {
        for i in starts(&format!("{child}::")) {
            for p in paths_at(&code[i..]) {
                out.push([module.to_vec(), p].concat());
            }
        }
    }
    out
}

/// The files of a tree (`root/src`), by module path.
fn files(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut todo = vec![src.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "bin") {
                    todo.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.insert(module_of(p.strip_prefix(src).unwrap()), p);
            }
        }
    }
    out
}

/// The file a module path lands in: the longest prefix that is a file; a name the crate root
/// re-exports (`crate::Runtime`) lands in the module it comes from.
fn resolve(
    path: &[String],
    files: &BTreeMap<Vec<String>, PathBuf>,
    reexports: &BTreeMap<String, String>,
) -> Option<Vec<String>> {
    for n in (1..=path.len()).rev() {
        if files.contains_key(&path[..n]) {
            return Some(path[..n].to_vec());
        }
    }
    let module = reexports.get(path.first()?)?;
    Some(vec![module.clone()])
}

/// The import graph of the tree under `src`: file -> the files it refers to.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = files(src);
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let mut reexports = BTreeMap::new();
    for line in lib.lines() {
        if let Some(rest) = line.strip_prefix("pub use ") {
            if let Some((module, names)) = rest.split_once("::") {
                for name in names
                    .split([',', '{', '}', ';', ' '])
                    .filter(|n| !n.is_empty())
                {
                    reexports.insert(name.to_string(), module.to_string());
                }
            }
        }
    }
    let name = |m: &[String]| {
        let p = &files[m];
        p.strip_prefix(src).unwrap().display().to_string()
    };
    let mut out = BTreeMap::new();
    for (module, path) in &files {
        let text = without_tests(&std::fs::read_to_string(path).unwrap());
        let children: BTreeSet<String> = files
            .keys()
            .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
            .map(|k| k.last().unwrap().clone())
            .collect();
        let is_folder = path.ends_with("mod.rs");
        let children = if is_folder { children } else { BTreeSet::new() };
        let deps: BTreeSet<String> = references(module, &text, &children)
            .iter()
            .filter_map(|r| resolve(r, &files, &reexports))
            .filter(|m| m != module && !m.is_empty())
            .map(|m| name(&m))
            .collect();
        out.insert(name(module), deps);
    }
    out
}

/// One import circle, if there is any.
fn circle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            match state.get(d.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == d).unwrap();
                    let mut c = stack[from..].to_vec();
                    c.push(d.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(d, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Which files a layer (a file or folder of `src/`) may not import.
const RULES: &[(&str, &[&str])] = &[
    (
        "network/",
        &[
            "container/",
            "runtime.rs",
            "commands/",
            "server/",
            "ffi/",
            "engine/",
            "image/",
            "registry/",
        ],
    ),
    (
        "image/",
        &[
            "container/",
            "runtime.rs",
            "commands/",
            "server/",
            "ffi/",
            "engine/",
            "network/",
            "registry/",
        ],
    ),
    (
        "engine/",
        &[
            "container/",
            "runtime.rs",
            "commands/",
            "server/",
            "ffi/",
            "network/",
            "image/",
            "registry/",
        ],
    ),
    (
        "registry/",
        &["runtime.rs", "container/", "commands/", "server/", "ffi/"],
    ),
    (
        "saveload/",
        &["runtime.rs", "container/", "commands/", "server/", "ffi/"],
    ),
    (
        "container/",
        &["runtime.rs", "commands/", "server/", "ffi/"],
    ),
    ("runtime.rs", &["commands/", "server/", "ffi/", "oci/"]),
    (
        "volume/",
        &[
            "container/",
            "runtime.rs",
            "commands/",
            "server/",
            "ffi/",
            "engine/",
            "network/",
            "registry/",
        ],
    ),
    (
        "oci/",
        &[
            "container/",
            "runtime.rs",
            "commands/",
            "server/",
            "ffi/",
            "network/",
            "image/",
            "registry/",
        ],
    ),
    ("config.rs", &["container/", "runtime.rs", "image/"]),
    ("tags.rs", &["container/", "runtime.rs", "image/"]),
    ("spawn/", &["container/", "runtime.rs", "engine/", "init/"]),
    (
        "init/",
        &["container/", "runtime.rs", "engine/", "network/", "image/"],
    ),
];

/// Every import that breaks a rule: (file, imported file).
fn upward(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (file, deps) in g {
        for (layer, banned) in RULES {
            if !file.starts_with(layer) {
                continue;
            }
            for d in deps {
                if banned.iter().any(|b| d.starts_with(b)) {
                    out.push((file.clone(), d.clone()));
                }
            }
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn src_has_no_import_circle() {
    let g = graph(&src());
    assert!(g.len() > 50, "the tree was read: {} files", g.len());
    assert!(
        g["container/start.rs"].contains("engine/mod.rs"),
        "imports are seen: {:?}",
        g["container/start.rs"]
    );
    assert_eq!(circle(&g), None);
}

#[test]
fn layers_only_look_down() {
    let g = graph(&src());
    assert_eq!(upward(&g), Vec::<(String, String)>::new());
}

/// A scratch tree holding `files` (path, text).
fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("dr-layering-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (p, text) in files {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    root
}

#[test]
fn the_checks_find_a_circle_and_an_upward_import() {
    // The circle main 21c1053 had: runtime -> container -> container/start -> runtime, and a
    // network file reaching up into the runtime.
    let root = scratch(
        "bad",
        &[
            ("lib.rs", "pub mod runtime;\npub mod container;\npub mod network;\npub use runtime::Runtime;\n"),
            ("runtime.rs", "use crate::container::Container;\n"),
            ("container/mod.rs", "mod start;\npub use start::start;\npub struct Container;\n"),
            ("container/start.rs", "use crate::Runtime;\n#[cfg(test)]\nmod tests {\n use crate::network::x;\n}\n"),
            ("network/bridge.rs", "const S: &str = crate::runtime::DEFAULT_SUBNET;\n"),
        ],
    );
    let g = graph(&root);
    let c = circle(&g).expect("the circle is found");
    assert!(c.contains(&"container/start.rs".to_string()), "{c:?}");
    assert!(c.contains(&"runtime.rs".to_string()), "{c:?}");
    assert_eq!(
        upward(&g),
        [
            ("container/start.rs".to_string(), "runtime.rs".to_string()),
            ("network/bridge.rs".to_string(), "runtime.rs".to_string())
        ]
    );
    std::fs::remove_dir_all(&root).unwrap();
}

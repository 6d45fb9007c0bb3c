//! The crates point one way, `server → programme → {tiles, geodata} → domain`, and only `server`
//! knows HTTP: no other crate of the workspace may depend, directly or through anything it
//! depends on, on the HTTP server stack (axum, tower, tower-http, hyper). A client library that
//! brings the `http` types along would be fine; a server framework is not.
//!
//! Read from `Cargo.lock` (the resolved graph, every dependency kind of a package), so it costs
//! nothing to build and sees what a manifest change really pulls in.

use std::collections::{BTreeMap, BTreeSet};

const SERVER_STACK: &[&str] = &[
    "axum",
    "axum-core",
    "axum-extra",
    "tower",
    "tower-http",
    "hyper",
];

/// Packages of the lock file and the names of their dependencies.
fn lock_graph(lock: &str) -> BTreeMap<String, Vec<String>> {
    let mut graph = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in block.lines() {
            let line = line.trim();
            if let Some(v) = line.strip_prefix("name = ") {
                name = Some(v.trim_matches('"').to_owned());
            } else if let Some(rest) = line.strip_prefix("dependencies = [") {
                in_deps = !rest.ends_with(']');
                deps.extend(dep_names(rest.trim_end_matches(']')));
            } else if in_deps {
                if line == "]" {
                    in_deps = false;
                } else {
                    deps.extend(dep_names(line));
                }
            }
        }
        if let Some(n) = name {
            graph.entry(n).or_insert_with(Vec::new).extend(deps);
        }
    }
    graph
}

/// The names in a piece of a lock file's `dependencies` array: `"name"`, `"name version"` or
/// `"name version (source)"`, separated by commas.
fn dep_names(items: &str) -> Vec<String> {
    items
        .split(',')
        .map(|d| d.trim().trim_matches('"'))
        .filter(|d| !d.is_empty())
        .filter_map(|d| d.split(' ').next().map(str::to_owned))
        .collect()
}

/// Every package `root` depends on, with the path that reaches each one first.
fn closure(graph: &BTreeMap<String, Vec<String>>, root: &str) -> BTreeMap<String, Vec<String>> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut queue = vec![(root.to_owned(), vec![root.to_owned()])];
    while let Some((pkg, path)) = queue.pop() {
        for dep in graph.get(&pkg).into_iter().flatten() {
            if !seen.contains_key(dep) {
                let mut p = path.clone();
                p.push(dep.clone());
                seen.insert(dep.clone(), p.clone());
                queue.push((dep.clone(), p));
            }
        }
    }
    seen
}

fn offences(graph: &BTreeMap<String, Vec<String>>, crates: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for krate in crates {
        let reach = closure(graph, krate);
        for bad in SERVER_STACK {
            if let Some(path) = reach.get(*bad) {
                out.push(format!("{krate} depends on {bad}: {}", path.join(" -> ")));
            }
        }
    }
    out
}

#[test]
fn only_the_server_crate_depends_on_the_http_server_stack() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let lock = std::fs::read_to_string(format!("{root}/Cargo.lock")).expect("Cargo.lock");
    let graph = lock_graph(&lock);
    let crates = [
        "echinomap-domain",
        "echinomap-geodata",
        "echinomap-tiles",
        "echinomap-programme",
    ];
    for c in crates {
        assert!(graph.contains_key(c), "{c} is not in Cargo.lock");
    }
    // The check can see the stack: the server does depend on it.
    assert!(
        closure(&graph, "echinomap-server").contains_key("axum"),
        "the lock file parser found no axum under the server"
    );
    let found = offences(&graph, &crates);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn a_dependency_reached_through_another_crate_is_found_with_its_path() {
    let lock = r#"
[[package]]
name = "echinomap-programme"
version = "0.1.0"
dependencies = [
 "serde",
 "wechat-client 1.0.0",
]

[[package]]
name = "wechat-client"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = ["tower-http"]

[[package]]
name = "tower-http"
version = "0.7.0"

[[package]]
name = "serde"
version = "1.0.0"
"#;
    let graph = lock_graph(lock);
    let found = offences(&graph, &["echinomap-programme"]);
    assert_eq!(
        found,
        vec![
            "echinomap-programme depends on tower-http: echinomap-programme -> wechat-client -> tower-http"
                .to_owned()
        ]
    );
    let clean: BTreeSet<String> = closure(&graph, "serde").into_keys().collect();
    assert!(clean.is_empty());
}

/// The statements of the server's sources: a call of sqlx's query functions or an embedded
/// `.sql` file, with where it is.
fn statements_in(dir: &std::path::Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            statements_in(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if ["sqlx::query", "query_as(", "query_scalar(", ".sql\")"]
                    .iter()
                    .any(|s| code.contains(s))
                {
                    out.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                }
            }
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(format!("{}: an SQL file", path.display()));
        }
    }
}

#[test]
fn sql_lives_in_the_programme_not_in_the_server() {
    let server = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../server/src"));
    assert!(server.join("lib.rs").is_file(), "{}", server.display());
    let mut found = Vec::new();
    statements_in(server, &mut found);
    assert!(
        found.is_empty(),
        "handlers call the programme; these run SQL in the server:\n{}",
        found.join("\n")
    );
    // The scan does see statements: the programme has them.
    let mut programme = Vec::new();
    statements_in(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../programme/src"),
        &mut programme,
    );
    assert!(programme.len() > 50, "{}", programme.len());
}

//! The module graph: no cycles, and the layers point one way.
//!
//! Reads `src/**/*.rs`, drops comments (doc comments too) and string contents, and
//! collects every `crate::…` and `super::…` path, `use crate::{a::X, b::{Y, Z}}`
//! groups included. From them it builds two graphs and asserts both are acyclic:
//!
//! 1. the top-level modules (`src/x.rs` or `src/x/`), `main.rs` and `lib.rs` aside;
//! 2. within each top-level folder, its files (`report/csv` → `report/labels`).
//!
//! It also checks [`LAYERS`], the imports each layer must not make. A failure names one
//! cycle (or forbidden import) with the file and line of every edge, so the fix can
//! start from the message. Run it alone with `cargo test --test it architecture`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What a top-level module must not import.
enum Forbidden {
    /// These modules.
    These(&'static [&'static str]),
    /// Every module but these.
    AllBut(&'static [&'static str]),
}

/// The layering table: `(module, what it must not import)`. The pure core (`domain`,
/// `policy`, `engine`, `strategy`, `planner`) sits at the bottom; the shells (`http`,
/// `cli`, `scheduler`, the outbox worker) on top; nothing imports a layer above it. The
/// outbox drives `dispatch` (its couriers), never the other way round.
#[rustfmt::skip]
const LAYERS: &[(&str, Forbidden)] = &[
    ("domain",    Forbidden::AllBut(&["suggest"])),
    ("suggest",   Forbidden::AllBut(&[])),
    ("clock",     Forbidden::AllBut(&[])),
    ("secret",    Forbidden::AllBut(&[])),
    ("redact",    Forbidden::AllBut(&[])),
    ("policy",    Forbidden::These(&["engine", "planner", "strategy", "store", "http", "cli", "config", "report", "scheduler", "dispatch", "reload"])),
    ("engine",    Forbidden::These(&["store", "http", "cli", "config", "planner", "strategy", "report", "scheduler", "dispatch"])),
    ("strategy",  Forbidden::These(&["store", "http", "cli", "config", "engine", "planner", "scheduler", "dispatch"])),
    ("planner",   Forbidden::These(&["store", "http", "cli", "config", "report", "scheduler", "dispatch"])),
    ("rule_tests", Forbidden::These(&["store", "http", "cli", "config"])),
    ("dispatch",  Forbidden::These(&["config", "http", "cli", "scheduler", "outbox", "app"])),
    ("outbox",    Forbidden::These(&["http", "cli", "app", "scheduler", "config"])),
    ("scheduler", Forbidden::These(&["http", "cli"])),
    ("report",    Forbidden::These(&["http", "cli"])),
    ("metrics",   Forbidden::These(&["http", "cli", "scheduler"])),
    ("config",    Forbidden::These(&["logging", "http", "cli", "scheduler"])),
    // Records management's pure core: retention, the purge's choice and its scrubbing.
    ("records",   Forbidden::AllBut(&["domain", "suggest"])),
    // The store knows rows, transactions and the domain, not the law: the service layer
    // hands it the engine's step as a `Judge` (and a purge's scrubbing is `records`').
    ("store",     Forbidden::AllBut(&["domain", "records", "tasks", "redact", "suggest"])),
    ("service",   Forbidden::These(&["http", "cli", "app", "scheduler", "config", "outbox"])),
    ("audit",     Forbidden::These(&["http", "cli", "app", "scheduler", "config", "outbox"])),
    ("app",       Forbidden::These(&["cli"])),
    // The web console is a shell like `http` (whose state it shares): it reads through
    // `service` and the store, never around the policy, and nothing imports it but `app`.
    ("console",   Forbidden::These(&["cli", "app", "scheduler", "outbox", "config", "dispatch"])),
];

/// One `crate::`/`super::` path found in a file.
#[derive(Debug, Clone)]
struct Use {
    /// The absolute path, without `crate`: `["report", "labels", "channel_label"]`.
    path: Vec<String>,
    line: usize,
}

/// A source file and the module path it defines (`src/report/csv.rs` → `["report", "csv"]`).
struct SourceFile {
    relative: String,
    module: Vec<String>,
    uses: Vec<Use>,
}

/// An edge's evidence: where the first use was seen.
#[derive(Debug, Clone)]
struct Site {
    file: String,
    line: usize,
    path: String,
}

type Graph = BTreeMap<String, BTreeMap<String, Site>>;

#[test]
fn top_level_modules_have_no_cycles() {
    let files = read_sources();
    let graph = top_level_graph(&files);
    if let Some(report) = cycles_report(&graph) {
        panic!("the top-level modules have a cycle; break it by moving code:\n{report}");
    }
}

#[test]
fn files_within_each_module_have_no_cycles() {
    let files = read_sources();
    let mut failures = String::new();
    for (top, graph) in file_graphs(&files) {
        if let Some(report) = cycles_report(&graph) {
            let _ = writeln!(failures, "within `{top}`:\n{report}");
        }
    }
    assert!(
        failures.is_empty(),
        "files within a module have a cycle; break it by moving code:\n{failures}"
    );
}

#[test]
fn layers_import_only_downward() {
    let files = read_sources();
    let graph = top_level_graph(&files);
    let modules = top_level_modules();
    let mut failures = String::new();
    for (module, forbidden) in LAYERS {
        assert!(
            modules.contains(*module),
            "LAYERS names `{module}`, which is not a top-level module"
        );
        let is_forbidden = |target: &str| match forbidden {
            Forbidden::These(names) => names.contains(&target),
            Forbidden::AllBut(names) => !names.contains(&target),
        };
        for (target, site) in graph.get(*module).into_iter().flatten() {
            if is_forbidden(target) {
                let _ = writeln!(
                    failures,
                    "  {module} -> {target}   ({}:{}: `crate::{}`)",
                    site.file, site.line, site.path
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "forbidden imports (see LAYERS in tests/it/architecture.rs):\n{failures}"
    );
}

/// `cargo test --test it architecture -- --ignored --nocapture` prints the graph.
#[test]
#[ignore = "prints the module graph; run it by hand"]
fn print_the_module_graph() {
    let graph = top_level_graph(&read_sources());
    for (module, edges) in &graph {
        let targets: Vec<&str> = edges.keys().map(String::as_str).collect();
        println!("{module} -> {}", targets.join(" "));
    }
}

#[test]
fn the_parser_expands_nested_use_groups() {
    let found = crate_paths(&strip(
        "use crate::{a::{B, C}, d};\nuse super::e::F as G;\n",
    ));
    let show: Vec<String> = found
        .iter()
        .map(|(root, path, line)| format!("{root}::{}@{line}", path.join("::")))
        .collect();
    assert_eq!(
        show,
        [
            "crate::a::B@1",
            "crate::a::C@1",
            "crate::d@1",
            "super::e::F@2"
        ]
    );
}

#[test]
fn the_parser_ignores_comments_and_strings() {
    let source = "//! see crate::a\n/// crate::b\nlet x = \"crate::c\"; // crate::d\n/* crate::e */ crate::f::g();\n";
    let show: Vec<String> = crate_paths(&strip(source))
        .into_iter()
        .map(|(root, path, line)| format!("{root}::{}@{line}", path.join("::")))
        .collect();
    assert_eq!(show, ["crate::f::g@4"]);
}

#[test]
fn super_inside_an_inline_test_module_means_the_file() {
    let source = "use super::x::Y;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::z;\n}\n";
    let module = vec!["report".to_owned(), "csv".to_owned()];
    let uses = resolve_uses(&module, &strip(source));
    let show: Vec<String> = uses
        .iter()
        .map(|u| format!("{}@{}", u.path.join("::"), u.line))
        .collect();
    assert_eq!(show, ["report::x::Y@1", "report::csv::*@4", "report::z@5"]);
}

#[test]
fn a_cycle_is_reported_with_its_edges() {
    let site = |line| Site {
        file: "src/x.rs".into(),
        line,
        path: "p".into(),
    };
    let mut graph = Graph::new();
    graph
        .entry("a".into())
        .or_default()
        .insert("b".into(), site(1));
    graph
        .entry("b".into())
        .or_default()
        .insert("c".into(), site(2));
    graph
        .entry("c".into())
        .or_default()
        .insert("a".into(), site(3));
    graph
        .entry("c".into())
        .or_default()
        .insert("d".into(), site(4));
    let report = cycles_report(&graph).unwrap();
    assert!(report.contains("a -> b -> c -> a"), "{report}");
    assert!(report.contains("src/x.rs:3"), "{report}");
}

// ---------------------------------------------------------------------------------------
// Reading the sources.

fn src_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn top_level_modules() -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(src_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir()
            || (path.extension().is_some_and(|e| e == "rs") && name != "main" && name != "lib")
        {
            modules.insert(name);
        }
    }
    modules
}

fn read_sources() -> Vec<SourceFile> {
    let root = src_dir();
    let mut paths = Vec::new();
    collect_rs(&root, &mut paths);
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let relative = path.strip_prefix(&root).unwrap();
        let mut module: Vec<String> = relative
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        let file_name = module.pop().unwrap();
        let stem = file_name.trim_end_matches(".rs");
        let is_mod_file = stem == "mod";
        if module.is_empty() && (stem == "main" || stem == "lib") {
            continue;
        }
        if !is_mod_file {
            module.push(stem.to_owned());
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let uses = resolve_uses(&module, &strip(&text));
        files.push(SourceFile {
            relative: format!("src/{}", relative.to_string_lossy()),
            module,
            uses,
        });
    }
    files
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code with comments removed and string and character literals emptied; line
/// breaks are kept so line numbers stay true.
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && at(i + 1) == 'r'))
            && !at(i.wrapping_sub(1)).is_alphanumeric()
            && at(i.wrapping_sub(1)) != '_'
            && {
                let start = if c == 'b' { i + 2 } else { i + 1 };
                let mut j = start;
                while at(j) == '#' {
                    j += 1;
                }
                at(j) == '"'
            }
        {
            // A raw string: r#"…"#.
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            let mut j = start;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            out.push_str("\"\"");
            while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#') {
                    j += 1 + hashes;
                    break;
                }
                if chars[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            i = j;
        } else if c == '"' {
            out.push_str("\"\"");
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if at(i) == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A character literal ('{', '\n', '\''), not a lifetime.
            let mut j = i + 1;
            if at(j) == '\\' {
                j += 2;
            } else {
                j += 1;
            }
            while j < chars.len() && chars[j] != '\'' && chars[j] != '\n' {
                j += 1;
            }
            out.push_str("' '");
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every `crate::…` and `super::…` path in stripped code, groups expanded:
/// `(root, segments after the root, line)`. Each leading `super` past the first stays in
/// the segments.
fn crate_paths(code: &str) -> Vec<(String, Vec<String>, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        let preceded_by_ident = i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':');
        let rest: String = chars[i..chars.len().min(i + 8)].iter().collect();
        let root = if rest.starts_with("crate::") {
            Some("crate")
        } else if rest.starts_with("super::") {
            Some("super")
        } else {
            None
        };
        match root {
            Some(root) if !preceded_by_ident => {
                let mut j = i + root.len() + 2;
                let mut paths = Vec::new();
                parse_tree(&chars, &mut j, Vec::new(), &mut paths);
                for path in paths {
                    found.push((root.to_owned(), path, line));
                }
                line += chars[i..j.min(chars.len())]
                    .iter()
                    .filter(|&&c| c == '\n')
                    .count();
                i = j;
            }
            _ => i += 1,
        }
    }
    found
}

fn skip_space(chars: &[char], j: &mut usize) {
    while chars.get(*j).is_some_and(|c| c.is_whitespace()) {
        *j += 1;
    }
}

/// Parses `a::b::{c, d::{e}}` from `*j`, appending each full path to `out`.
fn parse_tree(chars: &[char], j: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        skip_space(chars, j);
        match chars.get(*j) {
            Some('{') => {
                *j += 1;
                loop {
                    skip_space(chars, j);
                    match chars.get(*j) {
                        Some('}') => {
                            *j += 1;
                            return;
                        }
                        Some(',') => *j += 1,
                        None => return,
                        _ => {
                            let before = *j;
                            parse_tree(chars, j, path.clone(), out);
                            if *j == before {
                                *j += 1;
                            }
                        }
                    }
                }
            }
            Some('*') => {
                *j += 1;
                path.push("*".to_owned());
                out.push(path);
                return;
            }
            Some(&c) if is_ident(c) => {
                let start = *j;
                while chars.get(*j).is_some_and(|&c| is_ident(c)) {
                    *j += 1;
                }
                path.push(chars[start..*j].iter().collect());
                let mut k = *j;
                skip_space(chars, &mut k);
                if chars.get(k) == Some(&':') && chars.get(k + 1) == Some(&':') {
                    *j = k + 2;
                    continue;
                }
                // `X as Y`: the alias is not part of the path.
                let word: String = chars[k..chars.len().min(k + 3)].iter().collect();
                if word == "as " {
                    *j = k + 3;
                    skip_space(chars, j);
                    while chars.get(*j).is_some_and(|&c| is_ident(c)) {
                        *j += 1;
                    }
                }
                out.push(path);
                return;
            }
            _ => {
                if !path.is_empty() {
                    out.push(path);
                }
                return;
            }
        }
    }
}

/// The absolute paths (without `crate`) used by a file whose module is `module`;
/// `super` inside an inline `mod name { … }` counts from that inline module.
fn resolve_uses(module: &[String], code: &str) -> Vec<Use> {
    let inline_depth_by_line = inline_module_depths(code);
    let mut uses = Vec::new();
    for (root, mut path, line) in crate_paths(code) {
        let absolute = if root == "crate" {
            path
        } else {
            // `super` once for the root, once more for each further leading `super`.
            let mut supers = 1;
            while path.first().is_some_and(|s| s == "super") {
                path.remove(0);
                supers += 1;
            }
            let inline = inline_depth_by_line.get(line - 1).copied().unwrap_or(0);
            let mut base: Vec<String> = module.to_vec();
            // Inline modules sit below the file's module: climbing out of them first.
            let climb_inline = supers.min(inline);
            let climb_file = supers - climb_inline;
            if climb_file > base.len() {
                continue;
            }
            base.truncate(base.len() - climb_file);
            base.extend(path);
            base
        };
        if !absolute.is_empty() {
            uses.push(Use {
                path: absolute,
                line,
            });
        }
    }
    uses
}

/// For each line, how many inline `mod name { … }` blocks it sits in (counted at the
/// line's start, so a `mod tests {` line itself is outside).
fn inline_module_depths(code: &str) -> Vec<usize> {
    let mut depths = Vec::new();
    let mut brace_depth = 0usize;
    // The brace depths at which inline modules were opened.
    let mut open: Vec<usize> = Vec::new();
    let mut pending_mod = false;
    for line in code.lines() {
        depths.push(open.len());
        let chars: Vec<char> = line.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let starts_mod = chars[i..].starts_with(&['m', 'o', 'd', ' ']);
            if starts_mod && (i == 0 || !is_ident(chars[i - 1])) {
                pending_mod = true;
            }
            match c {
                ';' => pending_mod = false,
                '{' => {
                    brace_depth += 1;
                    if pending_mod {
                        open.push(brace_depth);
                        pending_mod = false;
                    }
                }
                '}' => {
                    if open.last() == Some(&brace_depth) {
                        open.pop();
                    }
                    brace_depth = brace_depth.saturating_sub(1);
                }
                _ => {}
            }
        }
    }
    depths
}

// ---------------------------------------------------------------------------------------
// The graphs.

fn top_level_graph(files: &[SourceFile]) -> Graph {
    let modules = top_level_modules();
    let mut graph = Graph::new();
    for file in files {
        let Some(from) = file.module.first() else {
            continue;
        };
        graph.entry(from.clone()).or_default();
        for used in &file.uses {
            let Some(to) = used.path.first() else {
                continue;
            };
            if to == from || !modules.contains(to) {
                continue;
            }
            graph
                .entry(from.clone())
                .or_default()
                .entry(to.clone())
                .or_insert_with(|| Site {
                    file: file.relative.clone(),
                    line: used.line,
                    path: used.path.join("::"),
                });
        }
    }
    graph
}

/// Per top-level folder, the graph of its files: a path goes to the deepest file module
/// it names (`crate::report::csv::x` → `report/csv`, `crate::report::Report` → `report`).
fn file_graphs(files: &[SourceFile]) -> BTreeMap<String, Graph> {
    let file_modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut graphs: BTreeMap<String, Graph> = BTreeMap::new();
    for file in files {
        if file.module.len() < 2 && !file.relative.ends_with("mod.rs") {
            continue; // a single-file top-level module has no files within
        }
        let top = file.module[0].clone();
        let from = file.module.join("/");
        let graph = graphs.entry(top.clone()).or_default();
        graph.entry(from.clone()).or_default();
        for used in &file.uses {
            if used.path.first() != Some(&top) {
                continue;
            }
            let to = (1..=used.path.len())
                .rev()
                .map(|n| used.path[..n].to_vec())
                .find(|prefix| file_modules.contains(prefix))
                .map(|m| m.join("/"));
            let Some(to) = to else { continue };
            if to == from {
                continue;
            }
            graph
                .entry(from.clone())
                .or_default()
                .entry(to)
                .or_insert_with(|| Site {
                    file: file.relative.clone(),
                    line: used.line,
                    path: used.path.join("::"),
                });
        }
    }
    graphs
}

/// One cycle per strongly connected component, as `a -> b -> a` with each edge's site;
/// `None` when the graph is acyclic.
fn cycles_report(graph: &Graph) -> Option<String> {
    let mut report = String::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for start in graph.keys() {
        if reported.contains(start) {
            continue;
        }
        if let Some(cycle) = shortest_cycle_through(graph, start) {
            reported.extend(cycle.iter().cloned());
            let _ = writeln!(report, "  {} -> {}", cycle.join(" -> "), cycle[0]);
            for (k, from) in cycle.iter().enumerate() {
                let to = &cycle[(k + 1) % cycle.len()];
                let site = &graph[from][to];
                let _ = writeln!(
                    report,
                    "      {from} -> {to}: {}:{} uses `crate::{}`",
                    site.file, site.line, site.path
                );
            }
        }
    }
    (!report.is_empty()).then_some(report)
}

/// The shortest path from `start` back to itself (breadth first), if any.
fn shortest_cycle_through(graph: &Graph, start: &str) -> Option<Vec<String>> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_owned()]);
    while let Some(node) = queue.pop_front() {
        for next in graph.get(&node).into_iter().flat_map(|edges| edges.keys()) {
            if next == start {
                let mut cycle = vec![node.clone()];
                let mut at = node.clone();
                while at != start {
                    at = parent[&at].clone();
                    cycle.push(at.clone());
                }
                cycle.reverse();
                return Some(cycle);
            }
            if !parent.contains_key(next) {
                parent.insert(next.clone(), node.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

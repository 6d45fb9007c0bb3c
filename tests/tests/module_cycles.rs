//! No crate of the workspace has an import cycle between its modules: when `a` uses `b`,
//! nothing that `b` uses, directly or through others, uses `a`. A cycle makes the two modules one
//! unit in all but name, and it is what stops a module from moving into a crate of its own.
//!
//! The test reads the sources with `syn` (no compiler, no rust-analyzer) and runs in well under a
//! second, so it runs on every `cargo test`.
//!
//! **The rule.** A module may use its ancestors and its descendants freely: a parent declares and
//! uses its children, and a child uses its parent's items through `super::`; that is how Rust
//! code is laid out, not a cycle. Every other reference from module `a` to module `b` counts as
//! an edge between the children of their lowest common ancestor that contain `a` and `b`:
//! `crate::http::tiles` using `crate::auth::session` is the edge `http -> auth` among the crate
//! root's children, and `records::import` using `records::villages` is the edge
//! `import -> villages` among the children of `records`. Among the children of every module, these
//! edges must form no cycle.
//!
//! **What is a reference.** Every `use` whose path starts with `crate`, `self`, `super` or the
//! name of a module in scope (grouped trees, globs and renames included), and every path in the
//! code (types, expressions, patterns, bounds, and the tokens of macro invocations such as
//! `sqlx::query_as!` or `format!`) that starts with one of those or with a name a `use` brought
//! in. A reference points at the deepest module file along its path: `crate::auth::Scope` points
//! at `auth`, `crate::auth::session::resolve` at `auth::session`. Inline `mod x { .. }` blocks
//! count as part of their file's module.
//!
//! **What is not looked at.** Test code, which may import freely: items under `#[cfg(test)]` (or
//! `cfg(all(test, ..))`), `#[test]` functions (`#[tokio::test]` and the like too), and the files
//! of test modules declared under `#[cfg(test)]`. Nor integration tests, benches and examples:
//! they are crates of their own. Names that a glob import brings in are not followed (the glob
//! itself is a reference to its module).
//!
//! **Which crates.** Every root (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`,
//! `src/bin/*/main.rs`) of every member listed in `members` of the workspace's `Cargo.toml`, so
//! a new crate is checked as soon as it joins the workspace.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, Item, Meta, Token, UseTree};

/// A module's path inside its crate: `[]` is the crate root, `["auth", "session"]` is
/// `crate::auth::session`.
type ModPath = Vec<String>;

/// Reads a file by its path relative to the workspace root; `None` when there is no such file.
type Read<'a> = &'a dyn Fn(&Path) -> Option<String>;

/// One place where module `from` refers to module `to`.
#[derive(Clone, Debug)]
struct Reference {
    from: ModPath,
    to: ModPath,
    /// Relative to the workspace root.
    file: PathBuf,
    line: usize,
    /// The path as written, e.g. `crate::auth::session::resolve`.
    written: String,
}

/// The modules of one crate and every reference between them.
#[derive(Debug, Default)]
struct CrateModules {
    /// The file of each module.
    files: BTreeMap<ModPath, PathBuf>,
    /// The file modules and the inline `mod x { .. }` modules, for resolving relative paths.
    all: BTreeSet<ModPath>,
    references: Vec<Reference>,
    /// Files that could not be found or parsed.
    problems: Vec<String>,
}

/// A cycle among the children of `parent`: `nodes` starts and ends with the same child, and
/// `evidence[i]` shows the edge `nodes[i] -> nodes[i + 1]`.
#[derive(Debug)]
struct Cycle {
    parent: ModPath,
    nodes: Vec<String>,
    evidence: Vec<Evidence>,
}

/// The first reference (by file and line) behind an edge, and how many others there are.
#[derive(Debug)]
struct Evidence {
    first: Reference,
    others: usize,
}

// ---------------------------------------------------------------------------------------------
// Finding the crates

/// The `members` of the `[workspace]` table of a root `Cargo.toml`. Enough of TOML for the
/// string array that cargo itself writes; a trailing `/*` glob is expanded by the caller.
fn workspace_members(manifest: &str) -> Vec<String> {
    let mut in_workspace = false;
    let mut array = None;
    for (at, line) in line_offsets(manifest) {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && !trimmed.starts_with("[[") && trimmed.ends_with(']') {
            in_workspace = trimmed == "[workspace]";
        } else if in_workspace
            && let Some(value) = trimmed.strip_prefix("members")
            && value.trim_start().starts_with('=')
        {
            array = Some(at + line.find('=').unwrap_or(0));
            break;
        }
    }
    let Some(start) = array else {
        return Vec::new();
    };
    let rest = &manifest[start..];
    let end = rest.find(']').unwrap_or(rest.len());
    rest[..end]
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|line| line.split('"').skip(1).step_by(2))
        .map(str::to_owned)
        .collect()
}

fn line_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |offset, line| {
        let at = *offset;
        *offset += line.len();
        Some((at, line))
    })
}

/// The crate roots of one member directory, relative to the workspace root.
fn crate_roots(workspace: &Path, member: &Path) -> Vec<PathBuf> {
    let src = member.join("src");
    let mut roots: Vec<PathBuf> = ["lib.rs", "main.rs"]
        .iter()
        .map(|name| src.join(name))
        .filter(|path| workspace.join(path).is_file())
        .collect();
    let mut bins: Vec<PathBuf> = std::fs::read_dir(workspace.join(src.join("bin")))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = src.join("bin").join(entry.file_name());
            if path.extension().is_some_and(|ext| ext == "rs") {
                Some(path)
            } else {
                Some(path.join("main.rs")).filter(|main| workspace.join(main).is_file())
            }
        })
        .collect();
    bins.sort();
    roots.extend(bins);
    roots
}

/// Every member directory, with `dir/*` expanded to the directories under `dir` that have a
/// `Cargo.toml`.
fn member_dirs(workspace: &Path, members: &[String]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for member in members {
        if let Some(parent) = member.strip_suffix("/*") {
            let mut found: Vec<PathBuf> = std::fs::read_dir(workspace.join(parent))
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| Path::new(parent).join(entry.file_name()))
                .filter(|dir| workspace.join(dir).join("Cargo.toml").is_file())
                .collect();
            found.sort();
            dirs.extend(found);
        } else {
            dirs.push(PathBuf::from(member));
        }
    }
    dirs
}

/// How a crate is named in the report: its directory for a library, with the root file for
/// the other roots.
fn crate_label(member: &Path, root: &Path) -> String {
    let member = member.display().to_string();
    match root.strip_prefix(&member) {
        Ok(rel) if rel == Path::new("src/lib.rs") => member,
        Ok(rel) => format!("{member} [{}]", rel.display()),
        Err(_) => root.display().to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Test code

/// Whether items with these attributes exist only in test builds.
fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        // `#[test]`, `#[tokio::test]`, `#[sqlx::test]` …
        path.segments
            .last()
            .is_some_and(|last| last.ident == "test")
            || (path.is_ident("cfg")
                && attr
                    .parse_args::<Meta>()
                    .is_ok_and(|predicate| requires_test(&predicate)))
    })
}

/// Whether a `cfg` predicate can hold only when `test` does.
fn requires_test(predicate: &Meta) -> bool {
    match predicate {
        Meta::Path(path) => path.is_ident("test"),
        Meta::List(list) => {
            let Ok(inner) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            else {
                return false;
            };
            if list.path.is_ident("all") {
                inner.iter().any(requires_test)
            } else if list.path.is_ident("any") {
                !inner.is_empty() && inner.iter().all(requires_test)
            } else {
                false
            }
        }
        Meta::NameValue(_) => false,
    }
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn impl_item_attrs(item: &syn::ImplItem) -> &[Attribute] {
    match item {
        syn::ImplItem::Const(i) => &i.attrs,
        syn::ImplItem::Fn(i) => &i.attrs,
        syn::ImplItem::Type(i) => &i.attrs,
        syn::ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

fn trait_item_attrs(item: &syn::TraitItem) -> &[Attribute] {
    match item {
        syn::TraitItem::Const(i) => &i.attrs,
        syn::TraitItem::Fn(i) => &i.attrs,
        syn::TraitItem::Type(i) => &i.attrs,
        syn::TraitItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

// ---------------------------------------------------------------------------------------------
// Modules and references

/// A module file waiting to be read.
struct ModFile {
    module: ModPath,
    file: PathBuf,
    /// The directory of its child modules' files: the file's own directory for a crate root
    /// and a `mod.rs`, `foo/` beside `foo.rs` otherwise.
    children: PathBuf,
}

/// Reads the module tree that starts at `root` (a crate root file, relative to the workspace),
/// following the `mod x;` declarations outside test code, and collects every reference between
/// its modules.
fn crate_modules(root: &Path, read: Read<'_>) -> CrateModules {
    let mut modules = CrateModules::default();
    let mut parsed = Vec::new();
    let mut queue = VecDeque::from([ModFile {
        module: Vec::new(),
        file: root.to_path_buf(),
        children: root.parent().unwrap_or(Path::new("")).to_path_buf(),
    }]);
    while let Some(mod_file) = queue.pop_front() {
        let Some(text) = read(&mod_file.file) else {
            modules
                .problems
                .push(format!("cannot read {}", mod_file.file.display()));
            continue;
        };
        let syntax = match syn::parse_file(&text) {
            Ok(syntax) => syntax,
            Err(e) => {
                let line = e.span().start().line;
                modules.problems.push(format!(
                    "cannot parse {}:{line}: {e}",
                    mod_file.file.display()
                ));
                continue;
            }
        };
        if is_test_only(&syntax.attrs) {
            continue;
        }
        modules
            .files
            .insert(mod_file.module.clone(), mod_file.file.clone());
        modules.all.insert(mod_file.module.clone());
        let mut declared = Vec::new();
        declared_modules(
            &syntax.items,
            &mod_file,
            &mut Vec::new(),
            &mut modules.all,
            &mut declared,
        );
        for (child, candidates, line) in declared {
            match candidates.into_iter().find(|file| read(file).is_some()) {
                Some(file) => {
                    let children = if file.file_name().is_some_and(|name| name == "mod.rs") {
                        file.parent().unwrap_or(Path::new("")).to_path_buf()
                    } else {
                        file.with_extension("")
                    };
                    queue.push_back(ModFile {
                        module: child,
                        file,
                        children,
                    });
                }
                None => modules.problems.push(format!(
                    "{}:{line}: no file for module `{}`",
                    mod_file.file.display(),
                    child.join("::")
                )),
            }
        }
        parsed.push((mod_file.module, mod_file.file, syntax));
    }

    parsed.sort_by(|a, b| a.1.cmp(&b.1));
    for (module, file, syntax) in &parsed {
        let mut collector = ReferenceCollector {
            modules: &modules,
            file_module: module,
            file,
            scope: module.clone(),
            aliases: BTreeMap::new(),
            phase: Phase::Uses,
            found: Vec::new(),
        };
        collector.visit_file(syntax);
        collector.phase = Phase::Paths;
        collector.visit_file(syntax);
        let mut found = collector.found;
        modules.references.append(&mut found);
    }
    modules
}

/// The out-of-line `mod x;` declarations of a file outside test code, with the files each may
/// live in, and the inline modules (added to `all`). `inline` is the path of inline modules
/// around `items` within the file.
fn declared_modules(
    items: &[Item],
    file: &ModFile,
    inline: &mut Vec<String>,
    all: &mut BTreeSet<ModPath>,
    declared: &mut Vec<(ModPath, Vec<PathBuf>, usize)>,
) {
    for item in items {
        let Item::Mod(module) = item else { continue };
        if is_test_only(&module.attrs) {
            continue;
        }
        let name = module.ident.to_string();
        let mut path = file.module.clone();
        path.extend(inline.iter().cloned());
        path.push(name.clone());
        let mut dir = file.children.clone();
        dir.extend(inline.iter());
        match &module.content {
            Some((_, items)) => {
                all.insert(path);
                inline.push(name);
                declared_modules(items, file, inline, all, declared);
                inline.pop();
            }
            None => {
                let explicit = module.attrs.iter().find_map(|attr| match &attr.meta {
                    Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        }) => Some(s.value()),
                        _ => None,
                    },
                    _ => None,
                });
                let candidates = match explicit {
                    // Outside inline modules `#[path]` is relative to the file's directory.
                    Some(explicit) if inline.is_empty() => {
                        vec![file.file.parent().unwrap_or(Path::new("")).join(explicit)]
                    }
                    Some(explicit) => vec![dir.join(explicit)],
                    None => vec![
                        dir.join(format!("{name}.rs")),
                        dir.join(&name).join("mod.rs"),
                    ],
                };
                declared.push((path, candidates, module.ident.span().start().line));
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Read the `use` items: their references, and the names they bring into scope.
    Uses,
    /// Read every other path, now that the names are known.
    Paths,
}

struct ReferenceCollector<'a> {
    modules: &'a CrateModules,
    file_module: &'a ModPath,
    file: &'a Path,
    /// The module the visitor is in: the file's, or an inline module within it.
    scope: ModPath,
    /// `(scope, name)` → the absolute path a `use` in `scope` gave `name`.
    aliases: BTreeMap<(ModPath, String), ModPath>,
    phase: Phase,
    found: Vec<Reference>,
}

impl ReferenceCollector<'_> {
    /// The absolute path (modules, then perhaps an item) that `segments` names in the current
    /// scope, or `None` when it names something outside the crate.
    fn resolve(&self, segments: &[String]) -> Option<ModPath> {
        let (first, rest) = segments.split_first()?;
        let (mut path, rest) = match first.as_str() {
            "crate" => (Vec::new(), rest),
            "self" | "super" => {
                let mut path = self.scope.clone();
                let mut rest = if first == "self" { rest } else { segments };
                while let Some((next, after)) = rest.split_first()
                    && next == "super"
                {
                    path.pop()?;
                    rest = after;
                }
                (path, rest)
            }
            name => {
                if let Some(path) = self.aliases.get(&(self.scope.clone(), name.to_owned())) {
                    (path.clone(), rest)
                } else {
                    let mut child = self.scope.clone();
                    child.push(name.to_owned());
                    if !self.modules.all.contains(&child) {
                        return None;
                    }
                    (child, rest)
                }
            }
        };
        path.extend(rest.iter().cloned());
        Some(path)
    }

    /// Records a reference to the deepest module file along `path`, unless it is this file's.
    fn record(&mut self, path: &[String], written: String, span: Span) {
        let depth = (0..=path.len())
            .rev()
            .find(|&depth| self.modules.files.contains_key(&path[..depth]))
            .unwrap_or(0);
        let to = path[..depth].to_vec();
        if to != *self.file_module {
            self.found.push(Reference {
                from: self.file_module.clone(),
                to,
                file: self.file.to_path_buf(),
                line: span.start().line,
                written,
            });
        }
    }

    fn use_tree(&mut self, tree: &UseTree, prefix: &mut Vec<String>) {
        // The path the leaf names, the name it brings into scope, and where it is written.
        let (path, name, span) = match tree {
            UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(&p.tree, prefix);
                prefix.pop();
                return;
            }
            UseTree::Group(group) => {
                for item in &group.items {
                    self.use_tree(item, prefix);
                }
                return;
            }
            UseTree::Name(n) if n.ident == "self" => {
                (prefix.clone(), prefix.last().cloned(), n.ident.span())
            }
            UseTree::Name(n) => {
                let mut path = prefix.clone();
                path.push(n.ident.to_string());
                (path, Some(n.ident.to_string()), n.ident.span())
            }
            UseTree::Rename(r) => {
                let mut path = prefix.clone();
                if r.ident != "self" {
                    path.push(r.ident.to_string());
                }
                let name = Some(r.rename.to_string()).filter(|name| name != "_");
                (path, name, r.ident.span())
            }
            UseTree::Glob(g) => (prefix.clone(), None, g.star_token.spans[0]),
        };
        let Some(absolute) = self.resolve(&path) else {
            return;
        };
        let mut written = path.join("::");
        if matches!(tree, UseTree::Glob(_)) {
            written.push_str("::*");
        }
        self.record(&absolute, written, span);
        if let Some(name) = name {
            self.aliases.insert((self.scope.clone(), name), absolute);
        }
    }

    /// Paths inside a macro invocation's tokens: `crate::a::f`, `super::X`, `alias::g` …, not
    /// preceded by `::` or `.` (which would make them part of another path or a method call).
    fn macro_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            if let TokenTree::Group(group) = &tokens[i] {
                self.macro_tokens(group.stream());
                i += 1;
                continue;
            }
            let after_path_punct = i > 0
                && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == ':' || p.as_char() == '.');
            let TokenTree::Ident(first) = &tokens[i] else {
                i += 1;
                continue;
            };
            let mut segments = vec![first.to_string()];
            let mut j = i + 1;
            while let (
                Some(TokenTree::Punct(a)),
                Some(TokenTree::Punct(b)),
                Some(TokenTree::Ident(next)),
            ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                && a.as_char() == ':'
                && b.as_char() == ':'
            {
                segments.push(next.to_string());
                j += 3;
            }
            if segments.len() > 1
                && !after_path_punct
                && let Some(absolute) = self.resolve(&segments)
            {
                self.record(&absolute, segments.join("::"), first.span());
            }
            i = j;
        }
    }
}

impl<'ast> Visit<'ast> for ReferenceCollector<'_> {
    fn visit_item(&mut self, item: &'ast Item) {
        if !is_test_only(item_attrs(item)) {
            visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        if !is_test_only(impl_item_attrs(item)) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_trait_item(&mut self, item: &'ast syn::TraitItem) {
        if !is_test_only(trait_item_attrs(item)) {
            visit::visit_trait_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        // Out-of-line modules are read from their own files.
        if let Some((_, items)) = &module.content {
            self.scope.push(module.ident.to_string());
            for item in items {
                self.visit_item(item);
            }
            self.scope.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if self.phase == Phase::Uses && item.leading_colon.is_none() {
            self.use_tree(&item.tree, &mut Vec::new());
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        // One segment is a local name or a name a `use` brought in: the `use` counted already.
        if self.phase == Phase::Paths && path.leading_colon.is_none() && path.segments.len() > 1 {
            let segments: Vec<String> = path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            if let Some(absolute) = self.resolve(&segments) {
                let span = path.segments[0].ident.span();
                self.record(&absolute, segments.join("::"), span);
            }
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if self.phase == Phase::Paths {
            self.macro_tokens(mac.tokens.clone());
        }
        visit::visit_macro(self, mac);
    }

    /// `pub(in crate::a)` and `pub(super)` say who may see an item, not what it uses.
    fn visit_vis_restricted(&mut self, _: &'ast syn::VisRestricted) {}
}

// ---------------------------------------------------------------------------------------------
// Cycles

/// The edge a reference makes between siblings: the lowest common ancestor of its two modules,
/// and the children of it that contain them. `None` between a module and its ancestor.
fn sibling_edge(reference: &Reference) -> Option<(ModPath, String, String)> {
    let (from, to) = (&reference.from, &reference.to);
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return None;
    }
    Some((
        from[..common].to_vec(),
        from[common].clone(),
        to[common].clone(),
    ))
}

/// Every cycle among the children of any module. Within each strongly connected set of
/// children, enough cycles are listed to cover every edge between them, so that the list
/// shows every edge that keeps the set together.
fn sibling_cycles(references: &[Reference]) -> Vec<Cycle> {
    let mut sorted: Vec<&Reference> = references.iter().collect();
    sorted.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let mut graphs: BTreeMap<ModPath, BTreeMap<(String, String), Vec<&Reference>>> =
        BTreeMap::new();
    for reference in sorted {
        if let Some((parent, from, to)) = sibling_edge(reference) {
            graphs
                .entry(parent)
                .or_default()
                .entry((from, to))
                .or_default()
                .push(reference);
        }
    }

    let mut cycles = Vec::new();
    for (parent, edges) in graphs {
        let successors = successor_lists(edges.keys());
        for component in strongly_connected(&successors) {
            let mut covered = BTreeSet::new();
            for (from, to) in edges.keys() {
                if !component.contains(from)
                    || !component.contains(to)
                    || covered.contains(&(from.clone(), to.clone()))
                {
                    continue;
                }
                let Some(back) = shortest_path(&successors, &component, to, from) else {
                    continue;
                };
                let mut nodes = vec![from.clone()];
                nodes.extend(back);
                let evidence = nodes
                    .windows(2)
                    .map(|pair| {
                        let key = (pair[0].clone(), pair[1].clone());
                        let references = &edges[&key];
                        covered.insert(key);
                        Evidence {
                            first: references[0].clone(),
                            others: references.len() - 1,
                        }
                    })
                    .collect();
                cycles.push(Cycle {
                    parent: parent.clone(),
                    nodes,
                    evidence,
                });
            }
        }
    }
    cycles
}

fn successor_lists<'a>(
    edges: impl Iterator<Item = &'a (String, String)>,
) -> BTreeMap<String, Vec<String>> {
    let mut successors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (from, to) in edges {
        successors.entry(from.clone()).or_default().push(to.clone());
        successors.entry(to.clone()).or_default();
    }
    successors
}

/// Tarjan's strongly connected components with more than one node.
fn strongly_connected(successors: &BTreeMap<String, Vec<String>>) -> Vec<BTreeSet<String>> {
    struct Tarjan<'a> {
        successors: &'a BTreeMap<String, Vec<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<BTreeSet<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, node: &'a str) {
            let index = self.index.len();
            self.index.insert(node, index);
            self.low.insert(node, index);
            self.stack.push(node);
            self.on_stack.insert(node);
            let successors = self.successors;
            for next in &successors[node] {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = BTreeSet::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.insert(member.to_owned());
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.components.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        successors,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in successors.keys() {
        if !tarjan.index.contains_key(node.as_str()) {
            tarjan.visit(node);
        }
    }
    tarjan.components.sort();
    tarjan.components
}

/// The nodes after `from` on a shortest path from `from` to `to` within `component`.
fn shortest_path(
    successors: &BTreeMap<String, Vec<String>>,
    component: &BTreeSet<String>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            let mut path = vec![to.to_owned()];
            let mut at = to;
            while let Some(&before) = previous.get(at) {
                path.push(before.to_owned());
                at = before;
            }
            path.reverse();
            return Some(path);
        }
        for next in &successors[node] {
            if component.contains(next) && seen.insert(next.as_str()) {
                previous.insert(next.as_str(), node);
                queue.push_back(next.as_str());
            }
        }
    }
    None
}

/// `server: http -> auth -> http`, then one line per edge with where it is written.
fn describe(label: &str, cycle: &Cycle) -> String {
    let name = |child: &String| {
        let mut path = cycle.parent.clone();
        path.push(child.clone());
        path.join("::")
    };
    let names: Vec<String> = cycle.nodes.iter().map(name).collect();
    let mut text = format!("{label}: {}\n", names.join(" -> "));
    for (pair, evidence) in names.windows(2).zip(&cycle.evidence) {
        let first = &evidence.first;
        let _ = write!(
            text,
            "    {} -> {}: {}:{} `{}`",
            pair[0],
            pair[1],
            first.file.display(),
            first.line,
            first.written
        );
        if evidence.others > 0 {
            let _ = write!(text, " (and {} more)", evidence.others);
        }
        text.push('\n');
    }
    text
}

// ---------------------------------------------------------------------------------------------
// The workspace

#[test]
fn no_crate_of_the_workspace_has_an_import_cycle_between_its_modules() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is a directory of the workspace");
    let manifest =
        std::fs::read_to_string(workspace.join("Cargo.toml")).expect("the workspace Cargo.toml");
    let members = workspace_members(&manifest);
    assert!(
        !members.is_empty(),
        "no `members` found in the workspace Cargo.toml"
    );
    let read = |path: &Path| std::fs::read_to_string(workspace.join(path)).ok();

    let mut report = String::new();
    let mut problems = Vec::new();
    let mut crates = 0;
    for member in member_dirs(workspace, &members) {
        let roots = crate_roots(workspace, &member);
        if roots.is_empty() {
            problems.push(format!(
                "{}: no src/lib.rs, src/main.rs or src/bin/",
                member.display()
            ));
        }
        for root in roots {
            crates += 1;
            let label = crate_label(&member, &root);
            let modules = crate_modules(&root, &read);
            problems.extend(modules.problems.iter().map(|p| format!("{label}: {p}")));
            for cycle in sibling_cycles(&modules.references) {
                report.push_str(&describe(&label, &cycle));
            }
        }
    }
    assert!(crates > 0, "no crate roots found under {members:?}");
    if !problems.is_empty() {
        report.push_str("modules that could not be read (their references are not checked):\n");
        for problem in &problems {
            let _ = writeln!(report, "    {problem}");
        }
    }
    assert!(
        report.is_empty(),
        "import cycles between modules (the rule is in tests/tests/module_cycles.rs; each edge \
         shows its first reference):\n{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// The detector on small crates

/// The cycles of an in-memory crate whose root is `src/lib.rs`, described as in the report.
fn cycles_in(files: &[(&str, &str)]) -> Vec<String> {
    let files: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
        .collect();
    let read = |path: &Path| files.get(path).cloned();
    let modules = crate_modules(Path::new("src/lib.rs"), &read);
    assert!(modules.problems.is_empty(), "{:?}", modules.problems);
    sibling_cycles(&modules.references)
        .iter()
        .map(|cycle| describe("demo", cycle))
        .collect()
}

/// Only the first lines of `cycles_in`: `demo: a -> b -> a`.
fn cycle_lines(files: &[(&str, &str)]) -> Vec<String> {
    cycles_in(files)
        .iter()
        .map(|text| text.lines().next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn two_modules_that_use_each_other_are_a_cycle_with_the_lines_that_make_it() {
    let cycles = cycles_in(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        (
            "src/b.rs",
            "pub struct B;\n\nfn f() {\n    crate::a::A;\n    let _ = crate::a::A;\n}\n",
        ),
    ]);
    assert_eq!(
        cycles,
        ["demo: a -> b -> a\n    \
          a -> b: src/a.rs:1 `crate::b::B`\n    \
          b -> a: src/b.rs:4 `crate::a::A` (and 1 more)\n"]
    );
}

#[test]
fn a_chain_without_a_way_back_is_not_a_cycle() {
    let cycles = cycle_lines(&[
        ("src/lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("src/a.rs", "use crate::{b::B, c};\n"),
        ("src/b.rs", "use crate::c::C;\npub struct B;\n"),
        ("src/c.rs", "pub struct C;\n"),
    ]);
    assert_eq!(cycles, Vec::<String>::new());
}

#[test]
fn a_module_and_its_parent_using_each_other_is_not_a_cycle() {
    let cycles = cycle_lines(&[
        ("src/lib.rs", "pub mod auth;\nuse auth::session::Session;\n"),
        (
            "src/auth/mod.rs",
            "pub mod session;\nuse self::session::Session;\npub struct Role;\n",
        ),
        (
            "src/auth/session.rs",
            "use super::Role;\nuse crate::auth;\npub struct Session(crate::auth::Role);\n",
        ),
    ]);
    assert_eq!(cycles, Vec::<String>::new());
}

#[test]
fn test_code_may_import_anything() {
    let cycles = cycle_lines(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        (
            "src/b.rs",
            "pub struct B;\n\
             #[cfg(test)]\nuse crate::a::A;\n\
             #[cfg(all(test, feature = \"x\"))]\nfn helper() { crate::a::A; }\n\
             #[test]\nfn t() { crate::a::A; }\n\
             #[cfg(test)]\nmod tests { use crate::a::A; }\n\
             #[cfg(test)]\nmod more_tests;\n",
        ),
        // Never read: it is a test module. A `mod` it declared would be missing.
        ("src/b/more_tests.rs", "mod missing;\nuse crate::a::A;\n"),
    ]);
    assert_eq!(cycles, Vec::<String>::new());
}

#[test]
fn an_inline_module_outside_tests_belongs_to_its_file() {
    let cycles = cycle_lines(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
        (
            "src/b.rs",
            "pub struct B;\nmod inner {\n    use super::super::a::A;\n}\n",
        ),
    ]);
    assert_eq!(cycles, ["demo: a -> b -> a"]);
}

#[test]
fn references_between_nested_modules_count_between_their_top_level_ancestors() {
    let cycles = cycles_in(&[
        ("src/lib.rs", "mod http;\nmod auth;\n"),
        ("src/http/mod.rs", "mod tiles;\n"),
        (
            "src/http/tiles.rs",
            "fn f() -> Option<crate::auth::session::Session> { None }\n",
        ),
        ("src/auth/mod.rs", "pub mod session;\n"),
        (
            "src/auth/session.rs",
            "pub struct Session;\nfn g() {\n    tracing::info!(\"{}\", crate::http::VERSION);\n}\n",
        ),
    ]);
    assert_eq!(
        cycles,
        ["demo: auth -> http -> auth\n    \
          auth -> http: src/auth/session.rs:3 `crate::http::VERSION`\n    \
          http -> auth: src/http/tiles.rs:1 `crate::auth::session::Session`\n"]
    );
}

#[test]
fn siblings_below_the_root_that_use_each_other_are_a_cycle_in_their_parent() {
    let cycles = cycle_lines(&[
        ("src/lib.rs", "mod records;\n"),
        ("src/records/mod.rs", "mod import;\nmod villages;\n"),
        ("src/records/import.rs", "use super::villages::link;\n"),
        (
            "src/records/villages.rs",
            "use crate::records;\npub fn link() { records::import::run(); }\n",
        ),
    ]);
    assert_eq!(
        cycles,
        ["demo: records::import -> records::villages -> records::import"]
    );
}

#[test]
fn a_cycle_through_three_modules_is_found_whole() {
    let cycles = cycle_lines(&[
        ("src/lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("src/a.rs", "use crate::b::*;\n"),
        ("src/b.rs", "use crate::c as see;\nfn f() { see::g(); }\n"),
        ("src/c.rs", "pub fn g() { <crate::a::A>::new(); }\n"),
    ]);
    assert_eq!(cycles, ["demo: a -> b -> c -> a"]);
}

#[test]
fn paths_of_other_crates_and_visibility_are_not_references() {
    let cycles = cycle_lines(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::B;\n"),
        (
            "src/b.rs",
            "pub(in crate::a) struct B;\nuse ::a::X;\nfn f() { other::a::g(); x.a::<u8>(); }\n",
        ),
    ]);
    assert_eq!(cycles, Vec::<String>::new());
}

#[test]
fn the_members_are_read_from_the_workspace_manifest() {
    let manifest = "[workspace]\nresolver = \"3\"\nmembers = [\n    \"domain\", # shared\n    \
                    \"server\",\n    \"crates/*\",\n]\ndefault-members = [\"server\"]\n\n\
                    [workspace.package]\nmembers = [\"no\"]\n";
    assert_eq!(
        workspace_members(manifest),
        ["domain", "server", "crates/*"]
    );
}

#[test]
fn a_declared_module_without_a_file_is_reported_not_skipped() {
    let read = |path: &Path| (path == Path::new("src/lib.rs")).then(|| "mod gone;\n".to_owned());
    let modules = crate_modules(Path::new("src/lib.rs"), &read);
    assert_eq!(
        modules.problems,
        ["src/lib.rs:1: no file for module `gone`"]
    );
}

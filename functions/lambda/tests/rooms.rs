//! The handlers are peers: no handler's module names another handler (what two share is a module of its own:
//! `attempt_end`, `job_end`). Read from the sources, so that a new `use crate::finalize::…` in the janitor fails
//! here, not in a review.

use std::path::{Path, PathBuf};

const HANDLERS: [&str; 6] = [
    "submit",
    "launcher",
    "launch",
    "task_stopped",
    "finalize",
    "janitor",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The `.rs` files of a handler: `src/<name>.rs`, or every file under `src/<name>/`.
fn files_of(handler: &str) -> Vec<PathBuf> {
    let single = src().join(format!("{handler}.rs"));
    if single.is_file() {
        return vec![single];
    }
    let mut files = Vec::new();
    let mut folders = vec![src().join(handler)];
    while let Some(folder) = folders.pop() {
        for entry in
            std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty(), "no sources for the handler {handler}");
    files
}

/// The handlers a source file names through `crate::` (in a path, or in a `use crate::{…}` group).
fn named_handlers(text: &str) -> Vec<&'static str> {
    let mut named = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let group = match rest.strip_prefix('{') {
            Some(inner) => &inner[..inner.find('}').unwrap_or(inner.len())],
            None => rest,
        };
        for item in group.split(',') {
            let first = item
                .trim()
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default();
            if let Some(h) = HANDLERS.iter().find(|h| **h == first) {
                named.push(*h);
            }
            if rest.starts_with('{') {
                continue;
            }
            break;
        }
    }
    named
}

#[test]
fn no_handler_names_another_handler() {
    let mut found = Vec::new();
    for handler in HANDLERS {
        for file in files_of(handler) {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
            for other in named_handlers(&text) {
                if other != handler {
                    found.push(format!("{} names crate::{other}", file.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "handler → handler imports:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_paths_and_use_groups() {
    assert_eq!(named_handlers("use crate::finalize::close;"), ["finalize"]);
    assert_eq!(
        named_handlers("use crate::{job_end, janitor, Ctx};"),
        ["janitor"]
    );
    assert_eq!(
        named_handlers("crate::task_stopped::handle(ctx)"),
        ["task_stopped"]
    );
    assert!(named_handlers("use crate::{attempt_end, Ctx};").is_empty());
    assert!(named_handlers("use ecsub_aws::cluster;").is_empty());
}

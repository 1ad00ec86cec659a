//! The documentation says each thing once (probe 2026-12, finding 26: the README printed the paragraph on `push
//! --rerun-failed` and `--skip-existing` twice, word for word).

#![allow(clippy::unwrap_used)]

mod common;
use common::repo;

/// The lines of prose of a Markdown text that are long enough to be a sentence of their own: no code block, no
/// table row, no heading.
fn prose(text: &str) -> Vec<&str> {
    let mut in_code = false;
    text.lines()
        .map(str::trim)
        .filter(|line| {
            if line.starts_with("```") {
                in_code = !in_code;
                return false;
            }
            !in_code && line.len() >= 60 && !line.starts_with('|') && !line.starts_with('#')
        })
        .collect()
}

#[test]
fn no_page_of_the_documentation_says_a_line_twice() {
    let mut pages = vec![repo().join("README.md"), repo().join("cli/README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let mut repeated = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let mut seen = std::collections::HashSet::new();
        for line in prose(&text) {
            if !seen.insert(line) {
                repeated.push(format!("{}: {line}", page.display()));
            }
        }
    }
    assert!(repeated.is_empty(), "said twice:\n{}", repeated.join("\n"));
}

#[test]
fn a_paragraph_said_twice_is_found() {
    let line = "`push --rerun-failed JOB [--script S] [options]` runs, as a new job, the tasks of the ended job";
    let text = format!("# t\n\n{line}\nsomething else entirely\n{line}\n```\n{line}\n```\n");
    let lines = prose(&text);
    assert_eq!(lines, [line, line], "code blocks are left out");
}

//! A job made of some of a tasks file's rows (`push --rerun-failed`, `push --skip-existing`): the file with only
//! those rows — its header, comments and blank lines as they were — planned under the original file's name (the
//! job's name comes from it). The `#ecsub:` lines are left out: the caller passes the options already merged, so
//! that a `--task-range` among them cannot pick again among the rows kept.

use ecsub_core::tasks::TasksFile;
use std::collections::BTreeSet;

/// The file with only the rows of the tasks in `keep`, and without its `#ecsub:` lines.
pub fn rows(bytes: &[u8], file: &TasksFile, keep: &BTreeSet<usize>) -> Vec<u8> {
    let dropped: BTreeSet<usize> = file
        .tasks
        .iter()
        .filter(|t| !keep.contains(&t.index))
        .map(|t| t.line)
        .chain(file.directives.iter().map(|d| d.line))
        .collect();
    let mut out = Vec::with_capacity(bytes.len());
    for (n, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        if !dropped.contains(&(n + 1)) {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecsub_core::tasks;

    #[test]
    fn the_rows_kept_with_the_header_and_comments_and_without_the_options() {
        let text = "#ecsub: --task-range 1-2\n--env N\t--output OUT\n1\ts3://bkt/1\n# a note\n2\ts3://bkt/2\n3\ts3://bkt/3";
        let file = tasks::parse("t.tsv", text.as_bytes()).unwrap_or_else(|d| panic!("{d}"));
        let kept = rows(text.as_bytes(), &file, &BTreeSet::from([1, 2]));
        let kept = String::from_utf8(kept).unwrap_or_default();
        assert_eq!(
            kept,
            "--env N\t--output OUT\n# a note\n2\ts3://bkt/2\n3\ts3://bkt/3"
        );
        let again = tasks::parse("t.tsv", kept.as_bytes()).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(again.tasks.len(), 2);
    }
}

//! The local S3 root seen as S3: its "objects" are the regular files under `ROOT/BUCKET/` (symbolic links are
//! not objects and are never followed), each with its modification time. The input pre-flight and the outputs
//! check ask the same questions here as on AWS, through `ecsub_core::outputs`.

use crate::error::InputError;
use crate::plan::Plan;
use ecsub_core::outputs::{listing_prefix, satisfied, Written, LOCAL_SLACK_MS};
use ecsub_core::tasks::Cell;
use ecsub_core::S3Path;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// ecsub's pre-flight, on the local folder: every input of every selected task must exist before any task runs.
pub fn check_inputs(plan: &Plan, s3_root: &Path) -> Result<(), InputError> {
    let mut errors = Vec::new();
    for task in plan.selected_tasks() {
        for (column, cell) in plan.tasks.columns.iter().zip(&task.cells) {
            let Cell::Path(path) = cell else { continue };
            if !column.kind.is_input() {
                continue;
            }
            if !present(s3_root, path, i64::MIN, 0) {
                let local = s3_root.join(path.bucket()).join(path.key());
                let what = if path.is_recursive() {
                    "holds no file (looked in"
                } else {
                    "not found (looked for"
                };
                errors.push(format!(
                    "{}:{}: task {} (`{column}`): input `{path}` {what} {})",
                    plan.tasks.file,
                    task.line,
                    task.index,
                    local.display()
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        errors.push("nothing was run (--not-verify-bucket skips this check)".into());
        Err(InputError(errors))
    }
}

/// The local root's file clock now: the modification time of a file created (and removed) in `s3_root` (or its
/// nearest existing parent) for task `index`. A task's outputs are stamped by that clock, which is not the one
/// `SystemTime::now()` reads: Linux stamps new files from a coarse clock up to a tick behind it, a filesystem may
/// keep whole seconds, and an NFS server stamps with its own clock. Compared with this mark, a file the task writes
/// afterwards is never older, on any of them. Falls back to `SystemTime::now()` less a second when the folder
/// cannot be written (the task's outputs could not be written either).
pub fn clock_mark(s3_root: &Path, index: usize) -> SystemTime {
    // A root that does not exist yet (a job with no inputs) is created by the first upload: mark in its nearest
    // existing parent, most likely the same filesystem.
    let dir = s3_root
        .ancestors()
        .find(|dir| dir.is_dir())
        .unwrap_or(s3_root);
    let path = dir.join(format!(".ecsub-clock-{}-{index}", std::process::id()));
    let stamped = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|file| file.metadata())
        .and_then(|meta| meta.modified());
    let _ = fs::remove_file(&path);
    stamped.unwrap_or_else(|_| SystemTime::now() - Duration::from_secs(1))
}

/// The declared outputs of a task that this attempt (started at `started`, by the root's file clock) did not
/// write under the local root.
pub fn missing_outputs(
    plan: &Plan,
    s3_root: &Path,
    index: usize,
    started: SystemTime,
) -> Vec<String> {
    let Some(task) = plan.tasks.tasks.get(index) else {
        return Vec::new();
    };
    let started_ms = millis(started);
    plan.tasks
        .columns
        .iter()
        .zip(&task.cells)
        .filter_map(|(column, cell)| match cell {
            Cell::Path(path)
                if column.kind.is_output()
                    && !present(s3_root, path, started_ms, LOCAL_SLACK_MS) =>
            {
                Some(path.url())
            }
            _ => None,
        })
        .collect()
}

/// Is `path` satisfied by a file of the root written since `since_ms` (less `slack_ms`)?
fn present(s3_root: &Path, path: &S3Path, since_ms: i64, slack_ms: i64) -> bool {
    let found = objects(s3_root, path);
    let written = found.iter().map(|(key, modified_ms)| Written {
        key,
        modified_ms: *modified_ms,
    });
    satisfied(path, written, since_ms, slack_ms)
}

/// The objects a check of `path` looks at: the file at its key, or every file under its listing prefix (a
/// wildcard's folder is listed without its subfolders, as S3 would list them with a delimiter).
fn objects(s3_root: &Path, path: &S3Path) -> Vec<(String, i64)> {
    let bucket = s3_root.join(path.bucket());
    let mut found = Vec::new();
    if !path.is_recursive() && !path.has_wildcard() {
        if let Some(modified) = file_time(&bucket.join(path.key())) {
            found.push((path.key().to_owned(), modified));
        }
        return found;
    }
    let prefix = listing_prefix(path);
    let folder = prefix.trim_end_matches('/');
    let start = if folder.is_empty() {
        bucket.clone()
    } else {
        bucket.join(folder)
    };
    walk(&start, prefix, path.is_recursive(), &mut found);
    found
}

/// Every regular file under `dir` (into subfolders when `deep`), keyed `prefix` + its relative path.
fn walk(dir: &Path, prefix: &str, deep: bool, found: &mut Vec<(String, i64)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if kind.is_file() {
            if let Some(modified) = file_time(&entry.path()) {
                found.push((format!("{prefix}{name}"), modified));
            }
        } else if kind.is_dir() && deep {
            walk(&entry.path(), &format!("{prefix}{name}/"), deep, found);
        }
    }
}

/// The modification time of a regular file (not through a link), in ms since the epoch.
fn file_time(path: &Path) -> Option<i64> {
    let meta = fs::symlink_metadata(path).ok()?;
    meta.is_file()
        .then(|| meta.modified().ok().map(millis))
        .flatten()
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_written_after_the_mark_is_never_older_than_it() {
        // With `SystemTime::now()` as the mark this fails on the first file on this project's machine (ext4, Linux
        // 6.18 stamps a new file by its coarse clock, 5-7 ms behind); a mark from the file clock itself never does.
        let root = tempfile::tempdir().unwrap();
        for i in 0..500 {
            let mark = clock_mark(root.path(), i);
            let part = root.path().join(format!("{i}.part"));
            fs::write(&part, b"x").unwrap();
            let file = root.path().join(format!("{i}"));
            fs::rename(&part, &file).unwrap();
            let stamped = fs::metadata(&file).unwrap().modified().unwrap();
            assert!(
                stamped >= mark,
                "file {i} stamped {stamped:?}, before the mark {mark:?}"
            );
        }
        assert_eq!(
            fs::read_dir(root.path()).unwrap().count(),
            500,
            "no mark file is left"
        );
    }
}

//! The output contract, one definition for the local runner and the `task-stopped` function: a declared output is
//! present for an attempt only if an object that satisfies it was written by this attempt, i.e. no earlier than
//! the attempt's start. An object left by an earlier run or attempt never turns a task green.
//!
//! The time comes with the object at no extra cost: S3's `LastModified` (from the HeadObject or ListObjectsV2
//! the check makes anyway) and a file's modification time locally, where every copy lands a new file by rename.
//! The attempt's start is the ECS task's `startedAt` on AWS (the container starts before `run.sh` uploads
//! anything) and, locally, the modification time of a file created just before the task's process starts on each
//! filesystem its outputs land on (files are stamped by a coarser clock than the one a program reads, and each
//! filesystem by its own: whole seconds on some, the server's clock over NFS).
//!
//! What satisfies a location: a file output, the object at its key; a folder (`--output-recursive`), at least one
//! object under `key/` (so `data/` is not satisfied by `data2/`); a wildcard, at least one object of its folder
//! (not of a subfolder) whose name matches. A part file (a copy still being written, or left by a killed one:
//! [`crate::staging`]) is never an object, so it satisfies nothing.

use crate::s3path::wildcard_matches;
use crate::staging::is_part_key;
use crate::S3Path;

/// How much earlier than the attempt's start an S3 object may look and still count: S3 keeps `LastModified` to
/// the second (truncated), and the ECS and S3 clocks may differ by a fraction of one. An object of an earlier
/// attempt of the same task is minutes older (its instance was terminated and another one launched and joined).
pub const S3_SLACK_MS: i64 = 2_000;

/// Locally the attempt's start is read from the file clock of each filesystem an output lands on (`ecsub-cli`'s
/// `clock_marks`), the clock that stamps that output: no slack.
pub const LOCAL_SLACK_MS: i64 = 0;

/// An object as the check sees it: its key and when it was last written (milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written<'a> {
    pub key: &'a str,
    pub modified_ms: i64,
}

/// Does an object of `objects` (the object at a file's key, or a listing of the location's folder) satisfy
/// `path` for an attempt that started at `started_ms`, allowing `slack_ms`?
pub fn satisfied<'a>(
    path: &S3Path,
    objects: impl IntoIterator<Item = Written<'a>>,
    started_ms: i64,
    slack_ms: i64,
) -> bool {
    let since = started_ms.saturating_sub(slack_ms);
    objects
        .into_iter()
        .any(|o| o.modified_ms >= since && satisfies(path, o.key))
}

/// Would an object at `key` satisfy `path`, whatever its time?
pub fn satisfies(path: &S3Path, key: &str) -> bool {
    if is_part_key(key) {
        return false;
    }
    let want = path.key();
    if path.is_recursive() {
        return key.len() > want.len() && key.starts_with(want);
    }
    if !path.has_wildcard() {
        return key == want;
    }
    let (folder, pattern) = want.rsplit_once('/').map_or(("", want), |(f, p)| (f, p));
    let Some(name) = (if folder.is_empty() {
        Some(key)
    } else {
        key.strip_prefix(folder)
            .and_then(|rest| rest.strip_prefix('/'))
    }) else {
        return false;
    };
    !name.is_empty() && !name.contains('/') && wildcard_matches(pattern, name)
}

/// The prefix to list for a folder or wildcard location (a file is asked for by its key).
pub fn listing_prefix(path: &S3Path) -> &str {
    let key = path.key();
    if path.is_recursive() {
        key
    } else {
        key.rfind('/').map_or("", |at| &key[..=at])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: &str, modified_ms: i64) -> Written<'_> {
        Written { key, modified_ms }
    }

    #[test]
    fn an_object_older_than_the_attempt_does_not_count() {
        let file = S3Path::parse_file("s3://bkt/out/a.txt").unwrap();
        assert!(!satisfied(&file, [w("out/a.txt", 999)], 1_000, 0));
        assert!(satisfied(&file, [w("out/a.txt", 1_000)], 1_000, 0));
        // S3's second-truncated LastModified of an upload 0.4 s after the start still counts.
        assert!(satisfied(
            &file,
            [w("out/a.txt", 10_000)],
            10_600,
            S3_SLACK_MS
        ));
        assert!(!satisfied(
            &file,
            [w("out/a.txt", 8_000)],
            10_600,
            S3_SLACK_MS
        ));
        assert!(!satisfied(
            &file,
            [w("out/a.txtx", 20_000)],
            10_600,
            S3_SLACK_MS
        ));
    }

    #[test]
    fn a_folder_needs_a_fresh_object_under_it_and_not_beside_it() {
        let dir = S3Path::parse_folder("s3://bkt/data").unwrap();
        assert_eq!(listing_prefix(&dir), "data/");
        assert!(!satisfied(&dir, [w("data2/x", 5), w("data/", 5)], 1, 0));
        assert!(!satisfied(&dir, [w("data/old", 0)], 1, 0));
        assert!(satisfied(
            &dir,
            [w("data/old", 0), w("data/a/new", 2)],
            1,
            0
        ));
    }

    #[test]
    fn a_wildcard_needs_a_fresh_match_in_its_own_folder() {
        let glob = S3Path::parse_file("s3://bkt/out/*.txt").unwrap();
        assert_eq!(listing_prefix(&glob), "out/");
        assert!(satisfied(&glob, [w("out/.hidden.txt", 5)], 1, 0));
        assert!(!satisfied(&glob, [w("out/sub/a.txt", 5)], 1, 0));
        assert!(!satisfied(
            &glob,
            [w("out/a.txt", 0), w("out/a.log", 5)],
            1,
            0
        ));
        // A part file is not an object, whatever `*` would match.
        let bins = S3Path::parse_file("s3://bkt/res/*.bin").unwrap();
        assert!(!satisfied(
            &bins,
            [w("res/.ecsub-part.1628.big.bin", 5)],
            1,
            0
        ));
        let res = S3Path::parse_folder("s3://bkt/res").unwrap();
        assert!(!satisfied(
            &res,
            [w("res/.ecsub-part.1628.big.bin", 5)],
            1,
            0
        ));
        let top = S3Path::parse_file("s3://bkt/*.txt").unwrap();
        assert_eq!(listing_prefix(&top), "");
        assert!(satisfied(&top, [w("a.txt", 5)], 1, 0));
    }
}

//! The output contract, one definition for the local runner and the `task-stopped` function: a declared output is
//! present for an attempt only if an object that satisfies it was written by this attempt, i.e. between the
//! attempt's start and the check. An object left by an earlier run or attempt never turns a task green, and
//! neither does one whose time is later than the check (a clock stepped back since, or `cp -p`, `rsync -a` or
//! `tar x` from a machine whose clock runs fast, left it): a time in the future was not written by this attempt.
//!
//! The time comes with the object at no extra cost: S3's `LastModified` (from the HeadObject or ListObjectsV2
//! the check makes anyway) and a file's modification time locally, where every copy lands a new file by rename.
//! The attempt's start is the ECS task's `startedAt` on AWS (the container starts before `run.sh` uploads
//! anything) and, locally, the modification time of a file created just before the task's process starts on each
//! filesystem its outputs land on (files are stamped by a coarser clock than the one a program reads, and each
//! filesystem by its own: whole seconds on some, the server's clock over NFS). The check's time is the function's
//! clock on AWS and, locally, a mark taken the same way when the check begins.
//!
//! What satisfies a location: a file output, the object at its key; a folder (`--output-recursive`), at least one
//! object under `key/` (so `data/` is not satisfied by `data2/`); a wildcard, at least one object of its folder
//! (not of a subfolder) whose name matches. A part file (a copy still being written, or left by a killed one:
//! [`crate::staging`]) is never an object, so it satisfies nothing.
//!
//! An output that overlaps an input of its own task would be satisfied by `run.sh` uploading the task's copy of
//! that input again, with a fresh time: such a declaration is refused by the tasks file's validation
//! ([`overlaps`]), so no copy of an input can stand for an output here.

use crate::s3path::wildcard_matches;
use crate::staging::is_part_key;
use crate::S3Path;

/// How far an S3 object's time may lie outside the attempt and still count: S3 keeps `LastModified` to the second
/// (truncated), and the ECS, S3 and Lambda clocks may differ by a fraction of one. An object of an earlier attempt
/// of the same task is minutes older (its instance was terminated and another one launched and joined).
pub const S3_SLACK_MS: i64 = 2_000;

/// Locally both ends of the attempt are read from the file clock of each filesystem an output lands on
/// (`ecsub-cli`'s `clock_marks`), the clock that stamps that output: no slack.
pub const LOCAL_SLACK_MS: i64 = 0;

/// An object as the check sees it: its key and when it was last written (milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written<'a> {
    pub key: &'a str,
    pub modified_ms: i64,
}

/// When an object must have been written to count (milliseconds since the Unix epoch, both ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since_ms: i64,
    pub until_ms: i64,
}

impl Window {
    /// Any time: the input pre-flight (is the object there at all?).
    pub const ANY: Window = Window {
        since_ms: i64::MIN,
        until_ms: i64::MAX,
    };

    /// An attempt's window: from its start to the check (`checked_ms`, the checker's now), both read from the
    /// clock that stamps the objects or widened by `slack_ms` for the clocks' disagreement.
    pub fn attempt(started_ms: i64, checked_ms: i64, slack_ms: i64) -> Window {
        Window {
            since_ms: started_ms.saturating_sub(slack_ms),
            until_ms: checked_ms.saturating_add(slack_ms),
        }
    }

    pub fn holds(&self, modified_ms: i64) -> bool {
        (self.since_ms..=self.until_ms).contains(&modified_ms)
    }
}

/// Does an object of `objects` (the object at a file's key, or a listing of the location's folder) satisfy
/// `path`, written within `window`?
pub fn satisfied<'a>(
    path: &S3Path,
    objects: impl IntoIterator<Item = Written<'a>>,
    window: Window,
) -> bool {
    objects
        .into_iter()
        .any(|o| window.holds(o.modified_ms) && satisfies(path, o.key))
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

/// Could one object be in both locations (do their sets of keys meet)? A file is its key; a folder, every key under
/// it; a wildcard, every key of its folder (not of a subfolder) whose name matches. Two wildcards of one folder
/// meet when some name matches both. Locations of two buckets never meet.
pub fn overlaps(a: &S3Path, b: &S3Path) -> bool {
    if a.bucket() != b.bucket() {
        return false;
    }
    match (a.is_recursive(), b.is_recursive()) {
        (true, true) => a.key().starts_with(b.key()) || b.key().starts_with(a.key()),
        (true, false) => listing_prefix(b).starts_with(a.key()),
        (false, true) => listing_prefix(a).starts_with(b.key()),
        (false, false) => match (a.has_wildcard(), b.has_wildcard()) {
            (false, false) => a.key() == b.key(),
            (true, false) => satisfies(a, b.key()),
            (false, true) => satisfies(b, a.key()),
            (true, true) => {
                let (folder, pattern) = split_name(a.key());
                let (other_folder, other) = split_name(b.key());
                folder == other_folder && patterns_meet(pattern, other)
            }
        },
    }
}

/// A key's folder (with its `/`, empty at the top) and its last segment.
fn split_name(key: &str) -> (&str, &str) {
    key.rfind('/')
        .map_or(("", key), |at| (&key[..=at], &key[at + 1..]))
}

/// Does some name match both `*` patterns? With a `*` in each, exactly when what comes before their first `*`
/// agrees (one begins the other) and what comes after their last `*` does (one ends the other): a name made of
/// the longer beginning, every middle part of both, and the longer end matches both. Linear in the patterns'
/// length, so any two of a file's locations are compared cheaply.
fn patterns_meet(a: &str, b: &str) -> bool {
    match (a.split_once('*'), b.split_once('*')) {
        (None, _) => wildcard_matches(b, a),
        (_, None) => wildcard_matches(a, b),
        (Some((a_head, _)), Some((b_head, _))) => {
            let a_tail = a.rsplit_once('*').map_or("", |(_, t)| t);
            let b_tail = b.rsplit_once('*').map_or("", |(_, t)| t);
            (a_head.starts_with(b_head) || b_head.starts_with(a_head))
                && (a_tail.ends_with(b_tail) || b_tail.ends_with(a_tail))
        }
    }
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

    /// The window of an attempt that started at `started_ms` and is checked at `checked_ms`.
    fn attempt(started_ms: i64, checked_ms: i64, slack_ms: i64) -> Window {
        Window::attempt(started_ms, checked_ms, slack_ms)
    }

    #[test]
    fn an_object_older_than_the_attempt_does_not_count() {
        let file = S3Path::parse_file("s3://bkt/out/a.txt").unwrap();
        assert!(!satisfied(
            &file,
            [w("out/a.txt", 999)],
            attempt(1_000, 5_000, 0)
        ));
        assert!(satisfied(
            &file,
            [w("out/a.txt", 1_000)],
            attempt(1_000, 5_000, 0)
        ));
        // S3's second-truncated LastModified of an upload 0.4 s after the start still counts.
        let s3 = attempt(10_600, 60_000, S3_SLACK_MS);
        assert!(satisfied(&file, [w("out/a.txt", 10_000)], s3));
        assert!(!satisfied(&file, [w("out/a.txt", 8_000)], s3));
        assert!(!satisfied(&file, [w("out/a.txtx", 20_000)], s3));
        // The pre-flight takes any object.
        assert!(satisfied(&file, [w("out/a.txt", i64::MIN)], Window::ANY));
        assert!(satisfied(&file, [w("out/a.txt", i64::MAX)], Window::ANY));
    }

    /// Probe 2026-12, finding 10: an object stamped later than the check (`touch -d '+1 hour'`, a clock stepped
    /// back, `cp -p` from a machine whose clock runs fast) was not written by this attempt, on either transport.
    #[test]
    fn an_object_from_the_future_does_not_count() {
        let hour = 3_600_000;
        let (started, checked) = (1_000_000, 1_060_000);
        let file = S3Path::parse_file("s3://bkt/stale/out.txt").unwrap();
        let dir = S3Path::parse_folder("s3://bkt/stale/dir").unwrap();
        let glob = S3Path::parse_file("s3://bkt/stale/g/*.txt").unwrap();
        for slack in [LOCAL_SLACK_MS, S3_SLACK_MS] {
            let window = attempt(started, checked, slack);
            assert!(!satisfied(
                &file,
                [w("stale/out.txt", checked + hour)],
                window
            ));
            assert!(!satisfied(&dir, [w("stale/dir/f", checked + hour)], window));
            assert!(!satisfied(
                &glob,
                [w("stale/g/a.txt", checked + hour)],
                window
            ));
            // Written during the attempt, up to the check itself: counts.
            assert!(satisfied(&file, [w("stale/out.txt", checked)], window));
            assert!(satisfied(
                &dir,
                [
                    w("stale/dir/old", checked + hour),
                    w("stale/dir/new", started + 1)
                ],
                window
            ));
        }
        // On S3 the clocks may disagree by a fraction of a second: within the slack the object counts, beyond it
        // it does not; locally the check's mark is the stamping clock's, with no slack.
        let s3 = attempt(started, checked, S3_SLACK_MS);
        assert!(satisfied(&file, [w("stale/out.txt", checked + 1_500)], s3));
        assert!(!satisfied(&file, [w("stale/out.txt", checked + 2_001)], s3));
        let local = attempt(started, checked, LOCAL_SLACK_MS);
        assert!(!satisfied(&file, [w("stale/out.txt", checked + 1)], local));
    }

    #[test]
    fn a_folder_needs_a_fresh_object_under_it_and_not_beside_it() {
        let dir = S3Path::parse_folder("s3://bkt/data").unwrap();
        assert_eq!(listing_prefix(&dir), "data/");
        assert!(!satisfied(
            &dir,
            [w("data2/x", 5), w("data/", 5)],
            attempt(1, 10, 0)
        ));
        assert!(!satisfied(&dir, [w("data/old", 0)], attempt(1, 10, 0)));
        assert!(satisfied(
            &dir,
            [w("data/old", 0), w("data/a/new", 2)],
            attempt(1, 10, 0)
        ));
    }

    #[test]
    fn a_wildcard_needs_a_fresh_match_in_its_own_folder() {
        let glob = S3Path::parse_file("s3://bkt/out/*.txt").unwrap();
        assert_eq!(listing_prefix(&glob), "out/");
        assert!(satisfied(
            &glob,
            [w("out/.hidden.txt", 5)],
            attempt(1, 10, 0)
        ));
        assert!(!satisfied(
            &glob,
            [w("out/sub/a.txt", 5)],
            attempt(1, 10, 0)
        ));
        assert!(!satisfied(
            &glob,
            [w("out/a.txt", 0), w("out/a.log", 5)],
            attempt(1, 10, 0)
        ));
        // A part file is not an object, whatever `*` would match.
        let bins = S3Path::parse_file("s3://bkt/res/*.bin").unwrap();
        assert!(!satisfied(
            &bins,
            [w("res/.ecsub-part.1628.big.bin", 5)],
            attempt(1, 10, 0)
        ));
        let res = S3Path::parse_folder("s3://bkt/res").unwrap();
        assert!(!satisfied(
            &res,
            [w("res/.ecsub-part.1628.big.bin", 5)],
            attempt(1, 10, 0)
        ));
        let top = S3Path::parse_file("s3://bkt/*.txt").unwrap();
        assert_eq!(listing_prefix(&top), "");
        assert!(satisfied(&top, [w("a.txt", 5)], attempt(1, 10, 0)));
    }

    fn file(url: &str) -> S3Path {
        S3Path::parse_file(url).unwrap()
    }

    fn folder(url: &str) -> S3Path {
        S3Path::parse_folder(url).unwrap()
    }

    /// Probe 2026-12, finding 9: which locations share a key, the relation the tasks file refuses between an output
    /// and an input of one task.
    #[test]
    fn locations_overlap_when_one_object_could_be_in_both() {
        let meet = |a: &S3Path, b: &S3Path| {
            let both = overlaps(a, b);
            assert_eq!(both, overlaps(b, a), "{a} and {b}: not symmetric");
            both
        };
        let input = file("s3://bkt/proj/in.txt");
        assert!(meet(&input, &file("s3://bkt/proj/in.txt")));
        assert!(!meet(&input, &file("s3://bkt/proj/in.txt2")));
        assert!(!meet(&input, &file("s3://other/proj/in.txt")));
        // Folders hold what is under them, never a neighbour (`proj2/`) nor a file named as the folder.
        assert!(meet(&input, &folder("s3://bkt/proj")));
        assert!(meet(&input, &folder("s3://bkt")));
        assert!(!meet(&input, &folder("s3://bkt/proj/in.txt")));
        assert!(!meet(&input, &folder("s3://bkt/pro")));
        assert!(meet(&folder("s3://bkt/proj/ref"), &folder("s3://bkt/proj")));
        assert!(!meet(
            &folder("s3://bkt/proj/ref"),
            &folder("s3://bkt/proj2")
        ));
        // A wildcard holds the matching names of its own folder only.
        let glob = file("s3://bkt/proj/*.txt");
        assert!(meet(&glob, &input));
        assert!(!meet(&glob, &file("s3://bkt/proj/in.log")));
        assert!(!meet(&glob, &file("s3://bkt/proj/sub/in.txt")));
        assert!(meet(&glob, &folder("s3://bkt/proj")));
        assert!(meet(&glob, &folder("s3://bkt")));
        assert!(!meet(&glob, &folder("s3://bkt/proj/sub")));
        // Two wildcards of one folder meet when some name matches both.
        for (a, b, both) in [
            ("*.txt", "*.txt", true),
            ("*.txt", "in*", true),
            ("a*", "*b", true),
            ("*", "x", true),
            ("*.txt", "*.log", false),
            ("s1_*", "s2_*", false),
            ("s1_*.txt", "s1_a*", true),
            ("a*b*c", "ab*c", true),
            ("a*b*c", "ab*d", false),
            ("x", "y*", false),
        ] {
            let (a, b) = (
                file(&format!("s3://bkt/d/{a}")),
                file(&format!("s3://bkt/d/{b}")),
            );
            assert_eq!(meet(&a, &b), both, "{a} and {b}");
        }
        assert!(!meet(&file("s3://bkt/d/*.txt"), &file("s3://bkt/e/*.txt")));
    }
}

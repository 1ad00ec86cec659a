//! What the stager can stage, one definition for the stager (both transports), the local runner's checks and
//! `validate`: the names it reserves for its part files, when a part left behind is stale, and the names it can
//! never stage.
//!
//! A file lands whole: it is written under a part name in its own folder, then renamed. So a part is never an
//! object: no listing, wildcard, download, pre-flight or outputs check sees one, and a stale part (its writer was
//! killed: the OOM killer, a crash, a power loss) is removed by the next copy or check that meets it. Pure: the
//! callers read, stat and remove files.

use crate::S3Path;
use std::time::Duration;

/// Every part file's name begins so, and goes on with the writer's pid, a dot and a short tag:
/// `.ecsub-part.<pid>.<tag>`. Names of that shape are reserved (`validate` warns about a location named so).
pub const PART_PREFIX: &str = ".ecsub-part.";

/// The longest file name Linux filesystems keep (NAME_MAX, bytes). S3 takes longer key segments, but a task's copy
/// of an object is a file named by the key's last segment, so a longer one can never be staged.
pub const NAME_MAX: usize = 255;

/// A part whose writer is gone from this machine is stale once it has not changed for this long: the grace
/// spares a part written by a live process elsewhere (a root shared over NFS), which writes continuously.
pub const DEAD_WRITER_GRACE: Duration = Duration::from_secs(60);

/// Any part that has not changed for this long is stale, whoever wrote it (its pid may name another process by
/// now, or one that cannot be seen from here).
pub const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A part name: `.ecsub-part.<pid>.<tag>`. Its length does not depend on the destination's, so every name up to
/// [`NAME_MAX`] bytes can be staged.
pub fn part_name(pid: u32, tag: &str) -> String {
    format!("{PART_PREFIX}{pid}.{tag}")
}

/// The pid in a part file's name (`None`: the name is not a part's).
pub fn part_pid(name: &[u8]) -> Option<u32> {
    let rest = name.strip_prefix(PART_PREFIX.as_bytes())?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b'.') {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// Is this file name (a folder's entry, as bytes) a part file's?
pub fn is_part(name: &[u8]) -> bool {
    part_pid(name).is_some()
}

/// Is the object at `key` a part file (its last segment a part's name)?
pub fn is_part_key(key: &str) -> bool {
    is_part(key.rsplit('/').next().unwrap_or(key).as_bytes())
}

/// Is a part stale? `writer_alive`: whether the pid in its name is a live process here (`None`: cannot tell);
/// `unchanged_for`: since it was last written.
pub fn is_stale(writer_alive: Option<bool>, unchanged_for: Duration) -> bool {
    unchanged_for >= STALE_AFTER
        || (writer_alive == Some(false) && unchanged_for >= DEAD_WRITER_GRACE)
}

/// Why the stager can never stage `path`, if it cannot: a segment longer than a file name may be, or a file
/// location named as a part file (never an object).
pub fn unstageable(path: &S3Path) -> Option<String> {
    let key = path.key().trim_end_matches('/');
    for segment in key.split('/') {
        // A wildcard's matches are at least its pattern without the `*`s.
        let least = segment.len() - segment.matches('*').count();
        if least > NAME_MAX {
            return Some(format!(
                "`{path}`: the name `{segment}` is {least} bytes, over the {NAME_MAX} a file name may have; the \
                 stager cannot copy it to or from a file"
            ));
        }
    }
    if !path.is_recursive() && !path.has_wildcard() && is_part_key(key) {
        return Some(format!(
            "`{path}`: names beginning `{PART_PREFIX}<pid>.` are the stager's part files, never objects; the \
             stager cannot copy it"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_name_is_short_and_carries_its_writer() {
        let name = part_name(4_194_304, "1f");
        assert_eq!(name, ".ecsub-part.4194304.1f");
        assert_eq!(part_pid(name.as_bytes()), Some(4_194_304));
        // The old, long form (`.ecsub-part.<pid>.<name>`) is a part too: leftovers of older stagers are met.
        assert_eq!(part_pid(b".ecsub-part.1628.big.bin"), Some(1628));
        for not_a_part in [
            &b".ecsub-part."[..],
            b".ecsub-part.x.1",
            b".ecsub-part.12",
            b"ecsub-part.1.x",
            b"big.bin",
        ] {
            assert!(!is_part(not_a_part), "{not_a_part:?}");
        }
        assert!(is_part_key("res/.ecsub-part.1628.big.bin"));
        assert!(!is_part_key(".ecsub-part.1628.x/res/big.bin"));
    }

    #[test]
    fn a_part_is_stale_when_its_writer_is_gone_or_it_is_a_day_old() {
        let minute = Duration::from_secs(60);
        assert!(!is_stale(Some(false), minute / 2));
        assert!(is_stale(Some(false), minute));
        assert!(!is_stale(Some(true), minute * 60));
        assert!(!is_stale(None, minute * 60));
        assert!(is_stale(Some(true), STALE_AFTER));
        assert!(is_stale(None, STALE_AFTER));
    }

    #[test]
    fn names_longer_than_a_file_name_and_part_names_cannot_be_staged() {
        let at = |n: usize| S3Path::parse_file(&format!("s3://bkt/o/{}", "n".repeat(n))).unwrap();
        assert_eq!(unstageable(&at(255)), None);
        assert_eq!(
            unstageable(&at(256)),
            Some(format!(
                "`s3://bkt/o/{0}`: the name `{0}` is 256 bytes, over the 255 a file name may have; the stager \
                 cannot copy it to or from a file",
                "n".repeat(256)
            ))
        );
        let folder = S3Path::parse_folder(&format!("s3://bkt/{}/x", "d".repeat(300))).unwrap();
        assert!(unstageable(&folder).is_some());
        let glob = S3Path::parse_file(&format!("s3://bkt/o/*{}*", "g".repeat(255))).unwrap();
        assert_eq!(unstageable(&glob), None);
        let part = S3Path::parse_file("s3://bkt/res/.ecsub-part.1628.big.bin").unwrap();
        assert!(unstageable(&part)
            .unwrap()
            .contains("are the stager's part files, never objects"));
        let under = S3Path::parse_folder("s3://bkt/.ecsub-part.1.x").unwrap();
        assert_eq!(unstageable(&under), None);
    }
}

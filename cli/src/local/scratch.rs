//! The clean-up of a succeeded task's scratch folder, which never crosses a mount point. A task may leave a mount
//! inside its scratch (a bind mount of the user's data, a FUSE file system such as goofys, s3fs or sshfs), and
//! deleting through it would delete that data: a scratch folder with a mount inside is kept whole, with a warning
//! that names the mount, and nothing is unmounted.
//!
//! Two checks, as neither suffices alone: the mount table (`/proc/self/mountinfo`), the only way to see a bind
//! mount of the same file system (its folders have the same `st_dev`), and the device of every folder of the
//! tree (`lstat`: no link followed), which sees a mount the table does not list under this path. Either one that
//! cannot be made keeps the folder too. Only then is the folder removed, by std's `remove_dir_all`, which
//! follows no link either. The task's processes have ended by then: nothing mounts between the checks and the
//! removal, short of a process the task did not start.
//!
//! Depends on std and /proc only; it knows nothing of the runner.

use std::ffi::OsString;
use std::fs;
use std::io::{self, BufRead, Read as _};
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// The mount table read at most: a longer one counts as unreadable, and the folder is kept.
const MOUNT_TABLE_LIMIT: u64 = 64 << 20;

const MOUNT_TABLE: &str = "/proc/self/mountinfo";

/// Removes a task's `scratch` folder, unless a mount is inside it. Gives the warning to show when it kept the
/// folder or could not remove it; the warning names the path.
pub fn remove(scratch: &Path) -> Option<String> {
    let meta = match fs::symlink_metadata(scratch) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            return Some(format!(
                "cannot remove its scratch folder {}: {e}",
                scratch.display()
            ))
        }
    };
    if !meta.is_dir() {
        // The task put a link or a file in its folder's place: that goes, not what a link points to.
        return fs::remove_file(scratch)
            .err()
            .map(|e| format!("cannot remove {}: {e}", scratch.display()));
    }
    // The mount table's paths are canonical.
    let scratch = match fs::canonicalize(scratch) {
        Ok(path) => path,
        Err(e) => {
            return Some(format!(
                "kept its scratch folder {}: {e}",
                scratch.display()
            ))
        }
    };
    let kept = |why: String| {
        Some(format!(
            "kept its scratch folder {}: {why}",
            scratch.display()
        ))
    };
    let mut mounts = match fs::File::open(MOUNT_TABLE)
        .and_then(|f| mounts_under(io::BufReader::new(f.take(MOUNT_TABLE_LIMIT + 1)), &scratch))
    {
        Ok(mounts) => mounts,
        Err(e) => {
            return kept(format!(
                "cannot read the mount table {MOUNT_TABLE} to check for mounts inside it: {e}"
            ))
        }
    };
    match other_devices(&scratch, meta.dev()) {
        Ok(found) => mounts.extend(found),
        Err(e) => return kept(format!("cannot check it for mounts inside: {e}")),
    }
    if !mounts.is_empty() {
        mounts.sort();
        mounts.dedup();
        let list: Vec<String> = mounts.iter().map(|m| m.display().to_string()).collect();
        return kept(format!("a mount is inside it ({})", list.join(", ")));
    }
    fs::remove_dir_all(&scratch).err().map(|e| {
        format!(
            "cannot remove its scratch folder {}: {e}",
            scratch.display()
        )
    })
}

/// The mount points of a mount table (`/proc/PID/mountinfo` lines) that are `dir` or inside it. The table must
/// end before [`MOUNT_TABLE_LIMIT`] bytes.
fn mounts_under(mut table: impl BufRead, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut line = Vec::new();
    let mut total = 0u64;
    loop {
        line.clear();
        let n = table.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(found);
        }
        total += n as u64;
        if total > MOUNT_TABLE_LIMIT {
            return Err(io::Error::other(format!(
                "longer than {} MiB",
                MOUNT_TABLE_LIMIT >> 20
            )));
        }
        if let Some(point) = mount_point(&line) {
            if point.starts_with(dir) {
                found.push(point);
            }
        }
    }
}

/// The mount point of a mountinfo line: its fifth field, with the kernel's octal escapes (`\040` for a space,
/// `\011`, `\012`, `\134`) undone.
fn mount_point(line: &[u8]) -> Option<PathBuf> {
    let field = line.split(|&b| b == b' ').nth(4)?;
    let mut path = Vec::with_capacity(field.len());
    let mut rest = field;
    while let Some((&byte, tail)) = rest.split_first() {
        let octal = |b: &u8| (b'0'..=b'7').contains(b);
        match tail {
            [a, b, c, ..] if byte == b'\\' && [a, b, c].into_iter().all(octal) => {
                let value =
                    u32::from(a - b'0') * 64 + u32::from(b - b'0') * 8 + u32::from(c - b'0');
                path.push(u8::try_from(value).ok()?);
                rest = &tail[3..];
            }
            _ => {
                path.push(byte);
                rest = tail;
            }
        }
    }
    Some(PathBuf::from(OsString::from_vec(path)))
}

/// The folders of the tree at `root` (itself included) that are on another device than `dev` (its own): mount
/// points. No link is followed, and a folder on another device is not entered.
fn other_devices(root: &Path, dev: u64) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    // A mount on the folder itself: its device differs from its parent's.
    if let Some(parent) = root.parent() {
        if fs::symlink_metadata(parent)?.dev() != dev {
            found.push(root.to_path_buf());
            return Ok(found);
        }
    }
    // A stack, not recursion: a deep tree must not exhaust the thread's stack.
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            // Neither file_type nor metadata follows a link.
            if !entry.file_type()?.is_dir() {
                continue;
            }
            if entry.metadata()?.dev() == dev {
                stack.push(entry.path());
            } else {
                found.push(entry.path());
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TABLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
91 27 8:1 /home/u/precious /w/job/tasks/000/ref rw,relatime - ext4 /dev/sda1 rw
92 27 0:50 / /w/job/tasks/000/my\\040data rw - tmpfs none rw
93 27 0:51 / /w/job/tasks/0001/ref rw - tmpfs none rw
94 27 0:52 / /w/job/tasks/001 rw - tmpfs none rw
";

    #[test]
    fn the_mount_table_gives_the_mounts_at_and_under_a_folder_not_its_neighbours() {
        let under = |dir: &str| mounts_under(TABLE.as_bytes(), Path::new(dir)).unwrap();
        assert_eq!(
            under("/w/job/tasks/000"),
            [
                PathBuf::from("/w/job/tasks/000/ref"),
                PathBuf::from("/w/job/tasks/000/my data")
            ]
        );
        assert_eq!(
            under("/w/job/tasks/001"),
            [PathBuf::from("/w/job/tasks/001")]
        );
        assert!(under("/w/job/tasks/002").is_empty());
    }

    #[test]
    fn a_mount_point_s_escapes_are_undone_and_a_short_line_has_none() {
        assert_eq!(
            mount_point(b"1 2 0:1 / /a\\011b\\134c\\012d rw - x y rw\n"),
            Some(PathBuf::from("/a\tb\\c\nd"))
        );
        assert_eq!(
            mount_point(b"1 2 0:1 / /a\\04 rw"),
            Some(PathBuf::from("/a\\04"))
        );
        assert_eq!(mount_point(b"1 2 0:1 /\n"), None);
    }

    #[test]
    fn a_plain_tree_is_removed_and_a_link_in_it_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep.txt"), "keep").unwrap();
        let scratch = tmp.path().join("scratch");
        fs::create_dir_all(scratch.join("a/b/c")).unwrap();
        fs::write(scratch.join("a/b/c/file"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, scratch.join("a/link")).unwrap();

        assert_eq!(
            other_devices(&scratch, fs::metadata(&scratch).unwrap().dev()).unwrap(),
            Vec::<PathBuf>::new()
        );
        assert_eq!(remove(&scratch), None);
        assert!(!scratch.exists());
        assert_eq!(
            fs::read_to_string(outside.join("keep.txt")).unwrap(),
            "keep"
        );
    }

    #[test]
    fn a_link_in_the_folder_s_place_is_removed_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep.txt"), "keep").unwrap();
        let scratch = tmp.path().join("scratch");
        std::os::unix::fs::symlink(&outside, &scratch).unwrap();

        assert_eq!(remove(&scratch), None);
        assert!(fs::symlink_metadata(&scratch).is_err());
        assert_eq!(
            fs::read_to_string(outside.join("keep.txt")).unwrap(),
            "keep"
        );
        assert_eq!(remove(&tmp.path().join("gone")), None);
    }
}

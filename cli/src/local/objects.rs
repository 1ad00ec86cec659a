//! The local S3 root seen as S3: its "objects" are the regular files under `ROOT/BUCKET/` (symbolic links and the
//! stager's part files are not objects; links are never followed), each with its modification time. The input
//! pre-flight and the outputs check ask the same questions here as on AWS, through `ecsub_core::outputs`.

use crate::error::InputError;
use crate::plan::Plan;
use ecsub_core::outputs::{listing_prefix, satisfied, Window, Written, LOCAL_SLACK_MS};
use ecsub_core::staging::part_name;
use ecsub_core::tasks::Cell;
use ecsub_core::S3Path;
use ecsub_stage::meet_part;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// ecsub's pre-flight, on the local folder: every input of every selected task must exist before any task runs.
pub fn check_inputs(plan: &Plan, s3_root: &Path) -> Result<(), InputError> {
    let mut errors = Vec::new();
    for task in plan.selected_tasks() {
        for (at, (column, cell)) in task.cells_with(&plan.tasks.columns).enumerate() {
            let Cell::Path(path) = cell else { continue };
            if !column.kind.is_input() {
                continue;
            }
            if !present(s3_root, path, None) {
                let local = s3_root.join(path.bucket()).join(path.key());
                let what = if path.is_recursive() {
                    "holds no file (looked in"
                } else {
                    "not found (looked for"
                };
                errors.push(plan.error_at_cell(
                    task,
                    at,
                    format!(
                        "task {} (`{column}`): input `{path}` {what} {})",
                        task.index,
                        local.display()
                    ),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        errors.push(ecsub_core::Finding::error(
            "nothing was run (--not-verify-bucket skips this check)",
        ));
        Err(InputError(errors))
    }
}

/// The file clocks of the filesystems a task's outputs land on, read just before the task starts: one mark per
/// filesystem (`st_dev`). Each output is compared with the mark of its own filesystem, since each stamps files
/// by its own clock: a bucket folder may be another filesystem than the root (whole seconds on ext2 or FAT, the
/// server's clock over NFS).
#[derive(Debug, Clone)]
pub struct Marks {
    by_device: Vec<(u64, SystemTime)>,
    /// For an output found on a filesystem no mark was taken on (one mounted while the task ran): this
    /// machine's clock a second before the task.
    fallback: SystemTime,
}

impl Marks {
    fn of(&self, device: u64) -> SystemTime {
        self.by_device
            .iter()
            .find(|(d, _)| *d == device)
            .map_or(self.fallback, |(_, mark)| *mark)
    }
}

/// Takes the marks for task `index`: for each of its outputs, a file created (and removed) in the nearest existing
/// folder of the output's key (a bucket or folder not there yet is created by the upload, in that folder's
/// filesystem), once per filesystem. The mark file is named as a part, so no listing ever takes it for an object.
pub fn clock_marks(plan: &Plan, s3_root: &Path, index: usize) -> Marks {
    let fallback = SystemTime::now()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(UNIX_EPOCH);
    marks_of_task(plan, s3_root, index, fallback)
}

/// The marks of the outputs check itself, taken as [`clock_marks`] takes the task's: an output stamped later than
/// its filesystem's clock at the check was not written by the attempt (probe 2026-12, finding 10).
fn check_marks(plan: &Plan, s3_root: &Path, index: usize) -> Marks {
    let fallback = SystemTime::now() + Duration::from_secs(1);
    marks_of_task(plan, s3_root, index, fallback)
}

fn marks_of_task(plan: &Plan, s3_root: &Path, index: usize, fallback: SystemTime) -> Marks {
    let folders = plan
        .tasks
        .tasks
        .get(index)
        .into_iter()
        .flat_map(|task| task.cells_with(&plan.tasks.columns))
        .filter_map(|(column, cell)| match cell {
            Cell::Path(path) if column.kind.is_output() => Some(landing(s3_root, path)),
            _ => None,
        });
    marks_in(folders, fallback, |dir| stamp(dir, index))
}

/// One mark per filesystem of `folders`, each by `stamp` (the file clock of a folder, `None` when it cannot be
/// read: the fallback then).
fn marks_in(
    folders: impl Iterator<Item = PathBuf>,
    fallback: SystemTime,
    mut stamp: impl FnMut(&Path) -> Option<SystemTime>,
) -> Marks {
    let mut by_device: Vec<(u64, SystemTime)> = Vec::new();
    for folder in folders {
        let Some((dir, device)) = folder.ancestors().find_map(|dir| {
            fs::metadata(dir)
                .ok()
                .filter(|m| m.is_dir())
                .map(|m| (dir, m.dev()))
        }) else {
            continue;
        };
        if by_device.iter().all(|(d, _)| *d != device) {
            by_device.push((device, stamp(dir).unwrap_or(fallback)));
        }
    }
    Marks {
        by_device,
        fallback,
    }
}

/// The folder an output lands in: its key's folder (a folder output's own).
fn landing(s3_root: &Path, path: &S3Path) -> PathBuf {
    let folder = listing_prefix(path).trim_end_matches('/');
    let bucket = s3_root.join(path.bucket());
    if folder.is_empty() {
        bucket
    } else {
        bucket.join(folder)
    }
}

/// A folder's file clock now: the modification time of a file created (and removed) in it. Linux stamps a new file
/// from a coarse clock up to a tick behind `SystemTime::now()`, a filesystem may keep whole seconds, and an NFS
/// server stamps with its own clock: compared with this mark, a file written in that filesystem afterwards is never
/// older. `None` when the folder cannot be written (the task's outputs could not be written there either).
fn stamp(dir: &Path, index: usize) -> Option<SystemTime> {
    let path = dir.join(part_name(std::process::id(), &format!("clock{index}")));
    let stamped = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|file| file.metadata())
        .and_then(|meta| meta.modified());
    let _ = fs::remove_file(&path);
    stamped.ok()
}

/// The declared outputs of a task that this attempt (started at `marks`, by each filesystem's clock) did not
/// write under the local root: each needs a file stamped between its filesystem's mark before the task and its
/// mark now.
pub fn missing_outputs(plan: &Plan, s3_root: &Path, index: usize, marks: &Marks) -> Vec<String> {
    let Some(task) = plan.tasks.tasks.get(index) else {
        return Vec::new();
    };
    let now = check_marks(plan, s3_root, index);
    task.cells_with(&plan.tasks.columns)
        .filter_map(|(column, cell)| match cell {
            Cell::Path(path)
                if column.kind.is_output() && !present(s3_root, path, Some((marks, &now))) =>
            {
                Some(path.url())
            }
            _ => None,
        })
        .collect()
}

/// A file of the root as the checks see it: its key, when it was last written (ms since the epoch), and its
/// filesystem.
struct Found {
    key: String,
    modified_ms: i64,
    device: u64,
}

/// Is `path` satisfied by a file of the root: any (`marks` is `None`, the pre-flight), or one written between the
/// two marks (the attempt's start, the check) of its own filesystem?
fn present(s3_root: &Path, path: &S3Path, marks: Option<(&Marks, &Marks)>) -> bool {
    let found = objects(s3_root, path);
    let Some((started, checked)) = marks else {
        let written = found.iter().map(|f| Written {
            key: &f.key,
            modified_ms: f.modified_ms,
        });
        return satisfied(path, written, Window::ANY);
    };
    // Each file's time is judged by its own filesystem's clock.
    found.iter().any(|f| {
        let window = Window::attempt(
            millis(started.of(f.device)),
            millis(checked.of(f.device)),
            LOCAL_SLACK_MS,
        );
        let written = Written {
            key: &f.key,
            modified_ms: f.modified_ms,
        };
        satisfied(path, [written], window)
    })
}

/// The objects a check of `path` looks at: the file at its key, or every file under its listing prefix (a
/// wildcard's folder is listed without its subfolders, as S3 would list them with a delimiter). Part files are
/// not objects: never listed, and a stale one met is removed.
fn objects(s3_root: &Path, path: &S3Path) -> Vec<Found> {
    let bucket = s3_root.join(path.bucket());
    let mut found = Vec::new();
    if !path.is_recursive() && !path.has_wildcard() {
        if let Some((modified_ms, device)) = file_time(&bucket.join(path.key())) {
            found.push(Found {
                key: path.key().to_owned(),
                modified_ms,
                device,
            });
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

/// Every regular file under `dir` (into subfolders when `deep`), keyed `prefix` + its relative path; never a part
/// file.
fn walk(dir: &Path, prefix: &str, deep: bool, found: &mut Vec<Found>) {
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
            if meet_part(&entry.path()) {
                continue;
            }
            if let Some((modified_ms, device)) = file_time(&entry.path()) {
                found.push(Found {
                    key: format!("{prefix}{name}"),
                    modified_ms,
                    device,
                });
            }
        } else if kind.is_dir() && deep {
            walk(&entry.path(), &format!("{prefix}{name}/"), deep, found);
        }
    }
}

/// The modification time of a regular file (not through a link), in ms since the epoch, and its filesystem.
fn file_time(path: &Path) -> Option<(i64, u64)> {
    let meta = fs::symlink_metadata(path).ok()?;
    let modified = meta.modified().ok().filter(|_| meta.is_file())?;
    Some((millis(modified), meta.dev()))
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
            let mark = stamp(root.path(), i).unwrap();
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

    #[test]
    fn one_mark_per_filesystem_in_the_nearest_existing_folder() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("bkt/out")).unwrap();
        let folders = [
            root.path().join("bkt/out"),
            root.path().join("bkt/not/yet/there"),
            root.path().join("other-bucket"),
        ];
        let mut asked = Vec::new();
        let at = UNIX_EPOCH + Duration::from_secs(1_000);
        let marks = marks_in(folders.into_iter(), UNIX_EPOCH, |dir| {
            asked.push(dir.to_owned());
            Some(at)
        });
        // Three folders of one filesystem: one mark, taken in the first output's folder.
        assert_eq!(asked, [root.path().join("bkt/out")]);
        let device = fs::metadata(root.path()).unwrap().dev();
        assert_eq!(marks.of(device), at);
        // A filesystem no mark was taken on (mounted during the task) is compared with the fallback.
        assert_eq!(marks.of(device.wrapping_add(1)), UNIX_EPOCH);
        // A folder that cannot be written gets the fallback.
        let marks = marks_in([root.path().join("bkt")].into_iter(), UNIX_EPOCH, |_| None);
        assert_eq!(marks.of(device), UNIX_EPOCH);
    }

    #[test]
    fn each_output_is_compared_with_the_mark_of_its_own_filesystem() {
        // Probe 2026-12, finding 2, with a stub for the clocks: an output stamped by a whole-second filesystem
        // looks older than a mark read from a nanosecond one, but never older than its own filesystem's mark.
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("bkt/out/i.txt");
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        fs::write(&out, b"1").unwrap();
        let written = UNIX_EPOCH + Duration::from_secs(1_000);
        fs::File::options()
            .write(true)
            .open(&out)
            .unwrap()
            .set_modified(written)
            .unwrap();
        let device = fs::metadata(&out).unwrap().dev();
        let path = S3Path::parse_file("s3://bkt/out/i.txt").unwrap();
        let marks = |own: SystemTime, other: SystemTime| Marks {
            by_device: vec![(device.wrapping_add(1), other), (device, own)],
            fallback: UNIX_EPOCH,
        };
        let later = written + Duration::from_millis(400);
        let much_later = written + Duration::from_secs(60);
        let check = marks(much_later, much_later);
        assert!(present(
            root.path(),
            &path,
            Some((&marks(written, later), &check))
        ));
        assert!(!present(
            root.path(),
            &path,
            Some((&marks(later, written), &check))
        ));
        // Probe 2026-12, finding 10: and never newer than its own filesystem's mark at the check, whatever the
        // other filesystem's clock says.
        assert!(present(
            root.path(),
            &path,
            Some((&marks(written, later), &marks(written, UNIX_EPOCH)))
        ));
        assert!(!present(
            root.path(),
            &path,
            Some((
                &marks(written, later),
                &marks(written - Duration::from_millis(1), much_later)
            ))
        ));
    }

    #[test]
    fn a_part_file_is_never_an_object() {
        let root = tempfile::tempdir().unwrap();
        let res = root.path().join("bkt/res");
        fs::create_dir_all(&res).unwrap();
        fs::write(res.join(".ecsub-part.1628.big.bin"), b"fragment").unwrap();
        for url in [
            "s3://bkt/res/*.bin",
            "s3://bkt/res/.ecsub-part.1628.big.bin",
        ] {
            assert!(
                !present(root.path(), &S3Path::parse_file(url).unwrap(), None),
                "{url}"
            );
        }
        let folder = S3Path::parse_folder("s3://bkt/res").unwrap();
        assert!(!present(root.path(), &folder, None));
        fs::write(res.join("big.bin"), b"whole").unwrap();
        assert!(present(root.path(), &folder, None));
    }
}

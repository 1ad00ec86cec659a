//! Files land whole: each is written under a part name in its own folder (`.ecsub-part.<pid>.<n>`, short whatever
//! the destination's name, so every name a file may have can be staged) and renamed when complete. A part that is
//! dropped before it is kept (an error, or the work dropped when a signal stops it) is removed; one whose writer
//! was killed outright is stale, and is removed by the next copy or check that meets it. A part is never an object
//! ([`ecsub_core::staging`]): no listing, wildcard or download takes one.

use crate::{Result, StageError};
use ecsub_core::staging::{is_part, is_stale, part_name, part_pid};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;
use tokio::io::AsyncWriteExt;

/// This process's parts are numbered, so two copies it makes at once into one folder never share a part.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// How many names a part tries before giving up (another process with this pid, elsewhere, may hold a few).
const TRIES: usize = 16;

/// A file being written next to its destination.
#[derive(Debug)]
pub struct Part {
    path: PathBuf,
    dst: PathBuf,
    file: Option<tokio::fs::File>,
}

impl Part {
    /// Starts `dst`'s part: `.ecsub-part.<pid>.<n>` in `dst`'s folder, a name no other part has. A `dst` that is a
    /// folder is refused.
    pub async fn create(dst: &Path) -> Result<Part> {
        if let Ok(meta) = std::fs::symlink_metadata(dst) {
            if meta.is_dir() {
                return Err(StageError(format!(
                    "refused: {} is a folder, not a file",
                    dst.display()
                )));
            }
        }
        if dst.file_name().is_none() {
            return Err(StageError(format!("{} names no file", dst.display())));
        }
        let mut tries = 0;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dst.with_file_name(part_name(std::process::id(), &format!("{n:x}")));
            let opened = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await;
            match opened {
                Ok(file) => {
                    return Ok(Part {
                        path,
                        dst: dst.to_owned(),
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < TRIES => {
                    tries += 1;
                }
                Err(e) => {
                    return Err(StageError(format!(
                        "cannot write {} (for {}): {e}",
                        path.display(),
                        dst.display()
                    )))
                }
            }
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| StageError("part closed".into()))?;
        file.write_all(bytes)
            .await
            .map_err(|e| StageError(format!("cannot write {}: {e}", self.path.display())))
    }

    /// Flushes the part and renames it over the destination.
    pub async fn keep(mut self) -> Result<()> {
        if let Some(mut file) = self.file.take() {
            file.flush()
                .await
                .map_err(|e| StageError(format!("cannot write {}: {e}", self.path.display())))?;
        }
        tokio::fs::rename(&self.path, &self.dst)
            .await
            .map_err(|e| StageError(format!("cannot write {}: {e}", self.dst.display())))?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Meets a folder's entry: is it a part file (a file, not a folder, named as a part)? The caller skips one: it is
/// not an object. A stale one is removed on the way (see [`remove_if_stale`]).
pub fn meet_part(path: &Path) -> bool {
    let part = path
        .file_name()
        .is_some_and(|name| is_part(name.as_encoded_bytes()))
        && !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    if part {
        remove_if_stale(path);
    }
    part
}

/// Removes a part file if it is stale: a regular file whose writer is gone from this machine, or that has not
/// changed for a day ([`ecsub_core::staging::is_stale`]). Says whether it removed it.
fn remove_if_stale(path: &Path) -> bool {
    let Some(pid) = path
        .file_name()
        .and_then(|name| part_pid(name.as_encoded_bytes()))
    else {
        return false;
    };
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let unchanged_for = meta
        .modified()
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .unwrap_or_default();
    meta.is_file()
        && is_stale(writer_alive(pid), unchanged_for)
        && std::fs::remove_file(path).is_ok()
}

/// Is process `pid` alive on this machine (`None`: there is no `/proc` to tell)?
fn writer_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    proc.join("self")
        .exists()
        .then(|| proc.join(pid.to_string()).exists())
}

/// Resolves with the exit status for the first SIGHUP, SIGINT or SIGTERM: 128 + its number.
pub async fn stopped() -> u8 {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("ecsub: cannot watch for signals; a signal stops the copy where it is");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = hup.recv() => 129,
        _ = int.recv() => 130,
        _ = term.recv() => 143,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::fs;
    use std::time::Duration;

    /// A pid that was a process a moment ago and is not one now.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn aged(path: &Path, age: Duration) {
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
    }

    #[tokio::test]
    async fn a_part_name_is_short_whatever_the_name_it_lands_as() {
        // Probe 2026-12, finding 12: `.ecsub-part.<pid>.<name>` put a 255-byte name out of reach.
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("n".repeat(255));
        let mut part = Part::create(&dst).await.unwrap();
        let name = part.path.file_name().unwrap().len();
        assert!(name <= 40, "{}", part.path.display());
        let again = Part::create(&dst).await.unwrap();
        assert_ne!(again.path, part.path, "two parts of one file share a name");
        drop(again);
        part.write(b"x").await.unwrap();
        part.keep().await.unwrap();
        assert_eq!(fs::read(&dst).unwrap(), b"x");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_part_met_is_skipped_and_removed_once_stale() {
        // Probe 2026-12, finding 4: a part left by a killed copy is never an object, and does not stay for good.
        let dir = tempfile::tempdir().unwrap();
        let put = |name: String, age: Duration| {
            let path = dir.path().join(name);
            fs::write(&path, b"fragment").unwrap();
            aged(&path, age);
            path
        };
        let dead = dead_pid();
        let me = std::process::id();
        let minute = Duration::from_secs(60);
        let killed = put(format!(".ecsub-part.{dead}.big.bin"), minute);
        let just_killed = put(format!(".ecsub-part.{dead}.1"), minute / 4);
        let live = put(format!(".ecsub-part.{me}.2"), minute * 60);
        let forgotten = put(
            format!(".ecsub-part.{me}.3"),
            Duration::from_secs(25 * 60 * 60),
        );
        let object = put("big.bin".to_owned(), minute * 60);
        let folder = dir.path().join(format!(".ecsub-part.{dead}.d"));
        fs::create_dir(&folder).unwrap();

        for part in [&killed, &just_killed, &live, &forgotten] {
            assert!(meet_part(part), "{}", part.display());
        }
        assert!(!meet_part(&object));
        assert!(!meet_part(&folder), "a folder is not a part");
        assert!(!killed.exists(), "its writer is gone");
        assert!(just_killed.exists(), "within the grace");
        assert!(live.exists(), "its writer is alive");
        assert!(!forgotten.exists(), "a day old");
        assert!(object.exists() && folder.exists());
    }
}

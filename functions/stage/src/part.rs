//! Files land whole: each is written under a temporary name in its own folder and renamed when complete. A part
//! that is dropped before it is kept (an error, or the work dropped when a signal stops it) is removed.

use crate::{Result, StageError};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// A file being written next to its destination.
#[derive(Debug)]
pub struct Part {
    path: PathBuf,
    dst: PathBuf,
    file: Option<tokio::fs::File>,
}

impl Part {
    /// Starts `dst`'s part: `.ecsub-part.<pid>.<name>` in `dst`'s folder. A `dst` that is a folder is refused.
    pub async fn create(dst: &Path) -> Result<Part> {
        if let Ok(meta) = std::fs::symlink_metadata(dst) {
            if meta.is_dir() {
                return Err(StageError(format!(
                    "refused: {} is a folder, not a file",
                    dst.display()
                )));
            }
        }
        let name = dst
            .file_name()
            .ok_or_else(|| StageError(format!("{} names no file", dst.display())))?;
        let mut part_name =
            std::ffi::OsString::from(format!(".ecsub-part.{}.", std::process::id()));
        part_name.push(name);
        let path = dst.with_file_name(part_name);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .map_err(|e| StageError(format!("cannot write {}: {e}", path.display())))?;
        Ok(Part {
            path,
            dst: dst.to_owned(),
            file: Some(file),
        })
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

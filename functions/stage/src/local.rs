//! The local transport: `s3://B/K` is the file `ROOT/B/K`. Like S3, the root holds only files and folders: a path
//! in it that passes through a symbolic link is refused, a link is never copied into it, and every file lands whole
//! (see [`crate::part`]), so an interrupted or concurrent copy leaves the old bytes or the new ones, never a mix.
//! A part file in the root is not an object: a folder copy or a wildcard never takes one, and removes a stale one.

use crate::part::{meet_part, Part};
use crate::{fail, split_url, Copy, Mode, Result, StageError, Way};
use ecsub_core::s3path::wildcard_matches;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

const CHUNK: usize = 1 << 20;

/// The local S3 root.
#[derive(Debug, Clone)]
pub struct Root(PathBuf);

impl Root {
    pub fn new(root: Option<PathBuf>) -> Result<Root> {
        match root {
            Some(root) if !root.as_os_str().is_empty() => Ok(Root(root)),
            _ => fail("ECSUB_LOCAL_S3_ROOT is not set (needed by ECSUB_TRANSPORT=local)"),
        }
    }

    /// The file an `s3://` URL maps to; a local path is kept as it is.
    fn path(&self, side: &str) -> Result<PathBuf> {
        if side.starts_with("s3://") {
            let (bucket, key) = split_url(side)?;
            Ok(self.0.join(bucket).join(key))
        } else {
            Ok(PathBuf::from(side))
        }
    }

    /// Refuses a URL whose path below the root passes through a symbolic link.
    fn no_link(&self, url: &str) -> Result<()> {
        let (bucket, key) = split_url(url)?;
        let mut at = self.0.clone();
        for segment in std::iter::once(bucket).chain(key.split('/').filter(|s| !s.is_empty())) {
            at.push(segment);
            if is_link(&at) {
                return fail(format!(
                    "refused: {} is a symbolic link; the local S3 root holds only files and folders",
                    at.display()
                ));
            }
        }
        Ok(())
    }

    pub async fn copy(&self, copy: &Copy) -> Result<()> {
        let way = copy.way();
        let src = self.path(&copy.src)?;
        let dst = self.path(&copy.dst)?;
        self.no_link(copy.url())?;
        match &copy.mode {
            Mode::File => {
                if !src.is_file() {
                    return fail(format!("{}: no such file ({})", copy.src, src.display()));
                }
                if let Some(folder) = dst.parent() {
                    create_dir_all(folder, way).await?;
                }
                file(&src, &dst).await
            }
            Mode::Dir => {
                if !src.is_dir() {
                    return fail(format!("{}: no such folder ({})", copy.src, src.display()));
                }
                Box::pin(tree(way, src, dst)).await
            }
            Mode::Glob(pattern) => {
                if !src.is_dir() {
                    return fail(format!("{}: no such folder ({})", copy.src, src.display()));
                }
                create_dir_all(&dst, way).await?;
                for entry in entries(&src).await? {
                    let name = file_name(&entry);
                    if entry.is_file() && wildcard_matches(pattern, &name) {
                        allowed(way, &entry)?;
                        let target = dst.join(&name);
                        not_a_link(&target)?;
                        file(&entry, &target).await?;
                    }
                }
                Ok(())
            }
        }
    }

    /// `length` bytes of the file at `url` from `offset` (fewer at its end).
    pub async fn range(&self, url: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        self.no_link(url)?;
        let path = self.path(url)?;
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StageError(format!("{url}: cannot read {}: {e}", path.display())))?;
        f.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| StageError(format!("{url}: {e}")))?;
        let mut bytes = Vec::new();
        f.take(length)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| StageError(format!("{url}: {e}")))?;
        Ok(bytes)
    }
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn not_a_link(path: &Path) -> Result<()> {
    if is_link(path) {
        return fail(format!("refused: {} is a symbolic link", path.display()));
    }
    Ok(())
}

/// May this entry of a folder being copied be copied? Into the task, no link at all; out of it, a link to a file
/// goes as the file's bytes, a link to a folder is refused.
fn allowed(way: Way, entry: &Path) -> Result<()> {
    if is_link(entry) && (way == Way::Get || entry.is_dir()) {
        return fail(format!("refused: {} is a symbolic link", entry.display()));
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Creates `folder` and its parents, in the root (`way` is a put) or in the task's scratch folder. S3 holds a key
/// and keys under it as a folder side by side (`pre/a` and `pre/a/b`), a filesystem cannot: when a file stands
/// where a folder is needed, the error names it (probe 2026-12, finding 25).
async fn create_dir_all(folder: &Path, way: Way) -> Result<()> {
    tokio::fs::create_dir_all(folder).await.map_err(|e| {
        // Without a trailing `/`, which would make the file itself fail to stat.
        let clean: PathBuf = folder.components().collect();
        let blocker = clean.ancestors().find(|at| {
            std::fs::symlink_metadata(at).is_ok_and(|m| !m.is_dir() && !m.file_type().is_symlink())
        });
        match (blocker, way) {
            (Some(at), Way::Put) => StageError(format!(
                "cannot create the folder {}: an object exists at {} where a folder is needed (S3 holds a key and \
                 keys under it side by side, the local S3 root cannot)",
                folder.display(),
                at.display()
            )),
            (Some(at), Way::Get) => StageError(format!(
                "cannot create the folder {}: a file exists at {} where a folder is needed",
                folder.display(),
                at.display()
            )),
            (None, _) => StageError(format!(
                "cannot create the folder {}: {e}",
                folder.display()
            )),
        }
    })
}

/// A folder's entries (dotfiles too), by name; never a part file (a stale one met here is removed).
async fn entries(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut read = tokio::fs::read_dir(folder)
        .await
        .map_err(|e| StageError(format!("cannot read the folder {}: {e}", folder.display())))?;
    let mut found = Vec::new();
    while let Some(entry) = read
        .next_entry()
        .await
        .map_err(|e| StageError(format!("cannot read the folder {}: {e}", folder.display())))?
    {
        let path = entry.path();
        if !meet_part(&path) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Copies the folder `src` into `dst` file by file, its subfolders included.
async fn tree(way: Way, src: PathBuf, dst: PathBuf) -> Result<()> {
    create_dir_all(&dst, way).await?;
    for entry in entries(&src).await? {
        allowed(way, &entry)?;
        let target = dst.join(entry.file_name().unwrap_or_default());
        not_a_link(&target)?;
        if entry.is_dir() {
            Box::pin(tree(way, entry, target)).await?;
        } else if entry.is_file() {
            file(&entry, &target).await?;
        }
    }
    Ok(())
}

/// Copies one file's bytes, landing them by rename.
pub(crate) async fn file(src: &Path, dst: &Path) -> Result<()> {
    let mut from = tokio::fs::File::open(src)
        .await
        .map_err(|e| StageError(format!("cannot read {}: {e}", src.display())))?;
    let mut part = Part::create(dst).await?;
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = from
            .read(&mut buffer)
            .await
            .map_err(|e| StageError(format!("cannot read {}: {e}", src.display())))?;
        if n == 0 {
            break;
        }
        part.write(&buffer[..n]).await?;
    }
    part.keep().await
}

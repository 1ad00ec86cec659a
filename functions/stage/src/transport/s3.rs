//! The S3 transport, through the AWS SDK: the default credential chain (on ECS, the task role through the
//! container credentials endpoint), the SDK's integrity checks (a CRC32 checksum sent with every upload, and the
//! object's checksum checked on every download that has one), requester-pays for the buckets named so, large
//! uploads in parts sent a few at a time, and a folder's files copied a few at a time. Part files are never
//! objects here either: a key named as one is not listed, and a local part (a download killed mid-way, in the
//! task's folder) is never uploaded (a stale one is removed).

use crate::part::{meet_part, Part};
use crate::payer_buckets;
use crate::{fail, inside, split_url, Copy, Mode, Result, StageError, Way};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, RequestPayer};
use aws_sdk_s3::Client;
use ecsub_core::s3path::wildcard_matches;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

/// Files larger than this go up in parts of this size (S3: 5 MiB to 5 GiB a part, at most 10 000 parts).
pub const PART_SIZE: u64 = 16 << 20;
/// Parts of one file sent at once.
const PARTS_AT_ONCE: usize = 4;
/// Files of one folder copied at once.
const FILES_AT_ONCE: usize = 8;

/// An S3 client and the buckets whose requests the requester pays for.
#[derive(Debug, Clone)]
pub struct S3 {
    client: Client,
    payer: Arc<Vec<String>>,
}

impl S3 {
    /// From the environment: credentials, region, and `AWS_ENDPOINT_URL` (an emulator: path-style addressing),
    /// with [`crate::sdk::config`]'s retries.
    pub async fn from_env(payer: Vec<String>) -> S3 {
        let shared = crate::sdk::config().await;
        let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(path_style)
            .build();
        S3 {
            client: Client::from_conf(config),
            payer: Arc::new(payer),
        }
    }

    fn payer(&self, bucket: &str) -> Option<RequestPayer> {
        self.payer
            .iter()
            .any(|b| b == bucket)
            .then_some(RequestPayer::Requester)
    }

    pub async fn copy(&self, copy: &Copy) -> Result<()> {
        let (bucket, key) = split_url(copy.url())?;
        match (&copy.mode, copy.way()) {
            (Mode::File, Way::Get) => {
                let dst = PathBuf::from(&copy.dst);
                if let Some(folder) = dst.parent() {
                    create_dir_all(folder).await?;
                }
                self.download(bucket, key, &dst).await
            }
            (Mode::File, Way::Put) => {
                let src = Path::new(&copy.src);
                if !src.is_file() {
                    return fail(format!("{}: no such file", copy.src));
                }
                self.upload(src, bucket, key).await
            }
            (Mode::Dir, Way::Get) => {
                let prefix = folder_prefix(key);
                let dst = PathBuf::from(&copy.dst);
                create_dir_all(&dst).await?;
                let mut plan = Vec::new();
                for found in self.list(bucket, &prefix, false).await? {
                    let relative = &found[prefix.len()..];
                    if relative.is_empty() || relative.ends_with('/') {
                        continue; // a folder marker, not a file
                    }
                    if !inside(relative) {
                        return fail(format!(
                            "refused: s3://{bucket}/{found} would land outside {}",
                            dst.display()
                        ));
                    }
                    plan.push((found.clone(), landing(&dst, relative).await?));
                }
                self.download_all(bucket, plan).await
            }
            (Mode::Glob(pattern), Way::Get) => {
                let prefix = folder_prefix(key);
                let dst = PathBuf::from(&copy.dst);
                create_dir_all(&dst).await?;
                let plan = self
                    .list(bucket, &prefix, true)
                    .await?
                    .into_iter()
                    .filter(|found| wildcard_matches(pattern, &found[prefix.len()..]))
                    .map(|found| {
                        let target = dst.join(&found[prefix.len()..]);
                        (found, target)
                    })
                    .collect();
                self.download_all(bucket, plan).await
            }
            (Mode::Dir, Way::Put) => {
                let src = Path::new(&copy.src);
                if !src.is_dir() {
                    return fail(format!("{}: no such folder", copy.src));
                }
                let mut files = Vec::new();
                walk(src, "", &mut files)?;
                let prefix = folder_prefix(key);
                let plan = files
                    .into_iter()
                    .map(|(path, relative)| (path, format!("{prefix}{relative}")))
                    .collect();
                self.upload_all(bucket, plan).await
            }
            (Mode::Glob(pattern), Way::Put) => {
                let src = Path::new(&copy.src);
                if !src.is_dir() {
                    return fail(format!("{}: no such folder", copy.src));
                }
                let prefix = folder_prefix(key);
                let mut plan = Vec::new();
                for entry in sorted_entries(src)? {
                    let name = entry
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if entry.is_file() && wildcard_matches(pattern, &name) {
                        plan.push((entry, format!("{prefix}{name}")));
                    }
                }
                self.upload_all(bucket, plan).await
            }
        }
    }

    /// Keys under `prefix`: every one, or (`direct`) only those directly in it; never a part file's.
    async fn list(&self, bucket: &str, prefix: &str, direct: bool) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(direct.then(|| "/".to_owned()))
            .set_request_payer(self.payer(bucket))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws("ListObjectsV2", bucket, prefix, &e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|key| !ecsub_core::staging::is_part_key(key))
                    .map(str::to_owned),
            );
        }
        Ok(keys)
    }

    async fn download(&self, bucket: &str, key: &str, dst: &Path) -> Result<()> {
        let mut part = Part::create(dst).await?;
        let mut object = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_request_payer(self.payer(bucket))
            .send()
            .await
            .map_err(|e| aws("GetObject", bucket, key, &e))?;
        while let Some(bytes) = object
            .body
            .try_next()
            .await
            .map_err(|e| StageError(format!("GetObject s3://{bucket}/{key}: {e}")))?
        {
            part.write(&bytes).await?;
        }
        part.keep().await
    }

    async fn download_all(&self, bucket: &str, plan: Vec<(String, PathBuf)>) -> Result<()> {
        at_most(
            FILES_AT_ONCE,
            plan.into_iter().map(|(key, dst)| {
                let (s3, bucket) = (self.clone(), bucket.to_owned());
                async move { s3.download(&bucket, &key, &dst).await }
            }),
        )
        .await
    }

    async fn upload_all(&self, bucket: &str, plan: Vec<(PathBuf, String)>) -> Result<()> {
        at_most(
            FILES_AT_ONCE,
            plan.into_iter().map(|(src, key)| {
                let (s3, bucket) = (self.clone(), bucket.to_owned());
                async move { s3.upload(&src, &bucket, &key).await }
            }),
        )
        .await
    }

    async fn upload(&self, src: &Path, bucket: &str, key: &str) -> Result<()> {
        let size = tokio::fs::metadata(src)
            .await
            .map_err(|e| StageError(format!("cannot read {}: {e}", src.display())))?
            .len();
        if size > PART_SIZE {
            return self.upload_in_parts(src, size, bucket, key).await;
        }
        let body = ByteStream::from_path(src)
            .await
            .map_err(|e| StageError(format!("cannot read {}: {e}", src.display())))?;
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body)
            .set_request_payer(self.payer(bucket))
            .send()
            .await
            .map_err(|e| aws("PutObject", bucket, key, &e))?;
        Ok(())
    }

    async fn upload_in_parts(&self, src: &Path, size: u64, bucket: &str, key: &str) -> Result<()> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
            .set_request_payer(self.payer(bucket))
            .send()
            .await
            .map_err(|e| aws("CreateMultipartUpload", bucket, key, &e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let sent = self.send_parts(src, size, bucket, key, &upload_id).await;
        let completed = match sent {
            Ok(parts) => self
                .client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .set_request_payer(self.payer(bucket))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws("CompleteMultipartUpload", bucket, key, &e)),
            Err(e) => Err(e),
        };
        if completed.is_err() {
            // Parts left behind are billed until the upload is aborted.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .set_request_payer(self.payer(bucket))
                .send()
                .await;
        }
        completed
    }

    async fn send_parts(
        &self,
        src: &Path,
        size: u64,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>> {
        let count = size.div_ceil(PART_SIZE);
        let mut running = JoinSet::new();
        let mut parts = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
        let mut file = tokio::fs::File::open(src)
            .await
            .map_err(|e| StageError(format!("cannot read {}: {e}", src.display())))?;
        for number in 1..=count {
            if running.len() >= PARTS_AT_ONCE {
                parts.push(joined(running.join_next().await)?);
            }
            let length = PART_SIZE.min(size - (number - 1) * PART_SIZE);
            let mut bytes = vec![0u8; usize::try_from(length).unwrap_or_default()];
            file.read_exact(&mut bytes)
                .await
                .map_err(|e| StageError(format!("cannot read {}: {e}", src.display())))?;
            let (client, payer) = (self.client.clone(), self.payer(bucket));
            let (bucket, key, upload_id) =
                (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
            let number = i32::try_from(number).unwrap_or(i32::MAX);
            running.spawn(async move {
                let sent = client
                    .upload_part()
                    .bucket(&bucket)
                    .key(&key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
                    .body(ByteStream::from(bytes))
                    .set_request_payer(payer)
                    .send()
                    .await
                    .map_err(|e| aws("UploadPart", &bucket, &key, &e))?;
                Ok(CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(sent.e_tag().map(str::to_owned))
                    .set_checksum_crc32(sent.checksum_crc32().map(str::to_owned))
                    .build())
            });
        }
        while let Some(done) = running.join_next().await {
            parts.push(joined(Some(done))?);
        }
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }

    /// `length` bytes of an object from `offset` (fewer at its end).
    pub async fn range(&self, url: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        let (bucket, key) = split_url(url)?;
        if length == 0 {
            return Ok(Vec::new());
        }
        let object = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={offset}-{}", offset + length - 1))
            .set_request_payer(self.payer(bucket))
            .send()
            .await
            .map_err(|e| aws("GetObject", bucket, key, &e))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StageError(format!("GetObject {url}: {e}")))?;
        Ok(bytes.to_vec())
    }
}

/// Runs the copies, at most `at_once` at a time; the first error stops the rest (dropped, their parts removed).
async fn at_most<F>(at_once: usize, copies: impl Iterator<Item = F>) -> Result<()>
where
    F: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let mut running = JoinSet::new();
    for copy in copies {
        if running.len() >= at_once {
            joined(running.join_next().await)?;
        }
        running.spawn(copy);
    }
    while let Some(done) = running.join_next().await {
        joined(Some(done))?;
    }
    Ok(())
}

/// What a spawned copy returned (a panic in one is an error, not a crash).
fn joined<T>(done: Option<std::result::Result<Result<T>, tokio::task::JoinError>>) -> Result<T> {
    match done {
        Some(Ok(outcome)) => outcome,
        Some(Err(e)) => fail(format!("a copy stopped: {e}")),
        None => fail("no copy was running"),
    }
}

fn aws<E>(operation: &str, bucket: &str, key: &str, err: &SdkError<E>) -> StageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    StageError(format!(
        "{operation} s3://{bucket}/{key}: {}",
        crate::sdk::why(err)
    ))
}

/// A folder's key prefix: `key/` (the bucket's root: empty).
fn folder_prefix(key: &str) -> String {
    let key = key.trim_end_matches('/');
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}/")
    }
}

async fn create_dir_all(folder: &Path) -> Result<()> {
    tokio::fs::create_dir_all(folder).await.map_err(|e| {
        StageError(format!(
            "cannot create the folder {}: {e}",
            folder.display()
        ))
    })
}

/// Where a key lands under `dst`: its folders made, none of them (nor the file) a symbolic link.
async fn landing(dst: &Path, relative: &str) -> Result<PathBuf> {
    let mut at = dst.to_path_buf();
    for segment in relative.split('/') {
        at.push(segment);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return fail(format!("refused: {} is a symbolic link", at.display()));
        }
    }
    if let Some(folder) = at.parent() {
        create_dir_all(folder).await?;
    }
    Ok(at)
}

/// A local folder's entries, by name; never a part file (a stale one met here is removed).
fn sorted_entries(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| StageError(format!("cannot read the folder {}: {e}", folder.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| !meet_part(path))
        .collect();
    entries.sort();
    Ok(entries)
}

/// The files of a folder going up, with their paths relative to it: a link to a file goes as the file's bytes, a
/// link to a folder is refused.
fn walk(folder: &Path, relative: &str, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    for entry in sorted_entries(folder)? {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_link = std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink());
        let path = format!("{relative}{name}");
        if entry.is_dir() {
            if is_link {
                return fail(format!("refused: {} is a symbolic link", entry.display()));
            }
            walk(&entry, &format!("{path}/"), out)?;
        } else if entry.is_file() {
            out.push((entry, path));
        }
    }
    Ok(())
}

/// Makes one copy over S3 (`payer`: the buckets whose requests the requester pays for, space-separated).
pub async fn copy(copy: &Copy, payer: &str) -> Result<()> {
    S3::from_env(payer_buckets(payer)).await.copy(copy).await
}

/// Reads `length` bytes of the object at `url` from `offset`.
pub async fn range(url: &str, offset: u64, length: u64, payer: &str) -> Result<Vec<u8>> {
    S3::from_env(payer_buckets(payer))
        .await
        .range(url, offset, length)
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Probe 2026-12, finding 4, on this transport: a part in the task's folder (a download killed mid-way) is
    /// never uploaded, by a folder copy or a wildcard.
    #[test]
    fn a_local_part_is_never_among_the_files_going_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.bin"), b"whole").unwrap();
        std::fs::write(dir.path().join("sub/.ecsub-part.1.a.bin"), b"fragment").unwrap();
        std::fs::write(dir.path().join(".ecsub-part.2.7"), b"fragment").unwrap();
        let mut files = Vec::new();
        walk(dir.path(), "", &mut files).unwrap();
        let relative: Vec<&str> = files.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(relative, ["a.bin"]);
        assert_eq!(
            sorted_entries(dir.path()).unwrap().len(),
            2,
            "a.bin and sub/"
        );
    }
}

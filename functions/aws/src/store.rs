//! The object store: the few S3 operations ecsub's state lives on, with conditional creation where two writers
//! could race.

use crate::error::{code, FnError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::RequestPayer;
use aws_sdk_s3::Client;

/// The buckets whose requests must say `x-amz-request-payer: requester` (`--request-payer-bucket`): without it a
/// requester-pays bucket of another account answers 403 (S3 user guide, "Requester Pays buckets").
#[derive(Debug, Clone, Copy, Default)]
pub struct Payer<'a>(pub &'a [String]);

impl Payer<'_> {
    fn of(&self, bucket: &str) -> Option<RequestPayer> {
        self.0
            .iter()
            .any(|b| b == bucket)
            .then_some(RequestPayer::Requester)
    }
}

/// Reads an object; `None` if it does not exist.
pub async fn get(s3: &Client, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, FnError> {
    Ok(match get_at_most(s3, bucket, key, u64::MAX).await? {
        Bounded::Bytes(bytes) => Some(bytes),
        Bounded::Missing | Bounded::TooLarge(_) => None,
    })
}

/// Objects read at once by [`get_many`]: enough to hide S3's latency, few enough for a Lambda's sockets.
pub const READS_AT_ONCE: usize = 16;

/// Reads many objects, [`READS_AT_ONCE`] at a time, in no particular order; the ones that are gone are left out.
/// A job's end reads one attempt record per task: 10 000 reads one after another would take minutes.
pub async fn get_many(
    s3: &Client,
    bucket: &str,
    keys: Vec<String>,
) -> Result<Vec<(String, Vec<u8>)>, FnError> {
    let mut found = Vec::with_capacity(keys.len());
    let mut keys = keys.into_iter();
    let mut reads = tokio::task::JoinSet::new();
    loop {
        while reads.len() < READS_AT_ONCE {
            let Some(key) = keys.next() else { break };
            let (s3, bucket) = (s3.clone(), bucket.to_owned());
            reads.spawn(async move {
                let bytes = get(&s3, &bucket, &key).await;
                (key, bytes)
            });
        }
        let Some(read) = reads.join_next().await else {
            break;
        };
        let (key, bytes) = read.map_err(|e| {
            FnError::new(
                ecsub_core::chain::error_names::AWS_ERROR,
                format!("reading s3://{bucket}/ stopped: {e}"),
            )
        })?;
        if let Some(bytes) = bytes? {
            found.push((key, bytes));
        }
    }
    Ok(found)
}

/// An object read with a size limit.
#[derive(Debug)]
pub enum Bounded {
    Missing,
    /// Larger than the limit: its size in bytes (nothing was read).
    TooLarge(u64),
    Bytes(Vec<u8>),
}

/// Reads an object of at most `max` bytes; a larger one is not read (its size comes with GetObject's headers).
pub async fn get_at_most(
    s3: &Client,
    bucket: &str,
    key: &str,
    max: u64,
) -> Result<Bounded, FnError> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let size = out
                .content_length()
                .map_or(0, |n| u64::try_from(n).unwrap_or(0));
            if size > max {
                return Ok(Bounded::TooLarge(size));
            }
            let bytes = out.body.collect().await.map_err(|e| {
                FnError::new(
                    ecsub_core::chain::error_names::AWS_ERROR,
                    format!("reading s3://{bucket}/{key}: {e}"),
                )
            })?;
            Ok(Bounded::Bytes(bytes.into_bytes().to_vec()))
        }
        Err(e) if matches!(code(&e), Some("NoSuchKey" | "NotFound")) => Ok(Bounded::Missing),
        Err(e) => Err(FnError::aws(format!("GetObject s3://{bucket}/{key}"), &e)),
    }
}

/// Writes an object, replacing any.
pub async fn put(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<(), FnError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| FnError::aws(format!("PutObject s3://{bucket}/{key}"), &e))?;
    Ok(())
}

/// Creates an object only if there is none (`If-None-Match: *`); `false` if one was there already.
pub async fn put_new(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<bool, FnError> {
    let sent = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .if_none_match("*")
        .body(ByteStream::from(body))
        .send()
        .await;
    match sent {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                code(&e),
                Some("PreconditionFailed" | "ConditionalRequestConflict")
            ) =>
        {
            Ok(false)
        }
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(false),
        Err(e) => Err(FnError::aws(
            format!("PutObject (if none) s3://{bucket}/{key}"),
            &e,
        )),
    }
}

/// Does the object exist?
pub async fn exists(s3: &Client, bucket: &str, key: &str) -> Result<bool, FnError> {
    exists_paying(s3, bucket, key, Payer::default()).await
}

async fn exists_paying(
    s3: &Client,
    bucket: &str,
    key: &str,
    payer: Payer<'_>,
) -> Result<bool, FnError> {
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_request_payer(payer.of(bucket));
    match head.send().await {
        Ok(_) => Ok(true),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
        Err(e) => Err(FnError::aws(format!("HeadObject s3://{bucket}/{key}"), &e)),
    }
}

/// Every key under `prefix` (paginated).
pub async fn list(s3: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, FnError> {
    let mut keys = Vec::new();
    let mut pages = listing(s3, bucket, prefix, None, Payer::default()).send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| FnError::aws(format!("ListObjectsV2 s3://{bucket}/{prefix}"), &e))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// The folders directly under `prefix` (ListObjectsV2 with a `/` delimiter, every page): their full prefixes,
/// each ending in `/`.
pub async fn folders(s3: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, FnError> {
    let mut found = Vec::new();
    let mut pages = listing(s3, bucket, prefix, Some("/"), Payer::default()).send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| FnError::aws(format!("ListObjectsV2 s3://{bucket}/{prefix}"), &e))?;
        found.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
    }
    Ok(found)
}

/// The pages of ListObjectsV2 under `prefix` (with `delimiter`, only the prefix's own level).
fn listing(
    s3: &Client,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    payer: Payer<'_>,
) -> aws_sdk_s3::operation::list_objects_v2::paginator::ListObjectsV2Paginator {
    s3.list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .set_delimiter(delimiter.map(str::to_owned))
        .set_request_payer(payer.of(bucket))
        .into_paginator()
}

/// Does the location exist: a file, a folder with at least one key, or a wildcard with at least one match (the
/// input pre-flight)? Requests to `payer`'s buckets say that the requester pays.
pub async fn location_exists(
    s3: &Client,
    path: &ecsub_core::S3Path,
    payer: Payer<'_>,
) -> Result<bool, FnError> {
    location_written(s3, path, payer, ecsub_core::outputs::Window::ANY).await
}

/// Is the location satisfied by an object written within `window` (the output contract, `ecsub_core::outputs`:
/// an attempt's, from its start to the check; [`Window::ANY`](ecsub_core::outputs::Window::ANY), any object)?
/// One HeadObject for a file; for a folder or a wildcard, ListObjectsV2 pages of its prefix (a wildcard's with a
/// delimiter, so not its subfolders) until an object satisfies it: the times come with the answers, so checking
/// them costs no extra call.
pub async fn location_written(
    s3: &Client,
    path: &ecsub_core::S3Path,
    payer: Payer<'_>,
    window: ecsub_core::outputs::Window,
) -> Result<bool, FnError> {
    use ecsub_core::outputs::{listing_prefix, satisfied, Written};
    let millis = |t: Option<&aws_sdk_s3::primitives::DateTime>| {
        t.and_then(|t| t.to_millis().ok()).unwrap_or(i64::MIN)
    };
    let bucket = path.bucket();
    if !path.is_recursive() && !path.has_wildcard() {
        let key = path.key();
        let head = s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_request_payer(payer.of(bucket));
        return match head.send().await {
            Ok(out) => {
                let written = Written {
                    key,
                    modified_ms: millis(out.last_modified()),
                };
                Ok(satisfied(path, [written], window))
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
            Err(e) => Err(FnError::aws(format!("HeadObject s3://{bucket}/{key}"), &e)),
        };
    }
    let prefix = listing_prefix(path);
    let delimiter = (!path.is_recursive()).then_some("/");
    let mut pages = listing(s3, bucket, prefix, delimiter, payer).send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| FnError::aws(format!("ListObjectsV2 s3://{bucket}/{prefix}"), &e))?;
        let written = page.contents().iter().filter_map(|o| {
            Some(Written {
                key: o.key()?,
                modified_ms: millis(o.last_modified()),
            })
        });
        if satisfied(path, written, window) {
            return Ok(true);
        }
    }
    Ok(false)
}

//! `publish-stager`'s uploads: each stager under its digest's key (one already there is not sent again), then the
//! manifest that lists them, last, so that a job never names a binary that is not there yet.

use super::session::{connect, runtime};
use crate::aws::Stager;
use anyhow::Context as _;
use ecsub_aws::store;
use ecsub_core::chain::stager::{StagerManifest, MANIFEST_KEY};
use std::process::ExitCode;

pub fn publish_stager(bucket: &str, binaries: Vec<Stager>) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let aws = connect().await?;
        let mut manifest = match store::get(&aws.s3, bucket, MANIFEST_KEY).await? {
            Some(bytes) => StagerManifest::parse(&bytes).unwrap_or_else(|e| {
                say!("ecsub-cli: s3://{bucket}/{MANIFEST_KEY} is replaced ({e})");
                StagerManifest::default()
            }),
            None => StagerManifest::default(),
        };
        for b in binaries {
            let size = b.bytes.len();
            if store::exists(&aws.s3, bucket, &b.entry.key).await? {
                say!(
                    "{}: s3://{bucket}/{} is there already",
                    b.entry.arch,
                    b.entry.key
                );
            } else {
                store::put(
                    &aws.s3,
                    bucket,
                    &b.entry.key,
                    b.bytes,
                    "application/octet-stream",
                )
                .await
                .with_context(|| format!("uploading the {} stager", b.entry.arch))?;
                say!(
                    "{}: {size} bytes to s3://{bucket}/{}",
                    b.entry.arch,
                    b.entry.key
                );
            }
            manifest.upsert(b.entry);
        }
        let text = serde_json::to_vec_pretty(&manifest)?;
        store::put(&aws.s3, bucket, MANIFEST_KEY, text, "application/json")
            .await
            .context("writing the stager manifest")?;
        let arches: Vec<&str> = manifest.stagers.iter().map(|s| s.arch.as_str()).collect();
        show!("s3://{bucket}/{MANIFEST_KEY}: {}", arches.join(", "));
        Ok(ExitCode::SUCCESS)
    })
}

//! `ecsub-cli publish-stager`: puts each architecture's stager in the stack's bucket under a key named by its
//! SHA-256 (`ecsub/stage/ARCH/SHA256`), then the manifest that lists them (`ecsub/stage/manifest.json`), which
//! submit reads into every job so that the instance's user data fetches and checks exactly those bytes. The
//! binary goes first and the manifest last, so a job never names a binary that is not there yet; jobs already
//! running keep the binary they named (nothing is deleted).

use crate::args::PublishStagerArgs;
use crate::InputError;
use ecsub_core::chain::stager::{elf_arch, stager_key, StagerRef};
use sha2::Digest as _;
use std::path::Path;
use std::process::ExitCode;

/// A binary ready to publish: its bytes, architecture and digest.
struct Binary {
    #[cfg_attr(not(feature = "aws"), allow(dead_code))] // only uploaded
    bytes: Vec<u8>,
    entry: StagerRef,
}

pub fn run(args: &PublishStagerArgs) -> anyhow::Result<ExitCode> {
    let bucket = bucket_of(args.aws_s3_bucket.as_deref())?;
    let mut errors = Vec::new();
    let mut binaries: Vec<Binary> = Vec::new();
    for path in &args.binaries {
        match read(path) {
            Ok(b) if binaries.iter().any(|o| o.entry.arch == b.entry.arch) => errors.push(format!(
                "{}: a second {} binary (name one per architecture)",
                path.display(),
                b.entry.arch
            )),
            Ok(b) => binaries.push(b),
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    if !errors.is_empty() {
        return Err(InputError(errors).into());
    }
    upload(&bucket, binaries)
}

fn bucket_of(flag: Option<&str>) -> Result<String, InputError> {
    let usage = "ecsub-cli publish-stager: pass the stack's bucket as --aws-s3-bucket s3://BUCKET or set ECSUB_BUCKET";
    let Some(url) = flag else {
        return Err(InputError(vec![usage.into()]));
    };
    match url.strip_prefix("s3://").map(|b| b.trim_end_matches('/')) {
        Some(b) if !b.is_empty() && !b.contains('/') => Ok(b.to_owned()),
        _ => Err(InputError(vec![format!(
            "--aws-s3-bucket {url}: the stager lives at the bucket's root (s3://BUCKET, no prefix)"
        )])),
    }
}

fn read(path: &Path) -> Result<Binary, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let arch = elf_arch(&bytes)?;
    let sha256 = hex(&sha2::Sha256::digest(&bytes));
    Ok(Binary {
        entry: StagerRef {
            arch: arch.to_owned(),
            key: stager_key(arch, &sha256),
            sha256,
        },
        bytes,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(not(feature = "aws"))]
fn upload(_: &str, _: Vec<Binary>) -> anyhow::Result<ExitCode> {
    Err(crate::without_aws("publish-stager"))
}

#[cfg(feature = "aws")]
fn upload(bucket: &str, binaries: Vec<Binary>) -> anyhow::Result<ExitCode> {
    use crate::remote;
    use anyhow::Context as _;
    use ecsub_aws::store;
    use ecsub_core::chain::stager::{StagerManifest, MANIFEST_KEY};
    remote::runtime()?.block_on(async {
        let ctx = remote::connect().await?;
        let mut manifest = match store::get(&ctx.s3, bucket, MANIFEST_KEY).await? {
            Some(bytes) => StagerManifest::parse(&bytes).unwrap_or_else(|e| {
                eprintln!("ecsub-cli: s3://{bucket}/{MANIFEST_KEY} is replaced ({e})");
                StagerManifest::default()
            }),
            None => StagerManifest::default(),
        };
        for b in binaries {
            let size = b.bytes.len();
            if store::exists(&ctx.s3, bucket, &b.entry.key).await? {
                eprintln!(
                    "{}: s3://{bucket}/{} is there already",
                    b.entry.arch, b.entry.key
                );
            } else {
                store::put(
                    &ctx.s3,
                    bucket,
                    &b.entry.key,
                    b.bytes,
                    "application/octet-stream",
                )
                .await
                .with_context(|| format!("uploading the {} stager", b.entry.arch))?;
                eprintln!(
                    "{}: {size} bytes to s3://{bucket}/{}",
                    b.entry.arch, b.entry.key
                );
            }
            manifest.upsert(b.entry);
        }
        let text = serde_json::to_vec_pretty(&manifest)?;
        store::put(&ctx.s3, bucket, MANIFEST_KEY, text, "application/json")
            .await
            .context("writing the stager manifest")?;
        let arches: Vec<&str> = manifest.stagers.iter().map(|s| s.arch.as_str()).collect();
        println!("s3://{bucket}/{MANIFEST_KEY}: {}", arches.join(", "));
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_a_bucket_without_a_prefix() {
        assert_eq!(bucket_of(Some("s3://stack-bkt/")).unwrap(), "stack-bkt");
        assert!(bucket_of(Some("s3://stack-bkt/team")).is_err());
        assert!(bucket_of(Some("stack-bkt")).is_err());
        assert!(bucket_of(None).unwrap_err().0[0].contains("ECSUB_BUCKET"));
    }

    #[test]
    fn a_binary_is_named_by_its_architecture_and_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage");
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        elf.resize(64, 0);
        elf[18] = 0xb7;
        std::fs::write(&path, &elf).unwrap();
        let b = read(&path).unwrap();
        assert_eq!(b.entry.arch, "aarch64");
        assert_eq!(b.entry.sha256.len(), 64);
        assert_eq!(
            b.entry.key,
            format!("ecsub/stage/aarch64/{}", b.entry.sha256)
        );
        std::fs::write(&path, b"#!/bin/sh\n").unwrap();
        assert_eq!(read(&path).err().unwrap(), "not an ELF executable");
    }
}

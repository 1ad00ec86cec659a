//! `ecsub-cli publish-stager`: puts each architecture's stager in the stack's bucket under a key named by its
//! SHA-256 (`ecsub/stage/ARCH/SHA256`), then the manifest that lists them (`ecsub/stage/manifest.json`), which
//! submit reads into every job so that the instance's user data fetches and checks exactly those bytes. The
//! binary goes first and the manifest last, so a job never names a binary that is not there yet; jobs already
//! running keep the binary they named (nothing is deleted).

use crate::args::PublishStagerArgs;
use crate::aws::{self, Stager};
use crate::error::InputError;
use crate::plan::read_bounded;
use ecsub_core::chain::stager::{
    elf_arch, stager_key, StagerRef, ELF_HEADER_BYTES, MAX_STAGER_BYTES,
};
use ecsub_core::Finding;
use sha2::Digest as _;
use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

pub fn run(args: &PublishStagerArgs) -> anyhow::Result<ExitCode> {
    let bucket = bucket_of(args.aws_s3_bucket.as_deref())?;
    let mut errors = Vec::new();
    let mut binaries: Vec<Stager> = Vec::new();
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
        return Err(InputError(errors.into_iter().map(Finding::error).collect()).into());
    }
    aws::publish_stager(&bucket, binaries)
}

fn bucket_of(flag: Option<&str>) -> Result<String, InputError> {
    let usage = "ecsub-cli publish-stager: pass the stack's bucket as --aws-s3-bucket s3://BUCKET or set ECSUB_BUCKET";
    let Some(url) = flag else {
        return Err(InputError::new(usage));
    };
    match url.strip_prefix("s3://").map(|b| b.trim_end_matches('/')) {
        Some(b) if !b.is_empty() && !b.contains('/') => Ok(b.to_owned()),
        _ => Err(InputError::new(format!(
            "--aws-s3-bucket {url}: the stager lives at the bucket's root (s3://BUCKET, no prefix)"
        ))),
    }
}

/// Reads a stager, bounded: a regular file of at most [`MAX_STAGER_BYTES`], whose first bytes are an ELF header
/// for an architecture an instance can have, checked before the rest is read.
fn read(path: &Path) -> Result<Stager, String> {
    let most = format!("{MAX_STAGER_BYTES} bytes ({} MiB)", MAX_STAGER_BYTES >> 20);
    let limit = format!("the {most} a stager may have");
    // Asked of the path before it is opened: opening a FIFO would wait for a writer.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{}, not a regular file: a stager is an ELF executable of at most {most}",
            kind_of(&meta.file_type())
        ));
    }
    if meta.len() > MAX_STAGER_BYTES {
        return Err(format!("{} bytes, over {limit}", meta.len()));
    }
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut head = Vec::with_capacity(ELF_HEADER_BYTES);
    std::io::Read::take(&mut file, ELF_HEADER_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| format!("cannot read it: {e}"))?;
    let arch = elf_arch(&head)?;
    let rest = read_bounded(
        &mut file,
        MAX_STAGER_BYTES.saturating_sub(head.len() as u64),
    )
    .map_err(|e| format!("cannot read it: {e}"))?
    .map_err(|more| format!("{} bytes or more, over {limit}", head.len() as u64 + more))?;
    let bytes = [head, rest].concat();
    let sha256 = hex(&sha2::Sha256::digest(&bytes));
    Ok(Stager {
        entry: StagerRef {
            arch: arch.to_owned(),
            key: stager_key(arch, &sha256),
            sha256,
        },
        bytes,
    })
}

/// What a file that is not a regular one is, for a message.
fn kind_of(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_dir() {
        "a folder"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_a_bucket_without_a_prefix() {
        assert_eq!(bucket_of(Some("s3://stack-bkt/")).unwrap(), "stack-bkt");
        assert!(bucket_of(Some("s3://stack-bkt/team")).is_err());
        assert!(bucket_of(Some("stack-bkt")).is_err());
        assert!(bucket_of(None).unwrap_err().0[0]
            .message
            .contains("ECSUB_BUCKET"));
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

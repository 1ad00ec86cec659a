//! `ecsub-cli publish-stager` reads what it is given bounded (probe 2026-12, finding 7): a path that is not a
//! regular file, or one larger than a stager may be, is refused with exit 2 before it is read, whichever build
//! (the refusal comes before any call to AWS).

#![allow(clippy::unwrap_used)]

mod common;
use common::{cli, run};

#[test]
fn an_endless_device_is_refused_unread() {
    let out = run(cli().args(["publish-stager", "/dev/zero", "--aws-s3-bucket", "s3://bkt"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "/dev/zero: a character device, not a regular file: a stager is an ELF executable of at most 67108864 \
         bytes (64 MiB)\n"
    );
}

#[test]
fn a_file_larger_than_a_stager_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("disk.img");
    // Sparse: 3 GiB that take no room, and that nothing may read whole.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let out = run(cli()
        .arg("publish-stager")
        .arg(&big)
        .args(["--aws-s3-bucket", "s3://bkt"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "{}: 3221225472 bytes, over the 67108864 bytes (64 MiB) a stager may have\n",
            big.display()
        )
    );
}

#[test]
fn a_file_that_is_not_an_elf_executable_is_refused_from_its_first_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("stage.sh");
    let mut bytes = b"#!/bin/sh\n".to_vec();
    bytes.resize(60 << 20, b' ');
    std::fs::write(&script, bytes).unwrap();
    let out = run(cli()
        .arg("publish-stager")
        .arg(&script)
        .args(["--aws-s3-bucket", "s3://bkt"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!("{}: not an ELF executable\n", script.display())
    );
}

//! `ecsub-stage` over the emulated S3, through the real SDK: files (a large one in parts), folders, wildcards and
//! byte ranges both ways, the bytes compared; requester-pays per bucket; a key that would land outside its folder
//! refused; S3's errors named; secrets (KMS, SSM, Secrets Manager) read byte for byte, their refusals naming no value.

use ecsub_e2e::{pattern, Options, Ran, Sandbox};
use serde_json::json;
use std::fs;
use std::path::Path;

fn ok(ran: &Ran) {
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
}

/// Every file under a folder, relative, sorted.
fn files(folder: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(folder).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn files_folders_wildcards_and_ranges_go_both_ways_byte_for_byte() {
    let sandbox = Sandbox::start();
    let bucket = sandbox.bucket().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up");
    fs::create_dir_all(up.join("sub/deeper")).unwrap();
    // 40 MiB + 1: three parts of 16 MiB (the last one short).
    let large = pattern((40 << 20) + 1);
    fs::write(up.join("large.bin"), &large).unwrap();
    fs::write(up.join(".hidden"), b"h").unwrap();
    fs::write(up.join("a.txt"), b"a").unwrap();
    fs::write(up.join("sub/b.txt"), b"b").unwrap();
    fs::write(up.join("sub/deeper/c.txt"), b"c").unwrap();
    let up_s = up.display().to_string();
    let folder = format!("s3://{bucket}/stage/data/");

    ok(&sandbox.stage("harness", &[], &["copy", "dir", &up_s, &folder]));
    assert_eq!(
        sandbox.keys(&bucket, "stage/"),
        [
            "stage/data/.hidden",
            "stage/data/a.txt",
            "stage/data/large.bin",
            "stage/data/sub/b.txt",
            "stage/data/sub/deeper/c.txt"
        ]
    );
    let head = sandbox.aws_json(&[
        "s3api",
        "head-object",
        "--bucket",
        &bucket,
        "--key",
        "stage/data/large.bin",
    ]);
    assert!(
        head["ETag"].as_str().unwrap().ends_with("-3\""),
        "sent in three parts: {head}"
    );
    // A neighbour that shares the prefix's letters but not its folder, and a folder marker.
    ok(&sandbox.stage(
        "harness",
        &[],
        &[
            "copy",
            "file",
            &up.join("a.txt").display().to_string(),
            &format!("s3://{bucket}/stage/data2/x.txt"),
        ],
    ));
    ok(&sandbox.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        &bucket,
        "--key",
        "stage/data/empty-folder/",
    ]));

    let down = dir.path().join("down");
    ok(&sandbox.stage(
        "harness",
        &[],
        &["copy", "dir", &folder, &down.display().to_string()],
    ));
    assert_eq!(
        files(&down),
        [
            ".hidden",
            "a.txt",
            "large.bin",
            "sub/b.txt",
            "sub/deeper/c.txt"
        ]
    );
    assert!(
        fs::read(down.join("large.bin")).unwrap() == large,
        "the large file's bytes differ"
    );

    let one = dir.path().join("one/large.bin");
    ok(&sandbox.stage(
        "harness",
        &[],
        &[
            "copy",
            "file",
            &format!("{folder}large.bin"),
            &one.display().to_string(),
        ],
    ));
    assert!(fs::read(&one).unwrap() == large);
    assert_eq!(
        files(one.parent().unwrap()),
        ["large.bin"],
        "nothing else left beside it"
    );

    let globbed = dir.path().join("glob");
    ok(&sandbox.stage(
        "harness",
        &[],
        &[
            "copy",
            "glob",
            &folder,
            &globbed.display().to_string(),
            "*a*",
        ],
    ));
    assert_eq!(
        files(&globbed),
        ["a.txt", "large.bin"],
        "only the folder's own files"
    );
    ok(&sandbox.stage(
        "harness",
        &[],
        &[
            "copy",
            "glob",
            &globbed.display().to_string(),
            &format!("s3://{bucket}/stage/g/"),
            "*.txt",
        ],
    ));
    assert_eq!(sandbox.keys(&bucket, "stage/g/"), ["stage/g/a.txt"]);

    // setenv.sh's index lines are read 24 bytes at a time: a short object gives what it has; 0 bytes is no call.
    for (key, offset, length, bytes) in [
        ("sub/deeper/c.txt", "0", "24", "c"),
        ("a.txt", "0", "0", ""),
    ] {
        let range = sandbox.stage(
            "harness",
            &[],
            &["range", &format!("{folder}{key}"), offset, length],
        );
        ok(&range);
        assert_eq!(range.stdout, bytes);
    }
}

#[test]
fn requester_pays_keys_outside_the_folder_and_s3_errors_are_named() {
    let sandbox = Sandbox::start_with(&Options::with_parameters(&[(
        "DataBuckets",
        "ecsub-open-data",
    )]));
    ok(&sandbox.aws(&["s3", "mb", "s3://ecsub-open-data"]));
    // The key the SDK and the CLI send as it is: `..` is only characters to S3.
    for key in ["plays/a.txt", "plays/../../escape.txt"] {
        ok(&sandbox.aws(&[
            "s3api",
            "put-object",
            "--bucket",
            "ecsub-open-data",
            "--key",
            key,
            "--body",
            "Cargo.toml",
        ]));
    }
    sandbox.fault(&json!({ "kind": "requester-pays", "bucket": "ecsub-open-data" }));
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("a.txt").display().to_string();

    let refused = sandbox.stage(
        "harness",
        &[],
        &["copy", "file", "s3://ecsub-open-data/plays/a.txt", &dst],
    );
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .starts_with("ecsub: GetObject s3://ecsub-open-data/plays/a.txt: AccessDenied"),
        "{}",
        refused.stderr
    );
    assert!(!Path::new(&dst).exists());
    let payer = [("ECSUB_REQUEST_PAYER_BUCKETS", " other ecsub-open-data ")];
    ok(&sandbox.stage(
        "harness",
        &payer,
        &["copy", "file", "s3://ecsub-open-data/plays/a.txt", &dst],
    ));
    assert_eq!(fs::read(&dst).unwrap(), fs::read("../Cargo.toml").unwrap());

    let escaped = dir.path().join("plays");
    let out = sandbox.stage(
        "harness",
        &payer,
        &[
            "copy",
            "dir",
            "s3://ecsub-open-data/plays/",
            &escaped.display().to_string(),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("refused: s3://ecsub-open-data/plays/../../escape.txt would land outside"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("escape.txt").exists());

    let missing = sandbox.stage(
        "harness",
        &[],
        &[
            "copy",
            "file",
            &format!("s3://{}/no/such.txt", sandbox.bucket()),
            &dst,
        ],
    );
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("NoSuchKey"), "{}", missing.stderr);
    assert_eq!(
        fs::read(&dst).unwrap(),
        fs::read("../Cargo.toml").unwrap(),
        "the old file stays whole"
    );
}

#[test]
fn secrets_are_read_byte_for_byte_and_a_refusal_names_the_secret_not_its_value() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let value = "s3cr3t 'value' $HOME\n\n";
    let plain = dir.path().join("plain.txt");
    fs::write(&plain, value).unwrap();
    let plain_file = format!("file://{}", plain.display());

    let key = sandbox.aws_json(&["kms", "create-key"]);
    let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap();
    let encrypted = sandbox.aws_json(&[
        "kms",
        "encrypt",
        "--key-id",
        key_id,
        "--plaintext",
        &format!("fileb://{}", plain.display()),
    ]);
    let blob = encrypted["CiphertextBlob"].as_str().unwrap();
    let decrypted = sandbox.stage("harness", &[], &["secret", "kms", blob]);
    ok(&decrypted);
    assert_eq!(
        decrypted.stdout, value,
        "byte for byte, trailing newlines kept"
    );

    sandbox.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/ecsub/test/token",
        "--type",
        "SecureString",
        "--value",
        &plain_file,
    ]);
    let parameter = sandbox.stage("harness", &[], &["secret", "ssm", "/ecsub/test/token"]);
    ok(&parameter);
    assert_eq!(parameter.stdout, value);

    sandbox.aws_json(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "ecsub/test/token",
        "--secret-string",
        &plain_file,
    ]);
    let secret = sandbox.stage(
        "harness",
        &[],
        &["secret", "secretsmanager", "ecsub/test/token"],
    );
    ok(&secret);
    assert_eq!(secret.stdout, value);

    // The stack's user may not decrypt: the refusal names the action and the ciphertext's length, not the value.
    let refused = sandbox.stage("cli", &[], &["secret", "kms", blob]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.starts_with(&format!(
            "ecsub: kms:Decrypt of the KMS ciphertext ({} base64 characters) failed: AccessDenied",
            blob.len()
        )),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());
    let missing = sandbox.stage("harness", &[], &["secret", "ssm", "/ecsub/test/none"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.starts_with(
            "ecsub: ssm:GetParameter of the SSM parameter /ecsub/test/none failed: ParameterNotFound"
        ),
        "{}",
        missing.stderr
    );
    let garbled = sandbox.stage("harness", &[], &["secret", "kms", "not base64!"]);
    assert_eq!(garbled.code, 1);
    assert!(
        garbled
            .stderr
            .starts_with("ecsub: the KMS ciphertext (11 characters) is not base64"),
        "{}",
        garbled.stderr
    );
    for ran in [&refused, &missing, &garbled] {
        assert!(!ran.stderr.contains("s3cr3t"), "{}", ran.stderr);
    }
}

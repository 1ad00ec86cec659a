//! The stager reaches every task without the image's help (issue 9): `ecsub-cli publish-stager` put it in the
//! stack's bucket when the sandbox was deployed, each instance's user data fetched it with the instance role's own
//! signature (curl's SigV4 over the emulated metadata service's credentials; the gateway checks signatures) and
//! checked its SHA-256, and the task definition mounts it read-only. The container's PATH has no AWS CLI and no
//! Python: every copy, ranged read and secret of run.sh goes through the stager.

use ecsub_e2e::jobs::{assert_nothing_running, job_id_of, push, summary, with_wordcount, write};
use ecsub_e2e::{Options, Sandbox};
use serde_json::{json, Value};

fn manifest(sandbox: &Sandbox) -> Value {
    let url = format!("s3://{}/ecsub/stage/manifest.json", sandbox.bucket());
    serde_json::from_slice(&sandbox.object(&url).expect("the stager is published")).unwrap()
}

#[test]
fn a_task_has_the_published_stager_read_only_and_no_aws_cli_or_python() {
    let sandbox = with_wordcount();
    let published = manifest(&sandbox);
    let stagers = published["stagers"].as_array().unwrap();
    assert_eq!(stagers.len(), 1, "{published}");
    assert_eq!(
        stagers[0]["arch"],
        std::env::consts::ARCH,
        "the workspace's own build"
    );
    let sha = stagers[0]["sha256"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "look.tsv",
        "--output OUT\ns3://ecsub-wordcount/look/out.txt\n",
    );
    let script = write(
        dir.path(),
        "look.sh",
        "mkdir -p \"$(dirname \"$OUT\")\"\n\
         { if command -v aws >/dev/null; then echo aws; else echo no-aws; fi\n\
           if command -v python3 >/dev/null || command -v python >/dev/null; then echo python; else echo no-python; fi\n\
           sha256sum /opt/ecsub/bin/ecsub-stage | cut -d' ' -f1\n\
           if touch /opt/ecsub/bin/planted 2>/dev/null; then echo writable; else echo read-only; fi\n\
           test -s /opt/ecsub/bin/ca-bundle.pem && echo ca-bundle\n\
         } > \"$OUT\"\n",
    );
    // An image with a shell and nothing else (the default image is a Python one, which has Python).
    let image = "public.ecr.aws/docker/library/busybox:stable";
    let pushed = push(&sandbox, &tasks, &script, &["--wait", "--image", image]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let seen = sandbox
        .object("s3://ecsub-wordcount/look/out.txt")
        .expect("the task's output was uploaded by the stager");
    assert_eq!(
        String::from_utf8(seen).unwrap(),
        format!("no-aws\nno-python\n{sha}\nread-only\nca-bundle\n")
    );
    assert_nothing_running(&sandbox, &job_id_of(&pushed));
}

#[test]
fn a_stack_whose_stager_is_not_published_refuses_jobs_and_says_how_to_publish_it() {
    let sandbox = with_wordcount();
    let url = format!("s3://{}/ecsub/stage/manifest.json", sandbox.bucket());
    let removed = sandbox.aws(&["s3", "rm", &url]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &["--wait"],
    );
    assert_eq!(pushed.code, 2, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let bucket = sandbox.bucket();
    assert_eq!(
        pushed.stdout.lines().skip(1).collect::<Vec<_>>(),
        [
            format!("job {job}: rejected").as_str(),
            format!(
                "  the stack has no stager (s3://{bucket}/ecsub/stage/manifest.json is missing): publish it with \
                 `ecsub-cli publish-stager --aws-s3-bucket s3://{bucket} PATH-TO-ecsub-stage` (README: Deploy)"
            )
            .as_str(),
        ]
    );
    assert!(sandbox.live_instances(&job).is_empty());
}

#[test]
fn an_instance_whose_stager_is_not_the_published_digest_never_joins_and_is_terminated() {
    let sandbox = Sandbox::start_with(&Options::with_parameters(&[("JoinTimeoutSeconds", "5")]));
    sandbox.upload_wordcount_inputs();
    let bucket = sandbox.bucket().to_owned();
    let published = manifest(&sandbox);
    let real = published["stagers"][0]["key"].as_str().unwrap();
    // The manifest names a digest the bytes under its key do not have (a corrupted or tampered upload).
    let zeros = "0".repeat(64);
    let arch = std::env::consts::ARCH;
    let forged = format!("ecsub/stage/{arch}/{zeros}");
    let copied = sandbox.aws(&[
        "s3",
        "cp",
        &format!("s3://{bucket}/{real}"),
        &format!("s3://{bucket}/{forged}"),
    ]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    let dir = tempfile::tempdir().unwrap();
    let manifest_file = write(
        dir.path(),
        "manifest.json",
        &json!({ "stagers": [{ "arch": arch, "key": forged, "sha256": zeros }] }).to_string(),
    );
    let put = sandbox.aws(&[
        "s3",
        "cp",
        &manifest_file,
        &format!("s3://{bucket}/ecsub/stage/manifest.json"),
    ]);
    assert_eq!(put.code, 0, "{}", put.stderr);
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &["--wait", "--task-range", "0"],
    );
    assert_eq!(pushed.code, 1, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let s = summary(&sandbox, &job);
    let reason = s["tasks"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Ecsub.InstanceNeverJoined: instance i-"),
        "{reason}"
    );
    let said = sandbox.user_data_logs().join("\n");
    assert!(
        said.contains(&format!("is not the stager whose SHA-256 is {zeros}"))
            && said.contains("cannot fetch the stager: this instance shuts down (and terminates)"),
        "{said}"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn an_instance_type_of_an_architecture_without_a_stager_is_not_launched() {
    let sandbox = with_wordcount();
    // The sandbox published the workspace's x86_64 build only; t4g is arm64 (Graviton).
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &[
            "--wait",
            "--task-range",
            "0",
            "--aws-ec2-instance-type",
            "t4g.micro",
        ],
    );
    assert_eq!(pushed.code, 1, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let reason = summary(&sandbox, &job)["tasks"][0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        reason,
        "Ecsub.LaunchFailed: the stack published no stager for t4g.micro (aarch64): publish one for that \
         architecture (ecsub-cli publish-stager)"
    );
    assert!(sandbox.live_instances(&job).is_empty());
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn secrets_by_reference_reach_the_task_and_are_in_no_object_log_or_task_definition() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let (db, token) = ("db-pass-7f3a9c\n", "tok-51e0b2d8");
    let db_file = write(dir.path(), "db", db);
    let token_file = write(dir.path(), "token", token);
    sandbox.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/ecsub/db",
        "--type",
        "SecureString",
        "--value",
        &format!("file://{db_file}"),
    ]);
    sandbox.aws_json(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "ecsub/token",
        "--secret-string",
        &format!("file://{token_file}"),
    ]);
    let tasks = write(
        dir.path(),
        "secrets.tsv",
        "--secret-env DB\t--secret-env TOKEN\t--output OUT\n\
         ssm:/ecsub/db\tsecretsmanager:ecsub/token\ts3://ecsub-wordcount/secrets/out.txt\n",
    );
    // The task proves it has both values, byte for byte, without writing them anywhere.
    let script = write(
        dir.path(),
        "secrets.sh",
        "mkdir -p \"$(dirname \"$OUT\")\"\n\
         printf '%s|%s' \"$DB\" \"$TOKEN\" | sha256sum | cut -d' ' -f1 > \"$OUT\"\n",
    );
    let image = "public.ecr.aws/docker/library/busybox:stable";
    let pushed = push(&sandbox, &tasks, &script, &["--wait", "--image", image]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let digest = {
        use std::io::Write as _;
        let mut sha = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        sha.stdin
            .take()
            .unwrap()
            .write_all(format!("{db}|{token}").as_bytes())
            .unwrap();
        let out = sha.wait_with_output().unwrap().stdout;
        String::from_utf8(out)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned()
            + "\n"
    };
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/secrets/out.txt")
            .unwrap(),
        digest.as_bytes()
    );

    for value in [db.trim_end(), token] {
        for bucket in [sandbox.bucket(), "ecsub-wordcount"] {
            for key in sandbox.keys(bucket, "") {
                let bytes = sandbox
                    .object(&format!("s3://{bucket}/{key}"))
                    .unwrap_or_default();
                assert!(
                    !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                    "s3://{bucket}/{key} holds a secret"
                );
            }
        }
        assert_eq!(
            sandbox.files_containing(value.as_bytes()),
            Vec::<std::path::PathBuf>::new()
        );
        for status in ["ACTIVE", "INACTIVE"] {
            let listed = sandbox.aws_json(&["ecs", "list-task-definitions", "--status", status]);
            for arn in listed["taskDefinitionArns"].as_array().unwrap() {
                let described = sandbox.aws_json(&[
                    "ecs",
                    "describe-task-definition",
                    "--task-definition",
                    arn.as_str().unwrap(),
                ]);
                assert!(
                    !described.to_string().contains(value),
                    "{arn} holds a secret"
                );
            }
        }
    }
    assert_nothing_running(&sandbox, &job);

    // A reference outside the stack's SecretsPrefix (ecsub/) is refused at submit, naming the way out.
    let outside = write(
        dir.path(),
        "outside.tsv",
        "--secret-env DB\t--output OUT\nssm:/prod/db\ts3://ecsub-wordcount/secrets/no.txt\n",
    );
    let refused = push(&sandbox, &outside, &script, &["--wait"]);
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stdout.contains(
            "(`--secret-env DB`): the SSM parameter `prod/db` is not under the stack's secrets prefix `ecsub/`"
        ),
        "{}",
        refused.stdout
    );
}

#[test]
fn a_task_may_not_replace_the_stager_even_when_every_bucket_is_a_data_bucket() {
    let sandbox = Sandbox::start_with(&Options::with_parameters(&[("DataBuckets", "*")]));
    sandbox.upload_wordcount_inputs();
    let bucket = sandbox.bucket().to_owned();
    let before = manifest(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "plant.tsv",
        "--output OUT\ns3://ecsub-wordcount/plant/out.txt\n",
    );
    // The user's own AWS CLI (an image that ships it), with the task role that may write any bucket's objects.
    let script = write(
        dir.path(),
        "plant.sh",
        &format!(
            "mkdir -p \"$(dirname \"$OUT\")\"\n\
             for key in manifest.json x86_64/planted; do\n\
               if aws s3 cp --quiet /etc/hostname s3://{bucket}/ecsub/stage/$key 2>/dev/null; then echo written; else echo refused; fi\n\
             done > \"$OUT\"\n\
             aws s3 cp --quiet /etc/hostname s3://{bucket}/elsewhere.txt && echo written >> \"$OUT\"\n"
        ),
    );
    let image = "public.ecr.aws/aws-cli/aws-cli";
    let pushed = push(&sandbox, &tasks, &script, &["--wait", "--image", image]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/plant/out.txt")
            .unwrap(),
        b"refused\nrefused\nwritten\n",
        "the stager's prefix only is out of the task's reach"
    );
    assert_eq!(manifest(&sandbox), before);
    assert_nothing_running(&sandbox, &job_id_of(&pushed));
}

/// A referenced secret under a customer-managed KMS key needs kms:Decrypt on that key besides the read
/// ("GetSecretValue": required permissions; SSM SecureStrings alike; AWS review 2026-12, finding 5): the emulated
/// Secrets Manager and SSM ask it, through their service (kms:ViaService). A stack that does not name the key in
/// SecretsReferenceKeyArns fails the task's setup (122) saying AccessDenied; one that names it runs the task.
#[test]
fn a_secret_under_a_customer_managed_key_needs_the_key_named_in_secrets_reference_key_arns() {
    fn run(sandbox: &Sandbox) -> (i32, Value) {
        let dir = tempfile::tempdir().unwrap();
        let key = sandbox.aws_json(&["kms", "create-key", "--description", "team secrets"]);
        let key = key["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
        sandbox.aws_json(&[
            "ssm",
            "put-parameter",
            "--name",
            "/ecsub/cmk-db",
            "--type",
            "SecureString",
            "--key-id",
            &key,
            "--value",
            "db-pass-cmk",
        ]);
        sandbox.aws_json(&[
            "secretsmanager",
            "create-secret",
            "--name",
            "ecsub/cmk-token",
            "--kms-key-id",
            &key,
            "--secret-string",
            "tok-cmk",
        ]);
        let tasks = write(
            dir.path(),
            "cmk.tsv",
            "--secret-env DB\t--secret-env TOKEN\t--output OUT\n\
             ssm:/ecsub/cmk-db\tsecretsmanager:ecsub/cmk-token\ts3://ecsub-wordcount/cmk/out.txt\n",
        );
        let script = write(
            dir.path(),
            "cmk.sh",
            "mkdir -p \"$(dirname \"$OUT\")\"\nprintf '%s|%s' \"${#DB}\" \"${#TOKEN}\" > \"$OUT\"\n",
        );
        let pushed = push(sandbox, &tasks, &script, &["--wait"]);
        assert!(
            pushed.code == 0 || pushed.code == 1,
            "{}\n{}",
            pushed.stdout,
            pushed.stderr
        );
        let job = job_id_of(&pushed);
        let s = summary(sandbox, &job);
        assert_nothing_running(sandbox, &job);
        (pushed.code, s)
    }

    let plain = with_wordcount();
    let (code, s) = run(&plain);
    assert_eq!(code, 1, "{s}");
    assert_eq!(s["tasks"][0]["exit_code"], 122, "{s}");
    let denied = plain.control_get("/denials").to_string();
    assert!(
        denied.contains("kms:Decrypt"),
        "the task was not refused the key: {denied}"
    );

    let keys = "arn:aws:kms:us-east-1:123456789012:key/*";
    let granted = Sandbox::start_with(&Options::with_parameters(&[(
        "SecretsReferenceKeyArns",
        keys,
    )]));
    granted.upload_wordcount_inputs();
    let (code, s) = run(&granted);
    assert_eq!(code, 0, "{s}\n{}", granted.log_tail());
    assert_eq!(
        granted.object("s3://ecsub-wordcount/cmk/out.txt").unwrap(),
        b"11|7"
    );
}

//! Private images: `--image-credentials secretsmanager:NAME` pulls from a registry that refuses anonymous pulls
//! (the emulated `ghcr.io/ecsub-lab/`), through ECS's `repositoryCredentials`, read by the stack's execution role,
//! which may read the secrets prefix only; and another account's ECR, by its repository policy.

use ecsub_e2e::jobs::{
    assert_nothing_running, attempt_record, job_id_of, push, summary, with_wordcount, write,
};
use serde_json::{json, Value};

const IMAGE: &str = "ghcr.io/ecsub-lab/aligner:2.1";

#[test]
fn a_private_image_is_pulled_with_its_credentials_and_refused_without() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    for (name, secret) in [
        (
            "ecsub/ghcr",
            r#"{"username": "lab-bot", "password": "ghp_sandbox_token"}"#,
        ),
        (
            "ecsub/ghcr-expired",
            r#"{"username": "lab-bot", "password": "ghp_expired"}"#,
        ),
        (
            "elsewhere/ghcr",
            r#"{"username": "lab-bot", "password": "ghp_sandbox_token"}"#,
        ),
    ] {
        sandbox.aws_json(&[
            "secretsmanager",
            "create-secret",
            "--name",
            name,
            "--secret-string",
            secret,
        ]);
    }
    let tasks = write(
        dir.path(),
        "private.tsv",
        "--output OUT\ns3://ecsub-wordcount/private/out.txt\n",
    );
    let script = write(
        dir.path(),
        "private.sh",
        "mkdir -p \"$(dirname \"$OUT\")\" && echo pulled > \"$OUT\"\n",
    );

    let pulled = push(
        &sandbox,
        &tasks,
        &script,
        &[
            "--wait",
            "--image",
            IMAGE,
            "--image-credentials",
            "secretsmanager:ecsub/ghcr",
        ],
    );
    assert_eq!(pulled.code, 0, "{}\n{}", pulled.stdout, pulled.stderr);
    let job = job_id_of(&pulled);
    assert_eq!(summary(&sandbox, &job)["succeeded"], 1);
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/private/out.txt")
            .unwrap(),
        b"pulled\n"
    );
    assert_nothing_running(&sandbox, &job);

    // Anonymously, and with credentials the registry does not take: the task fails as an image that could not be
    // pulled, saying so, and no instance is left.
    for extra in [
        &[][..],
        &["--image-credentials", "secretsmanager:ecsub/ghcr-expired"][..],
    ] {
        let mut args = vec!["--wait", "--image", IMAGE];
        args.extend_from_slice(extra);
        let refused = push(&sandbox, &tasks, &script, &args);
        assert_ne!(refused.code, 0, "{extra:?}: {}", refused.stdout);
        let job = job_id_of(&refused);
        let record = attempt_record(&sandbox, &job, 0, 1).expect("the attempt's record");
        assert_eq!(record["class"], "image-pull", "{extra:?}: {record}");
        assert!(
            record["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("unauthorized: authentication required"),
            "{extra:?}: {record}"
        );
        assert_nothing_running(&sandbox, &job);
    }

    // A secret outside the stack's prefix is refused at submit: the execution role could not read it.
    let outside = push(
        &sandbox,
        &tasks,
        &script,
        &[
            "--wait",
            "--image",
            IMAGE,
            "--image-credentials",
            "secretsmanager:elsewhere/ghcr",
        ],
    );
    assert_eq!(outside.code, 2, "{}\n{}", outside.stdout, outside.stderr);
    assert!(
        outside.stdout.contains(
            "--image-credentials: the Secrets Manager secret `elsewhere/ghcr` is not under the stack's secrets \
             prefix `ecsub/`"
        ),
        "{}",
        outside.stdout
    );
}

/// An image in another account's ECR (a team's shared registry): the instance's role pulls it when the
/// repository's policy lets this account, and the pull is refused (403, the attempt's `image-pull` class) when it
/// does not.
#[test]
fn another_accounts_ecr_image_pulls_when_its_repository_policy_lets_this_account() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let account = sandbox.info["account"].as_str().unwrap().to_owned();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "LabAccountPulls",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
        }],
    });
    let shared = sandbox.control_post(
        "/ecr-repository",
        &json!({ "account": "444455556666", "name": "team/aligner", "policy": policy }),
    );
    let closed = sandbox.control_post(
        "/ecr-repository",
        &json!({ "account": "444455556666", "name": "team/closed" }),
    );
    let tasks = write(
        dir.path(),
        "ecr.tsv",
        "--output OUT\ns3://ecsub-wordcount/ecr/out.txt\n",
    );
    let script = write(
        dir.path(),
        "ecr.sh",
        "mkdir -p \"$(dirname \"$OUT\")\" && echo pulled > \"$OUT\"\n",
    );
    let image = |repository: &Value| format!("{}:1.0", repository["repository"].as_str().unwrap());

    let pulled = push(
        &sandbox,
        &tasks,
        &script,
        &["--wait", "--image", &image(&shared)],
    );
    assert_eq!(pulled.code, 0, "{}\n{}", pulled.stdout, pulled.stderr);
    assert_eq!(
        sandbox.object("s3://ecsub-wordcount/ecr/out.txt").unwrap(),
        b"pulled\n"
    );
    assert_nothing_running(&sandbox, &job_id_of(&pulled));

    let refused = push(
        &sandbox,
        &tasks,
        &script,
        &["--wait", "--image", &image(&closed)],
    );
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let job = job_id_of(&refused);
    let record = attempt_record(&sandbox, &job, 0, 1).expect("the attempt's record");
    assert_eq!(record["class"], "image-pull", "{record}");
    assert!(
        record["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("403 Forbidden"),
        "{record}"
    );
    assert_nothing_running(&sandbox, &job);
}

//! What a stack lets a job do, and what it keeps apart, end to end on the emulated cloud with IAM enforced: a job
//! runs with the stack's own roles, on its data buckets, with scripts from its own bucket; two stacks in one
//! account do not touch each other's jobs; a task gets exactly what ECS gives a container (the task definition's
//! entry point, user, region, the task role) and nothing from the harness.

use ecsub_e2e::jobs::{
    all_instances, assert_exit, assert_nothing_running, cluster_of, fire, job_id_of, jobs_named,
    push, summary, until_running, with_wordcount, write,
};
use ecsub_e2e::{Options, Sandbox};
use serde_json::{json, Value};

const WORDCOUNT: (&str, &str) = (
    "examples/wordcount/wordcount.tsv",
    "examples/wordcount/wordcount.sh",
);

fn rejected_lines(pushed: &ecsub_e2e::Ran) -> Vec<String> {
    assert_eq!(pushed.code, 2, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(pushed);
    let lines: Vec<String> = pushed.stdout.lines().skip(1).map(str::to_owned).collect();
    assert_eq!(
        lines[0],
        format!("job {job}: rejected"),
        "{}",
        pushed.stdout
    );
    lines[1..].to_vec()
}

fn assert_nothing_started(sandbox: &Sandbox, job: &str) {
    assert!(sandbox.executions().is_empty(), "an execution started");
    assert!(
        all_instances(sandbox, job).is_empty(),
        "an instance was launched"
    );
}

#[test]
fn a_job_naming_a_role_outside_the_stack_is_refused_at_submit() {
    let sandbox = with_wordcount();
    let pushed = push(
        &sandbox,
        WORDCOUNT.0,
        WORDCOUNT.1,
        &["--wait", "--aws-ecs-instance-role-name", "AdminRole"],
    );
    assert_eq!(
        rejected_lines(&pushed),
        ["  --aws-ecs-instance-role-name `AdminRole`: a stack runs its instances and tasks with its own roles \
          only (ecsub-InstanceProfile, ecsub-InstanceRole); drop the option, or give the stack's task role the access \
          the job needs"]
    );
    assert_nothing_started(&sandbox, &job_id_of(&pushed));
}

#[test]
fn an_inbox_drop_whose_script_is_in_another_bucket_is_refused() {
    let sandbox = with_wordcount();
    // A data bucket the tasks may use, but not a place the stack takes scripts from.
    let elsewhere = "s3://ecsub-wordcount/script/wordcount.sh";
    let copied = sandbox.aws(&["s3", "cp", WORDCOUNT.1, elsewhere]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(ecsub_e2e::repo().join(WORDCOUNT.0)).unwrap();
    let tasks = write(
        dir.path(),
        "borrowed.tsv",
        &format!("#ecsub: --script {elsewhere} --waiter-delay 1\n{example}"),
    );
    let dropped = sandbox.aws(&[
        "s3",
        "cp",
        &tasks,
        &format!("s3://{}/inbox/borrowed.tsv", sandbox.bucket()),
    ]);
    assert_eq!(dropped.code, 0, "{}", dropped.stderr);
    let error_url = format!("s3://{}/inbox/borrowed.tsv.error.txt", sandbox.bucket());
    let error = sandbox.until(30, "the error object", || sandbox.object(&error_url));
    assert_eq!(
        String::from_utf8(error).unwrap(),
        format!(
            "borrowed.tsv: --script `{elsewhere}`: the stack reads scripts and tasks files from its own bucket only: \
             copy it to s3://{}/…\n",
            sandbox.bucket()
        )
    );
    assert!(sandbox.executions().is_empty());
    assert!(
        jobs_named(&sandbox, "borrowed").is_empty(),
        "a job was written"
    );
}

#[test]
fn a_job_using_a_bucket_outside_the_data_buckets_is_refused_at_submit() {
    let sandbox = with_wordcount();
    let made = sandbox.aws(&["s3", "mb", "s3://private-stuff"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "private.tsv",
        "--input IN\t--output OUT\ns3://private-stuff/a.txt\ts3://ecsub-wordcount/out/a.txt\n",
    );
    let script = write(dir.path(), "private.sh", "cp \"$IN\" \"$OUT\"\n");
    let pushed = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_eq!(
        rejected_lines(&pushed),
        ["  private.tsv:2: task 0 (`--input IN`): the bucket `private-stuff` is not one of the stack's data \
          buckets (ecsub-wordcount): add it to the stack's DataBuckets parameter"]
    );
    assert_nothing_started(&sandbox, &job_id_of(&pushed));
}

#[test]
fn a_task_runs_with_the_stacks_task_role_and_reaches_only_the_data_buckets() {
    let sandbox = with_wordcount();
    let made = sandbox.aws(&["s3", "mb", "s3://private-stuff"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let secret = sandbox.aws(&["s3", "cp", WORDCOUNT.1, "s3://private-stuff/secret.txt"]);
    assert_eq!(secret.code, 0, "{}", secret.stderr);
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "reach.tsv",
        "--output OUT\ns3://ecsub-wordcount/reach/out.txt\n",
    );
    let script = write(
        dir.path(),
        "reach.sh",
        "mkdir -p \"$(dirname \"$OUT\")\"\n\
         if aws s3 cp --quiet s3://private-stuff/secret.txt /tmp/secret.txt 2>/dev/null; then echo leaked; else echo refused; fi > \"$OUT\"\n\
         aws sts get-caller-identity --query Arn --output text | cut -d/ -f2 >> \"$OUT\"\n\
         arn=$(env -u AWS_CONTAINER_CREDENTIALS_FULL_URI aws sts get-caller-identity --query Arn --output text 2>/dev/null) || arn=/none\n\
         echo \"$arn\" | cut -d/ -f2 >> \"$OUT\"\n",
    );
    // The last line: without the task role's endpoint, the AWS CLI falls back to the instance metadata service,
    // which a bridged container reaches through the host. On the ECS-optimized AMI's own defaults (IMDSv2 with a
    // hop limit of 2) it would answer with the instance role (ecsub-InstanceRole); the launcher's hop limit of 1
    // leaves the container nothing.
    // The user's own AWS CLI calls need an image that ships it (the emulated images have none by default).
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &["--wait", "--image", "public.ecr.aws/aws-cli/aws-cli"],
    );
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let out = sandbox
        .object("s3://ecsub-wordcount/reach/out.txt")
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "refused\necsub-TaskRole\nnone\n"
    );
    assert_nothing_running(&sandbox, &job_id_of(&pushed));
}

/// The other stack's name has CloudFormation's 128 characters, more than a state machine's name holds (80), and
/// starts with the first one's.
fn long_stack_name() -> String {
    format!("ecsub-dev-{}", "x".repeat(118))
}

#[test]
fn two_stacks_in_one_account_run_a_job_each_and_one_sweep_touches_nothing_of_the_other() {
    let long = long_stack_name();
    let sandbox = Sandbox::start_with(&Options {
        stacks: vec![("ecsub".to_owned(), Vec::new()), (long.clone(), Vec::new())],
        time_scale: None,
        lambda_processes: None,
    });
    // Exactly-once delivery: it counts each function's invocations to show which events reached it.
    sandbox.deliver_exactly_once();
    sandbox.upload_wordcount_inputs();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "both.tsv",
        "--env N\t--output OUT\n1\ts3://ecsub-wordcount/both/ONE.txt\n",
    );
    let script = write(
        dir.path(),
        "both.sh",
        "sleep 8\nmkdir -p \"$(dirname \"$OUT\")\" && echo \"$ECSUB_JOB_ID\" > \"$OUT\"\n",
    );
    let args = |stack: &str| {
        let tsv = std::fs::read_to_string(&tasks)
            .unwrap()
            .replace("ONE", stack);
        let path = write(dir.path(), &format!("{stack}.tsv"), &tsv);
        let mut args = vec![
            "push".to_owned(),
            "--waiter-delay".to_owned(),
            "1".to_owned(),
            "--tasks".to_owned(),
            path,
            "--script".to_owned(),
            script.clone(),
        ];
        if stack != "ecsub" {
            // ecsub's option, kept: the group is named as asked, under the stack's prefix.
            args.extend(["--aws-log-group-name".to_owned(), "team/wc".to_owned()]);
        }
        args
    };
    let run = |stack: &str| {
        let args = args(stack);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pushed = sandbox.cli_for(stack, &args);
        assert_eq!(pushed.code, 0, "{}", pushed.stderr);
        job_id_of(&pushed)
    };
    let (mine, theirs) = (run("ecsub"), run(&long));
    until_running(&sandbox, 2, 60);
    // The old sweep terminated every instance tagged ecsub:job whose execution it could not find in its own
    // state machine: the other stack's, every hour.
    fire(&sandbox, "JanitorFunctionSweep");
    sandbox.settled(30);
    assert_eq!(
        sandbox.live_instances(&theirs).len(),
        1,
        "the sweep touched the other stack's instance"
    );
    for (stack, job) in [("ecsub", &mine), (long.as_str(), &theirs)] {
        let bucket = sandbox.stack(stack)["bucket"].as_str().unwrap().to_owned();
        let summary_url = format!("s3://{bucket}/jobs/{job}/summary.json");
        let bytes = sandbox.until(90, "the job to end", || sandbox.object(&summary_url));
        let s: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(s["succeeded"], 1, "{stack}: {s}");
        assert_eq!(
            s["tasks"][0]["attempts"], 1,
            "{stack}: the task was not cut short: {s}"
        );
        assert_eq!(
            sandbox
                .object(&format!("s3://ecsub-wordcount/both/{stack}.txt"))
                .unwrap(),
            format!("{job}\n").into_bytes()
        );
    }
    let invocations = sandbox.control_get("/invocations");
    assert_eq!(
        invocations["ecsub-task-stopped"], 1,
        "only its own STOPPED events: {invocations}"
    );
    let theirs_stopped = sandbox.stack(&long)["functions"]["TaskStoppedFunction"].clone();
    assert_eq!(
        invocations[theirs_stopped.as_str().unwrap()],
        1,
        "{invocations}"
    );
    // Each stack's containers log under its own prefix, which its policies name (a user of one cannot read the
    // other's), and each state machine carries its stack's name.
    for (stack, job) in [("ecsub", &mine), (long.as_str(), &theirs)] {
        let name = if stack == "ecsub" {
            job.as_str()
        } else {
            "team/wc"
        };
        let group = format!("/ecsub/{stack}/{name}");
        let groups = sandbox.aws_json(&[
            "logs",
            "describe-log-groups",
            "--log-group-name-prefix",
            &group,
        ]);
        assert_eq!(
            groups["logGroups"][0]["logGroupName"],
            group.as_str(),
            "{groups}"
        );
        let logs = sandbox.cli_for(stack, &["logs", job]);
        assert_eq!(logs.code, 0, "{}", logs.stderr);
        assert!(
            logs.stdout
                .contains(&format!("(succeeded): {group} ecsub/main/")),
            "{}",
            logs.stdout
        );
        let arn = sandbox.stack(stack)["state_machine_arn"]
            .as_str()
            .unwrap()
            .to_owned();
        let tags = sandbox.aws_json(&[
            "stepfunctions",
            "list-tags-for-resource",
            "--resource-arn",
            &arn,
        ]);
        assert!(
            tags["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["key"] == "ecsub:stack" && t["value"] == stack),
            "{arn}: {tags}"
        );
    }

    assert_eq!(sandbox.control_get("/denials"), json!([]));
    assert_nothing_running(&sandbox, &mine);
    assert_nothing_running(&sandbox, &theirs);
}

#[test]
fn a_requester_pays_bucket_is_read_and_written_with_the_requester_paying() {
    let sandbox = Sandbox::start_with(&Options::with_parameters(&[(
        "DataBuckets",
        "ecsub-wordcount,ecsub-open-data",
    )]));
    sandbox.upload_wordcount_inputs();
    let made = sandbox.aws(&["s3", "mb", "s3://ecsub-open-data"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let copied = sandbox.aws(&[
        "s3",
        "cp",
        "examples/wordcount/s3/ecsub-wordcount/input/hamlet.txt",
        "s3://ecsub-open-data/plays/hamlet.txt",
    ]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    // From here on it is another account's requester-pays bucket.
    sandbox.fault(&json!({ "kind": "requester-pays", "bucket": "ecsub-open-data" }));
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "open.tsv",
        "--input IN\t--output OUT\ns3://ecsub-open-data/plays/hamlet.txt\ts3://ecsub-open-data/counts/hamlet.txt\n",
    );
    let script = write(
        dir.path(),
        "open.sh",
        "mkdir -p \"$(dirname \"$OUT\")\" && wc -l < \"$IN\" > \"$OUT\"\n",
    );
    let refused = push(&sandbox, &tasks, &script, &["--wait"]);
    let lines = rejected_lines(&refused);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "  open.tsv:2: task 0 (`--input IN`): cannot check input `s3://ecsub-open-data/plays/hamlet.txt`: \
             HeadObject s3://ecsub-open-data/plays/hamlet.txt: "
        ) && lines[0].ends_with("(a requester-pays bucket needs --request-payer-bucket ecsub-open-data)"),
        "{lines:?}"
    );
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &["--wait", "--request-payer-bucket", "ecsub-open-data"],
    );
    assert_exit(&sandbox, &pushed, 0);
    let counted = sandbox.aws(&[
        "s3api",
        "get-object",
        "--bucket",
        "ecsub-open-data",
        "--key",
        "counts/hamlet.txt",
        "--request-payer",
        "requester",
        "/dev/stdout",
    ]);
    assert!(counted.stdout.starts_with("393\n"), "{}", counted.stdout);
    assert_nothing_running(&sandbox, &job_id_of(&pushed));
}

#[test]
fn an_image_with_its_own_entrypoint_still_runs_ecsubs_command() {
    let sandbox = with_wordcount();
    // amazon/aws-cli's ENTRYPOINT is `aws`: given only a command, the container would run `aws sh -c …`. The
    // image has no python3 on its PATH, so the count is done by the shell.
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "count.sh",
        "mkdir -p \"$(dirname \"$OUTPUT_FILE\")\" && wc -w < \"$INPUT_FILE\" > \"$OUTPUT_FILE\"\n",
    );
    let pushed = push(
        &sandbox,
        WORDCOUNT.0,
        &script,
        &["--wait", "--task-range", "0", "--image", "amazon/aws-cli"],
    );
    assert_exit(&sandbox, &pushed, 0);
    let job = job_id_of(&pushed);
    let definition = sandbox.aws_json(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        &cluster_of(&sandbox, &job),
        "--include",
        "TAGS",
    ]);
    let container = &definition["taskDefinition"]["containerDefinitions"][0];
    assert_eq!(container["entryPoint"], json!(["sh", "-c"]));
    let env: Vec<&str> = container["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| kv["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        env,
        [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_RETRY_MODE",
            "AWS_MAX_ATTEMPTS"
        ]
    );
    assert!(definition["taskDefinition"]["taskRoleArn"]
        .as_str()
        .unwrap()
        .ends_with(":role/ecsub-TaskRole"));
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn an_image_that_runs_as_an_unprivileged_user_can_use_its_scratch_folder() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "nonroot.tsv",
        "--output OUT\ns3://ecsub-wordcount/nonroot/id.txt\n",
    );
    let script = write(
        dir.path(),
        "nonroot.sh",
        "mkdir -p \"$(dirname \"$OUT\")\" && { id -u; pwd; } > \"$OUT\"\n",
    );
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &["--wait", "--image", "sandbox/nonroot"],
    );
    assert_exit(&sandbox, &pushed, 0);
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/nonroot/id.txt")
            .unwrap(),
        b"1000\n/scratch\n"
    );
    assert_nothing_running(&sandbox, &job_id_of(&pushed));
}

#[test]
fn a_secret_env_is_decrypted_in_the_container_with_the_stacks_key_and_its_region() {
    let sandbox = Sandbox::start_with(&Options::with_parameters(&[(
        "SecretsKeyArn",
        "${kms-key:ecsub-secrets}",
    )]));
    sandbox.upload_wordcount_inputs();
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain.txt", "s3cr3t 'value' $HOME\n\n");
    let encrypted = sandbox.aws_json(&[
        "kms",
        "encrypt",
        "--key-id",
        "alias/ecsub-secrets",
        "--plaintext",
        &format!("fileb://{plain}"),
    ]);
    let blob = encrypted["CiphertextBlob"].as_str().unwrap();
    let tasks = write(
        dir.path(),
        "secret.tsv",
        &format!("--secret-env TOKEN\t--output OUT\n{blob}\ts3://ecsub-wordcount/secret/out.txt\n"),
    );
    let script = write(
        dir.path(),
        "secret.sh",
        "mkdir -p \"$(dirname \"$OUT\")\" && printf '%s' \"$TOKEN\" > \"$OUT\"\n",
    );
    let pushed = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_exit(&sandbox, &pushed, 0);
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/secret/out.txt")
            .unwrap(),
        b"s3cr3t 'value' $HOME\n\n",
        "byte for byte, trailing newlines kept"
    );
    assert_nothing_running(&sandbox, &job_id_of(&pushed));
}

#[test]
fn an_inbox_drop_is_one_job_per_write_whatever_its_name_and_however_often_its_event_comes() {
    let sandbox = with_wordcount();
    let script_url = format!("s3://{}/scripts/wordcount.sh", sandbox.bucket());
    let copied = sandbox.aws(&["s3", "cp", WORDCOUNT.1, &script_url]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(ecsub_e2e::repo().join(WORDCOUNT.0)).unwrap();
    let tasks = write(
        dir.path(),
        "night.tsv",
        &format!("#ecsub: --script {script_url} --waiter-delay 1 --task-name night --task-range 0\n{example}"),
    );
    // EventBridge carries S3 keys as they are: `+` is not a space here, `:` and `,` are not encoded.
    let key = "inbox/night run, batch+7: a.tsv";
    let drop = || {
        let dropped = sandbox.aws(&[
            "s3",
            "cp",
            &tasks,
            &format!("s3://{}/{key}", sandbox.bucket()),
        ]);
        assert_eq!(dropped.code, 0, "{}", dropped.stderr);
    };
    drop();
    let first = sandbox.until(30, "the inbox job", || {
        jobs_named(&sandbox, "night").into_iter().next()
    });
    let summary_url = format!("s3://{}/jobs/{first}/summary.json", sandbox.bucket());
    sandbox.until(60, "the first job to end", || sandbox.object(&summary_url));
    assert_eq!(summary(&sandbox, &first)["succeeded"], 1);

    // S3 delivers the same write's event again, with a new event id: no second job.
    let redelivered = sandbox.control_post(
        "/redeliver-s3",
        &json!({ "bucket": sandbox.bucket(), "key": key }),
    );
    assert_eq!(redelivered["redelivered"], true);
    sandbox.until(20, "the duplicate to be handled", || {
        let log = std::fs::read_to_string(sandbox.dir.path().join("lambda-ecsub-submit.log"))
            .unwrap_or_default();
        log.contains("duplicate event: the job exists already")
            .then_some(())
    });
    assert_eq!(jobs_named(&sandbox, "night"), vec![first.clone()]);

    // The same bytes written again are a new drop: a new job.
    drop();
    let second = sandbox.until(30, "the second job", || {
        jobs_named(&sandbox, "night")
            .into_iter()
            .find(|j| *j != first)
    });
    let summary_url = format!("s3://{}/jobs/{second}/summary.json", sandbox.bucket());
    sandbox.until(60, "the second job to end", || sandbox.object(&summary_url));
    assert_nothing_running(&sandbox, &first);
    assert_nothing_running(&sandbox, &second);
}

#[test]
fn an_instance_whose_role_does_not_trust_ec2_never_joins_and_its_task_fails_with_the_reason() {
    let sandbox = Sandbox::start_with(&Options::with_parameters(&[("JoinTimeoutSeconds", "5")]));
    sandbox.upload_wordcount_inputs();
    // What the console's old ecsInstanceRole-as-task-role advice leads to, the other way round: a role that does
    // not trust EC2. RunInstances accepts it; the instance's metadata service then refuses its credentials
    // (AssumeRoleUnauthorizedAccess), so its ECS agent cannot register.
    let role = sandbox.stack("ecsub")["resources"]["InstanceRole"]
        .as_str()
        .unwrap()
        .to_owned();
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" }]
    });
    let updated = sandbox.aws(&[
        "iam",
        "update-assume-role-policy",
        "--role-name",
        &role,
        "--policy-document",
        &trust.to_string(),
    ]);
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    let pushed = push(
        &sandbox,
        WORDCOUNT.0,
        WORDCOUNT.1,
        &["--wait", "--task-range", "0"],
    );
    assert_exit(&sandbox, &pushed, 1);
    let job = job_id_of(&pushed);
    let reason = summary(&sandbox, &job)["tasks"][0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("Ecsub.InstanceNeverJoined: instance i-"),
        "{reason}"
    );
    // The instance's user data tries its metadata credentials for about 30 s before it gives up and shuts down;
    // the job's JoinTimeout ended the task before that.
    sandbox.until(90, "the instance to say why it never joined", || {
        let instances = sandbox.control_get("/instances");
        instances
            .as_object()
            .unwrap()
            .values()
            .filter_map(|i| i["why"].as_str())
            .any(|w| w.starts_with("instance metadata credentials: AssumeRoleUnauthorizedAccess"))
            .then_some(())
    });
    assert!(all_instances(&sandbox, &job)
        .iter()
        .all(|i| i["State"]["Name"] == "terminated"));
}

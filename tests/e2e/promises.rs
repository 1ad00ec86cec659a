//! README promises on the emulated cloud that no other test held (test audit 2026-11, §4): the job options that
//! only take effect on AWS reach the instance and the task definition, the container gets no CPU or memory hard
//! limit, `*` wildcards and `ECSUB_JOB_ID` work on the S3 transport, `--processes` bounds how many tasks overlap,
//! the aliases `submit` and `delete` do what `push` and `cancel` do, `watch` says why each task waits, and `logs
//! --follow` follows a running task.

use ecsub_e2e::jobs::{
    all_instances, assert_exit, assert_nothing_running, cluster_of, job_id_of, most_at_once, push,
    push_long, summary, with_wordcount, write,
};

#[test]
fn aws_only_job_options_reach_the_instance_and_the_task_definition() {
    let sandbox = with_wordcount();
    let key = sandbox.aws(&["ec2", "create-key-pair", "--key-name", "ecsub-key"]);
    assert_eq!(key.code, 0, "{}", key.stderr);
    let subnets = sandbox.aws_json(&["ec2", "describe-subnets"]);
    let subnet = subnets["Subnets"][0]["SubnetId"]
        .as_str()
        .unwrap()
        .to_owned();
    let groups = sandbox.aws_json(&["ec2", "describe-security-groups"]);
    let group = groups["SecurityGroups"][0]["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    let image = "public.ecr.aws/docker/library/python:3.12-alpine";
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "one.tsv", "--env I\n1\n");
    let script = write(dir.path(), "wait.sh", "sleep 6\n");
    let pushed = sandbox.cli(&[
        "submit",
        "--waiter-delay",
        "1",
        "--tasks",
        &tasks,
        "--script",
        &script,
        "--disk-size",
        "77",
        "--aws-key-name",
        "ecsub-key",
        "--aws-subnet-id",
        &subnet,
        "--aws-security-group-id",
        &group,
        "--image",
        image,
    ]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    // The volume is looked at while the instance runs: it goes with the instance.
    let instance = sandbox.until(60, "the task's instance to run", || {
        all_instances(&sandbox, &job).into_iter().find(|i| {
            i["State"]["Name"] == "running"
                && i["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].is_string()
        })
    });
    assert_eq!(instance["KeyName"], "ecsub-key", "{instance}");
    assert_eq!(instance["SubnetId"], subnet.as_str(), "{instance}");
    assert_eq!(
        instance["SecurityGroups"][0]["GroupId"],
        group.as_str(),
        "{instance}"
    );
    let volume = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        .as_str()
        .unwrap();
    let volumes = sandbox.aws_json(&["ec2", "describe-volumes", "--volume-ids", volume]);
    assert_eq!(
        volumes["Volumes"][0]["Size"], 107,
        "30 GiB for the system and Docker, and --disk-size 77 for the task"
    );
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(120, "the job's end", || sandbox.object(&summary_url));
    assert_eq!(summary(&sandbox, &job)["succeeded"], 1);
    let definition = ended_definition(&sandbox, &job);
    let container = &definition["containerDefinitions"][0];
    assert_eq!(container["image"], image);
    assert_eq!(
        container["entryPoint"],
        serde_json::json!(["sh", "-c"]),
        "{container}"
    );
    for limit in ["cpu", "memory"] {
        assert!(
            container[limit].is_null() || container[limit] == 0,
            "the container has a {limit} limit: {container}"
        );
        assert!(
            definition[limit].is_null(),
            "the task has a {limit} limit: {definition}"
        );
    }
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn wildcards_and_the_job_id_work_on_the_s3_transport() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.txt", "b.txt", ".c.txt", "skip.log", "sub/d.txt"] {
        let file = write(dir.path(), "f", name);
        let ran = sandbox.aws(&[
            "s3",
            "cp",
            &file,
            &format!("s3://ecsub-wordcount/glob/{name}"),
        ]);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
    }
    let tasks = write(
        dir.path(),
        "glob.tsv",
        "--input IN\t--output OUT\ns3://ecsub-wordcount/glob/*.txt\ts3://ecsub-wordcount/glob-out/*.out\n",
    );
    let script = write(
        dir.path(),
        "glob.sh",
        "mkdir -p \"${OUT%/*}\"\n\
         ls -A \"${IN%/*}\" > \"${OUT%/*}/seen.out\"\n\
         printf '%s' \"$ECSUB_JOB_ID\" > \"${OUT%/*}/job.out\"\n\
         echo not an output > \"${OUT%/*}/other.log\"\n",
    );
    let pushed = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let seen = sandbox
        .object("s3://ecsub-wordcount/glob-out/seen.out")
        .unwrap();
    assert_eq!(
        String::from_utf8(seen).unwrap(),
        ".c.txt\na.txt\nb.txt\n",
        "the * matched the folder's .txt files, dotfiles too, not its subfolder's"
    );
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/glob-out/job.out")
            .unwrap(),
        job.as_bytes()
    );
    assert!(sandbox
        .object("s3://ecsub-wordcount/glob-out/other.log")
        .is_none());
    assert_nothing_running(&sandbox, &job);
}

/// MaxConcurrency = --processes, measured: each task records its span, and no more than N overlap.
#[test]
fn processes_bounds_how_many_tasks_overlap_on_the_chain() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..5)
        .map(|i| format!("s3://ecsub-wordcount/spans/{i}.txt\n"))
        .collect();
    let tasks = write(dir.path(), "spans.tsv", &format!("--output OUT\n{rows}"));
    let script = write(
        dir.path(),
        "spans.sh",
        "mkdir -p \"${OUT%/*}\"\nstart=$(date +%s%N)\nsleep 2\necho \"$start $(date +%s%N)\" > \"$OUT\"\n",
    );
    let pushed = push(&sandbox, &tasks, &script, &["--wait", "--processes", "2"]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let spans: Vec<String> = (0..5)
        .map(|i| format!("s3://ecsub-wordcount/spans/{i}.txt"))
        .collect();
    let most = most_at_once(&sandbox, &spans);
    assert_eq!(most, 2, "tasks running at once with --processes 2");
    assert_nothing_running(&sandbox, &job_id_of(&pushed));
}

#[test]
fn the_delete_alias_cancels_and_status_names_the_states() {
    let sandbox = with_wordcount();
    // The submit function gets its event 3 s late, so the job is seen before it is picked up.
    sandbox.fault(&serde_json::json!({
        "kind": "delivery", "function": "ecsub-submit", "duplicate": false, "delay_ms": [3000, 3000]
    }));
    let job = push_long(&sandbox);
    let status = sandbox.cli(&["status", &job]);
    assert!(
        status
            .stdout
            .starts_with(&format!("job {job}: submitted\n")),
        "{}",
        status.stdout
    );
    sandbox.until(60, "the task to run", || {
        let status = sandbox.cli(&["status", &job]);
        status
            .stdout
            .starts_with(&format!("job {job}: running\n"))
            .then_some(())
    });
    let deleted = sandbox.cli(&["delete", &job]);
    assert_eq!(deleted.code, 0, "{}\n{}", deleted.stdout, deleted.stderr);
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(60, "the janitor's summary", || sandbox.object(&summary_url));
    assert_eq!(summary(&sandbox, &job)["failed"], 1);
    let status = sandbox.cli(&["status", &job]);
    assert!(
        status.stdout.starts_with(&format!("job {job}: failed\n")),
        "{}",
        status.stdout
    );
    assert_nothing_running(&sandbox, &job);
}

/// `inbox/defaults.json` gives a dropped tasks file that has no `#ecsub:` lines its script and options.
#[test]
fn inbox_defaults_give_a_dropped_file_its_script_and_options() {
    let sandbox = with_wordcount();
    let bucket = sandbox.bucket().to_owned();
    let script_url = format!("s3://{bucket}/scripts/wordcount.sh");
    let copied = sandbox.aws(&["s3", "cp", "examples/wordcount/wordcount.sh", &script_url]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    let dir = tempfile::tempdir().unwrap();
    let defaults = write(
        dir.path(),
        "defaults.json",
        &serde_json::json!({
            "script": script_url,
            "options": { "waiter_delay": 1, "task_name": "fromdefaults" }
        })
        .to_string(),
    );
    let put = sandbox.aws(&[
        "s3",
        "cp",
        &defaults,
        &format!("s3://{bucket}/inbox/defaults.json"),
    ]);
    assert_eq!(put.code, 0, "{}", put.stderr);
    let dropped = sandbox.aws(&[
        "s3",
        "cp",
        "examples/wordcount/wordcount.tsv",
        &format!("s3://{bucket}/inbox/plain.tsv"),
    ]);
    assert_eq!(dropped.code, 0, "{}", dropped.stderr);
    let job = sandbox.until(30, "the inbox job", || {
        ecsub_e2e::jobs::jobs_named(&sandbox, "fromdefaults")
            .into_iter()
            .next()
    });
    let summary_url = format!("s3://{bucket}/jobs/{job}/summary.json");
    sandbox.until(60, "the inbox job to finish", || {
        sandbox.object(&summary_url)
    });
    assert_eq!(summary(&sandbox, &job)["succeeded"], 2);
    let submission: serde_json::Value = serde_json::from_slice(
        &sandbox
            .object(&format!("s3://{bucket}/jobs/{job}/job.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(submission["args"]["waiter_delay"], 1, "{submission}");
    assert_eq!(
        sandbox.executions().len(),
        1,
        "defaults.json itself starts nothing"
    );
    assert_nothing_running(&sandbox, &job);
}

/// Interrupting `push --wait` stops the waiting, not the job: it runs to its end in the stack.
#[test]
fn interrupting_push_wait_leaves_the_job_running_to_its_end() {
    use std::io::BufRead as _;
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "goes-on.tsv",
        "--output OUT\ns3://ecsub-wordcount/goes-on/out.txt\n",
    );
    let script = write(
        dir.path(),
        "goes-on.sh",
        "sleep 4\nmkdir -p \"${OUT%/*}\" && echo done > \"$OUT\"\n",
    );
    let mut cmd = std::process::Command::new(ecsub_e2e::bin_dir().join("ecsub-cli"));
    sandbox.env(&mut cmd, "cli");
    cmd.current_dir(ecsub_e2e::repo())
        .args(["push", "--wait", "--waiter-delay", "1", "--poll", "0.5"])
        .args(["--tasks", &tasks, "--script", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // The reader stays open until the end: the CLI must not meet a closed pipe.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let job = first.trim().to_owned();
    sandbox.until(60, "the task to run", || {
        sandbox
            .control_get("/running")
            .as_array()
            .is_some_and(|r| !r.is_empty())
            .then_some(())
    });
    // SAFETY: kill has no memory-safety preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let ended = child.wait().unwrap();
    assert!(!ended.success(), "push --wait ended with {ended:?}");
    drop(stdout);
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(60, "the job to end without its waiter", || {
        sandbox.object(&summary_url)
    });
    assert_eq!(summary(&sandbox, &job)["succeeded"], 1);
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/goes-on/out.txt")
            .unwrap(),
        b"done\n"
    );
    assert_nothing_running(&sandbox, &job);
}

/// `push --wait` gives up, with exit 3 and the way to look, on a job the stack does not pick up in time (here the
/// submit function gets its event 8 s late, past `--pickup-timeout 2`); the job is still started afterwards.
#[test]
fn push_wait_gives_up_on_a_job_the_stack_does_not_pick_up() {
    let sandbox = with_wordcount();
    sandbox.fault(&serde_json::json!({
        "kind": "delivery", "function": "ecsub-submit", "duplicate": false, "delay_ms": [8000, 8000]
    }));
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "late.tsv", "--env I\n1\n");
    let script = write(dir.path(), "late.sh", "true\n");
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &["--wait", "--pickup-timeout", "2"],
    );
    assert_eq!(pushed.code, 3, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    assert!(
        pushed.stderr.contains(&format!(
            "job {job} was uploaded but the stack's submit function has not started it after 2.0s"
        )),
        "{}",
        pushed.stderr
    );
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(60, "the late job to end", || sandbox.object(&summary_url));
    assert_eq!(summary(&sandbox, &job)["succeeded"], 1);
    assert_nothing_running(&sandbox, &job);
}

/// A poll of `push --wait` that fails once the job has been read (ECS's read bucket is shared by every task's join
/// checks, and the SDK gives up after three throttled tries) is said and tried again; the wait goes on to the end.
#[test]
fn push_wait_reads_on_through_a_poll_that_fails() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "patient.tsv", "--env N\n1\n");
    let script = write(dir.path(), "patient.sh", "sleep 6\n");
    sandbox.fault(&serde_json::json!({
        "kind": "api", "operation": "ListTasks", "principal": "cli", "after": 2, "times": 3,
        "code": "ThrottlingException", "message": "Rate exceeded", "status": 400
    }));
    let pushed = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_exit(&sandbox, &pushed, 0);
    assert!(
        pushed
            .stderr
            .contains("failed (1 of 5 in a row); trying again in")
            && pushed.stderr.contains("Rate exceeded"),
        "{}",
        pushed.stderr
    );
    assert_eq!(
        sandbox.control_get("/faults")["api"][0]["times"],
        0,
        "the failing poll was not met"
    );
}

#[test]
fn watch_says_why_each_task_is_not_running_yet_and_ends_with_the_table() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "slots.tsv", "--env N\n1\n2\n");
    let script = write(dir.path(), "slots.sh", "sleep 3\n");
    let pushed = push(&sandbox, &tasks, &script, &["--processes", "1"]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    // Not a terminal: plain lines, one per change.
    let watched = sandbox.cli(&["watch", &job, "--poll", "0.5"]);
    assert_eq!(watched.code, 0, "{}\n{}", watched.stdout, watched.stderr);
    let out = &watched.stdout;
    assert!(
        out.contains("task 001: pending: waiting for a slot: 1 tasks at once (--processes)"),
        "{out}"
    );
    assert!(out.contains("-> running"), "{out}");
    assert!(
        out.contains(&format!("job {job}: running [")),
        "the counts line: {out}"
    );
    assert!(
        out.contains(&format!("\njob {job}: succeeded\n2 tasks: 2 succeeded")),
        "the status table at the end: {out}"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn logs_follow_attaches_to_a_running_task_prints_its_lines_and_stops_when_the_job_ends() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "lines.tsv", "--env N\n1\n");
    let script = write(
        dir.path(),
        "lines.sh",
        "for i in 1 2 3 4 5 6; do echo \"line $i\"; sleep 1; done\n",
    );
    let pushed = push(&sandbox, &tasks, &script, &[]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let followed = sandbox.cli(&["logs", &job, "--follow"]);
    assert_eq!(followed.code, 0, "{}\n{}", followed.stdout, followed.stderr);
    let out = &followed.stdout;
    // Found while it ran, then read to its end.
    assert!(
        out.starts_with("==> task 000, attempt 1 (running): "),
        "{out}"
    );
    for i in 1..=6 {
        assert!(
            out.contains(&format!("[000.1] line {i}\n")),
            "line {i}: {out}"
        );
    }
    assert!(
        followed.stderr.contains(&format!("job {job} has ended")),
        "{}",
        followed.stderr
    );
    assert_nothing_running(&sandbox, &job);
}

/// The task definition of a job, once the job has ended (its definition is then INACTIVE).
fn ended_definition(sandbox: &ecsub_e2e::Sandbox, job: &str) -> serde_json::Value {
    let listed = sandbox.aws_json(&[
        "ecs",
        "list-task-definitions",
        "--family-prefix",
        &cluster_of(sandbox, job),
        "--status",
        "INACTIVE",
    ]);
    let arn = listed["taskDefinitionArns"][0].as_str().unwrap();
    sandbox.aws_json(&["ecs", "describe-task-definition", "--task-definition", arn])
        ["taskDefinition"]
        .clone()
}

/// The job options the README lists as AWS-only and no test held (test audit 2026-12, §3): `--use-amazon-ecr`
/// pulls IMAGE from this account's ECR, `--setup-container-cmd` runs in the container before the script,
/// `--dind` binds the host's Docker socket, `--goofys` runs the container privileged with /dev/fuse; and the job's
/// scripts go to `$ECSUB_HOME/scripts`, `/tmp/ecsub` unless the image's environment says otherwise.
#[test]
fn ecr_images_setup_commands_dind_goofys_and_ecsub_home_do_what_the_readme_says() {
    let sandbox = with_wordcount();
    let created = sandbox.aws(&["ecr", "create-repository", "--repository-name", "team/tool"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "one.tsv",
        "--output OUT\ns3://ecsub-wordcount/promises/out.txt\n",
    );
    let script = write(
        dir.path(),
        "where.sh",
        "mkdir -p \"$(dirname \"$OUT\")\"\n{ cat /scratch/setup.txt; echo \"$ECSUB_SCRIPTS_DIR\"; } > \"$OUT\"\n",
    );
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &[
            "--wait",
            "--use-amazon-ecr",
            "--image",
            "team/tool:1.2",
            "--setup-container-cmd",
            "echo prepared > /scratch/setup.txt",
            "--dind",
            "--goofys",
        ],
    );
    assert_exit(&sandbox, &pushed, 0);
    let job = job_id_of(&pushed);
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/promises/out.txt")
            .unwrap(),
        b"prepared\n/tmp/ecsub/scripts\n",
        "the setup command ran first, and the scripts are in the default ECSUB_HOME"
    );
    let definition = ended_definition(&sandbox, &job);
    let container = &definition["containerDefinitions"][0];
    assert_eq!(
        container["image"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/tool:1.2"
    );
    assert_eq!(container["privileged"], true, "--goofys: {container}");
    assert_eq!(
        container["linuxParameters"]["devices"][0]["hostPath"], "/dev/fuse",
        "--goofys: {container}"
    );
    let socket = container["mountPoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["containerPath"] == "/var/run/docker.sock")
        .unwrap_or_else(|| panic!("--dind: no docker.sock mount: {container}"));
    let volume = definition["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == socket["sourceVolume"])
        .unwrap();
    assert_eq!(volume["host"]["sourcePath"], "/var/run/docker.sock");
    assert_nothing_running(&sandbox, &job);

    // An image whose environment sets ECSUB_HOME (`ENV ECSUB_HOME=/opt/ecsub`) has the scripts there.
    let script = write(
        dir.path(),
        "home.sh",
        "mkdir -p \"$(dirname \"$OUT\")\"\necho \"$ECSUB_SCRIPTS_DIR\" > \"$OUT\"\n",
    );
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &["--wait", "--image", "sandbox/ecsub-home"],
    );
    assert_exit(&sandbox, &pushed, 0);
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/promises/out.txt")
            .unwrap(),
        b"/opt/ecsub/scripts\n"
    );
}

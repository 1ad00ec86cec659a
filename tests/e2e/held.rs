//! `--keep-on-failure`: the instance of a task that failed for good outlives its job, with its scratch as the task
//! left it; the user gets in with Systems Manager (the instance is a managed node only because the job asked for
//! the hold) and sees the failed task's files; `release` ends one hold; the janitor's sweep keeps the others until
//! their deadline and then terminates them, whatever the job's state.

use ecsub_e2e::jobs::{
    all_instances, assert_exit, assert_nothing_running, fire, job_id_of, push, push_long,
    rfc3339_ms, summary, until_running, with_wordcount, write,
};
use ecsub_e2e::Sandbox;
use serde_json::Value;

/// The job's instance of `task`, as EC2 describes it.
fn instance_of(sandbox: &Sandbox, job: &str, task: usize) -> Value {
    all_instances(sandbox, job)
        .into_iter()
        .find(|i| tag(i, "ecsub:task") == Some(task.to_string()))
        .unwrap_or_else(|| panic!("no instance of task {task}"))
}

fn tag(instance: &Value, key: &str) -> Option<String> {
    instance["Tags"]
        .as_array()?
        .iter()
        .find(|t| t["Key"] == key)
        .and_then(|t| t["Value"].as_str().map(str::to_owned))
}

fn state(instance: &Value) -> String {
    instance["State"]["Name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Runs `script` on the instance with Run Command, signing as the stack's user; its output once it has ended.
fn run_on(sandbox: &Sandbox, instance: &str, script: &str) -> Result<String, String> {
    let parameters = serde_json::json!({ "commands": [script] }).to_string();
    let sent = sandbox.aws_as(
        "cli",
        &[
            "ssm",
            "send-command",
            "--instance-ids",
            instance,
            "--document-name",
            "AWS-RunShellScript",
            "--parameters",
            &parameters,
        ],
    );
    if sent.code != 0 {
        return Err(sent.stderr);
    }
    let sent: Value = serde_json::from_str(&sent.stdout).unwrap();
    let id = sent["Command"]["CommandId"].as_str().unwrap().to_owned();
    let done = sandbox.until(60, "the command to end", || {
        let got = sandbox.aws_as(
            "cli",
            &[
                "ssm",
                "get-command-invocation",
                "--command-id",
                &id,
                "--instance-id",
                instance,
            ],
        );
        assert_eq!(got.code, 0, "{}", got.stderr);
        let got: Value = serde_json::from_str(&got.stdout).unwrap();
        (got["Status"] != "InProgress").then_some(got)
    });
    assert_eq!(done["Status"], "Success", "{done}");
    Ok(done["StandardOutputContent"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

#[test]
fn a_failed_tasks_instance_is_held_reachable_released_and_ended_at_its_deadline() {
    let sandbox = with_wordcount();
    // The stack's user may get into and terminate held instances only: not a running task's instance.
    let running_job = push_long(&sandbox);
    until_running(&sandbox, 1, 90);
    let running = instance_of(&sandbox, &running_job, 0);
    let running = running["InstanceId"].as_str().unwrap();
    let refused = run_on(&sandbox, running, "ls /scratch").unwrap_err();
    assert!(refused.contains("AccessDenied"), "{refused}");
    let refused = sandbox.aws_as(
        "cli",
        &["ec2", "terminate-instances", "--instance-ids", running],
    );
    assert!(
        refused.stderr.contains("UnauthorizedOperation"),
        "{}",
        refused.stderr
    );
    let nothing = sandbox.cli(&["release", &running_job]);
    assert_exit(&sandbox, &nothing, 0);
    assert!(
        nothing.stderr.contains("no instance of job"),
        "{}",
        nothing.stderr
    );
    assert_exit(&sandbox, &sandbox.cli(&["cancel", &running_job]), 0);

    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "held.tsv", "--env NAME\nfirst\nsecond\n");
    let script = write(
        dir.path(),
        "held.sh",
        "echo \"half of $NAME\" > \"$ECSUB_SCRATCH/partial.out\"\nexit 3\n",
    );
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &["--keep-on-failure", "2h", "--wait"],
    );
    assert_exit(&sandbox, &pushed, 1);
    let job = job_id_of(&pushed);

    // The job has ended (its summary is written), and both instances still run, held for two hours.
    let s = summary(&sandbox, &job);
    let mut ids = Vec::new();
    for task in 0..2 {
        let instance = instance_of(&sandbox, &job, task);
        let id = instance["InstanceId"].as_str().unwrap().to_owned();
        assert_eq!(state(&instance), "running", "{instance}");
        let until = tag(&instance, "ecsub:held-until").expect("held");
        let ahead = rfc3339_ms(&until) - rfc3339_ms(s["finished_at"].as_str().unwrap());
        assert!(
            (7_000_000..=7_200_000).contains(&ahead),
            "held until {until}, {ahead} ms after the job's end"
        );
        assert!(
            instance["IamInstanceProfile"]["Arn"]
                .as_str()
                .unwrap_or_default()
                .contains("HeldInstanceProfile"),
            "a job that may hold its instances launches them with Session Manager's rights: {instance}"
        );
        let summed = &s["tasks"][task];
        assert_eq!(summed["held"]["instance_id"], id.as_str(), "{summed}");
        assert_eq!(summed["held"]["until"], until.as_str(), "{summed}");
        assert!(
            summed["reason"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&format!("its instance is held for a look until {until}")),
            "{summed}"
        );
        ids.push(id);
    }
    let status = sandbox.cli(&["status", &job]);
    assert_exit(&sandbox, &status, 0);
    for (task, id) in ids.iter().enumerate() {
        for wanted in [
            format!("task {task} failed; its instance {id} is held for a look until"),
            format!("aws ssm start-session --target {id}"),
            format!("ecsub-cli release {job} {task}"),
        ] {
            assert!(
                status.stdout.contains(&wanted),
                "{wanted}:\n{}",
                status.stdout
            );
        }
    }

    // Getting in: the stack's user runs a command on the held instance, and finds the failed task's file.
    let found = run_on(&sandbox, &ids[0], "cat /scratch/partial.out").unwrap();
    assert_eq!(found, "half of first\n");

    // The sweep of a job that has ended keeps what is held.
    fire(&sandbox, "JanitorFunctionSweep");
    sandbox.settled(60);
    for id in &ids {
        let instance = all_instances(&sandbox, &job)
            .into_iter()
            .find(|i| i["InstanceId"] == id.as_str())
            .unwrap();
        assert_eq!(
            state(&instance),
            "running",
            "the sweep kept the hold: {instance}"
        );
    }

    // `release` ends task 0's hold only; the instance is then no longer a managed node, and status drops it.
    let released = sandbox.cli(&["release", &job, "0"]);
    assert_exit(&sandbox, &released, 0);
    assert_eq!(
        released.stdout.trim(),
        format!("released task 0: instance {} terminated", ids[0])
    );
    assert!(matches!(
        state(&instance_of(&sandbox, &job, 0)).as_str(),
        "shutting-down" | "terminated"
    ));
    assert_eq!(state(&instance_of(&sandbox, &job, 1)), "running");
    let refused = run_on(&sandbox, &ids[0], "ls /scratch").unwrap_err();
    assert!(refused.contains("InvalidInstanceId"), "{refused}");
    let status = sandbox.cli(&["status", &job]);
    assert!(
        !status.stdout.contains("task 0 failed; its instance"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("task 1 failed; its instance"),
        "{}",
        status.stdout
    );
    let again = sandbox.cli(&["release", &job, "0"]);
    assert_exit(&sandbox, &again, 0);
    assert!(
        again.stderr.contains("no instance of task 0 of job"),
        "{}",
        again.stderr
    );

    // Task 1's deadline passes (its tag says a time gone by, as two hours on would): the next sweep ends it.
    let past = "Key=ecsub:held-until,Value=2026-01-01T00:00:00Z";
    let retagged = sandbox.aws(&["ec2", "create-tags", "--resources", &ids[1], "--tags", past]);
    assert_exit(&sandbox, &retagged, 0);
    fire(&sandbox, "JanitorFunctionSweep");
    sandbox.until(60, "the sweep to end the hold at its deadline", || {
        (state(&instance_of(&sandbox, &job, 1)) != "running").then_some(())
    });
    assert_nothing_running(&sandbox, &job);
}

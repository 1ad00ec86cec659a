//! The account's EC2 vCPU quota: a job whose `--processes` instances do not fit is told so as it starts (how many
//! run at once, and the command that asks for more), `status` shows it beside the task that waits on it, and EC2
//! meets the quota as AWS does (the emulated RunInstances launches what fits, then answers VcpuLimitExceeded).

use ecsub_e2e::jobs::{
    assert_nothing_running, job_id_of, push, until_running, with_wordcount, write,
};
use serde_json::json;

#[test]
fn a_job_larger_than_the_vcpu_quota_is_told_how_many_run_and_its_waiting_task_says_why() {
    let sandbox = with_wordcount();
    // One t3.micro (2 vCPUs) fits.
    let set = sandbox.control_post("/quota", &json!({ "code": "L-1216C47A", "value": 2 }));
    assert_eq!(set["value"], 2.0, "{set}");
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "two.tsv", "--env N\n1\n2\n");
    let script = write(dir.path(), "two.sh", "sleep 600\n");
    // The dry run reads the quota with the user's own credentials (the stack's UserPolicy).
    let planned = push(
        &sandbox,
        &tasks,
        &script,
        &["--processes", "2", "--dry-run"],
    );
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    assert!(
        planned.stdout.contains(
            "\nvCPU quota: the account's vCPU quota \"Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) \
             instances\" (L-1216C47A) in us-east-1 is 2 vCPUs: at most 1 tasks on t3.micro (2 vCPUs each) run at \
             once, not 2"
        ),
        "{}",
        planned.stdout
    );
    let pushed = push(&sandbox, &tasks, &script, &["--processes", "2"]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    until_running(&sandbox, 1, 120);

    let note = "note: the account's vCPU quota \"Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) \
                instances\" (L-1216C47A) in us-east-1 is 2 vCPUs: at most 1 tasks on t3.micro (2 vCPUs each) run \
                at once, not 2";
    let waiting = sandbox.until(120, "the second task to wait on the quota", || {
        let status = sandbox.cli(&["status", &job]);
        status
            .stdout
            .contains("waiting for the account's EC2 quota")
            .then_some(status.stdout)
    });
    assert!(waiting.contains(note), "{waiting}");
    assert!(
        waiting.contains(
            "Ask for 4: aws service-quotas request-service-quota-increase --service-code ec2 --quota-code \
             L-1216C47A --desired-value 4 --region us-east-1"
        ),
        "{waiting}"
    );
    assert!(waiting.contains("VcpuLimitExceeded"), "{waiting}");
    assert_eq!(
        sandbox
            .control_get("/running")
            .as_array()
            .map_or(0, Vec::len),
        1,
        "EC2 launched past the quota"
    );

    let cancelled = sandbox.cli(&["cancel", &job]);
    assert_eq!(cancelled.code, 0, "{}", cancelled.stderr);
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(120, "the cancelled job's summary", || {
        sandbox.object(&summary_url)
    });
    assert_nothing_running(&sandbox, &job);
}

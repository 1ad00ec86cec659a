//! How an emulated instance boots, as the ECS-optimized AMI does: its user data first, however long it runs, and
//! the ECS agent only after it (test audit 2026-12, K14: the emulated boot used to give up on a user data after
//! two minutes and register the instance anyway, and its metadata service always had the role's credentials at
//! once, so the user data's wait for them never ran).

use ecsub_e2e::instances::{ecs_ami, instance_state};
use ecsub_e2e::jobs::{assert_nothing_running, job_id_of, push, summary, with_wordcount};
use ecsub_e2e::Sandbox;
use serde_json::{json, Value};

/// The emulated agent's view of an instance: `booting`, `registered` or `failed`, and why.
fn agent_view(sandbox: &Sandbox, id: &str) -> Option<Value> {
    sandbox.control_get("/instances").get(id).cloned()
}

#[test]
fn an_instance_whose_user_data_has_not_ended_does_not_join_and_its_user_data_ends_with_it() {
    let sandbox = Sandbox::start();
    let ami = ecs_ami(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let user_data = dir.path().join("user-data.sh");
    std::fs::write(
        &user_data,
        "#!/bin/sh\necho ECS_CLUSTER=slow-boot >> /etc/ecs/ecs.config\nexec sleep 600\n",
    )
    .unwrap();
    let launched = sandbox.aws_json(&[
        "ec2",
        "run-instances",
        "--image-id",
        &ami,
        "--instance-type",
        "t3.micro",
        "--user-data",
        &format!("file://{}", user_data.display()),
    ]);
    let id = launched["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_owned();
    sandbox.until(30, "the instance to boot", || agent_view(&sandbox, &id));
    std::thread::sleep(std::time::Duration::from_secs(3));
    let view = agent_view(&sandbox, &id).unwrap();
    assert_eq!(
        view["state"], "booting",
        "the agent waits for the user data: {view}"
    );
    sandbox.aws(&["ec2", "terminate-instances", "--instance-ids", &id]);
    let view = sandbox.until(15, "the boot to end with the instance", || {
        agent_view(&sandbox, &id).filter(|v| v["state"] == "failed")
    });
    assert!(
        view["why"]
            .as_str()
            .unwrap()
            .ends_with("it went away while its user data ran"),
        "{view}"
    );
    assert_eq!(instance_state(&sandbox, &id), "terminated");
}

/// The instance profile's credentials can reach the metadata service seconds after boot: the user data's stager
/// fetch waits for them (a retry every 3 s), and the task runs.
#[test]
fn a_user_data_waits_for_role_credentials_that_come_late() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: the fault meets the next instances EC2 launches, and an ask delivered twice may
    // launch a surplus one that takes it.
    sandbox.deliver_exactly_once();
    sandbox.fault(&json!({ "kind": "profile-late", "seconds": 5, "times": 2 }));
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &["--wait"],
    );
    assert_eq!(
        pushed.code,
        0,
        "{}\n{}\n{}",
        pushed.stdout,
        pushed.stderr,
        sandbox.log_tail()
    );
    let job = job_id_of(&pushed);
    let s = summary(&sandbox, &job);
    assert_eq!(s["succeeded"], 2, "{s}");
    assert_eq!(
        sandbox.control_get("/faults")["profile_late"][0][1],
        0,
        "both instances met the late credentials"
    );
    assert_nothing_running(&sandbox, &job);
}

//! GPU instance types: the instance boots the ECS GPU-optimized AMI with GPU support on, and the task asks ECS for
//! the instance's GPUs, so that a CUDA image sees them (`NVIDIA_VISIBLE_DEVICES` set to the pinned ids, not the
//! image's own `all`, which the default runtime ignores); type lists that cannot give every task GPUs are refused.

use ecsub_e2e::jobs::{
    all_instances, assert_nothing_running, job_id_of, push, summary, with_wordcount, write,
};
use std::collections::BTreeSet;

#[test]
fn a_gpu_type_boots_the_gpu_ami_and_its_task_sees_the_instances_gpus() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "gpu.tsv",
        "--output OUT\ns3://ecsub-wordcount/gpu/devices.txt\n",
    );
    let script = write(
        dir.path(),
        "gpu.sh",
        "mkdir -p \"$(dirname \"$OUT\")\" && echo \"$NVIDIA_VISIBLE_DEVICES\" > \"$OUT\"\n",
    );
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &[
            "--aws-ec2-instance-type",
            "g5.12xlarge",
            "--image",
            "nvidia/cuda:12.4.1-base-ubuntu22.04",
            "--wait",
        ],
    );
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    assert_eq!(summary(&sandbox, &job)["succeeded"], 1);
    let devices = sandbox
        .object("s3://ecsub-wordcount/gpu/devices.txt")
        .unwrap();
    let devices = String::from_utf8(devices).unwrap();
    let ids: BTreeSet<&str> = devices.trim().split(',').collect();
    assert_eq!(
        ids.len(),
        4,
        "g5.12xlarge has 4 GPUs, all the task's: {devices}"
    );
    assert!(ids.iter().all(|id| id.starts_with("GPU-")), "{devices}");

    let gpu_ami = sandbox.aws_json(&[
        "ssm",
        "get-parameter",
        "--name",
        "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
    ])["Parameter"]["Value"]
        .as_str()
        .unwrap()
        .to_owned();
    let instances = all_instances(&sandbox, &job);
    assert!(!instances.is_empty());
    for i in &instances {
        assert_eq!(i["ImageId"], gpu_ami.as_str(), "{i}");
        assert_eq!(i["InstanceType"], "g5.12xlarge");
    }
    assert_nothing_running(&sandbox, &job);
}

/// A list mixing GPU and plain types would give a task GPUs or not by which had capacity, and arm64 GPU types have
/// no ECS GPU-optimized AMI: submit refuses both, naming the types, and starts nothing.
#[test]
fn type_lists_that_cannot_give_every_task_its_gpus_are_refused_at_submit() {
    let sandbox = with_wordcount();
    for (types, why) in [
        (
            "g4dn.xlarge,m5.large",
            "  --aws-ec2-instance-type: `g4dn.xlarge` has 1 GPU(s) and `m5.large` none: a task would get GPUs or \
             not by which type had capacity; list GPU types only, or none",
        ),
        (
            "g5g.xlarge",
            "  --aws-ec2-instance-type: `g5g.xlarge` has 1 NVIDIA GPU(s) on arm64, and ECS has a GPU-optimized AMI \
             for x86_64 only: choose an x86_64 GPU type (g4dn, g5, g6, p4d, p5, …)",
        ),
    ] {
        let pushed = push(
            &sandbox,
            "examples/wordcount/wordcount.tsv",
            "examples/wordcount/wordcount.sh",
            &["--wait", "--task-range", "0", "--spot", "--aws-ec2-instance-type", types],
        );
        assert_eq!(pushed.code, 2, "{}\n{}", pushed.stdout, pushed.stderr);
        let job = job_id_of(&pushed);
        assert_eq!(
            pushed.stdout.lines().skip(1).collect::<Vec<_>>(),
            [format!("job {job}: rejected"), why.to_owned()],
            "{types}"
        );
    }
    assert!(sandbox.executions().is_empty(), "an execution started");
}

//! Instances a test makes or reads directly in the emulated cloud, as someone other than ecsub would: an instance
//! a crashed job left behind, another stack's, a thousand of one job's.

#![allow(clippy::unwrap_used)]

use crate::Sandbox;

/// The ECS-optimized AMI the stack launches (the public SSM parameter).
pub fn ecs_ami(sandbox: &Sandbox) -> String {
    sandbox.aws_json(&[
        "ssm",
        "get-parameter",
        "--name",
        "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    ])["Parameter"]["Value"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// RunInstances' `--tag-specifications` for an instance with these tags.
pub fn tag_specification(tags: &[(&str, &str)]) -> String {
    let tags: Vec<String> = tags
        .iter()
        .map(|(key, value)| format!("{{Key={key},Value={value}}}"))
        .collect();
    format!("ResourceType=instance,Tags=[{}]", tags.join(","))
}

/// Launches one t3.micro with these tags (none: untagged); returns its id.
pub fn run_instance(sandbox: &Sandbox, ami: &str, tags: &[(&str, &str)]) -> String {
    let spec = tag_specification(tags);
    let mut args = vec![
        "ec2",
        "run-instances",
        "--image-id",
        ami,
        "--instance-type",
        "t3.micro",
    ];
    if !tags.is_empty() {
        args.extend(["--tag-specifications", spec.as_str()]);
    }
    sandbox.aws_json(&args)["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An instance's state name (`running`, `terminated`, …). Listed by a filter: a call naming a just-launched id
/// may answer InvalidInstanceID.NotFound for a moment (EC2's eventual consistency, as the emulated EC2 does).
pub fn instance_state(sandbox: &Sandbox, id: &str) -> String {
    let filter = format!("Name=instance-id,Values={id}");
    let v = sandbox.aws_json(&["ec2", "describe-instances", "--filters", &filter]);
    v["Reservations"][0]["Instances"][0]["State"]["Name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

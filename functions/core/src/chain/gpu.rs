//! GPUs: a job whose instance types have NVIDIA GPUs runs on the ECS GPU-optimized AMI, and each task asks ECS for
//! all of its instance's GPUs, so that the container sees them (ECS Developer Guide, "Amazon ECS task definitions
//! for GPU workloads": "If your GPU requirements aren't specified in the task definition, the task uses the default
//! Docker runtime" — no GPU at all; "The number of GPUs reserved for all containers in a task cannot exceed the
//! number of available GPUs on the container instance"). One task has one instance, so it takes every GPU.
//! Pure: the decisions; the launcher and the launch step act on them.

/// The recommended ECS GPU-optimized Amazon Linux 2023 AMI (x86_64; ECS Developer Guide, "Retrieving Amazon
/// ECS-optimized Linux AMI metadata"). There is no ECS GPU-optimized AMI for arm64.
pub const GPU_AMI_PARAMETER: &str =
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id";

/// The ecs.config line that makes the agent register the instance's GPUs (ECS container agent configuration,
/// `ECS_ENABLE_GPU_SUPPORT`), written into every GPU instance's user data whatever the AMI's own default.
pub const GPU_SUPPORT_CONFIG: &str = "ECS_ENABLE_GPU_SUPPORT=true";

/// The EC2 instance families with NVIDIA GPUs (EC2 User Guide, "Accelerated computing instances"; the AMD GPUs
/// of g4ad are not ECS's). For the local runner, which cannot ask EC2: the launch path asks DescribeInstanceTypes.
const NVIDIA_FAMILIES: &[&str] = &[
    "p3",
    "p3dn",
    "p4d",
    "p4de",
    "p5",
    "p5e",
    "p5en",
    "p6-b200",
    "p6e-gb200",
    "g4dn",
    "g5",
    "g5g",
    "g6",
    "g6e",
    "g6f",
    "gr6",
    "gr6f",
];

/// Whether a type is of a family with NVIDIA GPUs, by its name alone.
pub fn has_nvidia_family(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    NVIDIA_FAMILIES.contains(&family)
}

/// What EC2 says of one of a job's types: its name, its architecture (`x86_64`, `arm64`) and its NVIDIA GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeGpus<'a> {
    pub name: &'a str,
    pub arch: &'a str,
    pub gpus: u32,
}

/// Why a job's types cannot run its tasks with GPUs, if they cannot: a list that mixes types with GPUs and types
/// without (a task would get GPUs or not by which had capacity), or an arm64 type with GPUs (no ECS GPU AMI).
pub fn refuse_types(types: &[TypeGpus<'_>]) -> Option<String> {
    if let Some(arm) = types.iter().find(|t| t.gpus > 0 && t.arch == "arm64") {
        return Some(format!(
            "--aws-ec2-instance-type: `{}` has {} NVIDIA GPU(s) on arm64, and ECS has a GPU-optimized AMI for \
             x86_64 only: choose an x86_64 GPU type (g4dn, g5, g6, p4d, p5, …)",
            arm.name, arm.gpus
        ));
    }
    let with = types.iter().find(|t| t.gpus > 0)?;
    let without = types.iter().find(|t| t.gpus == 0)?;
    Some(format!(
        "--aws-ec2-instance-type: `{}` has {} GPU(s) and `{}` none: a task would get GPUs or not by which type had \
         capacity; list GPU types only, or none",
        with.name, with.gpus, without.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t<'a>(name: &'a str, arch: &'a str, gpus: u32) -> TypeGpus<'a> {
        TypeGpus { name, arch, gpus }
    }

    #[test]
    fn gpu_types_of_one_kind_and_architecture_are_taken() {
        assert_eq!(refuse_types(&[t("t3.micro", "x86_64", 0)]), None);
        assert_eq!(
            refuse_types(&[t("g4dn.xlarge", "x86_64", 1), t("g5.12xlarge", "x86_64", 4)]),
            None
        );
        assert_eq!(refuse_types(&[]), None);
    }

    #[test]
    fn a_list_mixing_gpu_and_plain_types_and_arm64_gpus_are_refused() {
        let mixed =
            refuse_types(&[t("g4dn.xlarge", "x86_64", 1), t("m5.large", "x86_64", 0)]).unwrap();
        assert!(
            mixed.contains("`g4dn.xlarge` has 1 GPU(s) and `m5.large` none"),
            "{mixed}"
        );
        let arm = refuse_types(&[t("g5g.xlarge", "arm64", 1)]).unwrap();
        assert!(
            arm.contains("`g5g.xlarge` has 1 NVIDIA GPU(s) on arm64"),
            "{arm}"
        );
    }

    #[test]
    fn families_with_nvidia_gpus_are_known_by_name() {
        for gpu in [
            "g4dn.xlarge",
            "p5.48xlarge",
            "g6e.2xlarge",
            "p6-b200.48xlarge",
        ] {
            assert!(has_nvidia_family(gpu), "{gpu}");
        }
        for plain in ["t3.micro", "g4ad.xlarge", "m7g.large", "inf2.xlarge", "gx"] {
            assert!(!has_nvidia_family(plain), "{plain}");
        }
    }
}

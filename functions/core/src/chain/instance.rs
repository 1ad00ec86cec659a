//! What runs on a job's instance: the user data that makes it join the job's cluster, and the container's command
//! (run the setup command, fetch the job's scripts, run `run.sh`). Pure: strings only.

use super::stager::{fetch_script, StagerRef, STAGER_PATH};
use super::{CONTAINER_NAME, LOG_STREAM_PREFIX};

/// The container's entry point. Set in the task definition (not left to the image) so that an image with an
/// ENTRYPOINT of its own (`amazon/aws-cli`, many bioinformatics images) still runs ecsub's command rather than
/// receiving it as arguments, as the original ecsub did.
pub const CONTAINER_SHELL: [&str; 2] = ["sh", "-c"];

/// Host folder (made world-writable at boot) mounted at `/scratch` in the container: the task's working folder.
pub const SCRATCH: &str = "/scratch";

/// The CloudWatch Logs stream of an ECS task's container (the awslogs driver's `PREFIX/CONTAINER/TASK-ID`).
pub fn log_stream(task_arn: &str) -> String {
    let task_id = task_arn.rsplit('/').next().unwrap_or(task_arn);
    format!("{LOG_STREAM_PREFIX}/{CONTAINER_NAME}/{task_id}")
}

/// The container's command, given to [`CONTAINER_SHELL`]: run the setup command, fetch run.sh and the user's
/// script from `$ECSUB_JOB_URL/scripts/` into `$ECSUB_HOME` (default `/tmp/ecsub`, writable whatever the image's
/// user) with the stager the instance mounted (`$ECSUB_STAGE`, default [`STAGER_PATH`]), run `run.sh`. The image
/// needs only `/bin/sh`.
pub fn container_command(setup_container_cmd: &str) -> String {
    let code = crate::exit::EXIT_SETUP_FAILED;
    let setup = if setup_container_cmd.trim().is_empty() {
        String::new()
    } else {
        format!(
            "( {setup_container_cmd}\n) || {{ echo 'ecsub: the setup command failed' >&2; exit {code}; }}\n"
        )
    };
    let script = crate::job::SCRIPT_FILE;
    format!(
        "set -u\n{setup}\
         : \"${{ECSUB_HOME:=/tmp/ecsub}}\"\n\
         : \"${{ECSUB_STAGE:={STAGER_PATH}}}\"\n\
         mkdir -p \"$ECSUB_HOME/scripts\" || {{ echo \"ecsub: cannot create $ECSUB_HOME/scripts\" >&2; exit {code}; }}\n\
         for f in run.sh {script}; do \"$ECSUB_STAGE\" copy file \"${{ECSUB_JOB_URL}}scripts/$f\" \"$ECSUB_HOME/scripts/$f\" \
         || {{ echo \"ecsub: cannot fetch ${{ECSUB_JOB_URL}}scripts/$f with $ECSUB_STAGE\" >&2; exit {code}; }}; done\n\
         ECSUB_SCRIPTS_DIR=\"$ECSUB_HOME/scripts\" exec sh \"$ECSUB_HOME/scripts/run.sh\"\n"
    )
}

/// The container's image: as given, or with `--use-amazon-ecr` in this account's ECR
/// (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]/IMAGE`; without a known account, as given).
pub fn container_image(
    spec: &crate::JobSpec,
    account: Option<&str>,
    region: &str,
    partition: &str,
) -> String {
    match (spec.use_amazon_ecr, account) {
        (true, Some(account)) => {
            let suffix = if partition == "aws-cn" {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("{account}.dkr.ecr.{region}.{suffix}/{}", spec.image)
        }
        _ => spec.image.clone(),
    }
}

/// The user data that makes an ECS-optimized instance join the job's cluster, with a scratch folder any container
/// user can write to (Docker would make a missing host folder root-owned, 0755), after it has fetched the stack's
/// stager ([`super::stager::fetch_script`]; an instance that cannot fetch it shuts down and so terminates, and
/// no task starts without it). An instance with GPUs (`gpu`) also has its agent register them
/// ([`super::gpu::GPU_SUPPORT_CONFIG`]).
pub fn user_data(cluster: &str, bucket: &str, stagers: &[StagerRef], gpu: bool) -> String {
    let fetch = fetch_script(bucket, stagers);
    let gpu = if gpu {
        format!("{}\n", super::gpu::GPU_SUPPORT_CONFIG)
    } else {
        String::new()
    };
    format!(
        "#!/bin/bash\nset -eu\nmkdir -p {SCRATCH}\nchmod 1777 {SCRATCH}\n{fetch}cat >> /etc/ecs/ecs.config <<'EOF'\nECS_CLUSTER={cluster}\nECS_CONTAINER_STOP_TIMEOUT=60s\n{gpu}EOF\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_streams_follow_the_awslogs_driver() {
        assert_eq!(
            log_stream("arn:aws:ecs:us-east-1:1:task/wc-abcde/0f1e"),
            "ecsub/main/0f1e"
        );
    }

    #[test]
    fn user_data_names_the_cluster_and_opens_the_scratch_folder() {
        let stager = StagerRef {
            arch: "x86_64".into(),
            key: super::super::stager::stager_key("x86_64", &"0".repeat(64)),
            sha256: "0".repeat(64),
        };
        let data = user_data(
            "ecsub_wc-abcde",
            "bkt",
            std::slice::from_ref(&stager),
            false,
        );
        assert!(data.starts_with("#!/bin/bash\n"));
        let fetched = data.find("ecsub_fetch_stager ||").unwrap();
        assert!(
            fetched < data.find("ECS_CLUSTER=").unwrap(),
            "no join before the stager is there"
        );
        assert!(data.contains("\nECS_CLUSTER=ecsub_wc-abcde\n"));
        assert!(data.contains("\nchmod 1777 /scratch\n"));
        assert!(!data.contains("GPU"));
        let gpu = user_data("ecsub_wc-abcde", "bkt", &[stager], true);
        assert!(
            gpu.contains("\nECS_CONTAINER_STOP_TIMEOUT=60s\nECS_ENABLE_GPU_SUPPORT=true\nEOF\n")
        );
    }

    #[test]
    fn container_command_fetches_the_scripts_then_runs_run_sh() {
        let cmd = container_command("echo setup");
        assert!(cmd.contains("( echo setup\n) || {"));
        assert!(cmd.contains(": \"${ECSUB_HOME:=/tmp/ecsub}\"\n"));
        assert!(cmd.ends_with("exec sh \"$ECSUB_HOME/scripts/run.sh\"\n"));
        assert!(cmd.contains("for f in run.sh script; do \"$ECSUB_STAGE\" copy file "));
        assert!(!cmd.contains("aws "), "no AWS CLI in the container: {cmd}");
        assert!(!container_command("  ").contains("setup command failed"));
    }

    #[test]
    fn an_ecr_image_is_named_in_the_accounts_registry_of_its_partition() {
        let id = crate::JobId::new("wc", "abcde").unwrap_or_else(|e| panic!("{e}"));
        let mut spec = crate::JobArgs {
            image: Some("tools/bwa:1".into()),
            ..Default::default()
        }
        .resolve(id)
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            container_image(&spec, Some("123"), "us-east-1", "aws"),
            "tools/bwa:1"
        );
        spec.use_amazon_ecr = true;
        assert_eq!(
            container_image(&spec, Some("123"), "us-east-1", "aws"),
            "123.dkr.ecr.us-east-1.amazonaws.com/tools/bwa:1"
        );
        assert_eq!(
            container_image(&spec, Some("123"), "cn-north-1", "aws-cn"),
            "123.dkr.ecr.cn-north-1.amazonaws.com.cn/tools/bwa:1"
        );
        assert_eq!(
            container_image(&spec, None, "us-east-1", "aws"),
            "tools/bwa:1"
        );
    }
}

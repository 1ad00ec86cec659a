//! What a deploy does after `sam deploy`: `ecsub-cli publish-stager` puts the stager in the stack's bucket (README:
//! Deploy), where every instance's user data fetches it. The sandbox does it for each of its stacks as the deploying
//! user (the harness principal), with the workspace's own `ecsub-stage`, stripped of its symbols: every emulated
//! instance fetches it through the emulated S3, as an instance on AWS does.

use crate::containers::files;
use crate::{binary, Sandbox};
use std::process::Command;
use std::time::Duration;

impl Sandbox {
    pub(crate) fn publish_stagers(&self) {
        let stager = self.dir.path().join("ecsub-stage");
        let stripped = Command::new("strip")
            .arg("-s")
            .arg("-o")
            .arg(&stager)
            .arg(binary("ecsub-stage"))
            .status();
        if !stripped.is_ok_and(|s| s.success()) {
            std::fs::copy(binary("ecsub-stage"), &stager).expect("the stager is copied");
        }
        let stacks: Vec<String> = self.info["stacks"]
            .as_object()
            .map(|stacks| stacks.keys().cloned().collect())
            .unwrap_or_default();
        for name in stacks {
            let bucket = self.stack(&name)["bucket"]
                .as_str()
                .expect("a stack has a bucket")
                .to_owned();
            let mut cmd = Command::new(binary("ecsub-cli"));
            self.env(&mut cmd, "harness");
            cmd.arg("publish-stager")
                .arg("--aws-s3-bucket")
                .arg(format!("s3://{bucket}"))
                .arg(&stager);
            let out = self.bounded(cmd, Duration::from_secs(120));
            assert!(
                !out.stderr.contains("this build has no AWS support"),
                "{} was built without AWS support (the README's local command does that): rebuild it with \
                 `cargo build --workspace --bins`",
                binary("ecsub-cli").display()
            );
            assert_eq!(
                out.code,
                0,
                "publish-stager for stack {name}: {}\n{}",
                out.stderr,
                self.log_tail()
            );
        }
    }
}

impl Sandbox {
    /// What each instance's user data printed (its `cloud-init-output.log`, the console on EC2), in no order.
    pub fn user_data_logs(&self) -> Vec<String> {
        files(self.dir.path())
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n == "cloud-init-output.log"))
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }

    /// Every file of the emulated cloud (its logs, the functions' logs, the instances' and containers' files, what
    /// the agent wrote) that holds `needle`: a secret must be in none of them.
    pub fn files_containing(&self, needle: &[u8]) -> Vec<std::path::PathBuf> {
        files(self.dir.path())
            .into_iter()
            .filter(|p| {
                std::fs::read(p)
                    .unwrap_or_default()
                    .windows(needle.len())
                    .any(|w| w == needle)
            })
            .collect()
    }
}

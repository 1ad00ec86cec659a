//! The CLI built without the `aws` feature (`--no-default-features`): every command that needs AWS says so, and
//! how to build the CLI that has it. Nothing here is ever half done.

use super::{EndedJob, Stager};
use crate::args::{
    CancelArgs, LogsArgs, LsArgs, PushArgs, ReleaseArgs, ReportArgs, StatusArgs, WatchArgs,
};
use crate::error::InputError;
use crate::plan::Plan;
use ecsub_core::{JobLayout, S3Path};
use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

/// The error of a command that needs the AWS SDK.
fn without_aws(what: &str) -> anyhow::Error {
    InputError::new(format!(
        "ecsub-cli: this build has no AWS support (built with --no-default-features), which {what} requires; \
         build with the default features (cargo build -p ecsub-cli)"
    ))
    .into()
}

const JOB_COMMANDS: &str = "status, ls, watch, report, logs, cancel and release";

pub fn status(_: &StatusArgs) -> anyhow::Result<ExitCode> {
    Err(without_aws(JOB_COMMANDS))
}

pub fn release(_: &ReleaseArgs) -> anyhow::Result<ExitCode> {
    Err(without_aws(JOB_COMMANDS))
}

pub fn ls(_: &LsArgs) -> anyhow::Result<ExitCode> {
    Err(without_aws(JOB_COMMANDS))
}

pub fn watch(_: &WatchArgs) -> anyhow::Result<ExitCode> {
    Err(without_aws(JOB_COMMANDS))
}

pub fn report(_: &ReportArgs) -> anyhow::Result<ExitCode> {
    Err(without_aws(JOB_COMMANDS))
}

pub fn logs(_: &LogsArgs) -> anyhow::Result<ExitCode> {
    Err(without_aws(JOB_COMMANDS))
}

pub fn dstat(_: &crate::dsub::args::DstatArgs) -> anyhow::Result<ExitCode> {
    Err(without_aws("dstat"))
}

pub fn ddel(_: &crate::dsub::args::DdelArgs) -> anyhow::Result<ExitCode> {
    Err(without_aws("ddel"))
}

pub fn cancel(_: &CancelArgs) -> anyhow::Result<ExitCode> {
    Err(without_aws(JOB_COMMANDS))
}

/// A dry run's line on the vCPU quota: this build cannot read it.
pub fn quota_line(_: &Plan) -> String {
    "vCPU quota: not read (this ecsub-cli was built without AWS support; submit reads it as the job starts)"
        .to_owned()
}

pub fn upload(_: &PushArgs, _: &Plan, _: &JobLayout, _: String) -> anyhow::Result<ExitCode> {
    Err(without_aws("push (without --dry-run)"))
}

pub fn existing_outputs(
    _: &BTreeMap<usize, Vec<S3Path>>,
    _: &[String],
) -> anyhow::Result<BTreeSet<usize>> {
    Err(without_aws("push --skip-existing"))
}

pub fn ended_job(layout: &JobLayout) -> anyhow::Result<EndedJob> {
    Err(without_aws(&format!(
        "push --rerun-failed {}",
        layout.job_id
    )))
}

pub fn publish_stager(_: &str, _: Vec<Stager>) -> anyhow::Result<ExitCode> {
    Err(without_aws("publish-stager"))
}

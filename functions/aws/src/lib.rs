//! ecsub-aws: every call ecsub makes to AWS, as small functions over the SDK's clients ([`Clients`]). The Lambda
//! handlers (ecsub-lambda) and the CLI (ecsub-cli) both act through these; neither calls the SDK itself.
//!
//! - [`store`]: the S3 objects a job's state lives in (conditional creation where two writers could race);
//! - [`compute`]: EC2: instance types, the AMI, launching, finding and terminating a stack's instances;
//! - [`cluster`]: a job's ECS side, made and removed: its log group, cluster and task definition, the instance's
//!   join, the task started on it, the stack's clusters the janitor sweeps;
//! - [`ecs_tasks`]: a cluster's tasks, in the shape ECS's "Task State Change" events carry;
//! - [`execution`]: Step Functions: a job's execution started, asked, resumed, stopped;
//! - [`logs`]: CloudWatch Logs: the containers' output;
//! - [`queue`]: SQS: the events Lambda gave up on;
//! - [`prices`]: what a job's attempts cost (Pricing API, spot price history);
//! - [`notice`]: a job's end on the default EventBridge bus;
//! - [`quotas`]: Service Quotas: the account's EC2 vCPU quotas a job's launches draw on;
//! - [`error`]: [`FnError`], the one error type, with a stable name the state machine matches.
//!
//! Decisions (what an EC2 refusal means, what an attempt's outcome is) are ecsub-core's; this crate does what it
//! is told and reports what AWS answered. It must not depend on lambda_runtime or aws_lambda_events: the CLI
//! links it.

pub mod clients;
pub mod cluster;
pub mod compute;
pub mod ecs_tasks;
pub mod error;
pub mod execution;
pub mod hold;
pub mod logs;
pub mod notice;
pub mod prices;
pub mod queue;
pub mod quotas;
pub mod store;

pub use clients::Clients;
pub use error::FnError;

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Now, as an RFC 3339 UTC timestamp (`2026-11-28T03:04:05.123Z`).
pub fn now_rfc3339() -> String {
    aws_sdk_s3::primitives::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default()
}

//! ecsub-lambda: the handlers of ecsub's six Lambda functions. Each function is a binary of its own
//! (`src/bin/<name>.rs`, the name SAM and `infra/build-lambdas.sh` build with `--bin`), one line that runs its
//! handler with [`lambda_main!`].
//!
//! The handlers are peers, each answering one kind of event; none imports another:
//! - [`submit`]: a pushed job, an inbox drop or a schedule → a started job;
//! - [`launcher`]: the launch queue's asks → instances launched in batches at EC2's pace, each ask answered;
//! - [`launch`]: the state machine's hands for one attempt once launched (join check, start);
//! - [`task_stopped`]: ECS says a task stopped → the attempt recorded, the execution resumed;
//! - [`finalize`]: a task whose states failed, and the job's end;
//! - [`janitor`]: an execution that ended early, and the periodic sweep.
//!
//! What two handlers share is a module of its own: [`attempt_end`] (recording a stopped attempt: task-stopped, and
//! the janitor's replays of lost or failed events) and [`job_end`] (closing a job: finalize, and the janitor for an
//! execution that ended early). Each handler parses its typed event, asks ecsub-core what to do, and does it
//! through ecsub-aws; every error leaves as an [`FnError`] with a stable name from
//! `ecsub_core::chain::error_names`.

pub mod attempt_end;
pub mod config;
pub mod events;
pub mod finalize;
pub mod janitor;
pub mod job_end;
pub mod launch;
pub mod launcher;
pub mod submit;
pub mod task_stopped;
pub mod telemetry;

pub use config::{Ctx, StackConfig};
pub use ecsub_aws::{now_ms, now_rfc3339, FnError};

/// A job's object layout, from the job folder its state carries.
pub fn layout_of(job: &ecsub_core::chain::JobRef) -> Result<ecsub_core::JobLayout, FnError> {
    ecsub_core::JobLayout::from_url(&job.job_url)
        .ok_or_else(|| FnError::invalid_input(format!("`{}` is not a job folder", job.job_url)))
}

/// The error as Lambda reports it: the name is the `errorType` the state machine's Retry and Catch match.
pub fn diagnostic(e: FnError) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: e.name.to_owned(),
        error_message: e.message,
    }
}

/// Runs a Lambda handler: JSON logs, the context built once, then the runtime loop.
#[macro_export]
macro_rules! lambda_main {
    ($handler:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_runtime::Error> {
            $crate::telemetry::init();
            let ctx = $crate::Ctx::from_env().await?;
            let ctx = &ctx;
            lambda_runtime::run(lambda_runtime::service_fn(move |event| async move {
                $handler(ctx, event).await.map_err($crate::diagnostic)
            }))
            .await
        }
    };
}

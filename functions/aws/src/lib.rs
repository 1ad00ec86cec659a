//! ecsub-aws: the adapters over the AWS SDK and the handlers of ecsub's Lambda functions.
//!
//! Each handler (`submit`, `launch`, `task_stopped`, `finalize`, `janitor`) parses its typed event, asks ecsub-core what to
//! do, and does it with the clients in [`Ctx`]. The functions' `main.rs` only build a [`Ctx`] once and run the
//! handler. Every error leaves as a [`FnError`] with a stable name from `ecsub_core::chain::error_names`.

pub mod compute;
pub mod ctx;
pub mod ecs_tasks;
pub mod error;
pub mod events;
pub mod finalize;
pub mod janitor;
pub mod launch;
pub mod notice;
pub mod prices;
pub mod store;
pub mod submit;
pub mod task_stopped;
pub mod telemetry;

pub use ctx::Ctx;
pub use error::FnError;

/// Now, as an RFC 3339 UTC timestamp (`2026-11-28T03:04:05.123Z`).
pub fn now_rfc3339() -> String {
    aws_sdk_s3::primitives::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default()
}

/// Runs a Lambda handler: JSON logs, clients built once, then the runtime loop.
#[macro_export]
macro_rules! lambda_main {
    ($handler:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_runtime::Error> {
            $crate::telemetry::init();
            let ctx = $crate::Ctx::from_env().await?;
            let ctx = &ctx;
            lambda_runtime::run(lambda_runtime::service_fn(move |event| {
                $handler(ctx, event)
            }))
            .await
        }
    };
}

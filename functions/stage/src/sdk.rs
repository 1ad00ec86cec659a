//! The AWS SDK's configuration every request of the stager shares.

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Tries of one request (the SDK's standard mode makes 3).
pub const ATTEMPTS: u32 = 8;

/// Credentials (the default chain: on ECS the task role), region and `AWS_ENDPOINT_URL` from the environment. A
/// request is tried up to [`ATTEMPTS`] times (standard retry mode: exponential backoff with jitter, on throttling,
/// 5xx and connection errors), unless `AWS_MAX_ATTEMPTS` says otherwise: a task waited minutes for its instance,
/// and one S3 503 SlowDown or a dropped connection must not cost it its run.
pub async fn config() -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() {
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(ATTEMPTS));
    }
    loader.load().await
}

/// Why a call failed, in the service's words: `CODE (MESSAGE)`, or the whole chain of a failure to reach it.
pub fn why<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(e) => format!(
            "{} ({})",
            e.code().unwrap_or("UnknownError"),
            e.message().unwrap_or("no message")
        ),
        None => DisplayErrorContext(err).to_string(),
    }
}

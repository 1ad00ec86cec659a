//! The one error type of ecsub's calls to AWS and of the handlers above them: a stable name (the Lambda
//! `errorType` the state machine matches) and a message that says what failed and on what.

use aws_sdk_s3::error::ProvideErrorMetadata;
use ecsub_core::chain::{error_names, is_throttling};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnError {
    pub name: &'static str,
    pub message: String,
    /// The service refused the request itself (a 4xx other than throttling): retrying cannot help.
    pub permanent: bool,
}

impl FnError {
    pub fn new(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
            permanent: false,
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(error_names::INVALID_INPUT, message)
    }

    /// An SDK error while doing `what`, with the service's code: named `Ecsub.Throttled` for throttling (the SDK's
    /// own retries are spent), `Ecsub.AwsError` otherwise (the state machine retries both; [`FnError::is_transient`]
    /// tells a function whether waiting could help).
    pub fn aws<E>(what: impl fmt::Display, err: &aws_sdk_s3::error::SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let name = if code(err).is_some_and(is_throttling) {
            error_names::THROTTLED
        } else {
            error_names::AWS_ERROR
        };
        let mut error = Self::new(name, format!("{what}: {}", describe(err)));
        error.permanent = is_permanent(err);
        error
    }

    /// Could the same call pass later (throttling, a 5xx, the network), or is it the request or its permissions?
    pub fn is_transient(&self) -> bool {
        matches!(self.name, error_names::AWS_ERROR | error_names::THROTTLED) && !self.permanent
    }
}

/// A 4xx that is not throttling: the request or the caller's permissions are wrong, and a retry changes nothing.
fn is_permanent<E>(err: &aws_sdk_s3::error::SdkError<E>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let throttled = code(err).is_some_and(is_throttling);
    matches!(status, Some(400..=499)) && !throttled
}

/// `Code: message` for a service error, or the transport error's text.
pub fn describe<E>(err: &aws_sdk_s3::error::SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("UnknownError"),
            service.message().unwrap_or("(no message)")
        ),
        None => aws_sdk_s3::error::DisplayErrorContext(err).to_string(),
    }
}

/// The service's error code, if the error came from the service.
pub fn code<E: ProvideErrorMetadata>(err: &aws_sdk_s3::error::SdkError<E>) -> Option<&str> {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// The service's message of an SDK error, if the service answered.
pub fn message<E: ProvideErrorMetadata>(err: &aws_sdk_s3::error::SdkError<E>) -> Option<&str> {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::message)
}

impl fmt::Display for FnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for FnError {}

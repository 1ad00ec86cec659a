//! The one error type the handlers return: a stable name (the Lambda `errorType` the state machine matches) and
//! a message that says what failed and on what.

use aws_sdk_s3::error::ProvideErrorMetadata;
use ecsub_core::chain::error_names;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnError {
    pub name: &'static str,
    pub message: String,
}

impl FnError {
    pub fn new(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(error_names::INVALID_INPUT, message)
    }

    /// An SDK error while doing `what`: named `Ecsub.AwsError` (worth retrying), with the service's code.
    pub fn aws<E>(what: impl fmt::Display, err: &aws_sdk_s3::error::SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self::new(error_names::AWS_ERROR, format!("{what}: {}", describe(err)))
    }
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

impl fmt::Display for FnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for FnError {}

impl From<FnError> for lambda_runtime::Diagnostic {
    fn from(e: FnError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.name.to_owned(),
            error_message: e.message,
        }
    }
}

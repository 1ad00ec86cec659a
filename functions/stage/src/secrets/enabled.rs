//! Secrets a task reads as it starts, with its own role: a `--secret-env` value (a KMS ciphertext, base64), an SSM
//! parameter (a SecureString decrypted), a Secrets Manager secret. The value goes to standard output byte for byte
//! and nowhere else: never into a file, never into an error message (errors name the secret, not its value).

use crate::{fail, Result, SecretKind, StageError};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;

/// Where a secret is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// A KMS ciphertext, base64 (what `aws kms encrypt` prints as CiphertextBlob).
    Kms(String),
    /// An SSM parameter's name or ARN.
    Ssm(String),
    /// A Secrets Manager secret's name or ARN.
    SecretsManager(String),
}

impl Secret {
    /// What an error names: the parameter or secret; a ciphertext by its length only.
    fn named(&self) -> String {
        match self {
            Secret::Kms(blob) => format!("the KMS ciphertext ({} base64 characters)", blob.len()),
            Secret::Ssm(name) => format!("the SSM parameter {name}"),
            Secret::SecretsManager(id) => format!("the Secrets Manager secret {id}"),
        }
    }
}

/// The ciphertext's bytes; a value that is not base64 is refused before any call.
pub fn ciphertext(blob: &str) -> Result<Vec<u8>> {
    let trimmed = blob.trim();
    if trimmed.is_empty() {
        return fail("the KMS ciphertext is empty");
    }
    base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .map_err(|e| {
            StageError(format!(
                "the KMS ciphertext ({} characters) is not base64: {e}",
                blob.len()
            ))
        })
}

/// The value of the secret `ecsub-stage secret KIND VALUE` names.
pub async fn read(kind: SecretKind, value: String) -> Result<Vec<u8>> {
    let secret = match kind {
        SecretKind::Kms => Secret::Kms(value),
        SecretKind::Ssm => Secret::Ssm(value),
        SecretKind::Secretsmanager => Secret::SecretsManager(value),
    };
    read_secret(&secret).await
}

/// The secret's value, read with the credentials of the environment (on ECS: the task role).
async fn read_secret(secret: &Secret) -> Result<Vec<u8>> {
    let shared = crate::sdk::config().await;
    let what = secret.named();
    match secret {
        Secret::Kms(blob) => {
            let bytes = ciphertext(blob)?;
            let out = aws_sdk_kms::Client::new(&shared)
                .decrypt()
                .ciphertext_blob(Blob::new(bytes))
                .send()
                .await
                .map_err(|e| aws_error("kms:Decrypt", &what, &e))?;
            match out.plaintext {
                Some(plain) => Ok(plain.into_inner()),
                None => fail(format!("kms:Decrypt of {what} returned no plaintext")),
            }
        }
        Secret::Ssm(name) => {
            let out = aws_sdk_ssm::Client::new(&shared)
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| aws_error("ssm:GetParameter", &what, &e))?;
            match out.parameter.and_then(|p| p.value) {
                Some(value) => Ok(value.into_bytes()),
                None => fail(format!("ssm:GetParameter of {what} returned no value")),
            }
        }
        Secret::SecretsManager(id) => {
            let out = aws_sdk_secretsmanager::Client::new(&shared)
                .get_secret_value()
                .secret_id(id)
                .send()
                .await
                .map_err(|e| aws_error("secretsmanager:GetSecretValue", &what, &e))?;
            if let Some(text) = out.secret_string {
                Ok(text.into_bytes())
            } else if let Some(binary) = out.secret_binary {
                Ok(binary.into_inner())
            } else {
                fail(format!(
                    "secretsmanager:GetSecretValue of {what} returned no value"
                ))
            }
        }
    }
}

/// `ACTION of WHAT failed: CODE (MESSAGE)`, the service's own words (a value is never in them: a refused or failed
/// call returned none).
fn aws_error<E, R>(action: &str, what: &str, e: &SdkError<E, R>) -> StageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StageError(format!("{action} of {what} failed: {}", crate::sdk::why(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ciphertext_must_be_base64_and_is_named_by_its_length_only() {
        assert_eq!(ciphertext(" AQID\n").unwrap(), vec![1, 2, 3]);
        let refused = ciphertext("not base64!").unwrap_err().0;
        assert!(refused.starts_with("the KMS ciphertext (11 characters) is not base64"));
        assert!(!refused.contains("not base64!"));
        assert_eq!(
            ciphertext("  ").unwrap_err().0,
            "the KMS ciphertext is empty"
        );
        assert_eq!(
            Secret::Kms("QUJD".into()).named(),
            "the KMS ciphertext (4 base64 characters)"
        );
    }
}

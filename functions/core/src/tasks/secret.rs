//! What a `--secret-env` cell names. ecsub's contract: a KMS ciphertext (base64), decrypted in the task. Besides,
//! a reference the stager resolves in the task with the task role, so that the value is in no file the user
//! keeps and nowhere in the job's bucket, task definition or logs: `ssm:NAME` (an SSM parameter; a SecureString
//! is decrypted) or `secretsmanager:NAME` (a Secrets Manager secret, by name or ARN). A stack lets its tasks read
//! only the names under its SecretsPrefix; submit refuses a job naming another ([`outside_prefix`]) or a value that
//! is neither ([`check`]). `run --local` passes every value as written.

/// Where a `--secret-env` value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource<'a> {
    Kms(&'a str),
    Ssm(&'a str),
    SecretsManager(&'a str),
}

impl<'a> SecretSource<'a> {
    pub fn of(value: &'a str) -> SecretSource<'a> {
        if let Some(name) = value.strip_prefix("ssm:") {
            SecretSource::Ssm(name)
        } else if let Some(name) = value.strip_prefix("secretsmanager:") {
            SecretSource::SecretsManager(name)
        } else {
            SecretSource::Kms(value)
        }
    }

    /// The name as the stack's prefix is matched against: an SSM name without its leading `/`, a name from its
    /// ARN (`parameter/NAME`, `secret:NAME-xxxxxx`). None for a ciphertext.
    pub fn name(&self) -> Option<(&'static str, &'a str)> {
        match *self {
            SecretSource::Kms(_) => None,
            SecretSource::Ssm(name) => {
                let name = name.split_once(":parameter/").map_or(name, |(_, n)| n);
                Some(("SSM parameter", name.trim_start_matches('/')))
            }
            SecretSource::SecretsManager(name) => Some((
                "Secrets Manager secret",
                name.split_once(":secret:").map_or(name, |(_, n)| n),
            )),
        }
    }
}

/// Checks a `--secret-env` cell: empty, base64 ciphertext, or a well-formed reference.
pub fn check(value: &str) -> Result<(), String> {
    match SecretSource::of(value) {
        SecretSource::Kms(text) => {
            if text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            {
                Ok(())
            } else {
                // The value is not repeated: it may be a secret written in the clear by mistake.
                Err(format!(
                    "the value ({} characters, not shown) is neither a base64 KMS ciphertext nor a reference \
                     (ssm:NAME, secretsmanager:NAME)",
                    text.chars().count()
                ))
            }
        }
        SecretSource::Ssm(name) => name_of(name, b"_.-/:").ok_or_else(|| {
            format!("`{value}`: an SSM parameter name is 1 to 2048 of a-z A-Z 0-9 _ . - /")
        }),
        SecretSource::SecretsManager(name) => name_of(name, b"/_+=.@-:").ok_or_else(|| {
            format!(
                "`{value}`: a Secrets Manager secret is a name or ARN of a-z A-Z 0-9 / _ + = . @ -"
            )
        }),
    }
}

/// A reference's name: 1 to 2048 ASCII letters, digits and `extra` (`:` for an ARN).
fn name_of(name: &str, extra: &[u8]) -> Option<()> {
    let ok = !name.is_empty()
        && name.len() <= 2048
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    ok.then_some(())
}

/// Why the task role could not read a reference: its name is not under the stack's prefix (None: it is, or the
/// value is a ciphertext).
pub fn outside_prefix(value: &str, prefix: &str) -> Option<String> {
    let (kind, name) = SecretSource::of(value).name()?;
    if !prefix.is_empty() && name.starts_with(prefix) {
        return None;
    }
    Some(format!(
        "the {kind} `{name}` is not under the stack's secrets prefix `{prefix}` (its SecretsPrefix parameter): \
         the task role may read only those; rename it, or deploy the stack with a prefix that covers it"
    ))
}

/// Why the task role could not read a reference named by its ARN: the ARN is of another partition, region or
/// account than the stack's (`home`: partition, region, account; an empty one is not checked). The task role may
/// read its own account's and region's secrets only (template.yaml, SecretParameters and SecretValues), so such a
/// job would fail in every task, after its instances were paid for.
pub fn elsewhere(value: &str, home: [&str; 3]) -> Option<String> {
    let (kind, arn) = match SecretSource::of(value) {
        SecretSource::Ssm(name) => ("SSM parameter", name),
        SecretSource::SecretsManager(name) => ("Secrets Manager secret", name),
        SecretSource::Kms(_) => return None,
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        return None;
    }
    let named = [parts[1], parts[3], parts[4]];
    let what = ["partition", "region", "account"];
    let differ: Vec<String> = (0..3)
        .filter(|&i| !home[i].is_empty() && named[i] != home[i])
        .map(|i| format!("{} {} (the stack's: {})", what[i], named[i], home[i]))
        .collect();
    (!differ.is_empty()).then(|| {
        format!(
            "the {kind} `{arn}` is in another {}: the task role may read only its own account's and region's \
             secrets; copy it there, or name it without an ARN",
            differ.join(", ")
        )
    })
}

/// The ARN ECS is given for a Secrets Manager secret named by `NAME` or by its ARN (`repositoryCredentials`
/// takes an ARN: "credentialsParameter: The Amazon Resource Name (ARN) of the secret"). A name becomes the partial
/// ARN of the stack's partition, region and account, which Secrets Manager resolves as it does a name.
pub fn secret_arn(name_or_arn: &str, [partition, region, account]: [&str; 3]) -> String {
    if name_or_arn.starts_with("arn:") {
        name_or_arn.to_owned()
    } else {
        format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{name_or_arn}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_named_by_name_becomes_a_partial_arn_of_the_stack() {
        assert_eq!(
            secret_arn("ecsub/ghcr", ["aws", "us-east-1", "123456789012"]),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecsub/ghcr"
        );
        let arn = "arn:aws:secretsmanager:us-east-1:1:secret:ecsub/ghcr-AbCdEf";
        assert_eq!(secret_arn(arn, ["aws", "us-east-1", "1"]), arn);
    }

    #[test]
    fn a_cell_is_a_ciphertext_or_a_reference() {
        assert_eq!(SecretSource::of("AQICAHg="), SecretSource::Kms("AQICAHg="));
        assert_eq!(
            SecretSource::of("ssm:/ecsub/db"),
            SecretSource::Ssm("/ecsub/db")
        );
        assert_eq!(
            SecretSource::of("secretsmanager:ecsub/token"),
            SecretSource::SecretsManager("ecsub/token")
        );
        assert!(check("").is_ok());
        assert!(check("AQICAHg+/=").is_ok());
        assert!(check("ssm:/ecsub/db").is_ok());
        assert!(
            check("secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:ecsub/t-AbCdEf")
                .is_ok()
        );
        let refused = check("not base64!").unwrap_err();
        assert!(refused.starts_with(
            "the value (11 characters, not shown) is neither a base64 KMS ciphertext"
        ));
        assert!(
            !refused.contains("not base64!"),
            "a value written in the clear is not repeated"
        );
        assert!(check("ssm:").unwrap_err().contains("an SSM parameter name"));
        assert!(check("secretsmanager:a b")
            .unwrap_err()
            .contains("a Secrets Manager secret"));
    }

    #[test]
    fn references_outside_the_prefix_are_named() {
        assert_eq!(outside_prefix("AQICAHg=", "ecsub/"), None);
        assert_eq!(outside_prefix("ssm:/ecsub/db", "ecsub/"), None);
        assert_eq!(
            outside_prefix("ssm:arn:aws:ssm:us-east-1:1:parameter/ecsub/db", "ecsub/"),
            None
        );
        assert_eq!(
            outside_prefix(
                "secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:ecsub/t-AbCdEf",
                "ecsub/"
            ),
            None
        );
        let refused = outside_prefix("secretsmanager:prod/db", "ecsub/").unwrap();
        assert!(refused.starts_with(
            "the Secrets Manager secret `prod/db` is not under the stack's secrets prefix `ecsub/`"
        ));
        assert!(
            outside_prefix("ssm:/ecsub/db", "").is_some(),
            "no prefix: nothing may be read"
        );
    }

    #[test]
    fn a_reference_by_arn_must_be_in_the_stacks_account_and_region() {
        let home = ["aws", "us-east-1", "111122223333"];
        let here = "ssm:arn:aws:ssm:us-east-1:111122223333:parameter/ecsub/db";
        assert_eq!(elsewhere(here, home), None);
        assert_eq!(elsewhere("ssm:/ecsub/db", home), None);
        assert_eq!(elsewhere("AQICAHg=", home), None);
        let there =
            "secretsmanager:arn:aws:secretsmanager:eu-west-1:444455556666:secret:ecsub/t-AbCdEf";
        assert_eq!(
            elsewhere(there, home).as_deref(),
            Some(
                "the Secrets Manager secret `arn:aws:secretsmanager:eu-west-1:444455556666:secret:ecsub/t-AbCdEf` \
                 is in another region eu-west-1 (the stack's: us-east-1), account 444455556666 (the stack's: \
                 111122223333): the task role may read only its own account's and region's secrets; copy it \
                 there, or name it without an ARN"
            )
        );
        assert_eq!(
            elsewhere(there, ["aws", "", ""]),
            None,
            "unknown: not checked"
        );
    }
}

//! The stager built without the `secrets` feature: it reads no secrets.

use crate::{fail, Result, SecretKind};

pub async fn read(_: SecretKind, _: String) -> Result<Vec<u8>> {
    fail("this build reads no secrets (built without the `secrets` feature)")
}

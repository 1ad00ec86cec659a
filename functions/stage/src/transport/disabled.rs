//! The stager built without the `s3` feature: the S3 transport says it is not there.

use crate::{fail, Copy, Result};

const WITHOUT_S3: &str =
    "this build has no S3 transport (built without the `s3` feature): use --transport local";

pub async fn copy(_: &Copy, _: &str) -> Result<()> {
    fail(WITHOUT_S3)
}

pub async fn range(_: &str, _: u64, _: u64, _: &str) -> Result<Vec<u8>> {
    fail(WITHOUT_S3)
}

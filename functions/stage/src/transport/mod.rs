//! The S3 transport (`--transport s3`, what a task on AWS uses): with the `s3` feature, [`s3.rs`](imp) over the AWS
//! SDK; without it (a CLI built without the SDK, which has the local transport only), [`disabled.rs`](imp), which
//! says so. The local transport is `local.rs`, whatever the build.

#[cfg(feature = "s3")]
#[path = "s3.rs"]
mod imp;

#[cfg(not(feature = "s3"))]
#[path = "disabled.rs"]
mod imp;

pub use imp::{copy, range};

//! `ecsub-stage secret`: with the `secrets` feature, [`enabled.rs`](imp) reads KMS, SSM and Secrets Manager with
//! the task's role; without it, [`disabled.rs`](imp) says so (`run --local` passes secrets as written and never
//! asks).

#[cfg(feature = "secrets")]
#[path = "enabled.rs"]
mod imp;

#[cfg(not(feature = "secrets"))]
#[path = "disabled.rs"]
mod imp;

pub use imp::read;

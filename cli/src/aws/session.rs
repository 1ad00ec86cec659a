//! A command's session with AWS: the async runtime it runs on and the clients from the standard chain
//! (credentials, region, `AWS_ENDPOINT_URL`).

use crate::error::InputError;
use anyhow::Context as _;
use ecsub_aws::Clients;

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Clients from the standard AWS chain; a missing region is an input error.
pub async fn connect() -> anyhow::Result<Clients> {
    let aws = Clients::load("aws").await;
    if aws.region.is_empty() {
        return Err(InputError::new(
            "ecsub-cli: no AWS region: set AWS_REGION (or a profile with a region)",
        )
        .into());
    }
    Ok(aws)
}

//! Service Quotas: the account's EC2 vCPU quota a job's instance type draws on (ecsub-core's
//! [`quotas`](ecsub_core::chain::quotas) says which, and what to tell the user).

use crate::compute;
use crate::error::{code, FnError};
use ecsub_core::chain::quotas::{advice, quota_for, Demand};

/// The applied value of an EC2 quota (`GetServiceQuota`), or `None` when Service Quotas knows no such quota here
/// (`NoSuchResourceException`: a region without the class).
pub async fn vcpu_quota(
    client: &aws_sdk_servicequotas::Client,
    quota_code: &str,
) -> Result<Option<f64>, FnError> {
    match client
        .get_service_quota()
        .service_code("ec2")
        .quota_code(quota_code)
        .send()
        .await
    {
        Ok(out) => Ok(out.quota().and_then(|q| q.value())),
        Err(e) if code(&e) == Some("NoSuchResourceException") => Ok(None),
        Err(e) => Err(FnError::aws(
            format!("GetServiceQuota ec2 {quota_code}"),
            &e,
        )),
    }
}

/// What to tell the user about the vCPU quota of a job's first instance type, whose `at_once` instances run at
/// once: `None` when the quota holds them (or the type's class has no quota here). One DescribeInstanceTypes (kept
/// for the process) and one GetServiceQuota.
pub async fn job_advice(
    clients: &crate::Clients,
    instance_type: &str,
    spot: bool,
    at_once: u32,
) -> Result<Option<String>, FnError> {
    let Some(quota) = quota_for(instance_type, spot) else {
        return Ok(None);
    };
    let facts = compute::type_facts(&clients.ec2, &[instance_type.to_owned()]).await?;
    let Some(vcpus) = facts.get(instance_type).map(|f| f.vcpus) else {
        return Ok(None);
    };
    let Some(value) = vcpu_quota(&clients.quotas, quota.code).await? else {
        return Ok(None);
    };
    let demand = Demand {
        instance_type,
        vcpus,
        at_once,
    };
    Ok(advice(&demand, &quota, value, &clients.region))
}

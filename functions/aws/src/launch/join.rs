//! Has an attempt's instance joined the job's cluster? Registered, ACTIVE and with its agent connected: only such
//! an instance accepts a task (ECS ContainerInstance: "Only instances connected to an agent can accept task
//! placement requests").

use crate::ctx::Ctx;
use crate::error::{code, FnError};
use ecsub_core::chain::{Instance, JobRef, JoinCheck};

pub async fn check(ctx: &Ctx, job: &JobRef, instance: &Instance) -> Result<JoinCheck, FnError> {
    let listed = ctx
        .ecs
        .list_container_instances()
        .cluster(&job.cluster)
        .filter(format!("ec2InstanceId == {}", instance.instance_id))
        .send()
        .await;
    let arns = match listed {
        Ok(out) => out.container_instance_arns().to_vec(),
        Err(e) if code(&e) == Some("ClusterNotFoundException") => {
            return Err(FnError::invalid_input(format!(
                "the job's cluster {} does not exist",
                job.cluster
            )))
        }
        Err(e) => {
            return Err(FnError::aws(
                format!("ListContainerInstances {}", job.cluster),
                &e,
            ))
        }
    };
    let Some(arn) = arns.first() else {
        return Ok(JoinCheck {
            joined: false,
            container_instance_arn: None,
            seen: "not registered".to_owned(),
        });
    };
    let described = ctx
        .ecs
        .describe_container_instances()
        .cluster(&job.cluster)
        .container_instances(arn)
        .send()
        .await
        .map_err(|e| FnError::aws(format!("DescribeContainerInstances {arn}"), &e))?;
    let Some(found) = described.container_instances().first() else {
        return Ok(JoinCheck {
            joined: false,
            container_instance_arn: Some(arn.clone()),
            seen: "registered, then gone".to_owned(),
        });
    };
    let status = found.status().unwrap_or("UNKNOWN");
    let connected = found.agent_connected();
    Ok(JoinCheck {
        joined: connected && status == "ACTIVE",
        container_instance_arn: Some(arn.clone()),
        seen: format!(
            "registered, {status}, agent {}",
            if connected {
                "connected"
            } else {
                "disconnected"
            }
        ),
    })
}

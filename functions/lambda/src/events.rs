//! The events the functions receive, parsed leniently: AWS sends more fields than these, emulators fewer. An ECS
//! task's detail is ecsub-aws's [`EcsTaskDetail`]: DescribeTasks answers in the same shape.

pub use ecsub_aws::ecs_tasks::{EcsContainer, EcsTaskDetail};
use serde::{Deserialize, Serialize};

/// The envelope of every EventBridge event.
pub type EventBridgeEvent<T> = aws_lambda_events::event::eventbridge::EventBridgeEvent<T>;

/// `detail` of an S3 "Object Created" event delivered through EventBridge.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct S3ObjectDetail {
    #[serde(default)]
    pub bucket: S3Bucket,
    #[serde(default)]
    pub object: S3Object,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct S3Bucket {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct S3Object {
    #[serde(default)]
    pub key: String,
    #[serde(default, alias = "eTag")]
    pub etag: Option<String>,
    #[serde(default, rename = "version-id")]
    pub version_id: Option<String>,
    #[serde(default)]
    pub sequencer: Option<String>,
}

/// What a schedule rule sends (its input transformer): which stored job spec to run, and the event's identity.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ScheduleInput {
    /// Key of the stored job spec in the stack's bucket, e.g. `specs/nightly.json`.
    pub spec: String,
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub id: String,
}

/// `detail` of an ECS "Container Instance State Change" event: like DescribeContainerInstances' ContainerInstance
/// ("Amazon ECS container instance state change events"), with the cluster's ARN. ECS sends one when an agent
/// first registers its instance, and again whenever its agent connects or disconnects and when tasks are placed
/// or stop on it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceDetail {
    #[serde(default)]
    pub cluster_arn: String,
    #[serde(default)]
    pub container_instance_arn: String,
    #[serde(default)]
    pub ec2_instance_id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub agent_connected: bool,
    #[serde(default)]
    pub running_tasks_count: u32,
    #[serde(default)]
    pub pending_tasks_count: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ecs_container_instance_state_change_names_the_instance_and_its_cluster() {
        let raw = include_str!("../../../tests/fixtures/events/ecs-container-instance-joined.json");
        let event: EventBridgeEvent<ContainerInstanceDetail> = serde_json::from_str(raw).unwrap();
        let detail = &event.detail;
        assert_eq!(detail.ec2_instance_id, "i-0abc123def4567890");
        assert_eq!(detail.status, "ACTIVE");
        assert!(detail.agent_connected);
        assert_eq!(
            (detail.running_tasks_count, detail.pending_tasks_count),
            (0, 0)
        );
        assert!(detail
            .cluster_arn
            .ends_with(":cluster/ecsub_wordcount-k3x9a"));
        assert!(detail
            .container_instance_arn
            .contains(":container-instance/"));
    }

    #[test]
    fn an_ecs_task_state_change_gives_the_exit_code_and_the_state_machines_variables() {
        let raw = include_str!("../../../tests/fixtures/events/ecs-task-stopped.json");
        let event: EventBridgeEvent<EcsTaskDetail> = serde_json::from_str(raw).unwrap();
        let task = &event.detail;
        assert_eq!(task.last_status, "STOPPED");
        assert_eq!(task.main_container().and_then(|c| c.exit_code), Some(3));
        assert_eq!(
            task.env("ECSUB_TASK_TOKEN"),
            Some("AQCEAAAAKgAAAAMAAAAAAAAAAeMg2token")
        );
        assert_eq!(
            task.env("ECSUB_JOB_URL"),
            Some("s3://ecsub-jobs/jobs/wordcount-k3x9a/")
        );
        assert_eq!(task.env("NOT_THERE"), None);
        let env = task
            .task_env()
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("the state machine's task"));
        assert_eq!(
            (env.index, env.attempt.number, env.attempt.spot),
            (1, 1, true)
        );
        assert!(env.retry_od);
        assert_eq!(env.instance_id.as_deref(), Some("i-0abc123def4567890"));
        assert_eq!(env.launched_at, None, "not in this event");
        assert_eq!(task.stop_code.as_deref(), Some("EssentialContainerExited"));
    }

    /// EventBridge's S3 events carry the key as written, unlike classic S3 notifications (URL-encoded): the
    /// S3 EventBridge docs show plain keys, a captured event keeps `:` raw (see the AWS review, finding 14), and a
    /// key holding `+`, `,`, `:` and spaces must reach the function unchanged.
    #[test]
    fn an_s3_object_created_event_gives_the_bucket_the_raw_key_and_the_write_identity() {
        let raw = include_str!("../../../tests/fixtures/events/s3-object-created.json");
        let event: EventBridgeEvent<S3ObjectDetail> = serde_json::from_str(raw).unwrap();
        assert_eq!(event.detail.bucket.name, "ecsub-jobs");
        assert_eq!(event.detail.object.key, "inbox/night run, batch+7: a.tsv");
        assert_eq!(
            event.detail.object.sequencer.as_deref(),
            Some("00617F08299329D189")
        );
        assert_eq!(
            event.detail.object.version_id.as_deref(),
            Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")
        );
    }
}

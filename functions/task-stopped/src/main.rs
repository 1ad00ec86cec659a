//! The `task-stopped` Lambda: ECS "Task State Change" (STOPPED) → outputs checked, attempt recorded, instance
//! terminated, execution resumed.
ecsub_aws::lambda_main!(ecsub_aws::task_stopped::handle);

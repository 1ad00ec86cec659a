//! The `task-stopped` Lambda: ECS "Task State Change" (STOPPED) → outputs checked, attempt recorded, instance
//! terminated, execution resumed.
ecsub_lambda::lambda_main!(ecsub_lambda::task_stopped::handle);

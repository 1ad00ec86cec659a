//! The `launch` Lambda: called by the state machine for each attempt of a task: launches its EC2 instance, checks
//! that it joined the job's cluster, starts the task on it.
ecsub_lambda::lambda_main!(ecsub_lambda::launch::handle);

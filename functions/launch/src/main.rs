//! The `launch` Lambda: called by the state machine for each attempt of a task; launches its EC2 instance.
ecsub_aws::lambda_main!(ecsub_aws::launch::handle);

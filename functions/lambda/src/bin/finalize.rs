//! The `finalize` Lambda: called by the state machine when a task's states fail and when the job ends.
ecsub_lambda::lambda_main!(ecsub_lambda::finalize::handle);

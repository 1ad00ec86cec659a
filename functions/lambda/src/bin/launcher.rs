//! The `launcher` Lambda: the launch queue's consumer; launches the asks of each job in batches at EC2's pace and
//! answers each task's Launch state with its instance.
ecsub_lambda::lambda_main!(ecsub_lambda::launcher::handle);

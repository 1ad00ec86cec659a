//! The `janitor` Lambda: an execution that ended FAILED/ABORTED/TIMED_OUT, or the periodic sweep → nothing
//! tagged with a dead job keeps running.
ecsub_lambda::lambda_main!(ecsub_lambda::janitor::handle);

//! The `submit` Lambda: S3 "Object Created" (a pushed `job.json`, an inbox drop) or a schedule → a started job.
ecsub_lambda::lambda_main!(ecsub_lambda::submit::handle);

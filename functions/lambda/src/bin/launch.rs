//! The `launch` Lambda: called by the state machine for each attempt of a task once its instance is launched:
//! waits for its join (ECS's join events arrive here too), checks it when no event came, starts the task on it.
ecsub_lambda::lambda_main!(ecsub_lambda::launch::handle);

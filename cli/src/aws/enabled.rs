//! The CLI built with the `aws` feature (the default): each function of the interface ([`super`]) is a command
//! module of this folder.

mod cache;
mod cancel;
mod collect;
mod dstat;
mod ended;
mod logs;
mod ls;
mod outputs;
mod quota;
mod records;
mod release;
mod report;
mod session;
mod stager;
mod status;
mod upload;
mod view;
mod watch;

pub use cancel::cancel;
pub use dstat::{ddel, dstat};
pub use ended::ended_job;
pub use logs::logs;
pub use ls::ls;
pub use outputs::existing_outputs;
pub use quota::quota_line;
pub use release::release;
pub use report::report;
pub use stager::publish_stager;
pub use status::status;
pub use upload::upload;
pub use watch::watch;

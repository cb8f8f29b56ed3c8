//! Integration tests of archive-scheduler, one binary with a module per
//! concern, all on paused tokio time with a real store and a real in-memory
//! backend.

mod announcing;
mod failures;
mod fixture;
mod lifecycle;
mod model;
mod start_cases;

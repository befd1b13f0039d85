//! The Khiên endpoint agent.
//!
//! It reads real security facts from the machine ([`probe`]), evaluates the
//! level policies on them with the evaluator shared with the collector
//! ([`khien_policy`]), and prints or reports the verdicts ([`cli`]).

pub mod cli;
pub mod config;
pub mod durable;
pub mod enroll;
pub mod explain;
pub mod probe;
pub mod render;
pub mod run;
pub mod send;
pub mod spool;
pub mod state;
pub mod status;
pub mod watch;

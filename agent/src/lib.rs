//! The Khiên endpoint agent.
//!
//! It reads real security facts from the machine ([`probe`]), evaluates the
//! level policies on them with the evaluator shared with the collector
//! ([`khien_policy`]), and prints or reports the verdicts ([`cli`]).

pub mod cli;
pub mod config;
pub mod probe;
pub mod render;
pub mod spool;

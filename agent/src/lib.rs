//! The Khiên endpoint agent.
//!
//! It reads real security facts from the machine ([`probe`]), evaluates the
//! level policies on them with the shared evaluator, and (later) reports them.

pub mod config;
pub mod probe;

//! Khiên wire types, shared by the agent and the collector.
//!
//! No I/O happens here: this crate defines what an endpoint reports
//! ([`facts`]), what a policy concludes about it ([`results`]) and the signed
//! envelope that carries both ([`report`]).

pub mod enroll;
pub mod facts;
pub mod report;
pub mod results;
pub mod timestamp;

pub use facts::{Facts, Platform, Role};
pub use results::{CheckResult, Counts, Evaluation, Evidence, Status};
pub use timestamp::Timestamp;

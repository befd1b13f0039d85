//! Khiên policies: the level catalogue as data, and the one evaluator that
//! agent and collector share.
//!
//! A framework (`policies/<id>/`) lists requirements of a standard; each
//! requirement applies from a level, to roles, with thresholds per level
//! (`params`) and checks per platform written in CEL over the fact model of
//! [`khien_proto::facts`].

pub mod eval;
pub mod expr;
pub mod load;
pub mod locate;
pub mod model;

pub use eval::{FactsView, Target};
pub use load::{Catalogue, FrameworkInfo, LoadErrors, PolicyError};
pub use model::{Framework, Lang, Requirement, Text};

#[cfg(test)]
mod tests;

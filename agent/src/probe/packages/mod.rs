//! Installed packages, when they were last updated, pending (security)
//! updates from the local package lists, and where packages come from.

use super::{Errors, ProbeContext};
use khien_proto::facts::Packages;

pub fn collect(_ctx: &ProbeContext<'_>, _errors: &mut Errors) -> Packages {
    Packages::default()
}

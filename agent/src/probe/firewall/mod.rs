//! Host firewall facts, per backend, and the inbound default-deny summary.

use super::{Errors, ProbeContext};
use khien_proto::facts::Firewall;

pub fn collect(_ctx: &ProbeContext<'_>, _errors: &mut Errors) -> Firewall {
    Firewall::default()
}

//! Anti-malware facts: ClamAV from its own configuration, other products from a data table.

pub mod products;

use super::{Errors, ProbeContext};
use khien_proto::facts::Antivirus;

pub fn collect(_ctx: &ProbeContext<'_>, _errors: &mut Errors) -> Antivirus {
    Antivirus::default()
}

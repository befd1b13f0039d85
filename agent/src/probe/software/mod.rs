//! Notable software from a data table (browsers, mail, VPN, remote access,
//! backup and security agents), browser policies and directory membership.

use super::{Errors, ProbeContext};
use khien_proto::facts::{Directory, Software};

#[derive(Debug, Default)]
pub struct SoftwareFacts {
    pub software: Software,
    pub directory: Directory,
}

pub fn collect(_ctx: &ProbeContext<'_>, _errors: &mut Errors) -> SoftwareFacts {
    SoftwareFacts::default()
}

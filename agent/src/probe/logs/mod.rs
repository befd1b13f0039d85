//! What the machine records and how it keeps time: auditd, journald and
//! syslog (retention, forwarding), log shippers and clock synchronisation.

use super::{Errors, ProbeContext};
use khien_proto::facts::{Audit, Logging, TimeSync};

#[derive(Debug, Default)]
pub struct Logs {
    pub audit: Audit,
    pub logging: Logging,
    pub time_sync: TimeSync,
}

pub fn collect(_ctx: &ProbeContext<'_>, _errors: &mut Errors) -> Logs {
    Logs::default()
}

//! What the machine records and how it keeps time: auditd, journald and
//! syslog (retention, forwarding), log shippers and clock synchronisation.

mod audit;
mod files;
mod journald;
mod logging;
mod rsyslog;
mod syslog_ng;
mod systemd;
mod timesync;

use super::{Errors, ProbeContext};
use khien_proto::facts::{Audit, Logging, TimeSync};

#[derive(Debug, Default)]
pub struct Logs {
    pub audit: Audit,
    pub logging: Logging,
    pub time_sync: TimeSync,
}

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Logs {
    Logs {
        audit: audit::collect(ctx, errors),
        logging: logging::collect(ctx, errors),
        time_sync: timesync::collect(ctx, errors),
    }
}

//! What only Windows has, beside the platform-neutral sections that a
//! Windows agent also fills (anti-malware products, firewall, network,
//! accounts, password and lockout policy, disk encryption, USB storage,
//! software, directory). Policies read it as `facts.windows.…`; it is
//! `None` on other platforms.

use serde::{Deserialize, Serialize};

mod hardening;
mod protection;

pub use hardening::*;
pub use protection::*;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Windows {
    /// Anti-malware as Windows reports it: Security Center, Defender, firewall profiles.
    pub protection: Protection,
    /// Settings the catalogue's Windows checks read.
    pub hardening: WindowsHardening,
}

//! The machine itself: hardware inventory, disk encryption, USB storage
//! control and kernel hardening.
//!
//! Everything comes from `/proc`, `/sys` and `/etc` under the probe root: the
//! kernel's own view, readable without tools, so the parsers run on recorded
//! files in tests.

pub mod disk;
pub mod hardening;
pub mod hardware;
pub mod usb;

use super::{Errors, ProbeContext};
use khien_proto::facts::{DiskEncryption, Hardening, Hardware, UsbStorage};
use std::io;

#[derive(Debug, Default)]
pub struct System {
    pub hardware: Hardware,
    pub disk_encryption: DiskEncryption,
    pub usb_storage: UsbStorage,
    pub hardening: Hardening,
}

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> System {
    System {
        hardware: hardware::collect(ctx, errors),
        disk_encryption: disk::collect(ctx, errors),
        usb_storage: usb::collect(ctx, errors),
        hardening: hardening::collect(ctx, errors),
    }
}

/// A one-value sysfs or procfs attribute, trimmed; `None` when absent.
///
/// Not `Root::read_optional`: that one allocates a large buffer for big
/// `/proc` tables, and this probe reads dozens of few-byte attributes. Bytes
/// that are not UTF-8 (USB descriptor strings come from the device) are
/// replaced rather than failing the read.
fn read_attr(ctx: &ProbeContext<'_>, abs: &str) -> io::Result<Option<String>> {
    match std::fs::read(ctx.root.path(abs)) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).trim().to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;

    #[test]
    fn an_empty_root_has_no_facts_and_says_why_only_for_mountinfo() {
        let dir = tempfile::tempdir().unwrap();
        let config = ProbeConfig {
            root: dir.path().into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        let system = collect(&ctx, &mut errors);
        assert_eq!(system.hardware, Hardware::default());
        assert_eq!(system.disk_encryption, DiskEncryption::default());
        assert_eq!(system.usb_storage, UsbStorage::default());
        assert_eq!(system.hardening, Hardening::default());
        let probes: Vec<&str> = errors.0.iter().map(|e| e.probe.as_str()).collect();
        assert_eq!(probes, vec!["disk_encryption"], "{:?}", errors.0);
    }
}

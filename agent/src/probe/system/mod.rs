//! The machine itself: hardware inventory, disk encryption, USB storage
//! control and kernel hardening.

use super::{Errors, ProbeContext};
use khien_proto::facts::{DiskEncryption, Hardening, Hardware, UsbStorage};

#[derive(Debug, Default)]
pub struct System {
    pub hardware: Hardware,
    pub disk_encryption: DiskEncryption,
    pub usb_storage: UsbStorage,
    pub hardening: Hardening,
}

pub fn collect(_ctx: &ProbeContext<'_>, _errors: &mut Errors) -> System {
    System::default()
}

//! The machine itself: hardware identity and devices, disk encryption,
//! removable storage and kernel hardening.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hardware {
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// The system serial number (readable by root only on Linux).
    pub serial: Option<String>,
    pub bios_vendor: Option<String>,
    pub bios_version: Option<String>,
    pub bios_date: Option<String>,
    /// `desktop`, `laptop`, `server`, `virtual`, … from the DMI chassis type.
    pub chassis: Option<String>,
    pub disks: Vec<Disk>,
    /// USB devices attached now.
    pub usb_devices: Vec<UsbDevice>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Disk {
    pub name: String,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub size_bytes: Option<u64>,
    pub removable: bool,
    pub rotational: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsbDevice {
    /// `vvvv:pppp`, lower-case hex.
    pub id: String,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
    /// The interface class, e.g. `mass-storage`, `hid`, `hub`, `other`.
    pub class: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskEncryption {
    /// Persistent local filesystems and swap, with what lies under them.
    pub volumes: Vec<Volume>,
    /// The root filesystem is encrypted.
    pub root_encrypted: Option<bool>,
    /// Every persistent local filesystem and swap area is encrypted.
    pub all_encrypted: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Volume {
    /// Mount point, or `swap`.
    pub mount: String,
    pub device: String,
    pub fstype: String,
    pub encrypted: Option<bool>,
    /// `LUKS1`, `LUKS2`, `PLAIN`, `BITLK`, … from the dm-crypt device.
    pub scheme: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsbStorage {
    /// modprobe configuration replaces loading `usb-storage` with a no-op (`install usb-storage /bin/false`).
    pub module_disabled: bool,
    /// `blacklist usb-storage`: stops automatic loading only.
    pub module_blacklisted: bool,
    pub module_loaded: bool,
    /// Compiled into the kernel, so modprobe rules cannot stop it.
    pub module_builtin: bool,
    /// USBGuard is running.
    pub usbguard_running: bool,
    /// USBGuard blocks devices that no rule allows.
    pub usbguard_blocks_by_default: Option<bool>,
    /// USB storage cannot be used: the module cannot load, or USBGuard blocks unknown devices.
    pub blocked: bool,
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hardening {
    /// `kernel.randomize_va_space`: 2 is full address-space randomisation.
    pub randomize_va_space: Option<u8>,
    /// Mandatory access control.
    pub mac: Mac,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mac {
    /// `apparmor` or `selinux`; `None` when neither is active.
    pub kind: Option<String>,
    /// `enforcing`, `permissive` or `disabled` (SELinux); `enforcing`, `complain` or `disabled` (AppArmor, by its profiles).
    pub mode: Option<String>,
    pub profiles_enforced: Option<u32>,
    pub profiles_complain: Option<u32>,
    /// SELinux mode configured for the next boot.
    pub configured_mode: Option<String>,
}

//! Hardware inventory (HW-01): the machine's DMI identity, its disks and the
//! USB devices plugged in now.
//!
//! DMI comes from the firmware tables as the kernel exports them in
//! `/sys/class/dmi/id`; serial numbers there are root-only. Disks are the
//! kernel's block devices minus the virtual ones; USB devices are the
//! `/sys/bus/usb/devices` entries that carry a vendor id.

use super::read_attr;
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::{Disk, Hardware, UsbDevice};
use std::io::{self, Read};

const DMI: &str = "/sys/class/dmi/id";

/// Values firmware vendors leave in fields they did not fill.
const PLACEHOLDERS: [&str; 14] = [
    "",
    "to be filled by o.e.m.",
    "default string",
    "not specified",
    "not applicable",
    "system serial number",
    "system product name",
    "system manufacturer",
    "system version",
    "o.e.m.",
    "none",
    "n/a",
    "0",
    "0123456789",
];

/// Block devices that are not hardware: loop files, RAM disks, compressed
/// memory, device-mapper layers, network block devices.
const VIRTUAL_BLOCK: [&str; 5] = ["loop", "ram", "zram", "dm-", "nbd"];

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Hardware {
    let vendor = dmi(ctx, "sys_vendor", errors);
    let model = dmi(ctx, "product_name", errors);
    let bios_vendor = dmi(ctx, "bios_vendor", errors);
    let chassis_code = dmi(ctx, "chassis_type", errors).and_then(|c| c.parse::<u8>().ok());
    let on_hypervisor = hypervisor_present(ctx);
    let chassis = if on_hypervisor || is_virtual(vendor.as_deref(), model.as_deref(), bios_vendor.as_deref()) {
        Some("virtual".to_string())
    } else {
        chassis_code.map(|c| chassis_name(c).to_string())
    };
    Hardware {
        serial: dmi(ctx, "product_serial", errors),
        bios_version: dmi(ctx, "bios_version", errors),
        bios_date: dmi(ctx, "bios_date", errors),
        vendor,
        model,
        bios_vendor,
        chassis,
        disks: disks(ctx, errors),
        usb_devices: usb_devices(ctx, errors),
    }
}

/// One DMI field, `None` when absent, a placeholder, or root-only and we are not root.
fn dmi(ctx: &ProbeContext<'_>, name: &str, errors: &mut Errors) -> Option<String> {
    attr(ctx, &format!("{DMI}/{name}"), "hardware", errors).filter(|v| !PLACEHOLDERS.contains(&v.to_ascii_lowercase().as_str()))
}

/// An attribute; unreadable for lack of privilege is simply unknown (serial
/// numbers are root-only), other failures are recorded.
fn attr(ctx: &ProbeContext<'_>, abs: &str, probe: &str, errors: &mut Errors) -> Option<String> {
    match read_attr(ctx, abs) {
        Ok(v) => v,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => None,
        Err(e) => {
            errors.push(probe, describe(ctx.root.path(abs), &e));
            None
        }
    }
}

/// SMBIOS chassis types (DMTF DSP0134, 7.4.1), folded into a few words.
pub fn chassis_name(code: u8) -> &'static str {
    // The top bit flags a chassis lock, not the type.
    match code & 0x7f {
        3..=7 | 13 | 15 | 16 | 24 | 35 | 36 => "desktop",
        8..=10 | 14 | 31 | 32 => "laptop",
        11 | 30 => "tablet",
        17 | 23 | 25 | 28 | 29 => "server",
        33 | 34 => "embedded",
        2 => "unknown",
        _ => "other",
    }
}

/// Hypervisors name themselves in the DMI vendor or product. Bare-metal cloud
/// instances (`i3.metal`) carry the cloud's vendor but are real machines.
pub fn is_virtual(vendor: Option<&str>, product: Option<&str>, bios_vendor: Option<&str>) -> bool {
    let vendor = vendor.unwrap_or_default().to_ascii_lowercase();
    let product = product.unwrap_or_default().to_ascii_lowercase();
    let bios = bios_vendor.unwrap_or_default().to_ascii_lowercase();
    if product.ends_with(".metal") {
        return false;
    }
    const VENDORS: [&str; 9] = [
        "qemu",
        "vmware",
        "innotek",
        "xen",
        "parallels",
        "bochs",
        "amazon ec2",
        "openstack",
        "digitalocean",
    ];
    // Not the vendor `Google`: Chromebooks carry it too.
    const PRODUCTS: [&str; 9] = [
        "kvm",
        "virtualbox",
        "virtual machine",
        "hvm domu",
        "bhyve",
        "google compute engine",
        "openstack nova",
        "droplet",
        "vserver",
    ];
    VENDORS.iter().any(|v| vendor.starts_with(v))
        || PRODUCTS.iter().any(|p| product.contains(p))
        || bios.starts_with("bhyve")
        || bios.starts_with("xen")
}

/// x86 CPUs report the `hypervisor` flag to a guest; Xen guests also have
/// `/sys/hypervisor/type`. This covers VMs without DMI tables (Firecracker)
/// or with customised ones.
fn hypervisor_present(ctx: &ProbeContext<'_>) -> bool {
    if matches!(read_attr(ctx, "/sys/hypervisor/type"), Ok(Some(t)) if !t.is_empty()) {
        return true;
    }
    // The first processor's block holds the flags; the rest repeats it per CPU.
    let mut head = Vec::new();
    let read = std::fs::File::open(ctx.root.path("/proc/cpuinfo")).and_then(|f| f.take(16 * 1024).read_to_end(&mut head));
    read.is_ok() && has_hypervisor_flag(&String::from_utf8_lossy(&head))
}

pub fn has_hypervisor_flag(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .is_some_and(|(_, flags)| flags.split_whitespace().any(|f| f == "hypervisor"))
}

pub fn is_inventoried(name: &str) -> bool {
    let virtual_device = VIRTUAL_BLOCK.iter().any(|p| name.starts_with(p));
    // eMMC boot and replay-protected areas are parts of the same chip.
    let mmc_area = name.starts_with("mmcblk") && (name.contains("boot") || name.contains("rpmb"));
    !virtual_device && !mmc_area
}

fn disks(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<Disk> {
    const PROBE: &str = "hardware.disks";
    let names = match ctx.root.list("/sys/block") {
        Ok(names) => names,
        Err(e) => {
            errors.push(PROBE, describe(ctx.root.path("/sys/block"), &e));
            return Vec::new();
        }
    };
    names
        .into_iter()
        .filter(|n| is_inventoried(n))
        .map(|name| {
            let base = format!("/sys/block/{name}");
            let mut get = |rel: &str| attr(ctx, &format!("{base}/{rel}"), PROBE, errors).filter(|v| !v.is_empty());
            // SATA/SAS name the model in device/model, SD and eMMC cards in device/name.
            let model = get("device/model").or_else(|| get("device/name"));
            // NVMe and USB bridges: device/serial; virtio: serial; SCSI: the unit serial VPD page.
            let serial = get("device/serial").or_else(|| get("serial")).or_else(|| {
                std::fs::read(ctx.root.path(format!("{base}/device/vpd_pg80")))
                    .ok()
                    .and_then(|b| parse_vpd_pg80(&b))
            });
            Disk {
                size_bytes: get("size").and_then(|s| s.parse::<u64>().ok()).map(|sectors| sectors * 512),
                removable: get("removable").as_deref() == Some("1"),
                rotational: get("queue/rotational").map(|r| r == "1"),
                name,
                model,
                serial,
            }
        })
        .collect()
}

/// SCSI VPD page 0x80 (unit serial number): a 4-byte header with the length, then ASCII.
pub fn parse_vpd_pg80(page: &[u8]) -> Option<String> {
    if page.len() < 4 || page[1] != 0x80 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([page[2], page[3]]));
    let serial = String::from_utf8_lossy(page.get(4..4 + len).unwrap_or(&page[4..]));
    let serial = serial.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!serial.is_empty()).then(|| serial.to_string())
}

/// USB class codes (usb.org "Defined Class Codes").
pub fn class_name(code: &str) -> &'static str {
    match code.to_ascii_lowercase().as_str() {
        "01" => "audio",
        "02" | "0a" => "communications",
        "03" => "hid",
        "06" => "image",
        "07" => "printer",
        "08" => "mass-storage",
        "09" => "hub",
        "0b" => "smart-card",
        "0e" => "video",
        "e0" => "wireless",
        _ => "other",
    }
}

/// The device class, or for devices that defer to their interfaces (`00`, and
/// `ef` for composite devices), the interfaces' class: mass storage first, as
/// a phone or keyboard with a storage interface is a storage device for control.
pub fn device_class(device_class: &str, interface_classes: &[String]) -> String {
    if !matches!(device_class, "00" | "ef" | "") {
        return class_name(device_class).to_string();
    }
    let names: Vec<&str> = interface_classes.iter().map(|c| class_name(c)).collect();
    if names.contains(&"mass-storage") {
        return "mass-storage".to_string();
    }
    names.into_iter().find(|n| *n != "other").unwrap_or("other").to_string()
}

fn usb_devices(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<UsbDevice> {
    const PROBE: &str = "hardware.usb_devices";
    const DEVICES: &str = "/sys/bus/usb/devices";
    let names = match ctx.root.list(DEVICES) {
        Ok(names) => names,
        Err(e) => {
            errors.push(PROBE, describe(ctx.root.path(DEVICES), &e));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    // `usbN` are the controllers' root hubs; `1-1:1.0` are interfaces of a device.
    for name in names.into_iter().filter(|n| !n.starts_with("usb") && !n.contains(':')) {
        let base = format!("{DEVICES}/{name}");
        let mut get = |rel: &str| attr(ctx, &format!("{base}/{rel}"), PROBE, errors).filter(|v| !v.is_empty());
        let (Some(vendor), Some(product_id)) = (get("idVendor"), get("idProduct")) else {
            continue;
        };
        let manufacturer = get("manufacturer");
        let product = get("product");
        let serial = get("serial");
        let class = get("bDeviceClass").unwrap_or_default();
        let interfaces: Vec<String> = match ctx.root.list(&base) {
            Ok(entries) => entries
                .iter()
                .filter(|e| e.starts_with(&format!("{name}:")))
                .filter_map(|e| attr(ctx, &format!("{base}/{e}/bInterfaceClass"), PROBE, errors))
                .collect(),
            Err(e) => {
                errors.push(PROBE, describe(ctx.root.path(&base), &e));
                Vec::new()
            }
        };
        out.push(UsbDevice {
            id: format!("{vendor}:{product_id}").to_ascii_lowercase(),
            manufacturer,
            product,
            serial,
            class: device_class(&class, &interfaces),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;
    use crate::probe::testing::write;
    use std::path::Path;

    fn probe(root: &Path) -> (Hardware, Errors) {
        let config = ProbeConfig {
            root: root.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(root), Processes::default(), &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    fn dmi_files(root: &Path, files: &[(&str, &str)]) {
        for (name, value) in files {
            write(root, &format!("sys/class/dmi/id/{name}"), format!("{value}\n"));
        }
    }

    #[test]
    fn names_chassis_types() {
        assert_eq!(chassis_name(3), "desktop");
        assert_eq!(chassis_name(7), "desktop");
        assert_eq!(chassis_name(10), "laptop");
        assert_eq!(chassis_name(0x80 | 9), "laptop");
        assert_eq!(chassis_name(23), "server");
        assert_eq!(chassis_name(2), "unknown");
        assert_eq!(chassis_name(1), "other");
        assert_eq!(chassis_name(200), "other");
    }

    #[test]
    fn recognises_virtual_machines() {
        assert!(is_virtual(Some("QEMU"), Some("Standard PC (Q35 + ICH9, 2009)"), Some("SeaBIOS")));
        assert!(is_virtual(Some("VMware, Inc."), Some("VMware20,1"), Some("VMware, Inc.")));
        assert!(is_virtual(Some("innotek GmbH"), Some("VirtualBox"), None));
        assert!(is_virtual(Some("Oracle Corporation"), Some("VirtualBox"), None));
        assert!(is_virtual(
            Some("Microsoft Corporation"),
            Some("Virtual Machine"),
            Some("Microsoft Corporation")
        ));
        assert!(is_virtual(Some("Red Hat"), Some("KVM"), None));
        assert!(is_virtual(Some("Xen"), Some("HVM domU"), Some("Xen")));
        assert!(is_virtual(Some("Amazon EC2"), Some("t3.medium"), Some("Amazon EC2")));
        assert!(is_virtual(Some("Google"), Some("Google Compute Engine"), Some("Google")));
        assert!(!is_virtual(Some("Amazon EC2"), Some("i3.metal"), Some("Amazon EC2")));
        assert!(!is_virtual(Some("Microsoft Corporation"), Some("Surface Laptop 5"), None));
        assert!(!is_virtual(Some("Google"), Some("Eve"), Some("coreboot")));
        assert!(!is_virtual(Some("LENOVO"), Some("21CBCTO1WW"), Some("LENOVO")));
        assert!(!is_virtual(None, None, None));
    }

    #[test]
    fn reads_the_hypervisor_cpu_flag() {
        let guest = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme de pse tsc msr pae hypervisor lahf_lm\nbugs\t\t: sysret_ss_attrs\n";
        assert!(has_hypervisor_flag(guest));
        assert!(!has_hypervisor_flag(
            "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae lahf_lm\n"
        ));
        assert!(!has_hypervisor_flag("processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n"));
    }

    #[test]
    fn reads_a_scsi_unit_serial_page() {
        let mut page = vec![0x00, 0x80, 0x00, 0x14];
        page.extend_from_slice(b"  WD-WCC4E1234567    ");
        assert_eq!(parse_vpd_pg80(&page).as_deref(), Some("WD-WCC4E1234567"));
        assert_eq!(parse_vpd_pg80(&[0x00, 0x83, 0x00, 0x00]), None);
        assert_eq!(parse_vpd_pg80(&[0x00, 0x80, 0x00, 0x00]), None);
    }

    #[test]
    fn classifies_usb_devices() {
        assert_eq!(device_class("09", &[]), "hub");
        assert_eq!(device_class("00", &["08".into()]), "mass-storage");
        assert_eq!(device_class("00", &["03".into(), "03".into()]), "hid");
        // A phone: vendor-specific MTP, then storage.
        assert_eq!(device_class("00", &["ff".into(), "08".into()]), "mass-storage");
        assert_eq!(device_class("ef", &["0e".into(), "0E".into(), "01".into()]), "video");
        assert_eq!(device_class("ff", &["08".into()]), "other");
        assert_eq!(device_class("00", &["ff".into()]), "other");
        assert_eq!(device_class("e0", &[]), "wireless");
    }

    #[test]
    fn reads_a_physical_laptop() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        dmi_files(
            root,
            &[
                ("sys_vendor", "LENOVO"),
                ("product_name", "21CBCTO1WW"),
                ("product_serial", "PF3XK2LM"),
                ("bios_vendor", "LENOVO"),
                ("bios_version", "N3AET75W (1.40 )"),
                ("bios_date", "02/21/2024"),
                ("chassis_type", "10"),
                ("board_serial", "To be filled by O.E.M."),
            ],
        );
        write(root, "proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr\n");
        // An NVMe disk, a USB stick, and virtual devices to leave out.
        write(root, "sys/block/nvme0n1/size", "1000215216\n");
        write(root, "sys/block/nvme0n1/removable", "0\n");
        write(root, "sys/block/nvme0n1/queue/rotational", "0\n");
        write(root, "sys/block/nvme0n1/device/model", "SAMSUNG MZVL21T0HCLR-00BL2              \n");
        write(root, "sys/block/nvme0n1/device/serial", "S64PNX0T512345      \n");
        write(root, "sys/block/sda/size", "60063744\n");
        write(root, "sys/block/sda/removable", "1\n");
        write(root, "sys/block/sda/queue/rotational", "1\n");
        write(root, "sys/block/sda/device/model", "Ultra Fit       \n");
        let mut vpd = vec![0x00, 0x80, 0x00, 0x14];
        vpd.extend_from_slice(b"4C530001230918117305");
        std::fs::write(root.join("sys/block/sda/device/vpd_pg80"), vpd).unwrap();
        for virtual_disk in ["loop0", "zram0", "dm-0", "mmcblk0boot0"] {
            write(root, &format!("sys/block/{virtual_disk}/size"), "8\n");
        }
        // The stick on the USB bus, beside a root hub and a keyboard.
        let usb = "sys/bus/usb/devices";
        write(root, &format!("{usb}/usb1/idVendor"), "1d6b\n");
        write(root, &format!("{usb}/usb1/idProduct"), "0002\n");
        write(root, &format!("{usb}/1-2/idVendor"), "0781\n");
        write(root, &format!("{usb}/1-2/idProduct"), "5583\n");
        write(root, &format!("{usb}/1-2/manufacturer"), " USB\n");
        write(root, &format!("{usb}/1-2/product"), " SanDisk 3.2Gen1\n");
        write(root, &format!("{usb}/1-2/serial"), "4C530001230918117305\n");
        write(root, &format!("{usb}/1-2/bDeviceClass"), "00\n");
        write(root, &format!("{usb}/1-2/1-2:1.0/bInterfaceClass"), "08\n");
        write(root, &format!("{usb}/1-2:1.0/bInterfaceClass"), "08\n");
        write(root, &format!("{usb}/1-3/idVendor"), "046D\n");
        write(root, &format!("{usb}/1-3/idProduct"), "C31C\n");
        write(root, &format!("{usb}/1-3/product"), "USB Keyboard\n");
        write(root, &format!("{usb}/1-3/bDeviceClass"), "00\n");
        write(root, &format!("{usb}/1-3/1-3:1.0/bInterfaceClass"), "03\n");
        write(root, &format!("{usb}/1-3/1-3:1.1/bInterfaceClass"), "03\n");

        let (hw, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(hw.vendor.as_deref(), Some("LENOVO"));
        assert_eq!(hw.model.as_deref(), Some("21CBCTO1WW"));
        assert_eq!(hw.serial.as_deref(), Some("PF3XK2LM"));
        assert_eq!(hw.bios_version.as_deref(), Some("N3AET75W (1.40 )"));
        assert_eq!(hw.bios_date.as_deref(), Some("02/21/2024"));
        assert_eq!(hw.chassis.as_deref(), Some("laptop"));
        assert_eq!(
            hw.disks,
            vec![
                Disk {
                    name: "nvme0n1".into(),
                    model: Some("SAMSUNG MZVL21T0HCLR-00BL2".into()),
                    serial: Some("S64PNX0T512345".into()),
                    size_bytes: Some(1000215216 * 512),
                    removable: false,
                    rotational: Some(false),
                },
                Disk {
                    name: "sda".into(),
                    model: Some("Ultra Fit".into()),
                    serial: Some("4C530001230918117305".into()),
                    size_bytes: Some(60063744 * 512),
                    removable: true,
                    rotational: Some(true),
                },
            ]
        );
        assert_eq!(
            hw.usb_devices,
            vec![
                UsbDevice {
                    id: "0781:5583".into(),
                    manufacturer: Some("USB".into()),
                    product: Some("SanDisk 3.2Gen1".into()),
                    serial: Some("4C530001230918117305".into()),
                    class: "mass-storage".into(),
                },
                UsbDevice {
                    id: "046d:c31c".into(),
                    manufacturer: None,
                    product: Some("USB Keyboard".into()),
                    serial: None,
                    class: "hid".into(),
                },
            ]
        );
    }

    #[test]
    fn a_vm_is_virtual_and_placeholders_are_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        dmi_files(
            root,
            &[
                ("sys_vendor", "QEMU"),
                ("product_name", "Standard PC (i440FX + PIIX, 1996)"),
                ("product_serial", "Not Specified"),
                ("bios_vendor", "SeaBIOS"),
                ("chassis_type", "1"),
            ],
        );
        write(root, "sys/block/vda/size", "41943040\n");
        write(root, "sys/block/vda/serial", "\n");
        let (hw, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(hw.chassis.as_deref(), Some("virtual"));
        assert_eq!(hw.serial, None);
        assert_eq!(hw.disks[0].serial, None);
        assert_eq!(hw.disks[0].rotational, None);

        // No DMI tables at all (Firecracker), but the CPU says it is a guest.
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu hypervisor\n");
        let (hw, errors) = probe(dir.path());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(hw.chassis.as_deref(), Some("virtual"));
        assert_eq!(hw.vendor, None);
    }
}

//! Disk encryption (TT-01): do the persistent local filesystems and swap areas
//! sit on dm-crypt?
//!
//! Every mount names its block device by `major:minor` in
//! `/proc/self/mountinfo`; `/sys/dev/block/MAJ:MIN` leads to the device and its
//! `slaves/` to the devices under it (LVM on LUKS, RAID). cryptsetup gives each
//! device it creates a device-mapper uuid `CRYPT-<TYPE>-…`, which names the
//! scheme without libcryptsetup or root. A volume is encrypted when every path
//! down its device stack meets a crypt device.

use super::read_attr;
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::{DiskEncryption, Volume};
use std::collections::BTreeSet;

const PROBE: &str = "disk_encryption.volumes";

/// Filesystems that keep data on a local block device. An allowlist, so that
/// pseudo filesystems, tmpfs, network and FUSE mounts, overlay (container
/// layers: the disk under them belongs to the host), squashfs (read-only snap
/// images) and optical media all stay out.
const DISK_FILESYSTEMS: [&str; 17] = [
    "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs", "nilfs2", "bcachefs", "zfs", "vfat", "exfat", "ntfs", "ntfs3",
    "fuseblk", "hfsplus",
];

/// The boot loader reads these before anything can be unlocked, so they are
/// plain by design; they hold kernels, not data, and do not count.
const BOOT_MOUNTS: [&str; 3] = ["/boot", "/boot/efi", "/efi"];

/// Layers of device-mapper created by cryptsetup tools that do not encrypt:
/// dm-verity and dm-integrity devices, the integrity device under an
/// authenticated LUKS2 volume, and short-lived helper devices.
const NOT_ENCRYPTING: [&str; 4] = ["VERITY", "INTEGRITY", "SUBDEV", "TEMP"];

/// Device stacks are a few layers deep; the limit only guards against loops.
const MAX_DEPTH: usize = 8;

/// The fields of one `/proc/self/mountinfo` line the probe uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub major: u32,
    pub minor: u32,
    /// The directory of the filesystem mounted here: `/` unless a bind mount or btrfs subvolume.
    pub root: String,
    pub mount_point: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

/// `proc(5)` mountinfo: `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
/// The optional fields before `-` vary in number.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let mut left = left.split(' ');
    let (major, minor) = left.nth(2)?.split_once(':')?;
    let root = unescape(left.next()?);
    let mount_point = unescape(left.next()?);
    let mut right = right.split(' ');
    Some(Mount {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        root,
        mount_point,
        fstype: right.next()?.to_string(),
        source: unescape(right.next().unwrap_or_default()),
        super_options: right.next().unwrap_or_default().to_string(),
    })
}

/// The kernel writes space, tab, newline and backslash in paths as `\ooo` octal escapes.
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One active swap area from `/proc/swaps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swap {
    pub path: String,
    /// The swap area is a file on a filesystem, not a whole device.
    pub is_file: bool,
}

/// `/proc/swaps`: a header, then `Filename Type Size Used Priority`.
pub fn parse_swaps(text: &str) -> Vec<Swap> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let path = unescape(words.next()?);
            let is_file = words.next()? == "file";
            Some(Swap { path, is_file })
        })
        .collect()
}

/// The scheme of a cryptsetup device from its device-mapper uuid
/// (`CRYPT-LUKS2-<uuid>-<name>` → `LUKS2`); `None` when the device does not encrypt.
pub fn crypt_scheme(dm_uuid: &str) -> Option<&str> {
    let kind = dm_uuid.strip_prefix("CRYPT-")?.split('-').next()?;
    (!kind.is_empty() && !NOT_ENCRYPTING.contains(&kind)).then_some(kind)
}

/// A persistent local filesystem mounted whole; bind mounts of a folder repeat
/// a filesystem already listed or, in a container, bring in a piece of the
/// host's disk, which is not this machine's to judge.
pub fn is_persistent_local(m: &Mount) -> bool {
    DISK_FILESYSTEMS.contains(&m.fstype.as_str()) && !BOOT_MOUNTS.contains(&m.mount_point.as_str()) && is_whole(m)
}

/// A btrfs subvolume's root is the subvolume path, as its `subvol=` option says.
fn is_whole(m: &Mount) -> bool {
    m.root == "/"
        || (m.fstype == "btrfs"
            && m.super_options
                .split(',')
                .any(|o| o.strip_prefix("subvol=") == Some(m.root.as_str())))
}

/// What lies under a block device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Under {
    /// Every path down meets a crypt device of these schemes.
    Encrypted(BTreeSet<String>),
    /// Some path reaches a disk with no crypt device on the way.
    Plain,
    /// Why the stack could not be followed.
    Unknown(String),
}

impl Under {
    /// One device over several: a single plain path makes the whole plain.
    fn combine(self, other: Under) -> Under {
        match (self, other) {
            (Under::Plain, _) | (_, Under::Plain) => Under::Plain,
            (Under::Unknown(why), _) | (_, Under::Unknown(why)) => Under::Unknown(why),
            (Under::Encrypted(mut a), Under::Encrypted(b)) => {
                a.extend(b);
                Under::Encrypted(a)
            }
        }
    }
}

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> DiskEncryption {
    let mounts = match ctx.root.read_optional("/proc/self/mountinfo") {
        Ok(Some(text)) => parse_mountinfo(&text),
        Ok(None) => {
            errors.push("disk_encryption", "no /proc/self/mountinfo: /proc is not mounted");
            return DiskEncryption::default();
        }
        Err(e) => {
            errors.push("disk_encryption", describe(ctx.root.path("/proc/self/mountinfo"), &e));
            return DiskEncryption::default();
        }
    };
    // A kernel without swap support has no /proc/swaps: no swap areas.
    let swaps = match ctx.root.read_optional("/proc/swaps") {
        Ok(text) => parse_swaps(&text.unwrap_or_default()),
        Err(e) => {
            errors.push(PROBE, describe(ctx.root.path("/proc/swaps"), &e));
            Vec::new()
        }
    };

    let mut volumes = Vec::new();
    for m in mounts.iter().filter(|m| is_persistent_local(m)) {
        let under = mount_devices(ctx, m).map_or_else(Under::Unknown, |dirs| under_all(ctx, &dirs));
        volumes.push(volume(&m.mount_point, &m.source, &m.fstype, under, errors));
    }
    for swap in &swaps {
        // zram is compressed memory: nothing written there reaches a disk.
        if swap.path.starts_with("/dev/zram") {
            continue;
        }
        let device = if swap.is_file {
            containing_mount(&mounts, &swap.path)
                .ok_or_else(|| format!("no mount holds {}", swap.path))
                .and_then(|m| mount_devices(ctx, m))
        } else {
            device_by_path(ctx, &swap.path).map(|dir| vec![dir])
        };
        let under = device.map_or_else(Under::Unknown, |dirs| under_all(ctx, &dirs));
        volumes.push(volume("swap", &swap.path, "swap", under, errors));
    }

    let root_encrypted = volumes.iter().find(|v| v.mount == "/").and_then(|v| v.encrypted);
    let all_encrypted = all_encrypted(&volumes);
    DiskEncryption {
        volumes,
        root_encrypted,
        all_encrypted,
    }
}

fn volume(mount: &str, device: &str, fstype: &str, under: Under, errors: &mut Errors) -> Volume {
    let (encrypted, scheme) = match under {
        Under::Encrypted(schemes) => (Some(true), Some(schemes.into_iter().collect::<Vec<_>>().join("+"))),
        Under::Plain => (Some(false), None),
        Under::Unknown(why) => {
            errors.push(PROBE, format!("{mount} ({device}): {why}"));
            (None, None)
        }
    };
    Volume {
        mount: mount.to_string(),
        device: device.to_string(),
        fstype: fstype.to_string(),
        encrypted,
        scheme,
    }
}

/// One plain volume decides `false`; `true` needs every volume known encrypted.
pub fn all_encrypted(volumes: &[Volume]) -> Option<bool> {
    if volumes.iter().any(|v| v.encrypted == Some(false)) {
        Some(false)
    } else if !volumes.is_empty() && volumes.iter().all(|v| v.encrypted == Some(true)) {
        Some(true)
    } else {
        None
    }
}

/// The sysfs folders of the block devices a mount stores data on.
fn mount_devices(ctx: &ProbeContext<'_>, m: &Mount) -> Result<Vec<String>, String> {
    if m.fstype == "zfs" {
        return Err("a ZFS dataset: ZFS native encryption is not read".to_string());
    }
    // Major 0 is an anonymous device: btrfs (one id for all its devices) and
    // FUSE; the mount source names the real device.
    if m.major == 0 {
        let dir = device_by_path(ctx, &m.source)?;
        if m.fstype == "btrfs" {
            return Ok(btrfs_members(ctx, &dir).unwrap_or_else(|| vec![dir]));
        }
        return Ok(vec![dir]);
    }
    let dir = format!("/sys/dev/block/{}:{}", m.major, m.minor);
    if ctx.root.exists(&dir) {
        Ok(vec![dir])
    } else {
        Err(format!("no {dir}"))
    }
}

/// Every device of the btrfs filesystem that `device` (a `/sys/class/block/NAME`
/// folder) belongs to: the mount source names only one of them.
fn btrfs_members(ctx: &ProbeContext<'_>, device: &str) -> Option<Vec<String>> {
    let name = device.rsplit('/').next()?;
    let filesystems = ctx.root.list("/sys/fs/btrfs").ok()?;
    filesystems.iter().find_map(|fsid| {
        let members = ctx.root.list(format!("/sys/fs/btrfs/{fsid}/devices")).ok()?;
        members
            .iter()
            .any(|m| m == name)
            .then(|| members.iter().map(|m| format!("/sys/class/block/{m}")).collect())
    })
}

fn under_all(ctx: &ProbeContext<'_>, dirs: &[String]) -> Under {
    dirs.iter()
        .map(|dir| under(ctx, dir, 0))
        .reduce(Under::combine)
        .unwrap_or_else(|| Under::Unknown("no device".to_string()))
}

/// The sysfs folder of a device named by path: `/dev/sda2`, `/dev/dm-1`,
/// `/dev/mapper/vg-root`, `/dev/disk/by-uuid/…`.
fn device_by_path(ctx: &ProbeContext<'_>, path: &str) -> Result<String, String> {
    if !path.starts_with("/dev/") {
        return Err(format!("{path} is not a device"));
    }
    // udev links (/dev/mapper/x → ../dm-0, /dev/disk/by-*/…) name the kernel device.
    let name = std::fs::canonicalize(ctx.root.path(path))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| ctx.root.exists(format!("/sys/class/block/{n}")))
        .or_else(|| path.strip_prefix("/dev/mapper/").and_then(|name| dm_by_name(ctx, name)))
        .or_else(|| {
            let base = path.rsplit('/').next().unwrap_or_default();
            ctx.root.exists(format!("/sys/class/block/{base}")).then(|| base.to_string())
        })
        .ok_or_else(|| format!("no block device found for {path}"))?;
    Ok(format!("/sys/class/block/{name}"))
}

/// The `dm-N` device whose device-mapper name is `name`.
fn dm_by_name(ctx: &ProbeContext<'_>, name: &str) -> Option<String> {
    let devices = ctx.root.list("/sys/class/block").ok()?;
    devices
        .into_iter()
        .filter(|d| d.starts_with("dm-"))
        .find(|d| read_attr(ctx, &format!("/sys/class/block/{d}/dm/name")).ok().flatten().as_deref() == Some(name))
}

/// The mount whose mount point is the longest prefix of `path`.
fn containing_mount<'m>(mounts: &'m [Mount], path: &str) -> Option<&'m Mount> {
    mounts
        .iter()
        .filter(|m| {
            m.mount_point == "/"
                || path == m.mount_point
                || path.strip_prefix(m.mount_point.as_str()).is_some_and(|rest| rest.starts_with('/'))
        })
        // A later mount on the same point hides the earlier one.
        .max_by_key(|m| m.mount_point.len())
}

/// Walks down from a device's sysfs folder through `slaves/`.
fn under(ctx: &ProbeContext<'_>, dir: &str, depth: usize) -> Under {
    if depth > MAX_DEPTH {
        return Under::Unknown(format!("device stack deeper than {MAX_DEPTH} levels at {dir}"));
    }
    match read_attr(ctx, &format!("{dir}/dm/uuid")) {
        Ok(Some(uuid)) => {
            if let Some(scheme) = crypt_scheme(&uuid) {
                return Under::Encrypted(BTreeSet::from([scheme.to_string()]));
            }
        }
        Ok(None) => {}
        Err(e) => return Under::Unknown(describe(ctx.root.path(format!("{dir}/dm/uuid")), &e)),
    }
    match read_attr(ctx, &format!("{dir}/loop/backing_file")) {
        Ok(Some(file)) => return Under::Unknown(format!("a loop device over the file {file}, which is not followed")),
        Ok(None) => {}
        Err(e) => return Under::Unknown(describe(ctx.root.path(format!("{dir}/loop/backing_file")), &e)),
    }
    let slaves = match ctx.root.list(format!("{dir}/slaves")) {
        Ok(slaves) => slaves,
        Err(e) => return Under::Unknown(describe(ctx.root.path(format!("{dir}/slaves")), &e)),
    };
    // A disk or partition: the data is stored as written.
    if slaves.is_empty() {
        return Under::Plain;
    }
    slaves
        .iter()
        .map(|s| under(ctx, &format!("/sys/class/block/{s}"), depth + 1))
        .reduce(Under::combine)
        .unwrap_or(Under::Plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;
    use crate::probe::testing::write;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    /// A block device as sysfs shows it: the folder under /sys/devices, and
    /// the /sys/class/block and /sys/dev/block links to it.
    fn block(root: &Path, name: &str, dev: &str, dm_uuid: Option<&str>, slaves: &[&str]) {
        let real = root.join(format!("sys/devices/virtual/block/{name}"));
        std::fs::create_dir_all(real.join("slaves")).unwrap();
        std::fs::write(real.join("uevent"), format!("DEVNAME={name}\n")).unwrap();
        if let Some(uuid) = dm_uuid {
            std::fs::create_dir_all(real.join("dm")).unwrap();
            std::fs::write(real.join("dm/uuid"), format!("{uuid}\n")).unwrap();
            std::fs::write(real.join("dm/name"), format!("{}\n", uuid.rsplit('-').next().unwrap())).unwrap();
        }
        for s in slaves {
            symlink(format!("../../{s}"), real.join(format!("slaves/{s}"))).unwrap();
        }
        for dir in ["sys/class/block", "sys/dev/block"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        symlink(&real, root.join(format!("sys/class/block/{name}"))).unwrap();
        symlink(&real, root.join(format!("sys/dev/block/{dev}"))).unwrap();
    }

    fn probe(root: &Path) -> (DiskEncryption, Errors) {
        let config = ProbeConfig {
            root: root.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(root), Processes::default(), &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    const PSEUDO: &str = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
23 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
24 1 0:5 / /dev rw,nosuid,relatime shared:8 - devtmpfs udev rw,size=8057116k,nr_inodes=2014279,mode=755,inode64
26 1 0:25 / /run rw,nosuid,nodev,noexec,relatime shared:13 - tmpfs tmpfs rw,size=1620164k,mode=755,inode64
28 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
40 1 7:3 / /snap/core22/1380 ro,nodev,relatime shared:26 - squashfs /dev/loop3 ro,errors=continue,threads=single
41 1 0:44 / /mnt/share rw,relatime shared:30 - nfs4 nas:/export rw,vers=4.2,rsize=1048576
";

    #[test]
    fn parses_mountinfo_with_optional_fields_and_escapes() {
        let mounts = parse_mountinfo(
            "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n\
             42 27 254:0 /run/netns /run/netns rw,relatime shared:1 master:3 - ext4 /dev/vda rw\n\
             50 27 8:17 / /media/anna/My\\040Disk rw,nosuid shared:90 - exfat /dev/sdb1 rw,uid=1000\n\
             garbage\n",
        );
        assert_eq!(mounts.len(), 3);
        assert_eq!((mounts[0].major, mounts[0].minor), (254, 0));
        assert_eq!(mounts[1].root, "/run/netns");
        assert_eq!(mounts[1].fstype, "ext4");
        assert_eq!(mounts[2].mount_point, "/media/anna/My Disk");
        assert_eq!(mounts[2].source, "/dev/sdb1");
        assert_eq!(unescape("a\\134b\\011c\\9"), "a\\b\tc\\9");
    }

    #[test]
    fn parses_swaps() {
        let swaps = parse_swaps(
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
             /dev/dm-2                               partition\t8388604\t\t0\t\t-2\n\
             /swap\\040file                           file\t\t2097148\t\t0\t\t-3\n\
             /dev/zram0                              partition\t4194300\t\t0\t\t100\n",
        );
        assert_eq!(
            swaps,
            vec![
                Swap {
                    path: "/dev/dm-2".into(),
                    is_file: false
                },
                Swap {
                    path: "/swap file".into(),
                    is_file: true
                },
                Swap {
                    path: "/dev/zram0".into(),
                    is_file: false
                },
            ]
        );
        assert!(parse_swaps("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n").is_empty());
    }

    #[test]
    fn reads_the_scheme_from_the_dm_uuid() {
        assert_eq!(
            crypt_scheme("CRYPT-LUKS2-6a1c0e6d2bd84d0aa5d1a7f0c2a5e9f1-luks-6a1c0e6d"),
            Some("LUKS2")
        );
        assert_eq!(
            crypt_scheme("CRYPT-LUKS1-0f3b6c1e6f1c4c0c9c3e3a1b2c3d4e5f-sda2_crypt"),
            Some("LUKS1")
        );
        assert_eq!(crypt_scheme("CRYPT-PLAIN-cryptswap"), Some("PLAIN"));
        assert_eq!(crypt_scheme("CRYPT-BITLK-3b0e…-windata"), Some("BITLK"));
        assert_eq!(crypt_scheme("CRYPT-TCRYPT-vault"), Some("TCRYPT"));
        assert_eq!(crypt_scheme("CRYPT-VERITY-4a9e…-usr"), None);
        assert_eq!(crypt_scheme("CRYPT-SUBDEV-6a1c…-luks_dif"), None);
        assert_eq!(
            crypt_scheme("LVM-Qc1bX3m5lW0t9nYrkVmD8w4kHnGq8fR1aZ3xJ5yCk2pT6uS7vB8dE9fG0hI1jK2l"),
            None
        );
        assert_eq!(crypt_scheme("mpath-3600508b400105e210000900000490000"), None);
    }

    #[test]
    fn keeps_whole_local_filesystems_only() {
        let mounts = parse_mountinfo(&format!(
            "{PSEUDO}\
             29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n\
             30 29 259:1 / /boot/efi rw,relatime shared:3 - vfat /dev/nvme0n1p1 rw,fmask=0077\n\
             31 29 0:33 /@home /home rw,relatime shared:5 - btrfs /dev/sda1 rw,ssd,space_cache=v2,subvolid=257,subvol=/@home\n\
             32 29 0:33 /@home/anna/vm /srv/vm rw,relatime shared:5 - btrfs /dev/sda1 rw,subvolid=257,subvol=/@home\n\
             33 29 259:2 /var/lib/docker/containers/0123/hosts /etc/hosts rw,relatime - ext4 /dev/nvme0n1p2 rw\n\
             34 29 0:60 / /var/lib/docker/overlay2/0123/merged rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b\n",
        ));
        let kept: Vec<&str> = mounts
            .iter()
            .filter(|m| is_persistent_local(m))
            .map(|m| m.mount_point.as_str())
            .collect();
        assert_eq!(kept, vec!["/", "/home"]);
    }

    #[test]
    fn luks2_root_and_crypt_swap_are_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        block(root, "nvme0n1p1", "259:1", None, &[]);
        block(root, "nvme0n1p2", "259:2", None, &[]);
        block(root, "nvme0n1p3", "259:3", None, &[]);
        block(
            root,
            "dm-0",
            "253:0",
            Some("CRYPT-LUKS2-6a1c0e6d2bd84d0aa5d1a7f0c2a5e9f1-luks-6a1c"),
            &["nvme0n1p3"],
        );
        block(root, "dm-1", "253:1", Some("CRYPT-PLAIN-cryptswap"), &["nvme0n1p2"]);
        write(
            root,
            "proc/self/mountinfo",
            format!(
                "{PSEUDO}\
                 29 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/luks-6a1c rw\n\
                 30 29 259:1 / /boot/efi rw,relatime shared:3 - vfat /dev/nvme0n1p1 rw\n"
            ),
        );
        write(
            root,
            "proc/swaps",
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1 partition\t8388604\t0\t-2\n/dev/zram0 partition\t4194300\t0\t100\n",
        );
        let (enc, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(
            enc.volumes,
            vec![
                Volume {
                    mount: "/".into(),
                    device: "/dev/mapper/luks-6a1c".into(),
                    fstype: "ext4".into(),
                    encrypted: Some(true),
                    scheme: Some("LUKS2".into()),
                },
                Volume {
                    mount: "swap".into(),
                    device: "/dev/dm-1".into(),
                    fstype: "swap".into(),
                    encrypted: Some(true),
                    scheme: Some("PLAIN".into()),
                },
            ]
        );
        assert_eq!(enc.root_encrypted, Some(true));
        assert_eq!(enc.all_encrypted, Some(true));
    }

    #[test]
    fn lvm_on_luks_is_encrypted_through_the_slaves() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        block(root, "sda3", "8:3", None, &[]);
        block(
            root,
            "dm-0",
            "253:0",
            Some("CRYPT-LUKS1-0f3b6c1e6f1c4c0c9c3e3a1b2c3d4e5f-sda3_crypt"),
            &["sda3"],
        );
        block(
            root,
            "dm-1",
            "253:1",
            Some("LVM-Qc1bX3m5lW0t9nYrkVmD8w4kHnGq8fR1aZ3xJ5yCk2pT6uS7vB8dE9fG0hI1jK2l"),
            &["dm-0"],
        );
        block(
            root,
            "dm-2",
            "253:2",
            Some("LVM-Qc1bX3m5lW0t9nYrkVmD8w4kHnGq8fR1Zz3xJ5yCk2pT6uS7vB8dE9fG0hI1jK2l"),
            &["dm-0"],
        );
        write(
            root,
            "proc/self/mountinfo",
            format!("{PSEUDO}29 1 253:1 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw,errors=remount-ro\n"),
        );
        // Swap file on the root filesystem: it shares the root's device stack.
        write(
            root,
            "proc/swaps",
            "Filename Type Size Used Priority\n/dev/dm-2 partition 999 0 -2\n/swapfile file 1024 0 -3\n",
        );
        let (enc, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(enc.volumes.len(), 3);
        assert!(
            enc.volumes
                .iter()
                .all(|v| v.encrypted == Some(true) && v.scheme.as_deref() == Some("LUKS1"))
        );
        assert_eq!(enc.volumes[2].device, "/swapfile");
        assert_eq!(enc.root_encrypted, Some(true));
        assert_eq!(enc.all_encrypted, Some(true));
    }

    #[test]
    fn plain_ext4_root_is_not_encrypted_and_one_plain_volume_decides() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        block(root, "sda1", "8:1", None, &[]);
        block(root, "sda2", "8:2", None, &[]);
        block(root, "dm-0", "253:0", Some("CRYPT-LUKS2-aa-home"), &["sda2"]);
        write(
            root,
            "proc/self/mountinfo",
            format!(
                "{PSEUDO}\
                 29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                 30 29 253:0 / /home rw,relatime shared:2 - xfs /dev/mapper/home rw,attr2,inode64\n"
            ),
        );
        let (enc, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(enc.volumes[0].encrypted, Some(false));
        assert_eq!(enc.volumes[0].scheme, None);
        assert_eq!(enc.volumes[1].encrypted, Some(true));
        assert_eq!(enc.root_encrypted, Some(false));
        assert_eq!(enc.all_encrypted, Some(false));
    }

    #[test]
    fn raid_with_one_plain_member_is_plain() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        block(root, "sda1", "8:1", None, &[]);
        block(root, "sdb1", "8:17", None, &[]);
        block(root, "dm-0", "253:0", Some("CRYPT-LUKS2-aa-a"), &["sda1"]);
        block(root, "md0", "9:0", None, &["dm-0", "sdb1"]);
        write(root, "proc/self/mountinfo", "29 1 9:0 / / rw - ext4 /dev/md0 rw\n");
        let (enc, _) = probe(root);
        assert_eq!(enc.root_encrypted, Some(false));
    }

    #[test]
    fn btrfs_resolves_its_anonymous_device_through_the_mount_source() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        block(root, "nvme0n1p3", "259:3", None, &[]);
        block(root, "dm-0", "253:0", Some("CRYPT-LUKS2-5d1f-luks-5d1f"), &["nvme0n1p3"]);
        // udev's /dev/mapper link, as on a real system.
        std::fs::create_dir_all(root.join("dev/mapper")).unwrap();
        write(root, "dev/dm-0", "");
        symlink("../dm-0", root.join("dev/mapper/luks-5d1f")).unwrap();
        write(
            root,
            "proc/self/mountinfo",
            "29 1 0:34 /@ / rw,relatime shared:1 - btrfs /dev/mapper/luks-5d1f rw,ssd,subvolid=256,subvol=/@\n\
             31 29 0:34 /@home /home rw,relatime shared:5 - btrfs /dev/mapper/luks-5d1f rw,ssd,subvolid=257,subvol=/@home\n",
        );
        let (enc, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(enc.volumes.len(), 2);
        assert_eq!(enc.all_encrypted, Some(true));

        // Without the udev link, the device-mapper name still leads to dm-0.
        std::fs::remove_file(root.join("dev/mapper/luks-5d1f")).unwrap();
        std::fs::write(root.join("sys/devices/virtual/block/dm-0/dm/name"), "luks-5d1f\n").unwrap();
        let (enc, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(enc.root_encrypted, Some(true));

        // A second device added to the filesystem, not encrypted: the data spreads over both.
        block(root, "sdb", "8:16", None, &[]);
        let fs = root.join("sys/fs/btrfs/5d1f7c2e-8a4b-4f0e-9c61-2b7d3e8f9a10/devices");
        std::fs::create_dir_all(&fs).unwrap();
        symlink("../../../../devices/virtual/block/dm-0", fs.join("dm-0")).unwrap();
        symlink("../../../../devices/virtual/block/sdb", fs.join("sdb")).unwrap();
        std::fs::create_dir_all(root.join("sys/fs/btrfs/features")).unwrap();
        let (enc, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(enc.root_encrypted, Some(false));
    }

    #[test]
    fn an_unresolvable_device_is_unknown_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        block(root, "sda1", "8:1", None, &[]);
        write(
            root,
            "proc/self/mountinfo",
            "29 1 0:34 / / rw - zfs rpool/ROOT/ubuntu rw,xattr,posixacl\n\
             30 29 8:1 / /data rw - ext4 /dev/sda1 rw\n\
             31 29 8:99 / /srv rw - ext4 /dev/sdz9 rw\n",
        );
        let (enc, errors) = probe(root);
        assert_eq!(enc.volumes.len(), 3);
        assert_eq!(enc.volumes[0].encrypted, None);
        assert_eq!(enc.volumes[2].encrypted, None);
        assert_eq!(enc.root_encrypted, None);
        // /data is plain: that alone answers "all encrypted".
        assert_eq!(enc.all_encrypted, Some(false));
        assert_eq!(errors.0.len(), 2);
        assert!(errors.0.iter().all(|e| e.probe == PROBE));
        assert!(errors.0[0].message.contains("ZFS"), "{}", errors.0[0].message);
    }

    #[test]
    fn a_container_on_overlay_has_no_volumes_and_no_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "proc/self/mountinfo",
            "611 540 0:52 / / rw,relatime master:305 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/var/lib/docker/overlay2/c/diff,workdir=/var/lib/docker/overlay2/c/work\n\
             612 611 0:56 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n\
             613 611 0:57 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n\
             620 611 259:2 /var/lib/docker/containers/0a1b/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/nvme0n1p2 rw\n\
             621 611 259:2 /var/lib/docker/containers/0a1b/hostname /etc/hostname rw,relatime - ext4 /dev/nvme0n1p2 rw\n\
             622 611 259:2 /home/anna/project /work rw,relatime - ext4 /dev/nvme0n1p2 rw\n",
        );
        write(root, "proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        let (enc, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(enc, DiskEncryption::default());
    }
}

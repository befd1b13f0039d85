//! Pending updates from apt's local package lists, `/var/lib/apt/lists`,
//! without apt: installed versions against the versions the lists offer.
//!
//! Only the lists of security suites (`bookworm-security`, `jammy-security`)
//! and of stable-updates suites (`bookworm-updates`, `jammy-updates`) are
//! read. The release suite's own list (`bookworm main`, 50 MB once
//! decompressed) only changes at point releases and would cost tens of
//! milliseconds on every check; so `pending_updates` counts what those
//! smaller lists reveal, which misses updates that only a point release
//! brought until they reach the updates suite. Security fixes, what policies
//! ask about, are always in the security suite first.

use super::scan::{field, for_each_line, set};
use super::version::compare_versions;
use khien_proto::facts::Package;
use std::cmp::Ordering;
use std::io::{self, BufReader, Read};
use std::path::Path;

pub const LISTS: &str = "/var/lib/apt/lists";
/// Touched by apt's periodic job after every successful `apt-get update`.
pub const UPDATE_STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";

/// Names of packages with a pending security update kept in the facts.
const MAX_NAMES: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pocket {
    Security,
    Updates,
    /// The release itself, backports, proposed, third-party flat repositories: not read.
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Compression {
    None,
    Lz4,
    /// `.gz`, `.xz`, `.bz2`, `.lzma`, `.zst`: apt can keep lists in these
    /// (`Acquire::GzipIndexes`), the agent has no decoder for them.
    Unsupported,
}

/// A binary `Packages` list file name, split into the name apt gives the
/// uncompressed list and its compression.
///
/// apt names lists after their URI with `/` turned into `_`:
/// `deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4`.
pub fn packages_list(name: &str) -> Option<(&str, Compression)> {
    let (base, compression) = match name.rsplit_once('.') {
        Some((base, "lz4")) => (base, Compression::Lz4),
        Some((base, "gz" | "xz" | "bz2" | "lzma" | "zst")) => (base, Compression::Unsupported),
        _ => (name, Compression::None),
    };
    (base == "Packages" || base.ends_with("_Packages")).then_some((base, compression))
}

/// Which suite a list belongs to, from its file name.
pub fn pocket(base: &str) -> Pocket {
    let suite = base
        .split_once("_dists_")
        .map(|(_, rest)| rest.split('_').next().unwrap_or_default());
    let host = base.split('_').next().unwrap_or_default();
    // Debian's own security archive (`debian-security` path, older
    // `security.debian.org/dists/stretch/updates`), Ubuntu's `-security` pocket.
    let security = suite.is_some_and(|s| s.ends_with("-security")) || base.contains("_debian-security_") || host.starts_with("security.");
    if security {
        Pocket::Security
    } else if suite.is_some_and(|s| s.ends_with("-updates")) {
        Pocket::Updates
    } else {
        Pocket::Other
    }
}

/// A list to read and where it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct List {
    pub file: String,
    pub pocket: Pocket,
    pub compression: Compression,
}

/// The security and updates lists among the files of the lists folder: for
/// each list the form the agent can read (plain, else lz4); lists that exist
/// only in a form it cannot read are returned too, with `Unsupported`.
pub fn select(names: &[String]) -> Vec<List> {
    let mut found: Vec<(&str, List)> = names
        .iter()
        .filter_map(|name| {
            let (base, compression) = packages_list(name)?;
            let pocket = pocket(base);
            (pocket != Pocket::Other).then(|| {
                (
                    base,
                    List {
                        file: name.clone(),
                        pocket,
                        compression,
                    },
                )
            })
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(b.0).then(a.1.compression.cmp(&b.1.compression)));
    found.dedup_by(|later, first| later.0 == first.0);
    found.into_iter().map(|(_, list)| list).collect()
}

/// A version newer than the installed one, for one installed package.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Newer {
    pub version: String,
    /// A security list offers a version newer than the installed one.
    pub security: bool,
}

/// Reads one list and records, for each installed package (same index as
/// `installed`, sorted by name), the highest newer version it offers.
///
/// Only `Package:`, `Version:` and `Architecture:` are looked at; an entry
/// matches an installed package of the same name and architecture, `all`
/// matching any (apt treats `all` as the native architecture, and packages
/// move between `all` and an architecture from one version to the next).
pub fn scan_list(reader: impl Read, installed: &[Package], security: bool, newer: &mut [Option<Newer>]) -> io::Result<()> {
    let (mut name, mut version, mut arch) = (String::new(), String::new(), String::new());
    // Most entries are not installed here: once `Package:` says so, the rest
    // of the stanza is skipped (Package comes first in lists apt writes).
    let mut wanted = true;
    for_each_line(reader, |line| match line.first() {
        None => {
            if wanted && !name.is_empty() {
                offer(&name, &version, &arch, installed, security, newer);
            }
            name.clear();
            version.clear();
            arch.clear();
            wanted = true;
        }
        _ if !wanted => {}
        Some(b'P') => {
            if let Some(v) = field(line, b"Package:") {
                set(&mut name, v);
                wanted = super::dpkg::is_installed(installed, &name);
            }
        }
        Some(b'V') => {
            if let Some(v) = field(line, b"Version:") {
                set(&mut version, v);
            }
        }
        Some(b'A') => {
            if let Some(v) = field(line, b"Architecture:") {
                set(&mut arch, v);
            }
        }
        _ => {}
    })
}

fn offer(name: &str, version: &str, arch: &str, installed: &[Package], security: bool, newer: &mut [Option<Newer>]) {
    let start = installed.partition_point(|p| p.name.as_str() < name);
    for (i, p) in installed.iter().enumerate().skip(start).take_while(|(_, p)| p.name == name) {
        let same_arch = match p.arch.as_deref() {
            Some(a) => a == arch || a == "all" || arch == "all",
            None => true,
        };
        if !same_arch || compare_versions(version, &p.version) != Ordering::Greater {
            continue;
        }
        let entry = newer[i].get_or_insert_with(Newer::default);
        if entry.version.is_empty() || compare_versions(version, &entry.version) == Ordering::Greater {
            entry.version = version.to_string();
        }
        entry.security |= security;
    }
}

/// Opens a list for [`scan_list`], decompressing lz4.
pub fn open(path: &Path, compression: Compression) -> io::Result<Box<dyn Read>> {
    let file = BufReader::with_capacity(64 * 1024, std::fs::File::open(path)?);
    match compression {
        Compression::None => Ok(Box::new(file)),
        Compression::Lz4 => Ok(Box::new(lz4_flex::frame::FrameDecoder::new(file))),
        Compression::Unsupported => Err(io::Error::new(io::ErrorKind::Unsupported, "compressed list format not supported")),
    }
}

/// Counts of pending updates and the names with a security update.
pub fn summarise(installed: &[Package], newer: &[Option<Newer>]) -> (u32, u32, Vec<String>) {
    let mut updates = 0u32;
    let mut security = 0u32;
    let mut names: Vec<String> = Vec::new();
    for (p, n) in installed.iter().zip(newer) {
        let Some(n) = n else { continue };
        updates += 1;
        if n.security {
            security += 1;
            // Sorted by name already; one name for all architectures of a package.
            if names.last() != Some(&p.name) && names.len() < MAX_NAMES {
                names.push(p.name.clone());
            }
        }
    }
    (updates, security, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, arch: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: Some(arch.into()),
        }
    }

    const SECURITY_LIST: &str = "\
Package: 7zip
Version: 22.01+really26.02+dfsg-0+deb12u1
Installed-Size: 2645
Maintainer: YOKOTA Hiroshi <yokota.hgml@gmail.com>
Architecture: amd64
Depends: libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 5)
Description: 7-Zip file archiver with a high compression ratio
Homepage: https://www.7-zip.org/
Description-md5: 302b8ff813071cfed09d7b23ac4a0cb3
Section: utils
Priority: optional
Filename: pool/updates/main/7/7zip/7zip_22.01+really26.02+dfsg-0+deb12u1_amd64.deb
Size: 1021788
SHA256: 5b72d419dc0fdaaf3765268e9b5edba6f545cd63f926d3c4d807fc3e33b86cdd

Package: libc6
Source: glibc
Version: 2.36-9+deb12u4
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Pre-Depends: libgcc-s1
Package-Type: udeb-like-field-that-is-not-Package
Description: GNU C Library: Shared libraries
Section: libs
Priority: optional
Filename: pool/updates/main/g/glibc/libc6_2.36-9+deb12u4_amd64.deb

Package: libc6
Source: glibc
Version: 2.36-9+deb12u4
Architecture: i386
Multi-Arch: same

Package: openssh-server
Source: openssh
Version: 1:9.2p1-2+deb12u3
Architecture: amd64

Package: tzdata
Version: 2025b-0+deb12u1
Architecture: all
";

    const UPDATES_LIST: &str = "\
Package: tzdata
Version: 2025b-0+deb12u2
Architecture: all

Package: ca-certificates
Version: 20230311+deb12u1
Architecture: all

Package: libc6
Version: 2.36-9+deb12u3
Architecture: amd64
";

    fn installed() -> Vec<Package> {
        let mut v = vec![
            pkg("ca-certificates", "20230311", "all"),
            pkg("libc6", "2.36-9+deb12u3", "amd64"),
            pkg("libc6", "2.36-9+deb12u3", "i386"),
            pkg("openssh-server", "1:9.2p1-2+deb12u7", "amd64"),
            pkg("tzdata", "2024a-0+deb12u1", "all"),
            pkg("zlib1g", "1:1.2.13.dfsg-1", "amd64"),
        ];
        super::super::dpkg::sort(&mut v);
        v
    }

    #[test]
    fn finds_newer_versions_in_security_and_updates_lists() {
        let installed = installed();
        let mut newer = vec![None; installed.len()];
        scan_list(SECURITY_LIST.as_bytes(), &installed, true, &mut newer).unwrap();
        scan_list(UPDATES_LIST.as_bytes(), &installed, false, &mut newer).unwrap();
        let got: Vec<Option<(&str, bool)>> = newer.iter().map(|n| n.as_ref().map(|n| (n.version.as_str(), n.security))).collect();
        assert_eq!(
            got,
            [
                Some(("20230311+deb12u1", false)),
                Some(("2.36-9+deb12u4", true)),
                Some(("2.36-9+deb12u4", true)),
                // The security list is older than what is installed.
                None,
                // The updates list has a newer tzdata than security: still a security update.
                Some(("2025b-0+deb12u2", true)),
                None,
            ]
        );
        let (updates, security, names) = summarise(&installed, &newer);
        assert_eq!((updates, security), (4, 3));
        assert_eq!(names, ["libc6", "tzdata"]);
    }

    #[test]
    fn reads_lz4_lists() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_Packages.lz4");
        let mut enc = lz4_flex::frame::FrameEncoder::new(std::fs::File::create(&path).unwrap());
        enc.write_all(SECURITY_LIST.as_bytes()).unwrap();
        enc.finish().unwrap();
        let installed = installed();
        let mut newer = vec![None; installed.len()];
        scan_list(open(&path, Compression::Lz4).unwrap(), &installed, true, &mut newer).unwrap();
        assert_eq!(summarise(&installed, &newer).1, 3);

        std::fs::write(&path, b"not lz4 at all").unwrap();
        let mut newer = vec![None; installed.len()];
        assert!(scan_list(open(&path, Compression::Lz4).unwrap(), &installed, true, &mut newer).is_err());
    }

    #[test]
    fn keeps_at_most_fifty_names() {
        let installed: Vec<Package> = (0..60).map(|i| pkg(&format!("p{i:02}"), "1", "amd64")).collect();
        let newer: Vec<Option<Newer>> = (0..60)
            .map(|_| {
                Some(Newer {
                    version: "2".into(),
                    security: true,
                })
            })
            .collect();
        let (updates, security, names) = summarise(&installed, &newer);
        assert_eq!((updates, security, names.len()), (60, 60, 50));
        assert_eq!(names[49], "p49");
    }

    #[test]
    fn classifies_list_files() {
        let debian_security = "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages";
        assert_eq!(
            packages_list(&format!("{debian_security}.lz4")),
            Some((debian_security, Compression::Lz4))
        );
        assert_eq!(packages_list(debian_security), Some((debian_security, Compression::None)));
        assert_eq!(
            packages_list(&format!("{debian_security}.gz")),
            Some((debian_security, Compression::Unsupported))
        );
        assert_eq!(packages_list("deb.debian.org_debian_dists_bookworm_InRelease"), None);
        assert_eq!(
            packages_list("deb.debian.org_debian_dists_bookworm_main_i18n_Translation-en.lz4"),
            None
        );
        assert_eq!(packages_list("deb.debian.org_debian_dists_bookworm_main_source_Sources.xz"), None);
        assert_eq!(
            packages_list("deb.debian.org_debian_dists_bookworm_main_dep11_Components-amd64.yml.gz"),
            None
        );

        assert_eq!(pocket(debian_security), Pocket::Security);
        assert_eq!(
            pocket("security.ubuntu.com_ubuntu_dists_jammy-security_main_binary-amd64_Packages"),
            Pocket::Security
        );
        assert_eq!(
            pocket("vn.archive.ubuntu.com_ubuntu_dists_jammy-security_universe_binary-amd64_Packages"),
            Pocket::Security
        );
        assert_eq!(
            pocket("security.debian.org_dists_stretch_updates_main_binary-amd64_Packages"),
            Pocket::Security
        );
        assert_eq!(
            pocket("deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages"),
            Pocket::Updates
        );
        assert_eq!(
            pocket("vn.archive.ubuntu.com_ubuntu_dists_jammy-updates_main_binary-amd64_Packages"),
            Pocket::Updates
        );
        assert_eq!(
            pocket("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"),
            Pocket::Other
        );
        assert_eq!(
            pocket("deb.debian.org_debian_dists_bookworm-backports_main_binary-amd64_Packages"),
            Pocket::Other
        );
        assert_eq!(
            pocket("download.docker.com_linux_debian_dists_bookworm_stable_binary-amd64_Packages"),
            Pocket::Other
        );
        assert_eq!(pocket("repo.example.com_flat_._Packages"), Pocket::Other);
    }

    #[test]
    fn selects_one_readable_form_per_list() {
        let names: Vec<String> = [
            "deb.debian.org_debian-security_dists_bookworm-security_InRelease",
            "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.gz",
            "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4",
            "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages.xz",
            "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
            "lock",
            "partial",
        ]
        .map(String::from)
        .to_vec();
        let selected = select(&names);
        let got: Vec<(&str, Pocket, Compression)> = selected.iter().map(|l| (l.file.as_str(), l.pocket, l.compression)).collect();
        assert_eq!(
            got,
            [
                (
                    "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4",
                    Pocket::Security,
                    Compression::Lz4
                ),
                (
                    "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages.xz",
                    Pocket::Updates,
                    Compression::Unsupported
                ),
            ]
        );
    }
}

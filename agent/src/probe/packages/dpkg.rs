//! The dpkg database, `/var/lib/dpkg/status`: what is installed.

use super::scan::{field, for_each_line, set};
use khien_proto::facts::Package;
use std::io::{self, Read};

pub const STATUS: &str = "/var/lib/dpkg/status";

/// Installed packages of a dpkg status file, sorted by name then architecture.
///
/// Stanzas are separated by blank lines; continuation lines (conffiles,
/// descriptions) start with a space and are skipped. A package counts when
/// the third word of `Status:` says it is configured: `installed`, or
/// `triggers-pending`/`triggers-awaited` (configured, a trigger still to run:
/// dpkg lists those as installed too). `config-files`, `half-installed`,
/// `unpacked` and `not-installed` are leftovers or broken installs, not
/// software on the machine. The first word (`install`, `hold`, `deinstall`)
/// is only what the administrator wants next.
pub fn parse_status(reader: impl Read) -> io::Result<Vec<Package>> {
    let mut packages = Vec::new();
    let (mut name, mut version, mut arch) = (String::new(), String::new(), String::new());
    let mut installed = false;
    for_each_line(reader, |line| match line.first() {
        None => {
            if installed && !name.is_empty() {
                packages.push(Package {
                    name: name.clone(),
                    version: version.clone(),
                    arch: (!arch.is_empty()).then(|| arch.clone()),
                });
            }
            name.clear();
            version.clear();
            arch.clear();
            installed = false;
        }
        Some(b' ' | b'\t') => {}
        Some(b'P') => {
            if let Some(v) = field(line, b"Package:") {
                set(&mut name, v);
            }
        }
        Some(b'S') => {
            if let Some(v) = field(line, b"Status:") {
                installed = matches!(
                    v.split(|&b| b == b' ').filter(|w| !w.is_empty()).nth(2),
                    Some(b"installed" | b"triggers-pending" | b"triggers-awaited")
                );
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
    })?;
    sort(&mut packages);
    Ok(packages)
}

pub fn sort(packages: &mut [Package]) {
    packages.sort_unstable_by(|a, b| {
        (a.name.as_str(), a.arch.as_deref(), a.version.as_str()).cmp(&(b.name.as_str(), b.arch.as_deref(), b.version.as_str()))
    });
}

/// Whether `name` is installed, in a list sorted by [`sort`].
pub fn is_installed(packages: &[Package], name: &str) -> bool {
    packages.binary_search_by(|p| p.name.as_str().cmp(name)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_EXCERPT: &str = "\
Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 168
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Provides: libz1
Depends: libc6 (>= 2.14)
Breaks: libxml2 (<< 2.7.6.dfsg-2), texlive-binaries (<< 2009-12)
Conflicts: zlib1 (<= 1:1.0.4-7)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.  This package includes the shared library.
Homepage: http://zlib.net/

Package: adduser
Status: install ok installed
Priority: important
Section: admin
Installed-Size: 686
Maintainer: Debian Adduser Developers <adduser@packages.debian.org>
Architecture: all
Multi-Arch: foreign
Version: 3.134
Depends: passwd
Conffiles:
 /etc/adduser.conf cc3493ecd2d09837ffdcc3e25fdfff18
 /etc/deluser.conf 11a06baf8245fd8d690b99024d228c1f
Description: add and remove users and groups
 This package includes the 'adduser' and 'deluser' commands for creating
 and removing users.
 .
 Package: this continuation line is not a field

Package: zlib1g
Status: hold ok installed
Architecture: i386
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: libssl3
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u2

Package: rsyslog
Status: deinstall ok config-files
Priority: important
Architecture: amd64
Version: 8.2302.0-1
Conffiles:
 /etc/rsyslog.conf 4c1b7b3b1e6d8a7c8d2f0e5c1a6b9d3e

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 1.0

Package: man-db
Status: install ok triggers-pending
Architecture: amd64
Version: 2.11.2-2
Triggers-Pending: /usr/share/man
";

    #[test]
    fn keeps_installed_packages_sorted() {
        let packages = parse_status(STATUS_EXCERPT.as_bytes()).unwrap();
        let got: Vec<(&str, &str, Option<&str>)> = packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.arch.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("adduser", "3.134", Some("all")),
                ("libssl3", "3.0.11-1~deb12u2", Some("amd64")),
                ("man-db", "2.11.2-2", Some("amd64")),
                ("zlib1g", "1:1.2.13.dfsg-1", Some("amd64")),
                ("zlib1g", "1:1.2.13.dfsg-1", Some("i386")),
            ]
        );
        assert!(is_installed(&packages, "zlib1g"));
        assert!(is_installed(&packages, "adduser"));
        assert!(!is_installed(&packages, "rsyslog"));
    }

    #[test]
    fn an_empty_or_truncated_file_is_read_as_far_as_it_goes() {
        assert!(parse_status(&b""[..]).unwrap().is_empty());
        let packages = parse_status(&b"Package: a\nStatus: install ok installed\nVersion: 1"[..]).unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0].arch, None);
        // CRLF line ends (a file edited by hand on Windows) still parse.
        let packages = parse_status(&b"Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n\r\n"[..]).unwrap();
        assert_eq!(packages[0].version, "1");
    }
}

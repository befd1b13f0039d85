//! A cheap lookup of the table's package names in the dpkg database.
//!
//! The packages probe parses the whole database at the same time on another
//! thread; waiting for it would serialise the two, so this one only looks at
//! the `Package:` line of each stanza and parses the few stanzas it wants.

use std::collections::{HashMap, HashSet};

pub const STATUS: &str = "/var/lib/dpkg/status";

/// Installed packages among `wanted`, name → version, from `/var/lib/dpkg/status`.
///
/// Only `Status: … installed` counts (not `config-files` or `half-installed`);
/// a multi-arch package appears once per architecture, the first one is kept.
pub fn find_installed(text: &str, wanted: &HashSet<&str>) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for stanza in text.split("\n\n") {
        let stanza = stanza.trim_start_matches('\n');
        // dpkg writes `Package:` first; anything else is read field by field.
        let name = match stanza.strip_prefix("Package:") {
            Some(rest) => rest.split('\n').next().unwrap_or_default().trim(),
            None => match field(stanza, "Package") {
                Some(n) => n,
                None => continue,
            },
        };
        if !wanted.contains(name) || found.contains_key(name) {
            continue;
        }
        let installed = field(stanza, "Status").is_some_and(|s| s.split_whitespace().nth(2) == Some("installed"));
        if let (true, Some(version)) = (installed, field(stanza, "Version")) {
            found.insert(name.to_string(), version.to_string());
        }
    }
    found
}

fn field<'a>(stanza: &'a str, key: &str) -> Option<&'a str> {
    stanza.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == key).then(|| v.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_EXCERPT: &str = "\
Package: adduser
Status: install ok installed
Priority: important
Section: admin
Installed-Size: 849
Maintainer: Debian Adduser Developers <adduser@packages.debian.org>
Architecture: all
Multi-Arch: foreign
Version: 3.134
Depends: passwd
Description: add and remove users and groups
 This package includes the 'adduser' and 'deluser' commands.

Package: firefox-esr
Status: install ok installed
Priority: optional
Section: web
Installed-Size: 250358
Maintainer: Maintainers of Mozilla-related packages <team+pkg-mozilla@tracker.debian.org>
Architecture: amd64
Version: 115.12.0esr-1~deb12u1
Provides: gnome-www-browser, www-browser
Depends: libc6 (>= 2.34), libgtk-3-0 (>= 3.14)
Description: Mozilla Firefox web browser - Extended Support Release (ESR)
 Firefox ESR is a powerful, extensible web browser with support for modern
 web application technologies.

Package: openvpn
Status: install ok installed
Priority: optional
Section: net
Architecture: amd64
Version: 2.6.3-1+deb12u2
Conffiles:
 /etc/default/openvpn 0d2b8a2e1d4c8c1c0f0e5f7a2b0c1d2e
 /etc/init.d/openvpn 5a0c1f4e2b2c5d3f8a0e1d7c4b6a9f00
Description: virtual private network daemon

Package: wazuh-agent
Status: install ok installed
Priority: extra
Section: admin
Installed-Size: 33441
Maintainer: Wazuh, Inc <info@wazuh.com>
Architecture: amd64
Version: 4.9.2-1
Depends: libc6 (>= 2.2.1), lsb-release
Description: Wazuh helps you to gain security visibility into your infrastructure by monitoring
 hosts at an operating system and application level.

Package: thunderbird
Status: deinstall ok config-files
Priority: optional
Section: mail
Architecture: amd64
Version: 1:115.12.0-1~deb12u1
Description: mail/news client with RSS, chat and integrated spam filter support

Package: libssl3
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 3.0.13-1~deb12u1
Description: Secure Sockets Layer toolkit - shared libraries

Package: libssl3
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries
";

    #[test]
    fn finds_only_installed_wanted_packages() {
        let wanted: HashSet<&str> = ["firefox-esr", "openvpn", "wazuh-agent", "thunderbird", "libssl3", "chromium"].into();
        let found = find_installed(STATUS_EXCERPT, &wanted);
        assert_eq!(found.get("firefox-esr").map(String::as_str), Some("115.12.0esr-1~deb12u1"));
        assert_eq!(found.get("openvpn").map(String::as_str), Some("2.6.3-1+deb12u2"));
        assert_eq!(found.get("wazuh-agent").map(String::as_str), Some("4.9.2-1"));
        assert_eq!(
            found.get("libssl3").map(String::as_str),
            Some("3.0.13-1~deb12u1"),
            "first architecture kept"
        );
        assert!(!found.contains_key("thunderbird"), "removed, only its config files remain");
        assert!(!found.contains_key("adduser"), "not asked for");
        assert_eq!(found.len(), 4);
    }

    #[test]
    fn tolerates_odd_field_order_and_blank_lines() {
        let text = "\n\nStatus: install ok installed\nPackage: restic\nVersion: 0.14.0-1+b5\n\n\n\nPackage: borgbackup\n";
        let wanted: HashSet<&str> = ["restic", "borgbackup"].into();
        let found = find_installed(text, &wanted);
        assert_eq!(found.get("restic").map(String::as_str), Some("0.14.0-1+b5"));
        assert!(!found.contains_key("borgbackup"), "no status: not installed");
    }
}

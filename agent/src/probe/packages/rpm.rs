//! The rpm database, through `rpm -qa`: its files are Berkeley DB, SQLite or
//! NDB depending on the distribution and release, and the query format of
//! the rpm tool is the one stable interface over all of them.
//!
//! Pending updates stay unknown on rpm systems: the repository metadata
//! (`repomd.xml`, `primary.xml.zst`/`.sqlite` in dnf's cache) is large,
//! compressed in formats the agent does not read, and says nothing about
//! security on its own (that is in `updateinfo.xml`).

use khien_proto::facts::Package;

pub const DB_DIRS: [&str; 2] = ["/usr/lib/sysimage/rpm", "/var/lib/rpm"];
pub const TOOL: [&str; 2] = ["/usr/bin/rpm", "/bin/rpm"];
pub const QUERY_FORMAT: &str = "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n";

/// `name\tversion-release\tarch\tinstall time` lines: the packages sorted by
/// name, and the newest install time (unix seconds).
///
/// `gpg-pubkey` entries are the imported signing keys, not software.
pub fn parse_query(output: &str) -> (Vec<Package>, Option<i64>) {
    let mut packages = Vec::new();
    let mut newest: Option<i64> = None;
    for line in output.lines() {
        let mut fields = line.split('\t');
        let (Some(name), Some(version), Some(arch)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if name.is_empty() || name == "gpg-pubkey" {
            continue;
        }
        if let Some(t) = fields.next().and_then(|t| t.trim().parse::<i64>().ok()) {
            newest = Some(newest.map_or(t, |n| n.max(t)));
        }
        packages.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            arch: (!arch.is_empty() && arch != "(none)").then(|| arch.to_string()),
        });
    }
    super::dpkg::sort(&mut packages);
    (packages, newest)
}

pub const AUTOMATIC_CONF: [&str; 3] = [
    "/etc/dnf/automatic.conf",
    "/etc/dnf/dnf5-plugins/automatic.conf",
    "/usr/share/dnf5/dnf5-plugins/automatic.conf",
];
pub const TIMER_WANTS: &str = "/etc/systemd/system/timers.target.wants";

/// `apply_updates` of the `[commands]` section of dnf-automatic's configuration (default no).
pub fn apply_updates(conf: &str) -> bool {
    let mut section = String::new();
    let mut apply = false;
    for line in conf.lines() {
        let line = line.trim();
        if let Some(s) = line.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_ascii_lowercase();
        } else if section == "commands"
            && let Some((k, v)) = line.split_once('=')
            && k.trim().eq_ignore_ascii_case("apply_updates")
        {
            apply = matches!(v.trim().to_ascii_lowercase().as_str(), "yes" | "true" | "1" | "on");
        }
    }
    apply
}

/// dnf-automatic installs updates when its `-install` timer is enabled (it
/// applies whatever the configuration says) or its plain timer is enabled
/// with `apply_updates = yes`.
pub fn auto_updates(enabled_timers: &[String], apply_updates: bool) -> bool {
    let timer = |prefix: &str| enabled_timers.iter().any(|t| t.starts_with(prefix) && t.ends_with(".timer"));
    timer("dnf-automatic-install") || ((timer("dnf-automatic") || timer("dnf5-automatic")) && apply_updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QA: &str = "\
bash\t5.1.8-9.el9\tx86_64\t1716200000
gpg-pubkey\t350d275d-6279464b\t(none)\t1716400000
kernel-core\t5.14.0-427.13.1.el9_4\tx86_64\t1716200050
kernel-core\t5.14.0-362.24.1.el9_3\tx86_64\t1710000000
tzdata\t2024a-1.el9\tnoarch\t1716300000
glibc\t2.34-100.el9\ti686\t1716200000

broken line
";

    #[test]
    fn parses_rpm_query_output() {
        let (packages, newest) = parse_query(QA);
        let got: Vec<(&str, &str, Option<&str>)> = packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.arch.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("bash", "5.1.8-9.el9", Some("x86_64")),
                ("glibc", "2.34-100.el9", Some("i686")),
                ("kernel-core", "5.14.0-362.24.1.el9_3", Some("x86_64")),
                ("kernel-core", "5.14.0-427.13.1.el9_4", Some("x86_64")),
                ("tzdata", "2024a-1.el9", Some("noarch")),
            ]
        );
        // The key import time does not count as an update.
        assert_eq!(newest, Some(1716300000));
        assert_eq!(parse_query(""), (Vec::new(), None));
    }

    #[test]
    fn reads_dnf_automatic() {
        let conf = "[commands]\nupgrade_type = security\napply_updates = yes\n\n[emitters]\napply_updates = no\n";
        assert!(apply_updates(conf));
        assert!(!apply_updates("[commands]\n# apply_updates = yes\napply_updates = no\n"));
        assert!(!apply_updates(""));
        let timers = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(auto_updates(&timers(&["dnf-automatic.timer"]), true));
        assert!(!auto_updates(&timers(&["dnf-automatic.timer"]), false));
        assert!(auto_updates(&timers(&["dnf-automatic-install.timer"]), false));
        assert!(auto_updates(&timers(&["dnf5-automatic.timer"]), true));
        assert!(!auto_updates(&timers(&["fstrim.timer"]), true));
    }
}

//! The whole probe over machines built as folder trees.

use super::*;
use crate::config::ProbeConfig;
use crate::probe::localtime;
use crate::probe::procs::Processes;
use crate::probe::root::Root;
use crate::probe::testing::write;
use std::io::Write;
use std::time::{Duration, SystemTime};

const STATUS: &str = "\
Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u3
Depends: libgcc-s1
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.15-1~deb12u1

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1

Package: unattended-upgrades
Status: install ok installed
Architecture: all
Version: 2.9.1+nmu3
Conffiles:
 /etc/apt/apt.conf.d/50unattended-upgrades 0c6fe9d2b1b7c6b0f5c1a3e6d5a4b3c2

Package: rsyslog
Status: deinstall ok config-files
Architecture: amd64
Version: 8.2302.0-1
";

const SECURITY: &str = "\
Package: libc6
Source: glibc
Version: 2.36-9+deb12u4
Architecture: amd64

Package: openssl
Version: 3.0.15-1~deb12u1
Architecture: amd64

Package: rsyslog
Version: 8.2302.0-1+deb12u1
Architecture: amd64
";

const UPDATES: &str = "\
Package: tzdata
Version: 2025b-0+deb12u1
Architecture: all
";

/// The release suite has a newer openssl (a point release): not read, on purpose.
const MAIN: &str = "\
Package: openssl
Version: 3.0.17-1~deb12u2
Architecture: amd64
";

const DPKG_LOG: &str = "\
2026-11-20 10:31:01 startup archives unpack
2026-11-20 10:31:02 upgrade libc6:amd64 2.36-9+deb12u1 2.36-9+deb12u3
2026-11-20 10:31:05 status installed libc6:amd64 2.36-9+deb12u3
2026-11-21 08:00:01 remove rsyslog:amd64 8.2302.0-1 <none>
";

const HISTORY: &str = "\
Start-Date: 2026-11-19  09:00:00
Commandline: apt-get install -y openssl
Upgrade: openssl:amd64 (3.0.14-1~deb12u2, 3.0.15-1~deb12u1)
End-Date: 2026-11-19  09:00:10
";

const DEBIAN_SOURCES: &str = "\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
";

const SEC_LIST: &str = "var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages";
const UPD_LIST: &str = "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages";

fn write_lz4(root: &Path, rel: &str, content: &str) {
    let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
    enc.write_all(content.as_bytes()).unwrap();
    write(root, rel, enc.finish().unwrap());
}

fn set_mtime(root: &Path, rel: &str, unix: u64) {
    let file = std::fs::File::options().write(true).open(root.join(rel)).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(unix)).unwrap();
}

fn debian_machine() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "var/lib/dpkg/status", STATUS);
    write(root, "var/log/dpkg.log", DPKG_LOG);
    write(root, "var/log/apt/history.log", HISTORY);
    write(root, "etc/localtime", localtime::tzif(0, 0, 7 * 3600));
    write_lz4(root, &format!("{SEC_LIST}.lz4"), SECURITY);
    write(root, UPD_LIST, UPDATES);
    write_lz4(
        root,
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
        MAIN,
    );
    for (suite, time) in [
        ("bookworm", 1_790_000_000),
        ("bookworm-updates", 1_795_000_000),
        ("bookworm-security", 1_795_500_000),
    ] {
        let archive = if suite.ends_with("security") { "debian-security" } else { "debian" };
        let rel = format!("var/lib/apt/lists/deb.debian.org_{archive}_dists_{suite}_InRelease");
        write(root, &rel, "-----BEGIN PGP SIGNED MESSAGE-----\n");
        set_mtime(root, &rel, time);
    }
    write(root, "var/lib/apt/lists/lock", "");
    write(root, "etc/apt/sources.list", "# See sources.list.d\n");
    write(root, "etc/apt/sources.list.d/debian.sources", DEBIAN_SOURCES);
    write(
        root,
        "etc/apt/sources.list.d/old.list.disabled",
        "deb http://old.example.com/debian bookworm main\n",
    );
    write(
        root,
        "etc/apt/sources.list.d/docker.list",
        "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable\n",
    );
    write(
        root,
        "etc/apt/apt.conf.d/20auto-upgrades",
        "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n",
    );
    write(
        root,
        "etc/apt/apt.conf.d/50unattended-upgrades.ucf-dist",
        "APT::Periodic::Unattended-Upgrade \"0\";\n",
    );
    write(root, "run/reboot-required", "*** System restart required ***\n");
    dir
}

fn probe(root: &Path) -> (Packages, Errors) {
    let config = ProbeConfig {
        root: root.into(),
        ..Default::default()
    };
    let ctx = ProbeContext::new(Root::new(root), Processes::default(), &config);
    let mut errors = Errors::default();
    (collect(&ctx, &mut errors), errors)
}

#[test]
fn reads_a_debian_machine() {
    let dir = debian_machine();
    let (p, errors) = probe(dir.path());
    assert!(errors.0.is_empty(), "{:?}", errors.0);
    assert_eq!(p.manager.as_deref(), Some("dpkg"));
    assert_eq!(p.count, 4);
    let names: Vec<&str> = p.installed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["libc6", "openssl", "tzdata", "unattended-upgrades"]);
    assert_eq!(p.digest.as_deref().map(str::len), Some(64));
    // dpkg.log's upgrade (10:31:02 at UTC+7) is newer than apt's last run.
    assert_eq!(p.last_update.unwrap().to_string(), "2026-11-20T03:31:02Z");
    assert_eq!(p.lists_updated.unwrap().unix(), 1_795_500_000);
    assert_eq!(p.pending_updates, Some(2));
    assert_eq!(p.pending_security, Some(1));
    assert_eq!(p.pending_security_packages, ["libc6"]);
    assert_eq!(p.auto_updates, Some(true));
    assert_eq!(p.reboot_required, Some(true));
    let repos: Vec<(&str, Option<&str>, &str)> = p
        .repositories
        .iter()
        .map(|r| (r.host.as_str(), r.suite.as_deref(), r.file.as_str()))
        .collect();
    assert_eq!(
        repos,
        [
            ("deb.debian.org", Some("bookworm"), "/etc/apt/sources.list.d/debian.sources"),
            ("deb.debian.org", Some("bookworm-updates"), "/etc/apt/sources.list.d/debian.sources"),
            (
                "deb.debian.org",
                Some("bookworm-security"),
                "/etc/apt/sources.list.d/debian.sources"
            ),
            ("download.docker.com", Some("bookworm"), "/etc/apt/sources.list.d/docker.list"),
        ]
    );
}

#[test]
fn the_digest_follows_what_is_installed() {
    let dir = debian_machine();
    let before = probe(dir.path()).0.digest;
    write(
        dir.path(),
        "var/lib/dpkg/status",
        STATUS.replace("Version: 3.0.15-1~deb12u1", "Version: 3.0.16-1~deb12u1"),
    );
    let after = probe(dir.path()).0.digest;
    assert_ne!(before, after);
    let expected = {
        let lines =
            "libc6 2.36-9+deb12u3 amd64\nopenssl 3.0.16-1~deb12u1 amd64\ntzdata 2024a-0+deb12u1 all\nunattended-upgrades 2.9.1+nmu3 all\n";
        hex::encode(ring::digest::digest(&ring::digest::SHA256, lines.as_bytes()))
    };
    assert_eq!(after.as_deref(), Some(expected.as_str()));
}

#[test]
fn an_unreadable_security_list_leaves_the_counts_unknown() {
    let dir = debian_machine();
    let root = dir.path();
    std::fs::remove_file(root.join(format!("{SEC_LIST}.lz4"))).unwrap();
    write(root, &format!("{SEC_LIST}.xz"), b"\xfd7zXZ\0");
    std::fs::remove_file(root.join("run/reboot-required")).unwrap();
    let (p, errors) = probe(root);
    assert_eq!(errors.0.len(), 1, "{:?}", errors.0);
    assert_eq!(errors.0[0].probe, "packages.pending_security");
    assert!(errors.0[0].message.contains("Packages.xz"), "{}", errors.0[0].message);
    assert_eq!((p.pending_updates, p.pending_security), (None, None));
    assert!(p.pending_security_packages.is_empty());
    assert_eq!(p.reboot_required, Some(false));
    assert_eq!(p.count, 4);
}

#[test]
fn without_lists_or_logs_nothing_is_guessed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "var/lib/dpkg/status",
        STATUS.replace("unattended-upgrades", "apt-listchanges"),
    );
    let (p, errors) = probe(dir.path());
    assert!(errors.0.is_empty(), "{:?}", errors.0);
    assert_eq!(p.count, 4);
    assert_eq!((p.pending_updates, p.pending_security), (None, None));
    assert_eq!((p.last_update, p.lists_updated), (None, None));
    assert_eq!(p.auto_updates, Some(false));
    assert!(p.repositories.is_empty());
}

#[test]
fn a_masked_upgrade_timer_stops_unattended_upgrades() {
    let dir = debian_machine();
    std::fs::create_dir_all(dir.path().join("etc/systemd/system")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.path().join("etc/systemd/system/apt-daily-upgrade.timer")).unwrap();
    assert_eq!(probe(dir.path()).0.auto_updates, Some(false));
}

#[test]
fn an_rpm_machine_outside_the_system_root_gives_repositories_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
    write(
        root,
        "etc/yum.repos.d/rocky.repo",
        "[baseos]\nmirrorlist=https://mirrors.rockylinux.org/mirrorlist?repo=BaseOS\nenabled=1\n",
    );
    write(root, "etc/dnf/automatic.conf", "[commands]\napply_updates = yes\n");
    std::fs::create_dir_all(root.join("etc/systemd/system/timers.target.wants")).unwrap();
    std::os::unix::fs::symlink(
        "/usr/lib/systemd/system/dnf-automatic.timer",
        root.join("etc/systemd/system/timers.target.wants/dnf-automatic.timer"),
    )
    .unwrap();
    let (p, errors) = probe(root);
    assert_eq!(p.manager.as_deref(), Some("rpm"));
    assert_eq!(p.auto_updates, Some(true));
    assert_eq!(p.repositories.len(), 1);
    assert_eq!(p.repositories[0].host, "mirrors.rockylinux.org");
    assert_eq!((p.pending_updates, p.pending_security, p.reboot_required), (None, None, None));
    assert_eq!(p.digest, None);
    assert_eq!(errors.0.len(), 1, "{:?}", errors.0);
    assert_eq!(errors.0[0].probe, "packages.installed");
}

#[test]
fn no_package_database_is_no_manager() {
    let dir = tempfile::tempdir().unwrap();
    let (p, errors) = probe(dir.path());
    assert_eq!(p, Packages::default());
    assert!(errors.0.is_empty());
}

/// `cargo test --release -p khien-agent --lib probe::packages::tests::timing -- --ignored --nocapture`
#[test]
#[ignore = "measures this machine"]
fn timing() {
    let config = ProbeConfig::default();
    let ctx = ProbeContext::new(Root::default(), Processes::default(), &config);
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let mut errors = Errors::default();
        let p = collect(&ctx, &mut errors);
        println!(
            "packages probe: {:?}, count {}, pending {:?}/{:?}, errors {:?}",
            started.elapsed(),
            p.count,
            p.pending_updates,
            p.pending_security,
            errors.0
        );
    }
}

//! Kernel exploit mitigations (MD-04): address-space randomisation and
//! mandatory access control.
//!
//! SELinux shows itself by mounting selinuxfs (`/sys/fs/selinux/enforce`);
//! AppArmor by its module parameter and, under securityfs, the list of loaded
//! profiles with their modes. That list is root-only and securityfs is often
//! not mounted inside containers; then the counts and AppArmor's mode stay
//! unknown.

use super::read_attr;
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::{Hardening, Mac};

const ASLR: &str = "/proc/sys/kernel/randomize_va_space";
const APPARMOR_ENABLED: &str = "/sys/module/apparmor/parameters/enabled";
const APPARMOR_PROFILES: &str = "/sys/kernel/security/apparmor/profiles";
const LSM: &str = "/sys/kernel/security/lsm";
const SELINUX_ENFORCE: &str = "/sys/fs/selinux/enforce";
const SELINUX_CONFIG: &str = "/etc/selinux/config";

/// Loaded AppArmor profiles by mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProfileCounts {
    pub enforced: u32,
    pub complain: u32,
}

/// `/sys/kernel/security/apparmor/profiles`: `name (mode)` a line. `kill` and
/// `prompt` are enforcing modes that also kill or ask; `unconfined` profiles
/// restrict nothing.
pub fn parse_profiles(text: &str) -> ProfileCounts {
    let mut counts = ProfileCounts::default();
    for line in text.lines() {
        let Some((_, mode)) = line.trim_end().rsplit_once(" (") else {
            continue;
        };
        match mode.trim_end_matches(')') {
            "enforce" | "kill" | "prompt" => counts.enforced += 1,
            "complain" => counts.complain += 1,
            _ => {}
        }
    }
    counts
}

/// AppArmor's mode, judged by what its profiles do.
pub fn apparmor_mode(counts: ProfileCounts) -> &'static str {
    if counts.enforced > 0 {
        "enforcing"
    } else if counts.complain > 0 {
        "complain"
    } else {
        "disabled"
    }
}

/// `SELINUX=` of `/etc/selinux/config`, lower-case.
pub fn parse_selinux_config(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("SELINUX="))
        .map(|v| v.trim().trim_matches('"').to_ascii_lowercase())
        .next_back()
}

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Hardening {
    let randomize_va_space = match read_attr(ctx, ASLR) {
        Ok(Some(v)) => v
            .parse()
            .map_err(|_| errors.push("hardening.randomize_va_space", format!("{ASLR}: unexpected {v:?}")))
            .ok(),
        Ok(None) => None,
        Err(e) => {
            errors.push("hardening.randomize_va_space", describe(ctx.root.path(ASLR), &e));
            None
        }
    };
    Hardening {
        randomize_va_space,
        mac: mac(ctx, errors),
    }
}

fn mac(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Mac {
    let mut mac = Mac::default();
    match ctx.root.read_optional(SELINUX_CONFIG) {
        Ok(text) => mac.configured_mode = text.as_deref().and_then(parse_selinux_config),
        Err(e) => errors.push("hardening.mac.configured_mode", describe(ctx.root.path(SELINUX_CONFIG), &e)),
    }

    match read_attr(ctx, SELINUX_ENFORCE) {
        Ok(Some(v)) => {
            mac.kind = Some("selinux".to_string());
            mac.mode = match v.as_str() {
                "1" => Some("enforcing".to_string()),
                "0" => Some("permissive".to_string()),
                _ => {
                    errors.push("hardening.mac.mode", format!("{SELINUX_ENFORCE}: unexpected {v:?}"));
                    None
                }
            };
            return mac;
        }
        Ok(None) => {}
        Err(e) => {
            // selinuxfs is there, so SELinux is the active module, mode unknown.
            mac.kind = Some("selinux".to_string());
            errors.push("hardening.mac.mode", describe(ctx.root.path(SELINUX_ENFORCE), &e));
            return mac;
        }
    }

    if !apparmor_active(ctx) {
        return mac;
    }
    mac.kind = Some("apparmor".to_string());
    // Tens of kilobytes on desktops with snaps: the root's one large read.
    match ctx.root.read_optional(APPARMOR_PROFILES) {
        Ok(Some(text)) => {
            let counts = parse_profiles(&text);
            mac.mode = Some(apparmor_mode(counts).to_string());
            mac.profiles_enforced = Some(counts.enforced);
            mac.profiles_complain = Some(counts.complain);
        }
        // securityfs not mounted: nothing to read, and nothing wrong with the probe.
        Ok(None) => {}
        Err(e) => errors.push("hardening.mac.mode", describe(ctx.root.path(APPARMOR_PROFILES), &e)),
    }
    mac
}

/// The module is enabled and, where securityfs tells, among the active LSMs:
/// a kernel booted with another major LSM can still say `enabled=Y`.
fn apparmor_active(ctx: &ProbeContext<'_>) -> bool {
    let enabled = matches!(read_attr(ctx, APPARMOR_ENABLED), Ok(Some(v)) if v == "Y");
    let listed = match read_attr(ctx, LSM) {
        Ok(Some(list)) => list.split(',').any(|m| m == "apparmor"),
        _ => true,
    };
    enabled && listed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;
    use crate::probe::testing::write;
    use std::path::Path;

    const UBUNTU_PROFILES: &str = "\
snap.firefox.hook.configure (enforce)
snap.firefox.firefox (enforce)
/usr/sbin/cupsd (enforce)
/usr/bin/man (enforce)
man_groff (enforce)
nvidia_modprobe (enforce)
lsb_release (enforce)
unprivileged_userns (enforce)
rsyslogd (complain)
firefox (unconfined)
sbuild (unconfined)
";

    fn probe(root: &Path) -> (Hardening, Errors) {
        let config = ProbeConfig {
            root: root.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(root), Processes::default(), &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    #[test]
    fn counts_apparmor_profiles_by_mode() {
        assert_eq!(parse_profiles(UBUNTU_PROFILES), ProfileCounts { enforced: 8, complain: 1 });
        assert_eq!(
            parse_profiles("a (kill)\nb (prompt)\n/usr/bin/x (with space) (complain)\n"),
            ProfileCounts { enforced: 2, complain: 1 }
        );
        assert_eq!(apparmor_mode(ProfileCounts { enforced: 0, complain: 3 }), "complain");
        assert_eq!(apparmor_mode(parse_profiles("")), "disabled");
    }

    #[test]
    fn reads_the_configured_selinux_mode() {
        let config = "\
# This file controls the state of SELinux on the system.
#SELINUX=disabled
SELINUX=Enforcing
SELINUXTYPE=targeted
";
        assert_eq!(parse_selinux_config(config).as_deref(), Some("enforcing"));
        assert_eq!(parse_selinux_config("SELINUXTYPE=targeted\n"), None);
    }

    #[test]
    fn apparmor_with_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "proc/sys/kernel/randomize_va_space", "2\n");
        write(root, "sys/module/apparmor/parameters/enabled", "Y\n");
        write(
            root,
            "sys/kernel/security/lsm",
            "lockdown,capability,landlock,yama,apparmor,ima,evm",
        );
        write(root, "sys/kernel/security/apparmor/profiles", UBUNTU_PROFILES);
        let (h, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(h.randomize_va_space, Some(2));
        assert_eq!(
            h.mac,
            Mac {
                kind: Some("apparmor".into()),
                mode: Some("enforcing".into()),
                profiles_enforced: Some(8),
                profiles_complain: Some(1),
                configured_mode: None,
            }
        );
    }

    #[test]
    fn apparmor_without_securityfs_has_unknown_counts_and_no_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "sys/module/apparmor/parameters/enabled", "Y\n");
        let (h, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(h.mac.kind.as_deref(), Some("apparmor"));
        assert_eq!((h.mac.mode, h.mac.profiles_enforced), (None, None));

        // Unreadable (here a folder in its place): that is worth saying.
        std::fs::create_dir_all(root.join("sys/kernel/security/apparmor/profiles")).unwrap();
        let (_, errors) = probe(root);
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].probe, "hardening.mac.mode");
    }

    #[test]
    fn apparmor_disabled_or_not_the_active_lsm() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "sys/module/apparmor/parameters/enabled", "N\n");
        assert_eq!(probe(root).0.mac, Mac::default());
        write(root, "sys/module/apparmor/parameters/enabled", "Y\n");
        write(root, "sys/kernel/security/lsm", "lockdown,capability,yama,bpf");
        assert_eq!(probe(root).0.mac, Mac::default());
    }

    #[test]
    fn selinux_wins_and_reports_both_modes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "sys/fs/selinux/enforce", "0");
        write(root, "etc/selinux/config", "SELINUX=enforcing\nSELINUXTYPE=targeted\n");
        write(root, "sys/module/apparmor/parameters/enabled", "Y\n");
        let (h, errors) = probe(root);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(
            h.mac,
            Mac {
                kind: Some("selinux".into()),
                mode: Some("permissive".into()),
                profiles_enforced: None,
                profiles_complain: None,
                configured_mode: Some("enforcing".into()),
            }
        );
    }

    #[test]
    fn odd_randomize_va_space_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/sys/kernel/randomize_va_space", "full\n");
        let (h, errors) = probe(dir.path());
        assert_eq!(h.randomize_va_space, None);
        assert_eq!(errors.0[0].probe, "hardening.randomize_va_space");
    }
}

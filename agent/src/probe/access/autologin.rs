//! Display managers set to open a session without a password, as
//! `manager:user`: GDM (automatic and timed login), LightDM, SDDM and LXDM.
//! Each manager's files are read in its own order; a later file overrides an
//! earlier one, and an empty user turns auto-login off again.

use super::keyfile::{KeyFile, parse_bool};
use super::{glob, push_unique, read_noting};
use crate::probe::root::Root;
use crate::probe::{Errors, ProbeContext};

const PROBE: &str = "accounts.autologin";

/// Debian's GDM reads `daemon.conf`, Ubuntu's `custom.conf`, other distributions `/etc/gdm/custom.conf`.
const GDM: [&str; 3] = ["/etc/gdm3/custom.conf", "/etc/gdm3/daemon.conf", "/etc/gdm/custom.conf"];
/// LightDM's search order: packaged drop-ins first, the administrator's file last.
const LIGHTDM: [&str; 4] = [
    "/usr/share/lightdm/lightdm.conf.d/*.conf",
    "/etc/xdg/lightdm/lightdm.conf.d/*.conf",
    "/etc/lightdm/lightdm.conf.d/*.conf",
    "/etc/lightdm/lightdm.conf",
];
const SDDM: [&str; 3] = ["/usr/lib/sddm/sddm.conf.d/*.conf", "/etc/sddm.conf.d/*.conf", "/etc/sddm.conf"];
const LXDM: [&str; 1] = ["/etc/lxdm/lxdm.conf"];

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<String> {
    let mut out = Vec::new();
    for path in GDM {
        if let Some(text) = read_noting(&ctx.root, path, PROBE, errors) {
            for user in gdm_autologin(&KeyFile::parse(&text)) {
                push_unique(&mut out, &format!("gdm:{user}"));
            }
        }
    }
    let managers: [(&str, &[&str], Reader); 3] = [
        ("lightdm", &LIGHTDM, lightdm_autologin),
        ("sddm", &SDDM, sddm_autologin),
        ("lxdm", &LXDM, lxdm_autologin),
    ];
    for (manager, patterns, read) in managers {
        // The last file wins per seat.
        let mut state: Vec<(String, String)> = Vec::new();
        for text in read_all(&ctx.root, patterns, errors) {
            read(&KeyFile::parse(&text), &mut state);
        }
        for (_, user) in state.iter().filter(|(_, u)| !u.is_empty()) {
            push_unique(&mut out, &format!("{manager}:{user}"));
        }
    }
    out
}

/// Applies one file to the (seat or section, user) pairs seen so far.
type Reader = fn(&KeyFile, &mut Vec<(String, String)>);

fn read_all(root: &Root, patterns: &[&str], errors: &mut Errors) -> Vec<String> {
    let mut texts = Vec::new();
    for pattern in patterns {
        let paths = glob(root, pattern).unwrap_or_else(|e| {
            errors.push(PROBE, e);
            Vec::new()
        });
        texts.extend(paths.iter().filter_map(|p| read_noting(root, p, PROBE, errors)));
    }
    texts
}

/// `[daemon] AutomaticLoginEnable=true` with `AutomaticLogin=`, or the timed variant.
pub fn gdm_autologin(kf: &KeyFile) -> Vec<String> {
    let mut users = Vec::new();
    for (enable, user) in [("AutomaticLoginEnable", "AutomaticLogin"), ("TimedLoginEnable", "TimedLogin")] {
        if kf.get("daemon", enable).and_then(parse_bool) == Some(true)
            && let Some(u) = kf.get("daemon", user).filter(|u| !u.is_empty())
        {
            users.push(u.to_string());
        }
    }
    users
}

fn set(state: &mut Vec<(String, String)>, section: &str, user: &str) {
    match state.iter_mut().find(|(s, _)| s == section) {
        Some(entry) => entry.1 = user.to_string(),
        None => state.push((section.to_string(), user.to_string())),
    }
}

/// `autologin-user=` in `[Seat:*]`, `[Seat:seat0]` or the old `[SeatDefaults]`.
pub fn lightdm_autologin(kf: &KeyFile, state: &mut Vec<(String, String)>) {
    for (section, key, value) in &kf.entries {
        if (section.starts_with("Seat:") || section == "SeatDefaults") && key == "autologin-user" {
            set(state, section, value);
        }
    }
}

/// `[Autologin] User=`.
pub fn sddm_autologin(kf: &KeyFile, state: &mut Vec<(String, String)>) {
    if let Some(user) = kf.get("Autologin", "User") {
        set(state, "Autologin", user);
    }
}

/// `[base] autologin=`.
pub fn lxdm_autologin(kf: &KeyFile, state: &mut Vec<(String, String)>) {
    if let Some(user) = kf.get("base", "autologin") {
        set(state, "base", user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;

    #[test]
    fn gdm_needs_the_enable_flag() {
        let kf = KeyFile::parse(
            "# GDM configuration storage\n[daemon]\n# Enabling automatic login\nAutomaticLoginEnable = true\nAutomaticLogin = kiosk\n\n\
             TimedLoginEnable=false\nTimedLogin=guest\n[security]\n",
        );
        assert_eq!(gdm_autologin(&kf), vec!["kiosk"]);
        let kf = KeyFile::parse("[daemon]\n#  AutomaticLoginEnable = true\n#  AutomaticLogin = user1\n");
        assert!(gdm_autologin(&kf).is_empty());
    }

    fn write(dir: &std::path::Path, path: &str, text: &str) {
        let p = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn later_files_override_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "/usr/share/lightdm/lightdm.conf.d/50-ubuntu.conf",
            "[Seat:*]\nuser-session=ubuntu\nautologin-user=demo\n",
        );
        write(
            dir.path(),
            "/etc/lightdm/lightdm.conf",
            "[Seat:*]\nautologin-user=\n[Seat:seat1]\nautologin-user=kiosk\n",
        );
        write(
            dir.path(),
            "/etc/sddm.conf.d/autologin.conf",
            "[Autologin]\nUser=alice\nSession=plasma\n",
        );
        write(
            dir.path(),
            "/etc/gdm3/daemon.conf",
            "[daemon]\nAutomaticLoginEnable=True\nAutomaticLogin=bob\n",
        );
        let config = ProbeConfig {
            root: dir.path().into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        assert_eq!(collect(&ctx, &mut errors), vec!["gdm:bob", "lightdm:kiosk", "sddm:alice"]);
        assert!(errors.0.is_empty());
    }
}

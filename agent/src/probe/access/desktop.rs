//! The graphical desktop: which desktops are installed, and GNOME's
//! system-wide dconf defaults for the idle lock and media autorun.
//!
//! System defaults live in keyfile folders `/etc/dconf/db/<db>.d/`, compiled
//! by `dconf update`. Within a folder the file later in name order wins (as
//! `dconf update` merges them); between databases the one listed first in the
//! `user` profile wins (`system-db:local` before `system-db:site`). Without a
//! profile, `local` is taken first and the others by name; `gdm` configures
//! the login screen, not user sessions, and is left out. Locks are key paths
//! listed one per line in `<db>.d/locks/*`.

use super::keyfile::KeyFile;
use super::{push_unique, read_noting};
use crate::probe::root::Root;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::Desktop;

const PROBE: &str = "desktop";
const DCONF_DB: &str = "/etc/dconf/db";
const PROFILES: [&str; 2] = ["/etc/dconf/profile/user", "/usr/share/dconf/profile/user"];

const ENVIRONMENTS: [(&str, &[&str]); 6] = [
    ("gnome", &["/usr/bin/gnome-shell"]),
    ("kde", &["/usr/bin/plasmashell", "/usr/bin/startplasma-x11", "/usr/bin/startkde"]),
    ("xfce", &["/usr/bin/xfce4-session"]),
    ("cinnamon", &["/usr/bin/cinnamon", "/usr/bin/cinnamon-session"]),
    ("mate", &["/usr/bin/mate-session"]),
    ("lxqt", &["/usr/bin/lxqt-session"]),
];

const IDLE_DELAY: &str = "/org/gnome/desktop/session/idle-delay";
const LOCK_ENABLED: &str = "/org/gnome/desktop/screensaver/lock-enabled";
const LOCK_DELAY: &str = "/org/gnome/desktop/screensaver/lock-delay";
const AUTORUN_NEVER: &str = "/org/gnome/desktop/media-handling/autorun-never";

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Desktop {
    let environments: Vec<String> = ENVIRONMENTS
        .iter()
        .filter(|(_, bins)| bins.iter().any(|b| ctx.root.exists(b)))
        .map(|(name, _)| name.to_string())
        .collect();
    let mut desktop = Desktop {
        installed: !environments.is_empty(),
        environments,
        ..Desktop::default()
    };
    let profile = PROFILES.iter().find_map(|p| read_noting(&ctx.root, p, PROBE, errors));
    let databases = match profile {
        Some(text) => profile_databases(&text),
        None => default_databases(&list_databases(&ctx.root, errors)),
    };
    // (key path, value, file) in precedence order: the first one found wins.
    let mut values: Vec<(String, String, String)> = Vec::new();
    for db in &databases {
        let dir = format!("{DCONF_DB}/{db}.d");
        let names = list_files(&ctx.root, &dir, errors);
        // dconf update lets the file later in name order win.
        for name in names.iter().rev() {
            let path = format!("{dir}/{name}");
            let Some(text) = read_noting(&ctx.root, &path, PROBE, errors) else {
                continue;
            };
            for (section, key, value) in KeyFile::parse(&text).entries.into_iter().rev() {
                let key_path = format!("/{}/{key}", section.trim_matches('/'));
                if !values.iter().any(|(k, _, _)| *k == key_path) {
                    values.push((key_path, value, path.clone()));
                }
            }
        }
        let locks = format!("{dir}/locks");
        for name in list_files(&ctx.root, &locks, errors) {
            let path = format!("{locks}/{name}");
            let Some(text) = read_noting(&ctx.root, &path, PROBE, errors) else {
                continue;
            };
            let keys = parse_locks(&text);
            if !keys.is_empty() {
                push_unique(&mut desktop.sources, &path);
            }
            for key in keys {
                push_unique(&mut desktop.locked_keys, &key);
            }
        }
    }
    let mut take = |key: &str| -> Option<String> {
        let (_, value, file) = values.iter().find(|(k, _, _)| k == key)?;
        push_unique(&mut desktop.sources, file);
        Some(value.clone())
    };
    desktop.idle_delay_seconds = take(IDLE_DELAY).and_then(|v| gvariant_u64(&v));
    desktop.lock_enabled = take(LOCK_ENABLED).and_then(|v| gvariant_bool(&v));
    desktop.lock_delay_seconds = take(LOCK_DELAY).and_then(|v| gvariant_u64(&v));
    desktop.autorun_never = take(AUTORUN_NEVER).and_then(|v| gvariant_bool(&v));
    desktop.locked_keys.sort();
    desktop.sources.sort();
    desktop
}

/// Regular files in a folder, not hidden.
fn list_files(root: &Root, dir: &str, errors: &mut Errors) -> Vec<String> {
    match root.list(dir) {
        Ok(names) => names
            .into_iter()
            .filter(|n| !n.starts_with('.') && root.path(format!("{dir}/{n}")).is_file())
            .collect(),
        Err(e) => {
            errors.push(PROBE, crate::probe::root::describe(root.path(dir), &e));
            Vec::new()
        }
    }
}

/// Databases with a keyfile folder (`local` for `local.d`).
fn list_databases(root: &Root, errors: &mut Errors) -> Vec<String> {
    match root.list(DCONF_DB) {
        Ok(names) => names
            .into_iter()
            .filter_map(|n| n.strip_suffix(".d").map(str::to_string))
            .filter(|n| !n.is_empty() && root.path(format!("{DCONF_DB}/{n}.d")).is_dir())
            .collect(),
        Err(e) => {
            errors.push(PROBE, crate::probe::root::describe(root.path(DCONF_DB), &e));
            Vec::new()
        }
    }
}

/// `system-db:NAME` lines of a dconf profile, in order.
pub fn profile_databases(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("system-db:"))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

fn default_databases(names: &[String]) -> Vec<String> {
    let mut dbs: Vec<String> = names.iter().filter(|n| *n != "gdm").cloned().collect();
    dbs.sort_by_key(|n| (n != "local", n.clone()));
    dbs
}

/// Lock files: one absolute key path per line.
pub fn parse_locks(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
        .map(str::to_string)
        .collect()
}

/// A GVariant text number, typed (`uint32 300`) or not (`300`).
pub fn gvariant_u64(value: &str) -> Option<u64> {
    let v = value.trim();
    let v = v.rsplit_once(char::is_whitespace).map_or(v, |(_, n)| n);
    v.parse().ok()
}

pub fn gvariant_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;

    #[test]
    fn parses_gvariant_text() {
        assert_eq!(gvariant_u64("uint32 300"), Some(300));
        assert_eq!(gvariant_u64("300"), Some(300));
        assert_eq!(gvariant_u64("'300'"), None);
        assert_eq!(gvariant_bool("true"), Some(true));
        assert_eq!(gvariant_bool("False"), None);
        assert_eq!(
            profile_databases("user-db:user\nsystem-db:local\nsystem-db:site\n"),
            vec!["local", "site"]
        );
        assert_eq!(
            parse_locks("# Lock screensaver settings\n/org/gnome/desktop/session/idle-delay\n\n"),
            vec![IDLE_DELAY]
        );
        assert_eq!(
            default_databases(&["distro".into(), "gdm".into(), "local".into()]),
            vec!["local", "distro"]
        );
    }

    fn write(dir: &std::path::Path, path: &str, text: &str) {
        let p = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn probe(dir: &std::path::Path) -> (Desktop, Errors) {
        let config = ProbeConfig {
            root: dir.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(dir), Processes::default(), &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    #[test]
    fn reads_gnome_lock_settings_and_locks() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/usr/bin/gnome-shell", "");
        write(
            dir.path(),
            "/etc/dconf/profile/user",
            "user-db:user\nsystem-db:local\nsystem-db:site\n",
        );
        write(
            dir.path(),
            "/etc/dconf/db/local.d/00-screensaver",
            "# Set the lock time out to 5 minutes\n[org/gnome/desktop/session]\nidle-delay=uint32 600\n\n\
             [org/gnome/desktop/screensaver]\nlock-enabled=true\nlock-delay=uint32 0\n",
        );
        write(
            dir.path(),
            "/etc/dconf/db/local.d/10-override",
            "[org/gnome/desktop/session]\nidle-delay=uint32 300\n",
        );
        write(
            dir.path(),
            "/etc/dconf/db/site.d/00-media",
            "[org/gnome/desktop/media-handling]\nautorun-never=true\n",
        );
        write(
            dir.path(),
            "/etc/dconf/db/site.d/01-session",
            "[org/gnome/desktop/session]\nidle-delay=uint32 0\n",
        );
        write(
            dir.path(),
            "/etc/dconf/db/gdm.d/00-login",
            "[org/gnome/desktop/session]\nidle-delay=uint32 1\n",
        );
        write(
            dir.path(),
            "/etc/dconf/db/local.d/locks/screensaver",
            "# Lock desktop screensaver settings\n/org/gnome/desktop/session/idle-delay\n/org/gnome/desktop/screensaver/lock-enabled\n",
        );
        let (d, errors) = probe(dir.path());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(d.installed);
        assert_eq!(d.environments, vec!["gnome"]);
        assert_eq!(d.idle_delay_seconds, Some(300));
        assert_eq!(d.lock_enabled, Some(true));
        assert_eq!(d.lock_delay_seconds, Some(0));
        assert_eq!(d.autorun_never, Some(true));
        assert_eq!(d.locked_keys, vec![LOCK_ENABLED, IDLE_DELAY], "sorted");
        assert_eq!(
            d.sources,
            vec![
                "/etc/dconf/db/local.d/00-screensaver",
                "/etc/dconf/db/local.d/10-override",
                "/etc/dconf/db/local.d/locks/screensaver",
                "/etc/dconf/db/site.d/00-media",
            ]
        );

        // Without a profile, local still comes first and gdm is left out.
        std::fs::remove_file(dir.path().join("etc/dconf/profile/user")).unwrap();
        std::fs::remove_file(dir.path().join("etc/dconf/db/local.d/10-override")).unwrap();
        let (d, _) = probe(dir.path());
        assert_eq!(d.idle_delay_seconds, Some(600));
    }

    #[test]
    fn nothing_installed_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (d, errors) = probe(dir.path());
        assert!(errors.0.is_empty());
        assert_eq!(d, Desktop::default());
    }
}

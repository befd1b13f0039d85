//! systemd-journald: where the journal is stored and how long it is kept.

use super::systemd::{self, UnitConf};
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::Journald;

const PROBE: &str = "logging.journald";
const BINARIES: [&str; 2] = ["/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald"];
const PERSISTENT_DIR: &str = "/var/log/journal";

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Journald {
    let installed = BINARIES.iter().any(|b| ctx.root.exists(b));
    if !installed {
        return Journald::default();
    }
    let conf = systemd::load(ctx, "journald.conf", "Journal", PROBE, errors);
    from_conf(&conf, ctx.root.exists(PERSISTENT_DIR), ctx.processes.running("systemd-journald"))
}

/// The journal settings in effect; unset keys take the defaults the main file
/// documents, then journald.conf(5)'s (`Storage=auto`).
pub fn from_conf(conf: &UnitConf, persistent_dir: bool, running: bool) -> Journald {
    let storage = conf
        .last("Storage")
        .or_else(|| conf.documented_default("Storage"))
        .unwrap_or("auto")
        .to_ascii_lowercase();
    let persistent = match storage.as_str() {
        "persistent" => Some(true),
        // `auto` writes to /var/log/journal only when that folder exists.
        "auto" => Some(persistent_dir),
        "volatile" | "none" => Some(false),
        _ => None,
    };
    let forward = conf.last("ForwardToSyslog").or_else(|| conf.documented_default("ForwardToSyslog"));
    Journald {
        installed: true,
        running,
        storage: Some(storage),
        persistent,
        // 0 turns the time limit off.
        max_retention_seconds: conf.last("MaxRetentionSec").and_then(systemd::parse_timespan).filter(|s| *s > 0),
        system_max_use: conf.last("SystemMaxUse").map(str::to_string),
        forward_to_syslog: forward.and_then(systemd::parse_bool),
        sources: conf.sources.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::{Process, Processes};
    use crate::probe::root::Root;
    use crate::probe::testing::write;
    use std::path::Path;

    /// Debian 12's journald.conf: every line commented, showing the compiled-in defaults.
    const DEBIAN_JOURNALD_CONF: &str = "\
#  This file is part of systemd.
#
# Entries in this file show the compile time defaults. Local configuration
# should be created by either modifying this file, or by creating \"drop-ins\" in
# the journald.conf.d/ subdirectory. The latter is generally recommended.
# Defaults can be restored by simply deleting this file and all drop-ins.
#
# See journald.conf(5) for details.

[Journal]
#Storage=auto
#Compress=yes
#Seal=yes
#SplitMode=uid
#SyncIntervalSec=5m
#SystemMaxUse=
#SystemKeepFree=
#MaxRetentionSec=
#MaxFileSec=1month
#ForwardToSyslog=yes
#ForwardToKMsg=no
#Audit=no
";

    fn probe(root: &Path, processes: Processes) -> (Journald, Errors) {
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(root), processes, &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    #[test]
    fn debian_defaults_are_auto_and_volatile_without_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/lib/systemd/systemd-journald", "");
        write(dir.path(), "/etc/systemd/journald.conf", DEBIAN_JOURNALD_CONF);
        let (j, errors) = probe(dir.path(), Processes::default());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(j.installed && !j.running);
        assert_eq!(j.storage.as_deref(), Some("auto"));
        assert_eq!(j.persistent, Some(false));
        assert_eq!(j.max_retention_seconds, None);
        assert_eq!(j.forward_to_syslog, Some(true));
        assert_eq!(j.sources, vec!["/etc/systemd/journald.conf"]);

        std::fs::create_dir_all(dir.path().join("var/log/journal")).unwrap();
        assert_eq!(probe(dir.path(), Processes::default()).0.persistent, Some(true));
    }

    #[test]
    fn drop_ins_override_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/usr/lib/systemd/systemd-journald", "");
        write(dir.path(), "/etc/systemd/journald.conf", DEBIAN_JOURNALD_CONF);
        write(
            dir.path(),
            "/etc/systemd/journald.conf.d/60-retention.conf",
            "# CIS 6.1.2: keep the journal across reboots for 3 months\n[Journal]\nStorage=persistent\nMaxRetentionSec=3month\n\
             SystemMaxUse=4G\nForwardToSyslog=no\n",
        );
        // A vendor drop-in sorted earlier is overridden; a same-named one is hidden by /etc.
        write(
            dir.path(),
            "/usr/lib/systemd/journald.conf.d/10-vendor.conf",
            "[Journal]\nStorage=volatile\nSystemMaxUse=1G\n",
        );
        write(
            dir.path(),
            "/usr/lib/systemd/journald.conf.d/60-retention.conf",
            "[Journal]\nMaxRetentionSec=1d\n",
        );
        let running = Processes(vec![Process {
            pid: 300,
            comm: "systemd-journal".into(),
            argv0: "systemd-journald".into(),
            args: vec![],
        }]);
        let (j, errors) = probe(dir.path(), running);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(j.running);
        assert_eq!(j.storage.as_deref(), Some("persistent"));
        assert_eq!(j.persistent, Some(true));
        assert_eq!(j.max_retention_seconds, Some(7_889_400));
        assert_eq!(j.system_max_use.as_deref(), Some("4G"));
        assert_eq!(j.forward_to_syslog, Some(false));
        assert_eq!(
            j.sources,
            vec![
                "/etc/systemd/journald.conf",
                "/usr/lib/systemd/journald.conf.d/10-vendor.conf",
                "/etc/systemd/journald.conf.d/60-retention.conf"
            ]
        );
    }

    #[test]
    fn absent_journald_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(probe(dir.path(), Processes::default()).0, Journald::default());
    }
}

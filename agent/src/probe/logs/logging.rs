//! System logs: the journal, the syslog daemon and where it forwards, text
//! log rotation, and log shippers; then how long logs stay and whether they
//! leave the machine.

use super::{files, journald, rsyslog, syslog_ng};
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::{Forwarder, Journald, Logging, Rotation, Syslog};

const SYSLOG_PROBE: &str = "logging.syslog";
const ROTATION_PROBE: &str = "logging.rotation";
const LOGROTATE_CONF: &str = "/etc/logrotate.conf";

/// A syslog daemon: its name, binaries and process name.
struct SyslogDaemon {
    name: &'static str,
    binaries: &'static [&'static str],
    process: &'static str,
}

const SYSLOG_DAEMONS: [SyslogDaemon; 2] = [
    SyslogDaemon {
        name: "rsyslog",
        binaries: &["/usr/sbin/rsyslogd", "/sbin/rsyslogd"],
        process: "rsyslogd",
    },
    SyslogDaemon {
        name: "syslog-ng",
        binaries: &["/usr/sbin/syslog-ng", "/sbin/syslog-ng"],
        process: "syslog-ng",
    },
];

/// A log shipper: how to recognise it installed or running.
struct Shipper {
    id: &'static str,
    name: &'static str,
    paths: &'static [&'static str],
    processes: &'static [&'static str],
}

const SHIPPERS: [Shipper; 11] = [
    Shipper {
        id: "filebeat",
        name: "Elastic Filebeat",
        paths: &["/usr/share/filebeat/bin/filebeat", "/usr/bin/filebeat"],
        processes: &["filebeat"],
    },
    Shipper {
        id: "elastic-agent",
        name: "Elastic Agent",
        paths: &["/opt/Elastic/Agent/elastic-agent", "/usr/bin/elastic-agent"],
        processes: &["elastic-agent"],
    },
    Shipper {
        id: "vector",
        name: "Vector",
        paths: &["/usr/bin/vector"],
        processes: &["vector"],
    },
    Shipper {
        id: "fluent-bit",
        name: "Fluent Bit",
        paths: &[
            "/opt/fluent-bit/bin/fluent-bit",
            "/usr/bin/fluent-bit",
            "/opt/td-agent-bit/bin/td-agent-bit",
        ],
        processes: &["fluent-bit", "td-agent-bit"],
    },
    Shipper {
        id: "fluentd",
        name: "Fluentd",
        paths: &["/opt/td-agent/bin/fluentd", "/opt/fluent/bin/fluentd", "/usr/sbin/td-agent"],
        processes: &["td-agent", "fluentd"],
    },
    Shipper {
        id: "nxlog",
        name: "NXLog",
        paths: &["/opt/nxlog/bin/nxlog", "/usr/bin/nxlog"],
        processes: &["nxlog"],
    },
    Shipper {
        id: "wazuh-agent",
        name: "Wazuh agent",
        paths: &["/var/ossec/bin/wazuh-agentd"],
        processes: &["wazuh-agentd"],
    },
    Shipper {
        id: "ossec",
        name: "OSSEC agent",
        paths: &["/var/ossec/bin/ossec-agentd"],
        processes: &["ossec-agentd"],
    },
    Shipper {
        id: "splunk-forwarder",
        name: "Splunk Universal Forwarder",
        paths: &["/opt/splunkforwarder"],
        processes: &["splunkd"],
    },
    Shipper {
        id: "otelcol",
        name: "OpenTelemetry Collector",
        paths: &["/usr/bin/otelcol", "/usr/bin/otelcol-contrib"],
        processes: &["otelcol", "otelcol-contrib"],
    },
    Shipper {
        id: "auditbeat",
        name: "Elastic Auditbeat",
        paths: &["/usr/share/auditbeat/bin/auditbeat", "/usr/bin/auditbeat"],
        processes: &["auditbeat"],
    },
];

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Logging {
    let journald = journald::collect(ctx, errors);
    let syslog = syslog(ctx, errors);
    let rotation = rotation(ctx, errors);
    let forwarders = forwarders(ctx);
    summarise(journald, syslog, rotation, forwarders)
}

/// The syslog daemon in use (the running one, else the first installed) and its targets.
fn syslog(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Syslog {
    let installed: Vec<&SyslogDaemon> = SYSLOG_DAEMONS
        .iter()
        .filter(|d| d.binaries.iter().any(|b| ctx.root.exists(b)))
        .collect();
    let daemon = installed
        .iter()
        .find(|d| ctx.processes.running(d.process))
        .or_else(|| installed.first());
    let Some(daemon) = daemon else {
        return Syslog::default();
    };
    let mut sources = Vec::new();
    let targets = match daemon.name {
        "rsyslog" => rsyslog::collect(ctx, SYSLOG_PROBE, errors, &mut sources),
        _ => syslog_ng::collect(ctx, SYSLOG_PROBE, errors, &mut sources),
    };
    Syslog {
        daemon: Some(daemon.name.to_string()),
        running: ctx.processes.running(daemon.process),
        targets,
        sources,
    }
}

fn rotation(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Rotation {
    let mut sources = Vec::new();
    match files::read(ctx, LOGROTATE_CONF, ROTATION_PROBE, errors, &mut sources) {
        Some(text) => Rotation {
            sources,
            ..parse_logrotate(&text)
        },
        None => Rotation::default(),
    }
}

/// The global `daily|weekly|monthly|yearly` and `rotate N` of `logrotate.conf`
/// (directives outside any `{ }` block). A global `maxage` also caps retention,
/// since logrotate deletes older rotated files whatever `rotate` says.
pub fn parse_logrotate(text: &str) -> Rotation {
    let mut rotation = Rotation::default();
    let mut max_age: Option<u64> = None;
    let mut depth = 0usize;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let opens = line.ends_with('{');
        let closes = line.starts_with('}');
        if closes {
            depth = depth.saturating_sub(1);
        }
        if depth == 0 && !opens && !closes {
            let mut words = line.split_whitespace();
            match words.next() {
                Some(p @ ("hourly" | "daily" | "weekly" | "monthly" | "yearly")) => rotation.period = Some(p.to_string()),
                Some("rotate") => rotation.rotate = words.next().and_then(|n| n.parse().ok()),
                Some("maxage") => max_age = words.next().and_then(|n| n.parse().ok()),
                _ => {}
            }
        }
        if opens {
            depth += 1;
        }
    }
    let period_hours: Option<u64> = match rotation.period.as_deref() {
        Some("hourly") => Some(1),
        Some("daily") => Some(24),
        Some("weekly") => Some(7 * 24),
        Some("monthly") => Some(30 * 24),
        Some("yearly") => Some(365 * 24),
        _ => None,
    };
    rotation.retention_days = period_hours
        .zip(rotation.rotate)
        .map(|(hours, rotate)| hours * u64::from(rotate) / 24)
        .map(|days| max_age.map_or(days, |m| days.min(m)));
    rotation
}

/// Shippers installed or running.
fn forwarders(ctx: &ProbeContext<'_>) -> Vec<Forwarder> {
    SHIPPERS
        .iter()
        .filter_map(|s| {
            let running = s.processes.iter().any(|p| ctx.processes.running(p));
            let installed = s.paths.iter().any(|p| ctx.root.exists(p));
            (running || installed).then(|| Forwarder {
                id: s.id.to_string(),
                name: s.name.to_string(),
                running,
            })
        })
        .collect()
}

/// Retention and forwarding from the parts.
pub fn summarise(journald: Journald, syslog: Syslog, rotation: Rotation, forwarders: Vec<Forwarder>) -> Logging {
    // A volatile journal is lost at reboot, so its time limit is no retention.
    let journal_days = match (journald.persistent, journald.max_retention_seconds) {
        (Some(true), Some(seconds)) => Some(seconds / 86_400),
        _ => None,
    };
    let local_retention_days = journal_days.max(rotation.retention_days);
    let shipping = forwarders.iter().any(|f| f.running);
    let forwarding = !syslog.targets.is_empty() || shipping;
    // Shippers are trusted to encrypt: filebeat, wazuh-agent, splunk and the
    // others default to TLS towards their managers, and their own configuration
    // is not read here. A plain-text syslog rule with no shipper running is not.
    let forwarding_encrypted = forwarding.then(|| shipping || syslog.targets.iter().all(|t| t.tls));
    Logging {
        journald,
        syslog,
        rotation,
        forwarders,
        local_retention_days,
        forwarding,
        forwarding_encrypted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;
    use crate::probe::testing::{process, write};
    use khien_proto::facts::LogTarget;
    use std::path::Path;

    /// Debian 12's logrotate.conf.
    const DEBIAN_LOGROTATE_CONF: &str = "\
# see \"man logrotate\" for details

# global options do not affect preceding include directives

# rotate log files weekly
weekly

# keep 4 weeks worth of backlogs
rotate 4

# create new (empty) log files after rotating old ones
create

# use date as a suffix of the rotated file
#dateext

# uncomment this if you want your log files compressed
#compress

# packages drop log rotation information into this directory
include /etc/logrotate.d

# system-specific logs may also be configured here.
";

    fn probe(root: &Path, processes: Processes) -> (Logging, Errors) {
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(root), processes, &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    fn target(tls: bool) -> LogTarget {
        LogTarget {
            host: "siem.example.com".into(),
            port: Some(6514),
            protocol: "tcp".into(),
            tls,
            file: "/etc/rsyslog.d/50-siem.conf".into(),
        }
    }

    #[test]
    fn debian_logrotate_keeps_four_weeks() {
        let r = parse_logrotate(DEBIAN_LOGROTATE_CONF);
        assert_eq!(r.period.as_deref(), Some("weekly"));
        assert_eq!(r.rotate, Some(4));
        assert_eq!(r.retention_days, Some(28));
    }

    #[test]
    fn logrotate_blocks_do_not_change_the_globals() {
        let text = "daily\nrotate 90\n/var/log/wtmp {\n    monthly\n    rotate 1\n}\n/var/log/btmp\n{\n    rotate 2\n}\nmaxage 60\n";
        let r = parse_logrotate(text);
        assert_eq!(r.period.as_deref(), Some("daily"));
        assert_eq!(r.rotate, Some(90));
        assert_eq!(r.retention_days, Some(60), "maxage caps the 90 days");
        assert_eq!(parse_logrotate("rotate 4\n").retention_days, None, "no period: size-based only");
        assert_eq!(parse_logrotate("monthly\nrotate 12\n").retention_days, Some(360));
    }

    #[test]
    fn retention_is_the_longest_of_a_persistent_journal_and_rotated_files() {
        let persistent = Journald {
            installed: true,
            persistent: Some(true),
            max_retention_seconds: Some(7_889_400),
            ..Journald::default()
        };
        let weekly = parse_logrotate(DEBIAN_LOGROTATE_CONF);
        let l = summarise(persistent.clone(), Syslog::default(), weekly.clone(), vec![]);
        assert_eq!(l.local_retention_days, Some(91));
        let volatile = Journald {
            persistent: Some(false),
            ..persistent
        };
        assert_eq!(
            summarise(volatile.clone(), Syslog::default(), weekly, vec![]).local_retention_days,
            Some(28)
        );
        assert_eq!(
            summarise(volatile, Syslog::default(), Rotation::default(), vec![]).local_retention_days,
            None
        );
    }

    #[test]
    fn forwarding_is_encrypted_by_tls_rules_or_a_shipper() {
        let syslog = |targets| Syslog {
            daemon: Some("rsyslog".into()),
            running: true,
            targets,
            sources: vec![],
        };
        let shipper = |running| Forwarder {
            id: "filebeat".into(),
            name: "Elastic Filebeat".into(),
            running,
        };
        let j = Journald::default;
        let r = Rotation::default;
        let none = summarise(j(), syslog(vec![]), r(), vec![shipper(false)]);
        assert!(!none.forwarding);
        assert_eq!(none.forwarding_encrypted, None);
        let tls = summarise(j(), syslog(vec![target(true)]), r(), vec![]);
        assert_eq!((tls.forwarding, tls.forwarding_encrypted), (true, Some(true)));
        let plain = summarise(j(), syslog(vec![target(true), target(false)]), r(), vec![]);
        assert_eq!((plain.forwarding, plain.forwarding_encrypted), (true, Some(false)));
        let shipped = summarise(j(), syslog(vec![]), r(), vec![shipper(true)]);
        assert_eq!((shipped.forwarding, shipped.forwarding_encrypted), (true, Some(true)));
        let both = summarise(j(), syslog(vec![target(false)]), r(), vec![shipper(true)]);
        assert_eq!(both.forwarding_encrypted, Some(true));
    }

    #[test]
    fn reads_a_hardened_debian_machine() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "/lib/systemd/systemd-journald", "");
        write(
            root,
            "/etc/systemd/journald.conf",
            "[Journal]\n#Storage=auto\n#ForwardToSyslog=yes\n",
        );
        write(
            root,
            "/etc/systemd/journald.conf.d/50-keep.conf",
            "[Journal]\nStorage=persistent\nMaxRetentionSec=1y\n",
        );
        write(root, "/usr/sbin/rsyslogd", "");
        write(
            root,
            "/etc/rsyslog.conf",
            "module(load=\"imuxsock\")\n$IncludeConfig /etc/rsyslog.d/*.conf\n*.*;auth,authpriv.none -/var/log/syslog\n",
        );
        write(
            root,
            "/etc/rsyslog.d/50-siem.conf",
            "action(type=\"omfwd\" target=\"siem.example.com\" port=\"6514\" protocol=\"tcp\"\n       StreamDriver=\"gtls\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"x509/name\")\n",
        );
        write(root, "/etc/logrotate.conf", DEBIAN_LOGROTATE_CONF);
        write(root, "/var/ossec/bin/wazuh-agentd", "");
        write(root, "/usr/share/filebeat/bin/filebeat", "");
        let processes = Processes(vec![
            process(1, "systemd-journald"),
            process(2, "rsyslogd"),
            process(3, "wazuh-agentd"),
        ]);
        let (l, errors) = probe(root, processes);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(l.journald.running);
        assert_eq!(l.journald.max_retention_seconds, Some(31_557_600));
        assert_eq!(l.syslog.daemon.as_deref(), Some("rsyslog"));
        assert!(l.syslog.running);
        assert_eq!(l.syslog.targets, vec![target(true)]);
        assert_eq!(l.syslog.sources, vec!["/etc/rsyslog.conf", "/etc/rsyslog.d/50-siem.conf"]);
        assert_eq!(l.rotation.retention_days, Some(28));
        assert_eq!(l.rotation.sources, vec!["/etc/logrotate.conf"]);
        let shippers: Vec<_> = l.forwarders.iter().map(|f| (f.id.as_str(), f.running)).collect();
        assert_eq!(shippers, vec![("filebeat", false), ("wazuh-agent", true)]);
        assert_eq!(l.local_retention_days, Some(365));
        assert!(l.forwarding);
        assert_eq!(l.forwarding_encrypted, Some(true));
    }

    #[test]
    fn syslog_ng_is_used_when_it_is_the_one_running() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "/usr/sbin/rsyslogd", "");
        write(root, "/usr/sbin/syslog-ng", "");
        write(
            root,
            "/etc/syslog-ng/syslog-ng.conf",
            "@version: 3.38\nsource s_src { system(); internal(); };\n\
             destination d_siem { network(\"siem.example.com\" port(6514) transport(\"tls\") tls(ca-dir(\"/etc/ssl/certs\"))); };\n\
             log { source(s_src); destination(d_siem); };\n",
        );
        let (l, errors) = probe(root, Processes(vec![process(5, "syslog-ng")]));
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(l.syslog.daemon.as_deref(), Some("syslog-ng"));
        assert!(l.syslog.running);
        assert_eq!(l.syslog.targets.len(), 1);
        assert!(l.syslog.targets[0].tls);
        assert_eq!(l.forwarding_encrypted, Some(true));
        assert_eq!(l.local_retention_days, None);
        assert!(l.forwarders.is_empty());
    }
}

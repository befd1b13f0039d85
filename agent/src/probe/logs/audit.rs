//! The Linux audit subsystem (auditd): whether it runs, from boot, with which
//! rules and log limits; and AIDE, the file-integrity checker often paired with it.
//!
//! Rules are read from the files `augenrules` compiles at boot, not from the
//! kernel (that needs a netlink audit socket and `CAP_AUDIT_CONTROL`); a rule
//! added by hand with `auditctl` since boot is not seen.

use super::files;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::Audit;

const PROBE: &str = "audit";
const INTEGRITY_PROBE: &str = "audit.file_integrity";
const BINARIES: [&str; 2] = ["/sbin/auditd", "/usr/sbin/auditd"];
const CONF_DIR: &str = "/etc/audit";
const RULES_DIR: &str = "/etc/audit/rules.d";
const RULES_FILE: &str = "/etc/audit/audit.rules";
const AUDITD_CONF: &str = "/etc/audit/auditd.conf";
const CMDLINE: &str = "/proc/cmdline";

/// Files whose changes record log-ins and failed log-ins.
const LOGIN_RECORDS: [&str; 7] = [
    "/var/log/lastlog",
    "/var/log/faillog",
    "/var/log/tallylog",
    "/var/run/faillock",
    "/run/faillock",
    "/var/log/wtmp",
    "/var/log/btmp",
];

const AIDE_BINARIES: [&str; 2] = ["/usr/bin/aide", "/usr/sbin/aide"];
const CRON_PERIOD_DIRS: [&str; 4] = ["/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly"];
const CRONTAB_DIRS: [&str; 3] = ["/etc/cron.d", "/var/spool/cron/crontabs", "/var/spool/cron"];
const TIMER_WANTS: &str = "/etc/systemd/system/timers.target.wants";

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Audit {
    let mut audit = Audit {
        installed: BINARIES.iter().any(|b| ctx.root.exists(b)) || ctx.root.exists(CONF_DIR),
        running: ctx.processes.running("auditd"),
        ..Audit::default()
    };
    // The kernel side exists without the daemon: read it either way.
    let mut ignored = Vec::new();
    audit.boot_enabled = files::read(ctx, CMDLINE, PROBE, errors, &mut ignored).map(|c| boot_enabled(&c));
    audit.file_integrity = file_integrity(ctx, errors);
    if !audit.installed {
        return audit;
    }
    let rules = read_rules(ctx, errors, &mut audit.sources);
    let summary = summarise(&rules);
    audit.rules = rules;
    audit.execve = summary.execve;
    audit.watches = summary.watches;
    audit.logins = summary.logins;
    audit.immutable = summary.immutable;
    if let Some(text) = files::read(ctx, AUDITD_CONF, PROBE, errors, &mut audit.sources) {
        let conf = parse_auditd_conf(&text);
        audit.max_log_file_mb = conf.get("max_log_file").and_then(|v| v.parse().ok());
        audit.num_logs = conf.get("num_logs").and_then(|v| v.parse().ok());
        audit.max_log_file_action = conf.get("max_log_file_action");
        audit.space_left_action = conf.get("space_left_action");
        audit.admin_space_left_action = conf.get("admin_space_left_action");
        audit.disk_full_action = conf.get("disk_full_action");
    }
    audit
}

/// `audit=` on the kernel command line, the last one winning. Without it the
/// kernel audits only processes started after auditd enables auditing.
pub fn boot_enabled(cmdline: &str) -> bool {
    cmdline
        .split_whitespace()
        .take_while(|w| *w != "--") // what follows `--` is for init, not the kernel
        .filter_map(|w| w.strip_prefix("audit="))
        .last()
        .is_some_and(|v| matches!(v, "1" | "on"))
}

/// The rule lines `augenrules` would load: `rules.d/*.rules` in `ls -v` order, else `audit.rules`.
fn read_rules(ctx: &ProbeContext<'_>, errors: &mut Errors, sources: &mut Vec<String>) -> Vec<String> {
    let mut names: Vec<String> = files::list(ctx, RULES_DIR, PROBE, errors)
        .into_iter()
        .filter(|n| n.ends_with(".rules"))
        .collect();
    names.sort_by(|a, b| files::version_cmp(a, b));
    let mut rules = Vec::new();
    for name in &names {
        if let Some(text) = files::read(ctx, &files::join(RULES_DIR, name), PROBE, errors, sources) {
            rules.extend(parse_rules(&text));
        }
    }
    if names.is_empty()
        && let Some(text) = files::read(ctx, RULES_FILE, PROBE, errors, sources)
    {
        rules.extend(parse_rules(&text));
    }
    rules
}

/// Rule lines without comments and blank lines, whitespace collapsed.
pub fn parse_rules(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.split('#')
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSummary {
    pub execve: bool,
    pub watches: Vec<String>,
    pub logins: bool,
    pub immutable: bool,
}

/// What the rules audit, the way `auditctl` reads their options.
pub fn summarise(rules: &[String]) -> RuleSummary {
    let mut summary = RuleSummary::default();
    let mut enabled = None;
    for rule in rules {
        let words: Vec<&str> = rule.split_whitespace().collect();
        let mut never = false;
        let mut syscalls: Vec<&str> = Vec::new();
        let mut paths: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let (option, inline) = split_option(words[i]);
            let value = inline.or_else(|| words.get(i + 1).copied());
            let takes_value = matches!(option, "-a" | "-A" | "-S" | "-w" | "-F" | "-e" | "-k" | "-p" | "-C" | "-W");
            match option {
                "-a" | "-A" => never |= value.is_some_and(|v| v.split(',').any(|p| p == "never")),
                "-S" => syscalls.extend(value.unwrap_or_default().split(',')),
                "-w" => paths.extend(value),
                "-F" => {
                    if let Some((field, path)) = value.and_then(|v| v.split_once('='))
                        && matches!(field, "path" | "dir")
                    {
                        paths.push(path);
                    }
                }
                "-e" => enabled = value.and_then(|v| v.parse::<u8>().ok()).or(enabled),
                _ => {}
            }
            i += if takes_value && inline.is_none() { 2 } else { 1 };
        }
        if never {
            continue;
        }
        summary.execve |= syscalls.contains(&"execve");
        for path in paths {
            let path = path.trim_end_matches('/');
            let path = if path.is_empty() { "/" } else { path };
            summary.logins |= LOGIN_RECORDS.contains(&path);
            if !summary.watches.iter().any(|w| w == path) {
                summary.watches.push(path.to_string());
            }
        }
    }
    summary.immutable = enabled == Some(2);
    summary
}

/// `-Fpath=/x` and `-F path=/x` are the same option; so are `--` long forms auditctl does not use in rules.
fn split_option(word: &str) -> (&str, Option<&str>) {
    if word.len() > 2 && word.starts_with('-') && !word.starts_with("--") {
        (&word[..2], Some(&word[2..]))
    } else {
        (word, None)
    }
}

/// `auditd.conf`: `key = value`, values lower-cased.
pub struct AuditdConf(Vec<(String, String)>);

impl AuditdConf {
    pub fn get(&self, key: &str) -> Option<String> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
}

pub fn parse_auditd_conf(text: &str) -> AuditdConf {
    AuditdConf(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase()))
            .collect(),
    )
}

/// `aide` when AIDE is installed and something runs it, `aide-unscheduled` when nothing does.
fn file_integrity(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Option<String> {
    if !AIDE_BINARIES.iter().any(|b| ctx.root.exists(b)) {
        return None;
    }
    let scheduled = aide_scheduled(ctx, errors);
    Some(if scheduled { "aide" } else { "aide-unscheduled" }.to_string())
}

fn aide_scheduled(ctx: &ProbeContext<'_>, errors: &mut Errors) -> bool {
    // Packaged schedules: Debian's cron.daily/dailyaidecheck, RHEL's cron.d file, or an enabled timer.
    for dir in CRON_PERIOD_DIRS {
        if files::list(ctx, dir, INTEGRITY_PROBE, errors).iter().any(|n| n.contains("aide")) {
            return true;
        }
    }
    if files::list(ctx, TIMER_WANTS, INTEGRITY_PROBE, errors)
        .iter()
        .any(|n| n.contains("aide") && n.ends_with(".timer"))
    {
        return true;
    }
    // A line an administrator added to a crontab.
    let mut crontabs = vec!["/etc/crontab".to_string()];
    for dir in CRONTAB_DIRS {
        for name in files::list(ctx, dir, INTEGRITY_PROBE, errors) {
            let path = files::join(dir, &name);
            if !ctx.root.path(&path).is_dir() {
                crontabs.push(path);
            }
        }
    }
    let mut ignored = Vec::new();
    crontabs
        .iter()
        .filter_map(|path| files::read(ctx, path, INTEGRITY_PROBE, errors, &mut ignored))
        .any(|text| crontab_runs_aide(&text))
}

/// A crontab entry (not a comment, not a variable) that runs `aide`.
pub fn crontab_runs_aide(text: &str) -> bool {
    text.lines().map(str::trim).filter(|l| !l.starts_with('#')).any(|l| {
        l.split(|c: char| c.is_whitespace() || c == '/' || c == ';' || c == '&' || c == '|')
            .any(|w| w == "aide" || w == "aide.wrapper" || w == "dailyaidecheck")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::{Process, Processes};
    use crate::probe::root::Root;
    use crate::probe::testing::write;
    use std::path::Path;

    /// Debian 12's auditd.conf as the package installs it.
    const DEBIAN_AUDITD_CONF: &str = "\
#
# This file controls the configuration of the audit daemon
#

local_events = yes
write_logs = yes
log_file = /var/log/audit/audit.log
log_group = adm
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 8
num_logs = 5
priority_boost = 4
name_format = NONE
##name = mydomain
max_log_file_action = ROTATE
space_left = 75
space_left_action = SYSLOG
verify_email = yes
action_mail_acct = root
admin_space_left = 50
admin_space_left_action = SUSPEND
disk_full_action = SUSPEND
disk_error_action = SUSPEND
use_libwrap = yes
##tcp_listen_port = 60
tcp_listen_queue = 5
tcp_max_per_addr = 1
##tcp_client_ports = 1024-65535
tcp_client_max_idle = 0
transport = TCP
krb5_principal = auditd
##krb5_key_file = /etc/audit/audit.key
distribute_network = no
q_depth = 2000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = /etc/audit/plugins.d
end_of_event_timeout = 2
";

    const CIS_IDENTITY: &str = "\
## 4.1.3.8 Ensure events that modify user/group information are collected
-w /etc/group -p wa -k identity
-w /etc/passwd -p wa -k identity
-w /etc/gshadow -p wa -k identity
-w /etc/shadow -p wa -k identity
-w /etc/security/opasswd -p wa -k identity
";

    const CIS_EXEC_AND_LOGINS: &str = "\
# 4.1.3.x: privileged commands and log-ins
-a always,exit -F arch=b64 -S execve -C uid!=euid -F auid!=unset -k user_emulation
-a always,exit -F arch=b32 -S execve -C uid!=euid -F auid!=unset -k user_emulation
-a always,exit -F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k privileged
-w /var/log/lastlog -p wa -k logins
-w /var/run/faillock/ -p wa -k logins
-a always,exit -F dir=/etc/sudoers.d/ -F perm=wa -k scope
";

    const CIS_BASE: &str = "\
## First rule - delete all
-D

## Increase the buffers to survive stress events.
-b 8192

--backlog_wait_time 60000

## Set failure mode to syslog
-f 1
";

    const CIS_FINALIZE: &str = "\
## Make the configuration immutable - reboot is required to change audit rules
-e 2
";

    fn probe(root: &Path, processes: Processes) -> (Audit, Errors) {
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(root), processes, &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    fn auditd() -> Processes {
        Processes(vec![Process {
            pid: 812,
            comm: "auditd".into(),
            argv0: "auditd".into(),
            args: vec![],
        }])
    }

    #[test]
    fn reads_the_cis_rule_set_in_augenrules_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/usr/sbin/auditd", "");
        write(dir.path(), "/etc/audit/auditd.conf", DEBIAN_AUDITD_CONF);
        write(dir.path(), "/etc/audit/rules.d/99-finalize.rules", CIS_FINALIZE);
        write(dir.path(), "/etc/audit/rules.d/10-base-config.rules", CIS_BASE);
        write(dir.path(), "/etc/audit/rules.d/50-identity.rules", CIS_IDENTITY);
        write(dir.path(), "/etc/audit/rules.d/50-exec.rules", CIS_EXEC_AND_LOGINS);
        write(dir.path(), "/etc/audit/rules.d/audit.rules.dpkg-old", "-w /old -p wa\n");
        // augenrules output: ignored while rules.d has rules.
        write(dir.path(), "/etc/audit/audit.rules", "## generated\n-w /stale -p wa\n");
        write(
            dir.path(),
            "/proc/cmdline",
            "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro audit=1 audit_backlog_limit=8192 quiet\n",
        );
        let (a, errors) = probe(dir.path(), auditd());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(a.installed && a.running);
        assert_eq!(a.boot_enabled, Some(true));
        assert_eq!(a.rules.first().map(String::as_str), Some("-D"));
        assert_eq!(a.rules.last().map(String::as_str), Some("-e 2"));
        assert_eq!(a.rules.len(), 4 + 6 + 5 + 1);
        assert!(a.execve && a.logins && a.immutable);
        assert_eq!(
            a.watches,
            vec![
                "/usr/bin/sudo",
                "/var/log/lastlog",
                "/var/run/faillock",
                "/etc/sudoers.d",
                "/etc/group",
                "/etc/passwd",
                "/etc/gshadow",
                "/etc/shadow",
                "/etc/security/opasswd"
            ]
        );
        assert_eq!(a.max_log_file_mb, Some(8));
        assert_eq!(a.num_logs, Some(5));
        assert_eq!(a.max_log_file_action.as_deref(), Some("rotate"));
        assert_eq!(a.space_left_action.as_deref(), Some("syslog"));
        assert_eq!(a.admin_space_left_action.as_deref(), Some("suspend"));
        assert_eq!(a.disk_full_action.as_deref(), Some("suspend"));
        assert_eq!(a.file_integrity, None);
        assert_eq!(
            a.sources,
            vec![
                "/etc/audit/rules.d/10-base-config.rules",
                "/etc/audit/rules.d/50-exec.rules",
                "/etc/audit/rules.d/50-identity.rules",
                "/etc/audit/rules.d/99-finalize.rules",
                "/etc/audit/auditd.conf"
            ]
        );
    }

    #[test]
    fn falls_back_to_audit_rules_and_the_debian_default() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/sbin/auditd", "");
        // Debian's shipped audit.rules: no watches, not immutable.
        write(
            dir.path(),
            "/etc/audit/audit.rules",
            "## This file is automatically generated from /etc/audit/rules.d\n-D\n-b 8192\n-f 1\n--backlog_wait_time 60000\n",
        );
        write(dir.path(), "/proc/cmdline", "root=/dev/sda1 ro quiet\n");
        let (a, errors) = probe(dir.path(), Processes::default());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(a.installed && !a.running);
        assert_eq!(a.boot_enabled, Some(false));
        assert_eq!(a.rules, vec!["-D", "-b 8192", "-f 1", "--backlog_wait_time 60000"]);
        assert!(!a.execve && !a.logins && !a.immutable && a.watches.is_empty());
        assert_eq!(a.max_log_file_mb, None);
        assert_eq!(a.sources, vec!["/etc/audit/audit.rules"]);
    }

    #[test]
    fn reads_rule_options_the_way_auditctl_does() {
        let rules = parse_rules(
            "-a always,exit -F arch=b64 -S execveat,execve -k exec\n-a never,exit -S execve -F path=/never\n\
             -a exit,always -Fdir=/etc/ssh -F perm=wa\n-w /var/log/wtmp -p wa -k session\n-e 1\n-e 2 # immutable\n",
        );
        let s = summarise(&rules);
        assert!(s.execve && s.logins && s.immutable);
        assert_eq!(s.watches, vec!["/etc/ssh", "/var/log/wtmp"]);
        assert!(!summarise(&parse_rules("-a never,exit -S execve\n-e 2\n-e 1\n")).execve);
        assert!(!summarise(&parse_rules("-e 2\n-e 1\n")).immutable);
        assert!(!summarise(&parse_rules("-a always,exit -S execveat -k x\n")).execve);
    }

    #[test]
    fn reads_audit_from_the_kernel_command_line() {
        assert!(boot_enabled("ro audit=1"));
        assert!(boot_enabled("audit=0 audit=on"));
        assert!(!boot_enabled("ro audit=0"));
        assert!(!boot_enabled("ro quiet"));
        assert!(!boot_enabled("ro -- audit=1"));
    }

    #[test]
    fn aide_counts_only_when_scheduled() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/usr/bin/aide", "");
        write(
            dir.path(),
            "/etc/crontab",
            "17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n# 0 5 * * * root /usr/bin/aide --check\n",
        );
        let (a, errors) = probe(dir.path(), Processes::default());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(!a.installed);
        assert_eq!(a.boot_enabled, None, "no /proc/cmdline in this root");
        assert_eq!(a.file_integrity.as_deref(), Some("aide-unscheduled"));

        write(
            dir.path(),
            "/etc/cron.d/aide-check",
            "0 5 * * * root /usr/sbin/aide --config /etc/aide/aide.conf --check\n",
        );
        assert_eq!(probe(dir.path(), Processes::default()).0.file_integrity.as_deref(), Some("aide"));
        std::fs::remove_file(dir.path().join("etc/cron.d/aide-check")).unwrap();

        write(
            dir.path(),
            "/var/spool/cron/crontabs/root",
            "30 4 * * * nice -n 19 aide --check | mail -s AIDE root\n",
        );
        assert_eq!(probe(dir.path(), Processes::default()).0.file_integrity.as_deref(), Some("aide"));
        std::fs::remove_file(dir.path().join("var/spool/cron/crontabs/root")).unwrap();

        write(dir.path(), "/etc/cron.daily/dailyaidecheck", "#!/bin/sh\n");
        assert_eq!(probe(dir.path(), Processes::default()).0.file_integrity.as_deref(), Some("aide"));
        std::fs::remove_file(dir.path().join("etc/cron.daily/dailyaidecheck")).unwrap();

        write(
            dir.path(),
            "/etc/systemd/system/timers.target.wants/dailyaidecheck.timer",
            "[Timer]\nOnCalendar=daily\n",
        );
        assert_eq!(probe(dir.path(), Processes::default()).0.file_integrity.as_deref(), Some("aide"));
    }

    #[test]
    fn tells_aide_from_words_that_contain_it() {
        assert!(crontab_runs_aide("0 3 * * * root /usr/bin/aide.wrapper --check\n"));
        assert!(!crontab_runs_aide("0 3 * * * root /usr/local/bin/backup-aides\n"));
        assert!(!crontab_runs_aide("MAILTO=aide\n"));
    }
}

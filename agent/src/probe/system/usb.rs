//! USB mass storage control (PX-02): can a USB stick be used on this machine?
//!
//! Two independent locks: the `usb-storage` driver cannot load (modprobe runs
//! a no-op in its place, the kernel refuses modules), or USBGuard rejects
//! devices that no rule allows. `blacklist` alone only stops loading by
//! device alias; any program can still `modprobe usb-storage`, so it does not
//! block. A driver compiled into the kernel or already loaded ignores modprobe
//! rules.

use super::read_attr;
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::UsbStorage;

const PROBE: &str = "usb_storage";

/// Module names as kmod compares them: `-` and `_` are the same.
const MODULE: &str = "usb_storage";

/// kmod's search path, highest priority first: a file name in an earlier
/// folder hides the same name in later ones.
const MODPROBE_DIRS: [&str; 5] = [
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d",
    "/lib/modprobe.d",
];

const USBGUARD_CONF: &str = "/etc/usbguard/usbguard-daemon.conf";

/// The `usb-storage` directives of one modprobe configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    /// The first `install usb-storage …` command.
    pub install: Option<String>,
    pub blacklist: bool,
}

/// `modprobe.d(5)`: `#` comments, `\` continues a line; directives name the
/// module with `-` or `_`.
pub fn parse_modprobe(text: &str) -> Directives {
    let mut out = Directives::default();
    let joined = text.replace("\\\n", " ");
    for line in joined.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(directive), Some(module)) = (words.next(), words.next()) else {
            continue;
        };
        if normalize(module) != MODULE {
            continue;
        }
        match directive {
            // kmod keeps the first install command it reads for a module.
            "install" if out.install.is_none() => out.install = Some(words.collect::<Vec<_>>().join(" ")),
            "blacklist" => out.blacklist = true,
            _ => {}
        }
    }
    out
}

fn normalize(module: &str) -> String {
    module.replace('-', "_")
}

/// The install command loads nothing. Only `true` and `false` count: any other
/// program may well load the module after logging the attempt.
pub fn is_noop(command: &str) -> bool {
    let program = command.split_whitespace().next().unwrap_or_default();
    matches!(program.rsplit('/').next(), Some("true" | "false"))
}

/// What the kernel command line says about the module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cmdline {
    /// `module_blacklist=`: the kernel refuses to load it at all.
    pub kernel_refuses: bool,
    /// `modprobe.blacklist=`: kmod treats it as a `blacklist` line.
    pub modprobe_blacklist: bool,
}

pub fn parse_cmdline(text: &str) -> Cmdline {
    let lists = |key: &str| {
        text.split_whitespace()
            .filter_map(|w| w.strip_prefix(key))
            .any(|list| list.split(',').any(|m| normalize(m) == MODULE))
    };
    Cmdline {
        kernel_refuses: lists("module_blacklist="),
        modprobe_blacklist: lists("modprobe.blacklist="),
    }
}

/// The driver is compiled into the kernel: `modules.builtin` lists it.
pub fn is_builtin(modules_builtin: &str) -> bool {
    modules_builtin
        .lines()
        .any(|l| l.trim().rsplit('/').next().is_some_and(|f| normalize(f) == "usb_storage.ko"))
}

/// `ImplicitPolicyTarget` of `usbguard-daemon.conf`: what happens to a device
/// no rule matches. USBGuard's default is `block`.
pub fn blocks_by_default(conf: &str) -> Option<bool> {
    let target = conf
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == "ImplicitPolicyTarget")
        .map(|(_, v)| v.trim())
        .next_back()
        .unwrap_or("block");
    match target {
        "block" | "reject" => Some(true),
        "allow" => Some(false),
        _ => None,
    }
}

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> UsbStorage {
    let mut usb = UsbStorage::default();

    let mut install: Option<String> = None;
    for path in modprobe_files(ctx, errors) {
        let text = match ctx.root.read_optional(&path) {
            Ok(Some(text)) => text,
            Ok(None) => continue,
            Err(e) => {
                errors.push(PROBE, describe(ctx.root.path(&path), &e));
                continue;
            }
        };
        let d = parse_modprobe(&text);
        if d.install.is_some() || d.blacklist {
            usb.sources.push(path);
        }
        if install.is_none() {
            install = d.install;
        }
        usb.module_blacklisted |= d.blacklist;
    }
    usb.module_disabled = install.as_deref().is_some_and(is_noop);

    let mut kernel_refuses = false;
    match read_attr(ctx, "/proc/cmdline") {
        Ok(Some(text)) => {
            let cmdline = parse_cmdline(&text);
            if cmdline.kernel_refuses || cmdline.modprobe_blacklist {
                usb.sources.push("/proc/cmdline".to_string());
            }
            usb.module_blacklisted |= cmdline.modprobe_blacklist;
            kernel_refuses = cmdline.kernel_refuses;
        }
        Ok(None) => {}
        Err(e) => errors.push(PROBE, describe(ctx.root.path("/proc/cmdline"), &e)),
    }
    // Once set, no module loads until the next boot.
    if let Ok(Some(v)) = read_attr(ctx, "/proc/sys/kernel/modules_disabled")
        && v == "1"
    {
        kernel_refuses = true;
        usb.sources.push("/proc/sys/kernel/modules_disabled".to_string());
    }

    // A built-in driver with parameters has a /sys/module folder but no initstate.
    let in_sysfs = ctx.root.exists(format!("/sys/module/{MODULE}"));
    let initstate = read_attr(ctx, &format!("/sys/module/{MODULE}/initstate")).ok().flatten();
    usb.module_builtin = builtin_listed(ctx, errors) || (in_sysfs && initstate.is_none());
    // Built-in code is always in the running kernel, so it counts as loaded too.
    usb.module_loaded = matches!(initstate.as_deref(), Some("live" | "coming")) || usb.module_builtin;

    usb.usbguard_running = ctx.processes.running("usbguard-daemon");
    let conf_path = usbguard_conf_path(ctx);
    match ctx.root.read_optional(&conf_path) {
        Ok(Some(conf)) => {
            usb.usbguard_blocks_by_default = blocks_by_default(&conf);
            usb.sources.push(conf_path);
        }
        Ok(None) => {}
        Err(e) => errors.push("usb_storage.usbguard_blocks_by_default", describe(ctx.root.path(&conf_path), &e)),
    }

    let cannot_load = (usb.module_disabled || kernel_refuses) && !usb.module_loaded && !usb.module_builtin;
    usb.blocked = cannot_load || (usb.usbguard_running && usb.usbguard_blocks_by_default == Some(true));
    usb
}

/// The `.conf` files kmod reads, in the order it reads them: by file name.
fn modprobe_files(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<String> {
    let mut by_name: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for dir in MODPROBE_DIRS {
        match ctx.root.list(dir) {
            Ok(names) => {
                for name in names.into_iter().filter(|n| n.ends_with(".conf")) {
                    by_name.entry(name.clone()).or_insert_with(|| format!("{dir}/{name}"));
                }
            }
            Err(e) => errors.push(PROBE, describe(ctx.root.path(dir), &e)),
        }
    }
    by_name.into_values().collect()
}

fn builtin_listed(ctx: &ProbeContext<'_>, errors: &mut Errors) -> bool {
    let release = match read_attr(ctx, "/proc/sys/kernel/osrelease") {
        Ok(Some(r)) if !r.is_empty() => r,
        _ => return false,
    };
    // Without merged /usr the modules live in /lib; with it, either path works.
    for dir in ["/lib/modules", "/usr/lib/modules"] {
        let path = format!("{dir}/{release}/modules.builtin");
        match ctx.root.read_optional(&path) {
            Ok(Some(text)) => return is_builtin(&text),
            Ok(None) => {}
            Err(e) => {
                errors.push("usb_storage.module_builtin", describe(ctx.root.path(&path), &e));
                return false;
            }
        }
    }
    false
}

/// The daemon's `-c FILE` when it was started with one.
fn usbguard_conf_path(ctx: &ProbeContext<'_>) -> String {
    ctx.processes
        .find("usbguard-daemon")
        .find_map(|p| {
            let mut args = p.args.iter();
            while let Some(a) = args.next() {
                if a == "-c" || a == "--config" {
                    return args.next().cloned();
                }
            }
            None
        })
        .unwrap_or_else(|| USBGUARD_CONF.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::{Process, Processes};
    use crate::probe::root::Root;
    use crate::probe::testing::write;
    use std::path::Path;

    const CIS: &str = "\
# Disable USB mass storage (CIS 1.1.1.8)
install usb-storage /bin/false
blacklist usb-storage
";

    const RELEASE: &str = "6.1.0-28-amd64";

    fn probe(root: &Path, processes: Vec<Process>) -> (UsbStorage, Errors) {
        let config = ProbeConfig {
            root: root.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(root), Processes(processes), &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    fn usbguard(args: &[&str]) -> Process {
        Process {
            pid: 812,
            comm: "usbguard-daemon".into(),
            argv0: "usbguard-daemon".into(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn parses_install_and_blacklist_directives() {
        assert_eq!(
            parse_modprobe(CIS),
            Directives {
                install: Some("/bin/false".into()),
                blacklist: true
            }
        );
        let d = parse_modprobe(
            "#install usb-storage /bin/true\n\
             options usb_storage delay_use=3\n\
             install usb_storage /usr/bin/logger -t usb \"blocked\" \\\n    && /bin/false\n\
             install usb-storage /bin/true\n\
             blacklist usb-storagex\n",
        );
        assert_eq!(d.install.as_deref(), Some("/usr/bin/logger -t usb \"blocked\" && /bin/false"));
        assert!(!d.blacklist);
        assert!(is_noop("/bin/true"));
        assert!(is_noop("/usr/bin/false "));
        assert!(is_noop("false"));
        assert!(!is_noop("/sbin/modprobe --ignore-install usb-storage $CMDLINE_OPTS"));
        assert!(!is_noop("/usr/bin/logger -t usb \"blocked\" && /bin/false"));
        assert!(!is_noop(""));
    }

    #[test]
    fn reads_the_kernel_command_line_and_modules_builtin() {
        let c = parse_cmdline("BOOT_IMAGE=/vmlinuz root=/dev/mapper/vg-root ro module_blacklist=firewire_core,usb-storage quiet");
        assert!(c.kernel_refuses && !c.modprobe_blacklist);
        let c = parse_cmdline("ro modprobe.blacklist=usb_storage,uas");
        assert!(!c.kernel_refuses && c.modprobe_blacklist);
        assert_eq!(parse_cmdline("ro quiet splash"), Cmdline::default());
        assert!(is_builtin(
            "kernel/drivers/usb/host/xhci-hcd.ko\nkernel/drivers/usb/storage/usb-storage.ko\n"
        ));
        assert!(!is_builtin(
            "kernel/drivers/usb/host/xhci-hcd.ko\nkernel/drivers/usb/storage/uas.ko\n"
        ));
    }

    #[test]
    fn reads_the_usbguard_implicit_target() {
        let shipped = "RuleFile=/etc/usbguard/rules.conf\nImplicitPolicyTarget=block\nPresentDevicePolicy=apply-policy\n";
        assert_eq!(blocks_by_default(shipped), Some(true));
        assert_eq!(blocks_by_default("ImplicitPolicyTarget=reject\n"), Some(true));
        assert_eq!(
            blocks_by_default("#ImplicitPolicyTarget=block\nImplicitPolicyTarget=allow\n"),
            Some(false)
        );
        assert_eq!(blocks_by_default("RuleFile=/etc/usbguard/rules.conf\n"), Some(true));
        assert_eq!(blocks_by_default("ImplicitPolicyTarget=maybe\n"), None);
    }

    #[test]
    fn install_false_blocks_and_etc_overrides_usr_lib() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "proc/sys/kernel/osrelease", format!("{RELEASE}\n"));
        write(
            root,
            &format!("lib/modules/{RELEASE}/modules.builtin"),
            "kernel/drivers/usb/host/xhci-hcd.ko\n",
        );
        // The distribution's file would load the module; the admin's file of the same name replaces it.
        write(
            root,
            "usr/lib/modprobe.d/usb.conf",
            "install usb-storage /sbin/modprobe --ignore-install usb-storage\n",
        );
        write(root, "etc/modprobe.d/usb.conf", CIS);
        write(
            root,
            "lib/modprobe.d/aliases.conf",
            "alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage\n",
        );
        let (usb, errors) = probe(root, vec![]);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(usb.module_disabled && usb.module_blacklisted);
        assert!(!usb.module_loaded && !usb.module_builtin);
        assert!(usb.blocked);
        assert_eq!(usb.sources, vec!["/etc/modprobe.d/usb.conf"]);
        assert_eq!(usb.usbguard_blocks_by_default, None);

        // Already loaded: the rule only applies to the next load.
        write(root, "sys/module/usb_storage/initstate", "live\n");
        let (usb, _) = probe(root, vec![]);
        assert!(usb.module_disabled && usb.module_loaded);
        assert!(!usb.blocked);
    }

    #[test]
    fn the_first_install_command_by_file_name_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "etc/modprobe.d/10-allow.conf",
            "install usb-storage /sbin/modprobe --ignore-install usb-storage\n",
        );
        write(root, "usr/lib/modprobe.d/50-deny.conf", "install usb-storage /bin/false\n");
        let (usb, _) = probe(root, vec![]);
        assert!(!usb.module_disabled);
        assert!(!usb.blocked);
        assert_eq!(
            usb.sources,
            vec!["/etc/modprobe.d/10-allow.conf", "/usr/lib/modprobe.d/50-deny.conf"]
        );
    }

    #[test]
    fn blacklist_alone_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "etc/modprobe.d/blacklist-usb.conf", "blacklist usb_storage\n");
        let (usb, _) = probe(root, vec![]);
        assert!(usb.module_blacklisted && !usb.module_disabled);
        assert!(!usb.blocked);
    }

    #[test]
    fn a_builtin_driver_ignores_modprobe_rules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "proc/sys/kernel/osrelease", "6.6.30-custom\n");
        write(
            root,
            "usr/lib/modules/6.6.30-custom/modules.builtin",
            "kernel/drivers/usb/core/usbcore.ko\nkernel/drivers/usb/storage/usb-storage.ko\n",
        );
        write(root, "sys/module/usb_storage/parameters/delay_use", "1\n");
        write(root, "etc/modprobe.d/usb.conf", CIS);
        let (usb, errors) = probe(root, vec![]);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(usb.module_disabled && usb.module_builtin && usb.module_loaded);
        assert!(!usb.blocked);
    }

    #[test]
    fn the_kernel_refusing_modules_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz ro module_blacklist=usb_storage\n");
        let (usb, _) = probe(root, vec![]);
        assert!(usb.blocked && !usb.module_disabled);
        assert_eq!(usb.sources, vec!["/proc/cmdline"]);

        write(root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz ro\n");
        write(root, "proc/sys/kernel/modules_disabled", "1\n");
        let (usb, _) = probe(root, vec![]);
        assert!(usb.blocked);
    }

    #[test]
    fn usbguard_blocks_only_while_running_with_a_blocking_default() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "etc/usbguard/usbguard-daemon.conf",
            "RuleFile=/etc/usbguard/rules.conf\nImplicitPolicyTarget=block\n",
        );
        let (usb, errors) = probe(root, vec![]);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(usb.usbguard_blocks_by_default, Some(true));
        assert!(!usb.usbguard_running && !usb.blocked);

        let (usb, _) = probe(root, vec![usbguard(&["-f", "-s", "-c", "/etc/usbguard/usbguard-daemon.conf"])]);
        assert!(usb.usbguard_running && usb.blocked);
        assert_eq!(usb.sources, vec!["/etc/usbguard/usbguard-daemon.conf"]);

        // Started with another configuration that allows unknown devices.
        write(root, "opt/usbguard/daemon.conf", "ImplicitPolicyTarget=allow\n");
        let (usb, _) = probe(root, vec![usbguard(&["-c", "/opt/usbguard/daemon.conf"])]);
        assert_eq!(usb.usbguard_blocks_by_default, Some(false));
        assert!(!usb.blocked);
    }
}

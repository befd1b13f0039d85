//! Probes: read real facts from the machine into the shared fact model.
//!
//! Each probe fills one section of [`Facts`]. A probe that cannot read
//! something records `{probe, message}` under the fact path it left empty and
//! the collection goes on: a report with a gap is worth more than no report.
//!
//! OS access is kept thin; every parser is a pure function over text, tested
//! on recorded outputs, so that most of this module runs in tests anywhere.

pub mod access;
#[cfg(not(windows))]
pub mod antivirus;
/// On Windows only the product table: the configuration names products, and
/// the ClamAV probe reads Linux paths through a Unix socket.
#[cfg(windows)]
pub mod antivirus {
    pub mod products;
}
pub mod command;
pub mod firewall;
pub mod host;
pub mod localtime;
pub mod logs;
// Decoding is portable: built everywhere so the recorded hosts are tested on any machine (agent/tests/macos_hosts.rs).
pub mod macos;
pub mod network;
pub mod packages;
pub mod procs;
pub mod root;
pub mod software;
pub mod system;
#[cfg(test)]
pub mod testing;
pub mod windows;

use crate::config::ProbeConfig;
use khien_proto::Facts;
use khien_proto::facts::ProbeError;
#[cfg(not(any(windows, target_os = "macos")))]
use khien_proto::{Platform, Timestamp, facts::FACTS_SCHEMA};
use procs::Processes;
use root::Root;
use std::time::Duration;

/// What every probe may use: the root, the process snapshot and the configuration.
pub struct ProbeContext<'a> {
    pub root: Root,
    /// Deadline for each tool a probe runs.
    pub command_timeout: Duration,
    pub processes: Processes,
    pub config: &'a ProbeConfig,
}

impl<'a> ProbeContext<'a> {
    pub fn new(root: Root, processes: Processes, config: &'a ProbeConfig) -> Self {
        ProbeContext {
            root,
            command_timeout: config.command_timeout,
            processes,
            config,
        }
    }
}

/// Probe failures of one probe run, merged into `facts.errors` afterwards.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<ProbeError>);

impl Errors {
    pub fn push(&mut self, probe: &str, message: impl std::fmt::Display) {
        self.0.push(ProbeError {
            probe: probe.to_string(),
            message: message.to_string(),
        });
    }
}

/// Collects every fact this platform supports.
#[cfg(windows)]
pub fn collect(config: &ProbeConfig) -> Facts {
    windows::collect::collect(config)
}

/// Collects every fact this platform supports.
#[cfg(target_os = "macos")]
pub fn collect(config: &ProbeConfig) -> Facts {
    macos::collect(config)
}

/// What the operator declares about the machine, which no probe can see
/// (the Linux host probe sets the same from its context).
pub fn operator_settings(host: &mut khien_proto::facts::Host, config: &ProbeConfig) {
    host.state_secrets = config.host.state_secrets;
    host.remote = config.host.remote;
    host.admin = config.host.admin;
    if let Some(role) = config.role {
        host.role = role;
        host.role_source = "config".to_string();
    }
}

/// Collects every fact this platform supports.
#[cfg(not(any(windows, target_os = "macos")))]
pub fn collect(config: &ProbeConfig) -> Facts {
    let mut facts = Facts {
        schema: FACTS_SCHEMA,
        collected_at: Timestamp::now().truncate_to_seconds(),
        platform: Platform::current(),
        ..Facts::default()
    };
    let root = Root::new(&config.root);
    let mut errors = Errors::default();
    let processes = Processes::snapshot(&root).unwrap_or_else(|e| {
        errors.push("processes", root::describe(root.path("/proc"), &e));
        Processes::default()
    });
    let ctx = ProbeContext::new(root, processes, config);
    // Tools and sockets wait on other processes; run those probes side by side.
    std::thread::scope(|s| {
        let firewall = s.spawn(|| run(|e| firewall::collect(&ctx, e)));
        let antivirus = s.spawn(|| run(|e| antivirus::collect(&ctx, e)));
        // Software is found in the package inventory, so it follows the packages probe.
        let packages = s.spawn(|| {
            run(|e| {
                let packages = packages::collect(&ctx, e);
                let software = software::collect(&ctx, &packages.installed, e);
                (packages, software)
            })
        });
        // Up to two seconds when the canary is silently dropped, which is the passing case.
        let egress = ctx
            .config
            .egress_target
            .is_some()
            .then(|| s.spawn(|| network::egress::collect(&ctx)));
        facts.host = host::collect(&ctx, &mut errors);
        facts.network = network::collect(&ctx, &mut errors);
        let access = access::collect(&ctx, &mut errors);
        let logs = logs::collect(&ctx, &mut errors);
        let system = system::collect(&ctx, &mut errors);
        facts.network.egress = egress.and_then(|h| {
            h.join().unwrap_or_else(|_| {
                errors.push("network.egress", "probe panicked; this is a bug in the agent");
                None
            })
        });
        facts.firewall = joined(firewall, "firewall", &mut errors);
        facts.antivirus = joined(antivirus, "antivirus.products", &mut errors);
        let (packages, software) = joined(packages, "packages", &mut errors);
        facts.packages = packages;
        facts.software = software.software;
        facts.directory = software.directory;
        facts.accounts = access.accounts;
        facts.password_policy = access.password_policy;
        facts.lockout = access.lockout;
        facts.mfa = access.mfa;
        facts.session = access.session;
        facts.desktop = access.desktop;
        facts.ssh = access.ssh;
        facts.audit = logs.audit;
        facts.logging = logs.logging;
        facts.time_sync = logs.time_sync;
        facts.hardware = system.hardware;
        facts.disk_encryption = system.disk_encryption;
        facts.usb_storage = system.usb_storage;
        facts.hardening = system.hardening;
    });
    facts.errors = errors.0;
    facts
}

#[cfg(not(any(windows, target_os = "macos")))]
fn run<T>(probe: impl FnOnce(&mut Errors) -> T) -> (T, Errors) {
    let mut e = Errors::default();
    (probe(&mut e), e)
}

#[cfg(not(any(windows, target_os = "macos")))]
fn joined<T: Default>(handle: std::thread::ScopedJoinHandle<'_, (T, Errors)>, probe: &str, errors: &mut Errors) -> T {
    match handle.join() {
        Ok((section, mut e)) => {
            errors.0.append(&mut e.0);
            section
        }
        Err(_) => {
            errors.push(probe, "probe panicked; this is a bug in the agent");
            T::default()
        }
    }
}

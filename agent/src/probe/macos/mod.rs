//! macOS facts, where they are cheap: XProtect, Gatekeeper, SIP, FileVault,
//! the application firewall and the OS version, read from the text of the
//! system's own tools ([`TOOLS`]). Decoding that text is portable and
//! tested on outputs recorded per host (`tests/hosts/macos/<host>/`); only
//! running the tools is macOS code ([`collect`]).

pub mod parse;

use super::Errors;
use khien_proto::facts::macos::{ApplicationFirewall, Macos};
use khien_proto::facts::{AvProduct, DiskEncryption, FACTS_SCHEMA, Firewall, FirewallBackend, Os, Volume};
use khien_proto::{Facts, Platform, Role, Timestamp};
use std::collections::BTreeMap;

/// A tool the agent runs, and the file its output is recorded in for tests.
pub struct Tool {
    pub file: &'static str,
    pub program: &'static str,
    pub args: &'static [&'static str],
}

const fn tool(file: &'static str, program: &'static str, args: &'static [&'static str]) -> Tool {
    Tool { file, program, args }
}

const SOCKETFILTERFW: &str = "/usr/libexec/ApplicationFirewall/socketfilterfw";
const XPROTECT_PLIST: &str = "/Library/Apple/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist";
/// Since macOS 15 the copy in use, updated apart from Software Update.
const XPROTECT_PLIST_15: &str = "/var/protected/xprotect/XProtect.bundle/Contents/Info.plist";

pub const TOOLS: [Tool; 13] = [
    tool("sw_vers.txt", "/usr/bin/sw_vers", &[]),
    tool("hostname.txt", "/bin/hostname", &[]),
    tool("uname-r.txt", "/usr/bin/uname", &["-r"]),
    tool("spctl-status.txt", "/usr/sbin/spctl", &["--status"]),
    tool("csrutil-status.txt", "/usr/bin/csrutil", &["status"]),
    tool("fdesetup-status.txt", "/usr/bin/fdesetup", &["status"]),
    tool("socketfilterfw-getglobalstate.txt", SOCKETFILTERFW, &["--getglobalstate"]),
    tool("socketfilterfw-getblockall.txt", SOCKETFILTERFW, &["--getblockall"]),
    tool("socketfilterfw-getstealthmode.txt", SOCKETFILTERFW, &["--getstealthmode"]),
    // plutil reads the binary form of property lists too.
    tool(
        "xprotect-info.json",
        "/usr/bin/plutil",
        &["-convert", "json", "-o", "-", XPROTECT_PLIST],
    ),
    tool(
        "xprotect-info-15.json",
        "/usr/bin/plutil",
        &["-convert", "json", "-o", "-", XPROTECT_PLIST_15],
    ),
    tool(
        "install-history.json",
        "/usr/sbin/system_profiler",
        &["SPInstallHistoryDataType", "-json"],
    ),
    tool(
        "softwareupdate-defaults.txt",
        "/usr/bin/defaults",
        &["read", "/Library/Preferences/com.apple.SoftwareUpdate"],
    ),
];

/// Each tool's output by [`Tool::file`]: its text, or why there is none.
pub type Outputs = BTreeMap<&'static str, Result<String, String>>;

fn output<'a>(outputs: &'a Outputs, file: &str) -> Result<&'a str, String> {
    match outputs.get(file) {
        Some(Ok(text)) => Ok(text),
        Some(Err(e)) => Err(e.clone()),
        None => Err(format!("{file}: not read")),
    }
}

/// Facts from the tools' outputs, read at `now`.
pub fn decode(outputs: &Outputs, now: Timestamp) -> Facts {
    let mut facts = Facts {
        schema: FACTS_SCHEMA,
        collected_at: now.truncate_to_seconds(),
        platform: Platform::Macos,
        ..Facts::default()
    };
    let mut errors = Errors::default();
    let mut mac = Macos::default();
    host(outputs, &mut facts, &mut mac, &mut errors);

    match output(outputs, "spctl-status.txt").and_then(|t| parse::spctl_status(t).ok_or_else(|| unexpected("spctl --status", t))) {
        Ok(on) => mac.gatekeeper_enabled = Some(on),
        Err(e) => errors.push("macos.gatekeeper_enabled", e),
    }
    match output(outputs, "csrutil-status.txt").and_then(|t| parse::csrutil_status(t).ok_or_else(|| unexpected("csrutil status", t))) {
        Ok(status) => {
            // A custom configuration has some protections off, which is what asking for SIP means to rule out.
            mac.sip_enabled = Some(status == "enabled");
            mac.sip = Some(status.to_string());
        }
        Err(e) => errors.push("macos.sip", e),
    }
    match output(outputs, "fdesetup-status.txt").and_then(|t| parse::fdesetup_status(t).ok_or_else(|| unexpected("fdesetup status", t))) {
        Ok(status) => {
            mac.filevault = Some(status.to_string());
            facts.disk_encryption = filevault_volumes(status);
        }
        Err(e) => errors.push("disk_encryption", e),
    }
    firewall(outputs, &mut facts, &mut mac, &mut errors);
    xprotect(outputs, &mut facts, &mut mac, &mut errors);

    facts.macos = Some(mac);
    facts.errors = errors.0;
    facts
}

fn unexpected(tool: &str, text: &str) -> String {
    let first: String = text.lines().next().unwrap_or_default().chars().take(200).collect();
    format!("{tool} printed what the agent does not know: {first:?}")
}

fn host(outputs: &Outputs, facts: &mut Facts, mac: &mut Macos, errors: &mut Errors) {
    let host = &mut facts.host;
    host.arch = std::env::consts::ARCH.to_string();
    // No macOS server product remains: a Mac is a workstation unless the operator says otherwise.
    host.role = Role::Workstation;
    host.role_source = "detected".to_string();
    match output(outputs, "hostname.txt") {
        Ok(name) => host.hostname = name.trim().to_string(),
        Err(e) => errors.push("host.hostname", e),
    }
    host.kernel = output(outputs, "uname-r.txt")
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    let fields = match output(outputs, "sw_vers.txt") {
        Ok(text) => parse::sw_vers(text),
        Err(e) => {
            errors.push("host.os", e);
            return;
        }
    };
    let Some(version) = fields.get("ProductVersion") else {
        errors.push("host.os", "sw_vers printed no ProductVersion");
        return;
    };
    let name = fields.get("ProductName").cloned().unwrap_or_else(|| "macOS".to_string());
    let build = fields.get("BuildVersion");
    host.os = Os {
        id: Some("macos".to_string()),
        id_like: Vec::new(),
        version: Some(match build {
            Some(b) => format!("{version} ({b})"),
            None => version.clone(),
        }),
        version_id: Some(version.clone()),
        pretty_name: Some(match parse::release_name(version) {
            Some(release) => format!("{name} {release} {version}"),
            None => format!("{name} {version}"),
        }),
        name: Some(name),
    };
    mac.os_version = Some(version.clone());
    mac.os_build = build.cloned();
}

/// FileVault encrypts the Data volume, where everything writable lives; the
/// system volume is a sealed, signed, read-only snapshot. So FileVault's
/// state stands for the root and for all persistent storage.
fn filevault_volumes(status: &str) -> DiskEncryption {
    // Still converting is not yet encrypted: part of the data is in clear.
    let encrypted = Some(status == "on");
    DiskEncryption {
        volumes: vec![Volume {
            mount: "/System/Volumes/Data".to_string(),
            device: String::new(),
            fstype: "apfs".to_string(),
            encrypted,
            scheme: Some("FileVault".to_string()),
        }],
        root_encrypted: encrypted,
        all_encrypted: encrypted,
    }
}

fn firewall(outputs: &Outputs, facts: &mut Facts, mac: &mut Macos, errors: &mut Errors) {
    let global = output(outputs, "socketfilterfw-getglobalstate.txt")
        .and_then(|t| parse::firewall_global_state(t).ok_or_else(|| unexpected("socketfilterfw --getglobalstate", t)));
    let (enabled, state_blocks_all) = match global {
        Ok(state) => state,
        Err(e) => {
            errors.push("firewall", e);
            return;
        }
    };
    let flag = |file: &str, what: &str| {
        output(outputs, file).and_then(|t| parse::on_off(t).ok_or_else(|| unexpected(&format!("socketfilterfw --get{what}"), t)))
    };
    let block_all = match flag("socketfilterfw-getblockall.txt", "blockall") {
        Ok(on) => Some(on || state_blocks_all),
        Err(_) if state_blocks_all => Some(true),
        Err(e) => {
            errors.push("firewall.inbound_default_deny", e);
            None
        }
    };
    let stealth = match flag("socketfilterfw-getstealthmode.txt", "stealthmode") {
        Ok(on) => Some(on),
        Err(e) => {
            errors.push("macos.firewall.stealth", e);
            None
        }
    };
    mac.firewall = ApplicationFirewall {
        enabled: Some(enabled),
        block_all,
        stealth,
    };
    // The application firewall decides per application, not per port: with
    // it on, any signed app (allowed by default) or app the user once
    // allowed accepts whatever connects to it. Only "block all incoming
    // connections" refuses what is not explicitly needed, so only that is a
    // default deny.
    let default_deny = enabled && block_all == Some(true);
    let mut details = BTreeMap::new();
    if let Some(s) = stealth {
        details.insert("stealth".to_string(), s.to_string());
    }
    facts.firewall = Firewall {
        enabled,
        inbound_default_deny: default_deny,
        backends: vec![FirewallBackend {
            name: "application-firewall".to_string(),
            present: true,
            active: enabled,
            input_policy: default_deny.then(|| "drop".to_string()),
            rules: None,
            inbound_default_deny: block_all.map(|b| enabled && b),
            details,
        }],
    };
}

fn xprotect(outputs: &Outputs, facts: &mut Facts, mac: &mut Macos, errors: &mut Errors) {
    let mut versions = Vec::new();
    let mut problems = Vec::new();
    for (file, path) in [("xprotect-info.json", XPROTECT_PLIST), ("xprotect-info-15.json", XPROTECT_PLIST_15)] {
        match output(outputs, file) {
            Ok(text) => match parse::plist_string(text, "CFBundleShortVersionString") {
                Some(v) => versions.push((v, path)),
                None => problems.push(format!("{path}: no CFBundleShortVersionString")),
            },
            Err(e) => problems.push(e),
        }
    }
    // Before macOS 15 only the first bundle exists; since, both do and the newer one is in use.
    let Some((version, path)) = versions.into_iter().max_by(|a, b| parse::compare_versions(&a.0, &b.0)) else {
        errors.push(
            "antivirus.products",
            format!("XProtect's version is unreadable: {}", problems.join("; ")),
        );
        return;
    };
    let installed_at = match output(outputs, "install-history.json").and_then(parse::install_history) {
        Ok(history) => parse::xprotect_installed_at(&history, &version),
        Err(e) => {
            errors.push("macos.xprotect_installed_at", format!("install history: {e}"));
            None
        }
    };
    let auto = security_data_auto_install(outputs, errors);
    mac.xprotect_version = Some(version.clone());
    mac.xprotect_installed_at = installed_at;
    mac.security_data_auto_install = auto;
    let mut details = BTreeMap::new();
    details.insert("bundle".to_string(), path.to_string());
    details.insert(
        "scanning".to_string(),
        "apps when first opened, when changed and when signatures change; no on-access scanning of files".to_string(),
    );
    facts.antivirus.products.push(AvProduct {
        id: "xprotect".to_string(),
        name: "XProtect".to_string(),
        vendor: "Apple".to_string(),
        installed: true,
        // Part of the system's checks on opening apps whenever its bundle is
        // there; no process of its own to look for before macOS 15.
        running: true,
        // Neither on nor off in the on-access sense the field means (see `scanning`).
        realtime: None,
        signature_version: Some(version),
        signature_time: installed_at,
        auto_update: auto,
        source: "file".to_string(),
        details,
        ..AvProduct::default()
    });
}

/// Software Update's security data setting ("Install Security Responses and
/// system files"). On by default: an absent key or domain means on. A
/// configuration profile overrides this file and is not read here.
fn security_data_auto_install(outputs: &Outputs, errors: &mut Errors) -> Option<bool> {
    let values = match output(outputs, "softwareupdate-defaults.txt") {
        Ok(text) => parse::defaults(text),
        Err(e) if e.contains("does not exist") => BTreeMap::new(),
        Err(e) => {
            errors.push("macos.security_data_auto_install", e);
            return None;
        }
    };
    let off = |key: &str| values.get(key).is_some_and(|v| v == "0" || v.eq_ignore_ascii_case("false"));
    Some(!off("AutomaticCheckEnabled") && !off("ConfigDataInstall"))
}

/// Runs the tools and decodes their outputs.
#[cfg(target_os = "macos")]
pub fn collect(config: &crate::config::ProbeConfig) -> Facts {
    let now = Timestamp::now();
    // The install history lists every update since the Mac was set up; system_profiler is slow to print it.
    let slow = config.command_timeout * 5;
    let outputs: Outputs = std::thread::scope(|s| {
        let handles: Vec<_> = TOOLS
            .iter()
            .map(|tool| {
                let timeout = if tool.program.ends_with("system_profiler") {
                    slow
                } else {
                    config.command_timeout
                };
                (tool.file, s.spawn(move || run(tool, timeout)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(file, h)| (file, h.join().unwrap_or_else(|_| Err("the tool's thread panicked".to_string()))))
            .collect()
    });
    let mut facts = decode(&outputs, now);
    super::operator_settings(&mut facts.host, config);
    facts
}

/// Text a tool printed. Some report a state through their exit status as
/// well (`spctl --status` exits 1 when assessments are off), so printed
/// output counts whatever the status.
#[cfg(target_os = "macos")]
fn run(tool: &Tool, timeout: std::time::Duration) -> Result<String, String> {
    let out = super::command::run(std::path::Path::new(tool.program), tool.args, timeout).map_err(|e| e.to_string())?;
    if !out.stdout.trim().is_empty() {
        Ok(out.stdout)
    } else if out.success() {
        Ok(out.stderr)
    } else {
        Err(format!("{} exited with {}: {}", tool.program, out.status, out.stderr.trim()))
    }
}

/// Outputs recorded in `dir`, one file per tool; `<file>.err` records a
/// tool that failed, with its message.
pub fn recorded(dir: &std::path::Path) -> Outputs {
    TOOLS
        .iter()
        .map(|tool| {
            let read = |name: &str| std::fs::read_to_string(dir.join(name));
            let result = match (read(tool.file), read(&format!("{}.err", tool.file))) {
                (Ok(text), _) => Ok(text),
                (Err(_), Ok(err)) => Err(err.trim().to_string()),
                (Err(e), Err(_)) => Err(format!("{}: {e}", dir.join(tool.file).display())),
            };
            (tool.file, result)
        })
        .collect()
}

#[cfg(test)]
mod tests;

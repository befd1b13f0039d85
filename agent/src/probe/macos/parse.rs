//! Parsers over the text macOS's own tools print. Each accepts the wording
//! of the macOS releases it was written from and returns `None` for any
//! other, so that a changed message is an error, never a guess.

use khien_proto::Timestamp;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// `sw_vers`: `ProductName:\tmacOS` lines (name, version, build).
pub fn sw_vers(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .collect()
}

/// The marketing name of a macOS major version, for `pretty_name`.
pub fn release_name(version: &str) -> Option<&'static str> {
    Some(match version.split('.').next()? {
        "11" => "Big Sur",
        "12" => "Monterey",
        "13" => "Ventura",
        "14" => "Sonoma",
        "15" => "Sequoia",
        "26" => "Tahoe",
        _ => return None,
    })
}

/// `spctl --status`: `assessments enabled` or `assessments disabled`.
pub fn spctl_status(text: &str) -> Option<bool> {
    match text.trim() {
        "assessments enabled" => Some(true),
        "assessments disabled" => Some(false),
        _ => None,
    }
}

/// `csrutil status`: `enabled`, `disabled` or `custom`. Custom configurations
/// read `unknown (Custom Configuration).` since macOS 11 and
/// `enabled (Custom Configuration).` before, followed by the list of protections.
pub fn csrutil_status(text: &str) -> Option<&'static str> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("System Integrity Protection status:"))?;
    let status = line.trim().trim_end_matches('.');
    if status.contains("Custom Configuration") {
        Some("custom")
    } else if status == "enabled" {
        Some("enabled")
    } else if status == "disabled" {
        Some("disabled")
    } else {
        None
    }
}

/// `fdesetup status`: `on`, `off`, `encrypting`, `decrypting` or `deferred`.
/// A conversion in progress prints its own line (after `FileVault is On.`),
/// so it is looked for first.
pub fn fdesetup_status(text: &str) -> Option<&'static str> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let has = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
    if has("Encryption in progress") {
        Some("encrypting")
    } else if has("Decryption in progress") {
        Some("decrypting")
    } else if has("Deferred enablement appears to be active") || lines.iter().any(|l| l.contains("will be enabled after")) {
        Some("deferred")
    } else if has("FileVault is On") {
        Some("on")
    } else if has("FileVault is Off") {
        Some("off")
    } else {
        None
    }
}

/// `socketfilterfw --getglobalstate`: `Firewall is enabled. (State = 1)`.
/// State 2 is the older "essential services only", i.e. block all.
/// Returns (enabled, blocks all).
pub fn firewall_global_state(text: &str) -> Option<(bool, bool)> {
    let state = text
        .split("(State = ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.trim().parse::<u8>().ok());
    match state {
        Some(0) => Some((false, false)),
        Some(1) => Some((true, false)),
        Some(2) => Some((true, true)),
        Some(_) => None,
        None => on_off(text).map(|on| (on, false)),
    }
}

/// `--getblockall` and `--getstealthmode` across releases: `Block all
/// DISABLED!`, `Firewall has block all state set to enabled.`, `Stealth mode
/// enabled`, `Firewall stealth mode is on`.
pub fn on_off(text: &str) -> Option<bool> {
    let lower = text.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let off = words.iter().any(|w| matches!(*w, "disabled" | "off"));
    let on = words.iter().any(|w| matches!(*w, "enabled" | "on"));
    match (on, off) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// A string value of a property list: `plutil -convert json -o -` output,
/// or the XML form a bundle's `Info.plist` usually has.
pub fn plist_string(text: &str, key: &str) -> Option<String> {
    let text = text.trim_start();
    if text.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        return value.get(key)?.as_str().map(str::to_string);
    }
    let after = text.split(&format!("<key>{key}</key>")).nth(1)?.trim_start();
    let value = after.strip_prefix("<string>")?.split("</string>").next()?;
    Some(value.trim().to_string())
}

/// One software installation as `system_profiler SPInstallHistoryDataType -json` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Install {
    pub name: String,
    pub version: String,
    pub date: Option<Timestamp>,
}

pub fn install_history(json: &str) -> Result<Vec<Install>, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let items = value
        .get("SPInstallHistoryDataType")
        .and_then(|v| v.as_array())
        .ok_or("no SPInstallHistoryDataType list")?;
    let text = |item: &serde_json::Value, key: &str| item.get(key).and_then(|v| v.as_str()).unwrap_or_default().trim().to_string();
    Ok(items
        .iter()
        .map(|item| Install {
            name: text(item, "_name"),
            version: text(item, "install_version"),
            date: Timestamp::parse(&text(item, "install_date")).ok(),
        })
        .collect())
}

/// When XProtect `version` was installed: the latest install of an XProtect
/// component with exactly that version. Another version's date would be a
/// guess about the signatures in use, so there is none then.
pub fn xprotect_installed_at(history: &[Install], version: &str) -> Option<Timestamp> {
    history
        .iter()
        .filter(|i| i.name.starts_with("XProtect") && i.version == version)
        .filter_map(|i| i.date)
        .max_by_key(|t| t.unix())
}

/// `defaults read` of a domain in the old-style property list text:
/// top-level `Key = value;` lines (nested values are skipped).
pub fn defaults(text: &str) -> BTreeMap<String, String> {
    let mut depth = 0usize;
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if depth == 1
            && let Some((k, v)) = line.split_once(" = ")
        {
            let v = v.trim_end_matches(';').trim().trim_matches('"');
            if !v.starts_with('(') && !v.starts_with('{') {
                out.insert(k.trim().trim_matches('"').to_string(), v.to_string());
            }
        }
        depth += line.matches(['{', '(']).count();
        depth = depth.saturating_sub(line.matches(['}', ')']).count());
    }
    out
}

/// Dotted numeric versions (`2192`, `5287`, `1.2.10`) in numeric order.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| v.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parts(a).cmp(&parts(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sw_vers_fields() {
        let v = sw_vers("ProductName:\t\tmacOS\nProductVersion:\t\t14.4.1\nBuildVersion:\t\t23E224\n");
        assert_eq!(v["ProductName"], "macOS");
        assert_eq!(v["ProductVersion"], "14.4.1");
        assert_eq!(v["BuildVersion"], "23E224");
        assert_eq!(release_name("14.4.1"), Some("Sonoma"));
        assert_eq!(release_name("10.15.7"), None);
    }

    #[test]
    fn gatekeeper_and_sip() {
        assert_eq!(spctl_status("assessments enabled\n"), Some(true));
        assert_eq!(spctl_status("assessments disabled\n"), Some(false));
        assert_eq!(spctl_status("spctl: no such option\n"), None);
        assert_eq!(csrutil_status("System Integrity Protection status: enabled.\n"), Some("enabled"));
        assert_eq!(csrutil_status("System Integrity Protection status: disabled.\n"), Some("disabled"));
        let custom = "System Integrity Protection status: unknown (Custom Configuration).\n\nConfiguration:\n\tKext Signing: disabled\n";
        assert_eq!(csrutil_status(custom), Some("custom"));
        assert_eq!(
            csrutil_status("System Integrity Protection status: enabled (Custom Configuration).\n"),
            Some("custom")
        );
        assert_eq!(csrutil_status("csrutil: command not found"), None);
    }

    #[test]
    fn filevault_states() {
        assert_eq!(fdesetup_status("FileVault is On.\n"), Some("on"));
        assert_eq!(fdesetup_status("FileVault is Off.\n"), Some("off"));
        assert_eq!(
            fdesetup_status("FileVault is On.\nEncryption in progress: Percent completed = 37.5\n"),
            Some("encrypting")
        );
        assert_eq!(
            fdesetup_status("Decryption in progress: Percent completed = 80.1\n"),
            Some("decrypting")
        );
        assert_eq!(
            fdesetup_status("FileVault is Off, but will be enabled after the next restart.\n"),
            Some("deferred")
        );
        assert_eq!(fdesetup_status(""), None);
    }

    #[test]
    fn firewall_wordings() {
        assert_eq!(firewall_global_state("Firewall is enabled. (State = 1)\n"), Some((true, false)));
        assert_eq!(firewall_global_state("Firewall is disabled. (State = 0)\n"), Some((false, false)));
        assert_eq!(
            firewall_global_state("Firewall is blocking all non-essential incoming connections. (State = 2)\n"),
            Some((true, true))
        );
        assert_eq!(firewall_global_state("Firewall is enabled.\n"), Some((true, false)));
        assert_eq!(firewall_global_state("(State = 7)"), None);
        assert_eq!(on_off("Block all DISABLED!\n"), Some(false));
        assert_eq!(on_off("Block all ENABLED!\n"), Some(true));
        assert_eq!(on_off("Firewall has block all state set to enabled.\n"), Some(true));
        assert_eq!(on_off("Stealth mode enabled\n"), Some(true));
        assert_eq!(on_off("Firewall stealth mode is off\n"), Some(false));
        assert_eq!(on_off("usage: socketfilterfw [-c] [-w]"), None);
    }

    #[test]
    fn plist_strings_from_json_and_xml() {
        let json = r#"{"CFBundleIdentifier":"com.apple.XProtect","CFBundleShortVersionString":"5287"}"#;
        assert_eq!(plist_string(json, "CFBundleShortVersionString").as_deref(), Some("5287"));
        let xml = "<?xml version=\"1.0\"?>\n<plist version=\"1.0\">\n<dict>\n\t<key>CFBundleShortVersionString</key>\n\t<string>2192</string>\n</dict>\n</plist>\n";
        assert_eq!(plist_string(xml, "CFBundleShortVersionString").as_deref(), Some("2192"));
        assert_eq!(plist_string(xml, "CFBundleVersion"), None);
    }

    #[test]
    fn xprotect_date_needs_the_exact_version() {
        let history = install_history(
            r#"{"SPInstallHistoryDataType":[
                {"_name":"XProtectPlistConfigData","install_date":"2024-03-01T10:00:00Z","install_version":"2188"},
                {"_name":"XProtectPlistConfigData","install_date":"2024-04-02T09:30:00Z","install_version":"2192"},
                {"_name":"Safari","install_date":"2024-05-01T00:00:00Z","install_version":"2192"}]}"#,
        )
        .unwrap();
        assert_eq!(history.len(), 3);
        let t = xprotect_installed_at(&history, "2192").unwrap();
        assert_eq!(t, Timestamp::parse("2024-04-02T09:30:00Z").unwrap());
        assert_eq!(xprotect_installed_at(&history, "2200"), None);
        assert!(install_history("{}").is_err());
    }

    #[test]
    fn defaults_top_level_values() {
        let text = "{\n    AutomaticCheckEnabled = 1;\n    ConfigDataInstall = 0;\n    LastAttemptSystemVersion = \"14.4.1 (23E224)\";\n    RecommendedUpdates =     (\n                {\n            Identifier = \"MSU_UPDATE\";\n        }\n    );\n}\n";
        let d = defaults(text);
        assert_eq!(d["AutomaticCheckEnabled"], "1");
        assert_eq!(d["ConfigDataInstall"], "0");
        assert_eq!(d["LastAttemptSystemVersion"], "14.4.1 (23E224)");
        assert!(!d.contains_key("Identifier"));
        assert!(!d.contains_key("RecommendedUpdates"));
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("5287", "2192"), Ordering::Greater);
        assert_eq!(compare_versions("1.2.10", "1.2.9"), Ordering::Greater);
        assert_eq!(compare_versions("2192", "2192"), Ordering::Equal);
    }
}

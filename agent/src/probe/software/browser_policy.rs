//! Managed browser policies that restrict extensions (WE-02), per policy
//! family: Chromium-based browsers read every `*.json` file of their
//! `policies/managed` folder, Firefox reads `policies.json`.
//!
//! All files of a family are merged, as the browser merges the files of its
//! folder: an extension allowed anywhere is allowed, and a `*` block anywhere
//! blocks the rest. A file that is not valid JSON is ignored by the browser,
//! so it is left out here too and reported as an error.

use super::table::{Family, SoftwareSpec};
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::BrowserPolicy;
use serde_json::Value;
use std::collections::BTreeSet;

const PROBE: &str = "software.browser_policies";

/// Installation modes that let an extension in.
const ALLOWING_MODES: [&str; 3] = ["allowed", "force_installed", "normal_installed"];

pub fn collect(ctx: &ProbeContext<'_>, table: &[SoftwareSpec], errors: &mut Errors) -> Vec<BrowserPolicy> {
    let mut policies = Vec::new();
    for family in Family::ALL {
        let mut locations: Vec<&str> = Vec::new();
        for spec in table.iter().filter(|s| s.family == Some(family)) {
            for p in &spec.policies {
                if !locations.contains(&p.as_str()) {
                    locations.push(p);
                }
            }
        }
        let mut merged = Extensions::default();
        let mut files = Vec::new();
        for file in policy_files(ctx, family, &locations, errors) {
            let text = match ctx.root.read_optional(&file) {
                Ok(Some(text)) => text,
                Ok(None) => continue,
                Err(e) => {
                    errors.push(PROBE, describe(ctx.root.path(&file), &e));
                    continue;
                }
            };
            let parsed = match family {
                Family::Chromium => parse_chromium(&text),
                Family::Firefox => parse_firefox(&text),
            };
            match parsed {
                Ok(ext) => {
                    merged.allow.extend(ext.allow);
                    merged.blocks_others |= ext.blocks_others;
                    files.push(file);
                }
                Err(e) => errors.push(PROBE, format!("{file}: {e}; the browser ignores this file")),
            }
        }
        if !files.is_empty() {
            policies.push(BrowserPolicy {
                family: family.as_str().into(),
                files,
                extension_allowlist: merged.allow.into_iter().collect(),
                blocks_other_extensions: merged.blocks_others,
            });
        }
    }
    policies
}

/// Chromium locations are folders whose `*.json` files all apply; Firefox ones are files.
fn policy_files(ctx: &ProbeContext<'_>, family: Family, locations: &[&str], errors: &mut Errors) -> Vec<String> {
    match family {
        Family::Firefox => locations.iter().map(|l| l.to_string()).collect(),
        Family::Chromium => {
            let mut files = Vec::new();
            for dir in locations {
                match ctx.root.list(dir) {
                    Ok(names) => files.extend(
                        names
                            .iter()
                            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                            .map(|n| format!("{dir}/{n}")),
                    ),
                    Err(e) => errors.push(PROBE, describe(ctx.root.path(dir), &e)),
                }
            }
            files
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    pub allow: BTreeSet<String>,
    pub blocks_others: bool,
}

/// One Chromium managed policy file (Chrome, Chromium, Edge, Brave, Cốc Cốc
/// share the policy names). The pre-2020 names `…Whitelist`/`…Blacklist` are
/// still honoured by the browsers, so they count too.
pub fn parse_chromium(text: &str) -> Result<Extensions, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(policy) = root.as_object() else {
        return Err("not a JSON object of policies".into());
    };
    let mut ext = Extensions::default();
    for key in ["ExtensionInstallAllowlist", "ExtensionInstallWhitelist"] {
        ext.allow.extend(strings(policy.get(key)).map(str::to_string));
    }
    // `id;update_url`: force-installed extensions are allowed by definition.
    ext.allow.extend(
        strings(policy.get("ExtensionInstallForcelist"))
            .filter_map(|entry| entry.split(';').next())
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty()),
    );
    for key in ["ExtensionInstallBlocklist", "ExtensionInstallBlacklist"] {
        if strings(policy.get(key)).any(|id| id == "*") {
            ext.blocks_others = true;
        }
    }
    if let Some(settings) = policy.get("ExtensionSettings") {
        apply_extension_settings(settings, &mut ext);
    }
    ext.allow.remove("*");
    Ok(ext)
}

/// A Firefox `policies.json`: `{"policies": {"ExtensionSettings": {…}}}`.
pub fn parse_firefox(text: &str) -> Result<Extensions, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(policies) = root.get("policies") else {
        return Err("no `policies` object".into());
    };
    let mut ext = Extensions::default();
    if let Some(settings) = policies.get("ExtensionSettings") {
        apply_extension_settings(settings, &mut ext);
    }
    Ok(ext)
}

/// `ExtensionSettings`, the same shape in both families: extension id (or
/// `*` for every other one) → `{"installation_mode": …}`. Chromium also
/// accepts the whole value as a JSON string, as Windows GPO stores it.
fn apply_extension_settings(settings: &Value, ext: &mut Extensions) {
    let parsed;
    let settings = match settings {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v) => {
                parsed = v;
                &parsed
            }
            Err(_) => return,
        },
        other => other,
    };
    let Some(map) = settings.as_object() else { return };
    for (key, setting) in map {
        let mode = setting.get("installation_mode").and_then(Value::as_str);
        if key == "*" {
            if mode == Some("blocked") {
                ext.blocks_others = true;
            }
        } else if mode.is_some_and(|m| ALLOWING_MODES.contains(&m)) {
            // Chromium allows several ids, comma-separated, in one key.
            ext.allow
                .extend(key.split(',').map(|id| id.trim().to_string()).filter(|id| !id.is_empty()));
        }
    }
}

fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) const CHROME_POLICY: &str = r#"{
  "ExtensionInstallBlocklist": ["*"],
  "ExtensionInstallAllowlist": [
    "ghbmnnjooekpmoecnnnilnnbdlolhkhi",
    "aapbdbdomjkkjkaonfhkkikfgjllcleb"
  ],
  "ExtensionInstallForcelist": [
    "cjpalhdlnbpafiamejdnhcphjbkeiagm;https://clients2.google.com/service/update2/crx"
  ],
  "PasswordManagerEnabled": false,
  "SafeBrowsingProtectionLevel": 1
}"#;

    pub(crate) const FIREFOX_POLICY: &str = r#"{
  "policies": {
    "DisableTelemetry": true,
    "ExtensionSettings": {
      "*": {
        "blocked_install_message": "Liên hệ bộ phận CNTT để cài tiện ích.",
        "installation_mode": "blocked"
      },
      "uBlock0@raymondhill.net": {
        "installation_mode": "force_installed",
        "install_url": "https://addons.mozilla.org/firefox/downloads/latest/ublock-origin/latest.xpi"
      },
      "langpack-vi@firefox.mozilla.org": { "installation_mode": "allowed" },
      "evil@example.com": { "installation_mode": "blocked" }
    }
  }
}"#;

    #[test]
    fn reads_chromium_allow_and_block_lists() {
        let ext = parse_chromium(CHROME_POLICY).unwrap();
        assert!(ext.blocks_others);
        assert_eq!(
            ext.allow.iter().map(String::as_str).collect::<Vec<_>>(),
            [
                "aapbdbdomjkkjkaonfhkkikfgjllcleb",
                "cjpalhdlnbpafiamejdnhcphjbkeiagm",
                "ghbmnnjooekpmoecnnnilnnbdlolhkhi"
            ]
        );
        let legacy = parse_chromium(r#"{"ExtensionInstallBlacklist":["*"],"ExtensionInstallWhitelist":["abc"]}"#).unwrap();
        assert!(legacy.blocks_others);
        assert!(legacy.allow.contains("abc"));
        let partial = parse_chromium(r#"{"ExtensionInstallBlocklist":["badbadbad"]}"#).unwrap();
        assert!(!partial.blocks_others, "blocking one extension is not an allow-list");
    }

    #[test]
    fn reads_chromium_extension_settings() {
        let text = r#"{"ExtensionSettings": {
            "*": {"installation_mode": "blocked", "blocked_permissions": ["usb"]},
            "aaa,bbb": {"installation_mode": "allowed"},
            "ccc": {"runtime_blocked_hosts": ["*://*.example.com"]}
        }}"#;
        let ext = parse_chromium(text).unwrap();
        assert!(ext.blocks_others);
        assert_eq!(ext.allow.iter().map(String::as_str).collect::<Vec<_>>(), ["aaa", "bbb"]);
        let as_string = r#"{"ExtensionSettings": "{\"*\": {\"installation_mode\": \"blocked\"}}"}"#;
        assert!(parse_chromium(as_string).unwrap().blocks_others);
        assert!(parse_chromium("{ \"ExtensionInstallBlocklist\": [\"*\"], }").is_err());
        assert!(parse_chromium("[]").is_err());
    }

    #[test]
    fn reads_firefox_extension_settings() {
        let ext = parse_firefox(FIREFOX_POLICY).unwrap();
        assert!(ext.blocks_others);
        assert_eq!(
            ext.allow.iter().map(String::as_str).collect::<Vec<_>>(),
            ["langpack-vi@firefox.mozilla.org", "uBlock0@raymondhill.net"]
        );
        let open = parse_firefox(r#"{"policies": {"DisableTelemetry": true}}"#).unwrap();
        assert_eq!(open, Extensions::default());
        assert!(parse_firefox(r#"{"DisableTelemetry": true}"#).is_err());
    }
}

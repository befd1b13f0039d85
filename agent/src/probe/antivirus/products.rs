//! Anti-malware products other than ClamAV, described as data.
//!
//! Vendors expose their state only through their own tools, each with its own
//! output; the table (`agent/data/antivirus-products.toml`, compiled in, plus
//! `[[antivirus.product]]` entries of the agent configuration) says how to
//! recognise each product and how to read its status, so that adding a
//! product is a table entry, not code.
//!
//! ```toml
//! [[product]]
//! id = "mdatp"
//! name = "Microsoft Defender for Endpoint"
//! vendor = "Microsoft"
//! processes = ["wdavdaemon"]            # running when one of these runs
//! paths = ["/opt/microsoft/mdatp"]      # installed when one of these exists
//! [product.status]
//! command = ["/usr/bin/mdatp", "health", "--output", "json"]
//! format = "json"                       # or "text": `Key: value` lines
//! [product.status.fields]
//! realtime = "/realTimeProtectionEnabled/value"     # JSON pointer, or the text key
//! signature_time = { path = "/definitionsUpdated", parse = "unix_ms" }
//! ```

use crate::probe::command;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::AvProduct;
use khien_proto::{Platform, Timestamp};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

const PROBE: &str = "antivirus.products";

/// The built-in table.
const BUILTIN: &str = include_str!("../../../data/antivirus-products.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSpec {
    pub id: String,
    pub name: String,
    pub vendor: String,
    #[serde(default = "linux_only")]
    pub platforms: Vec<Platform>,
    #[serde(default)]
    pub processes: Vec<String>,
    /// systemd units (`mdatp.service`); running when the unit's control group holds a process.
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    /// The product scans on access whenever its service runs, and has no separate switch to read.
    #[serde(default)]
    pub realtime_when_running: bool,
    pub status: Option<StatusSpec>,
}

fn linux_only() -> Vec<Platform> {
    vec![Platform::Linux]
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusSpec {
    /// Absolute path of the vendor tool, then its arguments.
    pub command: Vec<String>,
    pub format: StatusFormat,
    /// Between key and value in `text` output.
    #[serde(default = "colon")]
    pub separator: String,
    pub fields: BTreeMap<Field, FieldSpec>,
}

fn colon() -> String {
    ":".into()
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StatusFormat {
    Json,
    Text,
}

/// The product facts a status output can fill.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Realtime,
    ProductVersion,
    EngineVersion,
    SignatureVersion,
    SignatureTime,
    AutoUpdate,
    Mode,
    Managed,
    LastScan,
}

impl Field {
    fn default_parse(self) -> Parse {
        match self {
            Field::Realtime | Field::AutoUpdate | Field::Managed => Parse::Bool,
            Field::SignatureTime | Field::LastScan => Parse::Rfc3339,
            _ => Parse::Text,
        }
    }

    fn is_time(self) -> bool {
        matches!(self, Field::SignatureTime | Field::LastScan)
    }

    fn is_bool(self) -> bool {
        matches!(self, Field::Realtime | Field::AutoUpdate | Field::Managed)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum FieldSpec {
    Path(String),
    Full { path: String, parse: Parse },
}

impl FieldSpec {
    fn path(&self) -> &str {
        match self {
            FieldSpec::Path(p) | FieldSpec::Full { path: p, .. } => p,
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Parse {
    Text,
    Bool,
    /// Seconds since the epoch.
    UnixS,
    /// Milliseconds since the epoch.
    UnixMs,
    Rfc3339,
    /// `YYYY-MM-DD`, optionally followed by anything (a time is ignored).
    Date,
    /// `YYYYMMDD`.
    CompactDate,
}

impl ProductSpec {
    /// Checks what serde cannot: the values that make an entry usable.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() || !self.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(format!("id {:?} must be lower-case letters, digits and dashes", self.id));
        }
        if self.processes.is_empty() && self.services.is_empty() && self.paths.is_empty() {
            return Err("needs `processes`, `services` or `paths` to recognise the product".into());
        }
        if let Some(s) = self.services.iter().find(|s| !s.ends_with(".service") || s.contains('/')) {
            return Err(format!("service {s:?} must be a unit name ending in .service"));
        }
        if let Some(p) = self.paths.iter().find(|p| !p.starts_with('/')) {
            return Err(format!("path {p:?} must be absolute"));
        }
        if let Some(status) = &self.status {
            match status.command.first() {
                Some(c) if c.starts_with('/') => {}
                _ => return Err("status.command must start with the tool's absolute path".into()),
            }
            for (field, spec) in &status.fields {
                let parse = match spec {
                    FieldSpec::Full { parse, .. } => *parse,
                    FieldSpec::Path(_) => field.default_parse(),
                };
                let time_parse = matches!(
                    parse,
                    Parse::UnixS | Parse::UnixMs | Parse::Rfc3339 | Parse::Date | Parse::CompactDate
                );
                if field.is_time() != time_parse || (field.is_bool() && parse != Parse::Bool) {
                    return Err(format!("status.fields.{field:?}: parse {parse:?} does not fit this field"));
                }
                if status.format == StatusFormat::Json && !spec.path().starts_with('/') {
                    return Err(format!(
                        "status.fields.{field:?}: a JSON field path is a JSON pointer starting with `/`"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    product: Vec<ProductSpec>,
}

/// The built-in table; a broken one fails the build's tests, never a running agent.
pub fn builtin() -> Vec<ProductSpec> {
    match toml::from_str::<Table>(BUILTIN) {
        Ok(t) => t.product,
        Err(_) => Vec::new(),
    }
}

/// The product, when installed on this machine.
pub fn probe(ctx: &ProbeContext<'_>, spec: &ProductSpec, errors: &mut Errors) -> Option<AvProduct> {
    let running = spec.processes.iter().any(|p| ctx.processes.running(p)) || spec.services.iter().any(|s| service_active(ctx, s));
    let installed_path = spec.paths.iter().find(|p| ctx.root.exists(p.as_str()));
    if !running && installed_path.is_none() {
        return None;
    }
    let mut product = AvProduct {
        id: spec.id.clone(),
        name: spec.name.clone(),
        vendor: spec.vendor.clone(),
        installed: true,
        running,
        realtime: spec.realtime_when_running.then_some(running),
        source: "process".into(),
        ..AvProduct::default()
    };
    if let Some(p) = installed_path {
        product.details.insert("path".into(), p.clone());
    }
    let Some(status) = &spec.status else { return Some(product) };
    let tool = &status.command[0];
    // Vendor tools run on the real machine only; a test root has none.
    if !ctx.root.is_system() || !Path::new(tool).is_file() {
        return Some(product);
    }
    let args: Vec<&str> = status.command[1..].iter().map(String::as_str).collect();
    match command::run(Path::new(tool), &args, ctx.command_timeout) {
        Ok(out) if out.success() => {
            product.reachable = Some(true);
            product.source = "cli".into();
            if let Err(e) = apply_status(&mut product, status, &out.stdout) {
                errors.push(PROBE, format!("{}: {e}", spec.id));
            }
        }
        Ok(out) => {
            product.reachable = Some(false);
            errors.push(
                PROBE,
                format!(
                    "{}: {} exited with {}: {}",
                    spec.id,
                    status.command.join(" "),
                    out.status,
                    out.stderr.trim()
                ),
            );
        }
        Err(e) => {
            product.reachable = Some(false);
            errors.push(PROBE, format!("{}: {e}", spec.id));
        }
    }
    Some(product)
}

/// A systemd unit is active when its control group holds a process: read from
/// cgroupfs (v2, then v1's systemd hierarchy), without asking systemd.
fn service_active(ctx: &ProbeContext<'_>, unit: &str) -> bool {
    [
        format!("/sys/fs/cgroup/system.slice/{unit}/cgroup.procs"),
        format!("/sys/fs/cgroup/systemd/system.slice/{unit}/cgroup.procs"),
    ]
    .iter()
    .any(|p| {
        ctx.root
            .read_optional(p)
            .ok()
            .flatten()
            .is_some_and(|procs| !procs.trim().is_empty())
    })
}

/// Fills product facts from a status output.
pub fn apply_status(product: &mut AvProduct, status: &StatusSpec, output: &str) -> Result<(), String> {
    let json = match status.format {
        StatusFormat::Json => {
            Some(serde_json::from_str::<serde_json::Value>(output).map_err(|e| format!("status output is not JSON: {e}"))?)
        }
        StatusFormat::Text => None,
    };
    let text: BTreeMap<&str, &str> = match status.format {
        StatusFormat::Text => output
            .lines()
            .filter_map(|l| l.split_once(status.separator.as_str()))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect(),
        StatusFormat::Json => BTreeMap::new(),
    };
    let mut missing = Vec::new();
    for (field, spec) in &status.fields {
        let raw: Option<String> = match &json {
            Some(j) => j.pointer(spec.path()).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            }),
            None => text.get(spec.path()).map(|s| s.to_string()),
        };
        let Some(raw) = raw else {
            missing.push(spec.path().to_string());
            continue;
        };
        let parse = match spec {
            FieldSpec::Full { parse, .. } => *parse,
            FieldSpec::Path(_) => field.default_parse(),
        };
        match field {
            Field::Realtime => product.realtime = parse_bool(&raw),
            Field::AutoUpdate => product.auto_update = parse_bool(&raw),
            Field::Managed => product.managed = parse_bool(&raw),
            Field::ProductVersion => product.product_version = Some(raw),
            Field::EngineVersion => product.engine_version = Some(raw),
            Field::SignatureVersion => product.signature_version = Some(raw),
            Field::Mode => product.mode = Some(raw),
            Field::SignatureTime => product.signature_time = parse_time(&raw, parse),
            Field::LastScan => product.last_scan = parse_time(&raw, parse),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("status output lacks {}", missing.join(", ")))
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" | "enabled" | "running" | "active" => Some(true),
        "false" | "off" | "no" | "0" | "disabled" | "stopped" | "inactive" => Some(false),
        _ => None,
    }
}

fn parse_time(raw: &str, parse: Parse) -> Option<Timestamp> {
    let raw = raw.trim();
    let date = |y: &str, m: &str, d: &str| -> Option<Timestamp> {
        let date =
            time::Date::from_calendar_date(y.parse().ok()?, time::Month::try_from(m.parse::<u8>().ok()?).ok()?, d.parse().ok()?).ok()?;
        Some(Timestamp::from(date.midnight().assume_utc()))
    };
    match parse {
        Parse::UnixS => raw.parse::<f64>().ok().and_then(|s| Timestamp::from_unix(s as i64)),
        Parse::UnixMs => raw.parse::<f64>().ok().and_then(|ms| Timestamp::from_unix_millis(ms as i64)),
        Parse::Rfc3339 => Timestamp::parse(raw).ok(),
        Parse::Date => date(raw.get(0..4)?, raw.get(5..7)?, raw.get(8..10)?),
        Parse::CompactDate => date(raw.get(0..4)?, raw.get(4..6)?, raw.get(6..8)?),
        Parse::Text | Parse::Bool => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_validates() {
        let table: Table = toml::from_str(BUILTIN).expect("agent/data/antivirus-products.toml must parse");
        assert!(table.product.len() >= 5);
        let mut ids = std::collections::BTreeSet::new();
        for p in &table.product {
            p.validate().unwrap_or_else(|e| panic!("{}: {e}", p.id));
            assert!(ids.insert(p.id.clone()), "duplicate id {}", p.id);
        }
        assert_eq!(builtin().len(), table.product.len());
    }

    fn spec(id: &str) -> ProductSpec {
        builtin().into_iter().find(|p| p.id == id).unwrap()
    }

    #[test]
    fn reads_mdatp_health_json() {
        // Shape of `mdatp health --output json` (Defender for Endpoint on Linux, 101.x).
        let out = r#"{"healthy":true,"healthIssues":[],"licensed":true,"engineVersion":"1.1.24090.3001",
            "appVersion":"101.24092.0004","orgId":"0000","definitionsUpdated":1795330000000,
            "definitionsUpdatedMinutesAgo":95,"definitionsVersion":"1.421.133.0",
            "definitionsStatus":{"$type":"upToDate"},"realTimeProtectionEnabled":{"value":true,"scope":"global"},
            "passiveModeEnabled":{"value":false,"scope":"local"},"automaticDefinitionUpdateEnabled":true,
            "managedBy":"MDE","behaviorMonitoring":"enabled"}"#;
        let mut p = AvProduct::default();
        apply_status(&mut p, spec("mdatp").status.as_ref().unwrap(), out).unwrap();
        assert_eq!(p.realtime, Some(true));
        assert_eq!(p.signature_version.as_deref(), Some("1.421.133.0"));
        assert_eq!(p.product_version.as_deref(), Some("101.24092.0004"));
        assert_eq!(p.signature_time.unwrap().unix(), 1_795_330_000);
    }

    #[test]
    fn reads_text_status_and_reports_missing_keys() {
        let out = "Version:                           12.1.0.1297\nLast release date of databases:    2026-11-20 06:31:00\n\
                   License expiration date:           2027-03-01\n";
        let mut p = AvProduct::default();
        let err = apply_status(&mut p, spec("kesl").status.as_ref().unwrap(), out);
        assert_eq!(p.product_version.as_deref(), Some("12.1.0.1297"));
        assert_eq!(p.signature_time.unwrap().to_string(), "2026-11-20T00:00:00Z");
        assert!(err.is_ok(), "{err:?}");
        let err = apply_status(&mut p, spec("kesl").status.as_ref().unwrap(), "Version: 1\n").unwrap_err();
        assert!(err.contains("Last release date of databases"), "{err}");
    }

    #[test]
    fn invalid_entries_are_refused() {
        let mut s = spec("mdatp");
        s.status.as_mut().unwrap().command[0] = "mdatp".into();
        assert!(s.validate().unwrap_err().contains("absolute"));
        let mut s = spec("mdatp");
        s.processes.clear();
        s.services.clear();
        s.paths.clear();
        assert!(s.validate().is_err());
    }

    #[test]
    fn a_unit_with_processes_in_its_control_group_is_running() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().join("sys/fs/cgroup/system.slice/mdatp.service");
        std::fs::create_dir_all(&cg).unwrap();
        std::fs::write(cg.join("cgroup.procs"), "812\n").unwrap();
        let config = crate::config::ProbeConfig::default();
        let ctx = ProbeContext::new(crate::probe::root::Root::new(dir.path()), Default::default(), &config);
        let mut errors = Errors::default();
        let p = probe(&ctx, &spec("mdatp"), &mut errors).expect("installed: its unit runs");
        assert!(p.running);
        std::fs::write(cg.join("cgroup.procs"), "").unwrap();
        assert!(
            probe(&ctx, &spec("mdatp"), &mut errors).is_none(),
            "an empty unit and no install path: not installed"
        );
        let mut bad = spec("mdatp");
        bad.services = vec!["mdatp".into()];
        assert!(bad.validate().unwrap_err().contains(".service"));
    }

    #[test]
    fn parses_dates_and_booleans() {
        assert_eq!(
            parse_time("20261120", Parse::CompactDate).unwrap().to_string(),
            "2026-11-20T00:00:00Z"
        );
        assert_eq!(parse_time("2026-13-01", Parse::Date), None);
        assert_eq!(parse_bool("On"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
    }
}

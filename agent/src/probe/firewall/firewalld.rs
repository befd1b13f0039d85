//! firewalld, from its configuration and whether its daemon runs.
//!
//! Asking the daemon needs D-Bus; the default zone's target in its XML says
//! the same about inbound traffic, and the process list says whether it is
//! enforced. What firewalld actually programmed shows up under nftables.

use super::{PROBE, flag};
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::FirewallBackend;
use std::collections::BTreeMap;

pub const NAME: &str = "firewalld";

const CONF: &str = "/etc/firewalld/firewalld.conf";

/// Where firewalld looks for a zone: the administrator's copy first, then the packaged one.
const ZONE_DIRS: [&str; 2] = ["/etc/firewalld/zones", "/usr/lib/firewalld/zones"];

/// firewalld's own default when firewalld.conf does not name one.
pub const DEFAULT_ZONE: &str = "public";

/// `DefaultZone=` of firewalld.conf, or firewalld's built-in default.
pub fn parse_default_zone(conf: &str) -> String {
    conf.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == "DefaultZone")
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .rfind(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_ZONE.to_string())
}

/// The `target` attribute of the `<zone>` element, `None` when it has none.
///
/// A zone file is small and fixed in shape; scanning for the element is
/// enough and keeps an XML parser out of the agent. Comments are skipped so a
/// commented-out `<zone target="ACCEPT">` does not count.
pub fn parse_zone_target(xml: &str) -> Result<Option<String>, String> {
    let mut rest = xml;
    loop {
        let Some(start) = rest.find('<') else {
            return Err("no <zone> element".to_string());
        };
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or("unterminated comment")?;
            rest = &after[end + 3..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("<zone")
            && after.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/')
        {
            let end = after.find('>').ok_or("unterminated <zone> element")?;
            return attribute(&after[..end], "target");
        }
        rest = &rest[1..];
    }
}

/// One attribute's value from the inside of a start tag (`version="1.0" target="DROP"`).
fn attribute(tag: &str, name: &str) -> Result<Option<String>, String> {
    let mut rest = tag.trim_start();
    while !rest.is_empty() && rest != "/" {
        let eq = rest.find('=').ok_or_else(|| format!("malformed attributes in <zone{tag}>"))?;
        let key = rest[..eq].trim();
        let value = rest[eq + 1..].trim_start();
        let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'');
        let quote = quote.ok_or_else(|| format!("unquoted attribute {key} in <zone{tag}>"))?;
        let body = &value[1..];
        let close = body
            .find(quote)
            .ok_or_else(|| format!("unterminated attribute {key} in <zone{tag}>"))?;
        if key == name {
            return Ok(Some(body[..close].to_string()));
        }
        rest = body[close + 1..].trim_start();
    }
    Ok(None)
}

/// The inbound verdict for traffic a zone does not allow: `(input_policy, denies)`.
///
/// `default` (and no target at all) rejects everything but ICMP, so it denies.
pub fn target_policy(target: Option<&str>) -> Option<(&'static str, bool)> {
    match target.unwrap_or("default") {
        "default" | "%%REJECT%%" | "REJECT" => Some(("reject", true)),
        "DROP" => Some(("drop", true)),
        "ACCEPT" => Some(("accept", false)),
        _ => None,
    }
}

/// The backend's facts; pure so zone files can be checked anywhere.
///
/// `target` is `None` when the zone file could not be read, `Some(None)` when the zone sets no target.
pub fn backend(present: bool, active: bool, zone: &str, target: Option<Option<&str>>) -> FirewallBackend {
    let policy = target.and_then(target_policy);
    let mut details = BTreeMap::new();
    details.insert("default_zone".to_string(), zone.to_string());
    if let Some(t) = target {
        details.insert("zone_target".to_string(), t.unwrap_or("default").to_string());
    }
    let denies = policy.map(|(_, d)| d);
    flag(&mut details, "zone_denies", denies);
    FirewallBackend {
        name: NAME.to_string(),
        present,
        active,
        input_policy: policy.map(|(p, _)| p.to_string()),
        rules: None,
        // A zone that is not loaded filters nothing.
        inbound_default_deny: if active { denies } else { Some(false) },
        details,
    }
}

/// The firewalld backend.
pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> FirewallBackend {
    let root = &ctx.root;
    let present = root.exists("/usr/sbin/firewalld") || root.exists("/etc/firewalld");
    let active = ctx.processes.running("firewalld");
    if !present {
        return backend(false, active, DEFAULT_ZONE, None);
    }
    // A leftover configuration of an uninstalled firewalld is not worth an error; a running one is.
    let mut report = |message: String| {
        if active {
            errors.push(PROBE, format!("{NAME}: {message}"));
        }
    };
    let zone = match root.read_optional(CONF) {
        Ok(text) => parse_default_zone(text.as_deref().unwrap_or_default()),
        Err(e) => {
            report(describe(CONF, &e));
            DEFAULT_ZONE.to_string()
        }
    };
    // The name becomes part of a path; a name that climbs out of the zones folder is not a zone.
    if zone.contains('/') || zone.starts_with('.') {
        report(format!("default zone {zone:?} is not a zone name"));
        return backend(true, active, &zone, None);
    }
    let target = ZONE_DIRS
        .iter()
        .find_map(|dir| {
            let path = format!("{dir}/{zone}.xml");
            match root.read_optional(&path) {
                Ok(None) => None,
                Ok(Some(xml)) => Some(parse_zone_target(&xml).map_err(|e| format!("{path}: {e}"))),
                Err(e) => Some(Err(describe(&path, &e))),
            }
        })
        .unwrap_or_else(|| Err(format!("no zone file for the default zone {zone:?}")));
    let target = match target {
        Ok(t) => Some(t),
        Err(e) => {
            report(e);
            None
        }
    };
    if let Some(Some(t)) = &target
        && target_policy(Some(t)).is_none()
    {
        report(format!("zone {zone:?} has an unknown target {t:?}"));
    }
    backend(true, active, &zone, target.as_ref().map(Option::as_deref))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::{Process, Processes};
    use crate::probe::root::Root;

    /// /usr/lib/firewalld/zones/public.xml as firewalld 1.3 ships it: no target, so `default`.
    const PUBLIC: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <description>For use in public areas. You do not trust the other computers on networks to not harm your computer. Only selected incoming connections are accepted.</description>
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
  <forward/>
</zone>
"#;

    /// trusted.xml: everything is accepted.
    const TRUSTED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- <zone target="DROP"> kept for reference -->
<zone target="ACCEPT">
  <short>Trusted</short>
  <description>All network connections are accepted.</description>
  <forward/>
</zone>
"#;

    fn firewalld() -> Process {
        Process {
            pid: 812,
            comm: "firewalld".to_string(),
            argv0: "python3".to_string(),
            args: vec!["/usr/sbin/firewalld".to_string(), "--nofork".to_string()],
        }
    }

    fn fake_root(conf: Option<&str>, etc_zone: Option<(&str, &str)>, lib_zone: Option<(&str, &str)>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/firewalld/zones")).unwrap();
        std::fs::create_dir_all(dir.path().join("usr/lib/firewalld/zones")).unwrap();
        if let Some(c) = conf {
            std::fs::write(dir.path().join("etc/firewalld/firewalld.conf"), c).unwrap();
        }
        if let Some((name, xml)) = etc_zone {
            std::fs::write(dir.path().join(format!("etc/firewalld/zones/{name}.xml")), xml).unwrap();
        }
        if let Some((name, xml)) = lib_zone {
            std::fs::write(dir.path().join(format!("usr/lib/firewalld/zones/{name}.xml")), xml).unwrap();
        }
        dir
    }

    fn run(dir: &std::path::Path, running: bool) -> (FirewallBackend, Errors) {
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(
            Root::new(dir),
            Processes(if running { vec![firewalld()] } else { Vec::new() }),
            &config,
        );
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    #[test]
    fn reads_the_zone_target() {
        assert_eq!(parse_zone_target(PUBLIC).unwrap(), None);
        assert_eq!(parse_zone_target(TRUSTED).unwrap().as_deref(), Some("ACCEPT"));
        assert_eq!(
            parse_zone_target("<zone version='1.0' target='%%REJECT%%'/>").unwrap().as_deref(),
            Some("%%REJECT%%")
        );
        assert_eq!(
            parse_zone_target("<zones><zone target=\"DROP\"></zone></zones>")
                .unwrap()
                .as_deref(),
            Some("DROP")
        );
        assert_eq!(
            parse_zone_target("<zone data-target=\"x\" target=\"DROP\">").unwrap().as_deref(),
            Some("DROP")
        );
        assert!(parse_zone_target("<policy target=\"ACCEPT\"/>").is_err());
        assert!(parse_zone_target("<zone target=DROP>").is_err());
    }

    #[test]
    fn reads_the_default_zone() {
        assert_eq!(
            parse_default_zone("# DefaultZone=home\nDefaultZone=trusted\nLogDenied=off\n"),
            "trusted"
        );
        assert_eq!(parse_default_zone("LogDenied=off\n"), "public");
        assert_eq!(parse_default_zone("DefaultZone=\n"), "public");
    }

    #[test]
    fn maps_targets_to_verdicts() {
        assert_eq!(target_policy(None), Some(("reject", true)));
        assert_eq!(target_policy(Some("default")), Some(("reject", true)));
        assert_eq!(target_policy(Some("%%REJECT%%")), Some(("reject", true)));
        assert_eq!(target_policy(Some("DROP")), Some(("drop", true)));
        assert_eq!(target_policy(Some("ACCEPT")), Some(("accept", false)));
        assert_eq!(target_policy(Some("CONTINUE")), None);
    }

    #[test]
    fn running_with_the_default_public_zone_denies() {
        let dir = fake_root(Some("DefaultZone=public\n"), None, Some(("public", PUBLIC)));
        let (b, errors) = run(dir.path(), true);
        assert!(errors.0.is_empty(), "{errors:?}");
        assert!(b.present && b.active);
        assert_eq!(b.input_policy.as_deref(), Some("reject"));
        assert_eq!(b.inbound_default_deny, Some(true));
        assert_eq!(b.details["default_zone"], "public");
        assert_eq!(b.details["zone_target"], "default");
    }

    #[test]
    fn an_accepting_zone_in_etc_overrides_the_packaged_one() {
        let dir = fake_root(Some("DefaultZone=public\n"), Some(("public", TRUSTED)), Some(("public", PUBLIC)));
        let (b, _) = run(dir.path(), true);
        assert_eq!(b.input_policy.as_deref(), Some("accept"));
        assert_eq!(b.inbound_default_deny, Some(false));
        assert_eq!(b.details["zone_target"], "ACCEPT");
    }

    #[test]
    fn not_running_does_not_deny() {
        let dir = fake_root(None, None, Some(("public", PUBLIC)));
        let (b, errors) = run(dir.path(), false);
        assert!(b.present && !b.active);
        assert_eq!(b.inbound_default_deny, Some(false));
        assert_eq!(b.details["default_zone"], "public");
        assert!(errors.0.is_empty());
    }

    #[test]
    fn a_missing_zone_file_is_an_error_when_running() {
        let dir = fake_root(Some("DefaultZone=work\n"), None, Some(("public", PUBLIC)));
        let (b, errors) = run(dir.path(), true);
        assert_eq!(b.inbound_default_deny, None);
        assert_eq!(b.input_policy, None);
        assert_eq!(errors.0.len(), 1);
        assert!(
            errors.0[0].message.starts_with("firewalld: no zone file for the default zone"),
            "{errors:?}"
        );
        let dir = fake_root(Some("DefaultZone=../../etc/passwd\n"), None, None);
        let (b, errors) = run(dir.path(), true);
        assert_eq!(b.inbound_default_deny, None);
        assert!(errors.0[0].message.contains("not a zone name"), "{errors:?}");
    }

    #[test]
    fn absent_without_binary_or_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let (b, errors) = run(dir.path(), true);
        assert!(!b.present);
        assert!(errors.0.is_empty());
    }
}

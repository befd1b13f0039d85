//! Membership of a central account directory (TK-08), from the configuration
//! of the services that bring directory accounts to the machine: SSSD (also
//! what `realm join` and FreeIPA set up), Samba winbind, and nslcd for plain
//! LDAP. `realm list` would ask realmd over D-Bus; its answer comes from the
//! same files.

use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::Directory;

const PROBE: &str = "directory";
const SSSD_CONF: &str = "/etc/sssd/sssd.conf";
const SSSD_CONF_D: &str = "/etc/sssd/conf.d";
const IPA_CONF: &str = "/etc/ipa/default.conf";
const SMB_CONF: &str = "/etc/samba/smb.conf";
const KEYTAB: &str = "/etc/krb5.keytab";
const NSLCD_CONF: &str = "/etc/nslcd.conf";

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Directory {
    let mut dir = Directory::default();
    // Each configured service, in order of preference: (kind, joined).
    let mut found: Vec<(&str, bool)> = Vec::new();
    let read = |path: &str, errors: &mut Errors| match ctx.root.read_optional(path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(PROBE, describe(ctx.root.path(path), &e));
            None
        }
    };

    // SSSD: the main file, then its snippets, which sssd merges over it.
    let mut sssd_files = vec![SSSD_CONF.to_string()];
    match ctx.root.list(SSSD_CONF_D) {
        Ok(names) => sssd_files.extend(names.iter().filter(|n| n.ends_with(".conf")).map(|n| format!("{SSSD_CONF_D}/{n}"))),
        Err(e) => errors.push(PROBE, describe(ctx.root.path(SSSD_CONF_D), &e)),
    }
    let mut sssd_text = String::new();
    for file in &sssd_files {
        if let Some(text) = read(file, errors) {
            sssd_text.push_str(&text);
            sssd_text.push('\n');
            dir.sources.push(file.clone());
        }
    }
    if !dir.sources.is_empty() {
        let domains = parse_sssd_domains(&sssd_text);
        found.push(("sssd", !domains.is_empty()));
        add_domains(&mut dir, domains);
    }
    // A FreeIPA client: ipa-client-install writes this file and configures sssd.
    if let Some(text) = read(IPA_CONF, errors)
        && let Some(domain) = parse_ipa_domain(&text)
    {
        found.push(("sssd", true));
        add_domains(&mut dir, vec![domain]);
        dir.sources.push(IPA_CONF.into());
    }

    // Samba as a domain member: accounts through winbind, the machine secret in the keytab.
    if let Some(text) = read(SMB_CONF, errors)
        && let Some(member) = parse_smb_membership(&text)
    {
        let keytab = ctx.root.exists(KEYTAB);
        found.push(("winbind", keytab));
        add_domains(&mut dir, member.domain.into_iter().collect());
        dir.sources.push(SMB_CONF.into());
        if keytab {
            dir.sources.push(KEYTAB.into());
        }
    }

    // Plain LDAP through nslcd: accounts come from the server as soon as one is named.
    if let Some(text) = read(NSLCD_CONF, errors) {
        let conf = parse_nslcd(&text);
        if !conf.uris.is_empty() {
            found.push(("ldap", true));
            add_domains(&mut dir, conf.bases);
            dir.sources.push(NSLCD_CONF.into());
        }
    }

    dir.joined = found.iter().any(|(_, joined)| *joined);
    dir.kind = found
        .iter()
        .find(|(_, joined)| *joined == dir.joined)
        .map(|(kind, _)| kind.to_string());
    dir
}

fn add_domains(dir: &mut Directory, domains: Vec<String>) {
    for d in domains {
        if !dir.domains.iter().any(|x| x.eq_ignore_ascii_case(&d)) {
            dir.domains.push(d);
        }
    }
}

/// `key = value` lines under `[section]` headers, as sssd, Samba and IPA
/// write them; section and key names lower-cased, `#` and `;` lines skipped.
fn ini(text: &str) -> impl Iterator<Item = (String, String, &str)> {
    let mut section = String::new();
    text.lines().filter_map(move |line| {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            return None;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_ascii_lowercase();
            return None;
        }
        let (key, value) = line.split_once('=')?;
        Some((section.clone(), key.trim().to_ascii_lowercase(), value.trim()))
    })
}

/// Domains sssd serves: `[sssd] domains = a, b`, plus `[domain/x]` sections
/// with `enabled = true` (sssd 2.x no longer needs them listed).
pub fn parse_sssd_domains(text: &str) -> Vec<String> {
    let mut domains: Vec<String> = Vec::new();
    for (section, key, value) in ini(text) {
        let found: Vec<String> = match (section.as_str(), key.as_str()) {
            ("sssd", "domains") => value.split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect(),
            (s, "enabled") if s.starts_with("domain/") && matches!(value.to_ascii_lowercase().as_str(), "true" | "1") => {
                vec![s["domain/".len()..].to_string()]
            }
            _ => continue,
        };
        for d in found {
            if !domains.iter().any(|x| x.eq_ignore_ascii_case(&d)) {
                domains.push(d);
            }
        }
    }
    domains
}

/// `[global] domain =` of `/etc/ipa/default.conf`.
pub fn parse_ipa_domain(text: &str) -> Option<String> {
    ini(text)
        .find(|(section, key, value)| section == "global" && key == "domain" && !value.is_empty())
        .map(|(_, _, value)| value.to_string())
}

#[derive(Debug, PartialEq, Eq)]
pub struct SmbMembership {
    /// The Kerberos realm for AD, else the workgroup (NT4-style domain).
    pub domain: Option<String>,
}

/// Samba configured as a member of a domain: `security = ads` (Active
/// Directory) or `security = domain` (NT4-style), in `[global]`.
pub fn parse_smb_membership(text: &str) -> Option<SmbMembership> {
    let (mut security, mut realm, mut workgroup) = (None, None, None);
    for (section, key, value) in ini(text) {
        if section != "global" || value.is_empty() {
            continue;
        }
        match key.as_str() {
            "security" => security = Some(value.to_ascii_lowercase()),
            "realm" => realm = Some(value.to_string()),
            "workgroup" => workgroup = Some(value.to_string()),
            _ => {}
        }
    }
    match security.as_deref() {
        Some("ads") => Some(SmbMembership {
            domain: realm.or(workgroup),
        }),
        Some("domain") => Some(SmbMembership { domain: workgroup }),
        _ => None,
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct NslcdConf {
    pub uris: Vec<String>,
    /// Search bases (`dc=bo,dc=gov,dc=vn`), reported as the directory's domains.
    pub bases: Vec<String>,
}

/// `nslcd.conf(5)`: `keyword value…` lines; `uri` may repeat and list several
/// servers; `base` may be prefixed by a map name (`base passwd ou=…`).
pub fn parse_nslcd(text: &str) -> NslcdConf {
    let mut conf = NslcdConf::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("uri") => conf.uris.extend(words.map(str::to_string)),
            Some("base") => {
                if let Some(base) = words.next_back()
                    && !conf.bases.iter().any(|b| b == base)
                {
                    conf.bases.push(base.to_string());
                }
            }
            _ => {}
        }
    }
    conf
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;
    use crate::probe::testing::write;

    pub(crate) const SSSD_CONF_TEXT: &str = "\
[sssd]
domains = bo.gov.vn
config_file_version = 2
services = nss, pam

[domain/bo.gov.vn]
default_shell = /bin/bash
krb5_store_password_if_offline = True
cache_credentials = True
krb5_realm = BO.GOV.VN
realmd_tags = manages-system joined-with-adcli
id_provider = ad
fallback_homedir = /home/%u@%d
ad_domain = bo.gov.vn
use_fully_qualified_names = True
ldap_id_mapping = True
access_provider = ad
";

    pub(crate) const SMB_CONF_TEXT: &str = "\
# Global parameters
[global]
   workgroup = BOTC
   realm = BOTC.GOV.VN
   security = ADS
   idmap config * : backend = tdb
   idmap config * : range = 3000-7999
   idmap config BOTC : backend = rid
   idmap config BOTC : range = 10000-999999
   template shell = /bin/bash
   winbind use default domain = yes

[homes]
   comment = Home Directories
   browseable = no
";

    #[test]
    fn reads_sssd_domains() {
        assert_eq!(parse_sssd_domains(SSSD_CONF_TEXT), vec!["bo.gov.vn"]);
        let two = "[sssd]\ndomains = a.vn, b.vn ,\n[domain/c.vn]\nenabled = true\n[domain/d.vn]\nenabled = false\n";
        assert_eq!(parse_sssd_domains(two), vec!["a.vn", "b.vn", "c.vn"]);
        assert!(parse_sssd_domains("[sssd]\n# domains = x\nservices = nss\n").is_empty());
    }

    #[test]
    fn reads_samba_membership_ipa_and_nslcd() {
        assert_eq!(
            parse_smb_membership(SMB_CONF_TEXT),
            Some(SmbMembership {
                domain: Some("BOTC.GOV.VN".into())
            })
        );
        assert_eq!(
            parse_smb_membership("[global]\n   security = user\n   workgroup = WORKGROUP\n"),
            None
        );
        assert_eq!(
            parse_ipa_domain("[global]\nbasedn = dc=bo,dc=vn\nrealm = BO.VN\ndomain = bo.vn\nserver = ipa1.bo.vn\n").as_deref(),
            Some("bo.vn")
        );
        let nslcd = parse_nslcd(
            "uid nslcd\ngid nslcd\nuri ldap://ldap1.bo.vn ldaps://ldap2.bo.vn\nbase dc=bo,dc=vn\nbase passwd ou=people,dc=bo,dc=vn\n#uri ldap://old\n",
        );
        assert_eq!(nslcd.uris, vec!["ldap://ldap1.bo.vn", "ldaps://ldap2.bo.vn"]);
        assert_eq!(nslcd.bases, vec!["dc=bo,dc=vn", "ou=people,dc=bo,dc=vn"]);
    }

    fn collect_in(root: &std::path::Path) -> (Directory, Errors) {
        let config = ProbeConfig {
            root: root.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(root), Processes::default(), &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    #[test]
    fn a_machine_joined_with_sssd() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), SSSD_CONF, SSSD_CONF_TEXT);
        let (d, errors) = collect_in(dir.path());
        assert!(errors.0.is_empty(), "{errors:?}");
        assert!(d.joined);
        assert_eq!(d.kind.as_deref(), Some("sssd"));
        assert_eq!(d.domains, vec!["bo.gov.vn"]);
        assert_eq!(d.sources, vec![SSSD_CONF]);
    }

    #[test]
    fn samba_is_joined_only_with_its_keytab() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), SMB_CONF, SMB_CONF_TEXT);
        let (d, _) = collect_in(dir.path());
        assert!(!d.joined, "configured, but no machine secret: the join did not happen");
        assert_eq!(d.kind.as_deref(), Some("winbind"));
        assert_eq!(d.domains, vec!["BOTC.GOV.VN"]);
        write(dir.path(), KEYTAB, "\u{5}\u{2}");
        let (d, errors) = collect_in(dir.path());
        assert!(errors.0.is_empty(), "{errors:?}");
        assert!(d.joined);
        assert_eq!(d.sources, vec![SMB_CONF, KEYTAB]);
    }

    #[test]
    fn a_standalone_machine_is_not_joined() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            SMB_CONF,
            "[global]\n   workgroup = WORKGROUP\n   server role = standalone server\n",
        );
        write(dir.path(), NSLCD_CONF, "uid nslcd\ngid nslcd\n#uri ldap://127.0.0.1/\n");
        let (d, errors) = collect_in(dir.path());
        assert!(errors.0.is_empty(), "{errors:?}");
        assert_eq!(d, Directory::default());
    }
}

//! Notable software from a data table (browsers, mail, VPN, remote access,
//! backup and security agents), browser policies and directory membership.
//!
//! Each product of [`table`] is looked for among the installed packages (the
//! packages probe's inventory, dpkg or rpm, which gives its version), then by
//! install path, then by running process.

pub mod browser_policy;
pub mod directory;
pub mod table;
pub mod wazuh;

use super::{Errors, ProbeContext};
use khien_proto::facts::{Directory, Package, Software, SoftwareItem};
use table::{Category, SoftwareSpec};

#[derive(Debug, Default)]
pub struct SoftwareFacts {
    pub software: Software,
    pub directory: Directory,
}

/// `installed` is the package inventory, sorted by name (`Packages::installed`).
pub fn collect(ctx: &ProbeContext<'_>, installed: &[Package], errors: &mut Errors) -> SoftwareFacts {
    let table = table::builtin();
    let mut software = Software::default();
    for spec in &table {
        let Some(mut item) = detect(ctx, spec, installed) else { continue };
        match spec.id.as_str() {
            "wazuh-agent" => wazuh::enrich(ctx, &mut item, "/var/ossec/var/run/wazuh-agentd.state", errors),
            "ossec-agent" => wazuh::enrich(ctx, &mut item, "/var/ossec/var/run/ossec-agentd.state", errors),
            _ => {}
        }
        let list = match spec.category {
            Category::Browser => &mut software.browsers,
            Category::Mail => &mut software.mail_clients,
            Category::Vpn => &mut software.vpn_clients,
            Category::RemoteAccess => &mut software.remote_access,
            Category::Backup => &mut software.backup_agents,
            Category::Security => &mut software.security_agents,
        };
        list.push(item);
    }
    software.browser_policies = browser_policy::collect(ctx, &table, errors);
    SoftwareFacts {
        software,
        directory: directory::collect(ctx, errors),
    }
}

/// The product, when this machine has it.
pub fn detect(ctx: &ProbeContext<'_>, spec: &SoftwareSpec, installed: &[Package]) -> Option<SoftwareItem> {
    let running = (!spec.processes.is_empty()).then(|| spec.processes.iter().any(|p| ctx.processes.running(p)));
    let mut item = SoftwareItem {
        id: spec.id.clone(),
        name: spec.name.clone(),
        family: spec.family.map(|f| f.as_str().to_string()),
        running,
        ..SoftwareItem::default()
    };
    if let Some(package) = spec.packages.iter().find_map(|p| find_package(installed, p)) {
        item.version = Some(package.version.clone());
        item.source = "package".into();
        item.details.insert("package".into(), package.name.clone());
    } else if let Some(path) = spec.paths.iter().find(|p| ctx.root.exists(p.as_str())) {
        item.source = "path".into();
        item.details.insert("path".into(), path.clone());
    } else if running == Some(true) {
        item.source = "process".into();
    } else {
        return None;
    }
    Some(item)
}

/// The first architecture of a package in the sorted inventory.
fn find_package<'a>(installed: &'a [Package], name: &str) -> Option<&'a Package> {
    let i = installed.partition_point(|p| p.name.as_str() < name);
    installed.get(i).filter(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;
    use crate::probe::testing::{process, write};
    use std::path::Path;

    const DPKG_STATUS: &str = "\
Package: firefox-esr
Status: install ok installed
Priority: optional
Section: web
Architecture: amd64
Version: 115.12.0esr-1~deb12u1
Description: Mozilla Firefox web browser - Extended Support Release (ESR)

Package: openvpn
Status: install ok installed
Priority: optional
Section: net
Architecture: amd64
Version: 2.6.3-1+deb12u2
Description: virtual private network daemon

Package: wazuh-agent
Status: install ok installed
Priority: extra
Section: admin
Architecture: amd64
Version: 4.9.2-1
Description: Wazuh helps you to gain security visibility into your infrastructure

Package: thunderbird
Status: deinstall ok config-files
Architecture: amd64
Version: 1:115.12.0-1~deb12u1
Description: mail/news client with RSS, chat and integrated spam filter support
";

    fn collect_in(root: &Path, processes: Processes) -> (SoftwareFacts, Errors) {
        let config = ProbeConfig {
            root: root.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(root), processes, &config);
        let mut errors = Errors::default();
        let packages = crate::probe::packages::collect(&ctx, &mut errors);
        (collect(&ctx, &packages.installed, &mut errors), errors)
    }

    #[test]
    fn a_managed_desktop() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "/var/lib/dpkg/status", DPKG_STATUS);
        write(root, "/var/ossec/etc/ossec.conf", wazuh::tests::OSSEC_CONF_TEXT);
        write(root, "/var/ossec/var/run/wazuh-agentd.state", wazuh::tests::STATE_TEXT);
        write(
            root,
            "/etc/opt/chrome/policies/managed/extensions.json",
            browser_policy::tests::CHROME_POLICY,
        );
        write(
            root,
            "/etc/opt/edge/policies/managed/edge.json",
            r#"{"ExtensionInstallAllowlist": ["odfafepnkmbhccpbejgmiehpchacaeak"]}"#,
        );
        write(root, "/etc/opt/chrome/policies/managed/broken.json", "{\"HomepageLocation\": ");
        write(root, "/etc/firefox/policies/policies.json", browser_policy::tests::FIREFOX_POLICY);
        write(root, "/etc/sssd/sssd.conf", directory::tests::SSSD_CONF_TEXT);
        write(root, "/etc/samba/smb.conf", directory::tests::SMB_CONF_TEXT);
        // Found by path only: AnyDesk from its tarball, TeamViewer by its folder.
        write(root, "/usr/bin/anydesk", "");
        std::fs::create_dir_all(root.join("opt/teamviewer")).unwrap();
        let procs = Processes(vec![process(1, "init"), process(812, "wazuh-agentd"), process(950, "teamviewerd")]);

        let (facts, errors) = collect_in(root, procs);
        let sw = &facts.software;

        assert_eq!(sw.browsers.len(), 1, "{:?}", sw.browsers);
        let ff = &sw.browsers[0];
        assert_eq!((ff.id.as_str(), ff.family.as_deref()), ("firefox-esr", Some("firefox")));
        assert_eq!(ff.version.as_deref(), Some("115.12.0esr-1~deb12u1"));
        assert_eq!((ff.source.as_str(), ff.running), ("package", None));
        assert!(sw.mail_clients.is_empty(), "thunderbird was removed");

        assert_eq!(sw.vpn_clients.len(), 1);
        assert_eq!(sw.vpn_clients[0].id, "openvpn");
        assert_eq!(sw.vpn_clients[0].running, Some(false), "no tunnel up");

        let remote: Vec<_> = sw
            .remote_access
            .iter()
            .map(|i| (i.id.as_str(), i.source.as_str(), i.running))
            .collect();
        assert_eq!(remote, [("teamviewer", "path", Some(true)), ("anydesk", "path", Some(false))]);
        assert_eq!(
            sw.remote_access[1].details.get("path").map(String::as_str),
            Some("/usr/bin/anydesk")
        );

        assert_eq!(sw.security_agents.len(), 1);
        let wazuh = &sw.security_agents[0];
        assert_eq!(wazuh.id, "wazuh-agent");
        assert_eq!(wazuh.version.as_deref(), Some("4.9.2-1"));
        assert_eq!(wazuh.running, Some(true));
        assert_eq!(wazuh.managed, Some(true));
        assert_eq!(wazuh.manager.as_deref(), Some("wazuh.bo-tai-chinh.gov.vn"));
        assert_eq!(wazuh.last_contact.unwrap().to_string(), "2026-11-20T09:59:58Z");
        assert_eq!(wazuh.details.get("status").map(String::as_str), Some("connected"));
        assert_eq!(
            wazuh.details.get("managers").map(String::as_str),
            Some("wazuh.bo-tai-chinh.gov.vn,10.10.1.20")
        );
        assert!(sw.backup_agents.is_empty());

        assert_eq!(sw.browser_policies.len(), 2);
        let chromium = &sw.browser_policies[0];
        assert_eq!(chromium.family, "chromium");
        assert_eq!(
            chromium.files,
            [
                "/etc/opt/chrome/policies/managed/extensions.json",
                "/etc/opt/edge/policies/managed/edge.json"
            ]
        );
        assert!(chromium.blocks_other_extensions);
        assert_eq!(chromium.extension_allowlist.len(), 4);
        assert!(
            chromium
                .extension_allowlist
                .contains(&"odfafepnkmbhccpbejgmiehpchacaeak".to_string())
        );
        let firefox = &sw.browser_policies[1];
        assert_eq!(firefox.family, "firefox");
        assert_eq!(firefox.files, ["/etc/firefox/policies/policies.json"]);
        assert!(firefox.blocks_other_extensions);
        assert_eq!(
            firefox.extension_allowlist,
            ["langpack-vi@firefox.mozilla.org", "uBlock0@raymondhill.net"]
        );

        let d = &facts.directory;
        assert!(d.joined);
        assert_eq!(d.kind.as_deref(), Some("sssd"), "sssd is joined; Samba lacks its keytab");
        assert_eq!(d.domains, ["bo.gov.vn", "BOTC.GOV.VN"]);
        assert_eq!(d.sources, ["/etc/sssd/sssd.conf", "/etc/samba/smb.conf"]);

        assert_eq!(errors.0.len(), 1, "{errors:?}");
        assert_eq!(errors.0[0].probe, "software.browser_policies");
        assert!(errors.0[0].message.contains("broken.json"), "{}", errors.0[0].message);
    }

    #[test]
    fn an_unmanaged_wazuh_agent_found_by_its_process() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "/var/ossec/etc/ossec.conf",
            "<ossec_config>\n  <client>\n    <server>\n      <address>MANAGER_IP</address>\n    </server>\n  </client>\n</ossec_config>\n",
        );
        let (facts, errors) = collect_in(dir.path(), Processes(vec![process(40, "wazuh-agentd")]));
        assert!(errors.0.is_empty(), "{errors:?}");
        let wazuh = &facts.software.security_agents[0];
        assert_eq!((wazuh.source.as_str(), wazuh.running), ("process", Some(true)));
        assert_eq!(
            (wazuh.managed, wazuh.manager.as_deref(), wazuh.last_contact),
            (Some(false), None, None)
        );
        assert_eq!(wazuh.version, None);
    }

    #[test]
    fn an_empty_machine_has_nothing_and_no_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (facts, errors) = collect_in(dir.path(), Processes::default());
        assert!(errors.0.is_empty(), "{errors:?}");
        assert_eq!(facts.software, Software::default());
        assert_eq!(facts.directory, Directory::default());
    }
}

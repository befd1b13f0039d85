use super::*;
use std::path::PathBuf;

fn host(name: &str) -> Facts {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/hosts/macos").join(name);
    assert!(dir.is_dir(), "{} is missing", dir.display());
    decode(&recorded(&dir), Timestamp::parse("2025-03-01T12:00:00Z").unwrap())
}

fn xprotect(facts: &Facts) -> &AvProduct {
    let [p] = facts.antivirus.products.as_slice() else {
        panic!("{:?}", facts.antivirus)
    };
    assert_eq!(p.id, "xprotect");
    p
}

#[test]
fn sonoma_hardened() {
    let f = host("sonoma-hardened");
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    assert_eq!(f.platform, Platform::Macos);
    assert_eq!(f.host.hostname, "mac-ketoan-01");
    assert_eq!(f.host.os.id.as_deref(), Some("macos"));
    assert_eq!(f.host.os.version_id.as_deref(), Some("14.4.1"));
    assert_eq!(f.host.os.version.as_deref(), Some("14.4.1 (23E224)"));
    assert_eq!(f.host.os.pretty_name.as_deref(), Some("macOS Sonoma 14.4.1"));
    assert_eq!(f.host.kernel.as_deref(), Some("23.4.0"));
    assert_eq!(f.host.role, Role::Workstation);

    let mac = f.macos.as_ref().unwrap();
    assert_eq!(mac.gatekeeper_enabled, Some(true));
    assert_eq!(mac.sip.as_deref(), Some("enabled"));
    assert_eq!(mac.sip_enabled, Some(true));
    assert_eq!(mac.filevault.as_deref(), Some("on"));
    assert_eq!(
        mac.firewall,
        ApplicationFirewall {
            enabled: Some(true),
            block_all: Some(true),
            stealth: Some(true)
        }
    );
    assert_eq!(mac.xprotect_version.as_deref(), Some("2192"));
    assert_eq!(mac.security_data_auto_install, Some(true));
    assert_eq!(mac.os_build.as_deref(), Some("23E224"));

    assert!(f.firewall.enabled);
    assert!(f.firewall.inbound_default_deny);
    assert_eq!(f.firewall.backends[0].name, "application-firewall");
    assert_eq!(f.firewall.backends[0].input_policy.as_deref(), Some("drop"));
    assert_eq!(f.disk_encryption.root_encrypted, Some(true));
    assert_eq!(f.disk_encryption.all_encrypted, Some(true));
    assert_eq!(f.disk_encryption.volumes[0].scheme.as_deref(), Some("FileVault"));

    let p = xprotect(&f);
    assert!(p.installed && p.running);
    assert_eq!(p.realtime, None);
    assert_eq!(p.signature_version.as_deref(), Some("2192"));
    // The 2192 entry, not the older 2188 one nor the XProtectPayloads (remediator) one.
    assert_eq!(p.signature_time, Some(Timestamp::parse("2024-04-02T09:30:07Z").unwrap()));
    assert_eq!(mac.xprotect_installed_at, p.signature_time);
    assert_eq!(p.auto_update, Some(true));
    assert_eq!(
        p.details["bundle"],
        "/Library/Apple/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist"
    );
}

#[test]
fn ventura_weak() {
    let f = host("ventura-weak");
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    assert_eq!(f.host.os.pretty_name.as_deref(), Some("macOS Ventura 13.6.4"));
    let mac = f.macos.as_ref().unwrap();
    assert_eq!(mac.gatekeeper_enabled, Some(false));
    assert_eq!(mac.sip_enabled, Some(false));
    assert_eq!(mac.filevault.as_deref(), Some("off"));
    assert_eq!(mac.firewall.enabled, Some(false));
    assert_eq!(mac.firewall.block_all, Some(false));
    assert_eq!(mac.firewall.stealth, Some(false));
    assert_eq!(mac.security_data_auto_install, Some(false));

    assert!(!f.firewall.enabled);
    assert!(!f.firewall.inbound_default_deny);
    assert_eq!(f.firewall.backends[0].inbound_default_deny, Some(false));
    assert_eq!(f.disk_encryption.root_encrypted, Some(false));

    let p = xprotect(&f);
    assert_eq!(p.signature_version.as_deref(), Some("2166"));
    assert_eq!(p.signature_time, Some(Timestamp::parse("2023-05-09T11:20:02Z").unwrap()));
    assert!(p.signature_time.unwrap().days_until(f.collected_at) > 600.0);
    assert_eq!(p.auto_update, Some(false));
}

#[test]
fn sequoia_custom_sip_and_a_second_xprotect() {
    let f = host("sequoia-custom");
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    let mac = f.macos.as_ref().unwrap();
    assert_eq!(mac.sip.as_deref(), Some("custom"));
    assert_eq!(mac.sip_enabled, Some(false));
    assert_eq!(mac.filevault.as_deref(), Some("encrypting"));
    assert_eq!(f.disk_encryption.all_encrypted, Some(false));
    assert_eq!(mac.firewall.block_all, Some(true));
    assert_eq!(mac.firewall.stealth, Some(true));
    assert!(f.firewall.inbound_default_deny);
    // An unwritten Software Update domain has Apple's defaults: on.
    assert_eq!(mac.security_data_auto_install, Some(true));

    let p = xprotect(&f);
    assert_eq!(p.signature_version.as_deref(), Some("5287"));
    assert_eq!(p.details["bundle"], "/var/protected/xprotect/XProtect.bundle/Contents/Info.plist");
    // 5287 came outside Software Update: no install date rather than 5284's.
    assert_eq!(p.signature_time, None);
}

#[test]
fn enabled_firewall_without_block_all_is_not_default_deny() {
    let mut outputs = recorded(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/hosts/macos/sonoma-hardened"));
    outputs.insert("socketfilterfw-getblockall.txt", Ok("Block all DISABLED!\n".into()));
    let f = decode(&outputs, Timestamp::now());
    assert!(f.firewall.enabled);
    assert!(!f.firewall.inbound_default_deny);
    assert_eq!(f.firewall.backends[0].input_policy, None);
}

#[test]
fn failing_tools_leave_errors_against_what_they_leave_empty() {
    let outputs: Outputs = TOOLS
        .iter()
        .map(|t| (t.file, Err(format!("cannot run {}: No such file or directory", t.program))))
        .collect();
    let f = decode(&outputs, Timestamp::now());
    let probes: Vec<&str> = f.errors.iter().map(|e| e.probe.as_str()).collect();
    for expected in [
        "host.hostname",
        "host.os",
        "macos.gatekeeper_enabled",
        "macos.sip",
        "disk_encryption",
        "firewall",
        "antivirus.products",
    ] {
        assert!(probes.contains(&expected), "{expected} not in {probes:?}");
    }
    let mac = f.macos.unwrap();
    assert_eq!(mac.gatekeeper_enabled, None);
    assert_eq!(mac.sip_enabled, None);
    assert_eq!(mac.firewall.enabled, None);
    assert!(!f.firewall.enabled);
    assert_eq!(f.disk_encryption.root_encrypted, None);
    assert!(f.antivirus.products.is_empty());
}

#[test]
fn an_unknown_wording_is_an_error_not_a_guess() {
    let mut outputs = recorded(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/hosts/macos/sonoma-hardened"));
    outputs.insert("spctl-status.txt", Ok("assessments are on, mostly\n".into()));
    let f = decode(&outputs, Timestamp::now());
    assert_eq!(f.macos.unwrap().gatekeeper_enabled, None);
    let e = f.errors.iter().find(|e| e.probe == "macos.gatekeeper_enabled").unwrap();
    assert!(e.message.contains("assessments are on, mostly"), "{}", e.message);
}

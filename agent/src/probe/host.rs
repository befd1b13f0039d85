//! Host identity: name, machine id, OS release, kernel, boot time, role.

use super::{Errors, ProbeContext, root::describe};
use khien_proto::facts::{Host, Os};
use khien_proto::{Role, Timestamp};

/// Display managers and desktop shells whose presence marks a workstation.
const DESKTOP_PROCESSES: [&str; 9] = ["gdm", "gdm3", "lightdm", "sddm", "xdm", "lxdm", "gnome-shell", "Xorg", "Xwayland"];

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Host {
    let root = &ctx.root;
    let mut host = Host {
        arch: std::env::consts::ARCH.to_string(),
        state_secrets: ctx.config.host.state_secrets,
        remote: ctx.config.host.remote,
        admin: ctx.config.host.admin,
        ..Host::default()
    };
    match root.read_to_string("/proc/sys/kernel/hostname") {
        Ok(s) => host.hostname = s.trim().to_string(),
        Err(e) => errors.push("host.hostname", describe("/proc/sys/kernel/hostname", &e)),
    }
    host.machine_id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| root.read_optional(p).ok().flatten())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    match ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| root.read_optional(p).transpose())
    {
        Some(Ok(text)) => host.os = parse_os_release(&text),
        Some(Err(e)) => errors.push("host.os", describe("/etc/os-release", &e)),
        None => errors.push("host.os", "neither /etc/os-release nor /usr/lib/os-release exists"),
    }
    match root.read_to_string("/proc/sys/kernel/osrelease") {
        Ok(s) => host.kernel = Some(s.trim().to_string()),
        Err(e) => errors.push("host.kernel", describe("/proc/sys/kernel/osrelease", &e)),
    }
    match root.read_to_string("/proc/stat") {
        Ok(s) => host.boot_time = parse_btime(&s).and_then(Timestamp::from_unix),
        Err(e) => errors.push("host.boot_time", describe("/proc/stat", &e)),
    }
    if let Ok(s) = root.read_to_string("/proc/uptime") {
        host.uptime_seconds = s.split_whitespace().next().and_then(|x| x.parse::<f64>().ok()).map(|x| x as u64);
    }
    (host.role, host.role_source) = match ctx.config.role {
        Some(role) => (role, "config".to_string()),
        None => (detect_role(ctx), "detected".to_string()),
    };
    host
}

/// A machine with a graphical login or desktop session is a workstation.
fn detect_role(ctx: &ProbeContext<'_>) -> Role {
    let graphical_target = std::fs::read_link(ctx.root.path("/etc/systemd/system/default.target"))
        .map(|t| t.to_string_lossy().contains("graphical"))
        .unwrap_or(false);
    let display_manager = ctx.root.exists("/etc/X11/default-display-manager");
    let desktop_running = DESKTOP_PROCESSES.iter().any(|p| ctx.processes.running(p));
    if graphical_target || display_manager || desktop_running {
        Role::Workstation
    } else {
        Role::Server
    }
}

/// `os-release(5)`: `KEY=value` lines, values optionally quoted with shell escapes.
pub fn parse_os_release(text: &str) -> Os {
    let mut os = Os::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = unquote(value.trim());
        match key.trim() {
            "ID" => os.id = Some(value),
            "ID_LIKE" => os.id_like = value.split_whitespace().map(str::to_string).collect(),
            "NAME" => os.name = Some(value),
            "VERSION" => os.version = Some(value),
            "VERSION_ID" => os.version_id = Some(value),
            "PRETTY_NAME" => os.pretty_name = Some(value),
            _ => {}
        }
    }
    os
}

fn unquote(v: &str) -> String {
    let inner = if v.len() >= 2 && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\''))) {
        &v[1..v.len() - 1]
    } else {
        v
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Boot time in seconds since the epoch, from the `btime` line of `/proc/stat`.
pub fn parse_btime(stat: &str) -> Option<i64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_os_release() {
        let os = parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n\
             VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n# comment\n",
        );
        assert_eq!(os.id.as_deref(), Some("debian"));
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.pretty_name.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
    }

    #[test]
    fn parses_id_like_and_escapes() {
        let os = parse_os_release("ID=\"rhel\"\nID_LIKE=\"fedora centos\"\nNAME='Red Hat \\\"EL\\\"'\n");
        assert_eq!(os.id_like, vec!["fedora", "centos"]);
        assert_eq!(os.name.as_deref(), Some("Red Hat \"EL\""));
    }

    #[test]
    fn reads_btime() {
        assert_eq!(parse_btime("cpu  1 2 3\nbtime 1763800000\nprocesses 9\n"), Some(1_763_800_000));
        assert_eq!(parse_btime("cpu 1\n"), None);
    }
}

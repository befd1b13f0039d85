//! Installed packages, when they were last updated, pending (security)
//! updates from the local package lists, and where packages come from.
//!
//! Debian family: everything is read from files (dpkg status, dpkg and apt
//! logs, apt lists and configuration); no apt or dpkg tool runs. rpm family:
//! the package list comes from `rpm -qa` (see [`rpm`]).

mod apt;
mod aptconf;
mod dpkg;
mod logs;
mod rpm;
mod scan;
mod sources;
pub mod version;

use super::localtime::Zone;
use super::root::describe;
use super::{Errors, ProbeContext, command};
use khien_proto::Timestamp;
use khien_proto::facts::{Package, Packages, Repository};
use std::collections::HashMap;
use std::path::Path;
use time::PrimitiveDateTime;

const REBOOT_REQUIRED: [&str; 2] = ["/run/reboot-required", "/var/run/reboot-required"];
/// systemd unit that runs unattended-upgrade; a link to /dev/null masks it.
const APT_UPGRADE_TIMER: &str = "/etc/systemd/system/apt-daily-upgrade.timer";

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Packages {
    if ctx.root.exists(dpkg::STATUS) {
        debian(ctx, errors)
    } else if rpm::DB_DIRS.iter().any(|d| ctx.root.exists(d)) {
        redhat(ctx, errors)
    } else {
        Packages::default()
    }
}

fn debian(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Packages {
    let mut packages = Packages {
        manager: Some("dpkg".into()),
        last_update: debian_last_update(ctx, errors),
        lists_updated: lists_updated(ctx, errors),
        repositories: apt_sources(ctx, errors),
        reboot_required: Some(REBOOT_REQUIRED.iter().any(|p| ctx.root.exists(p))),
        ..Packages::default()
    };
    let path = ctx.root.path(dpkg::STATUS);
    let installed = match std::fs::File::open(&path).and_then(dpkg::parse_status) {
        Ok(installed) => installed,
        Err(e) => {
            errors.push("packages.installed", describe(&path, &e));
            return packages;
        }
    };
    let (updates, security, names) = pending(ctx, errors, &installed);
    packages.pending_updates = updates;
    packages.pending_security = security;
    packages.pending_security_packages = names;
    packages.auto_updates = unattended_upgrades(ctx, errors, &installed);
    packages.count = u32::try_from(installed.len()).unwrap_or(u32::MAX);
    packages.digest = Some(digest(&installed));
    packages.installed = installed;
    packages
}

/// SHA-256 over the sorted `name version arch` lines: what tells whether the
/// inventory changed, the same for every package manager.
pub(crate) fn digest(installed: &[Package]) -> String {
    let mut lines: Vec<String> = installed
        .iter()
        .map(|p| format!("{} {} {}\n", p.name, p.version, p.arch.as_deref().unwrap_or_default()))
        .collect();
    lines.sort_unstable();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for line in &lines {
        ctx.update(line.as_bytes());
    }
    hex::encode(ctx.finish())
}

/// The newer of the last install/upgrade in dpkg.log and the last apt run
/// that installed something (a `dpkg -i` is only in the former, the end of
/// a long apt run only in the latter).
fn debian_last_update(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Option<Timestamp> {
    let dpkg = last_in_logs(ctx, errors, &logs::DPKG_LOGS, logs::last_dpkg_change);
    let apt = last_in_logs(ctx, errors, &logs::APT_HISTORY, logs::last_apt_change);
    let local = dpkg.max(apt)?;
    Zone::of_machine(&ctx.root).to_instant(local)
}

/// The last matching entry of a log, else of its previous (rotated, uncompressed) file.
fn last_in_logs(
    ctx: &ProbeContext<'_>,
    errors: &mut Errors,
    paths: &[&str],
    find: fn(&str) -> Option<PrimitiveDateTime>,
) -> Option<PrimitiveDateTime> {
    for path in paths {
        let real = ctx.root.path(path);
        let found = logs::read_tail(&real, false).and_then(|tail| match tail.as_deref().and_then(find) {
            Some(t) => Ok(Some(t)),
            None if tail.is_some() && !logs::tail_is_whole(&real) => Ok(logs::read_tail(&real, true)?.as_deref().and_then(find)),
            None => Ok(None),
        });
        match found {
            Ok(Some(t)) => return Some(t),
            Ok(None) => {}
            Err(e) => errors.push("packages.last_update", describe(&real, &e)),
        }
    }
    None
}

/// Newest modification time of the release files of the lists and of the
/// periodic job's success stamp. apt may give a downloaded file the server's
/// Last-Modified time, so this reads as "the lists hold the archive as of".
fn lists_updated(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Option<Timestamp> {
    let names = match ctx.root.list(apt::LISTS) {
        Ok(names) => names,
        Err(e) => {
            errors.push("packages.lists_updated", describe(ctx.root.path(apt::LISTS), &e));
            return None;
        }
    };
    names
        .iter()
        .filter(|n| n.ends_with("_InRelease") || n.ends_with("_Release"))
        .map(|n| format!("{}/{n}", apt::LISTS))
        .chain(std::iter::once(apt::UPDATE_STAMP.to_string()))
        .filter_map(|p| mtime(&ctx.root.path(p)))
        .max()
}

fn mtime(path: &Path) -> Option<Timestamp> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let secs = modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Timestamp::from_unix(i64::try_from(secs).ok()?)
}

/// Pending updates and security updates from the security and updates lists
/// (see [`apt`] for why only those). A count is `None` when no list of its
/// kind could be read: no list means `apt-get update` never ran for that
/// suite, or the suite is not configured, and nothing can be said.
fn pending(ctx: &ProbeContext<'_>, errors: &mut Errors, installed: &[Package]) -> (Option<u32>, Option<u32>, Vec<String>) {
    let names = match ctx.root.list(apt::LISTS) {
        Ok(names) => names,
        Err(e) => {
            errors.push("packages.pending_updates", describe(ctx.root.path(apt::LISTS), &e));
            return (None, None, Vec::new());
        }
    };
    let lists = apt::select(&names);
    let mut newer = vec![None; installed.len()];
    let (mut updates_known, mut security_known) = (!lists.is_empty(), false);
    let mut security_failed = false;
    for list in &lists {
        let security = list.pocket == apt::Pocket::Security;
        let path = ctx.root.path(format!("{}/{}", apt::LISTS, list.file));
        let read = apt::open(&path, list.compression).and_then(|reader| apt::scan_list(reader, installed, security, &mut newer));
        match read {
            Ok(()) => security_known |= security,
            Err(e) => {
                let fact = if security {
                    "packages.pending_security"
                } else {
                    "packages.pending_updates"
                };
                errors.push(fact, describe(&path, &e));
                updates_known = false;
                security_failed |= security;
            }
        }
    }
    // One unreadable security list may hide the update that matters.
    let security_known = security_known && !security_failed;
    let (updates, security, names) = apt::summarise(installed, &newer);
    (
        updates_known.then_some(updates),
        security_known.then_some(security),
        if security_known { names } else { Vec::new() },
    )
}

/// unattended-upgrades is installed, apt's periodic job is set to run it and
/// its timer is not masked. `None` when a configuration file cannot be read.
fn unattended_upgrades(ctx: &ProbeContext<'_>, errors: &mut Errors, installed: &[Package]) -> Option<bool> {
    if !dpkg::is_installed(installed, "unattended-upgrades") {
        return Some(false);
    }
    let mut files: Vec<String> = match ctx.root.list(aptconf::PARTS) {
        Ok(names) => names
            .into_iter()
            .filter(|n| aptconf::apt_reads(n, "conf"))
            .map(|n| format!("{}/{n}", aptconf::PARTS))
            .collect(),
        Err(e) => {
            errors.push("packages.auto_updates", describe(ctx.root.path(aptconf::PARTS), &e));
            return None;
        }
    };
    // apt reads the parts first, then apt.conf, which therefore wins.
    files.push(aptconf::MAIN.to_string());
    let mut settings = HashMap::new();
    for file in &files {
        match ctx.root.read_optional(file) {
            Ok(Some(text)) => aptconf::parse_into(&text, &mut settings),
            Ok(None) => {}
            Err(e) => {
                errors.push("packages.auto_updates", describe(ctx.root.path(file), &e));
                return None;
            }
        }
    }
    let masked = std::fs::read_link(ctx.root.path(APT_UPGRADE_TIMER)).is_ok_and(|target| target == Path::new("/dev/null"));
    Some(aptconf::unattended_upgrades_on(&settings) && !masked)
}

fn apt_sources(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<Repository> {
    let mut repos = Vec::new();
    let mut read = |file: &str, deb822: bool| match ctx.root.read_optional(file) {
        Ok(Some(text)) if deb822 => repos.extend(sources::parse_deb822(&text, file)),
        Ok(Some(text)) => repos.extend(sources::parse_one_line(&text, file)),
        Ok(None) => {}
        Err(e) => errors.push("packages.repositories", describe(ctx.root.path(file), &e)),
    };
    read(sources::APT_LIST, false);
    match ctx.root.list(sources::APT_PARTS) {
        Ok(names) => {
            for name in names {
                let file = format!("{}/{name}", sources::APT_PARTS);
                if aptconf::apt_reads(&name, "list") {
                    read(&file, false);
                } else if aptconf::apt_reads(&name, "sources") {
                    read(&file, true);
                }
            }
        }
        Err(e) => errors.push("packages.repositories", describe(ctx.root.path(sources::APT_PARTS), &e)),
    }
    repos
}

fn redhat(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Packages {
    let mut packages = Packages {
        manager: Some("rpm".into()),
        repositories: repo_files(ctx, errors),
        auto_updates: dnf_automatic(ctx, errors),
        // Pending counts: see `rpm`. A reboot is wanted when a kernel or core
        // library is newer than the boot (dnf's needs-restarting): not read.
        ..Packages::default()
    };
    if !ctx.root.is_system() {
        errors.push(
            "packages.installed",
            "the rpm database is read with the rpm tool, on the running system only",
        );
        return packages;
    }
    let Some(tool) = command::find_tool(&rpm::TOOL) else {
        errors.push("packages.installed", "an rpm database exists but the rpm tool was not found");
        return packages;
    };
    match command::run(Path::new(tool), &["-qa", "--qf", rpm::QUERY_FORMAT], ctx.command_timeout) {
        Ok(out) if out.success() => {
            let (installed, newest) = rpm::parse_query(&out.stdout);
            packages.count = u32::try_from(installed.len()).unwrap_or(u32::MAX);
            packages.digest = Some(digest(&installed));
            packages.last_update = newest.and_then(Timestamp::from_unix);
            packages.installed = installed;
        }
        Ok(out) => errors.push("packages.installed", format!("rpm -qa failed: {}", out.stderr.trim())),
        Err(e) => errors.push("packages.installed", e),
    }
    packages
}

fn repo_files(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Vec<Repository> {
    let mut repos = Vec::new();
    for dir in sources::REPO_DIRS {
        match ctx.root.list(dir) {
            Ok(names) => {
                for name in names.iter().filter(|n| n.ends_with(".repo")) {
                    let file = format!("{dir}/{name}");
                    match ctx.root.read_optional(&file) {
                        Ok(Some(text)) => repos.extend(sources::parse_repo_file(&text, &file)),
                        Ok(None) => {}
                        Err(e) => errors.push("packages.repositories", describe(ctx.root.path(&file), &e)),
                    }
                }
            }
            Err(e) => errors.push("packages.repositories", describe(ctx.root.path(dir), &e)),
        }
    }
    repos
}

fn dnf_automatic(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Option<bool> {
    let timers = match ctx.root.list(rpm::TIMER_WANTS) {
        Ok(timers) => timers,
        Err(e) => {
            errors.push("packages.auto_updates", describe(ctx.root.path(rpm::TIMER_WANTS), &e));
            return None;
        }
    };
    // The first configuration that exists is the one dnf-automatic reads.
    let apply = rpm::AUTOMATIC_CONF
        .iter()
        .find_map(|p| ctx.root.read_optional(p).ok().flatten())
        .is_some_and(|conf| rpm::apply_updates(&conf));
    Some(rpm::auto_updates(&timers, apply))
}

#[cfg(test)]
mod tests;

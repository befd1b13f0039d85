//! Who sudoers grants rights to: the users and `%groups` named at the start
//! of each user specification in `/etc/sudoers` and the files it includes
//! (`@include`/`#include`, `@includedir`/`#includedir`), with `User_Alias`
//! names expanded. Which commands they may run is not judged: any rule is a
//! grant an administrator should be able to account for.
//!
//! sudoers and `/etc/sudoers.d` are readable by root only; when some part
//! cannot be read the list is `None`, not a partial answer.

use super::push_unique;
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use std::collections::BTreeMap;

const PROBE: &str = "accounts.sudoers";
const SUDOERS: &str = "/etc/sudoers";
/// sudo's own limit on nested includes.
const MAX_DEPTH: usize = 128;

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Option<Vec<String>> {
    let mut all = Sudoers::default();
    let mut pending = vec![(SUDOERS.to_string(), 0usize)];
    while let Some((path, depth)) = pending.pop() {
        let text = match ctx.root.read_optional(&path) {
            Ok(Some(t)) => t,
            // No sudoers: sudo is not installed, nobody is granted anything.
            Ok(None) => continue,
            Err(e) => {
                errors.push(PROBE, describe(ctx.root.path(&path), &e));
                return None;
            }
        };
        let parsed = parse_sudoers(&text);
        let dir = path.rsplit_once('/').map_or("/", |(d, _)| d).to_string();
        let mut next = Vec::new();
        for include in &parsed.includes {
            match include {
                Include::File(f) => next.push(resolve(&dir, f)),
                Include::Dir(d) => {
                    let d = resolve(&dir, d);
                    match ctx.root.list(&d) {
                        // sudo skips editor backups and package-manager leftovers this way, and non-files.
                        Ok(names) => next.extend(
                            names
                                .into_iter()
                                .filter(|n| !n.ends_with('~') && !n.contains('.'))
                                .map(|n| format!("{}/{n}", d.trim_end_matches('/')))
                                .filter(|p| ctx.root.path(p).is_file()),
                        ),
                        Err(e) => {
                            errors.push(PROBE, describe(ctx.root.path(&d), &e));
                            return None;
                        }
                    }
                }
            }
        }
        all.merge(parsed);
        if depth < MAX_DEPTH {
            // Reversed onto the stack so that files are read in order.
            pending.extend(next.into_iter().rev().map(|p| (p, depth + 1)));
        }
    }
    Some(all.grantees())
}

/// Relative include paths are relative to the including file's folder (sudo ≥ 1.9.1).
fn resolve(dir: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", dir.trim_end_matches('/'))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Include {
    File(String),
    Dir(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sudoers {
    /// User-list entries of user specifications, as written.
    pub users: Vec<String>,
    pub user_aliases: BTreeMap<String, Vec<String>>,
    pub includes: Vec<Include>,
}

impl Sudoers {
    fn merge(&mut self, other: Sudoers) {
        self.users.extend(other.users);
        self.user_aliases.extend(other.user_aliases);
    }

    /// Users and groups granted rights, aliases expanded, sorted.
    pub fn grantees(&self) -> Vec<String> {
        let mut out = Vec::new();
        for user in &self.users {
            self.expand(user, 0, &mut out);
        }
        out.sort();
        out
    }

    fn expand(&self, name: &str, depth: usize, out: &mut Vec<String>) {
        match self.user_aliases.get(name) {
            Some(members) if depth < 16 => {
                for m in members {
                    self.expand(m, depth + 1, out);
                }
            }
            _ => push_unique(out, name),
        }
    }
}

const ALIAS_KINDS: [&str; 4] = ["User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias"];

pub fn parse_sudoers(text: &str) -> Sudoers {
    let mut out = Sudoers::default();
    for line in logical_lines(text) {
        let line = line.trim();
        let (first, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match first {
            "@include" | "#include" => out.includes.push(Include::File(unquote(rest))),
            "@includedir" | "#includedir" => out.includes.push(Include::Dir(unquote(rest))),
            _ if line.is_empty() => {}
            // `#` starts a comment, except `#123` for a user ID at the start of a rule.
            _ if line.starts_with('#') && !line[1..].starts_with(|c: char| c.is_ascii_digit()) => {}
            _ if first.starts_with("Defaults") => {}
            "User_Alias" => {
                for def in rest.split(':') {
                    if let Some((name, members)) = def.split_once('=') {
                        out.user_aliases.insert(name.trim().to_string(), split_list(members));
                    }
                }
            }
            _ if ALIAS_KINDS.contains(&first) || first == "Cmd_Alias" => {}
            _ => {
                // `user_list host_list = …`: the users are the first word, once
                // the spaces a list may have around its commas are removed.
                let Some((head, _)) = line.split_once('=') else { continue };
                let head = head.split(',').map(str::trim).collect::<Vec<_>>().join(",");
                let mut words = head.split_whitespace();
                if let (Some(users), Some(_hosts)) = (words.next(), words.next()) {
                    out.users.extend(split_list(users));
                }
            }
        }
    }
    out
}

/// Members of a comma list; negated entries (`!bob`) grant nothing and are dropped.
fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty() && !m.starts_with('!'))
        .map(str::to_string)
        .collect()
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').to_string()
}

/// Lines joined where they end with a backslash.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;

    /// Debian 12's /etc/sudoers.
    const DEBIAN: &str = "\
#
# This file MUST be edited with the 'visudo' command as root.
#
Defaults\tenv_reset
Defaults\tmail_badpass
Defaults\tsecure_path=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"
Defaults\tuse_pty

# Host alias specification

# User alias specification

# Cmnd alias specification

# User privilege specification
root\tALL=(ALL:ALL) ALL

# Allow members of group sudo to execute any command
%sudo\tALL=(ALL:ALL) ALL

# See sudoers(5) for more information on \"@include\" directives:

@includedir /etc/sudoers.d
";

    #[test]
    fn reads_user_specs_aliases_and_includes() {
        let s = parse_sudoers(DEBIAN);
        assert_eq!(s.users, vec!["root", "%sudo"]);
        assert_eq!(s.includes, vec![Include::Dir("/etc/sudoers.d".into())]);

        let s = parse_sudoers(
            "User_Alias ADMINS = alice, bob, %ops : WEB = carol\n\
             Cmnd_Alias SERVICES = /usr/bin/systemctl\n\
             Defaults:ADMINS !lecture\n\
             ADMINS, dave ,!mallory  ALL = (root) SERVICES\n\
             WEB host1 = NOPASSWD: /usr/bin/nginx -s reload, \\\n    /usr/bin/journalctl\n\
             #1001 ALL=(ALL) ALL\n\
             # a comment = with an equals sign\n\
             #includedir /etc/sudoers.d\n\
             @include local\n",
        );
        assert_eq!(s.users, vec!["ADMINS", "dave", "WEB", "#1001"]);
        assert_eq!(
            s.includes,
            vec![Include::Dir("/etc/sudoers.d".into()), Include::File("local".into())]
        );
        assert_eq!(s.grantees(), vec!["#1001", "%ops", "alice", "bob", "carol", "dave"]);
    }

    fn write(dir: &std::path::Path, path: &str, text: &str) {
        let p = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn probe(dir: &std::path::Path) -> (Option<Vec<String>>, Errors) {
        let config = ProbeConfig {
            root: dir.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(dir), Processes::default(), &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    #[test]
    fn follows_includedir_skipping_backups() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(probe(dir.path()).0, Some(vec![]));

        write(dir.path(), SUDOERS, DEBIAN);
        write(
            dir.path(),
            "/etc/sudoers.d/README",
            "# files in this folder ending in ~ or containing . are skipped\n",
        );
        write(
            dir.path(),
            "/etc/sudoers.d/90-cloud-init-users",
            "# Created by cloud-init\ndebian ALL=(ALL) NOPASSWD:ALL\n",
        );
        write(dir.path(), "/etc/sudoers.d/ops~", "mallory ALL=(ALL) ALL\n");
        write(dir.path(), "/etc/sudoers.d/ops.bak", "mallory ALL=(ALL) ALL\n");
        write(dir.path(), "/etc/sudoers.d/zz", "@include extra\n");
        write(
            dir.path(),
            "/etc/sudoers.d/extra",
            "User_Alias DBA = erin\nDBA ALL=(postgres) ALL\n",
        );
        let (grantees, errors) = probe(dir.path());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(grantees, Some(vec!["%sudo".into(), "debian".into(), "erin".into(), "root".into()]));

        // A folder inside is skipped as sudo skips it; a file that cannot be read makes the list partial.
        std::fs::create_dir(dir.path().join("etc/sudoers.d/folder")).unwrap();
        assert_eq!(probe(dir.path()).0.unwrap().len(), 4);
        std::fs::write(dir.path().join("etc/sudoers.d/broken"), b"\xff\xfe").unwrap();
        let (grantees, errors) = probe(dir.path());
        assert_eq!(grantees, None);
        assert_eq!(errors.0.len(), 1);
    }
}

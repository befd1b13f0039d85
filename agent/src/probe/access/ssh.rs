//! The SSH server as its configuration files make it, read the way sshd
//! reads them (sshd_config(5)):
//!
//! - keywords are case-insensitive and the **first** value obtained wins, so
//!   a drop-in included at the top of Debian's `sshd_config` beats a line
//!   further down, and `50-cloud-init.conf` beats `99-hardening.conf`;
//! - a few keywords add up instead (`Port`, `ListenAddress`, `AllowUsers`…);
//! - `Include` is expanded in place, globs in lexical order, relative paths
//!   under `/etc/ssh`; a `Match` inside an included file ends with that file;
//! - `Match` blocks only apply to the connections they match, so they are
//!   kept apart from the global settings.
//!
//! `sshd -T` would print the same, but it needs the host keys (root) and
//! cannot evaluate `Match` without a connection; the files are the source.

use super::{glob, push_unique, read_noting};
use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::{Ssh, SshMatch};
use std::collections::BTreeMap;

const PROBE: &str = "ssh";
const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
const SSH_DIR: &str = "/etc/ssh";
const SSHD_BINARIES: [&str; 3] = ["/usr/sbin/sshd", "/usr/bin/sshd", "/usr/local/sbin/sshd"];
/// sshd refuses deeper includes (`SERVCONF_MAX_DEPTH`); also stops include loops.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Keywords whose lines add up instead of the first one winning (servconf.c
/// appends to these lists); their values are joined with a space.
const CUMULATIVE: [&str; 9] = [
    "port",
    "listenaddress",
    "allowusers",
    "allowgroups",
    "denyusers",
    "denygroups",
    "acceptenv",
    "hostkey",
    "hostcertificate",
];

/// Old names sshd still accepts for the same setting; kept under the current
/// name, as `sshd -T` prints them, so that whichever comes first wins.
const ALIASES: [(&str, &str); 5] = [
    ("challengeresponseauthentication", "kbdinteractiveauthentication"),
    ("skeyauthentication", "kbdinteractiveauthentication"),
    ("dsaauthentication", "pubkeyauthentication"),
    ("pubkeyacceptedkeytypes", "pubkeyacceptedalgorithms"),
    ("hostbasedacceptedkeytypes", "hostbasedacceptedalgorithms"),
];

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Ssh {
    let installed = SSHD_BINARIES.iter().any(|b| ctx.root.exists(b)) || ctx.root.exists(SSHD_CONFIG);
    let running = ctx.processes.running("sshd");
    if !installed {
        return Ssh { running, ..Ssh::default() };
    }
    let text = match ctx.root.read_optional(SSHD_CONFIG) {
        Ok(Some(text)) => text,
        // sshd would not start without the file; the settings are then the defaults.
        Ok(None) => return effective(SshdConfig::default(), installed, running, true),
        Err(e) => {
            errors.push(PROBE, describe(ctx.root.path(SSHD_CONFIG), &e));
            return Ssh {
                installed,
                running,
                ..Ssh::default()
            };
        }
    };
    let mut files = RootFiles {
        ctx,
        errors,
        complete: true,
    };
    let config = parse_sshd_config(SSHD_CONFIG, &text, &mut files);
    let complete = files.complete;
    effective(config, installed, running, complete)
}

/// Where `Include` finds its files.
pub trait IncludeSource {
    /// Existing files matching an absolute pattern, in lexical order.
    fn expand(&mut self, pattern: &str) -> Vec<String>;
    fn read(&mut self, path: &str) -> Option<String>;
}

struct RootFiles<'c, 'e> {
    ctx: &'c ProbeContext<'c>,
    errors: &'e mut Errors,
    /// Every included file could be read.
    complete: bool,
}

impl IncludeSource for RootFiles<'_, '_> {
    fn expand(&mut self, pattern: &str) -> Vec<String> {
        glob(&self.ctx.root, pattern).unwrap_or_else(|e| {
            self.errors.push(PROBE, e);
            self.complete = false;
            Vec::new()
        })
    }

    fn read(&mut self, path: &str) -> Option<String> {
        let before = self.errors.0.len();
        let text = read_noting(&self.ctx.root, path, PROBE, self.errors);
        if self.errors.0.len() > before {
            self.complete = false;
        }
        text
    }
}

/// The configuration as written, before defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SshdConfig {
    /// Global settings, lower-case keyword → first value (joined values for cumulative keywords).
    pub settings: BTreeMap<String, String>,
    pub match_blocks: Vec<SshMatch>,
    pub files: Vec<String>,
}

pub fn parse_sshd_config(path: &str, text: &str, source: &mut dyn IncludeSource) -> SshdConfig {
    let mut parser = Parser {
        config: SshdConfig::default(),
        source,
    };
    parser.file(path, text, None, 0);
    parser.config
}

struct Parser<'s> {
    config: SshdConfig,
    source: &'s mut dyn IncludeSource,
}

impl Parser<'_> {
    /// `block` is the `Match` block the lines belong to, `None` for global.
    fn file(&mut self, path: &str, text: &str, mut block: Option<usize>, depth: usize) {
        push_unique(&mut self.config.files, path);
        for line in text.lines() {
            let Some((keyword, args)) = split_line(line) else {
                continue;
            };
            match keyword.as_str() {
                "match" => {
                    self.config.match_blocks.push(SshMatch {
                        criteria: args.join(" "),
                        settings: BTreeMap::new(),
                        file: path.to_string(),
                    });
                    block = Some(self.config.match_blocks.len() - 1);
                }
                "include" if depth < MAX_INCLUDE_DEPTH => {
                    for arg in args.iter().filter(|a| !a.starts_with('~')) {
                        let pattern = if arg.starts_with('/') {
                            arg.clone()
                        } else {
                            format!("{SSH_DIR}/{arg}")
                        };
                        for included in self.source.expand(&pattern) {
                            if let Some(text) = self.source.read(&included) {
                                // The block is passed by value: sshd restores the includer's Match state afterwards.
                                self.file(&included, &text, block, depth + 1);
                            }
                        }
                    }
                }
                "include" => {}
                _ => {
                    let key = ALIASES
                        .iter()
                        .find(|(old, _)| *old == keyword)
                        .map_or(keyword.as_str(), |(_, new)| new);
                    let settings = match block {
                        Some(i) => &mut self.config.match_blocks[i].settings,
                        None => &mut self.config.settings,
                    };
                    let value = args.join(" ");
                    match settings.get_mut(key) {
                        None => {
                            settings.insert(key.to_string(), value);
                        }
                        Some(existing) if CUMULATIVE.contains(&key) && !value.is_empty() => {
                            existing.push(' ');
                            existing.push_str(&value);
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
}

/// A line split as sshd splits it: the keyword (lower-cased) ends at
/// whitespace or `=`; arguments are separated by whitespace, double quotes
/// group, and an argument starting with `#` ends the line.
fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    if end == 0 {
        return None;
    }
    let keyword = line[..end].to_ascii_lowercase();
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    Some((keyword, split_args(rest)))
}

fn split_args(s: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => break,
            Some(_) => {}
        }
        let mut arg = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next_if(|c| quoted || !c.is_whitespace()) {
            if c == '"' {
                quoted = !quoted;
            } else {
                arg.push(c);
            }
        }
        args.push(arg);
    }
    args
}

/// The typed view, with OpenSSH's compiled-in defaults where no file sets a
/// value. When an included file could not be read, defaults are not
/// assumed: that file may set the value.
pub fn effective(config: SshdConfig, installed: bool, running: bool, complete: bool) -> Ssh {
    let settings = &config.settings;
    let mut defaults_used = Vec::new();
    let mut value = |key: &str, default: &str| -> Option<String> {
        match settings.get(key) {
            Some(v) => Some(v.clone()),
            None if complete => {
                defaults_used.push(key.to_string());
                Some(default.to_string())
            }
            None => None,
        }
    };
    let ports = value("port", "22").map(|v| {
        let mut ports: Vec<u16> = Vec::new();
        for port in v.split_whitespace().filter_map(|p| p.parse().ok()) {
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        ports
    });
    let permit_root_login = value("permitrootlogin", "prohibit-password").map(|v| match v.to_ascii_lowercase().as_str() {
        // The old spelling of the same setting.
        "without-password" => "prohibit-password".to_string(),
        other => other.to_string(),
    });
    let password_authentication = value("passwordauthentication", "yes").and_then(|v| yes_no(&v));
    let permit_empty_passwords = value("permitemptypasswords", "no").and_then(|v| yes_no(&v));
    let kbd_interactive_authentication = value("kbdinteractiveauthentication", "yes").and_then(|v| yes_no(&v));
    let pubkey_authentication = value("pubkeyauthentication", "yes").and_then(|v| yes_no(&v));
    let authentication_methods = value("authenticationmethods", "any");
    let max_auth_tries = value("maxauthtries", "6").and_then(|v| v.parse().ok());
    let client_alive_interval = value("clientaliveinterval", "0").and_then(|v| parse_time(&v));
    let client_alive_count_max = value("clientalivecountmax", "3").and_then(|v| v.parse().ok());
    // Upstream's default; Debian and RHEL set `UsePAM yes` in the shipped file.
    let use_pam = value("usepam", "no").and_then(|v| yes_no(&v));
    let x11_forwarding = value("x11forwarding", "no").and_then(|v| yes_no(&v));
    let words = |key: &str| -> Vec<String> {
        settings
            .get(key)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let list = |key: &str| -> Vec<String> {
        settings
            .get(key)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    };
    Ssh {
        installed,
        running,
        ports: ports.unwrap_or_default(),
        permit_root_login,
        password_authentication,
        permit_empty_passwords,
        kbd_interactive_authentication,
        pubkey_authentication,
        authentication_methods,
        max_auth_tries,
        client_alive_interval,
        client_alive_count_max,
        use_pam,
        x11_forwarding,
        allow_users: words("allowusers"),
        allow_groups: words("allowgroups"),
        ciphers: list("ciphers"),
        macs: list("macs"),
        kex_algorithms: list("kexalgorithms"),
        defaults_used,
        settings: config.settings,
        match_blocks: config.match_blocks,
        files: config.files,
    }
}

fn yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// sshd's time format: `300`, `5m`, `1h30m` (units s, m, h, d, w), in seconds.
fn parse_time(value: &str) -> Option<u32> {
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in value.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total += number.parse::<u64>().ok()? * unit;
        number.clear();
    }
    if !number.is_empty() {
        total += number.parse::<u64>().ok()?;
    }
    u32::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::{Process, Processes};
    use crate::probe::root::Root;

    /// Debian 12's shipped file, shortened: the include comes first.
    const DEBIAN_SSHD_CONFIG: &str = "\
# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0

#PermitRootLogin prohibit-password
#MaxAuthTries 6

# To disable tunneled clear text passwords, change to no here!
#PasswordAuthentication yes
#PermitEmptyPasswords no

# Change to yes to enable challenge-response passwords (beware issues with
# some PAM modules and threads)
KbdInteractiveAuthentication no

UsePAM yes

X11Forwarding yes
PrintMotd no

# Allow client to pass locale environment variables
AcceptEnv LANG LC_*

# override default of no subsystems
Subsystem\tsftp\t/usr/lib/openssh/sftp-server

# Example of overriding settings on a per-user basis
#Match User anoncvs
#\tX11Forwarding no
PasswordAuthentication no
";

    struct Files(BTreeMap<&'static str, &'static str>);

    impl IncludeSource for Files {
        fn expand(&mut self, pattern: &str) -> Vec<String> {
            let (dir, name) = pattern.rsplit_once('/').unwrap();
            self.0
                .keys()
                .filter(|p| {
                    p.rsplit_once('/')
                        .is_some_and(|(d, n)| d == dir && super::super::wildcard_match(name, n))
                })
                .map(|p| p.to_string())
                .collect()
        }

        fn read(&mut self, path: &str) -> Option<String> {
            self.0.get(path).map(|t| t.to_string())
        }
    }

    fn parse(files: &[(&'static str, &'static str)]) -> SshdConfig {
        let mut source = Files(files.iter().copied().collect());
        let (path, text) = files[0];
        parse_sshd_config(path, text, &mut source)
    }

    #[test]
    fn first_value_wins_and_drop_ins_included_first_beat_the_main_file() {
        let config = parse(&[
            (SSHD_CONFIG, DEBIAN_SSHD_CONFIG),
            ("/etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication yes\n"),
            (
                "/etc/ssh/sshd_config.d/99-hardening.conf",
                "PasswordAuthentication no\nPermitRootLogin no\nmaxauthtries=3\n",
            ),
            ("/etc/ssh/sshd_config.d/README", "PermitRootLogin yes\n"),
        ]);
        assert_eq!(
            config.files,
            vec![
                SSHD_CONFIG,
                "/etc/ssh/sshd_config.d/50-cloud-init.conf",
                "/etc/ssh/sshd_config.d/99-hardening.conf"
            ]
        );
        assert_eq!(config.settings["passwordauthentication"], "yes");
        assert_eq!(config.settings["permitrootlogin"], "no");
        assert_eq!(config.settings["maxauthtries"], "3");
        assert_eq!(config.settings["subsystem"], "sftp /usr/lib/openssh/sftp-server");
        assert_eq!(config.settings["acceptenv"], "LANG LC_*");
        assert!(config.match_blocks.is_empty());

        let ssh = effective(config, true, false, true);
        assert_eq!(ssh.ports, vec![22]);
        assert_eq!(ssh.password_authentication, Some(true));
        assert_eq!(ssh.permit_root_login.as_deref(), Some("no"));
        assert_eq!(ssh.kbd_interactive_authentication, Some(false));
        assert_eq!(ssh.use_pam, Some(true));
        assert_eq!(ssh.x11_forwarding, Some(true));
        assert_eq!(ssh.max_auth_tries, Some(3));
        assert_eq!(ssh.permit_empty_passwords, Some(false));
        assert_eq!(ssh.pubkey_authentication, Some(true));
        assert_eq!(ssh.client_alive_interval, Some(0));
        assert_eq!(ssh.client_alive_count_max, Some(3));
        assert_eq!(ssh.authentication_methods.as_deref(), Some("any"));
        assert!(ssh.ciphers.is_empty());
        assert_eq!(
            ssh.defaults_used,
            vec![
                "port",
                "permitemptypasswords",
                "pubkeyauthentication",
                "authenticationmethods",
                "clientaliveinterval",
                "clientalivecountmax"
            ]
        );
    }

    #[test]
    fn match_blocks_are_kept_apart_until_the_next_match() {
        let config = parse(&[(
            SSHD_CONFIG,
            "PermitRootLogin no\n\
             Match User backup Address 10.0.0.0/8\n\
             \tPasswordAuthentication yes\n\
             \tForceCommand internal-sftp\n\
             \tPasswordAuthentication no\n\
             Match Group admins\n\
             \tAuthenticationMethods publickey,keyboard-interactive\n\
             \tInclude admins.conf\n\
             \tPermitRootLogin yes\n",
        )]);
        assert_eq!(config.settings.len(), 1);
        assert_eq!(config.settings["permitrootlogin"], "no");
        assert_eq!(config.match_blocks.len(), 2);
        assert_eq!(config.match_blocks[0].criteria, "User backup Address 10.0.0.0/8");
        assert_eq!(config.match_blocks[0].settings["passwordauthentication"], "yes");
        assert_eq!(config.match_blocks[0].settings["forcecommand"], "internal-sftp");
        assert_eq!(config.match_blocks[0].file, SSHD_CONFIG);
        assert_eq!(
            config.match_blocks[1].settings["authenticationmethods"],
            "publickey,keyboard-interactive"
        );
        assert_eq!(config.match_blocks[1].settings["permitrootlogin"], "yes");
        let ssh = effective(config, true, true, true);
        assert_eq!(ssh.permit_root_login.as_deref(), Some("no"));
        assert_eq!(ssh.authentication_methods.as_deref(), Some("any"));
    }

    #[test]
    fn includes_inside_a_match_apply_to_it_and_their_own_match_ends_with_the_file() {
        let config = parse(&[
            (
                SSHD_CONFIG,
                "Include conf.d/*.conf\nMatch Group sftp\n  Include /etc/ssh/sftp.conf\n  X11Forwarding no\nMatch all\n",
            ),
            (
                "/etc/ssh/conf.d/10-a.conf",
                "Port 2222\nMatch User git\n  PasswordAuthentication no\n",
            ),
            ("/etc/ssh/conf.d/20-b.conf", "Port 22\nPasswordAuthentication no\n"),
            ("/etc/ssh/sftp.conf", "ChrootDirectory /srv/%u\n"),
        ]);
        // 20-b.conf's lines are global again after 10-a.conf's Match, and Port adds up.
        assert_eq!(config.settings["port"], "2222 22");
        assert_eq!(config.settings["passwordauthentication"], "no");
        assert_eq!(config.match_blocks.len(), 3);
        assert_eq!(config.match_blocks[0].criteria, "User git");
        assert_eq!(config.match_blocks[0].file, "/etc/ssh/conf.d/10-a.conf");
        assert_eq!(config.match_blocks[1].criteria, "Group sftp");
        assert_eq!(config.match_blocks[1].settings["chrootdirectory"], "/srv/%u");
        assert_eq!(config.match_blocks[1].settings["x11forwarding"], "no");
        assert_eq!(config.match_blocks[2].criteria, "all");
        assert!(config.match_blocks[2].settings.is_empty());
        assert_eq!(effective(config, true, false, true).ports, vec![2222, 22]);
    }

    #[test]
    fn keywords_are_case_insensitive_with_aliases_quotes_and_comments() {
        let config = parse(&[(
            SSHD_CONFIG,
            "  CHALLENGERESPONSEAUTHENTICATION   no\nkbdinteractiveauthentication yes\n\
             Ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com # strong only\n\
             MACs=hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com\n\
             KexAlgorithms = curve25519-sha256\n\
             Banner \"/etc/issue net\"\n\
             AllowUsers alice bob\nAllowUsers carol\nAllowGroups ssh-users\n\
             PermitRootLogin without-password\nClientAliveInterval 5m\nClientAliveCountMax 0\n",
        )]);
        assert_eq!(config.settings["banner"], "/etc/issue net");
        assert!(!config.settings.contains_key("challengeresponseauthentication"));
        let ssh = effective(config, true, false, true);
        assert_eq!(ssh.kbd_interactive_authentication, Some(false));
        assert_eq!(ssh.ciphers, vec!["aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]);
        assert_eq!(ssh.macs, vec!["hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com"]);
        assert_eq!(ssh.kex_algorithms, vec!["curve25519-sha256"]);
        assert_eq!(ssh.allow_users, vec!["alice", "bob", "carol"]);
        assert_eq!(ssh.allow_groups, vec!["ssh-users"]);
        assert_eq!(ssh.permit_root_login.as_deref(), Some("prohibit-password"));
        assert_eq!(ssh.client_alive_interval, Some(300));
        assert_eq!(ssh.client_alive_count_max, Some(0));
    }

    #[test]
    fn time_values_follow_sshd_units() {
        assert_eq!(parse_time("300"), Some(300));
        assert_eq!(parse_time("1h30m"), Some(5400));
        assert_eq!(parse_time("10S"), Some(10));
        assert_eq!(parse_time("5x"), None);
    }

    #[test]
    fn an_unreadable_include_leaves_unset_values_unknown() {
        let config = parse(&[(SSHD_CONFIG, "PermitRootLogin no\n")]);
        let ssh = effective(config, true, false, false);
        assert_eq!(ssh.permit_root_login.as_deref(), Some("no"));
        assert_eq!(ssh.password_authentication, None);
        assert!(ssh.ports.is_empty());
        assert!(ssh.defaults_used.is_empty());
    }

    fn write(dir: &std::path::Path, path: &str, text: &str) {
        let p = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn probe(dir: &std::path::Path, processes: Processes) -> (Ssh, Errors) {
        let config = ProbeConfig {
            root: dir.into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(dir), processes, &config);
        let mut errors = Errors::default();
        (collect(&ctx, &mut errors), errors)
    }

    #[test]
    fn collects_the_debian_layout_from_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let (ssh, errors) = probe(dir.path(), Processes::default());
        assert!(errors.0.is_empty());
        assert_eq!(ssh, Ssh::default());

        write(dir.path(), "/usr/sbin/sshd", "");
        write(dir.path(), SSHD_CONFIG, DEBIAN_SSHD_CONFIG);
        write(
            dir.path(),
            "/etc/ssh/sshd_config.d/50-cloud-init.conf",
            "PasswordAuthentication yes\n",
        );
        let sshd = Process {
            pid: 612,
            comm: "sshd".into(),
            argv0: "sshd".into(),
            args: vec![],
        };
        let (ssh, errors) = probe(dir.path(), Processes(vec![sshd]));
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert!(ssh.installed && ssh.running);
        assert_eq!(ssh.files, vec![SSHD_CONFIG, "/etc/ssh/sshd_config.d/50-cloud-init.conf"]);
        assert_eq!(ssh.password_authentication, Some(true));
        assert_eq!(ssh.permit_root_login.as_deref(), Some("prohibit-password"));
        assert!(ssh.defaults_used.contains(&"permitrootlogin".to_string()));
        assert_eq!(ssh.ports, vec![22]);

        // An unreadable drop-in is an error, and the values it might set stay unknown.
        std::fs::create_dir_all(dir.path().join("etc/ssh/sshd_config.d/60-dir.conf")).unwrap();
        let (ssh, errors) = probe(dir.path(), Processes::default());
        assert_eq!(errors.0.len(), 1, "{:?}", errors.0);
        assert_eq!(errors.0[0].probe, PROBE);
        assert_eq!(ssh.password_authentication, Some(true));
        assert_eq!(ssh.permit_root_login, None);
    }
}

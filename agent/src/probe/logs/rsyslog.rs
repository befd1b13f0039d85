//! rsyslog forwarding rules, in both syntaxes rsyslog accepts side by side:
//!
//! - legacy: `*.* @host:514` (UDP), `*.* @@host:6514` (TCP), `:omrelp:host:port`,
//!   with `$ActionSendStreamDriverMode 1` and a TLS `$DefaultNetstreamDriver`
//!   turning the following `@@` actions into TLS;
//! - RainerScript: `action(type="omfwd" …)` and `action(type="omrelp" …)`,
//!   often over several lines; legacy `$Action…` settings do not apply to them.
//!
//! Includes (`$IncludeConfig`, `include(file=…)`) are read where they appear,
//! since the order of legacy directives decides which actions they cover.

use super::files;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::LogTarget;

const MAIN: &str = "/etc/rsyslog.conf";
const MAX_INCLUDE_DEPTH: usize = 8;
/// Stream drivers that speak TLS (GnuTLS, OpenSSL, mbedTLS).
const TLS_DRIVERS: [&str; 3] = ["gtls", "ossl", "mbedtls"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    /// `$Name value`, name lower-cased.
    Directive { name: String, value: String },
    /// `kind(param="value" …)`: kind and parameter names lower-cased, dots dropped
    /// (`StreamDriver.Mode` and `StreamDriverMode` are the same parameter).
    Object { kind: String, params: Vec<(String, Vec<String>)> },
    /// A legacy forwarding action as written: `@@(o)host:port;Template`, `:omrelp:host:port`.
    Forward(String),
}

impl Statement {
    fn param(&self, name: &str) -> Option<&str> {
        match self {
            Statement::Object { params, .. } => params
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.first())
                .map(String::as_str),
            _ => None,
        }
    }

    fn params(&self, name: &str) -> Vec<String> {
        match self {
            Statement::Object { params, .. } => params.iter().filter(|(k, _)| k == name).flat_map(|(_, v)| v.clone()).collect(),
            _ => Vec::new(),
        }
    }
}

/// Forwarding targets of the rsyslog configuration, with the files read.
pub fn collect(ctx: &ProbeContext<'_>, probe: &str, errors: &mut Errors, sources: &mut Vec<String>) -> Vec<LogTarget> {
    let mut statements = Vec::new();
    load(ctx, MAIN, 0, probe, errors, sources, &mut statements);
    targets(&statements)
}

fn load(
    ctx: &ProbeContext<'_>,
    path: &str,
    depth: usize,
    probe: &str,
    errors: &mut Errors,
    sources: &mut Vec<String>,
    out: &mut Vec<(String, Statement)>,
) {
    if depth > MAX_INCLUDE_DEPTH || sources.iter().any(|s| s == path) {
        return;
    }
    let Some(text) = files::read(ctx, path, probe, errors, sources) else {
        return;
    };
    for statement in parse(&text) {
        let include = match &statement {
            Statement::Directive { name, value } if name == "includeconfig" => Some(value.clone()),
            Statement::Object { kind, .. } if kind == "include" => statement.param("file").map(str::to_string),
            _ => None,
        };
        match include {
            Some(pattern) => {
                for file in files::expand(ctx, &pattern, probe, errors) {
                    load(ctx, &file, depth + 1, probe, errors, sources, out);
                }
            }
            None => out.push((path.to_string(), statement)),
        }
    }
}

/// Where the statements forward to, evaluating legacy directives in order.
pub fn targets(statements: &[(String, Statement)]) -> Vec<LogTarget> {
    // The default stream driver is a global setting: it holds wherever it is written.
    let mut default_driver = "ptcp".to_string();
    for (_, s) in statements {
        match s {
            Statement::Directive { name, value } if name == "defaultnetstreamdriver" => default_driver = value.to_ascii_lowercase(),
            Statement::Object { kind, .. } if kind == "global" => {
                if let Some(d) = s.param("defaultnetstreamdriver") {
                    default_driver = d.to_ascii_lowercase();
                }
            }
            _ => {}
        }
    }
    let mut action_driver: Option<String> = None;
    let mut action_mode = 0;
    let mut out = Vec::new();
    for (file, s) in statements {
        match s {
            Statement::Directive { name, value } => match name.as_str() {
                "actionsendstreamdriver" => action_driver = Some(value.to_ascii_lowercase()),
                "actionsendstreamdrivermode" => action_mode = value.trim().parse().unwrap_or(0),
                _ => {}
            },
            Statement::Forward(action) => {
                let driver = action_driver.as_deref().unwrap_or(&default_driver);
                if let Some(mut target) = parse_legacy_action(action) {
                    target.tls = target.protocol == "tcp" && action_mode == 1 && TLS_DRIVERS.contains(&driver);
                    target.file = file.clone();
                    out.push(target);
                }
            }
            Statement::Object { kind, .. } if kind == "action" => {
                out.extend(action_targets(s, &default_driver).into_iter().map(|mut t| {
                    t.file = file.clone();
                    t
                }));
            }
            Statement::Object { .. } => {}
        }
    }
    out
}

/// `action(type="omfwd"|"omrelp" …)` targets (omfwd accepts a list of targets).
fn action_targets(action: &Statement, default_driver: &str) -> Vec<LogTarget> {
    let port = action.param("port").and_then(|p| p.trim().parse().ok());
    let (protocol, tls) = match action.param("type").map(str::to_ascii_lowercase).as_deref() {
        Some("omfwd") => {
            let protocol = action.param("protocol").unwrap_or("udp").to_ascii_lowercase();
            let driver = action.param("streamdriver").unwrap_or(default_driver).to_ascii_lowercase();
            let mode: u8 = action.param("streamdrivermode").and_then(|m| m.trim().parse().ok()).unwrap_or(0);
            let tls = protocol == "tcp" && mode == 1 && TLS_DRIVERS.contains(&driver.as_str());
            (protocol, tls)
        }
        Some("omrelp") => {
            let tls = action.param("tls").is_some_and(|v| v.eq_ignore_ascii_case("on"));
            ("relp".to_string(), tls)
        }
        _ => return Vec::new(),
    };
    action
        .params("target")
        .into_iter()
        .map(|host| LogTarget {
            host,
            port,
            protocol: protocol.clone(),
            tls,
            file: String::new(),
        })
        .collect()
}

/// `@host`, `@@(o,z9)host:port;Template`, `@[2001:db8::1]:514`, `:omrelp:host:port`.
pub fn parse_legacy_action(action: &str) -> Option<LogTarget> {
    let (protocol, rest) = if let Some(rest) = action.strip_prefix(":omrelp:") {
        ("relp", rest)
    } else if let Some(rest) = action.strip_prefix("@@") {
        ("tcp", rest)
    } else {
        ("udp", action.strip_prefix('@')?)
    };
    let rest = match rest.strip_prefix('(') {
        Some(options) => options.split_once(')')?.1,
        None => rest,
    };
    let address = rest.split(';').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = address.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match address.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(LogTarget {
        host: host.to_string(),
        port: port.and_then(|p| p.parse().ok()),
        protocol: protocol.to_string(),
        tls: false,
        file: String::new(),
    })
}

/// Splits one configuration file into the statements that matter for forwarding.
pub fn parse(text: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut line_start = true;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line_start = true;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let rest = &text[i..];
        if c == b'#' {
            i += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
            continue;
        }
        let was_line_start = std::mem::replace(&mut line_start, false);
        if c == b'$' && was_line_start {
            let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
            if let Some(directive) = parse_directive(line) {
                out.push(directive);
                i += line.len();
                continue;
            }
            // A RainerScript condition that continues on this line (`$msg contains …`).
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' {
            i += quoted(rest).1;
            continue;
        }
        let after_space = i == 0 || bytes[i - 1].is_ascii_whitespace() || bytes[i - 1] == b'&';
        if after_space && (c == b'@' || rest.starts_with(":omrelp:")) {
            let end = rest.find(|ch: char| ch.is_whitespace()).unwrap_or(rest.len());
            out.push(Statement::Forward(rest[..end].to_string()));
            i += end;
            continue;
        }
        if c.is_ascii_alphabetic() {
            let ident_len = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.' || ch == '-'))
                .unwrap_or(rest.len());
            let after = &rest[ident_len..];
            let spaces = after.len() - after.trim_start().len();
            if after.trim_start().starts_with('(') {
                let (params, used) = parse_params(&after[spaces + 1..]);
                out.push(Statement::Object {
                    kind: rest[..ident_len].to_ascii_lowercase(),
                    params,
                });
                i += ident_len + spaces + 1 + used;
            } else {
                i += ident_len;
            }
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// `$Name value` (comments dropped); `None` for a line that is a RainerScript condition.
fn parse_directive(line: &str) -> Option<Statement> {
    let line = files::strip_hash_comment(&line[1..]).trim();
    let (name, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) || value.split_whitespace().any(|w| w == "then") {
        return None;
    }
    Some(Statement::Directive {
        name: name.to_ascii_lowercase(),
        value: value.trim().to_string(),
    })
}

/// The parameters of an object up to its closing parenthesis, and the bytes used.
fn parse_params(text: &str) -> (Vec<(String, Vec<String>)>, usize) {
    let mut params = Vec::new();
    let mut i = 0;
    let mut name = String::new();
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.as_bytes()[0];
        match c {
            b')' => return (params, i + 1),
            b'#' => i += rest.find('\n').unwrap_or(rest.len()),
            b'=' => i += 1,
            b'"' | b'\'' => {
                let (value, used) = quoted(rest);
                params.push((std::mem::take(&mut name), vec![value]));
                i += used;
            }
            b'[' => {
                let close = rest.find(']').unwrap_or(rest.len());
                let end = (close + 1).min(rest.len());
                let mut values = Vec::new();
                let mut inner = &rest[1..close];
                while let Some(start) = inner.find(['"', '\'']) {
                    let (value, used) = quoted(&inner[start..]);
                    values.push(value);
                    inner = &inner[start + used..];
                }
                params.push((std::mem::take(&mut name), values));
                i += end;
            }
            _ if rest.starts_with(char::is_whitespace) => i += rest.chars().next().map_or(1, char::len_utf8),
            _ => {
                let end = rest
                    .find(|ch: char| ch.is_whitespace() || ch == '=' || ch == ')')
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                if rest[end..].trim_start().starts_with('=') {
                    name = word.to_ascii_lowercase().replace('.', "");
                } else if !name.is_empty() {
                    params.push((std::mem::take(&mut name), vec![word.to_string()]));
                }
                i += end;
            }
        }
    }
    (params, text.len())
}

/// A quoted string at the start of `text` (backslash escapes honoured), and the bytes used.
fn quoted(text: &str) -> (String, usize) {
    let mut chars = text.char_indices();
    let Some((_, quote)) = chars.next() else {
        return (String::new(), 0);
    };
    let mut value = String::new();
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            value.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return (value, i + c.len_utf8());
        } else {
            value.push(c);
        }
    }
    (value, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;

    fn target(host: &str, port: Option<u16>, protocol: &str, tls: bool, file: &str) -> LogTarget {
        LogTarget {
            host: host.into(),
            port,
            protocol: protocol.into(),
            tls,
            file: file.into(),
        }
    }

    fn in_file(text: &str) -> Vec<LogTarget> {
        let statements: Vec<_> = parse(text).into_iter().map(|s| ("/etc/rsyslog.conf".to_string(), s)).collect();
        targets(&statements)
    }

    /// Debian 12's rsyslog.conf, unchanged: logs to local files only.
    const DEBIAN_RSYSLOG_CONF: &str = r#"# /etc/rsyslog.conf configuration file for rsyslog
#
# For more information install rsyslog-doc and see
# /usr/share/doc/rsyslog-doc/html/configuration/index.html


#################
#### MODULES ####
#################

module(load="imuxsock") # provides support for local system logging
module(load="imklog")   # provides kernel logging support
#module(load="immark")  # provides --MARK-- message capability

# provides UDP syslog reception
#module(load="imudp")
#input(type="imudp" port="514")

###########################
#### GLOBAL DIRECTIVES ####
###########################

#
# Set the default permissions for all log files.
#
$FileOwner root
$FileGroup adm
$FileCreateMode 0640
$DirCreateMode 0755
$Umask 0022

#
# Where to place spool and state files
#
$WorkDirectory /var/spool/rsyslog

#
# Include all config files in /etc/rsyslog.d/
#
$IncludeConfig /etc/rsyslog.d/*.conf


###############
#### RULES ####
###############

#
# Log anything besides private authentication messages to a single log file
#
*.*;auth,authpriv.none		-/var/log/syslog

#
# Log commonly used facilities to their own log file
#
auth,authpriv.*			/var/log/auth.log
cron.*				-/var/log/cron.log
kern.*				-/var/log/kern.log
mail.*				-/var/log/mail.log
user.*				-/var/log/user.log

#
# Emergencies are sent to everybody logged in.
#
*.emerg				:omusrmsg:*
"#;

    #[test]
    fn debian_default_forwards_nowhere() {
        assert!(in_file(DEBIAN_RSYSLOG_CONF).is_empty());
        let includes: Vec<_> = parse(DEBIAN_RSYSLOG_CONF)
            .into_iter()
            .filter(|s| matches!(s, Statement::Directive { name, .. } if name == "includeconfig"))
            .collect();
        assert_eq!(includes.len(), 1);
    }

    #[test]
    fn reads_legacy_forwarding_actions() {
        let text = "\
# Send everything to the central server
*.* @logs.example.com
auth,authpriv.* @@10.0.0.5:10514;RSYSLOG_SyslogProtocol23Format
kern.* @@(o,z9)collector.example.com:6514
& @[2001:db8::10]:514
:msg, contains, \"user@host\" /var/log/odd.log
local0.* :omrelp:relp.example.com:2514
#*.* @@commented.example.com
";
        assert_eq!(
            in_file(text),
            vec![
                target("logs.example.com", None, "udp", false, "/etc/rsyslog.conf"),
                target("10.0.0.5", Some(10514), "tcp", false, "/etc/rsyslog.conf"),
                target("collector.example.com", Some(6514), "tcp", false, "/etc/rsyslog.conf"),
                target("2001:db8::10", Some(514), "udp", false, "/etc/rsyslog.conf"),
                target("relp.example.com", Some(2514), "relp", false, "/etc/rsyslog.conf"),
            ]
        );
    }

    #[test]
    fn legacy_tls_needs_a_tls_driver_and_mode_1_before_the_action() {
        let text = "\
*.* @@plain.example.com:514
$DefaultNetstreamDriverCAFile /etc/ssl/certs/ca.pem
$DefaultNetstreamDriver gtls
$ActionSendStreamDriverMode 1
$ActionSendStreamDriverAuthMode x509/name
*.* @@(o)siem.example.com:6514
*.* @udp.example.com:514
";
        let t = in_file(text);
        assert_eq!(t.len(), 3);
        // The driver is global, but mode 1 only covers the actions after it.
        assert!(!t[0].tls);
        assert!(t[1].tls);
        assert_eq!(t[1].host, "siem.example.com");
        assert!(!t[2].tls, "UDP is never TLS");
    }

    #[test]
    fn reads_rainerscript_actions_over_several_lines() {
        let text = r#"
global(DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="/etc/ssl/certs/siem-ca.pem")

# TLS to the SIEM
if $syslogseverity <= 6 then {
    action(type="omfwd"
           target="siem.example.com" port="6514" protocol="tcp"
           StreamDriver="gtls"
           StreamDriverMode="1"   # run driver in TLS-only mode
           StreamDriverAuthMode="x509/name"
           StreamDriverPermittedPeers="siem.example.com")
}
*.* action(type="omfwd" target="10.1.1.1" port="514" protocol="udp")
authpriv.* action(type="omfwd" Target="backup.example.com" Port="514" Protocol="tcp")
*.* action(type="omfwd" target=["a.example.com", "b.example.com"] protocol="tcp" streamdriver.mode="1")
*.* action(type="omrelp" target="relp.example.com" port="2514" tls="on")
*.* action(type="omfile" file="/var/log/all.log")
"#;
        assert_eq!(
            in_file(text),
            vec![
                target("siem.example.com", Some(6514), "tcp", true, "/etc/rsyslog.conf"),
                target("10.1.1.1", Some(514), "udp", false, "/etc/rsyslog.conf"),
                // No mode 1: the gtls default driver alone does not encrypt.
                target("backup.example.com", Some(514), "tcp", false, "/etc/rsyslog.conf"),
                target("a.example.com", None, "tcp", true, "/etc/rsyslog.conf"),
                target("b.example.com", None, "tcp", true, "/etc/rsyslog.conf"),
                target("relp.example.com", Some(2514), "relp", true, "/etc/rsyslog.conf"),
            ]
        );
    }

    #[test]
    fn a_condition_on_its_own_line_is_not_a_directive() {
        let text = "if $programname == 'sshd' and\n   $msg contains 'Failed' then @@auth.example.com:514\n";
        assert_eq!(
            in_file(text),
            vec![target("auth.example.com", Some(514), "tcp", false, "/etc/rsyslog.conf")]
        );
    }

    #[test]
    fn follows_includes_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/rsyslog.d")).unwrap();
        std::fs::write(
            dir.path().join("etc/rsyslog.conf"),
            "$DefaultNetstreamDriver gtls\n$IncludeConfig /etc/rsyslog.d/*.conf\n*.* @@after.example.com\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/rsyslog.d/10-tls.conf"), "$ActionSendStreamDriverMode 1\n").unwrap();
        std::fs::write(dir.path().join("etc/rsyslog.d/50-siem.conf"), "*.* @@siem.example.com:6514\n").unwrap();
        std::fs::write(
            dir.path().join("etc/rsyslog.d/60-more.conf"),
            "include(file=\"/etc/rsyslog.d/extra/*.frag\" mode=\"optional\")\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/rsyslog.d/ignored.conf.dpkg-dist"), "*.* @nope\n").unwrap();
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        let mut sources = Vec::new();
        let t = collect(&ctx, "logging.syslog", &mut errors, &mut sources);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(
            t,
            vec![
                target("siem.example.com", Some(6514), "tcp", true, "/etc/rsyslog.d/50-siem.conf"),
                target("after.example.com", None, "tcp", true, "/etc/rsyslog.conf"),
            ]
        );
        assert_eq!(
            sources,
            vec![
                "/etc/rsyslog.conf",
                "/etc/rsyslog.d/10-tls.conf",
                "/etc/rsyslog.d/50-siem.conf",
                "/etc/rsyslog.d/60-more.conf"
            ]
        );
    }
}

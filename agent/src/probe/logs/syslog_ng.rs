//! syslog-ng forwarding: network destinations that a `log` path uses.
//!
//! A destination only forwards when some `log { … destination(d); }` names
//! it (or declares it inline), so defined but unused destinations, common in
//! shipped examples, are not targets.

use super::files;
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::LogTarget;

const MAIN: &str = "/etc/syslog-ng/syslog-ng.conf";
const CONF_DIR: &str = "/etc/syslog-ng";
const MAX_INCLUDE_DEPTH: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Str(String),
    Punct(char),
}

/// What one file declares.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// Named destinations and the targets their drivers send to.
    pub destinations: Vec<(String, Vec<LogTarget>)>,
    /// Destination names used by log paths.
    pub used: Vec<String>,
    /// Destinations declared inside a log path.
    pub inline: Vec<LogTarget>,
}

pub fn collect(ctx: &ProbeContext<'_>, probe: &str, errors: &mut Errors, sources: &mut Vec<String>) -> Vec<LogTarget> {
    let mut parsed = Vec::new();
    load(ctx, MAIN, 0, probe, errors, sources, &mut parsed);
    resolve(&parsed)
}

fn load(
    ctx: &ProbeContext<'_>,
    path: &str,
    depth: usize,
    probe: &str,
    errors: &mut Errors,
    sources: &mut Vec<String>,
    out: &mut Vec<(String, Parsed)>,
) {
    if depth > MAX_INCLUDE_DEPTH || sources.iter().any(|s| s == path) {
        return;
    }
    let Some(text) = files::read(ctx, path, probe, errors, sources) else {
        return;
    };
    out.push((path.to_string(), parse(&text)));
    for include in includes(&text) {
        // Relative includes also search syslog-ng's own library (scl.conf),
        // which declares no log paths: a miss there is not an error.
        let pattern = if include.starts_with('/') {
            include
        } else {
            files::join(CONF_DIR, &include)
        };
        for file in files::expand(ctx, &pattern, probe, errors) {
            load(ctx, &file, depth + 1, probe, errors, sources, out);
        }
    }
}

/// `@include "path"` lines.
pub fn includes(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("@include"))
        .map(|rest| files::strip_hash_comment(rest).trim().trim_matches(['"', '\'']).to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Targets of destinations used by a log path, in file order.
pub fn resolve(files: &[(String, Parsed)]) -> Vec<LogTarget> {
    let used: Vec<&String> = files.iter().flat_map(|(_, p)| &p.used).collect();
    let mut out = Vec::new();
    for (file, parsed) in files {
        for (name, targets) in &parsed.destinations {
            if used.contains(&name) {
                out.extend(targets.iter().map(|t| with_file(t, file)));
            }
        }
        out.extend(parsed.inline.iter().map(|t| with_file(t, file)));
    }
    out
}

fn with_file(t: &LogTarget, file: &str) -> LogTarget {
    LogTarget {
        file: file.to_string(),
        ..t.clone()
    }
}

pub fn parse(text: &str) -> Parsed {
    let tokens = tokenize(text);
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < tokens.len() {
        // `kind [name] { body };` at the top level.
        let Token::Word(kind) = &tokens[i] else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        let name = match tokens.get(j) {
            Some(Token::Word(n) | Token::Str(n)) => {
                j += 1;
                Some(n.clone())
            }
            _ => None,
        };
        if tokens.get(j) != Some(&Token::Punct('{')) {
            i += 1;
            continue;
        }
        let end = closing(&tokens, j, '{', '}');
        let body = &tokens[j + 1..end];
        match (kind.as_str(), name) {
            ("destination", Some(name)) => parsed.destinations.push((name, targets(body))),
            ("log", None) => log_path(body, &mut parsed),
            _ => {}
        }
        i = end + 1;
    }
    parsed
}

/// `destination(name)` references and inline `destination { … }` in a log path (nested paths included).
fn log_path(body: &[Token], parsed: &mut Parsed) {
    let mut i = 0;
    while i < body.len() {
        if body[i] == Token::Word("destination".into()) {
            match body.get(i + 1) {
                Some(Token::Punct('(')) => {
                    let end = closing(body, i + 1, '(', ')');
                    for t in &body[i + 2..end] {
                        if let Token::Word(n) | Token::Str(n) = t {
                            parsed.used.push(n.clone());
                        }
                    }
                    i = end;
                }
                Some(Token::Punct('{')) => {
                    let end = closing(body, i + 1, '{', '}');
                    parsed.inline.extend(targets(&body[i + 2..end]));
                    i = end;
                }
                _ => {}
            }
        }
        i += 1;
    }
}

/// Network drivers in a destination body: `network()`, `syslog()`, `tcp()`, `udp()` and their IPv6 forms.
fn targets(body: &[Token]) -> Vec<LogTarget> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if let (Token::Word(driver), Some(Token::Punct('('))) = (&body[i], body.get(i + 1)) {
            let end = closing(body, i + 1, '(', ')');
            if let Some(t) = driver_target(driver, &body[i + 2..end]) {
                out.push(t);
            }
            i = end;
        }
        i += 1;
    }
    out
}

fn driver_target(driver: &str, args: &[Token]) -> Option<LogTarget> {
    let default_transport = match driver {
        "network" | "udp" | "udp6" => "udp",
        "syslog" | "tcp" | "tcp6" => "tcp",
        _ => return None,
    };
    let mut host = None;
    let mut port = None;
    let mut transport = None;
    let mut tls_block = false;
    let mut i = 0;
    while i < args.len() {
        match (&args[i], args.get(i + 1)) {
            (Token::Word(option), Some(Token::Punct('('))) => {
                let end = closing(args, i + 1, '(', ')');
                let value = args[i + 2..end].iter().find_map(|t| match t {
                    Token::Word(v) | Token::Str(v) => Some(v.as_str()),
                    Token::Punct(_) => None,
                });
                match option.replace('_', "-").as_str() {
                    "port" | "destport" => port = value.and_then(|v| v.parse().ok()),
                    "transport" => transport = value.map(str::to_ascii_lowercase),
                    "tls" => tls_block = true,
                    _ => {}
                }
                i = end + 1;
            }
            (Token::Word(v) | Token::Str(v), _) if host.is_none() => {
                host = Some(v.clone());
                i += 1;
            }
            _ => i += 1,
        }
    }
    let transport = transport.unwrap_or_else(|| default_transport.to_string());
    // network() and syslog() encrypt only with transport("tls"); the older tcp()
    // driver encrypts as soon as it has a tls() block.
    let tls = transport == "tls" || transport == "proxied-tls" || (matches!(driver, "tcp" | "tcp6") && tls_block);
    let protocol = match transport.as_str() {
        "udp" => "udp",
        _ => "tcp",
    };
    Some(LogTarget {
        host: host?,
        port,
        protocol: protocol.to_string(),
        tls,
        file: String::new(),
    })
}

/// Index of the bracket closing the one at `open` (or the end when unbalanced).
fn closing(tokens: &[Token], open: usize, left: char, right: char) -> usize {
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        if *t == Token::Punct(left) {
            depth += 1;
        } else if *t == Token::Punct(right) {
            depth -= 1;
            if depth == 0 {
                return i;
            }
        }
    }
    tokens.len()
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with('@') {
            continue; // @version, @include, @define
        }
        let line = files::strip_hash_comment(line);
        let mut chars = line.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            match c {
                '(' | ')' | '{' | '}' | ';' | ',' => out.push(Token::Punct(c)),
                '"' | '\'' => {
                    let mut value = String::new();
                    let mut escaped = false;
                    for (_, ch) in chars.by_ref() {
                        if escaped {
                            value.push(ch);
                            escaped = false;
                        } else if ch == '\\' {
                            escaped = true;
                        } else if ch == c {
                            break;
                        } else {
                            value.push(ch);
                        }
                    }
                    out.push(Token::Str(value));
                }
                _ if c.is_whitespace() => {}
                _ => {
                    let mut end = start + c.len_utf8();
                    while let Some(&(i, ch)) = chars.peek() {
                        if ch.is_whitespace() || "(){};,\"'".contains(ch) {
                            break;
                        }
                        end = i + ch.len_utf8();
                        chars.next();
                    }
                    out.push(Token::Word(line[start..end].to_string()));
                }
            }
        }
    }
    out
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

    /// The start of Debian 12's syslog-ng.conf: local files only.
    const DEBIAN_SYSLOG_NG_CONF: &str = r#"@version: 3.38
@include "scl.conf"

# First, set some global options.
options { chain_hostnames(off); flush_lines(0); use_dns(no); use_fqdn(no);
	  dns_cache(no); owner("root"); group("adm"); perm(0640);
	  stats_freq(0); bad_hostname("^gconfd$");
};

source s_src {
       system();
       internal();
};

destination d_auth { file("/var/log/auth.log"); };
destination d_syslog { file("/var/log/syslog"); };

# Send the messages to an other host
#
#destination d_net { tcp("127.0.0.1" port(1000) log_fifo_size(1000)); };

filter f_auth { facility(auth, authpriv); };

log { source(s_src); filter(f_auth); destination(d_auth); };
log { source(s_src); filter(f_syslog3); destination(d_syslog); };

###
# Include all config files in /etc/syslog-ng/conf.d/
###
@include "/etc/syslog-ng/conf.d/*.conf"
"#;

    const SIEM_CONF: &str = r#"
destination d_siem {
    network("siem.example.com"
        port(6514)
        transport("tls")
        tls(ca-dir("/etc/syslog-ng/ca.d") peer-verify(required-trusted))
    );
};
destination d_backup { syslog("backup.example.com" transport("tls")); };
destination d_plain { udp("10.0.0.9"); tcp6("2001:db8::9" port(514)); };
destination d_legacy_tls { tcp("legacy.example.com" port(6514) tls(ca_dir("/etc/ssl/certs"))); };
destination d_unused { network("unused.example.com" transport("tcp")); };

log { source(s_src); destination(d_siem); destination(d_backup); };
log { source(s_src); filter(f_auth);
      log { destination(d_plain); destination(d_legacy_tls); };
};
log { source(s_src); destination { network("inline.example.com" port(514) transport(tcp)); }; };
"#;

    #[test]
    fn debian_default_forwards_nowhere() {
        let parsed = parse(DEBIAN_SYSLOG_NG_CONF);
        assert_eq!(parsed.used, vec!["d_auth", "d_syslog"]);
        assert!(resolve(&[("/etc/syslog-ng/syslog-ng.conf".into(), parsed)]).is_empty());
        assert_eq!(includes(DEBIAN_SYSLOG_NG_CONF), vec!["scl.conf", "/etc/syslog-ng/conf.d/*.conf"]);
    }

    #[test]
    fn reads_used_network_destinations_and_their_encryption() {
        let f = "/etc/syslog-ng/conf.d/siem.conf";
        assert_eq!(
            resolve(&[(f.into(), parse(SIEM_CONF))]),
            vec![
                target("siem.example.com", Some(6514), "tcp", true, f),
                target("backup.example.com", None, "tcp", true, f),
                target("10.0.0.9", None, "udp", false, f),
                target("2001:db8::9", Some(514), "tcp", false, f),
                target("legacy.example.com", Some(6514), "tcp", true, f),
                target("inline.example.com", Some(514), "tcp", false, f),
            ]
        );
    }

    #[test]
    fn follows_includes_from_the_main_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/syslog-ng/conf.d")).unwrap();
        std::fs::write(dir.path().join("etc/syslog-ng/syslog-ng.conf"), DEBIAN_SYSLOG_NG_CONF).unwrap();
        std::fs::write(dir.path().join("etc/syslog-ng/conf.d/siem.conf"), SIEM_CONF).unwrap();
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        let mut sources = Vec::new();
        let t = collect(&ctx, "logging.syslog", &mut errors, &mut sources);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(sources, vec!["/etc/syslog-ng/syslog-ng.conf", "/etc/syslog-ng/conf.d/siem.conf"]);
        assert_eq!(t.len(), 6);
        assert!(t.iter().all(|t| t.file == "/etc/syslog-ng/conf.d/siem.conf"));
    }
}

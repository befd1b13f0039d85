//! Where packages come from: apt sources (sources.list(5), one-line and
//! deb822 formats) and yum/dnf/zypper `.repo` files.

use khien_proto::facts::Repository;

pub const APT_LIST: &str = "/etc/apt/sources.list";
pub const APT_PARTS: &str = "/etc/apt/sources.list.d";
pub const REPO_DIRS: [&str; 2] = ["/etc/yum.repos.d", "/etc/zypp/repos.d"];

/// `deb [ option=value … ] uri suite [component …]`, one per line. Only
/// binary `deb` lines: `deb-src` brings source code, not installed software.
/// Commented lines are not sources, whatever they look like.
pub fn parse_one_line(text: &str, file: &str) -> Vec<Repository> {
    let mut repos = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let Some(rest) = line.strip_prefix("deb").filter(|r| r.starts_with([' ', '\t'])) else {
            continue;
        };
        let mut rest = rest.trim_start();
        if let Some(options) = rest.strip_prefix('[') {
            rest = options.split_once(']').map_or("", |(_, after)| after);
        }
        let rest = rest.trim_start();
        // A cdrom URI names the disc in brackets, spaces included.
        let uri_len = match rest.strip_prefix("cdrom:[").and_then(|r| r.find(']')) {
            Some(close) => rest[7 + close..].find(char::is_whitespace).map_or(rest.len(), |k| 7 + close + k),
            None => rest.find(char::is_whitespace).unwrap_or(rest.len()),
        };
        let (uri, rest) = rest.split_at(uri_len);
        if uri.is_empty() {
            continue;
        }
        let mut words = rest.split_whitespace();
        repos.push(Repository {
            uri: uri.to_string(),
            host: host(uri),
            suite: words.next().map(str::to_string),
            enabled: true,
            file: file.to_string(),
        });
    }
    repos
}

/// deb822 `.sources` stanzas: `Types`, `URIs`, `Suites`, `Enabled`; one
/// repository per URI and suite of a stanza with type `deb`.
pub fn parse_deb822(text: &str, file: &str) -> Vec<Repository> {
    let mut repos = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut flush = |fields: &mut Vec<(String, String)>| {
        let get = |name: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        if get("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb")) {
            let enabled = get("Enabled").is_none_or(apt_bool);
            let suites: Vec<&str> = get("Suites").unwrap_or_default().split_whitespace().collect();
            for uri in get("URIs").unwrap_or_default().split_whitespace() {
                for suite in &suites {
                    repos.push(Repository {
                        uri: uri.to_string(),
                        host: host(uri),
                        suite: Some(suite.to_string()),
                        enabled,
                        file: file.to_string(),
                    });
                }
            }
        }
        fields.clear();
    };
    for line in text.lines() {
        if line.starts_with('#') {
            // Comments may sit inside a stanza without ending it.
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut fields);
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    flush(&mut fields);
    repos
}

/// apt's `StringToBool`: these words are false, anything else is true.
fn apt_bool(v: &str) -> bool {
    !["no", "false", "without", "off", "disable", "0"]
        .iter()
        .any(|f| v.trim().eq_ignore_ascii_case(f))
}

/// `[id]` sections of a `.repo` file; the repository id stands for the suite.
/// `enabled` defaults to 1; the URI is the first `baseurl`, else the
/// `metalink` or `mirrorlist` that gives the mirrors.
pub fn parse_repo_file(text: &str, file: &str) -> Vec<Repository> {
    struct Section {
        id: String,
        baseurl: Option<String>,
        other: Option<String>,
        enabled: bool,
    }
    let mut sections: Vec<Section> = Vec::new();
    let mut last_key = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if let Some(id) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            sections.push(Section {
                id: id.trim().to_string(),
                baseurl: None,
                other: None,
                enabled: true,
            });
            last_key.clear();
            continue;
        }
        let Some(section) = sections.last_mut() else { continue };
        if line.starts_with([' ', '\t']) {
            // Further base URLs of a multi-line `baseurl`: the first is enough.
            if last_key == "baseurl" && section.baseurl.is_none() {
                section.baseurl = trimmed.split([',', ' ']).find(|s| !s.is_empty()).map(str::to_string);
            }
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else { continue };
        last_key = key.trim().to_ascii_lowercase();
        let first = value.split([',', ' ', '\t']).find(|s| !s.is_empty()).map(str::to_string);
        match last_key.as_str() {
            "baseurl" => section.baseurl = first,
            "metalink" | "mirrorlist" if section.other.is_none() => section.other = first,
            "enabled" => section.enabled = !matches!(value.trim().to_ascii_lowercase().as_str(), "0" | "no" | "false" | "off"),
            _ => {}
        }
    }
    sections
        .into_iter()
        .map(|s| {
            let uri = s.baseurl.or(s.other).unwrap_or_default();
            Repository {
                host: host(&uri),
                uri,
                suite: Some(s.id),
                enabled: s.enabled,
                file: file.to_string(),
            }
        })
        .collect()
}

/// Lower-case host of a URI; empty for `file:`, `cdrom:` and anything without
/// an authority. apt's `mirror+http://` and `tor+https://` name a host too.
pub fn host(uri: &str) -> String {
    let Some((_, rest)) = uri.split_once("://") else {
        return String::new();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES_LIST: &str = "\
# deb cdrom:[Debian GNU/Linux 12.4.0 _Bookworm_ - Official amd64 DVD Binary-1]/ bookworm contrib main
deb http://deb.debian.org/debian bookworm main non-free-firmware
deb-src http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://Download.Docker.com/linux/debian bookworm stable
deb [ trusted=yes ] file:/srv/repo ./
deb cdrom:[Debian GNU/Linux 12.4.0 _Bookworm_ - Official amd64 DVD Binary-1]/ bookworm contrib main
#deb http://security.debian.org/debian-security bookworm-security main
deb http://user:secret@mirror.example.vn:8080/debian bookworm-updates main # proxy
debian is not a source line
";

    #[test]
    fn reads_one_line_sources() {
        let repos = parse_one_line(SOURCES_LIST, "/etc/apt/sources.list");
        let got: Vec<(&str, &str, Option<&str>)> = repos
            .iter()
            .map(|r| (r.uri.as_str(), r.host.as_str(), r.suite.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("http://deb.debian.org/debian", "deb.debian.org", Some("bookworm")),
                ("https://Download.Docker.com/linux/debian", "download.docker.com", Some("bookworm")),
                ("file:/srv/repo", "", Some("./")),
                (
                    "cdrom:[Debian GNU/Linux 12.4.0 _Bookworm_ - Official amd64 DVD Binary-1]/",
                    "",
                    Some("bookworm")
                ),
                (
                    "http://user:secret@mirror.example.vn:8080/debian",
                    "mirror.example.vn",
                    Some("bookworm-updates")
                ),
            ]
        );
        assert!(repos.iter().all(|r| r.enabled && r.file == "/etc/apt/sources.list"));
    }

    const DEBIAN_SOURCES: &str = "\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

types: deb
uris: https://packages.example.com/apt
 https://mirror.example.com/apt
suites: stable
components: main
enabled: no
signed-by:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL0BUBEADmW5NlOJpA9ix3zEGDZ3HZUt7aD1T0N8iJc0jNEvJm4uTdnfzW
 URIs: https://not.a.field.example
 -----END PGP PUBLIC KEY BLOCK-----
";

    #[test]
    fn reads_deb822_sources() {
        let repos = parse_deb822(DEBIAN_SOURCES, "/etc/apt/sources.list.d/debian.sources");
        let got: Vec<(&str, &str, Option<&str>, bool)> = repos
            .iter()
            .map(|r| (r.uri.as_str(), r.host.as_str(), r.suite.as_deref(), r.enabled))
            .collect();
        assert_eq!(
            got,
            [
                ("http://deb.debian.org/debian", "deb.debian.org", Some("bookworm"), true),
                ("http://deb.debian.org/debian", "deb.debian.org", Some("bookworm-updates"), true),
                (
                    "http://deb.debian.org/debian-security",
                    "deb.debian.org",
                    Some("bookworm-security"),
                    true
                ),
                ("https://packages.example.com/apt", "packages.example.com", Some("stable"), false),
                ("https://mirror.example.com/apt", "mirror.example.com", Some("stable"), false),
            ]
        );
        assert!(parse_deb822("", "x").is_empty());
    }

    const REPO: &str = "\
[baseos]
name=Rocky Linux $releasever - BaseOS
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever$rltype
#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/BaseOS/$basearch/os/
gpgcheck=1
enabled=1
countme=1

[baseos-debug]
name=Rocky Linux $releasever - BaseOS - Debug
baseurl=
  http://Dl.RockyLinux.org/vault/rocky/$releasever/BaseOS/$basearch/debug/tree/
  http://other.example.org/
enabled = 0

[epel]
metalink=https://mirrors.fedoraproject.org/metalink?repo=epel-$releasever&arch=$basearch
baseurl=https://mirror.example.vn/epel/$releasever/Everything/$basearch/,https://second.example/
";

    #[test]
    fn reads_repo_files() {
        let repos = parse_repo_file(REPO, "/etc/yum.repos.d/rocky.repo");
        let got: Vec<(&str, &str, Option<&str>, bool)> = repos
            .iter()
            .map(|r| (r.uri.as_str(), r.host.as_str(), r.suite.as_deref(), r.enabled))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever$rltype",
                    "mirrors.rockylinux.org",
                    Some("baseos"),
                    true
                ),
                (
                    "http://Dl.RockyLinux.org/vault/rocky/$releasever/BaseOS/$basearch/debug/tree/",
                    "dl.rockylinux.org",
                    Some("baseos-debug"),
                    false
                ),
                (
                    "https://mirror.example.vn/epel/$releasever/Everything/$basearch/",
                    "mirror.example.vn",
                    Some("epel"),
                    true
                ),
            ]
        );
    }

    #[test]
    fn extracts_hosts() {
        assert_eq!(host("http://[2001:db8::1]:3142/debian"), "2001:db8::1");
        assert_eq!(host("mirror+http://Mirrors.Example.com/list.txt"), "mirrors.example.com");
        assert_eq!(host("cdrom:[Debian 12]/"), "");
        assert_eq!(host("file:///srv/repo"), "");
        assert_eq!(host(""), "");
    }
}

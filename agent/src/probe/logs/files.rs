//! File access shared by the log and time probes: reading a configuration
//! file while remembering where facts came from, and expanding the include
//! patterns daemons accept (`/etc/rsyslog.d/*.conf`, a bare folder).

use crate::probe::root::describe;
use crate::probe::{Errors, ProbeContext};
use std::cmp::Ordering;

/// The file's text, `None` when it does not exist. A file that exists but
/// cannot be read is an error under `probe`; a file read is added to `sources`.
pub fn read(ctx: &ProbeContext<'_>, path: &str, probe: &str, errors: &mut Errors, sources: &mut Vec<String>) -> Option<String> {
    match ctx.root.read_optional(path) {
        Ok(Some(text)) => {
            sources.push(path.to_string());
            Some(text)
        }
        Ok(None) => None,
        Err(e) => {
            errors.push(probe, describe(ctx.root.path(path), &e));
            None
        }
    }
}

/// File names in a folder, sorted; an absent folder is empty, an unreadable one an error.
pub fn list(ctx: &ProbeContext<'_>, dir: &str, probe: &str, errors: &mut Errors) -> Vec<String> {
    match ctx.root.list(dir) {
        Ok(names) => names,
        Err(e) => {
            errors.push(probe, describe(ctx.root.path(dir), &e));
            Vec::new()
        }
    }
}

/// `dir/name` without doubling the separator.
pub fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// The files an include pattern names, in the order the daemon reads them.
///
/// Wildcards are honoured in the last component only, which is how every
/// distribution writes these includes; a folder stands for every file in it.
pub fn expand(ctx: &ProbeContext<'_>, pattern: &str, probe: &str, errors: &mut Errors) -> Vec<String> {
    let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    let dir = if dir.is_empty() { "/" } else { dir };
    if name.contains(['*', '?', '[']) {
        return list(ctx, dir, probe, errors)
            .into_iter()
            .filter(|n| glob_match(name, n))
            .map(|n| join(dir, &n))
            .collect();
    }
    let path = ctx.root.path(pattern);
    if path.is_dir() {
        return list(ctx, pattern, probe, errors)
            .into_iter()
            .map(|n| join(pattern, &n))
            .filter(|p| !ctx.root.path(p).is_dir())
            .collect();
    }
    vec![pattern.to_string()]
}

/// Shell-style match of one file name: `*`, `?` and `[abc]` classes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    // Hidden files are skipped by the shell globs daemons use.
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    matches(pattern.as_bytes(), name.as_bytes())
}

fn matches(p: &[u8], n: &[u8]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some(b'*') => (0..=n.len()).any(|i| matches(&p[1..], &n[i..])),
        Some(b'?') => !n.is_empty() && matches(&p[1..], &n[1..]),
        Some(b'[') => {
            let Some(end) = p.iter().position(|&c| c == b']') else {
                return n.first() == Some(&b'[') && matches(&p[1..], &n[1..]);
            };
            let Some(&c) = n.first() else { return false };
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some(b'!' | b'^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= (class[i]..=class[i + 2]).contains(&c);
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && matches(&p[end + 1..], &n[1..])
        }
        Some(&c) => n.first() == Some(&c) && matches(&p[1..], &n[1..]),
    }
}

/// `ls -v` order: runs of digits compare as numbers, so `9-x` comes before `10-y`.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let na = trim_zeros(&a[..da]);
                let nb = trim_zeros(&b[..db]);
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

/// Removes `#` comments that are outside double or single quotes.
pub fn strip_hash_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;

    #[test]
    fn globs_like_the_shell() {
        assert!(glob_match("*.conf", "50-default.conf"));
        assert!(!glob_match("*.conf", "50-default.conf.dpkg-old"));
        assert!(!glob_match("*.conf", ".hidden.conf"));
        assert!(glob_match("aide*", "aide"));
        assert!(glob_match("file?.rules", "file1.rules"));
        assert!(glob_match("[0-9]*.rules", "10-base.rules"));
        assert!(!glob_match("[!0-9]*.rules", "10-base.rules"));
        assert!(glob_match("*", "x"));
    }

    #[test]
    fn sorts_numbers_as_numbers() {
        let mut names = vec![
            "99-finalize.rules",
            "10-base-config.rules",
            "9-early.rules",
            "30-stig.rules",
            "a.rules",
        ];
        names.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(
            names,
            vec![
                "9-early.rules",
                "10-base-config.rules",
                "30-stig.rules",
                "99-finalize.rules",
                "a.rules"
            ]
        );
        assert_eq!(version_cmp("01-x", "1-x"), Ordering::Equal);
    }

    #[test]
    fn strips_comments_outside_quotes() {
        assert_eq!(strip_hash_comment("*.* @host # forward"), "*.* @host ");
        assert_eq!(
            strip_hash_comment(r##"template(string="#%msg%") # x"##),
            r##"template(string="#%msg%") "##
        );
        assert_eq!(strip_hash_comment("# all"), "");
    }

    #[test]
    fn expands_patterns_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/rsyslog.d/sub")).unwrap();
        for name in ["50-default.conf", "20-ufw.conf", "README"] {
            std::fs::write(dir.path().join("etc/rsyslog.d").join(name), "").unwrap();
        }
        let config = ProbeConfig::default();
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        assert_eq!(
            expand(&ctx, "/etc/rsyslog.d/*.conf", "t", &mut errors),
            vec!["/etc/rsyslog.d/20-ufw.conf", "/etc/rsyslog.d/50-default.conf"]
        );
        assert_eq!(expand(&ctx, "/etc/rsyslog.d", "t", &mut errors).len(), 3);
        assert_eq!(expand(&ctx, "/etc/missing.conf", "t", &mut errors), vec!["/etc/missing.conf"]);
        assert!(expand(&ctx, "/etc/nothing.d/*.conf", "t", &mut errors).is_empty());
        assert!(errors.0.is_empty());
    }
}

//! The shell's idle timeout: `TMOUT` set system-wide in the files every
//! login shell (or every interactive bash) reads. The smallest positive
//! value counts; `readonly TMOUT` (or `declare -r`/`typeset -r`) stops a user
//! from unsetting it. Conditions around an assignment are not evaluated.

use super::{glob, push_unique, read_noting};
use crate::probe::{Errors, ProbeContext};
use khien_proto::facts::Session;

const PROBE: &str = "session";
const FILES: [&str; 4] = ["/etc/profile", "/etc/profile.d/*.sh", "/etc/bash.bashrc", "/etc/bashrc"];

pub fn collect(ctx: &ProbeContext<'_>, errors: &mut Errors) -> Session {
    let mut session = Session::default();
    let mut readonly = false;
    let mut complete = true;
    for pattern in FILES {
        let paths = glob(&ctx.root, pattern).unwrap_or_else(|e| {
            errors.push(PROBE, e);
            complete = false;
            Vec::new()
        });
        for path in paths {
            let before = errors.0.len();
            let Some(text) = read_noting(&ctx.root, &path, PROBE, errors) else {
                complete &= errors.0.len() == before;
                continue;
            };
            let found = scan_tmout(&text);
            if !found.mentioned {
                continue;
            }
            push_unique(&mut session.sources, &path);
            readonly |= found.readonly;
            for value in found.values.into_iter().filter(|v| *v > 0) {
                session.shell_timeout_seconds = Some(session.shell_timeout_seconds.map_or(value, |s| s.min(value)));
            }
        }
    }
    // A file that could not be read may hold the readonly line.
    session.shell_timeout_readonly = if readonly { Some(true) } else { complete.then_some(false) };
    session
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TmoutScan {
    /// Every value assigned, 0 included.
    pub values: Vec<u64>,
    pub readonly: bool,
    /// TMOUT appears in a statement at all.
    pub mentioned: bool,
}

/// Finds `TMOUT=N`, `export TMOUT=N`, `readonly TMOUT[=N]`,
/// `declare -r TMOUT[=N]`, `typeset -xr TMOUT[=N]` in shell text.
pub fn scan_tmout(text: &str) -> TmoutScan {
    let mut scan = TmoutScan::default();
    for line in text.lines() {
        for statement in line.split([';', '&', '|']) {
            let mut words = statement.split_whitespace().take_while(|w| !w.starts_with('#')).peekable();
            // Skip the shell words that can precede a command.
            while words.next_if(|w| matches!(*w, "then" | "else" | "do" | "{" | "(" | "!")).is_some() {}
            let Some(first) = words.next() else { continue };
            let (makes_readonly, rest): (bool, Vec<&str>) = match first {
                "readonly" => (true, words.collect()),
                "export" | "declare" | "typeset" | "local" => {
                    let rest: Vec<&str> = words.collect();
                    let flags = rest.iter().filter(|w| w.starts_with('-')).any(|w| w.contains('r'));
                    (flags, rest)
                }
                _ => (false, vec![first]),
            };
            for word in rest.iter().filter(|w| !w.starts_with('-')) {
                let (name, value) = match word.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (*word, None),
                };
                if name != "TMOUT" {
                    continue;
                }
                scan.mentioned = true;
                scan.readonly |= makes_readonly;
                if let Some(n) = value.and_then(|v| v.trim_matches(['"', '\'']).parse().ok()) {
                    scan.values.push(n);
                }
            }
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeConfig;
    use crate::probe::procs::Processes;
    use crate::probe::root::Root;

    #[test]
    fn finds_assignments_and_readonly_forms() {
        let s = scan_tmout("# Log out idle shells (CIS 5.4.3.2)\nTMOUT=900\nreadonly TMOUT\nexport TMOUT\n");
        assert_eq!((s.values.clone(), s.readonly, s.mentioned), (vec![900], true, true));
        let s = scan_tmout("readonly TMOUT=\"600\" ; export TMOUT\n");
        assert_eq!((s.values.clone(), s.readonly), (vec![600], true));
        let s = scan_tmout("if [ \"$(id -u)\" -ne 0 ]; then declare -xr TMOUT=300; fi\n");
        assert_eq!((s.values.clone(), s.readonly), (vec![300], true));
        let s = scan_tmout("typeset -r TMOUT\n");
        assert!(s.readonly && s.values.is_empty());
        let s = scan_tmout("export TMOUT=0\n# readonly TMOUT\necho $TMOUT\n");
        assert_eq!((s.values.clone(), s.readonly), (vec![0], false));
        let s = scan_tmout("MYTMOUT=5\nexport HISTSIZE=1000\n");
        assert!(!s.mentioned);
    }

    fn write(dir: &std::path::Path, path: &str, text: &str) {
        let p = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn the_smallest_positive_timeout_across_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/etc/profile", "if [ \"${PS1-}\" ]; then\n  PS1='$ '\nfi\nTMOUT=0\n");
        write(dir.path(), "/etc/profile.d/tmout.sh", "TMOUT=900\nreadonly TMOUT\nexport TMOUT\n");
        write(dir.path(), "/etc/profile.d/zz-admin.sh", "TMOUT=600\n");
        write(dir.path(), "/etc/profile.d/notes.txt", "TMOUT=5\n");
        write(dir.path(), "/etc/bash.bashrc", "# System-wide .bashrc file\n");
        let config = ProbeConfig {
            root: dir.path().into(),
            ..Default::default()
        };
        let ctx = ProbeContext::new(Root::new(dir.path()), Processes::default(), &config);
        let mut errors = Errors::default();
        let s = collect(&ctx, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(s.shell_timeout_seconds, Some(600));
        assert_eq!(s.shell_timeout_readonly, Some(true));
        assert_eq!(
            s.sources,
            vec!["/etc/profile", "/etc/profile.d/tmout.sh", "/etc/profile.d/zz-admin.sh"]
        );

        let empty = tempfile::tempdir().unwrap();
        let ctx = ProbeContext::new(Root::new(empty.path()), Processes::default(), &config);
        let s = collect(&ctx, &mut errors);
        assert_eq!((s.shell_timeout_seconds, s.shell_timeout_readonly), (None, Some(false)));
    }
}

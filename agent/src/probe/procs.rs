//! A snapshot of running processes, taken once per collection and shared by
//! the probes that ask "is X running" (anti-malware daemons, firewalld) and by
//! the socket probe that names each listener's process.
//!
//! Read from `/proc/<pid>/comm` and the first word of `cmdline`: cheaper than a
//! general process library, and all we need.

use super::root::Root;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// Kernel command name, at most 15 bytes.
    pub comm: String,
    /// Base name of argv[0], untruncated (empty for kernel threads).
    pub argv0: String,
    /// The arguments after argv[0].
    pub args: Vec<String>,
}

impl Process {
    pub fn is(&self, name: &str) -> bool {
        self.argv0 == name || self.comm == name || (name.len() > 15 && self.comm == name[..15])
    }
}

#[derive(Clone, Debug, Default)]
pub struct Processes(pub Vec<Process>);

impl Processes {
    /// Every process visible under `/proc`; processes that exit meanwhile are skipped.
    pub fn snapshot(root: &Root) -> std::io::Result<Processes> {
        let mut out = Vec::new();
        for name in root.list("/proc")? {
            let Ok(pid) = name.parse::<u32>() else { continue };
            let Ok(comm) = root.read_to_string(format!("/proc/{pid}/comm")) else {
                continue;
            };
            let cmdline = std::fs::read(root.path(format!("/proc/{pid}/cmdline"))).unwrap_or_default();
            let mut words = cmdline
                .split(|b| *b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned());
            let argv0 = words
                .next()
                .and_then(|first| {
                    // Daemons that rewrite their title ("sshd: /usr/sbin/sshd -D") keep the name first.
                    let word = first.split_whitespace().next()?.trim_end_matches(':');
                    Some(word.rsplit('/').next().unwrap_or(word).to_string())
                })
                .unwrap_or_default();
            let args = words.collect();
            out.push(Process {
                pid,
                comm: comm.trim_end_matches('\n').to_string(),
                argv0,
                args,
            });
        }
        Ok(Processes(out))
    }

    pub fn running(&self, name: &str) -> bool {
        self.0.iter().any(|p| p.is(name))
    }

    pub fn find(&self, name: &str) -> impl Iterator<Item = &Process> {
        self.0.iter().filter(move |p| p.is(name))
    }

    pub fn by_pid(&self, pid: u32) -> Option<&Process> {
        self.0.iter().find(|p| p.pid == pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(dir: &std::path::Path, pid: u32, comm: &str, cmdline: &[u8]) {
        let p = dir.join(format!("proc/{pid}"));
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
        std::fs::write(p.join("cmdline"), cmdline).unwrap();
    }

    #[test]
    fn reads_names_from_comm_and_cmdline() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 1, "systemd", b"/sbin/init\0splash\0");
        fake_proc(dir.path(), 42, "clamd", b"/usr/sbin/clamd\0--foreground=true\0");
        fake_proc(dir.path(), 77, "sshd", b"sshd: /usr/sbin/sshd -D [listener]\0");
        fake_proc(dir.path(), 90, "falcon-sensor-b", b"/opt/CrowdStrike/falcon-sensor-bpf\0");
        fake_proc(dir.path(), 2, "kthreadd", b"");
        std::fs::create_dir_all(dir.path().join("proc/self")).unwrap();
        let procs = Processes::snapshot(&Root::new(dir.path())).unwrap();
        assert_eq!(procs.0.len(), 5);
        assert!(procs.running("clamd"));
        assert!(procs.running("sshd"));
        assert!(procs.running("init"));
        assert!(procs.running("falcon-sensor-bpf"));
        assert!(!procs.running("clamonacc"));
        assert_eq!(procs.by_pid(42).unwrap().argv0, "clamd");
        assert_eq!(procs.by_pid(42).unwrap().args, vec!["--foreground=true"]);
        assert_eq!(procs.by_pid(2).unwrap().argv0, "");
    }

    #[test]
    fn sees_this_process_on_a_real_system() {
        let procs = Processes::snapshot(&Root::default()).unwrap();
        assert!(procs.by_pid(std::process::id()).is_some());
    }
}

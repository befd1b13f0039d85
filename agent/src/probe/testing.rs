//! Helpers for probe tests: a misconfigured machine built as a folder tree
//! that the probes read through their root prefix.

use super::procs::Process;
use std::path::Path;

/// Writes a file at an absolute path (`/etc/x`) under `root`, creating folders.
pub fn write(root: &Path, path: &str, content: impl AsRef<[u8]>) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("a file path has a parent")).expect("creating the folders");
    std::fs::write(p, content).expect("writing the file");
}

/// A running process as the snapshot records it.
pub fn process(pid: u32, name: &str) -> Process {
    Process {
        pid,
        comm: name.chars().take(15).collect(),
        argv0: name.into(),
        args: Vec::new(),
    }
}

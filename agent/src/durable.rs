//! Files that survive a crash: written aside, synced, renamed into place, the
//! folder synced. Used by the spool and the agent's state; private to the
//! agent's user, because what the agent keeps describes the machine's
//! weaknesses and holds its keys.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Writes `data` to `tmp_dir/<name>.tmp`, syncs it, renames it to
/// `dest_dir/<name>` and syncs `dest_dir`. The temp file is removed on failure.
/// The returned error's message names the file concerned.
pub fn write_atomic(tmp_dir: &Path, dest_dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    let tmp = tmp_dir.join(format!("{name}.tmp"));
    let written = create_private(&tmp).and_then(|mut f| {
        f.write_all(data)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(with_path(&tmp, e));
    }
    let dest = dest_dir.join(name);
    if let Err(e) = fs::rename(&tmp, &dest) {
        let _ = fs::remove_file(&tmp);
        return Err(with_path(&dest, e));
    }
    sync_dir(dest_dir)
}

/// An error whose message starts with the path it concerns; the kind is kept.
pub fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(unix)]
pub fn create_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

#[cfg(not(unix))]
pub fn create_options() -> OpenOptions {
    OpenOptions::new()
}

/// Creates or truncates a file readable by its owner only. The mode is set
/// again because the umask may have cleared bits.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = create_options().write(true).create(true).truncate(true).open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Creates the folder (and its parents) if needed and makes it 0700, also
/// when it already existed with a wider mode.
pub fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(path).map_err(|e| with_path(path, e))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(|e| with_path(path, e))?;
    }
    #[cfg(not(unix))]
    builder.create(path).map_err(|e| with_path(path, e))?;
    Ok(())
}

/// Makes renames and deletions in the folder durable. Windows cannot open a
/// folder as a file; NTFS journals its metadata, so there is nothing to do.
#[cfg(unix)]
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path).and_then(|d| d.sync_all()).map_err(|e| with_path(path, e))
}

#[cfg(not(unix))]
pub fn sync_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_privately_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), dir.path(), "state.json", b"{}").unwrap();
        write_atomic(dir.path(), dir.path(), "state.json", b"{\"a\":1}").unwrap();
        assert_eq!(fs::read(dir.path().join("state.json")).unwrap(), b"{\"a\":1}");
        assert!(!dir.path().join("state.json.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("state.json")).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let err = write_atomic(&dir.path().join("missing"), dir.path(), "x", b"").unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}

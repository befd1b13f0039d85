//! The collector's data folder: its CA, server certificate and Ed25519
//! signing key, created at the first start (folder 0700, secrets 0600).
//!
//! ```text
//! ca.crt  ca.key          the authority that issues agent certificates
//! server.crt server.key   the HTTPS certificate (chain includes the CA)
//! server.names            the names it was issued for; a change reissues it
//! signing.pk8             signs exports (Ed25519, PKCS#8)
//! khien.db                the SQLite database, when not PostgreSQL
//! collector.toml          settings remembered from the first start
//! ```

use crate::config::{Settings, url_host};
use khien_tls::Authority;
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Pki(PathBuf, khien_tls::PkiError),
    #[error("{0}: not a valid Ed25519 PKCS#8 key")]
    SigningKey(PathBuf),
    #[error("{0} has no collector CA yet: start `khien-collector serve --data-dir {1}` once first")]
    NotInitialised(PathBuf, String),
}

pub struct Secrets {
    pub authority: Authority,
    pub server_chain: String,
    pub server_key: String,
    pub signing: Ed25519KeyPair,
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T, DataDirError> {
    r.map_err(|e| DataDirError::Io(path.to_path_buf(), e))
}

/// Writes a file atomically with the given mode.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), DataDirError> {
    let tmp = path.with_extension("tmp");
    let mut f = io(
        &tmp,
        fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp),
    )?;
    io(&tmp, f.write_all(contents))?;
    io(&tmp, f.sync_all())?;
    io(path, fs::rename(&tmp, path))
}

/// Creates the folder, or tightens its permissions, to 0700.
pub fn ensure_dir(dir: &Path) -> Result<(), DataDirError> {
    io(dir, fs::create_dir_all(dir))?;
    io(dir, fs::set_permissions(dir, fs::Permissions::from_mode(0o700)))
}

/// The names the server certificate must carry.
pub fn server_names(settings: &Settings) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if let Ok(h) = fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(h.trim().to_string());
    }
    if !settings.listen.ip().is_unspecified() {
        names.push(settings.listen.ip().to_string());
    }
    names.extend(url_host(&settings.url));
    names.extend(settings.server_names.iter().cloned());
    names.retain(|n| !n.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// Loads the secrets, creating what is missing.
pub fn prepare(settings: &Settings) -> Result<Secrets, DataDirError> {
    let dir = &settings.data_dir;
    ensure_dir(dir)?;
    let ca_crt = dir.join("ca.crt");
    let ca_key = dir.join("ca.key");
    let authority = if ca_crt.exists() {
        load_authority(dir)?
    } else {
        let name = url_host(&settings.url).unwrap_or_else(|| "collector".into());
        let a = Authority::generate(&name).map_err(|e| DataDirError::Pki(ca_crt.clone(), e))?;
        write_file(&ca_key, a.key_pem().as_bytes(), 0o600)?;
        write_file(&ca_crt, a.cert_pem().as_bytes(), 0o644)?;
        a
    };

    let names = server_names(settings);
    let names_file = dir.join("server.names");
    let (crt, key) = (dir.join("server.crt"), dir.join("server.key"));
    let current = fs::read_to_string(&names_file).unwrap_or_default();
    if !crt.exists() || !key.exists() || current.trim() != names.join("\n") {
        let issued = authority.issue_server(&names, 825).map_err(|e| DataDirError::Pki(crt.clone(), e))?;
        write_file(&key, issued.key_pem.unwrap_or_default().as_bytes(), 0o600)?;
        write_file(&crt, issued.cert_pem.as_bytes(), 0o644)?;
        write_file(&names_file, names.join("\n").as_bytes(), 0o644)?;
    }
    let server_chain = io(&crt, fs::read_to_string(&crt))?;
    let server_key = io(&key, fs::read_to_string(&key))?;

    let sig = dir.join("signing.pk8");
    if !sig.exists() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| DataDirError::SigningKey(sig.clone()))?;
        write_file(&sig, pkcs8.as_ref(), 0o600)?;
    }
    let signing = Ed25519KeyPair::from_pkcs8(&io(&sig, fs::read(&sig))?).map_err(|_| DataDirError::SigningKey(sig.clone()))?;
    Ok(Secrets {
        authority,
        server_chain,
        server_key,
        signing,
    })
}

/// The CA of an initialised data folder (for commands other than `serve`).
pub fn load_authority(dir: &Path) -> Result<Authority, DataDirError> {
    let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
    if !crt.exists() {
        return Err(DataDirError::NotInitialised(dir.to_path_buf(), dir.display().to_string()));
    }
    let cert_pem = io(&crt, fs::read_to_string(&crt))?;
    let key_pem = io(&key, fs::read_to_string(&key))?;
    Authority::from_pem(&cert_pem, &key_pem).map_err(|e| DataDirError::Pki(crt, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Flags;

    #[test]
    fn first_start_creates_private_secrets_and_later_starts_reuse_them() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let settings = Settings::load(&Flags {
            data_dir: data.clone(),
            listen: Some("127.0.0.1:9443".parse().unwrap()),
            ..Flags::default()
        })
        .unwrap();
        let first = prepare(&settings).unwrap();
        let mode = |p: &str| fs::metadata(data.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(""), 0o700);
        assert_eq!(mode("ca.key"), 0o600);
        assert_eq!(mode("server.key"), 0o600);
        assert_eq!(mode("signing.pk8"), 0o600);
        settings.remember().unwrap();
        assert_eq!(mode("collector.toml"), 0o600);
        let second = prepare(&settings).unwrap();
        assert_eq!(first.authority.pin(), second.authority.pin());
        assert_eq!(first.server_chain, second.server_chain, "same names: no reissue");

        let mut more = settings.clone();
        more.server_names.push("collector.example".into());
        let third = prepare(&more).unwrap();
        assert_ne!(third.server_chain, first.server_chain, "a new name reissues the server certificate");
        assert_eq!(third.authority.pin(), first.authority.pin());
        assert!(fs::read_to_string(data.join("server.names")).unwrap().contains("collector.example"));
    }

    #[test]
    fn commands_before_the_first_start_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_authority(dir.path()).err().unwrap().to_string();
        assert!(e.contains("serve --data-dir"), "{e}");
    }
}

//! Finding the policies folder without flags: beside the running binary when it
//! is run from a checkout (`target/release/khien-agent` → `policies/`), or where
//! packages install it.

use std::path::{Path, PathBuf};

/// Where packages install the catalogue.
pub const SYSTEM_DIR: &str = "/usr/share/khien/policies";

/// Environment variable naming the folder, for packagers and tests.
pub const ENV_VAR: &str = "KHIEN_POLICIES";

#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("policies folder {0} (given by {1}) does not exist")]
    Missing(PathBuf, &'static str),
    #[error("no policies folder found; looked in: {}. Pass --policies DIR", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound(Vec<PathBuf>),
}

fn looks_like_catalogue(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().any(|e| e.path().join("framework.toml").is_file()))
        .unwrap_or(false)
}

/// Resolves the folder: the flag, then `KHIEN_POLICIES`, then the configuration
/// file, then a `policies/` folder near the executable, then [`SYSTEM_DIR`].
pub fn find(flag: Option<&Path>, configured: Option<&Path>) -> Result<PathBuf, LocateError> {
    let env = std::env::var_os(ENV_VAR).map(PathBuf::from);
    for (given, source) in [
        (flag.map(Path::to_path_buf), "--policies"),
        (env, ENV_VAR),
        (configured.map(Path::to_path_buf), "the configuration file"),
    ] {
        if let Some(dir) = given {
            return if dir.is_dir() {
                Ok(dir)
            } else {
                Err(LocateError::Missing(dir, source))
            };
        }
    }
    let mut tried = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/khien-agent and target/<profile>/deps/… sit up to three levels below the checkout.
        for dir in exe.ancestors().skip(1).take(4) {
            let candidate = dir.join("policies");
            if looks_like_catalogue(&candidate) {
                return Ok(candidate);
            }
            tried.push(candidate);
        }
    }
    let system = PathBuf::from(SYSTEM_DIR);
    if looks_like_catalogue(&system) {
        return Ok(system);
    }
    tried.push(system);
    Err(LocateError::NotFound(tried))
}

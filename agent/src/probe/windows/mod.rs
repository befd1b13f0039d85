//! Windows facts. One PowerShell run prints a JSON snapshot of what the
//! agent reads from CIM/WMI, the registry and the system's own tools (the
//! script is the sections in `ps/`, one per module below); everything that
//! turns that snapshot into [`Facts`] is portable code, tested on Linux
//! against snapshots recorded on real Windows editions
//! (`tests/hosts/windows/<host>/<section>.json`).
//!
//! Only running PowerShell is Windows code (`collect.rs`). A section that
//! could not be read arrives as `null` or with an `error` field, and its
//! decoder records a probe error against the fact path it leaves empty.

#[cfg(any(windows, test))]
pub mod collect;
pub mod hardening;
pub mod network;
pub mod protection;

use super::Errors;
use khien_proto::facts::{FACTS_SCHEMA, Windows};
use khien_proto::{Facts, Platform, Timestamp};
use serde::{Deserialize, Serialize};

/// What the collection script prints: one object per section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    pub protection: protection::Raw,
    pub network: network::Raw,
    pub hardening: hardening::Raw,
}

/// The collection script: its sections, in the order of the snapshot's fields.
pub const SCRIPT_SECTIONS: [(&str, &str); 3] = [
    ("protection", include_str!("ps/protection.ps1")),
    ("network", include_str!("ps/network.ps1")),
    ("hardening", include_str!("ps/hardening.ps1")),
];

/// Facts from a snapshot taken at `now`.
pub fn decode(snapshot: &Snapshot, now: Timestamp) -> Facts {
    let mut facts = Facts {
        schema: FACTS_SCHEMA,
        collected_at: now.truncate_to_seconds(),
        platform: Platform::Windows,
        windows: Some(Windows::default()),
        ..Facts::default()
    };
    let mut errors = Errors::default();
    protection::apply(&snapshot.protection, now, &mut facts, &mut errors);
    network::apply(&snapshot.network, &mut facts, &mut errors);
    hardening::apply(&snapshot.hardening, now, &mut facts, &mut errors);
    facts.errors = errors.0;
    facts
}

impl Snapshot {
    /// A snapshot recorded as one file per section (`<dir>/<section>.json`);
    /// a missing file is a section that printed nothing.
    pub fn from_dir(dir: &std::path::Path) -> Result<Snapshot, String> {
        let mut object = serde_json::Map::new();
        for (name, _) in SCRIPT_SECTIONS {
            let path = dir.join(format!("{name}.json"));
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                    object.insert(name.to_string(), value);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        serde_json::from_value(serde_json::Value::Object(object)).map_err(|e| format!("{}: {e}", dir.display()))
    }
}

/// The `windows` section of facts being filled (it is set by [`decode`]).
#[allow(dead_code)] // used by the section decoders as they are filled in
pub(crate) fn section(facts: &mut Facts) -> &mut Windows {
    facts.windows.get_or_insert_with(Windows::default)
}

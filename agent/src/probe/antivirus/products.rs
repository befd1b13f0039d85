//! The table of anti-malware products other than ClamAV.

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSpec {
    pub id: String,
}

impl ProductSpec {
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

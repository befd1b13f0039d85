//! INI-style key files (`[section]`, `key=value`): GDM, LightDM, SDDM and
//! dconf keyfiles all use this shape.

/// Entries in file order; a key repeated in a section is kept twice, and
/// [`KeyFile::get`] returns the last, as GLib's key file does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFile {
    pub entries: Vec<(String, String, String)>,
}

impl KeyFile {
    pub fn parse(text: &str) -> KeyFile {
        let mut entries = Vec::new();
        let mut section = String::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_string();
            } else if let Some((key, value)) = line.split_once('=') {
                entries.push((section.clone(), key.trim().to_string(), value.trim().to_string()));
            }
        }
        KeyFile { entries }
    }

    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
    }
}

/// GLib's boolean spelling in key files (`true`/`false`), plus `1`/`0` and any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_and_keeps_the_last_repeated_key() {
        let kf = KeyFile::parse(
            "# GDM configuration storage\n\n[daemon]\n# AutomaticLoginEnable = true\nAutomaticLoginEnable = True\n\
             AutomaticLogin=kiosk\nAutomaticLogin = alice\n\n[security]\n; comment\n[debug]\nEnable=false\n",
        );
        assert_eq!(kf.get("daemon", "AutomaticLoginEnable"), Some("True"));
        assert_eq!(kf.get("daemon", "AutomaticLogin"), Some("alice"));
        assert_eq!(kf.get("debug", "Enable"), Some("false"));
        assert_eq!(kf.get("security", "x"), None);
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}

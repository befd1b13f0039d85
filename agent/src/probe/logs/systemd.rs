//! systemd daemon configuration (`journald.conf`, `timesyncd.conf`): a main
//! file plus drop-ins, and the time spans and booleans systemd writes.

use super::files;
use crate::probe::{Errors, ProbeContext};

/// Where systemd looks for the main file, first found wins (newer systemd
/// ships it under `/usr/lib` and leaves `/etc` to the administrator).
const MAIN_DIRS: [&str; 4] = ["/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd"];
/// Drop-in folders, highest priority first: a drop-in in `/etc` hides one of the same name under `/usr/lib`.
const DROPIN_DIRS: [&str; 4] = ["/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd"];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitConf {
    /// Assignments in the section, in the order systemd applies them.
    pub values: Vec<(String, String)>,
    /// `#Key=value` lines of the main file: its header says they "show the compile time defaults".
    pub documented_defaults: Vec<(String, String)>,
    pub sources: Vec<String>,
}

impl UnitConf {
    /// The value in effect; an empty assignment resets the key to its default.
    pub fn last(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A list setting: every assignment adds words, an empty one clears the list.
    pub fn list(&self, key: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, v) in &self.values {
            if k == key {
                if v.is_empty() {
                    out.clear();
                } else {
                    out.extend(v.split_whitespace().map(str::to_string));
                }
            }
        }
        out
    }

    pub fn documented_default(&self, key: &str) -> Option<&str> {
        self.documented_defaults
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Reads `name` (e.g. `journald.conf`) and its `name.d/*.conf` drop-ins, keeping `[section]`.
pub fn load(ctx: &ProbeContext<'_>, name: &str, section: &str, probe: &str, errors: &mut Errors) -> UnitConf {
    let mut conf = UnitConf::default();
    for dir in MAIN_DIRS {
        let path = files::join(dir, name);
        if let Some(text) = files::read(ctx, &path, probe, errors, &mut conf.sources) {
            conf.values = parse_section(&text, section);
            conf.documented_defaults = parse_documented_defaults(&text, section);
            break;
        }
    }
    let mut dropins: Vec<(String, String)> = Vec::new();
    for dir in DROPIN_DIRS {
        let dir = files::join(dir, &format!("{name}.d"));
        for file in files::list(ctx, &dir, probe, errors) {
            if file.ends_with(".conf") && !dropins.iter().any(|(n, _)| *n == file) {
                let path = files::join(&dir, &file);
                dropins.push((file, path));
            }
        }
    }
    dropins.sort();
    for (_, path) in dropins {
        if let Some(text) = files::read(ctx, &path, probe, errors, &mut conf.sources) {
            conf.values.extend(parse_section(&text, section));
        }
    }
    conf
}

/// `Key=value` lines inside `[section]`; `#` and `;` start comments, a trailing `\` continues a line.
pub fn parse_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && (line.starts_with('#') || line.starts_with(';')) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        let joined = if pending.is_empty() {
            line.to_string()
        } else {
            std::mem::take(&mut pending) + line
        };
        let line = joined.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_string();
        } else if current == section
            && let Some((key, value)) = line.split_once('=')
        {
            out.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

/// `#Key=value` lines inside `[section]` (systemd ships its defaults this way).
pub fn parse_documented_defaults(text: &str, section: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_string();
        } else if current == section
            && let Some(rest) = line.strip_prefix('#')
            && let Some((key, value)) = rest.split_once('=')
            && !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric())
        {
            out.push((key.to_string(), value.trim().to_string()));
        }
    }
    out
}

/// systemd's boolean words.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// A systemd time span (`90d`, `3 months`, `1h 30min`, a plain number of
/// seconds) in whole seconds; systemd counts a month as 30.44 days and a
/// year as 365.25 days.
pub fn parse_timespan(value: &str) -> Option<u64> {
    let mut rest = value.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest.find(|c: char| !c.is_alphabetic()).unwrap_or(rest.len());
        let unit = unit_seconds(&rest[..unit_len])?;
        rest = rest[unit_len..].trim_start();
        total += number * unit;
    }
    // Whole seconds: a retention limit is never finer than that.
    Some(total as u64)
}

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "" | "s" | "sec" | "second" | "seconds" => 1.0,
        "ns" | "nsec" => 1e-9,
        "us" | "usec" | "µs" | "μs" => 1e-6,
        "ms" | "msec" => 1e-3,
        "m" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hour" | "hours" => 3_600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        "M" | "month" | "months" => 2_629_800.0,
        "y" | "year" | "years" => 31_557_600.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_time_spans_like_systemd() {
        assert_eq!(parse_timespan("3month"), Some(7_889_400));
        assert_eq!(parse_timespan("3 months"), Some(7_889_400));
        assert_eq!(parse_timespan("1month"), Some(2_629_800));
        assert_eq!(parse_timespan("90d"), Some(7_776_000));
        assert_eq!(parse_timespan("1y"), Some(31_557_600));
        assert_eq!(parse_timespan("12h"), Some(43_200));
        assert_eq!(parse_timespan("1w"), Some(604_800));
        assert_eq!(parse_timespan("5min"), Some(300));
        assert_eq!(parse_timespan("1h 30min"), Some(5_400));
        assert_eq!(parse_timespan("1.5h"), Some(5_400));
        assert_eq!(parse_timespan("86400"), Some(86_400));
        assert_eq!(parse_timespan("0"), Some(0));
        assert_eq!(parse_timespan(""), None);
        assert_eq!(parse_timespan("forever"), None);
        assert_eq!(parse_timespan("3 fortnights"), None);
    }

    #[test]
    fn reads_one_section_with_resets_and_continuations() {
        let text = "[Journal]\nStorage=volatile\n; comment\n#Storage=auto\n[Other]\nStorage=none\n[Journal]\n\
                    SystemMaxUse = 1G\nStorage=\nNTP=a \\\n  b\n";
        let values = parse_section(text, "Journal");
        let conf = UnitConf {
            values,
            ..Default::default()
        };
        assert_eq!(conf.last("Storage"), None);
        assert_eq!(conf.last("SystemMaxUse"), Some("1G"));
        assert_eq!(conf.list("NTP"), vec!["a", "b"]);
        let defaults = parse_documented_defaults("[Journal]\n#Storage=auto\n# See journald.conf(5) for details.\n", "Journal");
        assert_eq!(defaults, vec![("Storage".to_string(), "auto".to_string())]);
    }

    #[test]
    fn reads_booleans() {
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("Off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}

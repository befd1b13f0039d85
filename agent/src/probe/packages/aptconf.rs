//! apt's configuration, `/etc/apt/apt.conf.d/*` then `/etc/apt/apt.conf`
//! (apt.conf(5)): only the `APT::Periodic` settings that make updates install
//! by themselves.

use std::collections::HashMap;

pub const PARTS: &str = "/etc/apt/apt.conf.d";
pub const MAIN: &str = "/etc/apt/apt.conf";

/// Whether apt reads a file of a `.d` folder: names of letters, digits, `_`,
/// `-` and `.`, not starting with a dot, and with no extension or the given one
/// (apt's `GetListOfFilesInDir`). `50unattended-upgrades.ucf-dist` and
/// `foo.list.disabled` are left alone, as apt does.
pub fn apt_reads(name: &str, ext: &str) -> bool {
    let chars_ok = name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    let ext_ok = match name.rsplit_once('.') {
        Some((_, e)) => e == ext,
        None => ext == "conf",
    };
    chars_ok && ext_ok && !name.starts_with('.')
}

/// Settings as `scope::key` (lower case, apt keys ignore case) → value; a
/// later file overrides an earlier one by calling this again on the same map.
pub fn parse_into(text: &str, settings: &mut HashMap<String, String>) {
    let tokens = tokenize(text);
    // Scopes opened by `Key {`; a statement is `key [value] ;`.
    let mut scopes: Vec<String> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    let full = |scopes: &[String], key: &str| {
        let mut k = scopes.join("::");
        if !k.is_empty() {
            k.push_str("::");
        }
        k.push_str(&key.to_ascii_lowercase());
        k
    };
    for token in tokens {
        match token {
            Token::Open => {
                let key = words.first().copied().unwrap_or_default();
                scopes.push(full(&[], key));
                words.clear();
            }
            Token::Close => {
                scopes.pop();
                words.clear();
            }
            Token::End => {
                match words[..] {
                    ["#clear", key, ..] => {
                        let prefix = full(&scopes, key);
                        settings.retain(|k, _| k != &prefix && !k.starts_with(&format!("{prefix}::")));
                    }
                    // `#include` is not a setting; neither is a list item (`"value";` alone).
                    [key, value, ..] if !key.starts_with('#') => {
                        settings.insert(full(&scopes, key), value.to_string());
                    }
                    _ => {}
                }
                words.clear();
            }
            Token::Word(w) => words.push(w),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Word(&'a str),
    Open,
    Close,
    End,
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'{' => tokens.push(Token::Open),
            b'}' => tokens.push(Token::Close),
            b';' => tokens.push(Token::End),
            b'"' => {
                let end = text[i + 1..].find('"').map_or(text.len(), |k| i + 1 + k);
                tokens.push(Token::Word(&text[i + 1..end]));
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(text.len(), |k| i + k);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(text.len(), |k| i + 2 + k + 2);
                continue;
            }
            b'#' if !text[i..].starts_with("#clear") && !text[i..].starts_with("#include") => {
                i = text[i..].find('\n').map_or(text.len(), |k| i + k);
                continue;
            }
            b if b.is_ascii_whitespace() => {}
            _ => {
                let end = text[i..]
                    .find(|c: char| c.is_ascii_whitespace() || matches!(c, '{' | '}' | ';' | '"'))
                    .map_or(text.len(), |k| i + k);
                tokens.push(Token::Word(&text[i..end]));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    tokens
}

/// A `APT::Periodic` interval is on when it is not `0` (days, or since apt 1.x
/// a number with a unit, or `always`).
pub fn interval_on(value: Option<&String>) -> bool {
    let Some(v) = value else { return false };
    let v = v.trim();
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return v.eq_ignore_ascii_case("always");
    }
    digits.parse::<u64>().map_or(true, |n| n > 0)
}

/// apt's periodic job runs unattended-upgrade and refreshes the lists it
/// works from: with `Update-Package-Lists` off it would only ever install
/// what an older `apt-get update` saw.
pub fn unattended_upgrades_on(settings: &HashMap<String, String>) -> bool {
    let get = |k: &str| settings.get(&format!("apt::periodic::{k}"));
    let enabled = get("enable").is_none_or(|v| v.trim() != "0");
    enabled && interval_on(get("unattended-upgrade")) && interval_on(get("update-package-lists"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTO_UPGRADES: &str = "\
APT::Periodic::Update-Package-Lists \"1\";
APT::Periodic::Unattended-Upgrade \"1\";
";

    const NESTED: &str = "\
// Written by a configuration tool
APT
{
  Periodic
  {
    Update-Package-Lists \"1\";  /* daily */
    Unattended-Upgrade \"0\";
  };
};
# a hash comment
Unattended-Upgrade::Allowed-Origins { \"${distro_id}:${distro_codename}-security\"; };
";

    fn settings(files: &[&str]) -> HashMap<String, String> {
        let mut s = HashMap::new();
        for f in files {
            parse_into(f, &mut s);
        }
        s
    }

    #[test]
    fn reads_flat_and_nested_settings() {
        let s = settings(&[AUTO_UPGRADES]);
        assert_eq!(s.get("apt::periodic::unattended-upgrade").map(String::as_str), Some("1"));
        assert!(unattended_upgrades_on(&s));
        let s = settings(&[NESTED]);
        assert_eq!(s.get("apt::periodic::update-package-lists").map(String::as_str), Some("1"));
        assert!(!unattended_upgrades_on(&s));
    }

    #[test]
    fn the_last_file_wins() {
        assert!(!unattended_upgrades_on(&settings(&[AUTO_UPGRADES, NESTED])));
        assert!(unattended_upgrades_on(&settings(&[NESTED, AUTO_UPGRADES])));
        assert!(!unattended_upgrades_on(&settings(&[AUTO_UPGRADES, "APT::Periodic::Enable \"0\";"])));
        assert!(!unattended_upgrades_on(&settings(&[AUTO_UPGRADES, "#clear APT::Periodic;"])));
        assert!(unattended_upgrades_on(&settings(&[
            "apt::periodic::update-package-lists always;\nAPT::Periodic::Unattended-Upgrade \"1d\";"
        ])));
        assert!(!unattended_upgrades_on(&settings(&["APT::Periodic::Unattended-Upgrade \"1\";"])));
        assert!(!unattended_upgrades_on(&settings(&[""])));
    }

    #[test]
    fn ignores_what_apt_ignores() {
        assert!(apt_reads("20auto-upgrades", "conf"));
        assert!(apt_reads("99local.conf", "conf"));
        assert!(!apt_reads("50unattended-upgrades.ucf-dist", "conf"));
        assert!(!apt_reads("20auto-upgrades.dpkg-old", "conf"));
        assert!(!apt_reads(".hidden", "conf"));
        assert!(apt_reads("debian.sources", "sources"));
        assert!(!apt_reads("google-cloud-sdk.list.disabled-by-farm", "list"));
        assert!(!apt_reads("no extension", "list"));
    }
}

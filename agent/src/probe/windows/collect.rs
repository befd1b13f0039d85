//! Running the collection script: the only Windows-specific part of the
//! Windows facts. The script is built here from [`SCRIPT_SECTIONS`] and its
//! output parsed here, both portable so that tests check them on Linux; only
//! [`collect`] starts PowerShell.
//!
//! The section contract is in `ps/README.md`.

use super::super::Errors;
use super::{SCRIPT_SECTIONS, Snapshot};

/// What every snapshot line starts with; anything else on stdout is noise
/// (a warning a section let through) and is skipped.
const SNAPSHOT_PREFIX: &str = "{\"protection\":";

/// The whole script: the sections, each run in its own scope, then one line
/// with the snapshot.
pub fn script() -> String {
    let mut s = String::from(PRELUDE);
    for (name, body) in SCRIPT_SECTIONS {
        s.push_str(&format!(
            "$khien_{name} = Invoke-KhienSection '{name}' {{\n{}\n}}\n",
            body.trim_end()
        ));
    }
    // Concatenated, not re-serialised: ConvertFrom-Json/ConvertTo-Json would
    // cut nesting at their depth and rewrite dates differently in PowerShell 5 and 7.
    let fields: Vec<String> = SCRIPT_SECTIONS
        .iter()
        .map(|(name, _)| format!("'\"{name}\":' + $khien_{name}"))
        .collect();
    // Written past the host, which may wrap long output lines at the console's width.
    s.push_str(&format!("[Console]::Out.WriteLine('{{' + {} + '}}')\n", fields.join(" + ',' + ")));
    s
}

/// Sections print JSON text; a section that fails or prints something else
/// becomes `{"error": …}` and the others still arrive. Newlines are only
/// whitespace in valid JSON (strings escape them), so joining lines keeps the
/// snapshot on the one line the agent looks for.
const PRELUDE: &str = r#"$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }
function Invoke-KhienSection([string] $Name, [scriptblock] $Body) {
    try {
        $text = ((@(& $Body) | ForEach-Object { "$_" }) -join ' ') -replace "[`r`n]", ' '
        if ([string]::IsNullOrWhiteSpace($text)) { throw 'it printed nothing' }
        $null = ConvertFrom-Json -InputObject $text
        return $text.Trim()
    } catch {
        return (@{ error = "section $Name failed: $($_.Exception.Message)" } | ConvertTo-Json -Compress)
    }
}
"#;

/// What is written to `powershell.exe -Command -`: the script as one line.
/// PowerShell reads `-Command -` line by line like a console, and a
/// multi-line statement there needs a blank line to end it; one line that
/// decodes and runs the script has no such edge, and base64 keeps its text
/// (UTF-8) out of the console's code page.
pub fn stdin_line(script: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(script.as_bytes());
    format!("& ([scriptblock]::Create([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('{encoded}'))))\n")
}

/// The snapshot from PowerShell's stdout (its last snapshot line), and the
/// sections that did not decode: each is left empty with an error, so that
/// a section whose shape is off (a single object where a list was meant)
/// does not take the others with it.
pub fn parse(stdout: &str) -> Result<(Snapshot, Errors), String> {
    let line = stdout
        .lines()
        .rev()
        .map(|l| l.trim_start_matches('\u{feff}').trim())
        .find(|l| l.starts_with(SNAPSHOT_PREFIX))
        .ok_or_else(|| format!("the script printed no snapshot ({} bytes of output)", stdout.len()))?;
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).map_err(|e| format!("the snapshot is not valid JSON: {e}"))?;
    let mut errors = Errors::default();
    for (name, _) in SCRIPT_SECTIONS {
        let Some(value) = object.get(name) else { continue };
        let alone = serde_json::Value::Object([(name.to_string(), value.clone())].into_iter().collect());
        if let Err(e) = serde_json::from_value::<Snapshot>(alone) {
            errors.push(&format!("windows.{name}"), format!("the {name} section does not decode: {e}"));
            object.remove(name);
        }
    }
    let snapshot = serde_json::from_value(serde_json::Value::Object(object)).map_err(|e| format!("the snapshot does not decode: {e}"))?;
    Ok((snapshot, errors))
}

/// Runs the script and decodes its snapshot; when PowerShell cannot run or
/// prints no snapshot, the facts are empty but for that error.
#[cfg(windows)]
pub fn collect(config: &crate::config::ProbeConfig) -> khien_proto::Facts {
    use super::super::command;
    use khien_proto::facts::FACTS_SCHEMA;
    use khien_proto::{Facts, Platform, Timestamp};

    let now = Timestamp::now();
    let powershell = std::env::var_os("SystemRoot")
        .filter(|r| !r.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(r"C:\Windows"))
        .join(r"System32\WindowsPowerShell\v1.0\powershell.exe");
    // One run does what dozens of tool runs do on Linux, each under the
    // command timeout, and PowerShell alone takes seconds to start on a busy machine.
    let timeout = config.command_timeout * SCRIPT_TIMEOUT_FACTOR;
    let line = stdin_line(&script());
    let result = command::run_with_input(
        &powershell,
        &["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", "-"],
        Some(line.as_bytes()),
        timeout,
    )
    .map_err(|e| e.to_string())
    .and_then(|out| {
        parse(&out.stdout).map_err(|e| {
            let stderr: String = out.stderr.trim().chars().take(500).collect();
            format!("powershell.exe exited with {}: {e}; stderr: {stderr}", out.status)
        })
    });
    let mut facts = match result {
        Ok((snapshot, mut errors)) => {
            let mut facts = super::decode(&snapshot, now);
            facts.errors.append(&mut errors.0);
            facts
        }
        Err(message) => {
            let mut facts = Facts {
                schema: FACTS_SCHEMA,
                collected_at: now.truncate_to_seconds(),
                platform: Platform::Windows,
                ..Facts::default()
            };
            facts.error("windows", message);
            facts
        }
    };
    super::super::operator_settings(&mut facts.host, config);
    facts
}

/// The script's deadline in command timeouts (30 s with the default 3 s).
#[cfg(windows)]
const SCRIPT_TIMEOUT_FACTOR: u32 = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_runs_every_section_in_snapshot_order() {
        let s = script();
        let mut at = 0;
        for (name, body) in SCRIPT_SECTIONS {
            let call = format!("$khien_{name} = Invoke-KhienSection '{name}' {{\n{}\n}}", body.trim_end());
            let found = s[at..]
                .find(&call)
                .unwrap_or_else(|| panic!("section {name} missing or out of order"));
            at += found + call.len();
        }
        let last = s.lines().last().unwrap();
        assert_eq!(
            last,
            r#"[Console]::Out.WriteLine('{' + '"protection":' + $khien_protection + ',' + '"network":' + $khien_network + ',' + '"hardening":' + $khien_hardening + '}')"#
        );
    }

    #[test]
    fn sections_do_not_end_the_script_or_write_to_the_host() {
        // `exit` would end the whole run; Write-Host goes to stdout past the section's capture.
        for (name, body) in SCRIPT_SECTIONS {
            for line in body.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
                let lower = line.to_ascii_lowercase();
                // A statement that is `exit` or `exit N`, not the word inside a message.
                let exits = lower
                    .split([';', '{', '}'])
                    .map(str::trim)
                    .any(|st| st == "exit" || st.strip_prefix("exit ").is_some_and(|rest| !rest.starts_with(['"', '\''])));
                assert!(!exits, "{name}: {line}");
                assert!(!lower.contains("write-host"), "{name}: {line}");
            }
        }
    }

    #[test]
    fn stdin_is_one_line_that_decodes_to_the_script() {
        use base64::Engine as _;
        let script = "'é' | ConvertTo-Json\n";
        let line = stdin_line(script);
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with("'))))\n"));
        let encoded = line.split('\'').nth(1).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), script);
    }

    #[test]
    fn parses_the_last_snapshot_line_and_skips_noise() {
        let out = "WARNING: something\r\n{\"protection\":{},\"network\":{},\"hardening\":{}}\r\n";
        let (snapshot, errors) = parse(out).unwrap();
        assert_eq!(snapshot, Snapshot::default());
        assert!(errors.0.is_empty(), "{errors:?}");
        let err = parse("WARNING: only noise\n").unwrap_err();
        assert!(err.contains("no snapshot"), "{err}");
        let err = parse("{\"protection\":[1,}\n").unwrap_err();
        assert!(err.contains("not valid"), "{err}");
    }

    #[test]
    fn a_section_that_does_not_decode_is_dropped_alone() {
        // Whether a section rejects a string is up to its decoder (some keep
        // it as "malformed"); those that reject it must not take the others along.
        for (name, _) in SCRIPT_SECTIONS {
            let fields: Vec<String> = SCRIPT_SECTIONS
                .iter()
                .map(|(n, _)| format!("\"{n}\":{}", if *n == name { "\"not an object\"" } else { "{}" }))
                .collect();
            let out = format!("{{{}}}", fields.join(","));
            let alone = serde_json::json!({ name: "not an object" });
            let (snapshot, errors) = parse(&out).unwrap();
            if serde_json::from_value::<Snapshot>(alone).is_err() {
                assert_eq!(snapshot, Snapshot::default(), "{name}");
                assert_eq!(errors.0.len(), 1, "{errors:?}");
                assert_eq!(errors.0[0].probe, format!("windows.{name}"));
            } else {
                assert!(errors.0.is_empty(), "{errors:?}");
            }
        }
    }
}

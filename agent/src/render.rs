//! Output for people (tables, Vietnamese first) and for programs (JSON).

use khien_policy::model::Rule;
use khien_policy::{Framework, Lang};
use khien_proto::facts::Facts;
use khien_proto::{CheckResult, Evaluation, Status, Timestamp};
use serde::Serialize;
use std::fmt::Write as _;

/// Interface words in both languages.
fn t(lang: Lang, key: &str) -> &'static str {
    let (vi, en) = match key {
        "title" => ("Khiên — kiểm tra tuân thủ cấp độ", "Khiên — compliance check, level"),
        "machine" => ("Máy", "Machine"),
        "at" => ("lúc", "at"),
        "result" => ("KẾT QUẢ", "RESULT"),
        "requirement" => ("YÊU CẦU", "REQUIREMENT"),
        "check" => ("KIỂM TRA", "CHECK"),
        "observed" => ("quan sát", "observed"),
        "expected" => ("yêu cầu", "expected"),
        "reason" => ("lý do", "reason"),
        "fix" => ("khắc phục", "fix"),
        "total" => ("Tổng", "Total"),
        "verdict_ok" => (
            "Kết luận: ĐẠT các yêu cầu tự động của cấp độ",
            "Verdict: MEETS the automated requirements of level",
        ),
        "verdict_bad" => ("Kết luận: KHÔNG ĐẠT yêu cầu cấp độ", "Verdict: DOES NOT MEET level"),
        "manual_note" => (
            "Các yêu cầu thủ công cần có bằng chứng xác nhận tại máy chủ thu thập.",
            "Manual requirements need attested evidence at the collector.",
        ),
        "probe_errors" => ("Lỗi khi thu thập", "Collection errors"),
        "workstation" => ("máy trạm", "workstation"),
        "server" => ("máy chủ", "server"),
        "host" => ("Máy", "Host"),
        "os" => ("Hệ điều hành", "Operating system"),
        "kernel" => ("Nhân", "Kernel"),
        "boot" => ("Khởi động lúc", "Booted at"),
        "role" => ("Vai trò", "Role"),
        "interfaces" => ("Giao diện mạng", "Network interfaces"),
        "routes" => ("Tuyến mặc định", "Default routes"),
        "dns" => ("Máy chủ DNS", "DNS resolvers"),
        "listening" => ("Cổng đang lắng nghe", "Listening ports"),
        "antivirus" => ("Phòng, chống mã độc", "Anti-malware"),
        "firewall" => ("Tường lửa", "Firewall"),
        "none" => ("không có", "none"),
        "running" => ("đang chạy", "running"),
        "stopped" => ("đã dừng", "stopped"),
        "realtime" => ("thời gian thực", "real-time"),
        "signatures" => ("mẫu nhận diện", "signatures"),
        "days_old" => ("ngày tuổi", "days old"),
        "enabled" => ("bật", "on"),
        "disabled" => ("tắt", "off"),
        "default_deny" => ("mặc định chặn chiều vào", "inbound denied by default"),
        "default_allow" => ("mặc định cho phép chiều vào", "inbound allowed by default"),
        "unknown" => ("không rõ", "unknown"),
        _ => ("?", "?"),
    };
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

pub fn status_word(lang: Lang, s: Status) -> &'static str {
    match (lang, s) {
        (Lang::Vi, Status::Pass) => "ĐẠT",
        (Lang::Vi, Status::Fail) => "KHÔNG ĐẠT",
        (Lang::Vi, Status::Error) => "LỖI",
        (Lang::Vi, Status::NotApplicable) => "KHÔNG ÁP DỤNG",
        (Lang::Vi, Status::Manual) => "THỦ CÔNG",
        (Lang::Vi, Status::Waived) => "MIỄN TRỪ",
        (Lang::En, Status::Pass) => "PASS",
        (Lang::En, Status::Fail) => "FAIL",
        (Lang::En, Status::Error) => "ERROR",
        (Lang::En, Status::NotApplicable) => "N/A",
        (Lang::En, Status::Manual) => "MANUAL",
        (Lang::En, Status::Waived) => "WAIVED",
    }
}

/// `22/11/2026 08:30 UTC` in Vietnamese, ISO-like in English.
pub fn date(lang: Lang, ts: Timestamp) -> String {
    let t = ts.inner();
    match lang {
        Lang::Vi => format!(
            "{:02}/{:02}/{} {:02}:{:02} UTC",
            t.day(),
            u8::from(t.month()),
            t.year(),
            t.hour(),
            t.minute()
        ),
        Lang::En => format!(
            "{}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
    }
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

fn compact(v: &serde_json::Value, max: usize) -> String {
    let s = v.to_string();
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[derive(Serialize)]
pub struct CheckJson<'a> {
    pub level: u8,
    pub framework: &'a str,
    pub framework_title: &'a str,
    pub host: &'a str,
    pub platform: &'a str,
    pub role: &'a str,
    pub evaluated_at: Timestamp,
    pub policy_digest: &'a str,
    pub compliant: bool,
    pub counts: khien_proto::Counts,
    pub results: Vec<ResultJson<'a>>,
    pub probe_errors: &'a [khien_proto::facts::ProbeError],
}

#[derive(Serialize)]
pub struct ResultJson<'a> {
    #[serde(flatten)]
    pub result: &'a CheckResult,
    pub title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<&'a str>,
}

pub fn check_json<'a>(fw: &'a Framework, e: &'a Evaluation, facts: &'a Facts, lang: Lang) -> CheckJson<'a> {
    CheckJson {
        level: e.level,
        framework: &fw.id,
        framework_title: fw.title.get(lang),
        host: &facts.host.hostname,
        platform: e.platform.as_str(),
        role: e.role.as_str(),
        evaluated_at: e.evaluated_at,
        policy_digest: &e.policy_digest,
        compliant: e.compliant(),
        counts: e.counts,
        results: e
            .results
            .iter()
            .map(|r| {
                let req = fw.requirement(&r.requirement);
                ResultJson {
                    result: r,
                    title: req.map(|q| q.title.get(lang)).unwrap_or_default(),
                    remediation: req.filter(|_| r.status.is_problem()).map(|q| q.remediation.get(lang)),
                }
            })
            .collect(),
        probe_errors: &facts.errors,
    }
}

pub fn check_table(fw: &Framework, e: &Evaluation, facts: &Facts, lang: Lang) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {} · {}", t(lang, "title"), e.level, fw.title.get(lang));
    let os = facts.host.os.pretty_name.as_deref().unwrap_or(t(lang, "unknown"));
    let _ = writeln!(
        out,
        "{}: {} ({os}, {}) · {} {}\n",
        t(lang, "machine"),
        facts.host.hostname,
        t(lang, e.role.as_str()),
        t(lang, "at"),
        date(lang, e.evaluated_at)
    );
    let _ = writeln!(
        out,
        "{}  {}  {}",
        pad(t(lang, "result"), 14),
        pad(t(lang, "requirement"), 8),
        t(lang, "check")
    );
    for r in &e.results {
        let req = fw.requirement(&r.requirement);
        let title = req.map(|q| q.title.get(lang)).unwrap_or_default();
        let short = r.check.split_once('/').map(|(_, c)| c).unwrap_or(&r.check);
        let _ = writeln!(
            out,
            "{}  {}  {short} — {title}",
            pad(status_word(lang, r.status), 14),
            pad(&r.requirement, 8)
        );
        let indent = " ".repeat(26);
        match r.status {
            Status::Fail | Status::Error => {
                if !r.evidence.observed.is_null() {
                    let _ = writeln!(out, "{indent}{}: {}", t(lang, "observed"), compact(&r.evidence.observed, 160));
                }
                let _ = writeln!(out, "{indent}{}: {}", t(lang, "expected"), r.evidence.expected);
                if let Some(m) = &r.message {
                    let _ = writeln!(out, "{indent}{}: {m}", t(lang, "reason"));
                }
                if let Some(q) = req {
                    let _ = writeln!(out, "{indent}{}: {}", t(lang, "fix"), q.remediation.get(lang));
                }
            }
            Status::Manual => {
                let _ = writeln!(out, "{indent}{}", r.evidence.expected);
            }
            _ => {}
        }
    }
    let c = &e.counts;
    let _ = writeln!(
        out,
        "\n{}: {} {}, {} {}, {} {}, {} {}, {} {}",
        t(lang, "total"),
        c.pass,
        status_word(lang, Status::Pass).to_lowercase(),
        c.fail,
        status_word(lang, Status::Fail).to_lowercase(),
        c.error,
        status_word(lang, Status::Error).to_lowercase(),
        c.manual,
        status_word(lang, Status::Manual).to_lowercase(),
        c.not_applicable,
        status_word(lang, Status::NotApplicable).to_lowercase(),
    );
    if !facts.errors.is_empty() {
        let _ = writeln!(out, "{}:", t(lang, "probe_errors"));
        for pe in &facts.errors {
            let _ = writeln!(out, "  {}: {}", pe.probe, pe.message);
        }
    }
    let verdict = if e.compliant() {
        t(lang, "verdict_ok")
    } else {
        t(lang, "verdict_bad")
    };
    let _ = writeln!(out, "{verdict} {}.", e.level);
    if fw
        .requirements
        .iter()
        .any(|q| q.checks.iter().any(|c| matches!(c.rule, Rule::Manual(_))))
        && c.manual > 0
    {
        let _ = writeln!(out, "{}", t(lang, "manual_note"));
    }
    out
}

pub fn facts_table(f: &Facts, lang: Lang, now: Timestamp) -> String {
    let mut out = String::new();
    let h = &f.host;
    let _ = writeln!(
        out,
        "{}: {} ({})",
        t(lang, "host"),
        h.hostname,
        h.machine_id.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        out,
        "  {}: {}",
        t(lang, "os"),
        h.os.pretty_name.as_deref().unwrap_or(t(lang, "unknown"))
    );
    let _ = writeln!(out, "  {}: {} ({})", t(lang, "kernel"), h.kernel.as_deref().unwrap_or("-"), h.arch);
    if let Some(b) = h.boot_time {
        let _ = writeln!(out, "  {}: {}", t(lang, "boot"), date(lang, b));
    }
    let _ = writeln!(out, "  {}: {} ({})", t(lang, "role"), t(lang, h.role.as_str()), h.role_source);

    let _ = writeln!(out, "\n{}:", t(lang, "interfaces"));
    for i in &f.network.interfaces {
        let addrs: Vec<String> = i.addresses.iter().map(|a| format!("{}/{}", a.address, a.prefix)).collect();
        let state = if i.up { t(lang, "enabled") } else { t(lang, "disabled") };
        let _ = writeln!(
            out,
            "  {} [{}] {state} mac={} mtu={} {}",
            i.name,
            i.kind,
            i.mac.as_deref().unwrap_or("-"),
            i.mtu.map_or("-".into(), |m| m.to_string()),
            addrs.join(" ")
        );
    }
    let _ = writeln!(out, "{}:", t(lang, "routes"));
    for r in &f.network.default_routes {
        let _ = writeln!(
            out,
            "  {:?} via {} dev {}",
            r.family,
            r.gateway.as_deref().unwrap_or("-"),
            r.interface.as_deref().unwrap_or("-")
        );
    }
    let dns = &f.network.dns;
    let _ = writeln!(
        out,
        "{}: {}{}",
        t(lang, "dns"),
        dns.resolvers.join(", "),
        if dns.upstream_resolvers.is_empty() {
            String::new()
        } else {
            format!(" → {}", dns.upstream_resolvers.join(", "))
        }
    );
    let _ = writeln!(out, "{}:", t(lang, "listening"));
    for l in &f.network.listening {
        let _ = writeln!(
            out,
            "  {:?} {}:{} {}",
            l.protocol,
            l.address,
            l.port,
            l.process.as_deref().unwrap_or("-")
        );
    }

    let _ = writeln!(out, "\n{}:", t(lang, "antivirus"));
    if f.antivirus.products.is_empty() {
        let _ = writeln!(out, "  {}", t(lang, "none"));
    }
    for p in &f.antivirus.products {
        let run = if p.running { t(lang, "running") } else { t(lang, "stopped") };
        let rt = match p.realtime {
            Some(true) => t(lang, "enabled"),
            Some(false) => t(lang, "disabled"),
            None => t(lang, "unknown"),
        };
        let age = p
            .signature_time
            .map(|s| format!("{:.1} {}", s.days_until(now), t(lang, "days_old")))
            .unwrap_or_else(|| t(lang, "unknown").to_string());
        let _ = writeln!(
            out,
            "  {} {} — {run}, {} {rt}, {} {} ({age})",
            p.name,
            p.product_version.as_deref().unwrap_or(""),
            t(lang, "realtime"),
            t(lang, "signatures"),
            p.signature_version.as_deref().unwrap_or("-"),
        );
    }
    let fw = &f.firewall;
    let deny = if fw.inbound_default_deny {
        t(lang, "default_deny")
    } else {
        t(lang, "default_allow")
    };
    let on = if fw.enabled { t(lang, "enabled") } else { t(lang, "disabled") };
    let _ = writeln!(out, "\n{}: {on}, {deny}", t(lang, "firewall"));
    for b in &fw.backends {
        let _ = writeln!(
            out,
            "  {} active={} input={} rules={}",
            b.name,
            b.active,
            b.input_policy.as_deref().unwrap_or("-"),
            b.rules.map_or("-".into(), |r| r.to_string())
        );
    }
    if !f.errors.is_empty() {
        let _ = writeln!(out, "\n{}:", t(lang, "probe_errors"));
        for e in &f.errors {
            let _ = writeln!(out, "  {}: {}", e.probe, e.message);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_dates_are_day_first() {
        let ts = Timestamp::parse("2026-11-02T08:05:00Z").unwrap();
        assert_eq!(date(Lang::Vi, ts), "02/11/2026 08:05 UTC");
        assert_eq!(date(Lang::En, ts), "2026-11-02 08:05 UTC");
    }

    #[test]
    fn padding_counts_characters_not_bytes() {
        assert_eq!(pad("ĐẠT", 5), "ĐẠT  ");
        assert_eq!(compact(&serde_json::json!("abcdef"), 3), "\"ab…");
    }
}

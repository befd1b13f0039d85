//! What a page shows, as text: the pack with its labels applied, dates written
//! out and observed values printed. The HTML template and the PDF template both
//! lay out this one view, so they say the same thing.

use crate::labels::{self, Labels};
use crate::model::{EvidencePack, Verdict};
use khien_proto::Status;
use serde::Serialize;

/// Longest observed value printed on a page, in characters; the JSON and CSV exports keep it whole.
pub const OBSERVED_MAX_CHARS: usize = 2000;

#[derive(Debug, Serialize)]
pub struct View {
    pub l: &'static Labels,
    /// "Hệ thống điều hành tác nghiệp — cấp độ 3"
    pub heading: String,
    pub system: Vec<Row>,
    pub dossier: Vec<Row>,
    pub summary: Vec<Row>,
    pub verdict: String,
    /// `compliant`, `not_compliant` or `pending`: a CSS class.
    pub verdict_class: &'static str,
    pub requirements: Vec<RequirementView>,
    pub generated_at: String,
    pub collector: String,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub label: &'static str,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct RequirementView {
    pub id: String,
    /// For HTML anchors: the id with anything but `[A-Za-z0-9-]` replaced.
    pub anchor: String,
    pub title: String,
    pub clause: String,
    pub provenance: &'static str,
    pub status: &'static str,
    /// The status's wire name (`pass`, `not_applicable`, …): a CSS class.
    pub status_class: &'static str,
    /// Non-zero counts only, e.g. "Đạt 12 · Không đạt 1".
    pub counts: String,
    pub evidence: Vec<ItemView>,
    pub waivers: Vec<WaiverView>,
    pub attestations: Vec<AttestationView>,
}

#[derive(Debug, Serialize)]
pub struct ItemView {
    pub endpoint: String,
    pub check: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub observed: String,
    pub observed_truncated: bool,
    pub expected: String,
    pub note: String,
    pub reported_at: String,
}

#[derive(Debug, Serialize)]
pub struct WaiverView {
    pub scope: String,
    pub reason: String,
    pub approver: String,
    pub start: String,
    pub expiry: String,
}

#[derive(Debug, Serialize)]
pub struct AttestationView {
    pub attested_by: String,
    pub attested_at: String,
    pub valid_until: String,
    pub file_name: String,
    pub file_sha256: String,
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Compliant => "compliant",
        Verdict::NotCompliant => "not_compliant",
        Verdict::Pending => "pending",
    }
}

/// "Đạt 12 · Không đạt 1": the statuses with a non-zero count, in a fixed order.
pub fn counts_text(lang: crate::Lang, counts: &khien_proto::Counts) -> String {
    const ORDER: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::Error,
        Status::Manual,
        Status::Waived,
        Status::NotApplicable,
    ];
    let parts: Vec<String> = ORDER
        .iter()
        .filter(|s| counts.get(**s) > 0)
        .map(|s| format!("{} {}", labels::status(lang, *s), counts.get(*s)))
        .collect();
    if parts.is_empty() { "—".to_string() } else { parts.join(" · ") }
}

/// JSON with a space after every `,` and `:`, so that long values can wrap on a page.
pub fn observed_text(v: &serde_json::Value) -> String {
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(item, out);
                }
                out.push(']');
            }
            serde_json::Value::Object(map) => {
                out.push('{');
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    write(item, out);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// An observed value as every page prints it: [`observed_text`], cut at
/// [`OBSERVED_MAX_CHARS`]; and whether it was cut.
pub fn observed_shown(v: &serde_json::Value) -> (String, bool) {
    shorten(observed_text(v))
}

fn shorten(text: String) -> (String, bool) {
    match text.char_indices().nth(OBSERVED_MAX_CHARS) {
        Some((cut, _)) => (format!("{}…", &text[..cut]), true),
        None => (text, false),
    }
}

fn or_not_given(l: &Labels, v: Option<String>) -> String {
    v.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| l.not_given.to_string())
}

impl View {
    pub fn new(pack: &EvidencePack) -> View {
        let lang = pack.language;
        let l = labels::labels(lang);
        let sys = &pack.system;
        let d = &sys.dossier;
        let date = |x: Option<time::Date>| x.map(|x| labels::date(lang, x));
        let ts = |t| labels::timestamp(lang, t);
        let n = |x: u32| x.to_string();
        View {
            l,
            heading: format!("{} — {} {}", sys.name, l.level_word, sys.level),
            system: vec![
                Row {
                    label: l.system_code,
                    value: sys.code.clone(),
                },
                Row {
                    label: l.system_name,
                    value: sys.name.clone(),
                },
                Row {
                    label: l.owner,
                    value: format!("{} ({})", sys.owner.name, sys.owner.code),
                },
                Row {
                    label: l.level,
                    value: sys.level.to_string(),
                },
                Row {
                    label: l.framework,
                    value: format!("{} ({})", sys.framework.title, sys.framework.id),
                },
            ],
            dossier: vec![
                Row {
                    label: l.decision_number,
                    value: or_not_given(l, d.decision_number.clone()),
                },
                Row {
                    label: l.decision_date,
                    value: or_not_given(l, date(d.decision_date)),
                },
                Row {
                    label: l.approver,
                    value: or_not_given(l, d.approver.clone()),
                },
                Row {
                    label: l.next_assessment,
                    value: or_not_given(l, date(d.next_assessment_date)),
                },
            ],
            summary: vec![
                Row {
                    label: l.requirements_in_force,
                    value: n(pack.summary.requirements),
                },
                Row {
                    label: l.compliant,
                    value: n(pack.summary.compliant),
                },
                Row {
                    label: l.failing,
                    value: n(pack.summary.failing),
                },
                Row {
                    label: l.manual,
                    value: n(pack.summary.manual),
                },
                Row {
                    label: l.waived,
                    value: n(pack.summary.waived),
                },
                Row {
                    label: l.not_applicable,
                    value: n(pack.summary.not_applicable),
                },
                Row {
                    label: l.endpoints,
                    value: n(pack.summary.endpoints),
                },
            ],
            verdict: labels::verdict(lang, pack.summary.verdict).to_string(),
            verdict_class: verdict_class(pack.summary.verdict),
            requirements: pack
                .requirements
                .iter()
                .map(|r| RequirementView {
                    id: r.id.clone(),
                    anchor: format!(
                        "req-{}",
                        r.id.chars()
                            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
                            .collect::<String>()
                    ),
                    title: r.title.clone(),
                    clause: r.clause.clone(),
                    provenance: labels::provenance(lang, r.provenance),
                    status: labels::status(lang, r.status),
                    status_class: r.status.as_str(),
                    counts: counts_text(lang, &r.counts),
                    evidence: r
                        .evidence
                        .iter()
                        .map(|e| {
                            let (observed, observed_truncated) = observed_shown(&e.observed);
                            ItemView {
                                endpoint: e.endpoint.clone(),
                                check: e.check.clone(),
                                status: labels::status(lang, e.status),
                                status_class: e.status.as_str(),
                                observed,
                                observed_truncated,
                                expected: e.expected.clone(),
                                note: e.message.clone().unwrap_or_default(),
                                reported_at: ts(e.reported_at),
                            }
                        })
                        .collect(),
                    waivers: r
                        .waivers
                        .iter()
                        .map(|w| WaiverView {
                            scope: w.endpoint.clone().unwrap_or_else(|| l.whole_system.to_string()),
                            reason: w.reason.clone(),
                            approver: w.approver.clone(),
                            start: ts(w.start),
                            expiry: ts(w.expiry),
                        })
                        .collect(),
                    attestations: r
                        .attestations
                        .iter()
                        .map(|a| AttestationView {
                            attested_by: a.attested_by.clone(),
                            attested_at: ts(a.attested_at),
                            valid_until: ts(a.valid_until),
                            file_name: a.file_name.clone(),
                            file_sha256: a.file_sha256.clone(),
                        })
                        .collect(),
                })
                .collect(),
            generated_at: ts(pack.generated_at),
            collector: if pack.collector.url.is_empty() {
                pack.collector.name.clone()
            } else {
                format!("{} ({})", pack.collector.name, pack.collector.url)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_wraps_and_shortens() {
        let v = serde_json::json!({"a": [1, "x\"y"], "b": {"c": null}});
        assert_eq!(observed_text(&v), r#"{"a": [1, "x\"y"], "b": {"c": null}}"#);
        let (s, cut) = shorten("đ".repeat(OBSERVED_MAX_CHARS + 5));
        assert!(cut);
        assert_eq!(s.chars().count(), OBSERVED_MAX_CHARS + 1);
        assert!(!shorten("ok".into()).1);
    }

    #[test]
    fn counts_text_skips_zeroes() {
        let c = khien_proto::Counts {
            pass: 12,
            fail: 1,
            ..Default::default()
        };
        assert_eq!(counts_text(crate::Lang::Vi, &c), "Đạt 12 · Không đạt 1");
        assert_eq!(counts_text(crate::Lang::En, &khien_proto::Counts::default()), "—");
    }
}

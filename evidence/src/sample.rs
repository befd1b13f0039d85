//! A made-up pack for examples, tests and timings: Đắk Lắk's level-3 system,
//! with every status, waivers and attestations. Deterministic.

use crate::model::{
    Attestation, CollectorInfo, Dossier, EvidenceItem, EvidencePack, FrameworkRef, Lang, OrgUnitRef, Provenance, RequirementEvidence,
    Summary, SystemInfo, Waiver,
};
use khien_proto::{Counts, Status, Timestamp};
use time::Duration;
use time::macros::date;

const TOPICS: [(&str, &str, &str, &str, &str); 8] = [
    (
        "PM",
        "Phòng chống mã độc chạy thường trực",
        "Anti-malware running in real time",
        "phần mềm phòng chống mã độc chạy thường trực; cơ sở dữ liệu mẫu không cũ hơn 7 ngày",
        "anti-malware running with real-time protection; signatures at most 7 days old",
    ),
    (
        "TL",
        "Tường lửa trên máy chặn mặc định",
        "Host firewall denies by default",
        "chính sách mặc định của chuỗi vào là chặn (drop)",
        "the input chain's default policy is drop",
    ),
    (
        "TK",
        "Chính sách mật khẩu đủ mạnh",
        "Strong password policy",
        "độ dài tối thiểu 12 ký tự, đủ 3 loại ký tự",
        "at least 12 characters of 3 classes",
    ),
    (
        "KP",
        "Khóa phiên khi không sử dụng",
        "Idle session lock",
        "khóa sau không quá 10 phút không sử dụng",
        "locked after at most 10 idle minutes",
    ),
    (
        "NK",
        "Ghi và chuyển nhật ký hệ thống về máy chủ tập trung",
        "System logs kept and forwarded",
        "nhật ký được lưu tối thiểu 12 tháng và chuyển về máy chủ tập trung",
        "logs kept for 12 months and forwarded",
    ),
    (
        "DB",
        "Đồng bộ thời gian",
        "Time synchronisation",
        "đồng bộ với máy chủ thời gian của đơn vị",
        "synchronised with the agency's time server",
    ),
    (
        "CN",
        "Cập nhật bản vá bảo mật",
        "Security updates applied",
        "không còn bản vá bảo mật chờ cài quá 30 ngày",
        "no security update pending for more than 30 days",
    ),
    (
        "QL",
        "Quy chế bảo đảm an toàn thông tin được ban hành",
        "Information security rules issued",
        "quy chế được ban hành và còn hiệu lực",
        "rules issued and in force",
    ),
];

/// November 2026, in UTC.
fn at(day: u8, hour: u8, minute: u8) -> Timestamp {
    let start = date!(2026 - 11 - 01).midnight().assume_utc();
    Timestamp::from(start + Duration::days(i64::from(day) - 1) + Duration::hours(hour.into()) + Duration::minutes(minute.into()))
}

/// A pack with `requirements` requirements over `endpoints` member endpoints.
///
/// Requirement `i` is, by `i % 5`: failing on the first endpoint, waived,
/// attested (a management item), passing, or waiting for an attestation.
pub fn demo_pack(lang: Lang, requirements: usize, endpoints: usize) -> EvidencePack {
    let vi = lang == Lang::Vi;
    let hosts: Vec<String> = (1..=endpoints).map(|n| format!("dlk-dhtn-{n:03}.tinhuy.daklak.vn")).collect();
    let reqs: Vec<RequirementEvidence> = (0..requirements)
        .map(|i| {
            let (prefix, title_vi, title_en, expected_vi, expected_en) = TOPICS[i % TOPICS.len()];
            let round = i / TOPICS.len();
            let id = format!("{prefix}-{:02}", round + 1);
            let mut title = if vi { title_vi } else { title_en }.to_string();
            if round > 0 {
                title = format!("{title} ({})", round + 1);
            }
            let expected = if vi { expected_vi } else { expected_en };
            let kind = i % 5;
            let item_status = |e: usize| match kind {
                0 if e == 0 => Status::Fail,
                0 | 3 => Status::Pass,
                1 => Status::Waived,
                _ => Status::Manual,
            };
            let evidence: Vec<EvidenceItem> = if kind == 2 {
                Vec::new()
            } else {
                hosts
                    .iter()
                    .enumerate()
                    .map(|(e, host)| {
                        let status = item_status(e);
                        EvidenceItem {
                            endpoint: host.clone(),
                            check: format!("{id}/linux"),
                            status,
                            observed: serde_json::json!({
                                "clamd": { "running": status != Status::Fail, "version": "ClamAV 1.0.7/27450" },
                                "signatures_age_days": if status == Status::Fail { 12.5 } else { 0.8 },
                                "path": "/var/lib/clamav/daily.cld",
                            }),
                            expected: expected.to_string(),
                            message: (status == Status::Manual).then(|| {
                                if vi {
                                    "Cần biên bản kiểm tra của đơn vị vận hành"
                                } else {
                                    "Needs the operator's inspection record"
                                }
                                .to_string()
                            }),
                            reported_at: at(20, 8, (e % 60) as u8),
                        }
                    })
                    .collect()
            };
            let mut counts = Counts::default();
            for e in &evidence {
                counts.add(e.status);
            }
            let status = match kind {
                0 => Status::Fail,
                1 => Status::Waived,
                2 | 3 => Status::Pass,
                _ => Status::Manual,
            };
            let waivers = if kind == 1 {
                vec![Waiver {
                    endpoint: None,
                    reason: if vi {
                        "Máy chủ cũ chờ thay thế theo kế hoạch năm 2027".into()
                    } else {
                        "Old server awaiting replacement in the 2027 plan".into()
                    },
                    approver: "Nguyễn Văn Đức, Chánh Văn phòng Tỉnh ủy".into(),
                    start: at(1, 0, 0),
                    expiry: at(30, 23, 59),
                }]
            } else {
                Vec::new()
            };
            let attestations = if kind == 2 {
                vec![Attestation {
                    attested_by: "Trần Thị Hồng Nhung".into(),
                    attested_at: at(5, 9, 30),
                    valid_until: at(28, 0, 0),
                    file_name: "quy-che-attt-dak-lak.pdf".into(),
                    file_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                }]
            } else {
                Vec::new()
            };
            RequirementEvidence {
                id,
                title,
                clause: format!("8.{}.{}", 1 + i / 10, 1 + i % 10),
                provenance: [Provenance::V, Provenance::S, Provenance::I][i % 3],
                status,
                counts,
                evidence,
                waivers,
                attestations,
            }
        })
        .collect();
    EvidencePack {
        generated_at: at(22, 8, 30),
        collector: CollectorInfo {
            name: "collector.dlk".into(),
            url: "https://collector.dlk.example:8443".into(),
        },
        language: lang,
        system: SystemInfo {
            code: "DLK-DHTN".into(),
            name: "Hệ thống thông tin cấp độ 3 — Đắk Lắk".into(),
            owner: OrgUnitRef {
                code: "DLK".into(),
                name: "Tỉnh ủy Đắk Lắk".into(),
            },
            level: 3,
            framework: FrameworkRef {
                id: "tcvn-14423-2026".into(),
                title: "TCVN 14423:2026".into(),
            },
            dossier: Dossier {
                decision_number: Some("125/QĐ-TU".into()),
                decision_date: Some(date!(2025 - 06 - 20)),
                approver: Some("Ban Thường vụ Tỉnh ủy Đắk Lắk".into()),
                next_assessment_date: Some(date!(2027 - 06 - 20)),
            },
        },
        summary: Summary::from_requirements(&reqs, u32::try_from(endpoints).unwrap_or(u32::MAX)),
        requirements: reqs,
    }
}

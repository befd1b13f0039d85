//! Every word the renderers print, in Vietnamese and English, in one place;
//! and how dates and times are written in each language.

use crate::model::{Lang, Provenance, Verdict};
use khien_proto::{Status, Timestamp};
use serde::Serialize;
use time::Date;

/// The labels of one language. Serialised as they are into the PDF template's data.
#[derive(Debug, Serialize)]
pub struct Labels {
    pub lang: &'static str,
    pub title: &'static str,
    pub system: &'static str,
    pub system_code: &'static str,
    pub system_name: &'static str,
    pub owner: &'static str,
    pub level: &'static str,
    /// Before the level's number in running text: "cấp độ 3".
    pub level_word: &'static str,
    pub framework: &'static str,
    pub dossier: &'static str,
    pub decision_number: &'static str,
    pub decision_date: &'static str,
    pub approver: &'static str,
    pub next_assessment: &'static str,
    pub summary: &'static str,
    pub requirements_in_force: &'static str,
    pub compliant: &'static str,
    pub failing: &'static str,
    pub manual: &'static str,
    pub waived: &'static str,
    pub not_applicable: &'static str,
    pub endpoints: &'static str,
    pub verdict: &'static str,
    pub overview: &'static str,
    pub details: &'static str,
    pub requirement_id: &'static str,
    pub requirement: &'static str,
    pub clause: &'static str,
    pub provenance: &'static str,
    pub status: &'static str,
    pub counts: &'static str,
    pub evidence: &'static str,
    pub endpoint: &'static str,
    pub check: &'static str,
    pub observed: &'static str,
    pub expected: &'static str,
    pub reported_at: &'static str,
    pub note: &'static str,
    pub no_evidence: &'static str,
    pub truncated: &'static str,
    pub waivers: &'static str,
    pub reason: &'static str,
    pub scope: &'static str,
    pub whole_system: &'static str,
    pub start: &'static str,
    pub expiry: &'static str,
    pub attestations: &'static str,
    pub attested_by: &'static str,
    pub attested_at: &'static str,
    pub valid_until: &'static str,
    pub evidence_file: &'static str,
    pub sha256: &'static str,
    pub generated_at: &'static str,
    pub collector: &'static str,
    pub not_given: &'static str,
    pub page: &'static str,
    pub signature_note: &'static str,
    pub csv_requirement_status: &'static str,
    pub csv_endpoint_status: &'static str,
    /// After a status in a CSV count column: "Đạt (số máy)".
    pub csv_count_suffix: &'static str,
}

pub static VI: Labels = Labels {
    lang: "vi",
    title: "Hồ sơ bằng chứng bảo đảm an toàn hệ thống thông tin theo cấp độ",
    system: "Hệ thống thông tin",
    system_code: "Mã hệ thống",
    system_name: "Tên hệ thống",
    owner: "Đơn vị chủ quản",
    level: "Cấp độ",
    level_word: "cấp độ",
    framework: "Tiêu chuẩn áp dụng",
    dossier: "Hồ sơ đề xuất cấp độ",
    decision_number: "Số quyết định phê duyệt",
    decision_date: "Ngày quyết định",
    approver: "Người phê duyệt",
    next_assessment: "Kỳ kiểm tra, đánh giá tiếp theo",
    summary: "Tóm tắt",
    requirements_in_force: "Số yêu cầu áp dụng",
    compliant: "Đạt",
    failing: "Không đạt",
    manual: "Cần xác nhận thủ công",
    waived: "Được miễn trừ",
    not_applicable: "Không áp dụng",
    endpoints: "Số máy thành viên",
    verdict: "Kết luận",
    overview: "Danh mục yêu cầu",
    details: "Bằng chứng theo từng yêu cầu",
    requirement_id: "Mã",
    requirement: "Yêu cầu",
    clause: "Điều khoản",
    provenance: "Nguồn gốc",
    status: "Kết quả",
    counts: "Số máy theo kết quả",
    evidence: "Bằng chứng",
    endpoint: "Máy",
    check: "Kiểm tra",
    observed: "Giá trị ghi nhận",
    expected: "Yêu cầu của cấp độ",
    reported_at: "Thời điểm báo cáo",
    note: "Ghi chú",
    no_evidence: "Không có bằng chứng từ máy thành viên.",
    truncated: "(đã rút gọn; bản đầy đủ trong tệp JSON)",
    waivers: "Miễn trừ",
    reason: "Lý do",
    scope: "Phạm vi",
    whole_system: "Toàn hệ thống",
    start: "Từ",
    expiry: "Hết hạn",
    attestations: "Xác nhận",
    attested_by: "Người xác nhận",
    attested_at: "Ngày xác nhận",
    valid_until: "Hiệu lực đến",
    evidence_file: "Tệp bằng chứng",
    sha256: "SHA-256",
    generated_at: "Thời điểm lập",
    collector: "Máy chủ thu thập",
    not_given: "Chưa có",
    page: "Trang",
    signature_note: "Tệp này mang mã băm SHA-256 và chữ ký số Ed25519 của máy chủ thu thập ở dòng cuối; \
                     kiểm tra bằng lệnh: khien-collector verify TỆP",
    csv_requirement_status: "Kết quả của yêu cầu",
    csv_endpoint_status: "Kết quả trên máy",
    csv_count_suffix: "số máy",
};

pub static EN: Labels = Labels {
    lang: "en",
    title: "Certification evidence pack: information system security by level",
    system: "Information system",
    system_code: "System code",
    system_name: "System name",
    owner: "Owner unit",
    level: "Level",
    level_word: "level",
    framework: "Framework",
    dossier: "Level dossier",
    decision_number: "Approval decision no.",
    decision_date: "Decision date",
    approver: "Approved by",
    next_assessment: "Next periodic assessment",
    summary: "Summary",
    requirements_in_force: "Requirements in force",
    compliant: "Compliant",
    failing: "Failing",
    manual: "Manual attestation needed",
    waived: "Waived",
    not_applicable: "Not applicable",
    endpoints: "Member endpoints",
    verdict: "Verdict",
    overview: "Requirements",
    details: "Evidence by requirement",
    requirement_id: "ID",
    requirement: "Requirement",
    clause: "Clause",
    provenance: "Provenance",
    status: "Status",
    counts: "Endpoints by status",
    evidence: "Evidence",
    endpoint: "Endpoint",
    check: "Check",
    observed: "Observed",
    expected: "Expected at this level",
    reported_at: "Reported at",
    note: "Note",
    no_evidence: "No evidence from member endpoints.",
    truncated: "(shortened; the JSON export has it in full)",
    waivers: "Waivers",
    reason: "Reason",
    scope: "Scope",
    whole_system: "Whole system",
    start: "From",
    expiry: "Expires",
    attestations: "Attestations",
    attested_by: "Attested by",
    attested_at: "Date",
    valid_until: "Valid until",
    evidence_file: "Evidence file",
    sha256: "SHA-256",
    generated_at: "Generated at",
    collector: "Collector",
    not_given: "Not given",
    page: "Page",
    signature_note: "The last line of this file carries its SHA-256 digest and the collector's Ed25519 signature; \
                     check them with: khien-collector verify FILE",
    csv_requirement_status: "Requirement status",
    csv_endpoint_status: "Endpoint status",
    csv_count_suffix: "endpoints",
};

pub fn labels(lang: Lang) -> &'static Labels {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

pub fn status(lang: Lang, s: Status) -> &'static str {
    match (lang, s) {
        (Lang::Vi, Status::Pass) => "Đạt",
        (Lang::Vi, Status::Fail) => "Không đạt",
        (Lang::Vi, Status::Error) => "Lỗi thu thập",
        (Lang::Vi, Status::NotApplicable) => "Không áp dụng",
        (Lang::Vi, Status::Manual) => "Cần xác nhận thủ công",
        (Lang::Vi, Status::Waived) => "Được miễn trừ",
        (Lang::En, Status::Pass) => "Pass",
        (Lang::En, Status::Fail) => "Fail",
        (Lang::En, Status::Error) => "Error",
        (Lang::En, Status::NotApplicable) => "Not applicable",
        (Lang::En, Status::Manual) => "Manual",
        (Lang::En, Status::Waived) => "Waived",
    }
}

pub fn verdict(lang: Lang, v: Verdict) -> &'static str {
    match (lang, v) {
        (Lang::Vi, Verdict::Compliant) => "Đáp ứng yêu cầu của cấp độ",
        (Lang::Vi, Verdict::NotCompliant) => "Chưa đáp ứng yêu cầu của cấp độ",
        (Lang::Vi, Verdict::Pending) => "Chờ xác nhận thủ công",
        (Lang::En, Verdict::Compliant) => "Meets the requirements of its level",
        (Lang::En, Verdict::NotCompliant) => "Does not meet the requirements of its level",
        (Lang::En, Verdict::Pending) => "Awaiting manual attestations",
    }
}

pub fn provenance(lang: Lang, p: Provenance) -> &'static str {
    match (lang, p) {
        (Lang::Vi, Provenance::V) => "V — nguyên văn văn bản gốc",
        (Lang::Vi, Provenance::S) => "S — nguồn thứ cấp",
        (Lang::Vi, Provenance::I) => "I — suy luận, cần đối chiếu",
        (Lang::En, Provenance::V) => "V — verbatim from the primary text",
        (Lang::En, Provenance::S) => "S — secondary source",
        (Lang::En, Provenance::I) => "I — inferred, to be verified",
    }
}

/// `16/03/2026` in Vietnamese, `2026-03-16` in English.
pub fn date(lang: Lang, d: Date) -> String {
    let (y, m, day) = (d.year(), u8::from(d.month()), d.day());
    match lang {
        Lang::Vi => format!("{day:02}/{m:02}/{y:04}"),
        Lang::En => format!("{y:04}-{m:02}-{day:02}"),
    }
}

/// A date and time to the minute, in UTC, said so.
pub fn timestamp(lang: Lang, t: Timestamp) -> String {
    let t = t.inner();
    format!("{} {:02}:{:02} UTC", date(lang, t.date()), t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn dates_per_language() {
        assert_eq!(super::date(Lang::Vi, date!(2026 - 03 - 06)), "06/03/2026");
        assert_eq!(super::date(Lang::En, date!(2026 - 03 - 06)), "2026-03-06");
        let t = Timestamp::from(datetime!(2026-11-22 08:05:59 UTC));
        assert_eq!(timestamp(Lang::Vi, t), "22/11/2026 08:05 UTC");
    }

    #[test]
    fn vietnamese_labels_are_precomposed() {
        // NFC text: "ạ" is U+1EA1, not "a" + U+0323. Fonts and pdftotext both expect NFC.
        for s in [VI.title, VI.failing, status(Lang::Vi, Status::Fail), VI.level_word] {
            assert!(
                !s.chars().any(|c| ('\u{300}'..='\u{36f}').contains(&c)),
                "{s:?} has combining marks"
            );
        }
        assert_eq!(status(Lang::Vi, Status::Fail), "Không đạt");
    }
}

use super::RenderError;
use crate::labels;
use crate::model::{EvidencePack, RequirementEvidence};
use khien_proto::Status;

/// The statuses in the order of the count columns.
const COUNT_ORDER: [Status; 6] = [
    Status::Pass,
    Status::Fail,
    Status::Error,
    Status::Manual,
    Status::Waived,
    Status::NotApplicable,
];

/// A byte-order mark: without it, Excel reads a CSV file in the legacy code
/// page and mangles every Vietnamese letter. CSV readers (the `csv` crate,
/// Python's `utf-8-sig`, LibreOffice) skip it.
const UTF8_BOM: &[u8] = "\u{feff}".as_bytes();

/// One row per requirement × evidence item (a requirement without evidence
/// still gets one row, its evidence columns empty), with a header row in the
/// pack's language. Times are RFC 3339 UTC; observed values are compact JSON;
/// waivers and attestations are summarised in one cell each.
///
/// RFC 4180 quoting; UTF-8 with a byte-order mark; `\n` line ends. A cell
/// that a spreadsheet would take for a formula (it starts with `=`, `+`, `-`,
/// `@`, tab or carriage return) gets a leading `'`: endpoint facts reach these
/// cells, and a hostile endpoint must not be able to plant a formula in a
/// certifier's spreadsheet. The JSON export carries the values untouched.
pub fn to_csv(pack: &EvidencePack) -> Result<Vec<u8>, RenderError> {
    let lang = pack.language;
    let l = labels::labels(lang);
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(UTF8_BOM.to_vec());

    let mut header: Vec<String> = [
        l.system_code,
        l.system_name,
        l.level,
        l.framework,
        l.requirement_id,
        l.requirement,
        l.clause,
        l.provenance,
        l.csv_requirement_status,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(
        COUNT_ORDER
            .iter()
            .map(|s| format!("{} ({})", labels::status(lang, *s), l.csv_count_suffix)),
    );
    header.extend(
        [
            l.endpoint,
            l.check,
            l.csv_endpoint_status,
            l.observed,
            l.expected,
            l.note,
            l.reported_at,
            l.waivers,
            l.attestations,
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    w.write_record(&header)?;

    let system = &pack.system;
    for r in &pack.requirements {
        let mut head: Vec<String> = vec![
            system.code.clone(),
            system.name.clone(),
            system.level.to_string(),
            system.framework.id.clone(),
            r.id.clone(),
            r.title.clone(),
            r.clause.clone(),
            format!("{:?}", r.provenance),
            labels::status(lang, r.status).to_string(),
        ];
        head.extend(COUNT_ORDER.iter().map(|s| r.counts.get(*s).to_string()));
        let (waivers, attestations) = (waivers_cell(r), attestations_cell(r));
        if r.evidence.is_empty() {
            let mut row = head.clone();
            row.extend(std::iter::repeat_n(String::new(), 7));
            row.extend([waivers.clone(), attestations.clone()]);
            defuse(&mut row);
            w.write_record(&row)?;
        }
        for e in &r.evidence {
            let mut row = head.clone();
            row.extend([
                e.endpoint.clone(),
                e.check.clone(),
                labels::status(lang, e.status).to_string(),
                serde_json::to_string(&e.observed)?,
                e.expected.clone(),
                e.message.clone().unwrap_or_default(),
                e.reported_at.to_string(),
                waivers.clone(),
                attestations.clone(),
            ]);
            defuse(&mut row);
            w.write_record(&row)?;
        }
    }
    w.flush().map_err(::csv::Error::from)?;
    w.into_inner().map_err(|e| RenderError::Csv(::csv::Error::from(e.into_error())))
}

/// Prefixes every cell that a spreadsheet would evaluate as a formula with `'`.
fn defuse(row: &mut [String]) {
    for cell in row {
        if let Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') = cell.as_bytes().first() {
            cell.insert(0, '\'');
        }
    }
}

fn waivers_cell(r: &RequirementEvidence) -> String {
    r.waivers
        .iter()
        .map(|w| {
            let scope = w.endpoint.as_deref().map(|e| format!(" [{e}]")).unwrap_or_default();
            format!("{} — {} ({} → {}){scope}", w.reason, w.approver, w.start, w.expiry)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn attestations_cell(r: &RequirementEvidence) -> String {
    r.attestations
        .iter()
        .map(|a| {
            format!(
                "{} ({} → {}): {} sha256={}",
                a.attested_by, a.attested_at, a.valid_until, a.file_name, a.file_sha256
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;
    use crate::sample::demo_pack;

    fn read(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = ::csv::ReaderBuilder::new().from_reader(bytes);
        let header = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r.records().map(|rec| rec.unwrap().iter().map(String::from).collect()).collect();
        (header, rows)
    }

    #[test]
    fn one_row_per_requirement_and_item() {
        let mut pack = demo_pack(Lang::Vi, 6, 3);
        pack.requirements[5].evidence.clear();
        let out = to_csv(&pack).unwrap();
        assert!(out.starts_with(UTF8_BOM));
        let (header, rows) = read(&out);
        assert_eq!(header[0], "Mã hệ thống", "the reader strips the BOM");
        assert_eq!(header.len(), 9 + 6 + 9);
        let expected: usize = pack.requirements.iter().map(|r| r.evidence.len().max(1)).sum();
        assert_eq!(rows.len(), expected);
        assert!(rows.iter().all(|r| r.len() == header.len()));
        let last = rows.last().unwrap();
        assert_eq!(last[4], pack.requirements[5].id);
        assert_eq!(last[15], "", "no endpoint for a requirement without evidence");
        // Vietnamese text survives.
        let text = String::from_utf8(out).unwrap();
        for s in ["Hệ thống thông tin cấp độ 3 — Đắk Lắk", "Không đạt", "Cần xác nhận thủ công"] {
            assert!(text.contains(s), "missing {s:?}");
        }
    }

    #[test]
    fn quoting_round_trips() {
        let mut pack = demo_pack(Lang::En, 2, 1);
        let tricky = "a, \"quoted\" value\nover two lines; Đắk Lắk";
        pack.requirements[0].title = tricky.into();
        pack.requirements[0].evidence[0].expected = tricky.into();
        pack.requirements[0].evidence[0].observed = serde_json::json!({"k": "v,\"w\""});
        let (header, rows) = read(&to_csv(&pack).unwrap());
        assert_eq!(header[5], "Requirement");
        assert_eq!(rows[0][5], tricky);
        assert_eq!(rows[0][19], tricky);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&rows[0][18]).unwrap(),
            serde_json::json!({"k": "v,\"w\""})
        );
        assert_eq!(rows[0][17], "Fail");
    }

    #[test]
    fn formulas_are_defused() {
        let mut pack = demo_pack(Lang::En, 1, 1);
        pack.requirements[0].evidence[0].endpoint = "=HYPERLINK(\"http://x\")".into();
        pack.requirements[0].evidence[0].expected = "@SUM(A1)".into();
        let (_, rows) = read(&to_csv(&pack).unwrap());
        assert_eq!(rows[0][15], "'=HYPERLINK(\"http://x\")");
        assert_eq!(rows[0][19], "'@SUM(A1)");
    }
}

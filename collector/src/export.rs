//! Certification evidence packs (`khien-evidence`) filled from the store:
//! what `khien-collector export evidence` writes and
//! `GET /api/v1/systems/{code}/evidence` serves, signed with the collector's
//! Ed25519 key (`signing.pk8`).
//!
//! Statuses and counts come from [`compliance::system_compliance`] only, so a
//! pack says what the compliance API and the KPIs say. The evidence items are
//! reproduced from the stored reports, as of each evaluation, the way the
//! endpoint detail does it; ingest keeps no evidence.

use crate::compliance;
use crate::datadir::DataDirError;
use crate::evaluate::Policies;
use crate::register;
use crate::store::{Store, StoreError, System};
use khien_evidence::{
    Attestation, CollectorInfo, Dossier, EvidenceItem, EvidencePack, FrameworkRef, OrgUnitRef, Provenance, RenderError,
    RequirementEvidence, Summary, SystemInfo, Verdict, Waiver,
};
use khien_policy::model::fill_params;
use khien_policy::{FactsView, Target};
use khien_proto::facts::Role;
use khien_proto::report::Report;
use khien_proto::{CheckResult, Status, Timestamp};
use ring::signature::Ed25519KeyPair;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

pub use khien_evidence::{Format, Lang, PDF_SUPPORTED, PublicKey, UnknownFormat, UnknownLang, Verified, VerifyError, verify};

/// Endpoints shown per requirement, the worst first (fail, error, then
/// manual), plus one passing example. A system may have thousands of members;
/// the counts always cover all of them, and the model has no field for the
/// ones left out, so a reader compares the counts with the items.
pub const MAX_ENDPOINTS_PER_REQUIREMENT: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no system {0}")]
    NotFound(String),
    #[error("system {0} is retired: it has no current compliance to certify")]
    Retired(String),
    #[error(
        "system {system} is held to framework {framework}, which is not in the loaded policies: install it or give the system another framework"
    )]
    FrameworkMissing { system: String, framework: String },
    #[error("{requirement} is not a requirement of system {system}'s level")]
    NoRequirement { system: String, requirement: String },
    #[error(
        "this khien-collector was built without the `pdf` feature: export html, csv or json, \
         or rebuild it with `cargo build --release -p khien-collector --features pdf`"
    )]
    PdfNotBuilt,
    #[error("rendering the {0} export: {1}")]
    Render(Format, RenderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The approved exceptions of one requirement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exceptions {
    pub waivers: Vec<Waiver>,
    pub attestations: Vec<Attestation>,
}

/// The waivers and attestations in force for each requirement of `system` at
/// `now` (those pending, expired or revoked prove nothing to a certifier).
/// Endpoint waivers name the endpoint by host name, like the evidence items.
pub async fn exceptions_for(
    store: &Store,
    system: &System,
    hostnames: &HashMap<&str, &str>,
    now: Timestamp,
) -> Result<BTreeMap<String, Exceptions>, StoreError> {
    let ex = crate::exceptions::for_system(store, system, now.unix_millis()).await?;
    Ok(ex
        .active
        .into_iter()
        .map(|(requirement, r)| {
            let waivers = r
                .waivers
                .iter()
                .map(|w| {
                    let mut w = w.evidence();
                    if let Some(host) = w.endpoint.as_deref().and_then(|id| hostnames.get(id)) {
                        w.endpoint = Some(host.to_string());
                    }
                    w
                })
                .collect();
            let attestations = r.attestations.iter().map(|a| a.evidence()).collect();
            (requirement, Exceptions { waivers, attestations })
        })
        .collect())
}

/// A member endpoint with a verdict for the system, as ingest stored it.
struct Member {
    id: String,
    hostname: String,
    facts_seq: i64,
    report_seq: i64,
    evaluated_at: i64,
    role: Option<Role>,
    /// Per requirement, the worst status of its checks.
    statuses: BTreeMap<String, Status>,
}

async fn evaluated_members(store: &Store, system: &System) -> Result<Vec<Member>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.id, e.hostname, e.facts_seq, ev.report_seq, ev.evaluated_at, ev.requirements, es.role
         FROM endpoint_systems es
         JOIN endpoints e ON e.id = es.endpoint_id
         JOIN evaluations ev ON ev.endpoint_id = es.endpoint_id AND ev.scope = $2
         WHERE es.system_id = $1
         ORDER BY e.hostname, e.id",
    )
    .bind(system.id)
    .bind(&system.code)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let statuses: BTreeMap<String, String> = serde_json::from_str(&r.try_get::<String, _>("requirements")?).unwrap_or_default();
            Ok(Member {
                id: r.try_get("id")?,
                hostname: r.try_get("hostname")?,
                facts_seq: r.try_get("facts_seq")?,
                report_seq: r.try_get("report_seq")?,
                evaluated_at: r.try_get("evaluated_at")?,
                role: r.try_get::<Option<String>, _>("role")?.as_deref().and_then(Role::parse),
                statuses: statuses
                    .into_iter()
                    .filter_map(|(k, s)| Status::ALL.into_iter().find(|x| x.as_str() == s).map(|s| (k, s)))
                    .collect(),
            })
        })
        .collect()
}

/// Which members to show for a requirement (indices into `members`, which are in host-name order).
fn pick(members: &[Member], requirement: &str) -> Vec<usize> {
    let rank = |s: Status| match s {
        Status::Fail => Some(0),
        Status::Error => Some(1),
        Status::Manual => Some(2),
        _ => None,
    };
    let mut worst: Vec<(u8, usize)> = members
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.statuses.get(requirement).and_then(|s| rank(*s)).map(|r| (r, i)))
        .collect();
    worst.sort_unstable();
    let mut out: Vec<usize> = worst.into_iter().take(MAX_ENDPOINTS_PER_REQUIREMENT).map(|(_, i)| i).collect();
    out.extend(members.iter().position(|m| m.statuses.get(requirement) == Some(&Status::Pass)));
    out
}

/// The member's check results at the system's level, reproduced from its
/// stored report as of its evaluation, with the report's collection time.
async fn reproduce(
    store: &Store,
    policies: &Policies,
    system: &System,
    member: &Member,
    lang: khien_policy::Lang,
) -> Result<Option<(Vec<CheckResult>, Timestamp)>, StoreError> {
    let Some(fw) = policies.framework(&system.framework) else {
        return Ok(None);
    };
    // The evaluation names its report; after a register change it may be a
    // heartbeat's, and the facts are then in the endpoint's last full report.
    for seq in [member.report_seq, member.facts_seq] {
        let Some(stored) = store.report(&member.id, seq).await? else {
            continue;
        };
        let Some(facts) = serde_json::from_slice::<Report>(&stored.body).ok().and_then(|r| r.facts) else {
            continue;
        };
        let target = Target {
            level: system.level,
            role: member.role.unwrap_or(facts.host.role),
            platform: facts.platform,
            lang,
            now: Timestamp::from_unix_millis(member.evaluated_at).unwrap_or_default(),
            evidence: true,
        };
        let evaluation = fw.evaluate(&FactsView::new(&facts), &target);
        let reported_at = Timestamp::from_unix_millis(stored.collected_at).unwrap_or_default();
        return Ok(Some((evaluation.results, reported_at)));
    }
    Ok(None)
}

fn policy_lang(lang: Lang) -> khien_policy::Lang {
    match lang {
        Lang::Vi => khien_policy::Lang::Vi,
        Lang::En => khien_policy::Lang::En,
    }
}

fn provenance(p: khien_policy::model::Provenance) -> Provenance {
    match p {
        khien_policy::model::Provenance::V => Provenance::V,
        khien_policy::model::Provenance::S => Provenance::S,
        khien_policy::model::Provenance::I => Provenance::I,
    }
}

/// How much of a pack to gather.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Everything: what an export holds.
    Full,
    /// Every requirement's status, counts and exceptions, without the
    /// endpoints' evidence (nothing is re-evaluated): the dashboard's system page.
    Summary,
    /// One requirement, with its evidence: the dashboard's requirement page.
    /// Its summary counts that requirement only.
    Requirement(String),
}

/// The evidence pack of system `system_code` at its level, as of `now`, with
/// its texts in `lang`. `collector` is left empty: [`collector_info`] fills it.
pub async fn evidence_pack(
    store: &Store,
    policies: &Policies,
    system_code: &str,
    lang: Lang,
    now: Timestamp,
) -> Result<EvidencePack, ExportError> {
    pack(store, policies, system_code, lang, now, &Detail::Full).await
}

/// The pack, or the part of it that `detail` asks for: one computation for
/// exports and pages, so a page says what the certifier's pack says.
pub async fn pack(
    store: &Store,
    policies: &Policies,
    system_code: &str,
    lang: Lang,
    now: Timestamp,
    detail: &Detail,
) -> Result<EvidencePack, ExportError> {
    let system = store
        .system(system_code)
        .await?
        .ok_or_else(|| ExportError::NotFound(system_code.to_string()))?;
    if system.retired_at.is_some() {
        return Err(ExportError::Retired(system.code));
    }
    let record = register::system(store, system_code)
        .await?
        .ok_or_else(|| ExportError::NotFound(system_code.to_string()))?;
    let fw = policies.framework(&system.framework).ok_or_else(|| ExportError::FrameworkMissing {
        system: system.code.clone(),
        framework: system.framework.clone(),
    })?;
    let plang = policy_lang(lang);
    let mut compliance = compliance::system_compliance(store, policies, &system, now.unix_millis()).await?;
    if let Detail::Requirement(id) = detail {
        compliance.requirements.retain(|r| &r.id == id);
        if compliance.requirements.is_empty() {
            return Err(ExportError::NoRequirement {
                system: system.code,
                requirement: id.clone(),
            });
        }
    }
    let members = match detail {
        Detail::Summary => Vec::new(),
        Detail::Full | Detail::Requirement(_) => evaluated_members(store, &system).await?,
    };
    let hostnames: HashMap<&str, &str> = members.iter().map(|m| (m.id.as_str(), m.hostname.as_str())).collect();
    let mut exceptions = exceptions_for(store, &system, &hostnames, now).await?;

    let picks: Vec<Vec<usize>> = compliance.requirements.iter().map(|r| pick(&members, &r.id)).collect();
    // Each endpoint shown is evaluated once, for all its requirements.
    let needed: BTreeSet<usize> = picks.iter().flatten().copied().collect();
    let mut results: HashMap<usize, (Vec<CheckResult>, Timestamp)> = HashMap::with_capacity(needed.len());
    for i in needed {
        if let Some(r) = reproduce(store, policies, &system, &members[i], plang).await? {
            results.insert(i, r);
        }
    }

    let requirements: Vec<RequirementEvidence> = compliance
        .requirements
        .iter()
        .zip(&picks)
        .map(|(state, picked)| {
            let req = fw.requirement(&state.id);
            let remediation = req.map(|q| fill_params(q.remediation.get(plang), &q.params_at(system.level)));
            let mut evidence = Vec::new();
            for i in picked {
                let Some((checks, reported_at)) = results.get(i) else { continue };
                let mine: Vec<&CheckResult> = checks.iter().filter(|c| c.requirement == state.id).collect();
                // Checks for another platform or role say nothing about this endpoint.
                let applicable: Vec<&CheckResult> = mine.iter().copied().filter(|c| c.status != Status::NotApplicable).collect();
                for c in if applicable.is_empty() { mine } else { applicable } {
                    evidence.push(EvidenceItem {
                        endpoint: members[*i].hostname.clone(),
                        check: c.check.clone(),
                        status: c.status,
                        observed: c.evidence.observed.clone(),
                        expected: c.evidence.expected.clone(),
                        // A failed check has no message of its own; what to do about it is the useful note.
                        message: c
                            .message
                            .clone()
                            .or_else(|| (c.status == Status::Fail).then(|| remediation.clone()).flatten()),
                        reported_at: *reported_at,
                    });
                }
            }
            let Exceptions { waivers, attestations } = exceptions.remove(&state.id).unwrap_or_default();
            RequirementEvidence {
                id: state.id.clone(),
                title: req.map(|q| q.title.get(plang).to_string()).unwrap_or_default(),
                clause: req.map(|q| q.clause.clone()).unwrap_or_default(),
                provenance: req.map(|q| provenance(q.provenance)).unwrap_or(Provenance::I),
                status: state.status,
                counts: state.counts,
                evidence,
                waivers,
                attestations,
            }
        })
        .collect();

    let mut summary = Summary::from_requirements(&requirements, u32::try_from(compliance.members).unwrap_or(u32::MAX));
    // Nothing failing is not enough while members are still unevaluated (or
    // there are none): the compliance API says "not compliant" then, and the
    // pack must not say "compliant".
    if summary.verdict == Verdict::Compliant && !compliance.compliant {
        summary.verdict = Verdict::Pending;
    }
    let d = &record.dossier;
    Ok(EvidencePack {
        generated_at: now,
        collector: CollectorInfo::default(),
        language: lang,
        system: SystemInfo {
            code: system.code.clone(),
            name: system.name.clone(),
            owner: OrgUnitRef {
                code: compliance.unit.code.clone(),
                name: compliance.unit.name.clone(),
            },
            level: system.level,
            framework: FrameworkRef {
                id: fw.id.clone(),
                title: fw.title.get(plang).to_string(),
            },
            dossier: Dossier {
                decision_number: d.decision_number.clone(),
                decision_date: d.decision_date,
                approver: d.approver.clone(),
                next_assessment_date: d.next_assessment_date,
            },
        },
        summary,
        requirements,
    })
}

/// The collector as a pack names it: its URL's host, and the URL.
pub fn collector_info(url: &str) -> CollectorInfo {
    CollectorInfo {
        name: crate::config::url_host(url).unwrap_or_else(|| "khien-collector".into()),
        url: url.to_string(),
    }
}

/// Renders `pack` in `format` and signs it.
pub fn render_signed(pack: &EvidencePack, format: Format, key: &Ed25519KeyPair) -> Result<Vec<u8>, ExportError> {
    if format == Format::Pdf && !PDF_SUPPORTED {
        return Err(ExportError::PdfNotBuilt);
    }
    let content = khien_evidence::render(pack, format).map_err(|e| match e {
        RenderError::PdfNotBuilt => ExportError::PdfNotBuilt,
        e => ExportError::Render(format, e),
    })?;
    Ok(khien_evidence::sign(&content, format, key))
}

/// `<CODE>-<YYYY-MM-DD>.<ext>`, the date in UTC: what the CLI writes and the API names.
pub fn file_name(system_code: &str, format: Format, now: Timestamp) -> String {
    let d = now.inner().date();
    format!(
        "{system_code}-{:04}-{:02}-{:02}.{}",
        d.year(),
        u8::from(d.month()),
        d.day(),
        format.extension()
    )
}

/// The collector's signing key, from an initialised data folder.
pub fn signing_key(data_dir: &Path) -> Result<Ed25519KeyPair, DataDirError> {
    let path = data_dir.join("signing.pk8");
    if !path.exists() {
        return Err(DataDirError::NotInitialised(data_dir.to_path_buf(), data_dir.display().to_string()));
    }
    let pkcs8 = std::fs::read(&path).map_err(|e| DataDirError::Io(path.clone(), e))?;
    Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| DataDirError::SigningKey(path))
}

/// A public key as `export public-key` prints it: 64 lowercase hex digits.
pub fn public_key_hex(key: &PublicKey) -> String {
    hex::encode(key.as_bytes())
}

/// A public key written as hex (what `export public-key` prints) or as base64
/// (what a trailer's `key=` holds).
pub fn parse_public_key(text: &str) -> Option<PublicKey> {
    let t = text.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(t).ok().and_then(|b| PublicKey::from_bytes(&b));
    }
    PublicKey::from_base64(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(host: &str, statuses: &[(&str, Status)]) -> Member {
        Member {
            id: host.into(),
            hostname: host.into(),
            facts_seq: 1,
            report_seq: 1,
            evaluated_at: 0,
            role: None,
            statuses: statuses.iter().map(|(k, s)| (k.to_string(), *s)).collect(),
        }
    }

    #[test]
    fn the_worst_endpoints_first_then_one_passing_example() {
        let mut members: Vec<Member> = (0..50)
            .map(|i| {
                member(
                    &format!("pc-{i:02}"),
                    &[("CH-02", if i % 2 == 0 { Status::Manual } else { Status::Pass })],
                )
            })
            .collect();
        members.push(member("pc-50", &[("CH-02", Status::Error)]));
        members.push(member("pc-51", &[("CH-02", Status::Fail)]));
        let p = pick(&members, "CH-02");
        assert_eq!(p.len(), MAX_ENDPOINTS_PER_REQUIREMENT + 1);
        assert_eq!((p[0], p[1], p[2]), (51, 50, 0), "fail, error, then manual in host order");
        assert_eq!(*p.last().unwrap(), 1, "the first passing endpoint");
        assert!(pick(&members, "TK-01").is_empty());
    }

    #[test]
    fn file_names_and_public_keys() {
        let t = Timestamp::parse("2026-11-23T23:59:00Z").unwrap();
        assert_eq!(file_name("DLK-DHTN", Format::Pdf, t), "DLK-DHTN-2026-11-23.pdf");
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        let key = PublicKey::of(&Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap());
        assert_eq!(parse_public_key(&public_key_hex(&key)), Some(key));
        assert_eq!(parse_public_key(&format!(" {key}\n")), Some(key), "the trailer's base64");
        assert_eq!(parse_public_key("abc"), None);
    }
}

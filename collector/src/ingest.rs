//! Ingest: an authenticated agent's report → checks → evaluation → store.
//!
//! Checks, in order, each with a clear 4xx and nothing stored when it fails:
//! the certificate names a known, unrevoked endpoint; the body is a report of
//! this exact schema (unknown fields refused) from that endpoint; a report with
//! facts carries a valid Ed25519 signature of the body and the digest of its
//! facts; its sequence number is new (a repeat of the latest, or of a stored
//! report, is an idempotent duplicate; an older unseen one is a replay).
//!
//! Heartbeats (facts unchanged) cost a JSON parse and a few map lookups: the
//! signature, the facts and the verdicts are not touched again. That is what
//! makes most traffic cheap (ARCHITECTURE.md decision 5).

use crate::evaluate::{self, Policies, Scope, count_deltas, evaluation_row, scopes};
use crate::store::{EndpointAuth, Store, StoreError, StoredReport};
use crate::writer::{ReportWrite, WriteError, Writer, Written};
use khien_policy::FactsView;
use khien_proto::enroll::Ack;
use khien_proto::report::{Report, facts_digest, verify};
use khien_proto::{Status, Timestamp};
use khien_tls::AgentIdentity;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("this agent is not enrolled here")]
    UnknownAgent,
    #[error("this agent's certificate has been revoked")]
    Revoked,
    #[error("the report names agent {0}, but the certificate is another agent's")]
    AgentMismatch(String),
    #[error("the body is not a valid report: {0}")]
    Malformed(String),
    #[error("a report with facts must be signed (header x-khien-signature)")]
    MissingSignature,
    #[error("{0}")]
    BadSignature(String),
    #[error("facts_digest does not match the facts sent")]
    DigestMismatch,
    #[error("sequence number {seq} is older than the latest ({latest}) and was never stored: refused as a replay")]
    Replay { seq: u64, latest: i64 },
    #[error("{0}")]
    Unavailable(String),
}

impl IngestError {
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::UnknownAgent => "unknown_agent",
            IngestError::Revoked => "revoked",
            IngestError::AgentMismatch(_) => "agent_mismatch",
            IngestError::Malformed(_) => "malformed_report",
            IngestError::MissingSignature => "missing_signature",
            IngestError::BadSignature(_) => "bad_signature",
            IngestError::DigestMismatch => "digest_mismatch",
            IngestError::Replay { .. } => "replay",
            IngestError::Unavailable(_) => "unavailable",
        }
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::Unavailable(e.to_string())
    }
}

impl From<WriteError> for IngestError {
    fn from(e: WriteError) -> Self {
        IngestError::Unavailable(e.to_string())
    }
}

/// What the collector holds for an endpoint between reports.
struct EndpointState {
    auth: EndpointAuth,
    signing_key: Vec<u8>,
    scopes: Vec<Scope>,
    /// Per scope, the requirement statuses last stored (for count deltas).
    verdicts: HashMap<String, BTreeMap<String, Status>>,
}

type Slot = Arc<tokio::sync::Mutex<Option<EndpointState>>>;

pub struct Ingest {
    store: Store,
    policies: Arc<Policies>,
    writer: Writer,
    endpoints: Mutex<HashMap<String, Slot>>,
    revoked: RwLock<HashSet<String>>,
}

impl Ingest {
    pub async fn new(store: Store, policies: Arc<Policies>, writer: Writer) -> Result<Ingest, StoreError> {
        let revoked = store.revoked_serials().await?.into_iter().collect();
        Ok(Ingest {
            store,
            policies,
            writer,
            endpoints: Mutex::new(HashMap::new()),
            revoked: RwLock::new(revoked),
        })
    }

    pub fn policies(&self) -> &Arc<Policies> {
        &self.policies
    }

    /// True when the certificate serial has been revoked. Checked on every request.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.revoked.read().unwrap_or_else(|p| p.into_inner()).contains(serial)
    }

    /// Reloads the revoked serials, so that revocations made by another
    /// process (`khien-collector endpoint revoke`) take effect.
    pub async fn refresh_revoked(&self) -> Result<(), StoreError> {
        let serials: HashSet<String> = self.store.revoked_serials().await?.into_iter().collect();
        *self.revoked.write().unwrap_or_else(|p| p.into_inner()) = serials;
        Ok(())
    }

    /// Revokes an endpoint and forgets what was cached about it.
    pub async fn revoke(&self, endpoint_id: &str, now: i64) -> Result<Vec<String>, StoreError> {
        let serials = self.store.revoke_endpoint(endpoint_id, now).await?;
        self.revoked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(serials.iter().cloned());
        self.forget(endpoint_id);
        Ok(serials)
    }

    /// Drops the cached state, e.g. after its systems changed.
    pub fn forget(&self, endpoint_id: &str) {
        self.endpoints.lock().unwrap_or_else(|p| p.into_inner()).remove(endpoint_id);
    }

    fn slot(&self, endpoint_id: &str) -> Slot {
        self.endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(endpoint_id.to_string())
            .or_default()
            .clone()
    }

    async fn load(&self, endpoint_id: &str) -> Result<EndpointState, IngestError> {
        let auth = self.store.endpoint_auth(endpoint_id).await?.ok_or(IngestError::UnknownAgent)?;
        let signing_key = hex::decode(&auth.signing_key).map_err(|_| IngestError::Unavailable("stored signing key is corrupt".into()))?;
        let unit = self
            .store
            .org_unit_by_id(auth.org_unit_id)
            .await?
            .ok_or_else(|| IngestError::Unavailable("endpoint without org unit".into()))?;
        let memberships = self.store.memberships(endpoint_id).await?;
        let scopes = scopes(&memberships, &unit, &self.policies.default_framework);
        let verdicts = self
            .store
            .evaluations(endpoint_id)
            .await?
            .into_iter()
            .map(|e| {
                let statuses = e
                    .requirements
                    .iter()
                    .filter_map(|(k, v)| status_from_str(v).map(|s| (k.clone(), s)))
                    .collect();
                (e.scope, statuses)
            })
            .collect();
        Ok(EndpointState {
            auth,
            signing_key,
            scopes,
            verdicts,
        })
    }

    /// Handles one report from an authenticated agent.
    pub async fn ingest(&self, peer: &AgentIdentity, body: &[u8], signature: Option<&str>) -> Result<Ack, IngestError> {
        if self.is_revoked(&peer.serial) {
            return Err(IngestError::Revoked);
        }
        let report: Report = serde_json::from_slice(body).map_err(|e| IngestError::Malformed(e.to_string()))?;
        if report.agent_id != peer.agent_id {
            return Err(IngestError::AgentMismatch(report.agent_id));
        }
        let slot = self.slot(&peer.agent_id);
        // One report at a time per endpoint: sequence numbers and count deltas stay consistent.
        let mut guard = slot.lock().await;
        if guard.is_none() {
            *guard = Some(self.load(&peer.agent_id).await?);
        }
        let state = guard.as_mut().ok_or(IngestError::UnknownAgent)?;
        if state.auth.revoked {
            return Err(IngestError::Revoked);
        }
        let seq = i64::try_from(report.seq).map_err(|_| IngestError::Malformed("seq is out of range".into()))?;
        let now = Timestamp::now().unix_millis();

        if seq <= state.auth.last_seq {
            let stored = seq == state.auth.last_seq || (report.facts.is_some() && self.store.report_exists(&peer.agent_id, seq).await?);
            return if stored {
                Ok(Ack {
                    seq: report.seq,
                    outcome: "duplicate".into(),
                    need_facts: false,
                })
            } else {
                Err(IngestError::Replay {
                    seq: report.seq,
                    latest: state.auth.last_seq,
                })
            };
        }

        let Some(facts) = &report.facts else {
            self.writer.heartbeat(&peer.agent_id, seq, now);
            state.auth.last_seq = seq;
            return Ok(Ack {
                seq: report.seq,
                outcome: "heartbeat".into(),
                need_facts: report.facts_digest != state.auth.facts_digest,
            });
        };

        let signature = signature.ok_or(IngestError::MissingSignature)?;
        verify(&state.signing_key, body, signature).map_err(|e| IngestError::BadSignature(e.to_string()))?;
        let digest = facts_digest(facts);
        if digest != report.facts_digest {
            return Err(IngestError::DigestMismatch);
        }

        let view = FactsView::new(facts);
        let (verdicts, missing) = evaluate::evaluate(&self.policies, facts, &view, &state.scopes, Timestamp::now(), false);
        for m in &missing {
            tracing::warn!(endpoint = %peer.agent_id, framework = %m, "Framework not installed; that scope is not evaluated.");
        }
        let mut write = ReportWrite {
            endpoint_id: peer.agent_id.clone(),
            report: Some(StoredReport {
                seq,
                received_at: now,
                collected_at: report.collected_at.unix_millis(),
                signature: signature.to_string(),
                body: body.to_vec(),
            }),
            seq,
            digest: digest.clone(),
            seen: now,
            summary: evaluate::summary(facts, evaluate::effective_level(&state.scopes)),
            evaluations: verdicts.iter().map(|v| evaluation_row(v, seq)).collect(),
            removed_scopes: Vec::new(),
            count_deltas: Vec::new(),
            verdict_changes: Vec::new(),
        };
        let new_verdicts: HashMap<String, BTreeMap<String, Status>> =
            verdicts.into_iter().map(|v| (v.scope.code.clone(), v.requirements)).collect();
        plan_scope_changes(&mut write, &state.scopes, &state.verdicts, &new_verdicts, now);

        match self.writer.write(write).await? {
            Written::Stored => {
                state.auth.last_seq = seq;
                state.auth.facts_digest = digest;
                state.verdicts = new_verdicts;
                Ok(Ack {
                    seq: report.seq,
                    outcome: "stored".into(),
                    need_facts: false,
                })
            }
            Written::Duplicate => Ok(Ack {
                seq: report.seq,
                outcome: "duplicate".into(),
                need_facts: false,
            }),
        }
    }

    /// Re-evaluates an endpoint's stored facts after the register changed
    /// (its systems, their levels, its role), so that the new verdicts do not
    /// wait for the facts to change.
    pub async fn reevaluate(&self, endpoint_id: &str) -> Result<(), IngestError> {
        // The endpoint's own slot, locked: a report being ingested finishes
        // first, and its verdicts are the "before" of this re-evaluation.
        let slot = self.slot(endpoint_id);
        let mut guard = slot.lock().await;
        *guard = None;
        let state = guard.insert(self.load(endpoint_id).await?);
        let Some((row, _)) = self.store.endpoint(endpoint_id).await? else {
            return Err(IngestError::UnknownAgent);
        };
        let Some(stored) = self.store.report(endpoint_id, row.facts_seq).await? else {
            // No facts yet: the first report will be evaluated against the new systems.
            return Ok(());
        };
        let report: Report = serde_json::from_slice(&stored.body).map_err(|e| IngestError::Malformed(e.to_string()))?;
        let Some(facts) = &report.facts else { return Ok(()) };
        let view = FactsView::new(facts);
        let (verdicts, _) = evaluate::evaluate(&self.policies, facts, &view, &state.scopes, Timestamp::now(), false);
        let mut write = ReportWrite {
            endpoint_id: endpoint_id.to_string(),
            report: None,
            seq: row.facts_seq,
            digest: state.auth.facts_digest.clone(),
            seen: row.last_seen,
            summary: evaluate::summary(facts, evaluate::effective_level(&state.scopes)),
            evaluations: verdicts.iter().map(|v| evaluation_row(v, row.facts_seq)).collect(),
            removed_scopes: Vec::new(),
            count_deltas: Vec::new(),
            verdict_changes: Vec::new(),
        };
        let new_verdicts: HashMap<String, BTreeMap<String, Status>> =
            verdicts.into_iter().map(|v| (v.scope.code.clone(), v.requirements)).collect();
        // Scopes the endpoint no longer has: every stored verdict not in the new set.
        let mut old_scopes = state.scopes.clone();
        for code in state.verdicts.keys() {
            if !old_scopes.iter().any(|s| &s.code == code) {
                let system_id = self.store.system(code).await?.map(|s| s.id);
                old_scopes.push(Scope {
                    code: code.clone(),
                    system_id,
                    level: 0,
                    framework: String::new(),
                    role: None,
                });
            }
        }
        plan_scope_changes(
            &mut write,
            &old_scopes,
            &state.verdicts,
            &new_verdicts,
            Timestamp::now().unix_millis(),
        );
        self.writer.write(write).await?;
        state.verdicts = new_verdicts;
        Ok(())
    }
}

/// Fills in the count deltas, removed scopes and verdict changes (at `now`)
/// of a write, from the verdicts stored before and the ones about to be stored.
fn plan_scope_changes(
    write: &mut ReportWrite,
    scopes: &[Scope],
    old: &HashMap<String, BTreeMap<String, Status>>,
    new: &HashMap<String, BTreeMap<String, Status>>,
    now: i64,
) {
    write.verdict_changes = crate::history::diff_verdicts(now, old, new);
    for scope in scopes {
        if let Some(system_id) = scope.system_id {
            write
                .count_deltas
                .extend(count_deltas(system_id, old.get(&scope.code), new.get(&scope.code)));
        }
    }
    for code in old.keys() {
        if !new.contains_key(code) {
            write.removed_scopes.push(code.clone());
        }
    }
}

pub fn status_from_str(s: &str) -> Option<Status> {
    Status::ALL.into_iter().find(|x| x.as_str() == s)
}

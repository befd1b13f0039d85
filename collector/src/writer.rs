//! One writer for the database, committing reports in groups.
//!
//! A report with facts is acknowledged only after its transaction commits, so
//! an acknowledged report survives a crash of the collector. Committing one
//! transaction per report would cap ingest at the disk's sync rate; instead the
//! writer takes every job waiting in its queue (up to [`MAX_BATCH`]) into one
//! transaction and answers them all when it commits.
//!
//! Heartbeats change only "last seen": they are acknowledged at once and
//! written with the next batch, or within a second. A crash may lose up to a
//! second of last-seen times, never a report.
//!
//! SQLite has one writer at a time, so it gets one. PostgreSQL can commit
//! concurrent transactions together; `database_writers` starts several, each
//! owning the endpoints whose id hashes to it, so that an endpoint's reports
//! stay in order. On the 2-core benchmark machine one writer was fastest for
//! both engines (docs/benchmarks.md): more only pay with cores to spare.

use crate::history;
use crate::rollup;
use crate::store::{Engine, EvaluationRow, FactsSummary, FactsUpdate, Store, StoreError, StoredReport};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub const MAX_BATCH: usize = 512;
const HEARTBEAT_FLUSH: Duration = Duration::from_secs(1);

/// Everything one report (or re-evaluation) changes, written atomically.
pub struct ReportWrite {
    pub endpoint_id: String,
    /// `None` for a re-evaluation of facts already stored.
    pub report: Option<StoredReport>,
    pub seq: i64,
    pub digest: String,
    pub seen: i64,
    pub summary: FactsSummary,
    pub evaluations: Vec<EvaluationRow>,
    pub removed_scopes: Vec<String>,
    /// (system id, requirement, status, change in the number of endpoints)
    pub count_deltas: Vec<(i64, String, String, i64)>,
    /// Requirements whose status this write overturns (history.rs).
    pub verdict_changes: Vec<history::VerdictChange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Stored,
    /// The report's sequence number was already stored: nothing changed.
    Duplicate,
}

#[derive(Debug, thiserror::Error, Clone)]
#[error("the database did not accept the write: {0}")]
pub struct WriteError(pub String);

type Job = (ReportWrite, oneshot::Sender<Result<Written, WriteError>>);

type Heartbeats = Arc<Mutex<HashMap<String, (i64, i64)>>>;

#[derive(Clone)]
pub struct Writer {
    shards: Vec<(mpsc::Sender<Job>, Heartbeats)>,
}

impl Writer {
    /// Starts the writer tasks (one for SQLite whatever `writers` says); the
    /// handle completes when all have flushed and stopped.
    pub fn start(store: Store, writers: usize) -> (Writer, tokio::task::JoinHandle<()>) {
        let n = match store.engine {
            Engine::Sqlite => 1,
            Engine::Postgres => writers.max(1),
        };
        let mut shards = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
            let heartbeats = Heartbeats::default();
            tasks.push(tokio::spawn(run(store.clone(), rx, heartbeats.clone())));
            shards.push((tx, heartbeats));
        }
        let all = tokio::spawn(async move {
            for t in tasks {
                let _ = t.await;
            }
        });
        (Writer { shards }, all)
    }

    fn shard(&self, endpoint_id: &str) -> &(mpsc::Sender<Job>, Heartbeats) {
        // FNV-1a: stable and cheap; only the spread matters.
        let h = endpoint_id
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        &self.shards[(h % self.shards.len() as u64) as usize]
    }

    /// Writes and waits for the commit.
    pub async fn write(&self, w: ReportWrite) -> Result<Written, WriteError> {
        let (done, wait) = oneshot::channel();
        self.shard(&w.endpoint_id)
            .0
            .send((w, done))
            .await
            .map_err(|_| WriteError("the writer has stopped".into()))?;
        wait.await.map_err(|_| WriteError("the writer has stopped".into()))?
    }

    /// Records a heartbeat for the next batch.
    pub fn heartbeat(&self, endpoint_id: &str, seq: i64, seen: i64) {
        let mut hb = self.shard(endpoint_id).1.lock().unwrap_or_else(|p| p.into_inner());
        let e = hb.entry(endpoint_id.to_string()).or_insert((seq, seen));
        e.0 = e.0.max(seq);
        e.1 = e.1.max(seen);
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, heartbeats: Heartbeats) {
    let mut tick = tokio::time::interval(HEARTBEAT_FLUSH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut batch = Vec::new();
        tokio::select! {
            job = rx.recv() => match job {
                Some(job) => batch.push(job),
                None => {
                    // Senders are gone: flush what is left and stop.
                    let _ = commit(&store, Vec::new(), take(&heartbeats)).await;
                    return;
                }
            },
            _ = tick.tick() => {}
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let hb = take(&heartbeats);
        if batch.is_empty() && hb.is_empty() {
            continue;
        }
        let (writes, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match commit(&store, writes, hb).await {
            Ok(results) => {
                for (reply, r) in replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "Batch not committed; agents will send again.");
                let err = WriteError(e.to_string());
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
}

fn take(hb: &Mutex<HashMap<String, (i64, i64)>>) -> HashMap<String, (i64, i64)> {
    std::mem::take(&mut *hb.lock().unwrap_or_else(|p| p.into_inner()))
}

async fn commit(store: &Store, writes: Vec<ReportWrite>, heartbeats: HashMap<String, (i64, i64)>) -> Result<Vec<Written>, StoreError> {
    // IMMEDIATE on SQLite: the counters' "before" snapshot must not go stale
    // before the first write takes the lock.
    let mut tx = store.begin_write().await?;
    let reports: Vec<(&str, &StoredReport)> = writes
        .iter()
        .filter_map(|w| w.report.as_ref().map(|r| (w.endpoint_id.as_str(), r)))
        .collect();
    let inserted = Store::insert_reports(&mut tx, &reports).await?;
    let results: Vec<Written> = writes
        .iter()
        .map(|w| match &w.report {
            Some(r) if !inserted.contains(&(w.endpoint_id.clone(), r.seq)) => Written::Duplicate,
            _ => Written::Stored,
        })
        .collect();
    let stored: Vec<&ReportWrite> = writes
        .iter()
        .zip(&results)
        .filter(|(_, r)| **r == Written::Stored)
        .map(|(w, _)| w)
        .collect();
    let updates: Vec<FactsUpdate<'_>> = stored
        .iter()
        .map(|w| FactsUpdate {
            endpoint_id: &w.endpoint_id,
            seq: w.seq,
            digest: &w.digest,
            seen: w.seen,
            summary: &w.summary,
        })
        .collect();
    // Every endpoint this batch changes, for the KPI counters' before/after.
    let mut touched: Vec<&str> = stored
        .iter()
        .map(|w| w.endpoint_id.as_str())
        .chain(heartbeats.keys().map(String::as_str))
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let before = rollup::snapshot(&mut tx, store.engine, &touched, true).await?;
    Store::update_endpoints_facts(&mut tx, &updates).await?;
    let evaluations: Vec<(&str, &EvaluationRow)> = stored
        .iter()
        .flat_map(|w| w.evaluations.iter().map(move |e| (w.endpoint_id.as_str(), e)))
        .collect();
    Store::upsert_evaluations(&mut tx, &evaluations).await?;
    for w in &stored {
        for scope in &w.removed_scopes {
            Store::delete_evaluation(&mut tx, &w.endpoint_id, scope).await?;
        }
    }
    // Count changes are summed over the batch and applied last, in key order:
    // fewer statements, and concurrent PostgreSQL writers always lock the
    // shared count rows in the same order, so they cannot deadlock.
    let mut deltas: BTreeMap<(i64, &str, &str), i64> = BTreeMap::new();
    for w in &stored {
        for (system, req, status, delta) in &w.count_deltas {
            *deltas.entry((*system, req.as_str(), status.as_str())).or_default() += delta;
        }
    }
    for ((system, req, status), delta) in deltas {
        if delta != 0 {
            Store::adjust_requirement_count(&mut tx, system, req, status, delta).await?;
        }
    }
    let changes: Vec<history::ChangeRow<'_>> = stored
        .iter()
        .flat_map(|w| {
            let cause = if w.report.is_some() { "report" } else { "reevaluation" };
            w.verdict_changes.iter().map(move |c| (w.endpoint_id.as_str(), w.seq, cause, c))
        })
        .collect();
    history::insert_changes(&mut tx, &changes).await?;
    let touches: Vec<(&str, i64, i64)> = heartbeats.iter().map(|(e, (seq, seen))| (e.as_str(), *seq, *seen)).collect();
    Store::touch_endpoints(&mut tx, &touches).await?;
    let after = rollup::snapshot(&mut tx, store.engine, &touched, false).await?;
    rollup::apply(&mut tx, store.engine, &before, &after).await?;
    tx.commit().await?;
    Ok(results)
}

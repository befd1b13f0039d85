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

use crate::store::{EvaluationRow, FactsSummary, Store, StoreError, StoredReport};
use std::collections::HashMap;
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

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    heartbeats: Arc<Mutex<HashMap<String, (i64, i64)>>>,
}

impl Writer {
    pub fn start(store: Store) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let heartbeats = Arc::new(Mutex::new(HashMap::new()));
        let task = tokio::spawn(run(store, rx, heartbeats.clone()));
        (Writer { jobs: tx, heartbeats }, task)
    }

    /// Writes and waits for the commit.
    pub async fn write(&self, w: ReportWrite) -> Result<Written, WriteError> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send((w, done))
            .await
            .map_err(|_| WriteError("the writer has stopped".into()))?;
        wait.await.map_err(|_| WriteError("the writer has stopped".into()))?
    }

    /// Records a heartbeat for the next batch.
    pub fn heartbeat(&self, endpoint_id: &str, seq: i64, seen: i64) {
        let mut hb = self.heartbeats.lock().unwrap_or_else(|p| p.into_inner());
        let e = hb.entry(endpoint_id.to_string()).or_insert((seq, seen));
        e.0 = e.0.max(seq);
        e.1 = e.1.max(seen);
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, heartbeats: Arc<Mutex<HashMap<String, (i64, i64)>>>) {
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
    let mut tx = store.pool().begin().await?;
    let mut results = Vec::with_capacity(writes.len());
    for w in &writes {
        if let Some(report) = &w.report
            && !Store::insert_report(&mut tx, &w.endpoint_id, report).await?
        {
            results.push(Written::Duplicate);
            continue;
        }
        Store::update_endpoint_facts(&mut tx, &w.endpoint_id, w.seq, &w.digest, w.seen, &w.summary).await?;
        for e in &w.evaluations {
            Store::upsert_evaluation(&mut tx, &w.endpoint_id, e).await?;
        }
        for scope in &w.removed_scopes {
            Store::delete_evaluation(&mut tx, &w.endpoint_id, scope).await?;
        }
        for (system, req, status, delta) in &w.count_deltas {
            Store::adjust_requirement_count(&mut tx, *system, req, status, *delta).await?;
        }
        results.push(Written::Stored);
    }
    for (endpoint, (seq, seen)) in heartbeats {
        Store::touch_endpoint(&mut tx, &endpoint, seq, seen).await?;
    }
    tx.commit().await?;
    Ok(results)
}

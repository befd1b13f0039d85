//! The HTTPS listener: TLS (ring only) with optional client certificates, one
//! port for agents and the API, and a graceful stop that flushes the writer.
//!
//! `axum::serve` cannot see client certificates, so connections are accepted
//! here: the TLS handshake (with a deadline), then the agent identity of the
//! client certificate is read once per connection and attached to each of its
//! requests.

use crate::api::{self, App, Peer, RemoteAddr};
use crate::config::Settings;
use crate::datadir::{self, Secrets};
use crate::evaluate::Policies;
use crate::ingest::Ingest;
use crate::register::{self, Frameworks};
use crate::store::Store;
use crate::writer::Writer;
use anyhow::Context as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running collector, for `serve` and for tests that start one in-process.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub pin: String,
    pub app: Arc<App>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    writer_task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish (up to 10 s) and flushes the writer.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        // The writer stops when the last handle to it (in the app) is gone.
        drop(self.app);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.writer_task).await;
    }
}

pub async fn start(settings: &Settings, policies: Policies) -> anyhow::Result<Running> {
    let Secrets {
        authority,
        server_chain,
        server_key,
        signing,
    } = datadir::prepare(settings).with_context(|| format!("preparing {}", settings.data_dir.display()))?;
    let store = Store::connect(&settings.database)
        .await
        .with_context(|| format!("opening {}", settings.database))?;
    let tls = khien_tls::server_config(&server_chain, &server_key, authority.cert_pem()).context("TLS configuration")?;
    let (writer, writer_task) = Writer::start(store.clone(), settings.database_writers);
    let frameworks = Frameworks::from_policies(&policies);
    let ingest = Ingest::new(store.clone(), Arc::new(policies), writer).await?;
    let pin = authority.pin();
    let app = Arc::new(App {
        store,
        ingest,
        authority,
        url: settings.url.clone(),
        max_report_bytes: settings.max_report_bytes,
        kpi_windows: settings.kpi_windows,
        frameworks,
        register_changed: Arc::new(tokio::sync::Notify::new()),
        signing,
    });
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let (shutdown, stop) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, TlsAcceptor::from(Arc::new(tls)), app.clone(), stop));
    spawn_retention(app.clone(), settings.report_retention_days);
    spawn_revocation_refresh(app.clone());
    spawn_register_watch(app.clone());
    crate::history::spawn(app.clone(), settings.history_retention_days);
    Ok(Running {
        addr,
        pin,
        app,
        shutdown,
        task,
        writer_task,
    })
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, app: Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let router = api::router(app);
    // Connections in flight finish their request when the collector stops.
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "Accept failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "TLS handshake failed.");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out.");
                    return;
                }
            };
            let peer = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| khien_tls::agent_identity(c).map_err(|e| e.to_string()));
            let peer = Arc::new(Peer(peer));
            // ALPN tells which protocol the client speaks: no need to sniff a preface.
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            let service = TowerToHyperService::new(tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(peer.clone());
                req.extensions_mut().insert(RemoteAddr(remote));
                router.clone().oneshot(req)
            }));
            let io = TokioIo::new(tls);
            let served = if h2 {
                watcher
                    .watch(hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(io, service))
                    .await
            } else {
                watcher
                    .watch(hyper::server::conn::http1::Builder::new().serve_connection(io, service))
                    .await
            };
            if let Err(e) = served {
                tracing::debug!(%remote, error = %e, "Connection ended with an error.");
            }
        });
    }
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("Connections still open after 10 s; closing them.");
    }
}

/// How soon a revocation made outside this process is honoured.
const REVOCATION_REFRESH: Duration = Duration::from_secs(2);

fn spawn_revocation_refresh(app: Arc<App>) {
    let weak = Arc::downgrade(&app);
    drop(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REVOCATION_REFRESH);
        loop {
            tick.tick().await;
            let Some(app) = weak.upgrade() else { return };
            if let Err(e) = app.ingest.refresh_revoked().await {
                tracing::warn!(error = %e, "Cannot reload revocations.");
            }
        }
    });
}

/// How often the audit log is read for register changes made elsewhere (the
/// CLI, a seed, another process); the API wakes the watch at once.
const REGISTER_WATCH: Duration = Duration::from_secs(2);
/// Records are read again this far back. Register changes are serialised
/// and take their time once they hold the lock, so on one clock records
/// appear in the order of their times; this covers the clock of another
/// machine (a CLI run elsewhere against PostgreSQL) that lags a little.
/// Records already applied are remembered and not applied twice.
const REGISTER_LOOKBACK_MS: i64 = 10_000;
const REGISTER_CURSOR: &str = "register_applied_at";

/// Re-evaluates the endpoints whose verdicts a register change touched (a
/// system's level, framework or retirement, a unit's default level, an
/// endpoint's memberships and roles), from the audit log, so that the changes
/// of every process count without waiting for the endpoints' next facts. How
/// far the log has been applied is kept in the database: changes made while
/// the collector was stopped are applied when it starts.
fn spawn_register_watch(app: Arc<App>) {
    let weak = Arc::downgrade(&app);
    // Only the bell is held while waiting: the app must be free to stop.
    let bell = app.register_changed.clone();
    drop(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REGISTER_WATCH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut applied: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
        let mut cursor: Option<i64> = None;
        loop {
            {
                let Some(app) = weak.upgrade() else { return };
                if let Err(e) = apply_register_changes(&app, &mut cursor, &mut applied).await {
                    tracing::warn!(error = %e, "Cannot apply register changes to the evaluations; trying again.");
                }
            }
            tokio::select! {
                _ = tick.tick() => {}
                _ = bell.notified() => {}
            }
        }
    });
}

async fn apply_register_changes(
    app: &App,
    cursor: &mut Option<i64>,
    applied: &mut std::collections::BTreeMap<i64, i64>,
) -> Result<(), crate::store::StoreError> {
    let since = match *cursor {
        Some(c) => c,
        None => app.store.state_value(REGISTER_CURSOR).await?.unwrap_or(0),
    };
    let rows = crate::audit::since(&app.store, since - REGISTER_LOOKBACK_MS).await?;
    let new: Vec<_> = rows.into_iter().filter(|r| !applied.contains_key(&r.id)).collect();
    if !new.is_empty() {
        let endpoints = register::endpoints_affected(&app.store, &new).await?;
        for id in &endpoints {
            if let Err(e) = app.ingest.reevaluate(id).await {
                tracing::warn!(endpoint = %id, error = %e, "Re-evaluation after a register change failed.");
            }
        }
        if !endpoints.is_empty() {
            tracing::info!(
                records = new.len(),
                endpoints = endpoints.len(),
                "Register changes applied to the evaluations."
            );
        }
    }
    let latest = new
        .iter()
        .map(|r| r.at)
        .chain(applied.values().copied())
        .max()
        .unwrap_or(since)
        .max(since);
    applied.extend(new.iter().map(|r| (r.id, r.at)));
    // Remember only what the lookback can still return.
    applied.retain(|_, at| *at >= latest - REGISTER_LOOKBACK_MS);
    if Some(latest) != *cursor {
        app.store.set_state_value(REGISTER_CURSOR, latest).await?;
        *cursor = Some(latest);
    }
    Ok(())
}

/// Deletes stored reports past the retention period, daily.
fn spawn_retention(app: Arc<App>, days: u32) {
    let weak = Arc::downgrade(&app);
    drop(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(24 * 3600));
        loop {
            tick.tick().await;
            let Some(app) = weak.upgrade() else { return };
            let cutoff = khien_proto::Timestamp::now().unix_millis() - i64::from(days) * 86_400_000;
            match app.store.prune_reports(cutoff).await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, days, "Reports past retention deleted."),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "Retention pass failed."),
            }
        }
    });
}

//! `khien-loadgen`: many simulated agents against a real collector.
//!
//! Each simulated agent enrolls with the token like a real one (its own TLS
//! key, certificate and Ed25519 key), then sends reports over mutual TLS as
//! fast as the collector acknowledges them, one at a time per agent as the real
//! agent does: a fraction `--changed-ratio` carry changed, signed facts (this
//! machine's real facts, varied per agent and per report), the rest are
//! heartbeats.
//!
//! Before the network run it measures the bare limit of the same work: the
//! collector's ingest pipeline (signature check of the signed share, JSON
//! parse, evaluation, the same database writes) called in-process on a fresh
//! store, with no TLS or HTTP. The last line is
//! `reports/s: X p50_ms: Y p99_ms: Z` for the network run.

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use khien_collector::evaluate::Policies;
use khien_collector::ingest::Ingest;
use khien_collector::store::Store;
use khien_collector::writer::Writer;
use khien_proto::Timestamp;
use khien_proto::enroll::{Ack, EnrollRequest, EnrollResponse, Token};
use khien_proto::facts::{Facts, Listener, Protocol};
use khien_proto::report::{Report, SIGNATURE_HEADER, facts_digest, sign};
use khien_tls::AgentIdentity;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

// The bare limit runs the collector's ingest in this process: with the
// collector's allocator, so that the two figures compare.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "khien-loadgen", about = "Load a Khiên collector with simulated agents")]
struct Args {
    /// Enrollment token allowing at least --agents uses
    #[arg(long, env = "KHIEN_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long, default_value_t = 50)]
    agents: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Share of reports that carry changed, signed facts; the rest are heartbeats
    #[arg(long, default_value_t = 0.1)]
    changed_ratio: f64,
    /// Database for the bare-limit measurement [default: a temporary SQLite file]
    #[arg(long, value_name = "URL")]
    bare_database: Option<String>,
    /// Skip the bare-limit measurement
    #[arg(long)]
    no_bare: bool,
    /// Append `agent_id seq kind` of every acknowledged report to FILE (for crash tests)
    #[arg(long, value_name = "FILE")]
    acked_log: Option<PathBuf>,
    /// Keep going after errors instead of stopping at the first (a collector restart, say)
    #[arg(long)]
    tolerate_errors: bool,
}

fn host_port(url: &str) -> anyhow::Result<(String, u16)> {
    let authority = url.trim_start_matches("https://").split('/').next().unwrap_or_default();
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(|| anyhow::anyhow!("bad URL {url}"))?;
        return Ok((h.to_string(), p.parse()?));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), p.parse()?)),
        None => Ok((authority.to_string(), 443)),
    }
}

/// One HTTP/1.1 connection over mutual TLS, as one agent holds.
async fn connect(
    host: &str,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
    let tcp = tokio::net::TcpStream::connect((host, port)).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

/// A simulated endpoint's identity.
struct Sim {
    id: String,
    key: Ed25519KeyPair,
    public_hex: String,
    cert_pem: String,
    tls_key_pem: String,
}

fn random_unit(rng: &SystemRandom) -> f64 {
    let mut b = [0u8; 4];
    let _ = rng.fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

/// This machine's facts, as a realistic template.
fn template() -> Facts {
    khien_agent::probe::collect(&khien_agent::config::ProbeConfig::default())
}

/// The facts of simulated agent `i`, changed per `version` so that the digest changes.
fn facts_for(template: &Facts, i: usize, version: u64) -> Facts {
    let mut f = template.clone();
    f.collected_at = Timestamp::now().truncate_to_seconds();
    f.host.hostname = format!("sim-{i:05}");
    f.host.machine_id = Some(format!("{i:032x}"));
    f.network.listening.push(Listener {
        protocol: Protocol::Tcp,
        address: "127.0.0.1".into(),
        port: 40000 + (version % 20000) as u16,
        pid: Some(1000 + version as u32),
        process: Some("sim".into()),
        ..Listener::default()
    });
    f
}

struct Built {
    body: Vec<u8>,
    signature: Option<String>,
    full: bool,
    digest: String,
}

fn build(sim: &Sim, seq: u64, facts: Option<Facts>, last_digest: &str) -> Built {
    let (digest, full) = match &facts {
        Some(f) => (facts_digest(f), true),
        None => (last_digest.to_string(), false),
    };
    let report = Report {
        agent_id: sim.id.clone(),
        seq,
        collected_at: Timestamp::now().truncate_to_seconds(),
        agent_version: "loadgen".into(),
        policy_digest: String::new(),
        facts_digest: digest,
        facts,
        evaluation: None,
    };
    let body = serde_json::to_vec(&report).unwrap_or_default();
    let signature = full.then(|| sign(&sim.key, &body));
    Built {
        body,
        signature,
        full,
        digest: report.facts_digest,
    }
}

/// Enrolls `n` agents; returns them and the collector CA they were given.
async fn enroll_all(token: &Token, n: usize) -> anyhow::Result<(Vec<Arc<Sim>>, String)> {
    let tls = khien_tls::pinned_client_config(&token.ca)?;
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{}/api/v1/enroll", token.url.trim_end_matches('/'));
    let mut sims = Vec::with_capacity(n);
    let mut ca = String::new();
    for i in 0..n {
        let (tls_key_pem, csr) = khien_tls::new_key_and_csr()?;
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| anyhow::anyhow!("key generation"))?;
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("key"))?;
        let public_hex = hex::encode(key.public_key().as_ref());
        let req = EnrollRequest {
            secret: token.secret.clone(),
            csr,
            signing_key: public_hex.clone(),
            hostname: format!("sim-{i:05}"),
        };
        let resp = client
            .post(&url)
            .json(&req)
            .send()
            .await
            .with_context(|| format!("enrolling agent {i}"))?;
        if !resp.status().is_success() {
            bail!("enrolling agent {i}: {} {}", resp.status(), resp.text().await.unwrap_or_default());
        }
        let granted: EnrollResponse = resp.json().await?;
        ca = granted.ca;
        sims.push(Arc::new(Sim {
            id: granted.agent_id,
            key,
            public_hex,
            cert_pem: granted.certificate,
            tls_key_pem,
        }));
    }
    Ok((sims, ca))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// The collector's ingest pipeline alone, in-process, on a fresh store.
async fn bare_limit(args: &Args, sims: &[Arc<Sim>], template: &Facts) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let url = args
        .bare_database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bare.db").display()));
    let store = Store::connect(&url).await?;
    let policies = Arc::new(Policies::load(&khien_policy::locate::find(None, None)?).map_err(|e| anyhow::anyhow!("{e}"))?);
    let now = Timestamp::now().unix_millis();
    let unit = store.upsert_org_unit("BARE", None, "Bare limit", 3, now).await?;
    let mut tx = store.pool().begin().await?;
    for sim in sims {
        store
            .insert_endpoint(
                &mut tx,
                &sim.id,
                unit.id,
                "bare",
                &sim.public_hex,
                &format!("bare-{}", sim.id),
                now / 1000 + 86_400,
                &[],
                now,
            )
            .await?;
    }
    tx.commit().await?;
    let (writer, writer_task) = Writer::start(store.clone(), 1);
    let ingest = Arc::new(Ingest::new(store.clone(), policies, writer).await?);
    let deadline = Instant::now() + Duration::from_secs(args.seconds.max(1));
    let template = Arc::new(template.clone());
    let mut tasks = Vec::new();
    for (i, sim) in sims.iter().enumerate() {
        let ingest = ingest.clone();
        let template = template.clone();
        let id = AgentIdentity {
            agent_id: sim.id.clone(),
            serial: format!("bare-{}", sim.id),
        };
        let sim = sim.clone();
        let ratio = args.changed_ratio;
        tasks.push(tokio::spawn(async move {
            let rng = SystemRandom::new();
            let (mut seq, mut done, mut digest) = (0u64, 0u64, String::new());
            while Instant::now() < deadline {
                seq += 1;
                let full = seq == 1 || random_unit(&rng) < ratio;
                let built = build(&sim, seq, full.then(|| facts_for(&template, i, seq)), &digest);
                if built.full {
                    digest = built.digest.clone();
                }
                ingest
                    .ingest(&id, &built.body, built.signature.as_deref())
                    .await
                    .map_err(|e| anyhow::anyhow!("bare ingest: {e}"))?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    drop(ingest);
    let _ = writer_task.await;
    store.close().await;
    Ok(total as f64 / secs)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.changed_ratio) {
        bail!("--changed-ratio must be between 0 and 1");
    }
    let token = Token::decode(&args.token)?;
    let template = tokio::task::spawn_blocking(template).await?;
    eprintln!("Enrolling {} agents with {} …", args.agents, token.url);
    let (sims, ca_pem) = enroll_all(&token, args.agents).await?;

    let bare = if args.no_bare {
        None
    } else {
        Some(bare_limit(&args, &sims, &template).await?)
    };

    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let log = match &args.acked_log {
        Some(p) => Some(Arc::new(std::sync::Mutex::new(
            std::fs::OpenOptions::new().create(true).append(true).open(p)?,
        ))),
        None => None,
    };
    let template = Arc::new(template);
    let mut tasks = Vec::new();
    let (host, port) = host_port(&token.url)?;
    for (i, sim) in sims.into_iter().enumerate() {
        let mut tls = khien_tls::client_config(&ca_pem, Some((&sim.cert_pem, &sim.tls_key_pem)))?;
        // One report at a time per agent: HTTP/1.1, as the connection below speaks.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = Arc::new(tls);
        let host = host.clone();
        let template = template.clone();
        let stop = stop.clone();
        let log = log.clone();
        let ratio = args.changed_ratio;
        let tolerate = args.tolerate_errors;
        tasks.push(tokio::spawn(async move {
            let rng = SystemRandom::new();
            let mut latencies = Vec::new();
            let (mut seq, mut digest, mut errors) = (0u64, String::new(), 0u64);
            let mut pending: Option<Built> = None;
            let mut conn: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> = None;
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                let built = match pending.take() {
                    Some(b) => b,
                    None => {
                        seq += 1;
                        let full = seq == 1 || random_unit(&rng) < ratio;
                        let b = build(&sim, seq, full.then(|| facts_for(&template, i, seq)), &digest);
                        if b.full {
                            digest = b.digest.clone();
                        }
                        b
                    }
                };
                let t = Instant::now();
                let outcome = async {
                    if conn.as_ref().is_none_or(|c| c.is_closed()) {
                        conn = Some(connect(&host, port, tls.clone()).await?);
                    }
                    let sender = conn.as_mut().ok_or("no connection")?;
                    sender.ready().await.map_err(|e| e.to_string())?;
                    let mut req = hyper::Request::post("/api/v1/reports")
                        .header("host", host.as_str())
                        .header("content-type", "application/json");
                    if let Some(s) = &built.signature {
                        req = req.header(SIGNATURE_HEADER, s.as_str());
                    }
                    let req = req.body(Full::new(Bytes::from(built.body.clone()))).map_err(|e| e.to_string())?;
                    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
                    let status = resp.status();
                    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
                    if status.is_success() {
                        serde_json::from_slice::<Ack>(&body).map_err(|e| e.to_string())
                    } else {
                        Err(format!("{status} {}", String::from_utf8_lossy(&body)))
                    }
                }
                .await;
                if outcome.is_err() {
                    conn = None;
                }
                match outcome {
                    Ok(ack) => {
                        latencies.push(t.elapsed());
                        if let Some(log) = &log {
                            let mut f = log.lock().unwrap_or_else(|p| p.into_inner());
                            let _ = writeln!(
                                f,
                                "{} {} {} {}",
                                sim.id,
                                seq,
                                if built.full { "full" } else { "heartbeat" },
                                ack.outcome
                            );
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if !tolerate {
                            stop.store(true, Ordering::Relaxed);
                            return Err(anyhow::anyhow!("agent {}: report {seq}: {e}", sim.id));
                        }
                        // Like the agent: keep the report and send it again after a pause.
                        pending = Some(built);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            Ok((latencies, errors))
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await??;
        all.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    let rate = all.len() as f64 / secs;
    if let Some(b) = bare {
        println!(
            "bare limit reports/s: {b:.0} (ingest in-process, same mix, {} agents) network/bare: {:.0}%",
            args.agents,
            rate / b * 100.0
        );
    }
    if errors > 0 {
        println!("errors: {errors} (retried)");
    }
    println!(
        "reports/s: {rate:.0} p50_ms: {:.2} p99_ms: {:.2}",
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    Ok(())
}

//! The collector over real TLS on loopback: enrollment, reports, the API, and
//! every way a report or a token can be wrong. The whole flow runs on SQLite
//! and on a real PostgreSQL server.

use khien_tests::collector::{Agent, Collector, RawAgent, https_client, sample_facts};
use khien_tests::postgres::Postgres;
use serde_json::{Value, json};

/// Agent configuration for tests: ClamAV looked for where this machine has none of its own running.
const AGENT_CONFIG: &str = "[report]\ninterval_secs = 1\ndebounce_ms = 200\n";

async fn enroll_report_and_query(database: Option<String>) {
    let c = Collector::with_demo(database);
    let token = c.token("DLK", &["DLK-DHTN"], 5, "1h");
    let agent = Agent::enroll(&token, AGENT_CONFIG);
    let id = agent.id();
    let r = agent.run(&["run", "--once"]);
    assert_eq!(r.code, 0, "run --once: {}{}\n{}", r.stdout, r.stderr, c.log());
    let key = c.apikey(None);

    let (s, comp) = c.get(&key, "/api/v1/systems/DLK-DHTN/compliance").await;
    assert_eq!(s, 200, "{comp}");
    assert_eq!(comp["level"], 3);
    assert_eq!(comp["endpoints"], 1);
    assert_eq!(comp["evaluated"], 1);
    let reqs = comp["requirements"].as_array().unwrap();
    let md01 = reqs.iter().find(|r| r["requirement"] == "MD-01").expect("MD-01 listed");
    let total: i64 = ["pass", "fail", "error", "not_applicable", "manual"]
        .iter()
        .map(|k| md01[*k].as_i64().unwrap())
        .sum();
    assert_eq!(total, 1, "this machine is counted once: {md01}");
    assert!(reqs.iter().any(|r| r["requirement"] == "CH-03"), "level-3 requirements are listed");

    let (s, list) = c.get(&key, "/api/v1/endpoints").await;
    assert_eq!(s, 200);
    let me = &list["endpoints"].as_array().unwrap()[0];
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["effective_level"], 3);
    assert_eq!(me["org_unit"], "DLK");
    assert!(me["status_counts"]["pass"].is_i64());

    let (s, detail) = c.get(&key, &format!("/api/v1/endpoints/{id}")).await;
    assert_eq!(s, 200, "{detail}");
    assert!(!detail["facts"]["host"]["hostname"].as_str().unwrap().is_empty());
    let results = detail["evaluations"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().all(|r| r["evidence"].get("expected").is_some()),
        "results carry evidence"
    );
    assert_eq!(detail["systems"][0]["code"], "DLK-DHTN");

    let (s, sum) = c.get(&key, "/api/v1/org-units/TW/kpis").await;
    assert_eq!(s, 200, "{sum}");
    assert_eq!(sum["endpoints"], 1);
    assert_eq!(sum["reporting_24h"]["count"], 1);
    assert_eq!(sum["reporting_24h"]["percent"], 100.0);
    assert_eq!(sum["children"].as_array().map(Vec::len), Some(2), "TW's provinces: {sum}");
    let (s, behind) = c.get(&key, "/api/v1/org-units/TW/kpis?list=reporting_24h").await;
    assert_eq!(s, 200, "{behind}");
    assert_eq!(behind["items"][0]["id"], id.as_str());
    let (s, none) = c.get(&key, "/api/v1/org-units/TW/kpis?list=reporting_24h&state=unmet").await;
    assert_eq!((s, none["items"].as_array().map(Vec::len)), (200, Some(0)), "{none}");
    assert_eq!(c.get(&key, "/api/v1/org-units/TW/kpis?list=nonsense").await.0, 400);
    // The CLI reads the same counters.
    let cli = c.cli(&["kpi", "--org-unit", "TW", "--format", "json"]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    assert_eq!(cli.json()["endpoints"], 1);
    assert_eq!(cli.json()["av_running"], sum["av_running"]);
    let csv = c.cli(&["kpi", "--org-unit", "DLK", "--format", "csv"]);
    assert!(csv.stdout.starts_with("kpi,count,of,percent\nendpoints,1,1,"), "{}", csv.stdout);

    // A key scoped to Hà Nội sees nothing of Đắk Lắk.
    let hn = c.apikey(Some("HN"));
    assert_eq!(c.get(&hn, "/api/v1/systems/DLK-DHTN/compliance").await.0, 403);
    assert_eq!(c.get(&hn, &format!("/api/v1/endpoints/{id}")).await.0, 403);
    assert_eq!(c.get(&hn, "/api/v1/org-units/DLK/kpis").await.0, 403);
    let (s, hn_list) = c.get(&hn, "/api/v1/endpoints").await;
    assert_eq!(s, 200);
    assert!(hn_list["endpoints"].as_array().unwrap().is_empty());
    assert_eq!(c.get(&hn, "/api/v1/org-units/HN/kpis").await.0, 200);
    assert_eq!(c.get("khk_wrong", "/api/v1/endpoints").await.0, 401);

    // Moving the endpoint to another system re-evaluates its stored facts at once.
    let client = https_client(&c.ca_pem(), None);
    let resp = client
        .put(format!("{}/api/v1/endpoints/{id}/systems", c.url()))
        .bearer_auth(&key)
        .json(&json!({"systems": ["DLK-HNTH"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    let (_, old) = c.get(&key, "/api/v1/systems/DLK-DHTN/compliance").await;
    let (_, new) = c.get(&key, "/api/v1/systems/DLK-HNTH/compliance").await;
    assert_eq!((old["endpoints"].clone(), old["evaluated"].clone()), (json!(0), json!(0)), "{old}");
    assert_eq!((new["endpoints"].clone(), new["evaluated"].clone()), (json!(1), json!(1)), "{new}");
    let sum_md01 = |v: &Value| {
        v["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["requirement"] == "MD-01")
            .map(|r| {
                ["pass", "fail", "error", "not_applicable", "manual"]
                    .iter()
                    .map(|k| r[*k].as_i64().unwrap())
                    .sum::<i64>()
            })
    };
    assert_eq!(sum_md01(&old), Some(0), "counts left the old system: {old}");
    assert_eq!(sum_md01(&new), Some(1));
}

#[tokio::test]
async fn enroll_report_and_query_on_sqlite() {
    enroll_report_and_query(None).await;
}

#[tokio::test]
async fn enroll_report_and_query_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    enroll_report_and_query(Some(pg.database("flow"))).await;
}

async fn raw_agent(c: &Collector) -> (Agent, RawAgent) {
    let token = c.token("DLK", &["DLK-DHTN"], 1, "1h");
    let agent = Agent::enroll(&token, AGENT_CONFIG);
    let raw = agent.raw(&c.url());
    (agent, raw)
}

#[tokio::test]
async fn bad_reports_are_refused_with_a_reason_and_nothing_is_stored() {
    let c = Collector::with_demo(None);
    let (_agent, raw) = raw_agent(&c).await;
    let store = c.store().await;
    let facts = sample_facts("pc-01");

    let ok = raw.send_full(1, &facts).await;
    assert_eq!((ok.status, ok.body["outcome"].as_str()), (200, Some("stored")), "{}", ok.body);
    assert_eq!(store.count_reports(&raw.agent_id).await.unwrap(), 1);

    // A forged signature: the body changed after signing.
    let body = raw.report(2, Some(&facts));
    let sig = raw.sign(&body);
    let mut forged = body.clone();
    let pos = forged.windows(5).position(|w| w == b"pc-01").unwrap();
    forged[pos + 3] = b'9';
    let r = raw.send(forged, Some(&sig)).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("bad_signature")), "{}", r.body);
    // Signed by another key.
    let other = ring::signature::Ed25519KeyPair::from_pkcs8(
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .unwrap()
            .as_ref(),
    )
    .unwrap();
    let r = raw.send(body.clone(), Some(&khien_proto::report::sign(&other, &body))).await;
    assert_eq!(r.body["error"], "bad_signature");
    // Facts without a signature.
    let r = raw.send(body.clone(), None).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("missing_signature")));
    // A digest that does not match the facts.
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["facts_digest"] = json!("00".repeat(32));
    let lying = serde_json::to_vec(&v).unwrap();
    let r = raw.send(lying.clone(), Some(&raw.sign(&lying))).await;
    assert_eq!(r.body["error"], "digest_mismatch");
    // Not JSON, and JSON with a field the schema does not have.
    let r = raw.send(b"{not json".to_vec(), None).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("malformed_report")));
    v["facts_digest"] = json!(khien_proto::report::facts_digest(&facts));
    v["extra"] = json!(1);
    let extra = serde_json::to_vec(&v).unwrap();
    let r = raw.send(extra.clone(), Some(&raw.sign(&extra))).await;
    assert_eq!(r.body["error"], "malformed_report", "{}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("extra"), "{}", r.body);
    // A report in the name of another agent.
    v.as_object_mut().unwrap().remove("extra");
    v["agent_id"] = json!("01900000-0000-7000-8000-000000000000");
    let other_agent = serde_json::to_vec(&v).unwrap();
    let r = raw.send(other_agent.clone(), Some(&raw.sign(&other_agent))).await;
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("agent_mismatch")));
    // 10 MB.
    let r = raw.send(vec![b' '; 10 * 1024 * 1024], None).await;
    assert_eq!((r.status, r.body["error"].as_str()), (413, Some("too_large")), "{}", r.body);

    assert_eq!(store.count_reports(&raw.agent_id).await.unwrap(), 1, "nothing refused was stored");

    // Sequence numbers: the latest again is a duplicate, an older unseen one a replay.
    let r = raw.send_full(5, &facts).await;
    assert_eq!(r.body["outcome"], "stored");
    let r = raw.send_full(5, &facts).await;
    assert_eq!((r.status, r.body["outcome"].as_str()), (200, Some("duplicate")));
    let r = raw.send_full(1, &facts).await;
    assert_eq!(
        (r.status, r.body["outcome"].as_str()),
        (200, Some("duplicate")),
        "seq 1 is stored: {}",
        r.body
    );
    let r = raw.send_full(3, &facts).await;
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("replay")), "{}", r.body);
    assert_eq!(store.count_reports(&raw.agent_id).await.unwrap(), 2, "stored once each");

    // Heartbeats: the stored digest matches, a stale one asks for facts.
    let mut hb: Value = serde_json::from_slice(&raw.report(6, None)).unwrap();
    hb["facts_digest"] = json!(khien_proto::report::facts_digest(&facts));
    let r = raw.send(serde_json::to_vec(&hb).unwrap(), None).await;
    assert_eq!(
        (r.body["outcome"].as_str(), r.body["need_facts"].as_bool()),
        (Some("heartbeat"), Some(false)),
        "{}",
        r.body
    );
    let r = raw.send(raw.report(7, None), None).await;
    assert_eq!(r.body["need_facts"], true, "an unknown digest asks for the facts: {}", r.body);
    assert_eq!(
        store.count_reports(&raw.agent_id).await.unwrap(),
        2,
        "heartbeats are not stored as reports"
    );
}

#[tokio::test]
async fn certificates_without_trust_are_refused() {
    let c = Collector::with_demo(None);
    let (agent, raw) = raw_agent(&c).await;
    let facts = sample_facts("pc-02");
    assert_eq!(raw.send_full(1, &facts).await.status, 200);

    // No client certificate.
    let anonymous = https_client(&c.ca_pem(), None);
    let resp = anonymous
        .post(format!("{}/api/v1/reports", c.url()))
        .body(raw.report(2, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "client_certificate_required");

    // A certificate from another CA, for the same agent id: the handshake fails.
    let foreign = khien_tls::Authority::generate("foreign").unwrap();
    let (key, csr) = khien_tls::new_key_and_csr().unwrap();
    let cert = foreign.issue_agent(&csr, &raw.agent_id, 30).unwrap().cert_pem;
    let intruder = https_client(&c.ca_pem(), Some((&cert, &key)));
    let err = intruder
        .post(format!("{}/api/v1/reports", c.url()))
        .body(raw.report(2, None))
        .send()
        .await;
    assert!(err.is_err(), "a foreign certificate must not get an answer: {err:?}");

    // Revoked: refused within seconds, even on a connection opened before.
    let r = c.cli(&["endpoint", "revoke", &agent.id()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut last = 0;
    for seq in 2..40 {
        let r = raw.send(raw.report(seq, None), None).await;
        last = r.status;
        if r.status == 403 {
            assert_eq!(r.body["error"], "revoked");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(last, 403, "the revoked certificate was still accepted");
}

#[tokio::test]
async fn tokens_are_limited_by_uses_and_time() {
    let c = Collector::with_demo(None);
    let once = c.token("HN-VINHTUY", &[], 1, "1h");
    let first = Agent::enroll(&once, AGENT_CONFIG);
    assert!(!first.id().is_empty());
    let dir = tempfile::tempdir().unwrap();
    let second = std::process::Command::new(khien_tests::bin("khien-agent"))
        .args(["enroll", "--token", &once, "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("used as many times as it allows"), "{stderr}");

    let short = c.token("HN-VINHTUY", &[], 5, "2s");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let late = std::process::Command::new(khien_tests::bin("khien-agent"))
        .args(["enroll", "--token", &short, "--state-dir"])
        .arg(dir.path().join("late"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&late.stderr);
    assert_eq!(late.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expired"), "{stderr}");

    // A token whose secret was altered.
    let token = khien_proto::enroll::Token::decode(&c.token("HN", &[], 5, "1h")).unwrap();
    let forged = khien_proto::enroll::Token {
        secret: "AAAA".into(),
        ..token
    }
    .encode();
    let bad = std::process::Command::new(khien_tests::bin("khien-agent"))
        .args(["enroll", "--token", &forged, "--state-dir"])
        .arg(dir.path().join("forged"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown enrollment token"));

    // Org units and systems must exist, and belong together.
    let r = c.cli(&["token", "create", "--org-unit", "NOPE"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("org unit NOPE does not exist"), "{}", r.stderr);
    let r = c.cli(&["token", "create", "--org-unit", "HN", "--system", "DLK-DHTN"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("another branch"), "{}", r.stderr);
}

async fn store_is_idempotent(database: Option<String>) {
    let c = Collector::start(database);
    let seed = khien_tests::workspace().join("seeds/demo.toml");
    for _ in 0..2 {
        let r = c.cli(&["seed", seed.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let store = c.store().await;
    let dlk = store.org_unit("DLK").await.unwrap().unwrap();
    assert_eq!(dlk.path, "/TW/DLK/");
    let sys = store.system("DLK-DHTN").await.unwrap().unwrap();
    assert_eq!(sys.level, 3);
    // Re-seeding with a change updates in place.
    let changed = c.dir.path().join("changed.toml");
    std::fs::write(
        &changed,
        std::fs::read_to_string(&seed)
            .unwrap()
            .replacen("code = \"DLK-DHTN\"", "code = \"DLK-DHTN\" # changed", 1),
    )
    .unwrap();
    assert_eq!(c.cli(&["seed", changed.to_str().unwrap()]).code, 0);
    assert_eq!(
        store.system("DLK-DHTN").await.unwrap().unwrap().id,
        sys.id,
        "same row, not a new one"
    );

    // One use, two enrollments at once: exactly one wins.
    let token = khien_proto::enroll::Token::decode(&c.token("DLK", &[], 1, "1h")).unwrap();
    let hash = khien_proto::report::sha256_hex(token.secret.as_bytes());
    let now = khien_proto::Timestamp::now().unix_millis();
    let (a, b) = tokio::join!(
        async {
            let mut tx = store.pool().begin().await.unwrap();
            let r = store.consume_token(&mut tx, &hash, now).await.unwrap();
            tx.commit().await.unwrap();
            r.is_ok()
        },
        async {
            let mut tx = store.pool().begin().await.unwrap();
            let r = store.consume_token(&mut tx, &hash, now).await.unwrap();
            tx.commit().await.unwrap();
            r.is_ok()
        }
    );
    assert!(a ^ b, "exactly one of two concurrent uses of a one-use token succeeds ({a}, {b})");
}

#[tokio::test]
async fn store_is_idempotent_on_sqlite() {
    store_is_idempotent(None).await;
}

#[tokio::test]
async fn store_is_idempotent_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    store_is_idempotent(Some(pg.database("store"))).await;
}

#[test]
fn the_data_folder_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let c = Collector::with_demo(None);
    let mode = |name: &str| std::fs::metadata(c.data.join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(""), 0o700);
    for secret in ["ca.key", "server.key", "signing.pk8", "khien.db", "collector.toml"] {
        assert_eq!(mode(secret), 0o600, "{secret}");
    }
    assert!(c.log().contains("CA certificate:"), "serve says where the CA is: {}", c.log());
}

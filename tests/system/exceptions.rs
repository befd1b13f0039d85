//! Waivers and attestations on a running collector, on SQLite and on a real
//! PostgreSQL server: a waiver made through the CLI turns a failing
//! requirement `waived`, an attestation uploaded through the API turns a
//! manual one `pass` and its file comes back byte for byte, both stop counting
//! when they expire (checked through the library with an explicit time
//! against the real store), a key of another province sees and changes none
//! of it, and every change is in the audit log.

use khien_collector::compliance::system_compliance;
use khien_collector::evaluate::Policies;
use khien_collector::exceptions;
use khien_proto::report::sha256_hex;
use khien_tests::Run;
use khien_tests::collector::{Agent, Collector, https_client, sample_facts};
use khien_tests::postgres::Postgres;
use serde_json::{Value, json};

const DAY: i64 = 86_400_000;
const SYSTEM: &str = "DLK-DHTN";

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {}{}", r.stdout, r.stderr);
}

fn refused(r: &Run, says: &str) {
    assert_eq!(r.code, 2, "expected a refusal: {}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(says), "expected {says:?} in: {}", r.stderr);
}

/// Today + `days`, as a date (UTC).
fn date(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn requirement(c: &Collector, key: &str, req: &str) -> Value {
    let (s, comp) = c.get(key, &format!("/api/v1/systems/{SYSTEM}/compliance")).await;
    assert_eq!(s, 200, "{comp}");
    comp["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["requirement"] == req)
        .cloned()
        .unwrap_or_else(|| panic!("{req} is not listed: {comp:#}"))
}

/// POSTs a file as an attestation's body; returns the status and the JSON answer.
async fn upload(c: &Collector, key: &str, system: &str, req: &str, valid_until: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    let url = format!(
        "{}/api/v1/systems/{system}/attestations?requirement={}&attested_by={}&valid_until={}&file_name={}",
        c.url(),
        enc(req),
        enc("Nguyễn Văn An, Chánh Văn phòng"),
        enc(valid_until),
        enc(name)
    );
    let resp = https_client(&c.ca_pem(), None)
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("uploading an attestation");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn download(c: &Collector, key: &str, sha: &str) -> (u16, Vec<u8>) {
    let resp = https_client(&c.ca_pem(), None)
        .get(format!("{}/api/v1/evidence-files/{sha}", c.url()))
        .bearer_auth(key)
        .send()
        .await
        .expect("downloading an evidence file");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
}

async fn waivers_and_attestations(database: Option<String>) {
    let c = Collector::with_demo(database);
    let (root_id, root) = {
        let r = c.cli(&["apikey", "create"]);
        ok(&r, "apikey create");
        let id = r.stdout.split_whitespace().nth(2).expect("the key's id").to_string();
        (id, r.stdout.lines().last().expect("the key").to_string())
    };
    let token = c.token("DLK", &[SYSTEM], 1, "1h");
    let agent = Agent::enroll(&token, "");
    let raw = agent.raw(&c.url());
    let endpoint = raw.agent_id.clone();
    assert_eq!(raw.send_full(1, &sample_facts("dlk-pc-01")).await.status, 200);

    // What fails on this machine, and what waits for a person's statement.
    let policies = Policies::load(&khien_tests::workspace().join("policies")).expect("the policies catalogue");
    let store = c.store().await;
    let system = store.system(SYSTEM).await.unwrap().unwrap();
    let fw = policies.framework(&system.framework).unwrap();
    let (_, comp) = c.get(&root, &format!("/api/v1/systems/{SYSTEM}/compliance")).await;
    let reqs = comp["requirements"].as_array().unwrap();
    let failing = reqs
        .iter()
        .find(|r| r["status"] == "fail")
        .unwrap_or_else(|| panic!("something fails at level 3: {comp:#}"))["requirement"]
        .as_str()
        .unwrap()
        .to_string();
    let manual = reqs
        .iter()
        .filter(|r| r["status"] == "manual" && r["manual"] == 1)
        .map(|r| r["requirement"].as_str().unwrap())
        .find(|id| fw.requirement(id).is_some_and(exceptions::attestable))
        .unwrap_or_else(|| panic!("an attestable manual requirement: {comp:#}"))
        .to_string();
    let technical = fw
        .at_level(3)
        .find(|r| !exceptions::attestable(r))
        .expect("a technical requirement")
        .id
        .clone();
    assert!(!comp["compliant"].as_bool().unwrap());

    // ---- waivers through the CLI --------------------------------------------------------
    let r = c.cli(&[
        "waiver",
        "create",
        "--system",
        SYSTEM,
        "--requirement",
        &failing,
        "--reason",
        "Máy chủ phòng chống mã độc được thay trong tháng tới",
        "--approver",
        "Chánh Văn phòng Tỉnh ủy",
        "--expiry",
        &date(30),
    ]);
    ok(&r, "waiver create");
    let system_waiver = r.stdout.split_whitespace().nth(2).expect("the waiver's id").to_string();
    let w = requirement(&c, &root, &failing).await;
    assert_eq!(
        (w["status"].clone(), w["fail"].clone(), w["waived"].clone()),
        (json!("waived"), json!(0), json!(1)),
        "{w}"
    );
    // An endpoint waiver that starts in ten days.
    ok(
        &c.cli(&[
            "waiver",
            "create",
            "--endpoint",
            &endpoint,
            "--requirement",
            &failing,
            "--reason",
            "r",
            "--approver",
            "a",
            "--start",
            &date(10),
            "--expiry",
            &date(20),
        ]),
        "endpoint waiver",
    );
    let r = c.cli(&["waiver", "list", "--system", SYSTEM, "--format", "json"]);
    ok(&r, "waiver list");
    let states: Vec<(Value, Value)> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["endpoint"].clone(), w["state"].clone()))
        .collect();
    assert_eq!(states, [(Value::Null, json!("active")), (json!(endpoint), json!("pending"))]);
    ok(&c.cli(&["waiver", "revoke", &system_waiver]), "waiver revoke");
    assert_eq!(requirement(&c, &root, &failing).await["status"], "fail", "revoked: at once");
    refused(&c.cli(&["waiver", "revoke", &system_waiver]), "already revoked");
    let r = c.cli(&["waiver", "list", "--all"]);
    ok(&r, "waiver list --all");
    assert!(
        r.stdout.starts_with("ID") && r.stdout.contains("revoked") && r.stdout.contains("pending"),
        "{}",
        r.stdout
    );
    // Mistakes are refused, naming the field.
    let base = ["waiver", "create", "--reason", "r", "--approver", "a"];
    refused(
        &c.cli(&[&base[..], &["--system", SYSTEM, "--requirement", "XX-99", "--expiry", &date(5)]].concat()),
        "requirement: \"XX-99\" is not a requirement",
    );
    refused(
        &c.cli(
            &[
                &base[..],
                &[
                    "--system",
                    SYSTEM,
                    "--requirement",
                    &failing,
                    "--start",
                    &date(9),
                    "--expiry",
                    &date(5),
                ],
            ]
            .concat(),
        ),
        "expiry:",
    );
    refused(
        &c.cli(&[&base[..], &["--endpoint", "nope", "--requirement", &failing, "--expiry", &date(5)]].concat()),
        "endpoint: no enrolled endpoint nope",
    );
    refused(
        &c.cli(&[&base[..], &["--system", SYSTEM, "--requirement", &failing, "--expiry", "soon"]].concat()),
        "--expiry \"soon\"",
    );
    assert_eq!(
        c.cli(
            &[
                &base[..],
                &[
                    "--system",
                    SYSTEM,
                    "--endpoint",
                    &endpoint,
                    "--requirement",
                    &failing,
                    "--expiry",
                    &date(5)
                ]
            ]
            .concat()
        )
        .code,
        2,
        "a system or an endpoint, not both"
    );

    // ---- attestations through the API ---------------------------------------------------
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let sha = sha256_hex(&bytes);
    let (s, a) = upload(&c, &root, SYSTEM, &manual, &date(200), "Quy chế ANM.pdf", &bytes).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        (a["file_sha256"].as_str(), a["state"].as_str()),
        (Some(sha.as_str()), Some("active")),
        "{a}"
    );
    let m = requirement(&c, &root, &manual).await;
    assert_eq!(
        (m["status"].clone(), m["pass"].clone(), m["manual"].clone()),
        (json!("pass"), json!(1), json!(0)),
        "{m}"
    );
    let (s, got) = download(&c, &root, &sha).await;
    assert_eq!(s, 200);
    assert!(got == bytes, "the same bytes come back");
    assert_eq!(sha256_hex(&got), sha);
    let (s, again) = upload(&c, &root, SYSTEM, &manual, &date(200), "copy.pdf", &bytes).await;
    assert_eq!((s, again["file_sha256"].as_str()), (201, Some(sha.as_str())), "{again}");
    let stored = exceptions::files_stored(&store).await.unwrap();
    assert_eq!(stored, (1, bytes.len() as i64), "uploading the same file again stores it once");
    let (s, e) = upload(&c, &root, SYSTEM, &technical, &date(200), "x.pdf", b"x").await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("requirement:"), "{e}");
    let (s, e) = upload(&c, &root, SYSTEM, &manual, &date(200), "x.pdf", b"").await;
    assert!(s == 400 && e["message"].as_str().unwrap().contains("file: is empty"), "{e}");
    let (s, e) = upload(&c, &root, SYSTEM, &manual, "next year", "x.pdf", b"x").await;
    assert!(s == 400 && e["message"].as_str().unwrap().contains("valid_until"), "{e}");
    let big = vec![7u8; exceptions::MAX_FILE_BYTES + 1];
    let (s, e) = upload(&c, &root, SYSTEM, &manual, &date(200), "big.bin", &big).await;
    assert_eq!((s, e["error"].as_str()), (413, Some("too_large")), "{e}");
    let (s, e) = download(&c, &root, &"0".repeat(64)).await;
    assert_eq!(s, 404, "{}", String::from_utf8_lossy(&e));
    // Revoking one of the two leaves the other standing.
    let (s, r) = c
        .call("POST", &root, &format!("/api/v1/attestations/{}/revoke", again["id"]), None)
        .await;
    assert_eq!((s, r["state"].as_str()), (200, Some("revoked")), "{r}");
    assert_eq!(requirement(&c, &root, &manual).await["status"], "pass");
    let (_, list) = c.get(&root, &format!("/api/v1/attestations?system={SYSTEM}")).await;
    assert_eq!(list["attestations"].as_array().unwrap().len(), 1, "{list}");
    let r = c.cli(&["attestation", "list", "--all", "--format", "json"]);
    ok(&r, "attestation list");
    assert_eq!(r.json().as_array().unwrap().len(), 2);

    // ---- a waiver through the API ------------------------------------------------------
    let (s, w) = c
        .call(
            "POST",
            &root,
            "/api/v1/waivers",
            Some(json!({"endpoint": endpoint, "requirement": failing, "reason": "r", "approver": "a", "expiry": date(3)})),
        )
        .await;
    assert_eq!((s, w["state"].as_str()), (201, Some("active")), "{w}");
    let ew = requirement(&c, &root, &failing).await;
    assert_eq!((ew["status"].clone(), ew["waived"].clone()), (json!("waived"), json!(1)), "{ew}");
    let (s, e) = c
        .call(
            "POST",
            &root,
            "/api/v1/waivers",
            Some(
                json!({"system": SYSTEM, "endpoint": endpoint, "requirement": failing, "reason": "r", "approver": "a", "expiry": date(3)}),
            ),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    let (s, r) = c.call("POST", &root, &format!("/api/v1/waivers/{}/revoke", w["id"]), None).await;
    assert_eq!((s, r["state"].as_str()), (200, Some("revoked")), "{r}");
    let (s, r) = c.call("POST", &root, &format!("/api/v1/waivers/{}/revoke", w["id"]), None).await;
    assert_eq!((s, r["error"].as_str()), (409, Some("conflict")), "{r}");

    // ---- expiry, with the library's clock against the real store -------------------------
    let now = khien_proto::Timestamp::now().unix_millis();
    let at = async |ms: i64, req: &str| {
        let c = system_compliance(&store, &policies, &system, ms).await.unwrap();
        c.requirements
            .iter()
            .find(|r| r.id == req)
            .map(|r| (r.status, r.counts.waived))
            .unwrap()
    };
    use khien_proto::Status;
    assert_eq!(at(now, &failing).await, (Status::Fail, 0), "the endpoint waiver has not started");
    assert_eq!(at(now + 11 * DAY, &failing).await, (Status::Waived, 1), "it has");
    assert_eq!(at(now + 22 * DAY, &failing).await, (Status::Fail, 0), "it has expired");
    assert_eq!(at(now, &manual).await.0, Status::Pass);
    assert_eq!(at(now + 202 * DAY, &manual).await.0, Status::Manual, "the attestation is due again");
    let ex = exceptions::for_system(&store, &system, now + 11 * DAY).await.unwrap();
    assert_eq!(ex.active_for(&failing).waivers.len(), 1);
    assert_eq!(
        ex.active_for(&failing).waivers[0].evidence().endpoint.as_deref(),
        Some(endpoint.as_str())
    );
    assert_eq!(ex.all[&failing].waivers.len(), 3, "expired and revoked ones are listed apart");
    assert_eq!(ex.active_for(&manual).attestations[0].evidence().file_sha256, sha);

    // ---- another province's key -----------------------------------------------------------
    let hn = c.apikey(Some("HN"));
    let (s, list) = c.get(&hn, "/api/v1/waivers?all=true").await;
    assert_eq!((s, list["waivers"].as_array().map(Vec::len)), (200, Some(0)), "{list}");
    let (s, list) = c.get(&hn, "/api/v1/attestations?all=true").await;
    assert_eq!((s, list["attestations"].as_array().map(Vec::len)), (200, Some(0)), "{list}");
    assert_eq!(c.get(&hn, &format!("/api/v1/waivers?system={SYSTEM}")).await.0, 403);
    assert_eq!(c.get(&hn, &format!("/api/v1/attestations?system={SYSTEM}")).await.0, 403);
    let (s, e) = c
        .call(
            "POST",
            &hn,
            "/api/v1/waivers",
            Some(json!({"system": SYSTEM, "requirement": failing, "reason": "r", "approver": "a", "expiry": date(3)})),
        )
        .await;
    assert_eq!((s, e["error"].as_str()), (403, Some("forbidden")), "{e}");
    assert_eq!(
        c.call("POST", &hn, &format!("/api/v1/waivers/{system_waiver}/revoke"), None)
            .await
            .0,
        403
    );
    assert_eq!(
        c.call("POST", &hn, &format!("/api/v1/attestations/{}/revoke", a["id"]), None)
            .await
            .0,
        403
    );
    assert_eq!(upload(&c, &hn, SYSTEM, &manual, &date(200), "x.pdf", b"x").await.0, 403);
    assert_eq!(download(&c, &hn, &sha).await.0, 403);
    let dlk = c.apikey(Some("DLK"));
    let (_, list) = c.get(&dlk, "/api/v1/waivers?all=true").await;
    assert_eq!(list["waivers"].as_array().unwrap().len(), 3, "{list}");
    assert_eq!(download(&c, &dlk, &sha).await.0, 200);

    // ---- every change is in the audit log --------------------------------------------------
    let r = c.cli(&["audit", "list", "--format", "json", "--limit", "1000"]);
    ok(&r, "audit list");
    let log = r.json();
    let mine: Vec<(String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["object_kind"] == "waiver" || r["object_kind"] == "attestation")
        .map(|r| {
            let actor = r["actor"].as_str().unwrap();
            (
                r["object_kind"].as_str().unwrap().to_string(),
                r["action"].as_str().unwrap().to_string(),
                actor.split(':').next().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("waiver", "revoke", "apikey"),
        ("waiver", "create", "apikey"),
        ("attestation", "revoke", "apikey"),
        ("attestation", "create", "apikey"),
        ("attestation", "create", "apikey"),
        ("waiver", "revoke", "cli"),
        ("waiver", "create", "cli"),
        ("waiver", "create", "cli"),
    ]
    .iter()
    .map(|(k, a, who)| (k.to_string(), a.to_string(), who.to_string()))
    .collect();
    assert_eq!(mine, expected);
    let records = log.as_array().unwrap();
    assert!(
        records
            .iter()
            .filter(|r| r["object_kind"] == "attestation")
            .all(|r| r["path"] == "/TW/DLK/" && r["after"]["file_sha256"] == sha.as_str())
    );
    assert!(
        records
            .iter()
            .filter(|r| r["actor"].as_str().unwrap().starts_with("apikey:"))
            .all(|r| r["actor"] == format!("apikey:{root_id}"))
    );
    let r = c.cli(&["audit", "list", "--org-unit", "HN", "--format", "json"]);
    ok(&r, "audit list HN");
    assert!(
        !r.stdout.contains("\"waiver\"") && !r.stdout.contains("\"attestation\""),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn exceptions_on_sqlite() {
    waivers_and_attestations(None).await;
}

#[tokio::test]
async fn exceptions_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    waivers_and_attestations(Some(pg.database("exceptions"))).await;
}

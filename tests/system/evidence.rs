//! Certification evidence packs of a running collector, on SQLite and on a
//! real PostgreSQL server: exported in every format through the CLI and the
//! API, signed with the collector's key, checked by `verify` (which refuses a
//! changed byte, an unknown key and a file without a trailer), with the
//! failing requirement and its counts inside, and scoped like the rest of the
//! API.

use khien_collector::export::{self as ex, PublicKey};
use khien_tests::collector::{Agent, Collector, https_client, sample_facts};
use khien_tests::postgres::Postgres;
use khien_tests::{Run, bin, tool};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SYSTEM: &str = "DLK-DHTN";
/// The seed's name for it: the PDF must carry its diacritics.
const SYSTEM_NAME: &str = "Hệ thống điều hành tác nghiệp";
/// Fails on the endpoint whose firewall lets inbound traffic in.
const FAILING: &str = "CH-02";
const FORMATS: [&str; 4] = ["html", "csv", "json", "pdf"];
/// Fails on both endpoints, and is waived for the system.
const WAIVED: &str = "TK-08";
/// A management requirement, attested.
const ATTESTED: &str = "QL-01";

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {}{}", r.stdout, r.stderr);
}

/// A refused command: a non-zero exit and a message containing `says`.
fn refused(r: &Run, says: &str) {
    assert_ne!(r.code, 0, "expected a refusal: {}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(says), "expected {says:?} in: {}", r.stderr);
}

/// Exports a PDF to `out`: the run, when the collector binary was built with
/// the `pdf` feature; else checks that the refusal says why.
fn export_pdf(c: &Collector, out: &str) -> Option<Run> {
    let r = c.cli(&["export", "evidence", "--system", SYSTEM, "--format", "pdf", "--output", out]);
    if r.code == 0 {
        return Some(r);
    }
    refused(&r, "built without the `pdf` feature");
    if ex::PDF_SUPPORTED {
        panic!(
            "the tests were built with khien-collector/pdf but the binary was not: \
             `cargo build --workspace --bins --features khien-collector/pdf`, then run the tests with KHIEN_PREBUILT=1"
        );
    }
    eprintln!("skipped: PDF checks (khien-collector built without the `pdf` feature; scripts/test builds it with it)");
    None
}

/// RFC 4180, enough for the export: quoted cells with `""`, commas and new lines.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    rows
}

/// Waits until the collector has the verdicts of both endpoints for the system.
async fn wait_for_verdicts(c: &Collector, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) = c.get(key, &format!("/api/v1/systems/{SYSTEM}/compliance")).await;
        assert_eq!(s, 200, "{v}");
        let ch = v["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["requirement"] == FAILING)
            .cloned();
        if v["evaluated"] == 2 && ch.as_ref().is_some_and(|r| r["fail"] == 1 && r["pass"] == 1) {
            return;
        }
        assert!(Instant::now() < deadline, "no verdicts for both endpoints: {v:#}\n{}", c.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn checks_pack_json(pack: &Value, lang: &str) {
    assert_eq!(pack["language"], lang);
    assert_eq!(pack["system"]["code"], SYSTEM);
    assert_eq!(pack["system"]["name"], SYSTEM_NAME);
    assert_eq!(pack["system"]["level"], 3);
    assert_eq!(pack["system"]["owner"]["code"], "DLK");
    assert_eq!(pack["system"]["framework"]["id"], "tcvn-14423-2026");
    assert_eq!(pack["system"]["dossier"]["decision_number"], "1520-QĐ/TU");
    assert_eq!(pack["system"]["dossier"]["decision_date"], "2026-03-16");
    assert_eq!(pack["summary"]["endpoints"], 2);
    assert_eq!(pack["summary"]["verdict"], "not_compliant");
    let r = pack["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == FAILING)
        .unwrap_or_else(|| panic!("no {FAILING} in {pack:#}"));
    assert_eq!(r["status"], "fail", "{r:#}");
    assert_eq!(
        (r["counts"]["fail"].as_u64(), r["counts"]["pass"].as_u64()),
        (Some(1), Some(1)),
        "{r:#}"
    );
    let title = if lang == "vi" {
        "Tường lửa của hệ điều hành được bật, mặc định chặn kết nối đến"
    } else {
        "Host firewall on, denying inbound traffic by default"
    };
    assert_eq!(r["title"], title);
    let items = r["evidence"].as_array().unwrap();
    let failing = items
        .iter()
        .find(|i| i["endpoint"] == "dlk-pc-02")
        .unwrap_or_else(|| panic!("no evidence of the failing endpoint: {r:#}"));
    assert_eq!(failing["status"], "fail");
    assert_eq!(failing["observed"]["inbound_default_deny"], false, "{failing:#}");
    assert!(!failing["expected"].as_str().unwrap().is_empty());
    assert!(
        failing["message"].as_str().is_some_and(|m| !m.is_empty()),
        "the remediation: {failing:#}"
    );
    assert!(failing["reported_at"].as_str().is_some());
    assert!(
        items.iter().any(|i| i["status"] == "pass" && i["endpoint"] == "dlk-pc-01"),
        "a passing example: {r:#}"
    );

    let req = |id: &str| {
        pack["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap()
    };
    let waived = req(WAIVED);
    assert_eq!(waived["status"], "waived", "{waived:#}");
    assert_eq!(waived["waivers"][0]["approver"], "Chánh Văn phòng Tỉnh ủy", "{waived:#}");
    assert!(
        waived["evidence"].as_array().unwrap().iter().any(|i| i["status"] == "fail"),
        "what the waiver covers stays in the evidence: {waived:#}"
    );
    let attested = req(ATTESTED);
    assert_eq!(attested["attestations"][0]["attested_by"], "Trần Thị Hồng Nhung", "{attested:#}");
    assert_eq!(attested["attestations"][0]["file_name"], "quy-che.pdf");
}

fn checks_csv(text: &str) {
    let rows = csv_rows(text);
    assert!(
        rows.last().is_some_and(|r| r[0].starts_with("# khien-signature v1 ")),
        "the trailer is the last line"
    );
    let row = rows
        .iter()
        .find(|r| r.get(4).map(String::as_str) == Some(FAILING) && r.get(15).map(String::as_str) == Some("dlk-pc-02"))
        .unwrap_or_else(|| panic!("no {FAILING} row for dlk-pc-02 in:\n{text}"));
    assert_eq!(row[0], SYSTEM);
    assert_eq!(row[1], SYSTEM_NAME);
    assert_eq!(row[8], "Không đạt", "the requirement's status: {row:?}");
    // Counts, in the order pass, fail, error, manual, waived, not applicable.
    assert_eq!(&row[9..15], ["1", "1", "0", "0", "0", "0"], "{row:?}");
    assert_eq!(row[17], "Không đạt", "the endpoint's status: {row:?}");
}

fn pdf_text(path: &Path) -> Option<String> {
    tool("pdftotext")?;
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Flips one byte in the middle of a copy of `path`.
fn tampered(path: &Path) -> PathBuf {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    let out = path.with_extension(format!("tampered.{}", path.extension().unwrap().to_str().unwrap()));
    std::fs::write(&out, bytes).unwrap();
    out
}

async fn evidence_packs(database: Option<String>) {
    let c = Collector::with_demo(database);
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();

    // Two members of Đắk Lắk's level-3 system; the second lets inbound traffic in.
    let token = c.token("DLK", &[SYSTEM], 2, "1h");
    let good = Agent::enroll(&token, "");
    let bad = Agent::enroll(&token, "");
    assert_eq!(good.raw(&c.url()).send_full(1, &sample_facts("dlk-pc-01")).await.status, 200);
    let mut facts = sample_facts("dlk-pc-02");
    facts.firewall.inbound_default_deny = false;
    assert_eq!(bad.raw(&c.url()).send_full(1, &facts).await.status, 200);
    let root = c.apikey(None);
    wait_for_verdicts(&c, &root).await;

    // An approved exception and an attestation, which the pack lists.
    let r = c.cli(&[
        "waiver",
        "create",
        "--system",
        SYSTEM,
        "--requirement",
        WAIVED,
        "--reason",
        "Máy chủ thư mục triển khai theo kế hoạch quý I/2027",
        "--approver",
        "Chánh Văn phòng Tỉnh ủy",
        "--expiry",
        "2099-12-31",
    ]);
    ok(&r, "waiver create");
    std::fs::write(path("quy-che.pdf"), "biên bản").unwrap();
    let r = c.cli(&[
        "attest",
        "--system",
        SYSTEM,
        "--requirement",
        ATTESTED,
        "--by",
        "Trần Thị Hồng Nhung",
        "--file",
        &path("quy-che.pdf"),
        "--valid-for",
        "30d",
    ]);
    ok(&r, "attest");

    let r = c.cli(&["export", "public-key"]);
    ok(&r, "export public-key");
    let key_hex = r.stdout.trim().to_string();
    let key = ex::parse_public_key(&key_hex).unwrap_or_else(|| panic!("not a key: {key_hex:?}"));
    assert_eq!(ex::public_key_hex(&key), key_hex);
    std::fs::write(path("collector.pub"), format!("{key_hex}\n")).unwrap();
    // A PDF takes seconds to typeset in a debug build: one through the CLI, one through the API.
    let mut pdf_run = export_pdf(&c, &path("pack.pdf"));
    let pdf = pdf_run.is_some();

    // Every format through the CLI; `verify` takes each, and refuses each with one byte changed.
    for format in FORMATS {
        if format == "pdf" && !pdf {
            continue;
        }
        let file = path(&format!("pack.{format}"));
        let r = match pdf_run.take_if(|_| format == "pdf") {
            Some(r) => r,
            None => c.cli(&["export", "evidence", "--system", SYSTEM, "--format", format, "--output", &file]),
        };
        ok(&r, &format!("export {format}"));
        let bytes = std::fs::read(&file).unwrap();
        assert!(r.stdout.contains(&file), "the path: {}", r.stdout);
        assert!(
            r.stdout.contains(&khien_proto::report::sha256_hex(&bytes)),
            "the SHA-256: {}",
            r.stdout
        );

        let v = c.cli(&["verify", &file]);
        ok(&v, &format!("verify {format}"));
        assert!(v.stdout.contains(&format!("format  {format}")), "{}", v.stdout);
        assert!(v.stdout.contains(&key_hex), "the key: {}", v.stdout);
        let checked = ex::verify(&bytes, &[key]).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert!(v.stdout.contains(&checked.sha256), "the digest: {}", v.stdout);
        // A certifier holds only the public key, as hex or in a file.
        ok(&c.cli(&["verify", &file, "--public-key", &key_hex]), "verify with the key in hex");
        ok(
            &c.cli(&["verify", &file, "--public-key", &path("collector.pub")]),
            "verify with the key file",
        );

        let changed = tampered(Path::new(&file));
        refused(&c.cli(&["verify", changed.to_str().unwrap()]), "changed after it was signed");
        match format {
            "json" => {
                let signed: Value = serde_json::from_slice(&bytes).expect("a signed JSON export is one JSON document");
                checks_pack_json(&signed["pack"], "vi");
            }
            "csv" => checks_csv(std::str::from_utf8(&bytes).unwrap()),
            "html" => {
                let html = String::from_utf8(bytes).unwrap();
                assert!(html.contains(SYSTEM_NAME) && html.contains("Không đạt"), "{html}");
            }
            "pdf" => match pdf_text(Path::new(&file)) {
                Some(text) => {
                    assert!(text.contains(SYSTEM_NAME), "the system's name with its diacritics:\n{text}");
                    assert!(text.contains("Không đạt"), "{text}");
                    assert!(text.contains(FAILING), "{text}");
                }
                None => eprintln!("skipped: PDF text (pdftotext is not installed; poppler-utils, scripts/test installs it)"),
            },
            _ => unreachable!(),
        }
    }

    // A key it was not signed with, and a file that was never signed.
    let other = ring::signature::Ed25519KeyPair::from_pkcs8(
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .unwrap()
            .as_ref(),
    )
    .unwrap();
    let other_hex = ex::public_key_hex(&PublicKey::of(&other));
    refused(&c.cli(&["verify", &path("pack.json"), "--public-key", &other_hex]), "not trusted");
    std::fs::write(path("unsigned.csv"), "a,b\n1,2\n").unwrap();
    refused(&c.cli(&["verify", &path("unsigned.csv")]), "no khien-signature trailer");
    refused(&c.cli(&["verify", &path("pack.json"), "--public-key", "abc"]), "--public-key");

    // English, and the default file name in the current folder.
    let r = c.cli(&[
        "export",
        "evidence",
        "--system",
        SYSTEM,
        "--format",
        "json",
        "--lang",
        "en",
        "--output",
        &path("en.json"),
    ]);
    ok(&r, "export en");
    let signed: Value = serde_json::from_slice(&std::fs::read(path("en.json")).unwrap()).unwrap();
    checks_pack_json(&signed["pack"], "en");
    let mut cmd = Command::new(bin("khien-collector"));
    cmd.current_dir(dir.path())
        .args(["export", "evidence", "--system", SYSTEM, "--format", "html", "--data-dir"])
        .arg(&c.data);
    if let Some(db) = &c.database {
        cmd.args(["--database", db]);
    }
    let r: Run = cmd.output().unwrap().into();
    ok(&r, "export to the default file");
    let today = time::OffsetDateTime::now_utc().date();
    let name = format!("{SYSTEM}-{today}.html");
    assert!(dir.path().join(&name).is_file() && r.stdout.contains(&name), "{}", r.stdout);
    refused(
        &c.cli(&[
            "export",
            "evidence",
            "--system",
            "NO-SUCH",
            "--format",
            "json",
            "--output",
            &path("x.json"),
        ]),
        "no system NO-SUCH",
    );
    refused(
        &c.cli(&["export", "evidence", "--system", SYSTEM, "--format", "docx"]),
        "unknown format",
    );

    // The API: signed bytes with their type and file name, for keys that may see the system.
    let client = https_client(&c.ca_pem(), None);
    let get = async |key: &str, query: &str| {
        let resp = client
            .get(format!("{}/api/v1/systems/{SYSTEM}/evidence{query}", c.url()))
            .bearer_auth(key)
            .send()
            .await
            .expect("GET evidence");
        let status = resp.status().as_u16();
        let header = |h: &str| resp.headers().get(h).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let (ctype, disposition) = (header("content-type"), header("content-disposition"));
        (status, ctype, disposition, resp.bytes().await.unwrap().to_vec())
    };
    let dlk = c.apikey(Some("DLK"));
    for format in FORMATS {
        let (status, ctype, disposition, body) = get(&dlk, &format!("?format={format}&lang=vi")).await;
        if format == "pdf" && !pdf {
            assert_eq!(status, 501, "{}", String::from_utf8_lossy(&body));
            assert!(String::from_utf8_lossy(&body).contains("`pdf` feature"));
            continue;
        }
        assert_eq!(status, 200, "{format}: {}", String::from_utf8_lossy(&body));
        let expected_type = match format {
            "html" => "text/html; charset=utf-8",
            "csv" => "text/csv; charset=utf-8",
            "json" => "application/json",
            _ => "application/pdf",
        };
        assert_eq!(ctype, expected_type);
        assert_eq!(disposition, format!("attachment; filename=\"{SYSTEM}-{today}.{format}\""));
        let checked = ex::verify(&body, &[key]).unwrap_or_else(|e| panic!("{format} from the API: {e}"));
        assert_eq!(checked.format.as_str(), format);
        let file = path(&format!("api.{format}"));
        std::fs::write(&file, &body).unwrap();
        ok(&c.cli(&["verify", &file, "--public-key", &key_hex]), "verify an API export");
        refused(
            &c.cli(&["verify", tampered(Path::new(&file)).to_str().unwrap()]),
            "changed after it was signed",
        );
        match format {
            "json" => checks_pack_json(&serde_json::from_slice::<Value>(&body).unwrap()["pack"], "vi"),
            "csv" => checks_csv(std::str::from_utf8(&body).unwrap()),
            "pdf" => {
                if let Some(text) = pdf_text(Path::new(&file)) {
                    assert!(text.contains(SYSTEM_NAME) && text.contains("Không đạt"), "{text}");
                }
            }
            _ => {}
        }
    }
    let (status, _, _, body) = get(&root, "?format=json&lang=en").await;
    assert_eq!(status, 200);
    checks_pack_json(&serde_json::from_slice::<Value>(&body).unwrap()["pack"], "en");
    let (status, _, _, body) = get(&root, "").await;
    assert_eq!(status, 200, "HTML in Vietnamese by default");
    assert!(String::from_utf8_lossy(&body).contains("Không đạt"));

    // Another province's key, an unknown system, a bad format.
    let hn = c.apikey(Some("HN"));
    let (status, _, _, body) = get(&hn, "?format=json").await;
    let e: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!((status, e["error"].as_str()), (403, Some("forbidden")), "{e}");
    let (s, e) = c.get(&root, "/api/v1/systems/NO-SUCH/evidence?format=json").await;
    assert_eq!((s, e["error"].as_str()), (404, Some("not_found")), "{e}");
    let (s, e) = c.get(&root, &format!("/api/v1/systems/{SYSTEM}/evidence?format=docx")).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid")), "{e}");
    let (s, e) = c.get(&root, &format!("/api/v1/systems/{SYSTEM}/evidence?lang=fr")).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid")), "{e}");
    let (s, _) = c.get("not-a-key", &format!("/api/v1/systems/{SYSTEM}/evidence")).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn evidence_packs_on_sqlite() {
    evidence_packs(None).await;
}

#[tokio::test]
async fn evidence_packs_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    evidence_packs(Some(pg.database("evidence"))).await;
}

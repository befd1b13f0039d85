//! A real `khien-collector serve` on a loopback port, and agents enrolled with
//! it: through the real `khien-agent` binary, or as raw clients that send
//! hand-made (and deliberately wrong) requests over the same mutual TLS.

use crate::{Run, bin};
use khien_proto::facts::Facts;
use khien_proto::report::{Report, facts_digest, sign};
use khien_proto::{Timestamp, facts::FACTS_SCHEMA};
use ring::signature::Ed25519KeyPair;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Collector {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub port: u16,
    /// `None` for the embedded SQLite.
    pub database: Option<String>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Collector {
    pub fn start(database: Option<String>) -> Collector {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut c = Collector {
            data,
            port: free_port(),
            database,
            child: None,
            dir,
        };
        c.spawn();
        c
    }

    /// Starts the collector and loads `seeds/demo.toml`.
    pub fn with_demo(database: Option<String>) -> Collector {
        let c = Collector::start(database);
        let r = c.cli(&["seed", crate::workspace().join("seeds/demo.toml").to_str().expect("utf-8 path")]);
        assert_eq!(r.code, 0, "seed failed: {}", r.stderr);
        c
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("collector.log"))
            .expect("log file");
        let mut cmd = Command::new(bin("khien-collector"));
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(&self.data)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log));
        if let Some(db) = &self.database {
            cmd.args(["--database", db]);
        }
        self.child = Some(cmd.spawn().expect("starting khien-collector"));
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.data.join("ca.crt").exists() && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("khien-collector exited with {status}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("khien-collector did not listen within 60 s:\n{}", self.log());
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("collector.log")).unwrap_or_default()
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.data.join("ca.crt")).expect("ca.crt")
    }

    /// Runs a `khien-collector` command on this data folder (and database).
    pub fn cli(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(bin("khien-collector"));
        cmd.args(args).arg("--data-dir").arg(&self.data);
        if let Some(db) = &self.database {
            cmd.args(["--database", db]);
        }
        cmd.output().expect("running khien-collector").into()
    }

    /// A token (the last line of `token create`).
    pub fn token(&self, org_unit: &str, systems: &[&str], uses: u32, expires: &str) -> String {
        let mut args = vec!["token", "create", "--org-unit", org_unit, "--expires", expires];
        let uses = uses.to_string();
        args.extend(["--uses", &uses]);
        for s in systems {
            args.extend(["--system", s]);
        }
        let r = self.cli(&args);
        assert_eq!(r.code, 0, "token create failed: {}", r.stderr);
        r.stdout.lines().last().expect("token line").to_string()
    }

    /// Dashboard accounts with one password: (username, role, org unit).
    pub fn users(&self, password: &str, users: &[(&str, &str, Option<&str>)]) {
        let pw = self.dir.path().join("dashboard.pw");
        std::fs::write(&pw, format!("{password}\n")).expect("write the password file");
        let pw = pw.to_str().expect("utf-8 path");
        for (user, role, unit) in users {
            let mut args = vec!["user", "create", user, "--role", role, "--password-file", pw];
            if let Some(u) = unit {
                args.extend(["--org-unit", u]);
            }
            let r = self.cli(&args);
            assert_eq!(r.code, 0, "user create {user}: {}", r.stderr);
        }
    }

    pub fn apikey(&self, org_unit: Option<&str>) -> String {
        let mut args = vec!["apikey", "create"];
        if let Some(o) = org_unit {
            args.extend(["--org-unit", o]);
        }
        let r = self.cli(&args);
        assert_eq!(r.code, 0, "apikey create failed: {}", r.stderr);
        r.stdout.lines().last().expect("key line").to_string()
    }

    /// GET with a bearer key; returns the status and the JSON body.
    pub async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        let client = https_client(&self.ca_pem(), None);
        let resp = client
            .get(format!("{}{path}", self.url()))
            .bearer_auth(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A request with a bearer key and an optional JSON body; returns the status and the JSON body.
    pub async fn call(&self, method: &str, key: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let client = https_client(&self.ca_pem(), None);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut req = client.request(method.clone(), format!("{}{path}", self.url())).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Stops it as a service manager does (SIGTERM) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::stop_process(&mut child, "TERM", Duration::from_secs(30));
        }
    }

    /// Kills it without warning (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, data folder and database.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The collector's database, for checks a client cannot make.
    pub async fn store(&self) -> khien_collector::store::Store {
        let url = self
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data.join("khien.db").display()));
        khien_collector::store::Store::connect(&url)
            .await
            .expect("open the collector's store")
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn https_client(ca_pem: &str, identity: Option<(&str, &str)>) -> reqwest::Client {
    let tls = khien_tls::client_config(ca_pem, identity).expect("TLS client configuration");
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// A machine enrolled through the real `khien-agent`, with its own state folder.
pub struct Agent {
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
    pub config: PathBuf,
}

impl Agent {
    /// Enrolls with `token`; `config` is extra agent.toml text (e.g. `[report]` settings).
    pub fn enroll(token: &str, config: &str) -> Agent {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let cfg = dir.path().join("agent.toml");
        std::fs::write(&cfg, config).expect("agent.toml");
        let agent = Agent { state, config: cfg, dir };
        let r = agent.run(&["enroll", "--token", token]);
        assert_eq!(r.code, 0, "enroll failed: {}{}", r.stdout, r.stderr);
        agent
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("khien-agent"));
        cmd.arg("--config").arg(&self.config).args(args).arg("--state-dir").arg(&self.state);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("running khien-agent").into()
    }

    pub fn id(&self) -> String {
        let e: Value = serde_json::from_str(&std::fs::read_to_string(self.state.join("enrollment.json")).expect("enrollment.json"))
            .expect("enrollment JSON");
        e["agent_id"].as_str().expect("agent id").to_string()
    }

    pub fn status(&self) -> Value {
        let r = self.run(&["status", "--format", "json"]);
        r.json()
    }

    /// A raw client with this agent's identity, for hand-made requests.
    pub fn raw(&self, url: &str) -> RawAgent {
        RawAgent::from_state(&self.state, url)
    }
}

/// Sends reports built by the test, signed (or not) with the agent's key.
pub struct RawAgent {
    pub agent_id: String,
    pub key: Ed25519KeyPair,
    pub client: reqwest::Client,
    pub url: String,
}

pub struct Response {
    pub status: u16,
    pub body: Value,
}

impl RawAgent {
    pub fn from_state(state: &Path, url: &str) -> RawAgent {
        let read = |n: &str| std::fs::read_to_string(state.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
        let enrollment: Value = serde_json::from_str(&read("enrollment.json")).expect("enrollment JSON");
        let key = Ed25519KeyPair::from_pkcs8(&std::fs::read(state.join("signing.pk8")).expect("signing.pk8")).expect("Ed25519 key");
        RawAgent {
            agent_id: enrollment["agent_id"].as_str().expect("agent id").to_string(),
            key,
            client: https_client(&read("ca.crt"), Some((&read("tls.crt"), &read("tls.key")))),
            url: url.to_string(),
        }
    }

    /// A report body; with `facts`, a full one.
    pub fn report(&self, seq: u64, facts: Option<&Facts>) -> Vec<u8> {
        let digest = facts.map(facts_digest).unwrap_or_default();
        serde_json::to_vec(&Report {
            agent_id: self.agent_id.clone(),
            seq,
            collected_at: Timestamp::now().truncate_to_seconds(),
            agent_version: "test".into(),
            policy_digest: String::new(),
            facts_digest: digest,
            facts: facts.cloned(),
            evaluation: None,
        })
        .expect("report JSON")
    }

    pub fn sign(&self, body: &[u8]) -> String {
        sign(&self.key, body)
    }

    pub async fn send(&self, body: Vec<u8>, signature: Option<&str>) -> Response {
        let mut req = self
            .client
            .post(format!("{}/api/v1/reports", self.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = signature {
            req = req.header(khien_proto::report::SIGNATURE_HEADER, s);
        }
        let resp = req.send().await.expect("sending the report");
        Response {
            status: resp.status().as_u16(),
            body: resp.json().await.unwrap_or(Value::Null),
        }
    }

    /// Sends a signed full report.
    pub async fn send_full(&self, seq: u64, facts: &Facts) -> Response {
        let body = self.report(seq, Some(facts));
        let sig = self.sign(&body);
        self.send(body, Some(&sig)).await
    }
}

/// Plausible facts without touching the machine: a workstation with ClamAV
/// running and a default-deny firewall.
pub fn sample_facts(hostname: &str) -> Facts {
    let mut f = Facts {
        schema: FACTS_SCHEMA,
        collected_at: Timestamp::now().truncate_to_seconds(),
        ..Facts::default()
    };
    f.host.hostname = hostname.to_string();
    f.host.machine_id = Some("0123456789abcdef0123456789abcdef".into());
    f.firewall.enabled = true;
    f.firewall.inbound_default_deny = true;
    f.antivirus.products.push(khien_proto::facts::AvProduct {
        id: "clamav".into(),
        name: "ClamAV".into(),
        installed: true,
        running: true,
        reachable: Some(true),
        realtime: Some(true),
        auto_update: Some(true),
        signature_version: Some("27830".into()),
        signature_time: Timestamp::from_unix(Timestamp::now().unix() - 3600),
        ..Default::default()
    });
    f.network.interfaces.push(khien_proto::facts::Interface {
        name: "eth0".into(),
        mac: Some("52:54:00:00:00:01".into()),
        up: true,
        kind: "ethernet".into(),
        ..Default::default()
    });
    f
}

//! Nothing is lost and nothing is stored twice: a collector that stops or is
//! killed mid-load, an agent killed while it writes its spool.

use khien_tests::collector::{Agent, Collector};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A fake machine whose facts the test controls: the agent reads its files under this root.
fn fake_root(dir: &Path, version: u32) {
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("proc/sys/kernel")).unwrap();
    std::fs::write(dir.join("proc/sys/kernel/hostname"), "fake-pc\n").unwrap();
    std::fs::write(dir.join("etc/machine-id"), "0123456789abcdef0123456789abcdef\n").unwrap();
    std::fs::write(
        dir.join("etc/os-release"),
        format!("ID=debian\nVERSION_ID=\"12.{version}\"\nPRETTY_NAME=\"Debian 12.{version}\"\n"),
    )
    .unwrap();
}

fn agent_on_fake_root(c: &Collector, root: &Path) -> Agent {
    fake_root(root, 0);
    let token = c.token("DLK", &["DLK-DHTN"], 1, "1h");
    Agent::enroll(
        &token,
        &format!(
            "[report]\ninterval_secs = 1\ndebounce_ms = 100\n[probe]\nroot = \"{}\"\n",
            root.display()
        ),
    )
}

fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting until {what}");
}

fn interrupt(child: &mut Child) {
    khien_tests::stop_process(child, "INT", Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_wait_in_the_spool_while_the_collector_is_down_and_arrive_once() {
    let mut c = Collector::with_demo(None);
    let root = c.dir.path().join("machine");
    let agent = agent_on_fake_root(&c, &root);
    let mut run = agent.command(&["run"]).spawn().unwrap();
    wait_until("the first reports are acknowledged", Duration::from_secs(30), || {
        agent.status()["acked_seq"].as_u64().unwrap() >= 2
    });

    c.stop();
    // While the collector is down the machine changes twice: full reports pile up with the heartbeats.
    for v in 1..=2 {
        fake_root(&root, v);
        std::thread::sleep(Duration::from_millis(1500));
    }
    let status = agent.status();
    assert!(status["spool_reports"].as_u64().unwrap() >= 2, "{status:#}");
    assert!(status["last_error"].is_string(), "{status:#}");

    c.restart();
    wait_until("the spool is empty", Duration::from_secs(60), || {
        agent.status()["spool_reports"] == 0
    });
    interrupt(&mut run);

    let status = agent.status();
    let store = c.store().await;
    let id = agent.id();
    // Heartbeats reach the database within a second of their acknowledgement.
    let acked = status["acked_seq"].as_i64().unwrap();
    let mut last_seq = 0;
    for _ in 0..50 {
        last_seq = store.endpoint(&id).await.unwrap().unwrap().0.last_seq;
        if last_seq == acked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last_seq, acked, "the collector has the last acknowledged report");
    assert_eq!(
        store.count_reports(&id).await.unwrap() as u64,
        status["full_reports"].as_u64().unwrap(),
        "every report with facts stored exactly once: {status:#}"
    );
    assert!(status["full_reports"].as_u64().unwrap() >= 3, "{status:#}");
    assert_eq!(status["quarantined"], 0);
    assert_eq!(status["dropped"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_killed_during_load_keeps_every_acknowledged_report_once() {
    let mut c = Collector::with_demo(None);
    let token = c.token("DLK", &["DLK-DHTN"], 20, "1h");
    let log = c.dir.path().join("acked.log");
    let load = Command::new(khien_tests::bin("khien-loadgen"))
        .args([
            "--token",
            &token,
            "--agents",
            "8",
            "--seconds",
            "8",
            "--changed-ratio",
            "0.5",
            "--no-bare",
            "--tolerate-errors",
        ])
        .arg("--acked-log")
        .arg(&log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("reports flow", Duration::from_secs(60), || {
        std::fs::read_to_string(&log).map(|l| l.lines().count() > 50).unwrap_or(false)
    });
    c.kill();
    std::thread::sleep(Duration::from_millis(500));
    c.restart();
    let out = load.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "loadgen: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // agent → the sequence numbers of reports with facts the collector acknowledged.
    let mut acked: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let mut heartbeats = 0;
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [agent, seq, "full", _] => {
                acked.entry(agent.to_string()).or_default().insert(seq.parse().unwrap());
            }
            [_, _, "heartbeat", _] => heartbeats += 1,
            other => panic!("unexpected log line {other:?}"),
        }
    }
    assert!(
        heartbeats > 0 && acked.values().map(BTreeSet::len).sum::<usize>() > 20,
        "too little load to test anything"
    );
    let store = c.store().await;
    for (agent, seqs) in &acked {
        for seq in seqs {
            assert!(
                store.report_exists(agent, *seq).await.unwrap(),
                "acknowledged report {agent}/{seq} was lost"
            );
        }
        assert_eq!(
            store.count_reports(agent).await.unwrap() as usize,
            seqs.len(),
            "{agent}: stored reports differ from acknowledged ones (a report stored twice, or one stored but never acknowledged)"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_killed_while_writing_its_spool_leaves_it_readable() {
    let mut c = Collector::with_demo(None);
    let root = c.dir.path().join("machine");
    let agent = agent_on_fake_root(&c, &root);
    // With the collector down every report stays in the spool: each run writes to it.
    c.stop();
    let mut seed = std::process::id() as u64;
    for round in 0..12u32 {
        fake_root(&root, round);
        let mut run = agent
            .command(&["run"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(50 + (seed >> 33) % 400));
        let _ = run.kill();
        let _ = run.wait();
    }
    let before: Value = agent.status();
    assert!(before["spool_reports"].as_u64().unwrap() > 0, "{before:#}");

    c.restart();
    let r = agent.run(&["run", "--once"]);
    assert_eq!(r.code, 0, "the spool must still be readable and sendable: {}{}", r.stdout, r.stderr);
    let after = agent.status();
    assert_eq!(after["spool_reports"], 0, "{after:#}");
    assert_eq!(after["quarantined"], 0, "a kill must never leave a corrupt report: {after:#}");
    let leftovers: Vec<_> = std::fs::read_dir(agent.state.join("spool/tmp"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "temp files were cleaned up");
}

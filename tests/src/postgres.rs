//! A throwaway PostgreSQL server for one test: a cluster made by `initdb` in a
//! temporary folder, listening only on a Unix socket in that folder and on
//! 127.0.0.1 at a free port, stopped and deleted when the test ends.
//!
//! nextest runs every test in a process of its own, so one server cannot be
//! shared by the tests of a binary: each test that needs a database starts its
//! own, which is why starting is kept fast (1.4–2.3 s on 2 cores, mostly `initdb --no-sync`; and
//! the server runs with `fsync=off`, `synchronous_commit=off` and
//! `full_page_writes=off`; these settings lose data on a crash and are for
//! tests only, never for a production server).
//!
//! Like production, the application connects over TCP as a role of its own
//! (`khien`, not a superuser) with a password checked by SCRAM; the Unix
//! socket trusts local users and is used only by the harness itself, as the
//! superuser `postgres`, to create databases.
//!
//! `initdb` and `postgres` refuse to run as root, so as root they run as the
//! `postgres` system user (through `runuser`), which owns the folder.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The application role that database URLs connect as.
pub const ROLE: &str = "khien";
/// The superuser, reachable only through the Unix socket.
const SUPERUSER: &str = "postgres";

/// A PostgreSQL cluster in a temporary folder, listening only on a Unix socket in that folder
/// and on 127.0.0.1:<free port>, stopped and deleted on Drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    psql: PathBuf,
    /// The `postgres` system user's uid and gid when running as root.
    run_as: Option<(u32, u32)>,
    port: u16,
    password: String,
    databases: AtomicU32,
}

impl Postgres {
    /// Starts one; returns None (after printing "skipped: ...") when the server binaries are missing.
    pub fn start() -> Option<Postgres> {
        let began = Instant::now();
        let Some(bin) = server_bindir() else {
            eprintln!("skipped: PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed");
            return None;
        };
        let psql = [bin.join("psql")].into_iter().find(|p| p.is_file()).or_else(|| crate::tool("psql"));
        let Some(psql) = psql else {
            eprintln!("skipped: `psql` is not installed");
            return None;
        };
        let run_as = if crate::is_root() {
            let Some(ids) = system_user(SUPERUSER) else {
                eprintln!("skipped: running as root, and there is no `postgres` user to run the server as");
                return None;
            };
            if crate::tool("runuser").is_none() {
                eprintln!("skipped: running as root, and `runuser` is not installed");
                return None;
            }
            Some(ids)
        } else {
            None
        };

        // The socket path (<dir>/.s.PGSQL.<port>) must fit in sun_path (108 bytes).
        let mut builder = tempfile::Builder::new();
        builder.prefix("khien-pg-");
        let dir = if std::env::temp_dir().as_os_str().len() > 60 {
            builder.tempdir_in("/tmp")
        } else {
            builder.tempdir()
        }
        .expect("tempdir");
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown tempdir to postgres");
        }

        let mut pg = Postgres {
            dir,
            bin,
            psql,
            run_as,
            port: 0,
            password: random_hex(),
            databases: AtomicU32::new(0),
        };
        pg.initdb();
        // From here on Drop stops whatever was started, even if starting panics.
        let mut failure = String::new();
        for _attempt in 0..2 {
            pg.port = free_port();
            let out = pg
                .server_command("pg_ctl")
                .args(pg.start_args())
                .output()
                .expect("running pg_ctl start");
            if out.status.success() {
                failure.clear();
                break;
            }
            // Most likely another process took the port between our probe and the bind: retry once.
            failure = format!(
                "pg_ctl start on port {} failed: {}{}\nserver log:\n{}",
                pg.port,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(pg.log_path()).unwrap_or_default()
            );
        }
        assert!(failure.is_empty(), "{failure}");

        pg.superuser_sql(&format!(
            "CREATE ROLE {ROLE} LOGIN PASSWORD '{}'",
            pg.password // hex only: nothing to escape
        ));
        eprintln!(
            "postgres: ready on 127.0.0.1:{} in {:.2} s ({})",
            pg.port,
            began.elapsed().as_secs_f64(),
            pg.dir.path().display()
        );
        Some(pg)
    }

    /// A database created fresh for the caller (unique name), owned by `khien`, returned as a
    /// URL usable by sqlx: `postgres://khien:<password>@127.0.0.1:<port>/<db>`.
    pub fn database(&self, name_hint: &str) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = database_name(name_hint, n);
        self.superuser_sql(&format!("CREATE DATABASE \"{name}\" OWNER {ROLE}"));
        format!("postgres://{ROLE}:{}@127.0.0.1:{}/{name}", self.password, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary folder: the cluster is in `data/`, the server log in `postgres.log`,
    /// the Unix socket in the folder itself.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn initdb(&self) {
        let attempt = |locale: &str| -> Output {
            self.server_command("initdb")
                .arg("-D")
                .arg(self.data_dir())
                .args([
                    "--username",
                    SUPERUSER,
                    "--encoding=UTF8",
                    locale,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    // Test-only: skips flushing the new cluster to disk.
                    "--no-sync",
                    "--no-instructions",
                ])
                .output()
                .expect("running initdb")
        };
        // C.UTF-8 classifies Vietnamese letters (upper/lower); plain C is the fallback where it is missing.
        let mut out = attempt("--locale=C.UTF-8");
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(self.data_dir());
            out = attempt("--no-locale");
        }
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start_args(&self) -> Vec<String> {
        let options = format!(
            "-k {} -p {} -c listen_addresses=127.0.0.1 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off", // test-only: unsafe on a crash
            shell_quote(&self.dir.path().to_string_lossy()),
            self.port
        );
        vec![
            "-D".into(),
            self.data_dir().to_string_lossy().into_owned(),
            "-l".into(), // also keeps the server off our pipes, so `output()` returns
            self.log_path().to_string_lossy().into_owned(),
            "-o".into(),
            options,
            "-w".into(),
            "-t".into(),
            "30".into(),
            "start".into(),
        ]
    }

    /// A server binary, run as the `postgres` user when we are root.
    fn server_command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        let mut cmd = if self.run_as.is_some() {
            let mut c = Command::new("runuser");
            c.args(["-u", SUPERUSER, "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        self.clean(&mut cmd);
        cmd
    }

    /// Keeps the caller's PG* variables (PGHOST, PGSSLMODE, ...) out of the harness's commands,
    /// and runs them from the temporary folder, which the `postgres` user can read.
    fn clean(&self, cmd: &mut Command) {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                cmd.env_remove(key);
            }
        }
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
    }

    /// Runs SQL as the superuser through the Unix socket (trusted), and asserts it succeeded.
    fn superuser_sql(&self, sql: &str) {
        let mut cmd = Command::new(&self.psql);
        self.clean(&mut cmd);
        let out = cmd
            .args(["-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER, "-d", "postgres", "-c", sql])
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Immediate: nothing needs to survive; the postmaster still waits for its children,
        // and `-w` waits for the postmaster, so no process is left when the folder goes.
        if self.data_dir().join("postmaster.pid").exists() {
            let _ = self
                .server_command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "-w", "-t", "30", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // The TempDir field then deletes the folder.
    }
}

/// The folder with initdb, pg_ctl and postgres: `pg_config --bindir`, else the highest
/// /usr/lib/postgresql/<version>/bin, else the folder on PATH holding them.
fn server_bindir() -> Option<PathBuf> {
    let complete = |d: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|b| d.join(b).is_file());
    let from_pg_config = crate::tool("pg_config")
        .and_then(|pg_config| Command::new(pg_config).arg("--bindir").stderr(Stdio::null()).output().ok())
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|d| complete(d));
    if from_pg_config.is_some() {
        return from_pg_config;
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, d)| complete(d))
        .collect();
    versions.sort();
    if let Some((_, d)) = versions.pop() {
        return Some(d);
    }
    crate::tool("initdb")
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| complete(d))
}

/// uid and gid of a system user, from /etc/passwd.
fn system_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

/// A port that was free a moment ago on 127.0.0.1 (the caller retries if it is taken meanwhile).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A valid, unquoted-safe identifier from a hint: lowercase ASCII letters, digits and `_`,
/// starting with a letter, at most 63 bytes with the counter.
fn database_name(hint: &str, n: u32) -> String {
    let mut name: String = hint
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .take(40)
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert_str(0, "db_");
    }
    format!("{name}_{n}")
}

/// 32 hex digits, different for every call and process.
fn random_hex() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (0..2)
        .map(|i| {
            let mut h = RandomState::new().build_hasher();
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            h.write_u32(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    fn psql(url: &str, sql: &str) -> Output {
        let mut cmd = Command::new(crate::tool("psql").expect("psql"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                cmd.env_remove(key);
            }
        }
        cmd.env("PGPASSFILE", "/dev/null")
            .env("PGCONNECT_TIMEOUT", "10")
            .args(["-X", "-q", "-w", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("running psql")
    }

    #[test]
    fn names_are_identifiers() {
        assert_eq!(database_name("Thử nghiệm-1", 0), "th__nghi_m_1_0");
        assert_eq!(database_name("9lives", 3), "db_9lives_3");
        assert_eq!(database_name("", 1), "db__1");
        assert!(database_name(&"x".repeat(200), u32::MAX).len() <= 63);
    }

    #[test]
    fn postgres_starts_creates_databases_and_cleans_up() {
        let began = Instant::now();
        let Some(pg) = Postgres::start() else { return };
        eprintln!("start() took {:.2} s", began.elapsed().as_secs_f64());
        let dir = pg.dir().to_path_buf();
        let port = pg.port();

        let t = Instant::now();
        let first = pg.database("Thử nghiệm");
        let second = pg.database("second");
        eprintln!("two database() calls took {:.2} s", t.elapsed().as_secs_f64());
        assert_ne!(first, second);
        let prefix = format!("postgres://khien:{}@127.0.0.1:{port}/", pg.password);
        for url in [&first, &second] {
            assert!(url.starts_with(&prefix), "{url}");
            let db = &url[prefix.len()..];
            let out = psql(url, "select current_database(), current_user, upper('khiên việt')");
            assert!(out.status.success(), "psql {url}: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{db}|khien|KHIÊN VIỆT"));
            // khien owns its database: it can create tables there.
            let out = psql(url, "create table t (x text); insert into t values ('Khiên'); select x from t");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Khiên");
        }
        // TCP checks the password (SCRAM), it does not trust.
        let wrong = first.replacen(&pg.password, "wrong", 1);
        let out = psql(&wrong, "select 1");
        assert!(!out.status.success(), "a wrong password was accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("password authentication failed"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // It is reachable at the port the URLs name.
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());

        drop(pg);
        assert!(!dir.exists(), "{} survived Drop", dir.display());
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "server still listening after Drop"
        );
    }
}

//! The collector's database: SQLite embedded by default, PostgreSQL at scale.
//!
//! One set of queries serves both engines through sqlx's `Any` driver; only the
//! migrations differ (`migrations/{sqlite,postgres}`). Conventions that keep
//! the queries portable: `$n` placeholders, `ON CONFLICT … excluded.`,
//! `RETURNING`, SMALLINT 0/1 for booleans, BIGINT unix milliseconds for times,
//! `CASE` instead of `MAX`/`GREATEST`. The register's writes (org units,
//! systems, memberships, each audited) are in `register.rs` and `audit.rs`.

use khien_proto::facts::Role;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    Url(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    pub engine: Engine,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgUnit {
    pub id: i64,
    pub code: String,
    pub parent_id: Option<i64>,
    pub name: String,
    pub default_level: u8,
    pub path: String,
    /// Set when the unit has been retired (soft: the row stays for history).
    pub retired_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct System {
    pub id: i64,
    pub code: String,
    pub org_unit_id: i64,
    pub name: String,
    pub level: u8,
    pub framework: String,
    pub retired_at: Option<i64>,
}

/// An endpoint's membership of a system, with the role it has there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub system: System,
    /// `None`: the role the endpoint reports.
    pub role: Option<Role>,
}

/// An API key: its id (named in the audit log, never its secret) and the
/// subtree path it is scoped to (`None` for the whole tree).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub scope: Option<String>,
}

/// What authenticates and orders an endpoint's reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointAuth {
    pub id: String,
    pub org_unit_id: i64,
    pub signing_key: String,
    pub last_seq: i64,
    pub facts_digest: String,
    pub revoked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenGrant {
    pub org_unit: OrgUnit,
    pub systems: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenRefusal {
    #[error("unknown enrollment token")]
    Unknown,
    #[error("the enrollment token has expired")]
    Expired,
    #[error("the enrollment token has been used as many times as it allows")]
    UsedUp,
    #[error("the enrollment token has been revoked")]
    Revoked,
    #[error("the enrollment token's org unit {0} has been retired")]
    UnitRetired(String),
}

/// An endpoint row for the API.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointRow {
    pub id: String,
    pub hostname: String,
    pub org_unit: String,
    pub effective_level: u8,
    pub last_seen: i64,
    pub last_seq: i64,
    pub facts_seq: i64,
    pub platform: String,
    pub role: String,
    pub revoked: bool,
}

/// One scope's verdict counts for an endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationRow {
    pub scope: String,
    pub framework: String,
    pub level: u8,
    pub policy_digest: String,
    pub report_seq: i64,
    pub evaluated_at: i64,
    pub compliant: bool,
    pub counts: [i64; 5],
    pub requirements: BTreeMap<String, String>,
}

/// A stored report with facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReport {
    pub seq: i64,
    pub received_at: i64,
    pub collected_at: i64,
    pub signature: String,
    pub body: Vec<u8>,
}

/// Endpoint columns refreshed from a report with facts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FactsSummary {
    pub hostname: String,
    pub platform: String,
    pub role: String,
    pub effective_level: u8,
    pub av_installed: bool,
    pub av_running: bool,
    pub av_realtime: bool,
    /// Newest signature build time of a running product, ms.
    pub av_signature_time: Option<i64>,
    pub fw_default_deny: bool,
    /// The newest completed malware scan of any product, ms.
    pub last_sweep: Option<i64>,
    /// A backup agent should report here: a server, or a backup agent is installed.
    pub backup_expected: bool,
    /// The backup agents' newest successful contact with their server, ms.
    pub backup_last: Option<i64>,
}

fn b(v: bool) -> i16 {
    i16::from(v)
}

impl Store {
    /// Connects and brings the schema up to date. `url` is `sqlite://PATH` or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            return Err(StoreError::Url(url.to_string()));
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        if engine == Engine::Sqlite {
            create_private_file(url)?;
        }
        let pool = match engine {
            Engine::Sqlite => {
                options
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets the API read while ingest writes; FULL makes an acknowledged
                            // report survive a power loss, not only a crash; the busy timeout rides
                            // out the writer's transactions.
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = FULL",
                                "PRAGMA busy_timeout = 10000",
                                "PRAGMA foreign_keys = ON",
                            ] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(&sqlite_create_url(url))
                    .await?
            }
            // Four writers (see writer.rs), the API, and ingest's lookups.
            Engine::Postgres => options.max_connections(12).connect(url).await?,
        };
        match engine {
            Engine::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await?,
            Engine::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await?,
        }
        let store = Store { pool, engine };
        crate::rollup::ensure_built(&store).await?;
        Ok(store)
    }

    /// A transaction that will write after reading. On SQLite IMMEDIATE takes
    /// the write lock at once: a deferred one would read, then fail with
    /// "busy" when it tries to write after another writer committed.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
    }

    /// [`Store::begin_write`] serialised with every other transaction that
    /// locks `table`: on SQLite the write lock does it, on PostgreSQL an
    /// EXCLUSIVE lock on the table (readers go on).
    pub async fn begin_locking(&self, table: &'static str) -> Result<Transaction<'static, Any>> {
        let mut tx = self.begin_write().await?;
        if self.engine == Engine::Postgres {
            sqlx::query(AssertSqlSafe(format!("LOCK TABLE {table} IN EXCLUSIVE MODE")))
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- organisation ------------------------------------------------------------

    /// Creates or updates a unit; its path follows its parent's. It writes no
    /// audit record: it is for throwaway stores (benchmarks); the register
    /// (`crate::register`) is how units change otherwise.
    pub async fn upsert_org_unit(&self, code: &str, parent: Option<&str>, name: &str, default_level: u8, now: i64) -> Result<OrgUnit> {
        let (parent_id, path) = match parent {
            Some(p) => {
                let parent = self
                    .org_unit(p)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("org unit {code}: parent {p} does not exist")))?;
                if parent.path.contains(&format!("/{code}/")) {
                    return Err(StoreError::Invalid(format!("org unit {code}: parent {p} is below it")));
                }
                (Some(parent.id), format!("{}{code}/", parent.path))
            }
            None => (None, format!("/{code}/")),
        };
        sqlx::query(
            "INSERT INTO org_units (code, parent_id, name, default_level, path, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (code) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name,
                 default_level = excluded.default_level, path = excluded.path",
        )
        .bind(code)
        .bind(parent_id)
        .bind(name)
        .bind(i16::from(default_level))
        .bind(&path)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.org_unit(code).await?.ok_or_else(|| StoreError::NotFound(code.to_string()))
    }

    pub async fn org_unit(&self, code: &str) -> Result<Option<OrgUnit>> {
        let row = sqlx::query("SELECT id, code, parent_id, name, default_level, path, retired_at FROM org_units WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| org_unit_from(&r)).transpose()
    }

    pub async fn org_unit_by_id(&self, id: i64) -> Result<Option<OrgUnit>> {
        let row = sqlx::query("SELECT id, code, parent_id, name, default_level, path, retired_at FROM org_units WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| org_unit_from(&r)).transpose()
    }

    pub async fn system(&self, code: &str) -> Result<Option<System>> {
        let row = sqlx::query("SELECT id, code, org_unit_id, name, level, framework, retired_at FROM systems WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| system_from(&r)).transpose()
    }

    /// The active systems an endpoint belongs to, with its role in each.
    /// Memberships of retired systems stay in the table (history) but count no more.
    pub async fn memberships(&self, endpoint_id: &str) -> Result<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT s.id, s.code, s.org_unit_id, s.name, s.level, s.framework, s.retired_at, es.role FROM systems s
             JOIN endpoint_systems es ON es.system_id = s.id
             WHERE es.endpoint_id = $1 AND s.retired_at IS NULL ORDER BY s.code",
        )
        .bind(endpoint_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Membership {
                    system: system_from(r)?,
                    role: r.try_get::<Option<String>, _>("role")?.as_deref().and_then(Role::parse),
                })
            })
            .collect()
    }

    /// The active systems an endpoint belongs to.
    pub async fn endpoint_systems(&self, endpoint_id: &str) -> Result<Vec<System>> {
        Ok(self.memberships(endpoint_id).await?.into_iter().map(|m| m.system).collect())
    }

    /// Every endpoint that has ever been made a member of a system (retired or not).
    pub async fn system_member_ids(&self, system_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT endpoint_id FROM endpoint_systems WHERE system_id = $1 ORDER BY endpoint_id")
            .bind(system_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| r.try_get("endpoint_id").map_err(StoreError::from)).collect()
    }

    /// The endpoints enrolled in an org unit itself (not its subtree).
    pub async fn unit_endpoint_ids(&self, org_unit_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM endpoints WHERE org_unit_id = $1 ORDER BY id")
            .bind(org_unit_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| r.try_get("id").map_err(StoreError::from)).collect()
    }

    // ---- enrollment ----------------------------------------------------------------

    /// Stores a token (the hash of its secret, never the secret) in the
    /// caller's transaction, so that its audit record commits with it; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_token(
        tx: &mut Transaction<'_, Any>,
        secret_hash: &str,
        org_unit_id: i64,
        systems: &[String],
        max_uses: i64,
        expires_at: i64,
        created_by: &str,
        now: i64,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO enroll_tokens (secret_hash, org_unit_id, systems, max_uses, used, expires_at, revoked, created_at, created_by)
             VALUES ($1, $2, $3, $4, 0, $5, 0, $6, $7) RETURNING id",
        )
        .bind(secret_hash)
        .bind(org_unit_id)
        .bind(serde_json::to_string(systems).unwrap_or_else(|_| "[]".into()))
        .bind(max_uses)
        .bind(expires_at)
        .bind(now)
        .bind(created_by)
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Takes one use of a token, atomically, or says why it cannot be used.
    pub async fn consume_token(
        &self,
        tx: &mut Transaction<'_, Any>,
        secret_hash: &str,
        now: i64,
    ) -> Result<Result<TokenGrant, TokenRefusal>> {
        let taken = sqlx::query(
            "UPDATE enroll_tokens SET used = used + 1
             WHERE secret_hash = $1 AND used < max_uses AND expires_at > $2 AND revoked = 0
             RETURNING org_unit_id, systems",
        )
        .bind(secret_hash)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = taken else {
            let why = sqlx::query("SELECT used, max_uses, expires_at, revoked FROM enroll_tokens WHERE secret_hash = $1")
                .bind(secret_hash)
                .fetch_optional(&mut **tx)
                .await?;
            return Ok(Err(match why {
                None => TokenRefusal::Unknown,
                Some(r) if r.try_get::<i16, _>("revoked")? != 0 => TokenRefusal::Revoked,
                Some(r) if r.try_get::<i64, _>("expires_at")? <= now => TokenRefusal::Expired,
                Some(_) => TokenRefusal::UsedUp,
            }));
        };
        let org_unit_id: i64 = row.try_get("org_unit_id")?;
        let systems: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("systems")?).unwrap_or_default();
        let unit = sqlx::query("SELECT id, code, parent_id, name, default_level, path, retired_at FROM org_units WHERE id = $1")
            .bind(org_unit_id)
            .fetch_one(&mut **tx)
            .await?;
        Ok(Ok(TokenGrant {
            org_unit: org_unit_from(&unit)?,
            systems,
        }))
    }

    /// Records a newly enrolled endpoint, its certificate and its systems.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_endpoint(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: &str,
        org_unit_id: i64,
        hostname: &str,
        signing_key: &str,
        cert_serial: &str,
        cert_not_after: i64,
        systems: &[String],
        now: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO endpoints (id, org_unit_id, hostname, signing_key, enrolled_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(org_unit_id)
            .bind(hostname)
            .bind(signing_key)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        let after = crate::rollup::snapshot(tx, self.engine, &[id], false).await?;
        crate::rollup::apply(tx, self.engine, &Default::default(), &after).await?;
        sqlx::query("INSERT INTO certificates (serial, endpoint_id, not_after) VALUES ($1, $2, $3)")
            .bind(cert_serial)
            .bind(id)
            .bind(cert_not_after * 1000)
            .execute(&mut **tx)
            .await?;
        for code in systems {
            let n = sqlx::query(
                "INSERT INTO endpoint_systems (endpoint_id, system_id) SELECT $1, id FROM systems WHERE code = $2 AND retired_at IS NULL",
            )
            .bind(id)
            .bind(code)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("system {code} does not exist or has been retired")));
            }
        }
        Ok(())
    }

    pub async fn endpoint_auth(&self, id: &str) -> Result<Option<EndpointAuth>> {
        let row = sqlx::query("SELECT id, org_unit_id, signing_key, last_seq, facts_digest, revoked FROM endpoints WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(EndpointAuth {
                id: r.try_get("id")?,
                org_unit_id: r.try_get("org_unit_id")?,
                signing_key: r.try_get("signing_key")?,
                last_seq: r.try_get("last_seq")?,
                facts_digest: r.try_get("facts_digest")?,
                revoked: r.try_get::<i16, _>("revoked")? != 0,
            })
        })
        .transpose()
    }

    /// Serials of revoked certificates.
    pub async fn revoked_serials(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT serial FROM certificates WHERE revoked_at IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| r.try_get("serial").map_err(StoreError::from)).collect()
    }

    /// Revokes an endpoint and every certificate it holds; returns the serials revoked.
    pub async fn revoke_endpoint(&self, id: &str, now: i64) -> Result<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let before = crate::rollup::snapshot(&mut tx, self.engine, &[id], true).await?;
        let n = sqlx::query("UPDATE endpoints SET revoked = 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("no endpoint {id}")));
        }
        crate::rollup::apply(&mut tx, self.engine, &before, &Default::default()).await?;
        sqlx::query("UPDATE certificates SET revoked_at = $1 WHERE endpoint_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query("SELECT serial FROM certificates WHERE endpoint_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(|r| r.try_get("serial").map_err(StoreError::from)).collect()
    }

    // ---- reports (run inside the writer's transaction) -------------------------------
    //
    // Each statement carries many rows: a batch of N reports costs a handful of
    // statements, not N times that (on PostgreSQL every statement is a round
    // trip to the server and work for its backend).

    /// Appends signed reports; returns the (endpoint, seq) pairs inserted, the
    /// others being already stored.
    pub async fn insert_reports(tx: &mut Transaction<'_, Any>, rows: &[(&str, &StoredReport)]) -> Result<HashSet<(String, i64)>> {
        let mut inserted = HashSet::new();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO reports (endpoint_id, seq, received_at, collected_at, signature, body) VALUES {}
                 ON CONFLICT (endpoint_id, seq) DO NOTHING RETURNING endpoint_id, seq",
                values(chunk.len(), 6)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for (endpoint, r) in chunk {
                q = q
                    .bind(*endpoint)
                    .bind(r.seq)
                    .bind(r.received_at)
                    .bind(r.collected_at)
                    .bind(&r.signature)
                    .bind(&r.body);
            }
            for row in q.fetch_all(&mut **tx).await? {
                inserted.insert((row.try_get("endpoint_id")?, row.try_get("seq")?));
            }
        }
        Ok(inserted)
    }

    /// Refreshes endpoints from their latest facts.
    pub async fn update_endpoints_facts(tx: &mut Transaction<'_, Any>, rows: &[FactsUpdate<'_>]) -> Result<()> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "UPDATE endpoints SET last_seen = v.column2,
                     last_seq = CASE WHEN endpoints.last_seq < v.column3 THEN v.column3 ELSE endpoints.last_seq END,
                     facts_seq = v.column3, facts_digest = v.column4, hostname = v.column5, platform = v.column6,
                     role = v.column7, effective_level = v.column8, av_installed = v.column9, av_running = v.column10,
                     av_realtime = v.column11, av_signature_time = v.column12, fw_default_deny = v.column13,
                     last_sweep = v.column14, backup_expected = v.column15, backup_last = v.column16
                 FROM (VALUES {}) AS v WHERE endpoints.id = v.column1",
                values(chunk.len(), 16)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for u in chunk {
                let s = u.summary;
                q = q
                    .bind(u.endpoint_id)
                    .bind(u.seen)
                    .bind(u.seq)
                    .bind(u.digest)
                    .bind(&s.hostname)
                    .bind(&s.platform)
                    .bind(&s.role)
                    .bind(i16::from(s.effective_level))
                    .bind(b(s.av_installed))
                    .bind(b(s.av_running))
                    .bind(b(s.av_realtime))
                    .bind(s.av_signature_time)
                    .bind(b(s.fw_default_deny))
                    .bind(s.last_sweep)
                    .bind(b(s.backup_expected))
                    .bind(s.backup_last);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Last contact from heartbeats: (endpoint, seq, seen).
    pub async fn touch_endpoints(tx: &mut Transaction<'_, Any>, rows: &[(&str, i64, i64)]) -> Result<()> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "UPDATE endpoints SET
                     last_seq = CASE WHEN endpoints.last_seq < v.column2 THEN v.column2 ELSE endpoints.last_seq END,
                     last_seen = CASE WHEN endpoints.last_seen < v.column3 THEN v.column3 ELSE endpoints.last_seen END
                 FROM (VALUES {}) AS v WHERE endpoints.id = v.column1",
                values(chunk.len(), 3)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for (endpoint, seq, seen) in chunk {
                q = q.bind(*endpoint).bind(*seq).bind(*seen);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn upsert_evaluations(tx: &mut Transaction<'_, Any>, rows: &[(&str, &EvaluationRow)]) -> Result<()> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO evaluations (endpoint_id, scope, framework, level, policy_digest, report_seq, evaluated_at, compliant,
                     n_pass, n_fail, n_error, n_na, n_manual, requirements)
                 VALUES {}
                 ON CONFLICT (endpoint_id, scope) DO UPDATE SET framework = excluded.framework, level = excluded.level,
                     policy_digest = excluded.policy_digest, report_seq = excluded.report_seq, evaluated_at = excluded.evaluated_at,
                     compliant = excluded.compliant, n_pass = excluded.n_pass, n_fail = excluded.n_fail, n_error = excluded.n_error,
                     n_na = excluded.n_na, n_manual = excluded.n_manual, requirements = excluded.requirements",
                values(chunk.len(), 14)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for (endpoint, e) in chunk {
                q = q
                    .bind(*endpoint)
                    .bind(&e.scope)
                    .bind(&e.framework)
                    .bind(i16::from(e.level))
                    .bind(&e.policy_digest)
                    .bind(e.report_seq)
                    .bind(e.evaluated_at)
                    .bind(b(e.compliant))
                    .bind(e.counts[0])
                    .bind(e.counts[1])
                    .bind(e.counts[2])
                    .bind(e.counts[3])
                    .bind(e.counts[4])
                    .bind(serde_json::to_string(&e.requirements).unwrap_or_default());
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn delete_evaluation(tx: &mut Transaction<'_, Any>, endpoint_id: &str, scope: &str) -> Result<()> {
        sqlx::query("DELETE FROM evaluations WHERE endpoint_id = $1 AND scope = $2")
            .bind(endpoint_id)
            .bind(scope)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Adds `delta` endpoints to a system's count of a requirement status.
    pub async fn adjust_requirement_count(
        tx: &mut Transaction<'_, Any>,
        system_id: i64,
        requirement: &str,
        status: &str,
        delta: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO requirement_counts (system_id, requirement, status, n) VALUES ($1, $2, $3, $4)
             ON CONFLICT (system_id, requirement, status) DO UPDATE SET n = requirement_counts.n + excluded.n",
        )
        .bind(system_id)
        .bind(requirement)
        .bind(status)
        .bind(delta)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn evaluations(&self, endpoint_id: &str) -> Result<Vec<EvaluationRow>> {
        let rows = sqlx::query(
            "SELECT scope, framework, level, policy_digest, report_seq, evaluated_at, compliant, n_pass, n_fail, n_error, n_na,
                 n_manual, requirements FROM evaluations WHERE endpoint_id = $1 ORDER BY scope",
        )
        .bind(endpoint_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(evaluation_from).collect()
    }

    pub async fn report(&self, endpoint_id: &str, seq: i64) -> Result<Option<StoredReport>> {
        let row = sqlx::query("SELECT seq, received_at, collected_at, signature, body FROM reports WHERE endpoint_id = $1 AND seq = $2")
            .bind(endpoint_id)
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(StoredReport {
                seq: r.try_get("seq")?,
                received_at: r.try_get("received_at")?,
                collected_at: r.try_get("collected_at")?,
                signature: r.try_get("signature")?,
                body: r.try_get("body")?,
            })
        })
        .transpose()
    }

    pub async fn report_exists(&self, endpoint_id: &str, seq: i64) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM reports WHERE endpoint_id = $1 AND seq = $2")
            .bind(endpoint_id)
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn count_reports(&self, endpoint_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM reports WHERE endpoint_id = $1")
            .bind(endpoint_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Deletes stored reports received before `cutoff`, except each endpoint's latest facts.
    pub async fn prune_reports(&self, cutoff: i64) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM reports WHERE received_at < $1
             AND NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = reports.endpoint_id AND e.facts_seq = reports.seq)",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    // ---- API reads -------------------------------------------------------------------

    /// Endpoints under a unit path (all when `None`), by host name.
    pub async fn endpoints(&self, under: Option<&str>, limit: i64, offset: i64) -> Result<Vec<EndpointRow>> {
        let rows = sqlx::query(
            "SELECT e.id, e.hostname, o.code AS org_unit, e.effective_level, e.last_seen, e.last_seq, e.facts_seq, e.platform,
                 e.role, e.revoked
             FROM endpoints e JOIN org_units o ON o.id = e.org_unit_id
             WHERE $1 = '' OR o.path LIKE $1 ORDER BY e.hostname, e.id LIMIT $2 OFFSET $3",
        )
        .bind(under.map(|p| format!("{p}%")).unwrap_or_default())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(endpoint_from).collect()
    }

    pub async fn endpoint(&self, id: &str) -> Result<Option<(EndpointRow, String)>> {
        let row = sqlx::query(
            "SELECT e.id, e.hostname, o.code AS org_unit, e.effective_level, e.last_seen, e.last_seq, e.facts_seq, e.platform,
                 e.role, e.revoked, o.path
             FROM endpoints e JOIN org_units o ON o.id = e.org_unit_id WHERE e.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((endpoint_from(&r)?, r.try_get("path")?))).transpose()
    }

    /// Per requirement, how many member endpoints have each status.
    pub async fn requirement_counts(&self, system_id: i64) -> Result<BTreeMap<String, BTreeMap<String, i64>>> {
        let rows = sqlx::query("SELECT requirement, status, n FROM requirement_counts WHERE system_id = $1 AND n <> 0")
            .bind(system_id)
            .fetch_all(&self.pool)
            .await?;
        let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for r in rows {
            out.entry(r.try_get("requirement")?)
                .or_default()
                .insert(r.try_get("status")?, r.try_get("n")?);
        }
        Ok(out)
    }

    /// Members of a system, and how many of them have been evaluated for it
    /// (kept by triggers, migration 0003).
    pub async fn system_members(&self, system: &System) -> Result<(i64, i64)> {
        let r = sqlx::query("SELECT members, evaluated FROM systems WHERE id = $1")
            .bind(system.id)
            .fetch_one(&self.pool)
            .await?;
        Ok((r.try_get("members")?, r.try_get("evaluated")?))
    }

    // ---- API keys --------------------------------------------------------------------

    /// Stores a key's hash; returns the key's id.
    pub async fn insert_api_key(&self, key_hash: &str, org_unit_id: Option<i64>, now: i64) -> Result<i64> {
        let row = sqlx::query("INSERT INTO api_keys (key_hash, org_unit_id, created_at, revoked) VALUES ($1, $2, $3, 0) RETURNING id")
            .bind(key_hash)
            .bind(org_unit_id)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("id")?)
    }

    /// The key with this hash; `None` when unknown or revoked.
    pub async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query(
            "SELECT k.id, o.path FROM api_keys k LEFT JOIN org_units o ON o.id = k.org_unit_id WHERE k.key_hash = $1 AND k.revoked = 0",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ApiKey {
                id: r.try_get("id")?,
                scope: r.try_get("path")?,
            })
        })
        .transpose()
    }

    // ---- collector state -------------------------------------------------------------

    pub async fn state_value(&self, name: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT value FROM collector_state WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("value").map_err(StoreError::from)).transpose()
    }

    pub async fn set_state_value(&self, name: &str, value: i64) -> Result<()> {
        sqlx::query("INSERT INTO collector_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Rows per multi-row statement: well under SQLite's 32766 and PostgreSQL's 65535 parameters.
const ROWS_PER_STATEMENT: usize = 64;

/// `%text%` for `LIKE … ESCAPE '\'`, lower-cased (compare with `LOWER(column)`),
/// with `%`, `_` and `\` taken literally.
pub fn like_contains(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `($1, $2), ($3, $4)` for `rows` rows of `cols` values.
pub(crate) fn values(rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&(r * cols + c + 1).to_string());
        }
        s.push(')');
    }
    s
}

/// One endpoint's refresh from a report with facts.
pub struct FactsUpdate<'a> {
    pub endpoint_id: &'a str,
    pub seq: i64,
    pub digest: &'a str,
    pub seen: i64,
    pub summary: &'a FactsSummary,
}

/// Creates the SQLite file readable by its owner only (it holds token and key
/// hashes and every endpoint's weaknesses); SQLite gives its WAL the same mode.
fn create_private_file(url: &str) -> Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") || std::path::Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Invalid(format!("cannot create the database {path}: {e}"))),
    }
}

/// sqlx opens an SQLite file only if it exists unless asked to create it.
fn sqlite_create_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn org_unit_from(r: &AnyRow) -> Result<OrgUnit> {
    Ok(OrgUnit {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        parent_id: r.try_get("parent_id")?,
        name: r.try_get("name")?,
        default_level: level(r.try_get("default_level")?),
        path: r.try_get("path")?,
        retired_at: r.try_get("retired_at")?,
    })
}

fn system_from(r: &AnyRow) -> Result<System> {
    Ok(System {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        org_unit_id: r.try_get("org_unit_id")?,
        name: r.try_get("name")?,
        level: level(r.try_get("level")?),
        framework: r.try_get("framework")?,
        retired_at: r.try_get("retired_at")?,
    })
}

fn endpoint_from(r: &AnyRow) -> Result<EndpointRow> {
    Ok(EndpointRow {
        id: r.try_get("id")?,
        hostname: r.try_get("hostname")?,
        org_unit: r.try_get("org_unit")?,
        effective_level: level(r.try_get("effective_level")?),
        last_seen: r.try_get("last_seen")?,
        last_seq: r.try_get("last_seq")?,
        facts_seq: r.try_get("facts_seq")?,
        platform: r.try_get("platform")?,
        role: r.try_get("role")?,
        revoked: r.try_get::<i16, _>("revoked")? != 0,
    })
}

fn evaluation_from(r: &AnyRow) -> Result<EvaluationRow> {
    Ok(EvaluationRow {
        scope: r.try_get("scope")?,
        framework: r.try_get("framework")?,
        level: level(r.try_get("level")?),
        policy_digest: r.try_get("policy_digest")?,
        report_seq: r.try_get("report_seq")?,
        evaluated_at: r.try_get("evaluated_at")?,
        compliant: r.try_get::<i16, _>("compliant")? != 0,
        counts: [
            r.try_get("n_pass")?,
            r.try_get("n_fail")?,
            r.try_get("n_error")?,
            r.try_get("n_na")?,
            r.try_get("n_manual")?,
        ],
        requirements: serde_json::from_str(&r.try_get::<String, _>("requirements")?).unwrap_or_default(),
    })
}

fn level(v: i16) -> u8 {
    u8::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_take_text_literally() {
        assert_eq!(super::like_contains(""), "%%");
        assert_eq!(super::like_contains("PC-01"), "%pc-01%");
        assert_eq!(super::like_contains("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(super::values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::values(1, 1), "($1)");
    }
}

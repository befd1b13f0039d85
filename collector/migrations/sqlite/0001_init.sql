-- Khiên collector schema, SQLite. Keep in step with ../postgres/0001_init.sql:
-- the same tables and columns, so that one set of queries serves both.
-- No BOOLEAN (SMALLINT 0/1); times are BIGINT unix milliseconds.

CREATE TABLE org_units (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    code          TEXT NOT NULL UNIQUE,
    parent_id     BIGINT REFERENCES org_units (id),
    name          TEXT NOT NULL,
    default_level SMALLINT NOT NULL,
    -- '/TW/DLK/': codes from the root, for subtree queries with LIKE '/TW/%'.
    path          TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE systems (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT NOT NULL UNIQUE,
    org_unit_id BIGINT NOT NULL REFERENCES org_units (id),
    name        TEXT NOT NULL,
    level       SMALLINT NOT NULL,
    framework   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE enroll_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_hash TEXT NOT NULL UNIQUE,
    org_unit_id BIGINT NOT NULL REFERENCES org_units (id),
    -- JSON array of system codes the enrolled endpoints join.
    systems     TEXT NOT NULL,
    max_uses    BIGINT NOT NULL,
    used        BIGINT NOT NULL DEFAULT 0,
    expires_at  BIGINT NOT NULL,
    revoked     SMALLINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

CREATE TABLE endpoints (
    id                TEXT PRIMARY KEY,
    org_unit_id       BIGINT NOT NULL REFERENCES org_units (id),
    hostname          TEXT NOT NULL,
    -- Raw Ed25519 key (hex) that signs the endpoint's reports.
    signing_key       TEXT NOT NULL,
    enrolled_at       BIGINT NOT NULL,
    last_seen         BIGINT NOT NULL DEFAULT 0,
    last_seq          BIGINT NOT NULL DEFAULT 0,
    -- The stored report with the latest facts, and their digest.
    facts_seq         BIGINT NOT NULL DEFAULT 0,
    facts_digest      TEXT NOT NULL DEFAULT '',
    platform          TEXT NOT NULL DEFAULT '',
    role              TEXT NOT NULL DEFAULT '',
    effective_level   SMALLINT NOT NULL DEFAULT 0,
    -- Summary flags from the latest facts; NULL until the first facts arrive.
    av_installed      SMALLINT,
    av_running        SMALLINT,
    av_realtime       SMALLINT,
    av_signature_time BIGINT,
    fw_default_deny   SMALLINT,
    revoked           SMALLINT NOT NULL DEFAULT 0
);
CREATE INDEX endpoints_org_unit ON endpoints (org_unit_id);

CREATE TABLE endpoint_systems (
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
    system_id   BIGINT NOT NULL REFERENCES systems (id),
    PRIMARY KEY (endpoint_id, system_id)
);
CREATE INDEX endpoint_systems_system ON endpoint_systems (system_id);

CREATE TABLE certificates (
    serial      TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
    not_after   BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX certificates_endpoint ON certificates (endpoint_id);

-- Signed reports that carried facts, exactly as received: append-only evidence.
CREATE TABLE reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id  TEXT NOT NULL REFERENCES endpoints (id),
    seq          BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    collected_at BIGINT NOT NULL,
    signature    TEXT NOT NULL,
    body         BLOB NOT NULL,
    UNIQUE (endpoint_id, seq)
);
CREATE INDEX reports_received ON reports (received_at);

-- The verdicts of an endpoint's latest facts, per scope: a system it belongs
-- to (its code), or '' for its org unit's default level. Evidence is not kept
-- here: the evaluator reproduces it from the stored report.
CREATE TABLE evaluations (
    endpoint_id    TEXT NOT NULL REFERENCES endpoints (id),
    scope          TEXT NOT NULL,
    framework      TEXT NOT NULL,
    level          SMALLINT NOT NULL,
    policy_digest  TEXT NOT NULL,
    report_seq     BIGINT NOT NULL,
    evaluated_at   BIGINT NOT NULL,
    compliant      SMALLINT NOT NULL,
    n_pass         BIGINT NOT NULL,
    n_fail         BIGINT NOT NULL,
    n_error        BIGINT NOT NULL,
    n_na           BIGINT NOT NULL,
    n_manual       BIGINT NOT NULL,
    -- JSON object: requirement id -> status (the worst of its checks).
    requirements   TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, scope)
);
CREATE INDEX evaluations_scope ON evaluations (scope);

-- Per system and requirement, how many member endpoints have each status;
-- kept current as verdicts change, so that compliance is a lookup.
CREATE TABLE requirement_counts (
    system_id   BIGINT NOT NULL REFERENCES systems (id),
    requirement TEXT NOT NULL,
    status      TEXT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (system_id, requirement, status)
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash    TEXT NOT NULL UNIQUE,
    org_unit_id BIGINT REFERENCES org_units (id),
    created_at  BIGINT NOT NULL,
    revoked     SMALLINT NOT NULL DEFAULT 0
);

-- Khiên collector schema, SQLite: waivers and attestations (issue 5, items 5
-- and 6). Keep in step with ../postgres/0004_exceptions.sql: the same tables
-- and columns, so that one set of queries serves both. No BOOLEAN (SMALLINT
-- 0/1); times are BIGINT unix milliseconds.
--
-- Exceptions are never applied to the stored verdicts: compliance reads the
-- ones active at the time asked about, so an expired or revoked exception
-- stops counting without any job running, and the raw verdicts stay as
-- evidence of what the endpoints reported.

-- An approved exception for one requirement, on a whole system (system_id)
-- or on one endpoint in every system it belongs to (endpoint_id): exactly one
-- of the two. It covers [start_at, expiry_at) unless revoked. path is the
-- org-unit path of the system's owner or the endpoint's unit at creation: the
-- subtree that approved it keeps seeing it after the system moves.
CREATE TABLE waivers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id   BIGINT REFERENCES systems (id),
    endpoint_id TEXT REFERENCES endpoints (id),
    requirement TEXT NOT NULL,
    reason      TEXT NOT NULL,
    approver    TEXT NOT NULL,
    start_at    BIGINT NOT NULL,
    expiry_at   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_at  BIGINT,
    path        TEXT NOT NULL,
    CHECK ((system_id IS NULL) <> (endpoint_id IS NULL)),
    CHECK (expiry_at > start_at)
);
CREATE INDEX waivers_system ON waivers (system_id);
CREATE INDEX waivers_endpoint ON waivers (endpoint_id);

-- Evidence files, content-addressed: the same bytes uploaded twice are one row.
CREATE TABLE evidence_files (
    sha256     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    content    BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- A person's statement that a requirement of a system is met, with its
-- evidence file; it turns the system's `manual` verdicts for that requirement
-- into `pass` over [attested_at, valid_until) unless revoked. path: as for
-- waivers.
CREATE TABLE attestations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id   BIGINT NOT NULL REFERENCES systems (id),
    requirement TEXT NOT NULL,
    attested_by TEXT NOT NULL,
    attested_at BIGINT NOT NULL,
    valid_until BIGINT NOT NULL,
    file_name   TEXT NOT NULL,
    file_sha256 TEXT NOT NULL REFERENCES evidence_files (sha256),
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_at  BIGINT,
    path        TEXT NOT NULL,
    CHECK (valid_until > attested_at)
);
CREATE INDEX attestations_system ON attestations (system_id);
CREATE INDEX attestations_file ON attestations (file_sha256);

-- Khiên collector schema, PostgreSQL: dashboard accounts (issue 6). Keep in step
-- with ../sqlite/0006_accounts.sql: the same tables and columns. No
-- BOOLEAN (SMALLINT 0/1); times are BIGINT unix milliseconds.

-- A person who logs into the dashboard. role: central_admin, unit_admin,
-- reviewer or certifier; org_unit_id is NULL only for central_admin (the
-- whole tree). password_hash is a PHC string (Argon2id), never the password.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    org_unit_id   BIGINT REFERENCES org_units (id),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled      SMALLINT NOT NULL DEFAULT 0
);

-- A logged-in browser. id_hash is the SHA-256 (hex) of the cookie's random
-- token: a copy of this table logs nobody in. A session ends at expires_at
-- (absolute) or when last_seen is older than the idle limit.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed logins per (username as typed, client address): kept in the
-- database so that a lock outlives a restart and holds across collectors
-- sharing one PostgreSQL. Unknown usernames are counted like known ones.
CREATE TABLE login_attempts (
    username     TEXT NOT NULL,
    remote       TEXT NOT NULL,
    failures     BIGINT NOT NULL,
    first_failed BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (username, remote)
);

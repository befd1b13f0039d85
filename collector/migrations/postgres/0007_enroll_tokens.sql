-- Khiên collector schema, PostgreSQL: who made an enrollment token and when it was
-- revoked, for listing and revoking tokens (CLI, API, dashboard). Keep in
-- step with ../sqlite/0007_enroll_tokens.sql. Times are BIGINT unix
-- milliseconds.
--
-- created_by is the audit log's actor (cli:<os user>, apikey:<id>,
-- user:<username>); tokens made before this migration have ''. Who revoked a
-- token is in the audit log; revoked_at is here so that a listing needs no
-- join with it. revoked (0/1) stays the flag enrollment checks.
ALTER TABLE enroll_tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE enroll_tokens ADD COLUMN revoked_at BIGINT;
CREATE INDEX enroll_tokens_org_unit ON enroll_tokens (org_unit_id);

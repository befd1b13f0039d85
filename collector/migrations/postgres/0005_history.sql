-- Khiên collector schema, PostgreSQL: history (issue 5, item 4). Keep in step
-- with ../sqlite/0005_history.sql: the same tables and columns, so that one
-- set of queries serves both. No BOOLEAN (SMALLINT 0/1); times are BIGINT
-- unix milliseconds; days are Vietnamese calendar dates, TEXT 'YYYY-MM-DD',
-- which sort and compare as dates.
--
-- Snapshots are JSON: the figures they keep will grow with the KPIs, and an
-- old row must stay readable as it was written rather than follow a schema
-- change. No foreign keys: history outlives retired units and systems, and
-- pruning by day must not wait on the register.

-- A unit's figures over its subtree, as of the day's snapshot: the scorecard
-- (endpoint KPIs and the systems' KPIs) without the children.
CREATE TABLE unit_snapshots (
    unit_id BIGINT NOT NULL,
    day     TEXT NOT NULL,
    kpis    TEXT NOT NULL,
    PRIMARY KEY (unit_id, day)
);
CREATE INDEX unit_snapshots_day ON unit_snapshots (day);

-- A system's compliance as of the day's snapshot, after waivers and
-- attestations: requirements is {"<requirement>": {"status": …, "counts": {…}}}.
CREATE TABLE system_snapshots (
    system_id    BIGINT NOT NULL,
    day          TEXT NOT NULL,
    compliant    SMALLINT NOT NULL,
    requirements TEXT NOT NULL,
    PRIMARY KEY (system_id, day)
);
CREATE INDEX system_snapshots_day ON system_snapshots (day);

-- A requirement whose status changed in one endpoint's verdict for one scope
-- (a system code, or '' for its unit's default level), written in the
-- transaction that stored the new verdict. cause: 'report' (report_seq is
-- that report) or 'reevaluation' after a register change (report_seq is the
-- report whose facts were evaluated again). Raw statuses, before exceptions:
-- a waiver changes how a status counts, not what the endpoint reported.
CREATE TABLE verdict_changes (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    endpoint_id TEXT NOT NULL,
    scope       TEXT NOT NULL,
    requirement TEXT NOT NULL,
    old_status  TEXT NOT NULL,
    new_status  TEXT NOT NULL,
    report_seq  BIGINT NOT NULL,
    cause       TEXT NOT NULL
);
CREATE INDEX verdict_changes_scope ON verdict_changes (scope, at);
CREATE INDEX verdict_changes_endpoint ON verdict_changes (endpoint_id, at);
-- Pruning deletes by time alone.
CREATE INDEX verdict_changes_at ON verdict_changes (at);

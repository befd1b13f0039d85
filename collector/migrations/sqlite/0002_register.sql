-- Khiên collector schema, SQLite: the register (issue 5, item 1). Keep in step
-- with ../postgres/0002_register.sql: the same tables and columns, so that one
-- set of queries serves both. No BOOLEAN (SMALLINT 0/1); times are BIGINT unix
-- milliseconds. Calendar dates of a dossier (a decision's date, the next
-- periodic assessment) are TEXT 'YYYY-MM-DD': they have no time of day and no
-- zone, and ISO text compares as dates on both engines.

-- Retirement is soft: a retired unit or system leaves listings and
-- evaluations, but its row stays for history (the audit log names it, and old
-- verdicts and exports refer to it). Codes stay taken.
ALTER TABLE org_units ADD COLUMN retired_at BIGINT;
CREATE INDEX org_units_parent ON org_units (parent_id);

-- The level dossier ("hồ sơ đề xuất cấp độ") of a system: the approval
-- decision, its date and approver, and the next periodic assessment, computed
-- from the decision date by level (Decree 85 Art. 20(2)(c)) unless set
-- explicitly (next_assessment_explicit = 1).
ALTER TABLE systems ADD COLUMN decision_number TEXT;
ALTER TABLE systems ADD COLUMN decision_date TEXT;
ALTER TABLE systems ADD COLUMN approver TEXT;
ALTER TABLE systems ADD COLUMN next_assessment_date TEXT;
ALTER TABLE systems ADD COLUMN next_assessment_explicit SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE systems ADD COLUMN retired_at BIGINT;
CREATE INDEX systems_org_unit ON systems (org_unit_id);

-- The role an endpoint has in a system ('workstation' or 'server'); NULL: the
-- role the endpoint reports.
ALTER TABLE endpoint_systems ADD COLUMN role TEXT;

-- Every change to the register, written in the transaction of the change.
-- path is the org-unit path ('/TW/DLK/') the object belongs to after the
-- change, path_before the one before (moves): a key scoped to a subtree reads
-- the records of either side. before_json/after_json are the object as JSON
-- (NULL before a creation).
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_code TEXT NOT NULL,
    path        TEXT NOT NULL,
    path_before TEXT,
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_object ON audit_log (object_kind, object_code);

-- Small named values the collector keeps between runs (e.g. how far it has
-- applied the audit log to the evaluations).
CREATE TABLE collector_state (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

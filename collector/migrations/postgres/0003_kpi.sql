-- Khiên collector schema: the KPI counters per org unit (issue 5, item 2).
-- Keep the SQLite and PostgreSQL files in step: the same tables and columns.

-- Facts behind KPIs that the summary columns of 0001 do not carry: the last
-- completed malware scan, whether a backup agent is expected here, and its
-- last successful contact (unix ms).
ALTER TABLE endpoints ADD COLUMN last_sweep BIGINT;
ALTER TABLE endpoints ADD COLUMN backup_expected SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN backup_last BIGINT;

-- For each unit, how many endpoints of its whole subtree have a property
-- (kpi.rs): kept by deltas in the transaction that changes an endpoint, so
-- the root's KPIs are a few rows whatever the size of the tree. bucket is 0,
-- or the unix hour/day of a time-bucketed counter. Rows that fall to 0 are
-- deleted by the writer that zeroes them.
CREATE TABLE unit_counters (
    unit_id BIGINT NOT NULL REFERENCES org_units (id),
    counter TEXT NOT NULL,
    bucket  BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (unit_id, counter, bucket)
);

-- Per system, its member endpoints and how many have a verdict for it, kept
-- by triggers, so that "systems compliant" over a national subtree does not
-- count a million membership rows per request.
ALTER TABLE systems ADD COLUMN members BIGINT NOT NULL DEFAULT 0;
ALTER TABLE systems ADD COLUMN evaluated BIGINT NOT NULL DEFAULT 0;
UPDATE systems SET
    members = (SELECT COUNT(*) FROM endpoint_systems es WHERE es.system_id = systems.id),
    evaluated = (SELECT COUNT(*) FROM evaluations e WHERE e.scope = systems.code);

CREATE FUNCTION khien_count_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE systems SET members = members + 1 WHERE id = NEW.system_id;
    ELSE
        UPDATE systems SET members = members - 1 WHERE id = OLD.system_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER endpoint_systems_count AFTER INSERT OR DELETE ON endpoint_systems
    FOR EACH ROW EXECUTE FUNCTION khien_count_members();

-- INSERT … ON CONFLICT DO UPDATE fires AFTER INSERT only for rows inserted:
-- a re-evaluation is not counted twice.
CREATE FUNCTION khien_count_evaluated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.scope <> '' THEN
            UPDATE systems SET evaluated = evaluated + 1 WHERE code = NEW.scope;
        END IF;
    ELSIF OLD.scope <> '' THEN
        UPDATE systems SET evaluated = evaluated - 1 WHERE code = OLD.scope;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER evaluations_count AFTER INSERT OR DELETE ON evaluations
    FOR EACH ROW EXECUTE FUNCTION khien_count_evaluated();

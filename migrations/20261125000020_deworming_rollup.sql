-- Monthly deworming coverage kept per village and month, so that a village × month matrix reads
-- a few hundred thousand small rows instead of tens of millions of doses (docs/BENCHMARKS.md).
-- The numbers are those of server/src/indicators/sql/deworming_coverage_raw.sql (server/src/indicators/rollup.rs); the rollup is
-- fresh by construction: every statement that changes dogs or dewormings marks the villages it
-- touched, and the engine recomputes marked villages before it reads.

CREATE TABLE deworming_rollup (
    village_id  integer NOT NULL,
    month       date NOT NULL CHECK (extract(day FROM month) = 1),
    dogs_due    integer NOT NULL CHECK (dogs_due >= 0),
    dogs_dosed  integer NOT NULL CHECK (dogs_dosed >= 0 AND dogs_dosed <= dogs_due),
    PRIMARY KEY (village_id, month)
);

-- The months the rollup holds for every village (computed on first request).
CREATE TABLE deworming_rollup_months (
    month       date PRIMARY KEY CHECK (extract(day FROM month) = 1)
);

-- Villages whose rows are stale.
CREATE TABLE deworming_rollup_dirty (
    village_id  integer PRIMARY KEY
);

CREATE FUNCTION deworming_rollup_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Nothing computed yet: nothing to mark (keeps bulk loads cheap).
    IF NOT EXISTS (SELECT 1 FROM deworming_rollup_months) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO deworming_rollup_dirty SELECT DISTINCT village_id FROM new_rows
        ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO deworming_rollup_dirty SELECT DISTINCT village_id FROM old_rows
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION deworming_rollup_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM deworming_rollup_months;
    DELETE FROM deworming_rollup;
    DELETE FROM deworming_rollup_dirty;
    RETURN NULL;
END;
$$;

-- Transition tables allow one event per trigger: three per table.
CREATE TRIGGER dogs_rollup_ins AFTER INSERT ON dogs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deworming_rollup_mark();
CREATE TRIGGER dogs_rollup_upd AFTER UPDATE ON dogs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deworming_rollup_mark();
CREATE TRIGGER dogs_rollup_del AFTER DELETE ON dogs REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deworming_rollup_mark();
CREATE TRIGGER dewormings_rollup_ins AFTER INSERT ON dewormings REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deworming_rollup_mark();
CREATE TRIGGER dewormings_rollup_upd AFTER UPDATE ON dewormings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deworming_rollup_mark();
CREATE TRIGGER dewormings_rollup_del AFTER DELETE ON dewormings REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deworming_rollup_mark();
CREATE TRIGGER dogs_rollup_truncate AFTER TRUNCATE ON dogs
    FOR EACH STATEMENT EXECUTE FUNCTION deworming_rollup_reset();
CREATE TRIGGER dewormings_rollup_truncate AFTER TRUNCATE ON dewormings
    FOR EACH STATEMENT EXECUTE FUNCTION deworming_rollup_reset();
CREATE TRIGGER villages_rollup_truncate AFTER TRUNCATE ON villages
    FOR EACH STATEMENT EXECUTE FUNCTION deworming_rollup_reset();

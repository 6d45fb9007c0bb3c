-- Issue 17: a record written from one jurisdiction never learns of a record in another. A natural
-- key a writer cannot see (an ID number, a dog tag, a household number, a sample id, an NNDRS
-- id, a slaughter point code registered elsewhere) no longer conflicts: the new record is kept
-- and the pair is queued here for the county to review and merge (or keep apart). These keys
-- stay indexed, no longer unique.
ALTER TABLE households DROP CONSTRAINT households_household_no_key;
CREATE INDEX households_household_no_idx ON households (household_no);
ALTER TABLE dogs DROP CONSTRAINT dogs_tag_key;
CREATE INDEX dogs_tag_idx ON dogs (tag);
ALTER TABLE dogs DROP CONSTRAINT dogs_collar_id_key;
CREATE INDEX dogs_collar_id_idx ON dogs (collar_id) WHERE collar_id IS NOT NULL;
ALTER TABLE faecal_tests DROP CONSTRAINT faecal_tests_sample_id_key;
CREATE INDEX faecal_tests_sample_id_idx ON faecal_tests (sample_id);
ALTER TABLE cases DROP CONSTRAINT cases_nndrs_id_key;
CREATE INDEX cases_nndrs_id_idx ON cases (nndrs_id) WHERE nndrs_id IS NOT NULL;
ALTER TABLE slaughter_points DROP CONSTRAINT slaughter_points_code_key;
CREATE INDEX slaughter_points_code_idx ON slaughter_points (code);
DROP INDEX people_id_number_key;
CREATE INDEX people_id_number_idx ON people (id_number) WHERE id_number IS NOT NULL;

CREATE TYPE duplicate_resolution AS ENUM ('merged', 'distinct');

CREATE TABLE possible_duplicates (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The register (`people`, `dogs`, ...) and its two records: the new one and the one it
    -- repeats (the earlier record with the same natural key).
    register        text NOT NULL,
    record_id       bigint NOT NULL,
    other_id        bigint NOT NULL CHECK (other_id <> record_id),
    -- Which key matched (`id_number`, `tag`, ...).
    key_field       text NOT NULL,
    found_at        timestamptz NOT NULL DEFAULT now(),
    found_by        text NOT NULL,
    resolution      duplicate_resolution,
    -- Merged: the record kept.
    kept_id         bigint,
    resolved_at     timestamptz,
    resolved_by     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (register, record_id, other_id),
    CHECK ((resolution IS NULL) = (resolved_at IS NULL))
);
CREATE INDEX possible_duplicates_open_idx ON possible_duplicates (register) WHERE resolution IS NULL;
CREATE TRIGGER possible_duplicates_touch BEFORE UPDATE ON possible_duplicates
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

ALTER TYPE audit_action ADD VALUE 'list';
ALTER TYPE audit_action ADD VALUE 'merge';

-- A hotspot grid is published (the `hotspots` export reads the latest published one of a
-- jurisdiction) only when a role that may export asked for it; anyone else's grid is a cached
-- look that changes no export (issue 17, item 5).
ALTER TABLE hotspot_results ADD COLUMN published boolean NOT NULL DEFAULT false;
UPDATE hotspot_results SET published = true;

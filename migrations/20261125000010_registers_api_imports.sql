-- The registers API addresses every record by id: the yearly village census gets one.
ALTER TABLE village_denominators ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE;

-- The history of imports: one row per finished import (succeeded, refused or failed), written
-- in the import's own transaction when it commits, or after its rollback when it is refused;
-- a killed import leaves no row, like it leaves no records.
CREATE TYPE import_status AS ENUM ('succeeded', 'refused', 'dry_run');

CREATE TABLE imports (
    id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    kind        text NOT NULL,
    format      text NOT NULL,
    filename    text,
    mode        text NOT NULL CHECK (mode IN ('atomic', 'valid_rows')),
    dry_run     boolean NOT NULL,
    status      import_status NOT NULL,
    read        integer NOT NULL,
    inserted    integer NOT NULL,
    updated     integer NOT NULL,
    unchanged   integer NOT NULL,
    rejected    integer NOT NULL,
    -- The report as returned to the user (row errors capped, see docs/IMPORT.md).
    report      jsonb NOT NULL,
    user_id     bigint REFERENCES users (id),
    username    text NOT NULL,
    jurisdiction text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_finished_idx ON imports (finished_at DESC);

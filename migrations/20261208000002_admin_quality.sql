-- Administration (issue 18 §6) and data-quality reviews (§5).

-- An account whose password an administrator set or generated changes it at its next login
-- (`/api/auth/me` says so); changing one's own password clears it.
ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;

-- An API token may be made to expire; a token past `expires_at` is refused like a revoked one.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;

-- The audit log of one record (`GET /api/audit?table=cases&record_id=37`), newest first.
CREATE INDEX audit_log_row_idx ON audit_log (table_name, row_id, id);

-- A data-quality finding someone who may correct the data has looked at (and left as it is, or
-- is correcting). `finding_key` is the finding's stable key `check:register:record id`
-- (`programme::quality::Finding::key`); a review outlives the finding harmlessly (nothing lists
-- a review without its finding) and applies again if the finding comes back.
CREATE TABLE quality_reviews (
    finding_key text PRIMARY KEY CHECK (finding_key ~ '^[a-z_]+:[a-z_]+:[0-9]+$'),
    reviewed_by bigint REFERENCES users (id),
    reviewed_at timestamptz NOT NULL DEFAULT now(),
    note        text CHECK (char_length(note) <= 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER quality_reviews_touch BEFORE UPDATE ON quality_reviews
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Issue 17: failed logins are counted per name typed AND client address, so that a stranger at
-- another address cannot lock an account out (the lockout counted failures by name alone, in
-- the audit log, and anyone could lock the admin out at will). One row per (name, address): the
-- failures there since the last success there. After the free ones, each further attempt of the
-- name from that address waits a delay that doubles with every failure, up to a maximum
-- (programme/src/auth/sessions.rs). A success from the address deletes its row; a new password
-- and `echinomap user unlock NAME` delete every row of the name. A name is counted as typed, so
-- an unknown name behaves exactly like a known one. Rows whose last failure is older than a day
-- are forgotten (and purged).
CREATE TABLE login_failures (
    username        text NOT NULL CHECK (length(username) <= 64),
    address         inet NOT NULL,
    failures        integer NOT NULL CHECK (failures >= 1),
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (username, address)
);
CREATE INDEX login_failures_last_failed_idx ON login_failures (last_failed_at);
CREATE TRIGGER login_failures_touch BEFORE UPDATE ON login_failures
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

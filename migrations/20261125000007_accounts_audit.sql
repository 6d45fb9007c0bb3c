-- Accounts, sessions, API tokens, and the append-only audit log.

CREATE TYPE user_role AS ENUM (
    'admin', 'epidemiologist', 'township_staff', 'village_doctor', 'vet', 'planner', 'viewer'
);

CREATE TABLE users (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username            text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9_.-]{1,63}$'),
    display_name        text,
    role                user_role NOT NULL,
    -- The county, a township or a village: the official code of the area the user answers for.
    jurisdiction        text NOT NULL CHECK (jurisdiction ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12})$'),
    -- argon2id PHC string; never the password.
    password_hash       text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    disabled            boolean NOT NULL DEFAULT false,
    locked_until        timestamptz,
    -- Accounts made by `serve --demo`; nothing else creates them.
    demo                boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- A browser session: the cookie holds a random token, the table only its SHA-256.
CREATE TABLE sessions (
    token_hash      bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Sent back in X-CSRF-Token by scripts that write with the cookie.
    csrf_token      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- API tokens for scripts and QGIS (Authorization: Bearer). The token is shown once.
CREATE TABLE api_tokens (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (name <> ''),
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- The first characters of the token, to recognise it in a list.
    prefix          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TYPE audit_action AS ENUM (
    'create', 'update', 'delete', 'read', 'export', 'import',
    'login', 'login_failed', 'logout', 'password_change',
    'token_create', 'token_revoke', 'user_create', 'user_update'
);

-- Append-only: written in the same transaction as the change it records; never updated or
-- deleted (the triggers below refuse it).
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     bigint REFERENCES users (id),
    -- As typed for a failed login; the account's name otherwise.
    username    text,
    action      audit_action NOT NULL,
    table_name  text,
    row_id      text,
    before      jsonb,
    after       jsonb,
    detail      jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, at);
CREATE INDEX audit_log_table_idx ON audit_log (table_name, at);
-- Login lockout counts failed logins by the name typed (which may not exist), so that an
-- unknown name behaves exactly like a known one.
CREATE INDEX audit_log_login_idx ON audit_log (username, at) WHERE action IN ('login', 'login_failed');

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

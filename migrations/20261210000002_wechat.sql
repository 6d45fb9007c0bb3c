-- WeChat mini-program sign-in (issue 21; programme/src/auth/wechat.rs). A WeChat user (an
-- openid of the mini-program's AppID) is bound to one account with a one-time 6-digit code the
-- account asked for while signed in; a bound openid then signs in without a password and gets
-- a bearer token (mini-programs keep no cookies). Accounts are never created from WeChat.

-- One row per binding; an unbound or replaced binding keeps its row (removed_at, removed_by)
-- for the history. The openid is WeChat's pseudonymous id of the user inside one AppID: it is
-- never logged nor audited (the audit holds its last 4 characters at most).
CREATE TABLE wechat_bindings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id          text NOT NULL CHECK (app_id <> ''),
    openid          text NOT NULL CHECK (openid <> '' AND length(openid) <= 128),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz,
    removed_at      timestamptz,
    removed_by      bigint REFERENCES users (id),
    CHECK (removed_by IS NULL OR removed_at IS NOT NULL)
);
-- One WeChat user, one live account; one account, one live WeChat user (binding again
-- replaces the old binding).
CREATE UNIQUE INDEX wechat_bindings_openid_live ON wechat_bindings (openid) WHERE removed_at IS NULL;
CREATE UNIQUE INDEX wechat_bindings_user_live ON wechat_bindings (user_id) WHERE removed_at IS NULL;
CREATE TRIGGER wechat_bindings_touch BEFORE UPDATE ON wechat_bindings
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- The one-time codes an account asks for to bind a WeChat user: only the SHA-256 of the six
-- digits is kept. Valid 10 minutes, once; asking again supersedes the account's unused codes.
CREATE TABLE wechat_binding_codes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash       bytea NOT NULL CHECK (length(code_hash) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    superseded_at   timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX wechat_binding_codes_user_idx ON wechat_binding_codes (user_id, code_hash);
CREATE TRIGGER wechat_binding_codes_touch BEFORE UPDATE ON wechat_binding_codes
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Wrong binding codes, counted per account (the username as typed, lower-cased: an unknown
-- name counts like a known one) and per client address. Five wrong codes lock the key for
-- 15 minutes; a successful binding clears both of its keys.
CREATE TABLE wechat_bind_failures (
    kind            text NOT NULL CHECK (kind IN ('account', 'address')),
    key             text NOT NULL CHECK (length(key) <= 128),
    failures        integer NOT NULL CHECK (failures >= 1),
    locked_until    timestamptz,
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);
CREATE TRIGGER wechat_bind_failures_touch BEFORE UPDATE ON wechat_bind_failures
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- A mini-program session is an API token of kind `wechat`: listed with the account's tokens,
-- revoked like them, stopped by a disabled account, and refused after `idle_days` without use
-- (`last_used_at` is written at most once a minute; it is set when the token is made).
ALTER TABLE api_tokens
    ADD COLUMN kind text NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'wechat')),
    ADD COLUMN idle_days integer CHECK (idle_days IS NULL OR idle_days >= 1),
    ADD COLUMN wechat_binding_id bigint REFERENCES wechat_bindings (id),
    ADD CONSTRAINT api_tokens_wechat_binding CHECK ((kind = 'wechat') = (wechat_binding_id IS NOT NULL));
CREATE INDEX api_tokens_wechat_binding_idx ON api_tokens (wechat_binding_id) WHERE wechat_binding_id IS NOT NULL;

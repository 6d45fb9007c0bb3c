-- Changes announced with NOTIFY, so that a running service keeps the data versions and the
-- validity of sessions and tokens in memory instead of asking for them on every request.
-- Notifications are delivered when the transaction commits, never for one that rolls back.

-- Every statement that bumps a data version also says which table it was.
CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_versions (table_name) VALUES (TG_TABLE_NAME)
    ON CONFLICT (table_name) DO UPDATE
        SET version = data_versions.version + 1, changed_at = now();
    PERFORM pg_notify('echinomap_data', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

-- Whatever can end or change a login: a user edited or removed, a session or token removed,
-- revoked, or moved to another user. Not the once-a-minute `last_seen_at`/`last_used_at`.
CREATE FUNCTION notify_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('echinomap_auth', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_auth_change AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();

CREATE TRIGGER sessions_auth_removed AFTER DELETE OR TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER sessions_auth_change AFTER UPDATE ON sessions
    FOR EACH ROW
    WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
          OR OLD.csrf_token IS DISTINCT FROM NEW.csrf_token OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
    EXECUTE FUNCTION notify_auth_change();

CREATE TRIGGER api_tokens_auth_removed AFTER DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER api_tokens_auth_change AFTER UPDATE ON api_tokens
    FOR EACH ROW
    WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
          OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION notify_auth_change();

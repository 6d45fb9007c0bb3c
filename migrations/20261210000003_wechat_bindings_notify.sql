-- A binding removed, or changed by hand, ends its mini-program sessions at once: the server's
-- caller cache is refreshed on `echinomap_auth` (20261125000021_notify_changes.sql), as for a
-- revoked token. Not on the sign-in's `last_login_at`.
CREATE TRIGGER wechat_bindings_auth_removed AFTER DELETE OR TRUNCATE ON wechat_bindings
    FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER wechat_bindings_auth_change AFTER UPDATE ON wechat_bindings
    FOR EACH ROW
    WHEN (OLD.removed_at IS DISTINCT FROM NEW.removed_at OR OLD.user_id IS DISTINCT FROM NEW.user_id
          OR OLD.openid IS DISTINCT FROM NEW.openid)
    EXECUTE FUNCTION notify_auth_change();

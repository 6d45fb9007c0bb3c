-- WeChat mini-program sign-in (issue 21): its audit actions. New enum values are usable only
-- after the transaction that adds them commits, so they come in a migration of their own.
ALTER TYPE audit_action ADD VALUE 'wechat_login';
ALTER TYPE audit_action ADD VALUE 'wechat_login_failed';
ALTER TYPE audit_action ADD VALUE 'wechat_bind';
ALTER TYPE audit_action ADD VALUE 'wechat_unbind';
ALTER TYPE audit_action ADD VALUE 'wechat_binding_code';

// The WeChat mini-program's bindings as the desk sees them (issue 21 §3): a one-time 6-digit
// binding code that the mini-program's 登录 page takes with the username, and the list of live
// bindings (an administrator's is everyone's, anyone else's their own) with 解除绑定.
// The routes are the server's (server/src/http/wechat.rs); the desk shows this only when the
// route table has them, so a server without them keeps the old menu. The routes are there even
// when no AppID is configured: then /api/auth/me says `wechat: false` and no code is offered
// (it would be refused with 503 wechat_not_configured).
import { api, auth, has } from './api';

export interface WechatBinding {
  id: number;
  user_id: number;
  username: string;
  display_name?: string | null;
  app_id: string;
  /** The openid's last 4 characters: enough to tell two phones apart, never the openid. */
  openid_hint: string;
  created_at: string;
  last_login_at?: string | null;
}

export interface BindingCode {
  code: string;
  expires_at: string;
}

/** Whether this server signs in with WeChat (`wechat` of /api/auth/me). */
export const wechatConfigured = () => (auth.me as { wechat?: boolean } | null)?.wechat === true;
/** Whether this server can make binding codes (the account menu's 绑定微信小程序). */
export const canBind = () => wechatConfigured() && has('POST', '/api/auth/wechat/binding-code');
/** Whether this server lists bindings (我的微信绑定, the users page's bindings). */
export const canListBindings = () => has('GET', '/api/wechat/bindings');

export function askBindingCode(): Promise<BindingCode> {
  return api<BindingCode>('/api/auth/wechat/binding-code', { method: 'POST', body: {} });
}

export async function listBindings(): Promise<WechatBinding[]> {
  const r = await api<{ items?: WechatBinding[] } | WechatBinding[]>('/api/wechat/bindings');
  return Array.isArray(r) ? r : r.items ?? [];
}

export function unbind(id: number): Promise<{ ok: boolean; id: number }> {
  return api(`/api/wechat/bindings/${id}`, { method: 'DELETE' });
}

/** The code's lifetime as this browser counts it, in milliseconds. The server says when the code
 *  expires by its own clock; a desk whose clock is off by minutes would otherwise show a fresh
 *  code as expired (or good for an hour). A code is 10 minutes old at most when it arrives, so an
 *  answer outside (0, 10 min] means the clocks differ, and the full 10 minutes is the truth. */
export function codeLifetime(expiresAt: string, now = Date.now()): number {
  const TEN_MINUTES = 10 * 60_000;
  const left = Date.parse(expiresAt) - now;
  return Number.isFinite(left) && left > 0 && left <= TEN_MINUTES + 5_000 ? Math.min(left, TEN_MINUTES) : TEN_MINUTES;
}

/** "9:05": minutes and seconds left. */
export function mmss(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

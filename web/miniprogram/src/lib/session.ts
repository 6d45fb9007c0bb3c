// The mini-program's session: a bearer token the server issues for a bound WeChat (kind `wechat`,
// expires after 30 days unused). `signIn()` and `bind()` both start with wx.login, whose one-use
// code the server exchanges at WeChat's code2Session for the openid; the openid itself never
// reaches the phone's storage. Signing out keeps the queue: it belongs to the account and is
// sent at its next sign-in.
import { request, whenUnauthorized, errorCode, errorMessage, type Answer } from './http'
import { StorageFullError } from '@core/outbox'
import { KEYS, readJson, remove, storage, writeJson } from './storage'

export interface User {
  username: string
  display_name?: string | null
  role: string
  jurisdiction: string
  jurisdiction_name?: string | null
  permissions: string[]
  binding_id?: number | null
}

export type Outcome =
  | { ok: true; user: User }
  | { ok: false; status: number; code: string; message: string | null; triesLeft?: number; retryAfter?: number }

export function token(): string | null {
  const v = wx.getStorageSync(KEYS.token)
  return typeof v === 'string' && v ? v : null
}

export function user(): User | null {
  return token() ? readJson<User>(KEYS.user) : null
}

export function can(permission: string): boolean {
  return (user()?.permissions || []).includes(permission)
}

/** The code of wx.login, or null when WeChat gave none. */
function wxLogin(): Promise<string | null> {
  return new Promise((resolve) => {
    wx.login({
      success: (r) => resolve(r.code || null),
      fail: () => resolve(null),
    })
  })
}

function refusal(a: Answer): Outcome {
  const details = a.data?.error?.details || {}
  return {
    ok: false,
    status: a.status,
    code: a.status === 0 ? 'offline' : errorCode(a) || `http_${a.status}`,
    message: errorMessage(a),
    triesLeft: typeof details.tries_left === 'number' ? details.tries_left : undefined,
    retryAfter: typeof details.retry_after_seconds === 'number' ? details.retry_after_seconds : undefined,
  }
}

function keep(a: Answer): Outcome {
  const u: User = { ...a.data.user, binding_id: a.data.binding_id ?? readJson<User>(KEYS.user)?.binding_id ?? null }
  try {
    writeJson(KEYS.user, u)
    storage.set(KEYS.token, String(a.data.token))
  } catch (e) {
    if (!(e instanceof StorageFullError)) throw e
    remove(KEYS.user)
    return { ok: false, status: 200, code: 'storage_full', message: null }
  }
  return { ok: true, user: u }
}

async function withLoginCode(path: string, body: Record<string, string>): Promise<Outcome> {
  const code = await wxLogin()
  if (!code) return { ok: false, status: 0, code: 'wx_login_failed', message: null }
  const a = await request({ method: 'POST', path, body: { ...body, code } })
  return a.status === 200 ? keep(a) : refusal(a)
}

/** Signs in with the WeChat the phone is logged in to; 403 `wechat_not_bound` asks for binding. */
export function signIn(): Promise<Outcome> {
  return withLoginCode('/api/auth/wechat', {})
}

/** Binds this WeChat to `username` with a 6-digit code made on the dashboard or /field. */
export function bind(username: string, bindingCode: string): Promise<Outcome> {
  return withLoginCode('/api/auth/wechat/bind', { username: username.trim(), binding_code: bindingCode.trim() })
}

/** Forgets the session here (the lists of the jurisdiction too: the next account may differ). */
export function forget(): void {
  for (const k of [KEYS.token, KEYS.user, KEYS.villages, KEYS.risk]) remove(k)
}

/** Revokes the token on the server (best effort: offline it just expires) and forgets it. */
export async function signOut(): Promise<void> {
  if (token()) await request({ method: 'POST', path: '/api/auth/wechat/logout', body: {} })
  forget()
}

/** Removes this WeChat's binding (the server revokes its tokens), then forgets the session. */
export async function unbind(): Promise<Outcome | { ok: true }> {
  const me = user()
  if (!me) return { ok: true }
  let id = me.binding_id ?? null
  if (id == null) {
    const list = await request({ method: 'GET', path: '/api/wechat/bindings' })
    if (list.status !== 200) return refusal(list)
    const mine = (list.data?.items || []).find((b: { username?: string }) => b.username === me.username)
    id = mine ? mine.id : null
  }
  if (id != null) {
    const a = await request({ method: 'DELETE', path: `/api/wechat/bindings/${id}` })
    if (a.status !== 200 && a.status !== 404) return refusal(a)
  }
  forget()
  return { ok: true }
}

// A token the server no longer accepts (30 days unused, revoked, account disabled): back to the
// login page; the queue stays for the next sign-in of the same account.
whenUnauthorized(() => {
  forget()
  try {
    wx.reLaunch?.({ url: '/pages/login/index?expired=1', fail: () => undefined })
  } catch {
    // No page stack (tests).
  }
})

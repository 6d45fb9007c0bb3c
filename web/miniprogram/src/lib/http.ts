// The one way to the server: wx.request with the session's bearer token. Mini-programs keep no
// cookies, so there is no CSRF header; an answer is `{status, data}` with status 0 when the
// request did not get through (no signal, DNS, timeout), the shape the field core's outbox reads.
import { serverBase } from './config'

export interface Answer {
  status: number
  // The server's JSON, whatever endpoint: each caller reads the fields it knows.
  data: any
}

export interface Req {
  method?: 'GET' | 'POST' | 'DELETE'
  path: string
  headers?: Record<string, string>
  body?: unknown
}

export const TOKEN_KEY = 'echinomap.token'
let onUnauthorized: ((path: string) => void) | null = null

/** Called when the server refuses the token (expired after 30 idle days, revoked, unbound). */
export function whenUnauthorized(handler: (path: string) => void): void {
  onUnauthorized = handler
}

export function request(req: Req): Promise<Answer> {
  const header: Record<string, string> = { accept: 'application/json', ...(req.headers || {}) }
  const token = wx.getStorageSync(TOKEN_KEY)
  if (typeof token === 'string' && token) header.Authorization = `Bearer ${token}`
  if (req.body !== undefined && !Object.keys(header).some((k) => k.toLowerCase() === 'content-type')) {
    header['content-type'] = 'application/json'
  }
  return new Promise((resolve) => {
    wx.request({
      url: serverBase() + req.path,
      method: req.method || 'GET',
      data: req.body === undefined ? undefined : (req.body as WechatMiniprogram.IAnyObject),
      header,
      dataType: 'json',
      timeout: 15000,
      success: (r) => {
        let data: unknown = r.data
        // A proxy's HTML error page or an empty body: keep the status, drop the text.
        if (typeof data === 'string') {
          try {
            data = data ? JSON.parse(data) : null
          } catch {
            data = null
          }
        }
        const answer = { status: r.statusCode, data }
        if (answer.status === 401 && token && !req.path.startsWith('/api/auth/wechat') && onUnauthorized) {
          onUnauthorized(req.path)
        }
        resolve(answer)
      },
      fail: () => resolve({ status: 0, data: null }),
    })
  })
}

export const get = (path: string): Promise<Answer> => request({ method: 'GET', path })

/** The server's error code (`error.code`), or null. */
export function errorCode(a: Answer): string | null {
  const code = a.data?.error?.code
  return typeof code === 'string' ? code : null
}

/** The server's own words for a refusal (Chinese first), or null. */
export function errorMessage(a: Answer): string | null {
  const m = a.data?.error?.message
  return typeof m === 'string' && m ? m : null
}

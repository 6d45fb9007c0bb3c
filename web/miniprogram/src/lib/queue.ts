// The outbox of the field core on WeChat's storage and wx.request: entries made without signal
// wait here, each sent with its own id as Idempotency-Key (a resend never makes a second record).
import { Outbox } from '@core/outbox'
import { uuid } from '@core/uuid'
import { request } from './http'
import { KEYS, readJson, storage, writeJson } from './storage'
import { user } from './session'

// The id is the entry's Idempotency-Key: it must be unique per account, not secret. WeChat's
// JavaScript has no Web Crypto (no crypto.getRandomValues, no randomUUID), and its own
// wx.getRandomValues (base library 2.15.0 and later) answers only through a callback, while the
// outbox asks for an id synchronously as it queues. So, where no Web Crypto is found, the 16
// bytes are built so that ids do not repeat on one phone (unless its clock is set back) and
// are unlikely to repeat across phones: the time in milliseconds (bytes 0–5, where UUIDv7 puts
// it), a counter for ids made in the same millisecond (bytes 9–10, starting anywhere), and
// Math.random for the rest (58 bits once the core sets the version and variant bits).
let counter = Math.floor(Math.random() * 0x10000)

/** A `getRandomValues` for the core's uuid() without Web Crypto: time, counter, Math.random. */
export const fallbackRandom = {
  getRandomValues<T extends Uint8Array>(a: T): T {
    for (let i = 0; i < a.length; i++) a[i] = Math.floor(Math.random() * 256)
    if (a.length < 16) return a
    let ms = Date.now()
    for (let i = 5; i >= 0; i--) {
      a[i] = ms % 256
      ms = Math.floor(ms / 256)
    }
    counter = (counter + 1) & 0xffff
    a[9] = counter >> 8
    a[10] = counter & 0xff
    return a
  },
}

type WebCrypto = typeof fallbackRandom & { randomUUID?: () => string }
const webCrypto = (globalThis as { crypto?: WebCrypto }).crypto
const cryptoSource: WebCrypto = webCrypto && typeof webCrypto.getRandomValues === 'function' ? webCrypto : fallbackRandom

export const outbox = new Outbox({
  storage,
  send: (req) => request(req),
  uuid: () => uuid(cryptoSource),
  key: KEYS.queue,
})

export interface LastSync {
  at: number
  sent: number
  failed: number
  stopped: string | null
}

export function lastSync(): LastSync | null {
  return readJson<LastSync>(KEYS.lastSync)
}

/** Sends the signed-in account's pending entries; remembers when and how it went. */
export async function syncNow(): Promise<LastSync | null> {
  const me = user()
  if (!me) return null
  const r = await outbox.sync(me.username)
  // A password an administrator reset (403 password_change_required) stops the sync as
  // 'password': the entries stay pending until the password is changed on the dashboard.
  const last: LastSync = { at: Date.now(), sent: r.sent, failed: r.failed, stopped: r.stopped }
  try {
    writeJson(KEYS.lastSync, last)
  } catch {
    // A full phone: the time of the last sync is not worth an error.
  }
  return last
}

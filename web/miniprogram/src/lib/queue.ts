// The outbox of the field core on WeChat's storage and wx.request: entries made without signal
// wait here, each sent with its own id as Idempotency-Key (a resend never makes a second record).
import { Outbox } from '@core/outbox'
import { uuid } from '@core/uuid'
import { request } from './http'
import { KEYS, readJson, storage, writeJson } from './storage'
import { user } from './session'

// WeChat has no Web Crypto; the ids need only be unique, not secret.
const mathCrypto = {
  getRandomValues<T extends Uint8Array>(a: T): T {
    for (let i = 0; i < a.length; i++) a[i] = Math.floor(Math.random() * 256)
    return a
  },
}
const cryptoSource = (globalThis as { crypto?: typeof mathCrypto & { randomUUID?: () => string } }).crypto || mathCrypto

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
  const last: LastSync = { at: Date.now(), sent: r.sent, failed: r.failed, stopped: r.stopped }
  try {
    writeJson(KEYS.lastSync, last)
  } catch {
    // A full phone: the time of the last sync is not worth an error.
  }
  return last
}

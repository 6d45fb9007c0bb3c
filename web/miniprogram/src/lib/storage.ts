// Storage on the phone: wx.getStorageSync / setStorageSync behind the synchronous
// `{get, set}` adapter the field core's outbox takes. WeChat allows 1 MB per key and 10 MB in
// all; past that setStorageSync throws ("exceed storage max size" today, in words WeChat may
// change and that differ between the phone, the developer tools and the base library). Any
// failure to write becomes the core's StorageFullError: the page says the phone is full, the
// queue already saved stays as it was, and no caller has to know WeChat's wording.
import { StorageFullError } from '@core/outbox'

export const KEYS = {
  token: 'echinomap.token',
  user: 'echinomap.user',
  lang: 'echinomap.lang',
  villages: 'echinomap.villages',
  risk: 'echinomap.risk',
  queue: 'echinomap.field.queue',
  lastSync: 'echinomap.lastSync',
  server: 'echinomap.server',
} as const

export const storage = {
  get(key: string): string | null {
    const v = wx.getStorageSync(key)
    if (v === '' || v === undefined || v === null) return null
    return typeof v === 'string' ? v : JSON.stringify(v)
  },
  set(key: string, value: string): void {
    try {
      wx.setStorageSync(key, value)
    } catch (e) {
      throw e instanceof StorageFullError ? e : new StorageFullError(e)
    }
  },
}

export function readJson<T>(key: string): T | null {
  const s = storage.get(key)
  if (!s) return null
  try {
    return JSON.parse(s) as T
  } catch {
    return null
  }
}

/** Saves `value` as JSON; throws StorageFullError when the phone is full. */
export function writeJson(key: string, value: unknown): void {
  storage.set(key, JSON.stringify(value))
}

export function remove(key: string): void {
  wx.removeStorageSync(key)
}

/** A list saved with the time it was fetched, for "数据保存于 …". */
export interface Saved<T> {
  savedAt: number
  items: T[]
}

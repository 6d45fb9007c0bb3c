// Where the server is. The address is fixed at build time (ECHINOMAP_MP_SERVER, see build.mjs);
// a training or test phone may point at another one from 我的 (storage key `echinomap.server`).
// WeChat itself only lets a released mini-program reach the HTTPS domains registered for the
// AppID (docs/MINIPROGRAM.md), so the override matters for the developer tools and the tests.

const BUILT: string = '__ECHINOMAP_MP_SERVER__'
export const DEFAULT_SERVER = BUILT.startsWith('__') ? 'https://echinomap.example.cn' : BUILT
export const SERVER_KEY = 'echinomap.server'

/** The base URL without a trailing slash. */
export function serverBase(): string {
  const saved = wx.getStorageSync(SERVER_KEY)
  const base = typeof saved === 'string' && saved.trim() ? saved.trim() : DEFAULT_SERVER
  return base.replace(/\/+$/, '')
}

/** Whether `url` can be a server address: https anywhere, http only on this machine. */
export function validServer(url: string): boolean {
  return /^https:\/\/[^\s/]+(\/\S*)?$/.test(url) || /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/?$/.test(url)
}

/** Saves another server address, or forgets it (null or empty: back to the built-in one). */
export function setServer(url: string | null): void {
  if (!url || !url.trim()) wx.removeStorageSync(SERVER_KEY)
  else wx.setStorageSync(SERVER_KEY, url.trim().replace(/\/+$/, ''))
}

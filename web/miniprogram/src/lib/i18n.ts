// The language: Chinese unless the user chose English in 我的 (storage `echinomap.lang`).
// `t()` looks in the mini-program's own words first (./text), then in the field core's.
import { translator } from '@core/text'
import { MP_TEXT } from './text'

export type Lang = 'zh' | 'en'
export const LANG_KEY = 'echinomap.lang'

export function lang(): Lang {
  return wx.getStorageSync(LANG_KEY) === 'en' ? 'en' : 'zh'
}

export function setLang(l: Lang): void {
  wx.setStorageSync(LANG_KEY, l)
  applyTabBar()
}

export type T = (key: string, ...args: unknown[]) => string

/** A translator for the current (or the given) language. */
export function tr(l: Lang = lang()): T {
  const core = translator(l)
  return (key, ...args) => {
    const own = MP_TEXT[l][key]
    if (typeof own === 'function') return (own as (...a: unknown[]) => string)(...args)
    if (typeof own === 'string') return own
    return core(key, ...args)
  }
}

/** `{key: text}` for the keys a page's WXML shows (its `data.tx`). */
export function texts(keys: readonly string[], l: Lang = lang()): Record<string, string> {
  const t = tr(l)
  const out: Record<string, string> = {}
  for (const k of keys) out[k.replace(/\./g, '_')] = t(k)
  return out
}

const TABS = ['tabWhere', 'tabSearch', 'tabEntry', 'tabSync', 'tabMe']

/**
 * The tab bar's words follow the language (app.json has the Chinese ones). Called from each tab
 * page's onShow and when the language changes: WeChat refuses wx.setTabBarItem before a tab page
 * is shown, so the app's onLaunch is too early, and a cold start in English would keep Chinese tabs.
 */
export function applyTabBar(): void {
  const t = tr()
  TABS.forEach((key, index) => {
    try {
      wx.setTabBarItem?.({ index, text: t(key), fail: () => undefined })
    } catch {
      // Not on a tab page (the login page): applied again by the next tab page's onShow.
    }
  })
}

/** Sets the page's title in the navigation bar. */
export function setTitle(key: string): void {
  try {
    wx.setNavigationBarTitle?.({ title: tr()(key), fail: () => undefined })
  } catch {
    // Some test doubles have no navigation bar.
  }
}

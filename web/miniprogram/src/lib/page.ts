// What every page does first: send the user without a session to the login page.
import { token } from './session'

export function requireSession(): boolean {
  if (token()) return true
  try {
    wx.reLaunch?.({ url: '/pages/login/index', fail: () => undefined })
  } catch {
    // No page stack (tests).
  }
  return false
}

/** The dataset or value of a WXML event, read the same way from a tap, an input or a picker. */
export interface UiEvent {
  currentTarget?: { dataset?: Record<string, string | undefined> }
  detail?: { value?: unknown }
}

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

/**
 * Asks before something that cannot be undone on this phone (signing out with entries still
 * queued, changing the server): wx.showModal, resolved true when confirmed. A page that leaves
 * right after (wx.reLaunch) cannot show a message any more, so what the user must know is said here.
 */
export function confirm(title: string, content: string): Promise<boolean> {
  return new Promise((resolve) => {
    wx.showModal({
      title,
      content,
      success: (r) => resolve(!!r.confirm),
      fail: () => resolve(false),
    })
  })
}

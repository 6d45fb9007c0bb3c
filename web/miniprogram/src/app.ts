// The mini-program's entry. Pages do their own work (src/pages/*); the app only applies the chosen
// language to the tab bar and sends what is queued when the phone comes back online.
import { applyTabBar } from './lib/i18n'
import { syncNow } from './lib/queue'
import { token } from './lib/session'

App({
  onLaunch() {
    applyTabBar()
    wx.onNetworkStatusChange?.((s) => {
      if (s.isConnected && token()) void syncNow()
    })
  },
  onShow() {
    if (token()) void syncNow()
  },
})

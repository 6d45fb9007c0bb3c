// The mini-program's entry. Pages do their own work (src/pages/*); the app only sends what is
// queued when the phone comes back online. The tab bar's language is applied by each tab page's
// onShow: at onLaunch no tab page exists yet, and wx.setTabBarItem fails there.
import { syncNow } from './lib/queue'
import { token } from './lib/session'

/** A sync nobody waits for: if it fails (a full phone), the entries stay pending for 同步. */
function syncInBackground(): void {
  if (token()) syncNow().catch(() => undefined)
}

App({
  onLaunch() {
    wx.onNetworkStatusChange?.((s) => {
      if (s.isConnected) syncInBackground()
    })
  },
  onShow() {
    syncInBackground()
  },
})

// 我的: the account, 退出登录, 解除绑定, 中文 / English, and the server address for training or
// testing phones. Signing out or unbinding keeps the unsent entries on the phone (and says so
// before leaving). Changing the server is refused while entries wait to be uploaded, and
// otherwise signs out first: the token and the queue belong to the old server, and must never be
// sent to another one.
import { colon, paren } from '@core/text'
import { DEFAULT_SERVER, serverBase, setServer, validServer } from '../../lib/config'
import { applyTabBar, lang, setLang, setTitle, texts, tr, type Lang } from '../../lib/i18n'
import { confirm, requireSession, type UiEvent } from '../../lib/page'
import { outbox } from '../../lib/queue'
import { signOut, unbind, user } from '../../lib/session'
import { KEYS as STORED, remove } from '../../lib/storage'

const KEYS = ['account', 'role', 'jurisdiction', 'logout', 'unbind', 'language', 'server', 'serverSave', 'serverReset']

Component({
  data: {
    tx: texts(KEYS),
    lang: lang() as Lang,
    colon: '：',
    account: { name: '', username: '', role: '', jurisdiction: '' },
    server: '',
    serverDefault: DEFAULT_SERVER,
    message: '',
    error: '',
  },
  methods: {
    onLoad() {
      requireSession()
    },
    onShow() {
      if (!requireSession()) return
      applyTabBar()
      this.refresh()
    },
    refresh() {
      setTitle('pageMe')
      const me = user()
      const l = lang()
      const t = tr(l)
      this.setData({
        tx: texts(KEYS),
        lang: l,
        colon: colon(l),
        server: serverBase(),
        account: me
          ? {
              name: me.display_name || me.username,
              username: me.username,
              role: t(`role_${me.role}`),
              jurisdiction: me.jurisdiction_name ? me.jurisdiction_name + paren(l, me.jurisdiction) : me.jurisdiction,
            }
          : { name: '', username: '', role: '', jurisdiction: '' },
      })
    },
    /** 中文 / English: `data-lang`, or the other one. */
    switchLang(e?: UiEvent | Lang) {
      const want = typeof e === 'string' ? e : (e?.currentTarget?.dataset?.lang as Lang | undefined)
      setLang(want === 'zh' || want === 'en' ? want : lang() === 'zh' ? 'en' : 'zh')
      this.refresh()
    },
    pendingNote(): string {
      const me = user()
      const n = me ? outbox.pendingCount(me.username) : 0
      return n ? tr()('logoutPending', n) : ''
    },
    /** 退出登录; with entries still queued, says they stay on the phone and asks first. */
    async logout(): Promise<boolean> {
      const t = tr()
      const note = this.pendingNote()
      if (note && !(await confirm(t('logout'), note))) return false
      await signOut()
      this.setData({ message: t('signedOut') })
      wx.reLaunch({ url: '/pages/login/index' })
      return true
    },
    async unbind() {
      const t = tr()
      const r = await unbind()
      if (!r.ok) {
        const m = 'message' in r ? r.message : null
        this.setData({ error: m || (r.status === 0 ? t('noNetwork') : `HTTP ${r.status}`) })
        return r
      }
      this.setData({ message: t('unbound'), error: '' })
      wx.reLaunch({ url: '/pages/login/index' })
      return r
    },
    /** 解除绑定, asked first (with the entries that stay on the phone, if any). */
    async confirmUnbind() {
      const t = tr()
      const content = [t('unbindConfirm'), this.pendingNote()].filter(Boolean).join('\n')
      if (await confirm(t('unbind'), content)) await this.unbind()
    },
    onServer(e: UiEvent) {
      this.setData({ server: String(e.detail?.value ?? '') })
    },
    /** 保存地址: the typed address (empty: the built-in one). */
    saveServer(): Promise<boolean> {
      const url = this.data.server.trim()
      if (url && !validServer(url)) {
        this.setData({ error: tr()('serverInvalid'), message: '' })
        return Promise.resolve(false)
      }
      return this.changeServer(url || null)
    },
    /** 恢复默认. */
    resetServer(): Promise<boolean> {
      return this.changeServer(null)
    },
    /**
     * Points the phone at another server. Refused while any account's entries wait to be
     * uploaded (they would go to the new server); otherwise, once confirmed, signs out on the old
     * server and forgets what came from it (token, account, lists, the queue's sent and refused
     * entries, the last sync) before the new address is saved.
     */
    async changeServer(url: string | null): Promise<boolean> {
      const t = tr()
      const next = (url || DEFAULT_SERVER).replace(/\/+$/, '')
      if (next === serverBase()) {
        this.setData({ server: next, message: t('serverSaved'), error: '' })
        return true
      }
      const pending = outbox.all().filter((e) => e.state === 'pending').length
      if (pending) {
        this.setData({ server: serverBase(), error: t('serverPending', pending), message: '' })
        return false
      }
      if (!(await confirm(t('server'), t('serverChangeConfirm')))) {
        this.setData({ server: serverBase() })
        return false
      }
      await signOut()
      remove(STORED.queue)
      remove(STORED.lastSync)
      try {
        setServer(url)
      } catch {
        // Signed out on the old server already: signing in again there is all that is left.
        this.setData({ error: t('serverNotSaved'), message: '' })
        return false
      }
      wx.reLaunch({ url: '/pages/login/index' })
      return true
    },
  },
})

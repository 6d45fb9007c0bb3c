// 我的: the account, 退出登录, 解除绑定, 中文 / English, and the server address for training or
// testing phones. Signing out or unbinding keeps the unsent entries on the phone.
import { colon, paren } from '@core/text'
import { DEFAULT_SERVER, serverBase, setServer, validServer } from '../../lib/config'
import { lang, setLang, setTitle, texts, tr, type Lang } from '../../lib/i18n'
import { requireSession, type UiEvent } from '../../lib/page'
import { outbox } from '../../lib/queue'
import { signOut, unbind, user } from '../../lib/session'

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
    async logout() {
      const note = this.pendingNote()
      await signOut()
      this.setData({ message: [tr()('signedOut'), note].filter(Boolean).join(' ') })
      wx.reLaunch({ url: '/pages/login/index' })
    },
    async unbind() {
      const t = tr()
      const note = this.pendingNote()
      const r = await unbind()
      if (!r.ok) {
        const m = 'message' in r ? r.message : null
        this.setData({ error: m || (r.status === 0 ? t('noNetwork') : `HTTP ${r.status}`) })
        return r
      }
      this.setData({ message: [t('unbound'), note].filter(Boolean).join(' '), error: '' })
      wx.reLaunch({ url: '/pages/login/index' })
      return r
    },
    confirmUnbind() {
      const t = tr()
      wx.showModal({
        title: t('unbind'),
        content: t('unbindConfirm'),
        success: (r) => {
          if (r.confirm) void this.unbind()
        },
      })
    },
    onServer(e: UiEvent) {
      this.setData({ server: String(e.detail?.value ?? '') })
    },
    saveServer() {
      const t = tr()
      const url = this.data.server.trim()
      if (url && !validServer(url)) {
        this.setData({ error: t('serverInvalid'), message: '' })
        return false
      }
      setServer(url || null)
      this.setData({ server: serverBase(), message: t('serverSaved'), error: '' })
      return true
    },
    resetServer() {
      setServer(null)
      this.setData({ server: serverBase(), message: tr()('serverSaved'), error: '' })
    },
  },
})

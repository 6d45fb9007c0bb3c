// 登录 / 绑定: signs in with WeChat at once; a WeChat not bound to an account yet (403
// wechat_not_bound) gets the bind form: username + the 6-digit code made on the dashboard or
// /field. Accounts are never created here. A refusal is worded from its code (@core/reasons),
// once: the tries left and the wait are part of its sentence.
import { errorText } from '@core/reasons'
import { lang, setLang, texts, tr } from '../../lib/i18n'
import { bind, signIn, token, type Outcome } from '../../lib/session'
import { syncNow } from '../../lib/queue'
import type { UiEvent } from '../../lib/page'

const KEYS = ['title', 'signInWechat', 'signingIn', 'bindTitle', 'bindIntro', 'username', 'bindingCode', 'bindNow']

Component({
  data: {
    tx: texts(KEYS),
    lang: lang(),
    mode: 'signin' as 'signin' | 'bind',
    busy: false,
    error: '',
    notice: '',
    bindForm: { username: '', code: '' },
    errors: {} as Record<string, string>,
    signedIn: false,
    /** The last refusal, worded again when the language changes. */
    refusal: null as Outcome | null,
  },
  methods: {
    onLoad(query?: Record<string, string | undefined>) {
      this.setData({ tx: texts(KEYS), lang: lang(), notice: query?.expired ? tr()('reLogin') : '' })
      if (token()) this.goHome()
      else void this.signIn()
    },
    onShow() {
      this.setData({ tx: texts(KEYS), lang: lang() })
    },
    /** Signs in with this WeChat; unbound → the bind form. */
    async signIn(): Promise<Outcome> {
      this.setData({ busy: true, error: '' })
      const r = await signIn()
      this.setData({ busy: false })
      if (r.ok) this.done()
      else if (r.code === 'wechat_not_bound') this.setData({ mode: 'bind', notice: this.explain(r), refusal: r })
      else this.setData({ error: this.explain(r), refusal: r })
      return r
    },
    /** Binds with `data.bindForm` (username + binding code), then is signed in. */
    async submitBind(): Promise<Outcome | null> {
      const t = tr()
      const username = this.data.bindForm.username.trim()
      const code = this.data.bindForm.code.trim()
      const errors: Record<string, string> = {}
      if (!username) errors.username = t('errUsername')
      if (!/^\d{6}$/.test(code)) errors.code = t('errBindingCode')
      this.setData({ errors, error: '' })
      if (Object.keys(errors).length) return null
      this.setData({ busy: true })
      const r = await bind(username, code)
      this.setData({ busy: false })
      if (r.ok) this.done()
      else this.setData({ error: this.explain(r), refusal: r })
      return r
    },
    explain(r: Outcome): string {
      if (r.ok) return ''
      const t = tr()
      if (r.code === 'offline') return t('noNetwork')
      if (r.code === 'wx_login_failed') return t('wxLoginFailed')
      if (r.code === 'storage_full') return t('storageFull')
      const details: Record<string, number> = {}
      if (r.triesLeft !== undefined) details.tries_left = r.triesLeft
      if (r.retryAfter !== undefined) details.retry_after_seconds = r.retryAfter
      return errorText({ code: r.code, message: r.message || `HTTP ${r.status}`, details }, lang())
    },
    done() {
      this.setData({ signedIn: true, error: '', notice: '', refusal: null })
      void syncNow()
      this.goHome()
    },
    goHome() {
      try {
        wx.switchTab?.({ url: '/pages/where/index', fail: () => undefined })
      } catch {
        // No tab bar (tests).
      }
    },
    onUsername(e: UiEvent) {
      this.setData({ 'bindForm.username': String(e.detail?.value ?? ''), 'errors.username': '' })
    },
    onCode(e: UiEvent) {
      this.setData({ 'bindForm.code': String(e.detail?.value ?? ''), 'errors.code': '' })
    },
    toggleLang() {
      setLang(lang() === 'zh' ? 'en' : 'zh')
      this.setData({ tx: texts(KEYS), lang: lang() })
      const r = this.data.refusal
      if (r && !r.ok && r.code !== 'wechat_not_bound' && this.data.error) this.setData({ error: this.explain(r) })
      if (this.data.mode === 'bind' && this.data.notice) this.setData({ notice: errorText({ code: 'wechat_not_bound' }, lang()) })
    },
  },
})

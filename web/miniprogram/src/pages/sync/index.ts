// 同步: the account's queue (pending, sent, refused with the server's reason), the last sync,
// 立即上传 and 重新发送 (a resend carries the same Idempotency-Key: never a second record).
// A refusal is worded from its code at each render (@core/reasons), so it follows the language.
import { errorText } from '@core/reasons'
import { StorageFullError } from '@core/outbox'
import { when } from '@core/time'
import { entryLabel } from '@core/text'
import { applyTabBar, lang, setTitle, texts, tr } from '../../lib/i18n'
import { requireSession, type UiEvent } from '../../lib/page'
import { lastSync, outbox, syncNow, type LastSync } from '../../lib/queue'
import { user } from '../../lib/session'

const KEYS = ['queue', 'syncNow', 'resend', 'empty']

interface Row {
  id: string
  state: string
  stateName: string
  label: string
  record: string
  error: string
}

Component({
  data: {
    tx: texts(KEYS),
    queue: [] as Row[],
    pending: 0,
    last: '',
    status: '',
    syncing: false,
  },
  methods: {
    onLoad() {
      requireSession()
    },
    onShow() {
      if (!requireSession()) return
      setTitle('pageSync')
      applyTabBar()
      this.setData({ tx: texts(KEYS) })
      this.render()
    },
    render(result?: LastSync | null) {
      const me = user()
      const l = lang()
      const t = tr(l)
      const rows = me ? outbox.forUser(me.username).slice().reverse() : []
      const last = lastSync()
      this.setData({
        queue: rows.map((e) => ({
          id: e.id,
          state: e.state,
          stateName: t(`st.${e.state}`),
          label: entryLabel(e, t),
          record: e.record_id != null ? t('recordNo', e.record_id) : '',
          error: e.error ? errorText(e, l) : '',
        })),
        pending: rows.filter((e) => e.state === 'pending').length,
        last: last ? t('lastSync', when(last.at, l)) : t('neverSynced'),
        status: result ? this.describe(result) : this.data.status,
      })
    },
    describe(r: LastSync): string {
      const t = tr()
      const stop = r.stopped === 'offline' ? t('stopOffline') : r.stopped === 'server' ? t('stopServer')
        : r.stopped === 'relogin' ? t('stopRelogin')
        : r.stopped === 'password' ? `${t('mustChange')}${t('stopKept')}` : ''
      return [t('syncResult', r.sent, r.failed), stop].filter(Boolean).join(' · ')
    },
    /** 立即上传. A sync that throws (the phone full while noting answers) ends too: never stuck. */
    async syncNow(): Promise<LastSync | null> {
      this.setData({ syncing: true, status: tr()('syncing') })
      try {
        const r = await syncNow()
        this.render(r)
        return r
      } catch (e) {
        this.setData({ status: tr()(e instanceof StorageFullError ? 'syncStorageFull' : 'syncFailed') })
        this.render()
        return null
      } finally {
        this.setData({ syncing: false })
      }
    },
    /** 重新发送 one entry (tap with data-id, or called with its id). */
    async resend(e: UiEvent | string): Promise<LastSync | null> {
      const id = typeof e === 'string' ? e : e.currentTarget?.dataset?.id
      if (!id) return null
      outbox.resend(id)
      return this.syncNow()
    },
  },
})

// 我在哪个村: the position (GCJ-02) → the village, then its risk and what is due. Also refreshes
// the jurisdiction's village and risk lists kept on the phone.
import { metres, when } from '@core/time'
import { tierName } from '@core/risk'
import { colon } from '@core/text'
import { applyTabBar, lang, setTitle, texts, tr } from '../../lib/i18n'
import { locate } from '../../lib/location'
import { requireSession } from '../../lib/page'
import { riskByCode, risks, setCurrentVillage, villageByCode, villages, type Village } from '../../lib/places'
import { user } from '../../lib/session'

const KEYS = ['locate', 'locating', 'openRisk', 'openDue', 'openEntry', 'township', 'code', 'pickVillage']

interface Shown {
  code: string
  name: string
  township_name: string
  tier: string
  tierName: string
  line: string
}

Component({
  data: {
    tx: texts(KEYS),
    who: '',
    locating: false,
    message: '',
    village: null as Shown | null,
    offline: false,
    listAge: '',
    storageFull: '',
  },
  methods: {
    onLoad() {
      if (!requireSession()) return
      void this.refreshLists()
    },
    onShow() {
      if (!requireSession()) return
      setTitle('pageWhere')
      applyTabBar()
      const me = user()
      this.setData({
        tx: texts(KEYS),
        who: me ? tr()('who', me.display_name || me.username, me.jurisdiction_name || me.jurisdiction) : '',
      })
      if (this.data.village) this.show(this.data.village.code, this.data.message)
    },
    /** The jurisdiction's villages and risks, fresh when online, kept for offline. */
    async refreshLists() {
      const [v] = await Promise.all([villages(), risks()])
      const t = tr()
      this.setData({
        offline: v.offline,
        listAge: v.savedAt ? t('listAge', v.items.length, when(v.savedAt, lang())) + (v.offline ? ' · ' + t('offline') : '') : '',
        storageFull: v.full ? t('storageFull') : '',
      })
    },
    /** wx.getLocation → the village here (the server's answer, or offline the nearest saved). */
    async locate() {
      const t = tr()
      this.setData({ locating: true, message: t('locating') })
      const r = await locate()
      this.setData({ locating: false })
      if (!r.ok) {
        this.setData({ message: t('noGeo') + r.reason })
        return r
      }
      const l = r.located
      if (!l.village) {
        this.setData({ village: null, message: t(l.outside_jurisdiction ? 'outside' : 'noVillage') })
        return r
      }
      const m = l.offline
        ? t('offlineNearest', metres(l.distance_m || 0))
        : l.inside
          ? t('inside')
          : t('near', metres(l.distance_m || 0))
      const base = villageByCode(l.village.code)
      setCurrentVillage(base || ({ lon: 0, lat: 0, ...l.village } as Village))
      this.setData({ offline: l.offline })
      this.show(l.village.code, m, l.village)
      return r
    },
    show(code: string, message: string, from?: { name?: string; township_name?: string }) {
      const base = villageByCode(code)
      const risk = riskByCode(code)
      const l = lang()
      const t = tr(l)
      const township = base?.township_name || from?.township_name || ''
      this.setData({
        message,
        village: {
          code,
          name: base?.name || from?.name || code,
          township_name: township,
          line: `${t('township')}${colon(l)}${township} · ${t('code')}${colon(l)}${code}`,
          tier: risk?.tier || '',
          tierName: risk?.tier ? tierName(risk.tier, l) : t('tierUnknown'),
        },
      })
    },
    openRisk() {
      if (this.data.village) wx.navigateTo({ url: `/pages/village/index?code=${this.data.village.code}` })
    },
    openDue() {
      if (this.data.village) wx.navigateTo({ url: `/pages/due/index?code=${this.data.village.code}` })
    },
    openEntry() {
      wx.switchTab({ url: '/pages/entry/index' })
    },
  },
})

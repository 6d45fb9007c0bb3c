// 村风险: the village's risk tier, its reasons in plain words, the recommended deworming regime
// and how old the data is. Online from the server; offline from the risk list saved on the phone.
import { dataAge } from '@core/time'
import { regimeFromScreening, regimeName, riskReasons, tierName } from '@core/risk'
import { colon } from '@core/text'
import { get } from '../../lib/http'
import { lang, setTitle, texts, tr } from '../../lib/i18n'
import { requireSession } from '../../lib/page'
import { currentVillage, riskByCode, savedRisk, savedVillages, villageByCode, type Risk } from '../../lib/places'
import { can } from '../../lib/session'

const KEYS = ['risk', 'reasons', 'regime', 'riskNA', 'riskNotCached', 'noReasons', 'pickVillage', 'openDue']

interface RiskView {
  available: boolean
  tier: string
  tierName: string
  score: string
  reasons: string[]
  regime: string
  regimeSource: string
}

Component({
  data: {
    tx: texts(KEYS),
    code: '',
    village: null as { code: string; name: string; line: string } | null,
    risk: null as RiskView | null,
    age: '',
    offline: false,
    error: '',
  },
  methods: {
    onLoad(query?: Record<string, string | undefined>) {
      if (!requireSession()) return
      const code = query?.code || currentVillage()?.code || ''
      this.setData({ code })
      if (code) void this.load(code)
    },
    onShow() {
      setTitle('pageVillage')
      this.setData({ tx: texts(KEYS) })
    },
    async load(code: string) {
      const l = lang()
      const t = tr(l)
      const [detail, risk] = await Promise.all([get(`/api/villages/${code}`), get(`/api/villages/${code}/risk`)])
      const offline = detail.status === 0 || risk.status === 0
      const base = detail.status === 200 ? detail.data : villageByCode(code)
      if (!base) {
        this.setData({ error: detail.data?.error?.message || t('noResults'), offline })
        return
      }
      let r: Risk | null = risk.status === 200 ? risk.data : null
      let savedAt = Date.now()
      if (!r) {
        r = riskByCode(code)
        if (r) savedAt = savedRisk()?.savedAt ?? savedAt
      }
      if (detail.status !== 200) savedAt = Math.min(savedAt, savedVillages()?.savedAt ?? savedAt)
      const view: RiskView = r
        ? {
            available: true,
            tier: r.tier || '',
            tierName: r.tier ? tierName(r.tier, l) : '',
            score: r.score != null ? t('score', r.score) : '',
            reasons: riskReasons(r as Parameters<typeof riskReasons>[0], l),
            regime: '',
            regimeSource: '',
          }
        : { available: false, tier: '', tierName: risk.status === 0 ? t('riskNotCached') : t('riskNA'), score: '', reasons: [], regime: '', regimeSource: '' }
      if (view.available && !view.reasons.length) view.reasons = [t('noReasons')]
      const reg = r?.regime
      if (reg) {
        view.regime = regimeName(reg.regime || 'monthly', l)
        view.regimeSource = t('fromRisk', t('basis.' + (reg.basis || 'no_screening'))) + (reg.regime ? '' : ' · ' + t('noScreening'))
      } else {
        const fb = await this.regimeFallback(code)
        view.regime = regimeName(fb.regime, l)
        view.regimeSource = fb.text
      }
      this.setData({
        offline,
        error: '',
        village: {
          code,
          name: base.name,
          line: `${t('township')}${colon(l)}${base.township_name || ''} · ${t('code')}${colon(l)}${code}`,
        },
        risk: view,
        age: dataAge({ savedAt, offline }, l),
      })
    },
    /** Without a risk answer: the programme thresholds on the village's own screening. */
    async regimeFallback(code: string): Promise<{ regime: string; text: string }> {
      const t = tr()
      if (!can('case_rows')) return { regime: 'monthly', text: t('screeningHidden') }
      const from = `${new Date().getFullYear() - 2}-01-01`
      const a = await get(`/api/screening_campaigns?village=${code}&from=${from}&limit=500`)
      const r = a.status === 200 ? regimeFromScreening(a.data.items || []) : null
      if (!r) return { regime: 'monthly', text: t('noScreening') }
      return { regime: r.regime, text: t('fromDomain', `${(r.prevalence * 100).toFixed(2)}%`, r.screened) }
    },
    openDue() {
      if (this.data.code) wx.navigateTo({ url: `/pages/due/index?code=${this.data.code}` })
    },
  },
})

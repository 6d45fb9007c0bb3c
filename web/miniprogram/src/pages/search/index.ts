// 查找: villages by name, code, pinyin initials or syllables. Online the server searches; offline
// (or when the server is out of reach) the core searches the list saved on the phone. Typing
// asks once the user pauses (DEBOUNCE_MS), not on every keystroke; each hit's risk tier comes
// from the saved risk list, read once per visit of the page.
import { searchVillages } from '@core/search'
import { tierName } from '@core/risk'
import { get } from '../../lib/http'
import { applyTabBar, lang, setTitle, texts, tr } from '../../lib/i18n'
import { requireSession, type UiEvent } from '../../lib/page'
import { riskIndex, savedVillages, setCurrentVillage, villageByCode, type Risk, type Village } from '../../lib/places'

const KEYS = ['search', 'searchHint', 'noResults']
const DEBOUNCE_MS = 300

// The saved risk list by code (read in onShow) and the pending search of onInput: one search
// page exists at a time (a tab page), so module state is the page's state.
let risks: Map<string, Risk> = new Map()
let typing: { timer: ReturnType<typeof setTimeout>; done: (hits: Hit[] | null) => void } | null = null

interface Hit {
  code: string
  name: string
  township_name: string
  tier: string
  tierName: string
}

Component({
  data: {
    tx: texts(KEYS),
    q: '',
    results: [] as Hit[],
    searched: false,
    offline: false,
    note: '',
  },
  methods: {
    onLoad() {
      requireSession()
    },
    onShow() {
      if (!requireSession()) return
      setTitle('pageSearch')
      applyTabBar()
      risks = riskIndex()
      this.setData({ tx: texts(KEYS) })
    },
    /** Each keystroke: searches DEBOUNCE_MS after the last one (null when overtaken by the next). */
    onInput(e: UiEvent): Promise<Hit[] | null> {
      this.setData({ q: String(e.detail?.value ?? '') })
      if (typing) {
        clearTimeout(typing.timer)
        typing.done(null)
      }
      return new Promise((resolve) => {
        typing = {
          done: resolve,
          timer: setTimeout(() => {
            typing = null
            this.search().then(resolve, () => resolve(null))
          }, DEBOUNCE_MS),
        }
      })
    },
    onHide() {
      if (typing) {
        clearTimeout(typing.timer)
        typing.done(null)
        typing = null
      }
    },
    /** Searches `data.q`. */
    async search(): Promise<Hit[]> {
      const q = this.data.q.trim()
      if (!q) {
        this.setData({ results: [], searched: false, note: '' })
        return []
      }
      const a = await get(`/api/villages?q=${encodeURIComponent(q)}`)
      let items: Village[]
      let offline = false
      if (a.status === 200) items = a.data.items || []
      else {
        offline = true
        items = searchVillages(savedVillages()?.items || [], q)
      }
      const l = lang()
      const results = items.slice(0, 50).map((v) => {
        const r = risks.get(v.code)
        return {
          code: v.code, name: v.name, township_name: v.township_name || '',
          tier: r?.tier || '', tierName: r?.tier ? tierName(r.tier, l) : '',
        }
      })
      if (q === this.data.q.trim()) {
        this.setData({ results, searched: true, offline, note: offline ? tr(l)('searchOffline') : '' })
      }
      return results
    },
    /** Makes the village the current one and shows its risk. */
    pick(e: UiEvent | string) {
      const code = typeof e === 'string' ? e : e.currentTarget?.dataset?.code
      if (!code) return
      const hit = this.data.results.find((r) => r.code === code)
      const v = villageByCode(code) || (hit ? ({ code, name: hit.name, township_name: hit.township_name, lon: 0, lat: 0 } as Village) : null)
      setCurrentVillage(v)
      wx.navigateTo({ url: `/pages/village/index?code=${code}` })
    },
  },
})

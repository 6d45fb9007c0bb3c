// 待办: what is due in the village this month — dogs not dosed, faecal sampling, sheep
// vaccination below target, and (roles with case rows only) how many patients are overdue for
// follow-up: a count fetched each time, never stored on the phone. Nothing of it is saved for
// offline use either, so offline the page says so (dueNA) and shows no data age.
import { dueFromRegisters, dueFromWorklists } from '@core/due'
import { dataAge, monthStart } from '@core/time'
import { paren } from '@core/text'
import { get, type Answer } from '../../lib/http'
import { lang, setTitle, texts, tr } from '../../lib/i18n'
import { requireSession } from '../../lib/page'
import { currentVillage, villageByCode } from '../../lib/places'
import { can } from '../../lib/session'

const KEYS = ['due', 'pickVillage', 'openEntry']

interface DogLine {
  tag: string
  note: string
}

Component({
  data: {
    tx: texts(KEYS),
    code: '',
    name: '',
    lines: [] as string[],
    dogs: [] as DogLine[],
    more: '',
    age: '',
    offline: false,
  },
  methods: {
    onLoad(query?: Record<string, string | undefined>) {
      if (!requireSession()) return
      const code = query?.code || currentVillage()?.code || ''
      this.setData({ code, name: villageByCode(code)?.name || currentVillage()?.name || code })
      if (code) void this.load(code)
    },
    onShow() {
      setTitle('pageDue')
      this.setData({ tx: texts(KEYS) })
    },
    async load(code: string) {
      const l = lang()
      const t = tr(l)
      const month = monthStart(0)
      const m = month.slice(0, 7)
      const ask = (kind: string): Promise<Answer> => get(`/api/worklists/${kind}?unit=${code}`)
      const caseRows = can('case_rows')
      const [dw, faecal, vacc, fu] = await Promise.all([
        ask('deworming'),
        ask('faecal_sampling'),
        ask('vaccination'),
        caseRows ? ask('followups') : Promise.resolve(null),
      ])
      const ok = (a: Answer | null) => (a && a.status === 200 ? a.data : null)
      const offline = [dw, faecal, vacc, fu].some((a) => a && a.status === 0)
      let answered = [dw, faecal, vacc, fu].some((a) => a && a.status === 200)
      let due = dueFromWorklists({ deworming: ok(dw), faecal_sampling: ok(faecal), followups: ok(fu) }, code)
      // A server without work lists: the registers (live dogs without a dose this month).
      if (!due.deworming && !offline && can('animal_rows')) {
        const [dogs, doses] = await Promise.all([
          get(`/api/dogs?village=${code}&status=alive&limit=500`),
          get(`/api/dewormings?village=${code}&from=${monthStart(1)}&limit=500`),
        ])
        if (dogs.status === 200 && doses.status === 200) {
          due = dueFromRegisters(dogs.data.items, doses.data.items, month)
          answered = true
        }
      }
      const lines: string[] = []
      if (offline && !ok(dw)) lines.push(t('dueNA'))
      if (due.deworming) {
        const n = due.deworming.count ?? due.deworming.hidden
        lines.push(due.deworming.count === 0 ? t('dueDwNone', m) : t('dueDw', n, m))
      }
      if (due.faecal) lines.push(t('dueFaecal'))
      const vRow = ok(vacc)?.villages?.find((v: { code: string }) => v.code === code)
      if (ok(vacc)) lines.push(vRow ? t('vaccinationDue', vRow.count ?? ok(vacc).small_counts?.label ?? '…') : t('vaccinationNone'))
      if (caseRows) {
        if (!due.followups) lines.push(t('dueFuOff'))
        else lines.push(due.followups.count === 0 ? t('dueFuNone') : t('dueFu', due.followups.count ?? due.followups.hidden))
      }
      if (!lines.length) lines.push('—')
      const shown = due.dogs.filter((d) => d.due).slice(0, 30)
      const hidden = due.dogs.filter((d) => d.due).length - shown.length
      this.setData({
        offline,
        lines,
        dogs: shown.map((d) => ({ tag: d.tag, note: paren(l, d.last ? t('lastDose', d.last) : t('noRecentDose')) })),
        more: hidden > 0 ? t('moreDogs', hidden) : '',
        // What answered was fetched just now; offline nothing was, and nothing is saved to date:
        // no "数据保存于 …" for data never saved.
        age: answered ? dataAge({ savedAt: Date.now(), offline: false }, l) : '',
      })
    },
    openEntry() {
      wx.switchTab({ url: '/pages/entry/index' })
    },
  },
})

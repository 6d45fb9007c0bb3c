// 录入: a deworming round (scan the tag or tick the village's dogs), a stray-dog sighting at the
// current position, a slaughter inspection. Each entry is checked with the server's own rules
// (the core's validate.js) before it is queued, then queued on the phone and sent when there is
// signal. The forms read `data`, so the methods work without a tap (tests, e2e).
import { StorageFullError } from '@core/outbox'
import { paren } from '@core/text'
import { today } from '@core/time'
import {
  DISPOSAL_METHODS, ORGANS, SPECIES, STRAY_ACTIONS,
  parseTags, validateDeworming, validateSlaughter, validateStray,
} from '@core/validate'
import { get } from '../../lib/http'
import { applyTabBar, lang, setTitle, texts, tr, type T } from '../../lib/i18n'
import { requireSession, type UiEvent } from '../../lib/page'
import { currentVillage, fix } from '../../lib/places'
import { outbox, syncNow } from '../../lib/queue'
import { can, user } from '../../lib/session'
import { scanTag } from '../../lib/scan'

const KEYS = [
  'deworming', 'stray', 'slaughter', 'date', 'dose', 'dogsToTick', 'allDue', 'moreTags', 'queueIt', 'nDogs',
  'action', 'scan', 'point', 'speciesLabel', 'slaughtered', 'infected', 'organ', 'disposalMethod',
  'disposalDone', 'pickVillage', 'noEntryRights', 'noDogsListed',
]

type Kind = 'deworming' | 'stray' | 'slaughter'

interface Dog {
  tag: string
  note: string
  due: boolean
  checked: boolean
}

interface Option {
  value: string
  label: string
}

function options(values: readonly string[], group: string, t: T): Option[] {
  return values.map((value) => ({ value, label: group ? t(`${group}.${value}`) : t(value) }))
}

function fresh() {
  const d = today()
  return {
    dw: { date: d, dose: '', tagsText: '' },
    st: { date: d, n: '1', action: 'observed' },
    sl: {
      date: d, point_code: '', species: 'sheep', slaughtered: '', infected: '0', organ: 'none',
      disposal_method: 'incineration', disposal_done: false,
    },
  }
}

Component({
  data: {
    tx: texts(KEYS),
    kind: 'deworming' as Kind,
    canEntry: false,
    canSlaughter: false,
    village: null as { code: string; name: string } | null,
    villageLine: '',
    place: '',
    ...fresh(),
    today: today(),
    dogs: [] as Dog[],
    dogsLoaded: false,
    actions: [] as Option[],
    species: [] as Option[],
    organs: [] as Option[],
    disposals: [] as Option[],
    points: [] as Option[],
    labels: { action: '', species: '', organ: '', disposal: '' },
    errors: {} as Record<string, string>,
    message: '',
    error: '',
  },
  methods: {
    onLoad() {
      requireSession()
    },
    onShow() {
      if (!requireSession()) return
      setTitle('pageEntry')
      applyTabBar()
      const t = tr()
      const v = currentVillage()
      const changed = (v?.code || '') !== (this.data.village?.code || '')
      this.setData({
        tx: texts(KEYS),
        today: today(),
        canEntry: can('animal_rows'),
        // Slaughter inspection is the veterinary service's work (and the county desk's), not
        // the village doctor's or township staff's, though they hold animal rows too.
        canSlaughter: can('animal_rows') && ['vet', 'epidemiologist', 'admin'].includes(user()?.role || ''),
        village: v ? { code: v.code, name: v.name } : null,
        villageLine: v ? t('entryFor', v.name + paren(lang(), v.code)) : t('pickVillage'),
        actions: options(STRAY_ACTIONS, '', t),
        species: options(SPECIES, 'species', t),
        organs: options(ORGANS, 'organs', t),
        disposals: options(DISPOSAL_METHODS, 'disposal', t),
      })
      this.relabel()
      this.showPlace()
      if (v && (changed || !this.data.dogsLoaded)) void this.loadDogs(v.code)
      if (this.data.canEntry && !this.data.points.length) void this.loadPoints()
    },
    /** The jurisdiction's slaughter points, to pick the inspection's point (typed otherwise). */
    async loadPoints() {
      const a = await get('/api/slaughter_points?limit=200')
      if (a.status !== 200) return
      const points: Option[] = (a.data.items || []).map((p: { point_code?: string; code?: string; point_name?: string; name?: string }) => {
        const code = String(p.point_code ?? p.code ?? '')
        return { value: code, label: `${p.point_name ?? p.name ?? ''} ${code}`.trim() }
      }).filter((o: Option) => o.value)
      this.setData({ points })
    },
    /** The village's live dogs with their last dose, to tick (fetched, never stored). */
    async loadDogs(code: string) {
      const t = tr()
      const month = today().slice(0, 7)
      const a = await get(`/api/dewormings/round?village=${code}&month=${month}`)
      if (a.status !== 200) {
        this.setData({ dogs: [], dogsLoaded: false })
        return
      }
      const dogs: Dog[] = (a.data.items || []).map(
        (d: { tag: string; last_dosed_on?: string | null; dosed_in_month?: boolean }) => ({
          tag: String(d.tag),
          due: !d.dosed_in_month,
          checked: false,
          note: d.dosed_in_month ? t('dosedThisMonth') : d.last_dosed_on ? t('lastDose', d.last_dosed_on) : t('noRecentDose'),
        }),
      )
      dogs.sort((x, y) => Number(y.due) - Number(x.due) || x.tag.localeCompare(y.tag))
      this.setData({ dogs, dogsLoaded: true })
    },
    relabel() {
      const find = (list: Option[], v: string) => list.find((o) => o.value === v)?.label || ''
      this.setData({
        labels: {
          action: find(this.data.actions, this.data.st.action),
          species: find(this.data.species, this.data.sl.species),
          organ: find(this.data.organs, this.data.sl.organ),
          disposal: find(this.data.disposals, this.data.sl.disposal_method),
        },
      })
    },
    showPlace() {
      const t = tr()
      const f = fix()
      const v = this.data.village
      this.setData({
        place: f
          ? t('gps', f.wgs[0].toFixed(5), f.wgs[1].toFixed(5), f.accuracy)
          : v ? t('gpsNone', v.name) : t('pickVillage'),
      })
    },
    setKind(e: UiEvent | Kind) {
      const kind = (typeof e === 'string' ? e : e.currentTarget?.dataset?.kind) as Kind
      if (kind) this.setData({ kind, errors: {}, message: '', error: '' })
    },
    /** Any text or date field: `data-field="dw.dose"` and the typed value. */
    onField(e: UiEvent) {
      const field = e.currentTarget?.dataset?.field
      if (!field) return
      const value = String(e.detail?.value ?? '')
      this.setData({ [field]: value, errors: {} })
    },
    /** A picker over one of the option lists: `data-field` and `data-list`. */
    onPick(e: UiEvent) {
      const field = e.currentTarget?.dataset?.field
      const list = e.currentTarget?.dataset?.list as 'actions' | 'species' | 'organs' | 'disposals' | 'points' | undefined
      if (!field || !list) return
      const o = this.data[list][Number(e.detail?.value ?? 0)]
      if (o) this.setData({ [field]: o.value, errors: {} })
      this.relabel()
    },
    onDisposalDone(e: UiEvent) {
      this.setData({ 'sl.disposal_done': !!e.detail?.value, errors: {} })
    },
    toggleDog(e: UiEvent | string) {
      const tag = typeof e === 'string' ? e : e.currentTarget?.dataset?.tag
      const i = this.data.dogs.findIndex((d) => d.tag === tag)
      if (i >= 0) this.setData({ [`dogs[${i}].checked`]: !this.data.dogs[i].checked, 'errors.tags': '' })
    },
    tickAllDue() {
      this.setData({ dogs: this.data.dogs.map((d) => ({ ...d, checked: d.checked || d.due })), 'errors.tags': '' })
    },
    /** wx.scanCode → the tag ticked in the list, or added to the typed tags. */
    async scan() {
      const r = await scanTag()
      const t = tr()
      if (!r.ok) {
        if (!r.cancelled) this.setData({ error: t('scanFailed') })
        return r
      }
      const i = this.data.dogs.findIndex((d) => d.tag === r.tag)
      if (i >= 0) this.setData({ [`dogs[${i}].checked`]: true })
      else if (!parseTags(this.data.dw.tagsText).includes(r.tag)) {
        this.setData({ 'dw.tagsText': (this.data.dw.tagsText.trim() + ' ' + r.tag).trim() })
      }
      this.setData({ message: t('scanned', r.tag), error: '', 'errors.tags': '' })
      return r
    },
    /** Errors by field in the page's language; true when there were none. */
    showErrors(errors: { field: string; key: string; args?: unknown[] }[]): boolean {
      const t = tr()
      const out: Record<string, string> = {}
      for (const e of errors) if (!out[e.field]) out[e.field] = t(e.key, ...(e.args || []))
      this.setData({ errors: out, message: '', error: errors.length ? t('fixErrors') : '' })
      return errors.length === 0
    },
    /** Queues the entries; a full phone changes nothing and says so. */
    queue(entries: { register: string; label: string; village: string | null; body: object }[]): boolean {
      const me = user()
      const t = tr()
      if (!me) return false
      try {
        outbox.enqueue(me.username, entries)
      } catch (e) {
        if (e instanceof StorageFullError) {
          this.setData({ error: t('storageFull'), message: '' })
          return false
        }
        throw e
      }
      this.setData({ message: t('queued', entries.length), error: '', errors: {} })
      void syncNow()
      return true
    },
    submitDeworming(): boolean {
      const t = tr()
      const v = this.data.village
      const me = user()
      if (!v || !me) {
        this.setData({ error: t('pickVillage') })
        return false
      }
      const { date, dose, tagsText } = this.data.dw
      const tags = [...new Set(this.data.dogs.filter((d) => d.checked).map((d) => d.tag).concat(parseTags(tagsText)))]
      if (!this.showErrors(validateDeworming({ tags, date, dose }, { today: today() }).errors)) return false
      const ok = this.queue(
        tags.map((tag) => ({
          register: 'dewormings',
          label: t('dwLabel', tag, date),
          village: v.code,
          body: {
            dog_tag: tag,
            dosed_on: date,
            ...(dose.trim() ? { dose_mg: Number(dose) } : {}),
            given_by: me.display_name || me.username,
          },
        })),
      )
      if (ok) {
        this.setData({
          'dw.tagsText': '',
          dogs: this.data.dogs.map((d) => (d.checked ? { ...d, checked: false, due: false, note: t('dosedThisMonth') } : d)),
        })
      }
      return ok
    },
    submitStray(): boolean {
      const t = tr()
      const v = this.data.village
      const f = fix()
      const me = user()
      if ((!v && !f) || !me) {
        this.setData({ error: t('pickVillage') })
        return false
      }
      const { date, n, action } = this.data.st
      if (!this.showErrors(validateStray({ date, n, action }, { today: today() }).errors)) return false
      const place = f ? { lon: Number(f.wgs[0].toFixed(6)), lat: Number(f.wgs[1].toFixed(6)) } : { village_code: v!.code }
      return this.queue([
        {
          register: 'stray_dog_events',
          label: t('strayLabel', Number(n), t(action), date),
          village: v?.code ?? null,
          body: { occurred_on: date, n_dogs: Number(n), action, reported_by: me.display_name || me.username, ...place },
        },
      ])
    },
    submitSlaughter(): boolean {
      const t = tr()
      const me = user()
      if (!me) return false
      const s = this.data.sl
      if (!this.showErrors(validateSlaughter({ ...s, date: s.date }, { today: today() }).errors)) return false
      const ok = this.queue([
        {
          register: 'slaughter_inspections',
          label: t('slaughterLabel', s.point_code.trim(), t(`species.${s.species}`), Number(s.slaughtered), s.date),
          village: this.data.village?.code ?? null,
          body: {
            point_code: s.point_code.trim(),
            inspected_on: s.date,
            species: s.species,
            slaughtered: Number(s.slaughtered),
            infected: Number(s.infected),
            organ: s.organ,
            disposal_method: s.disposal_method,
            disposal_done: s.disposal_done,
            inspector: me.display_name || me.username,
          },
        },
      ])
      if (ok) this.setData({ 'sl.slaughtered': '', 'sl.infected': '0', 'sl.organ': 'none' })
      this.relabel()
      return ok
    },
  },
})

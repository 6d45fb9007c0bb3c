// The jurisdiction's village list and risk list, fetched when there is signal and kept on the
// phone (`echinomap.villages`, `echinomap.risk`) so that 查找, 我在哪个村 and 村风险 work offline.
// Only the fields the pages use are kept, to stay far under WeChat's 1 MB per key. No case or
// follow-up row is ever stored.
import { get } from './http'
import { KEYS, readJson, writeJson, type Saved } from './storage'
import { StorageFullError } from '@core/outbox'

export interface Village {
  code: string
  name: string
  township_code?: string
  township_name?: string
  lon: number
  lat: number
  pinyin_initials?: string
  pinyin?: string
}

export interface RiskComponent {
  component?: string
  name?: string
  detail?: Record<string, unknown>
}

export interface Risk {
  code: string
  tier?: string
  score?: number
  reasons?: { component: string; text?: string }[]
  components?: RiskComponent[]
  regime?: { regime?: string | null; basis?: string } | null
  as_of?: string
}

export interface Listed<T> {
  items: T[]
  savedAt: number | null
  offline: boolean
  /** The phone was full: the list is shown but not kept. */
  full?: boolean
}

function slimVillage(v: Village): Village {
  return {
    code: v.code,
    name: v.name,
    township_code: v.township_code,
    township_name: v.township_name,
    lon: v.lon,
    lat: v.lat,
    pinyin_initials: v.pinyin_initials,
    pinyin: v.pinyin,
  }
}

function slimRisk(r: Risk & { village_code?: string }): Risk {
  return {
    code: r.code || r.village_code || '',
    tier: r.tier,
    score: r.score,
    reasons: r.reasons,
    components: (r.components || []).map((c) => ({ component: c.component || c.name, detail: c.detail })),
    regime: r.regime ?? null,
    as_of: r.as_of,
  }
}

function keep<T>(key: string, items: T[]): boolean {
  try {
    writeJson(key, { savedAt: Date.now(), items } satisfies Saved<T>)
    return true
  } catch (e) {
    if (e instanceof StorageFullError) return false
    throw e
  }
}

export function savedVillages(): Saved<Village> | null {
  return readJson<Saved<Village>>(KEYS.villages)
}

export function savedRisk(): Saved<Risk> | null {
  return readJson<Saved<Risk>>(KEYS.risk)
}

/** The jurisdiction's villages: fresh when online (and saved), else the saved list. */
export async function villages(): Promise<Listed<Village>> {
  const a = await get('/api/villages')
  if (a.status === 200 && Array.isArray(a.data?.items)) {
    const items = (a.data.items as Village[]).map(slimVillage)
    const kept = keep(KEYS.villages, items)
    return { items, savedAt: Date.now(), offline: false, full: !kept }
  }
  const s = savedVillages()
  return { items: s?.items || [], savedAt: s?.savedAt ?? null, offline: true }
}

/** The jurisdiction's risk list (GET /api/risk), saved the same way. */
export async function risks(): Promise<Listed<Risk>> {
  const a = await get('/api/risk')
  if (a.status === 200) {
    const raw = (a.data?.items || a.data?.villages || []) as Risk[]
    const items = raw.map(slimRisk)
    const kept = keep(KEYS.risk, items)
    return { items, savedAt: Date.now(), offline: false, full: !kept }
  }
  const s = savedRisk()
  return { items: s?.items || [], savedAt: s?.savedAt ?? null, offline: a.status === 0 }
}

export function villageByCode(code: string): Village | null {
  return savedVillages()?.items.find((v) => v.code === code) || null
}

export function riskByCode(code: string): Risk | null {
  return savedRisk()?.items.find((r) => r.code === code) || null
}

/** The saved risk list by village code, read and parsed once for a page that shows many villages. */
export function riskIndex(): Map<string, Risk> {
  return new Map((savedRisk()?.items || []).map((r) => [r.code, r]))
}

// The village being worked in, shared by the pages while the mini-program runs (not stored:
// the next start begins from 我在哪个村).
let current: Village | null = null

export function currentVillage(): Village | null {
  return current
}

export function setCurrentVillage(v: Village | null): void {
  current = v
}

/** The last position (GCJ-02 from wx.getLocation, and its WGS84 twin), for stray-dog sightings. */
export interface Fix {
  gcj: [number, number]
  wgs: [number, number]
  accuracy: number
  at: number
}
let lastFix: Fix | null = null

export function fix(): Fix | null {
  return lastFix && Date.now() - lastFix.at < 30 * 60 * 1000 ? lastFix : null
}

export function setFix(f: Fix): void {
  lastFix = f
}

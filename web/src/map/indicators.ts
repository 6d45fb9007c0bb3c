// What the villages layer can be coloured by. Today: the denominators of GET /api/villages.
// When the indicators API (issue #6) is on this server: every indicator of
// GET /api/indicators/matrix for the selected period, and the risk tier of GET /api/risk.
// The API shapes are read defensively (any array of objects with a unit code and a value).
import { api, has, qs } from '../api';
import type { Classes } from './style';
import { RAMP_BLUE, RAMP_GREEN_BAD_LOW, RAMP_RED, intFmt, pctFmt } from './style';

export interface Village {
  code: string;
  name: string;
  township_code: string;
  township_name: string;
  lon: number;
  lat: number;
  population: number | null;
  households: number | null;
  dogs_estimated: number | null;
  synthetic: boolean;
  remote: boolean;
}

export interface IndicatorDef {
  id: string;
  zh: string;
  en: string;
  classes: Classes;
  source: 'villages' | 'api' | 'risk';
  /** The API's target (`{op, value}`) and measure, for the legend (`targetText`). */
  target?: { op?: string; value?: number } | null;
  measure?: string;
}

const denominators: IndicatorDef[] = [
  { id: 'population', zh: '人口', en: 'Population', source: 'villages', classes: { breaks: [0, 500, 1000, 2000, 4000], colors: RAMP_BLUE, format: intFmt } },
  { id: 'dogs_estimated', zh: '估计犬数', en: 'Dogs (estimated)', source: 'villages', classes: { breaks: [0, 50, 100, 200, 400], colors: RAMP_BLUE, format: intFmt } },
  { id: 'households', zh: '户数', en: 'Households', source: 'villages', classes: { breaks: [0, 200, 400, 800, 1600], colors: RAMP_BLUE, format: intFmt } },
];

export const RISK: IndicatorDef = {
  id: 'risk_tier', zh: '风险等级', en: 'Risk tier', source: 'risk',
  classes: { breaks: [0, 1, 2], colors: ['#1a9641', '#fdae61', '#d7191c'], format: (v) => ['low', 'medium', 'high'][v] ?? '' },
};

export const hasIndicators = () => has('GET', '/api/indicators/matrix') || has('GET', '/api/indicators');
export const hasRisk = () => has('GET', '/api/risk');

function pick<T = unknown>(o: Record<string, unknown>, ...keys: string[]): T | undefined {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k] as T;
  return undefined;
}

/** Every object in a JSON answer that looks like a row (has some key). */
function rows(json: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 4 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) v.forEach((x) => walk(x, depth + 1));
    else {
      out.push(v as Record<string, unknown>);
      Object.values(v).forEach((x) => walk(x, depth + 1));
    }
  };
  walk(json, 0);
  return out;
}

/** The indicators the server offers (ids and names), from GET /api/indicators for the unit. */
export async function indicatorDefs(unit: string, period: string): Promise<IndicatorDef[]> {
  const defs = [...denominators];
  if (!hasIndicators() || !has('GET', '/api/indicators')) return hasRisk() ? [RISK, ...defs] : defs;
  try {
    const json = await api(`/api/indicators${qs({ unit, period })}`);
    const seen = new Set<string>();
    const found: IndicatorDef[] = [];
    for (const r of rows(json)) {
      const id = pick<string>(r, 'indicator', 'id', 'key');
      if (typeof id !== 'string' || seen.has(id) || !('value' in r || 'numerator' in r)) continue;
      seen.add(id);
      const isRate = r.measure === 'proportion' || typeof r.percent === 'number' || (r.measure === undefined && typeof r.value === 'number' && (r.value as number) <= 1.0001);
      const higherBetter = pick<string>(r, 'direction') !== 'lower_is_better' && !/positiv|prevalen|infect|case|stray/.test(id);
      found.push({
        id,
        zh: pick<string>(r, 'name_zh', 'name', 'label') ?? id,
        en: pick<string>(r, 'name_en', 'label_en', 'name') ?? id,
        source: 'api',
        target: (r.target as { op?: string; value?: number } | null | undefined) ?? null,
        measure: typeof r.measure === 'string' ? r.measure : undefined,
        classes: isRate
          ? higherBetter
            ? { breaks: [0, 0.5, 0.7, 0.8, 0.9], colors: RAMP_GREEN_BAD_LOW, format: pctFmt }
            : { breaks: [0, 0.01, 0.03, 0.05, 0.1], colors: RAMP_RED, format: pctFmt }
          : { breaks: [0, 1, 2, 5, 10], colors: RAMP_RED, format: intFmt },
      });
    }
    return [...(hasRisk() ? [RISK] : []), ...found, ...defs];
  } catch {
    return hasRisk() ? [RISK, ...defs] : defs;
  }
}

/** Village code → value of the indicator in the period (null: no data). */
export async function indicatorValues(
  def: IndicatorDef,
  villages: Village[],
  period: string,
  township?: string,
): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  if (def.source === 'villages') {
    for (const v of villages) out.set(v.code, (v as unknown as Record<string, number | null>)[def.id] ?? null);
    return out;
  }
  if (def.source === 'risk') {
    const json = await api(`/api/risk${qs({ township })}`);
    const tiers: Record<string, number> = { low: 0, medium: 1, high: 2 };
    for (const r of rows(json)) {
      const code = pick<string>(r, 'code', 'village_code', 'unit');
      const tier = pick<string>(r, 'tier');
      if (typeof code === 'string' && typeof tier === 'string') out.set(code, tiers[tier] ?? null);
    }
    return out;
  }
  // One column: the period as the map names it (a month, quarter, year, a range `2022..2026` or a
  // relative name such as `last_12_months`, which the server resolves).
  const json = await api(`/api/indicators/matrix${qs({ indicator: def.id, units: 'village', periods: period })}`);
  for (const r of rows(json)) {
    const code = pick<string>(r, 'code', 'unit', 'unit_code', 'village_code');
    if (typeof code !== 'string' || !/^\d{12}$/.test(code)) continue;
    let value = pick<number | null>(r, 'value');
    const values = pick<unknown[]>(r, 'values');
    if (value === undefined && Array.isArray(values) && values.length) {
      const last = values[values.length - 1];
      value = typeof last === 'number' ? last : (last as { value?: number } | null)?.value ?? null;
    }
    out.set(code, typeof value === 'number' ? value : null);
  }
  return out;
}

/** An indicator's target as the indicator states it (docs/INDICATORS.md): `≥ 80%`, `< 5%`,
 *  `100%` (at least all: "100%", not "≥ 100%"), `< 1 per village`; '' without a target. */
export function targetText(
  target: { op?: string; value?: number } | null | undefined,
  measure: string | undefined,
  zh: boolean,
): string {
  if (!target || typeof target.value !== 'number') return '';
  const v = target.value;
  const proportion = measure === 'proportion' || measure === undefined;
  const num = proportion ? `${+(v * 100).toFixed(2)}%` : String(+v.toFixed(3));
  const unit = measure === 'per_village' ? (zh ? '/村' : ' per village') : '';
  const op = target.op ?? '>=';
  if (proportion && v >= 1 && (op === '>=' || op === '≥')) return num;
  const sign = ({ '>=': '≥', '<=': '≤', '>': '>', '<': '<' } as Record<string, string>)[op] ?? op;
  return `${sign} ${num}${unit}`;
}

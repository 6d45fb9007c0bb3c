// Periods as the API spells them: YYYY-MM, YYYYQn, YYYY; with their first and last day.
export type PeriodKind = 'month' | 'quarter' | 'year';

const pad = (n: number) => String(n).padStart(2, '0');

/** Every period of `kind` from the month of `from` to the month of `to` (YYYY-MM-DD). */
export function periods(kind: PeriodKind, from: string, to: string): string[] {
  const [fy, fm] = from.split('-').map(Number);
  const [ty, tm] = to.split('-').map(Number);
  const out: string[] = [];
  for (let y = fy; y <= ty; y++) {
    if (kind === 'year') {
      out.push(String(y));
      continue;
    }
    for (let m = 1; m <= 12; m++) {
      if ((y === fy && m < fm) || (y === ty && m > tm)) continue;
      if (kind === 'month') out.push(`${y}-${pad(m)}`);
      else if ((m - 1) % 3 === 0 || (y === fy && m === fm)) {
        const q = `${y}Q${Math.floor((m - 1) / 3) + 1}`;
        if (out[out.length - 1] !== q) out.push(q);
      }
    }
  }
  return out;
}

/** The first and last day of a period. */
export function bounds(p: string): { from: string; to: string } {
  const last = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
  let m = /^(\d{4})-(\d{2})$/.exec(p);
  if (m) {
    const y = +m[1], mo = +m[2];
    return { from: `${y}-${pad(mo)}-01`, to: `${y}-${pad(mo)}-${pad(last(y, mo))}` };
  }
  m = /^(\d{4})Q([1-4])$/.exec(p);
  if (m) {
    const y = +m[1], q = +m[2];
    const m0 = (q - 1) * 3 + 1, m1 = m0 + 2;
    return { from: `${y}-${pad(m0)}-01`, to: `${y}-${pad(m1)}-${pad(last(y, m1))}` };
  }
  return { from: `${p}-01-01`, to: `${p}-12-31` };
}

/** The period of `kind` that holds the day `date`. */
export function periodOf(kind: PeriodKind, date: string): string {
  const [y, m] = date.split('-').map(Number);
  if (kind === 'year') return String(y);
  if (kind === 'quarter') return `${y}Q${Math.floor((m - 1) / 3) + 1}`;
  return `${y}-${pad(m)}`;
}

// Ranges and relative periods (issue 18 §5): the server accepts `2022..2026`, `2025-12..2026-11`,
// `2025Q1..2026Q2` and the relative names below wherever it accepts a period, resolves the names
// against its own today and echoes the resolved `period`. The client resolves them too (with the
// browser's today) where it needs days (hotspots, scan) or a concrete key (the village profile).

export interface RelativePeriod { key: string; zh: string; en: string; kind: PeriodKind }

/** The relative periods offered, in the order of the pickers. */
export const RELATIVE: RelativePeriod[] = [
  { key: 'last_month', zh: '上月', en: 'Last month', kind: 'month' },
  { key: 'this_month', zh: '本月', en: 'This month', kind: 'month' },
  { key: 'last_3_months', zh: '近3个月', en: 'Last 3 months', kind: 'month' },
  { key: 'last_12_months', zh: '近12个月', en: 'Last 12 months', kind: 'month' },
  { key: 'this_quarter', zh: '本季度', en: 'This quarter', kind: 'quarter' },
  { key: 'last_quarter', zh: '上季度', en: 'Last quarter', kind: 'quarter' },
  { key: 'this_year', zh: '今年', en: 'This year', kind: 'year' },
  { key: 'last_year', zh: '去年', en: 'Last year', kind: 'year' },
  { key: 'last_5_years', zh: '近5年', en: 'Last 5 years', kind: 'year' },
];

export const isRelative = (p: string) => RELATIVE.some((r) => r.key === p);

/** `from..to` (one period when both are the same). */
export function rangeKey(from: string, to: string): string {
  if (!from) return to;
  if (!to || from === to) return from;
  return from <= to ? `${from}..${to}` : `${to}..${from}`;
}

const monthKey = (y: number, m: number) => {
  // m may be outside 1..12: carry into the year.
  const i = y * 12 + (m - 1);
  return `${Math.floor(i / 12)}-${pad((i % 12) + 1)}`;
};

/** A relative name as a concrete period or range on the day `today` (YYYY-MM-DD). */
export function resolve(p: string, today: string = new Date().toISOString().slice(0, 10)): string {
  const [y, m] = today.split('-').map(Number);
  const q = Math.floor((m - 1) / 3) + 1;
  switch (p) {
    case 'this_month': return monthKey(y, m);
    case 'last_month': return monthKey(y, m - 1);
    case 'last_3_months': return `${monthKey(y, m - 3)}..${monthKey(y, m - 1)}`;
    case 'last_12_months': return `${monthKey(y, m - 12)}..${monthKey(y, m - 1)}`;
    case 'this_quarter': return `${y}Q${q}`;
    case 'last_quarter': return q === 1 ? `${y - 1}Q4` : `${y}Q${q - 1}`;
    case 'this_year': return String(y);
    case 'last_year': return String(y - 1);
    case 'last_5_years': return `${y - 5}..${y - 1}`;
    default: return p;
  }
}

/** The kind of a period, range or relative name (a range: the kind of its ends). */
export function kindOf(p: string): PeriodKind {
  const r = RELATIVE.find((x) => x.key === p);
  if (r) return r.kind;
  const first = p.split('..')[0];
  if (/Q/.test(first)) return 'quarter';
  if (/^\d{4}$/.test(first)) return 'year';
  return 'month';
}

/** First and last day of a period, a range or a relative name. */
export function spanBounds(p: string, today?: string): { from: string; to: string } {
  const [a, b] = resolve(p, today).split('..');
  return { from: bounds(a).from, to: bounds(b ?? a).to };
}

/** How a period reads: 近12个月, 2022–2026, 2025-12 – 2026-11, 2024Q1. */
export function periodLabel(p: string, zh: boolean): string {
  const r = RELATIVE.find((x) => x.key === p);
  if (r) return zh ? r.zh : r.en;
  const [a, b] = p.split('..');
  if (b === undefined) return a;
  return /^\d{4}$/.test(a) ? `${a}–${b}` : `${a} – ${b}`;
}

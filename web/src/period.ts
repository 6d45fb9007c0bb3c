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

// The small-count rule the server applies to this user, as it states it beside its counts
// (`small_counts` of GET /api/summary: the largest hidden count and the hidden range). The
// dashboard shows hidden counts with it, never with a number of its own, so a server run under
// other thresholds (--small-counts-inside-max) is described as it behaves.
import { reactive } from 'vue';

export interface SmallCounts { max: number | null; label: string | null }

export const smallCounts = reactive<SmallCounts>({ max: null, label: null });

export function setSmallCounts(s: SmallCounts | null | undefined) {
  smallCounts.max = s?.max ?? null;
  smallCounts.label = s?.label ?? null;
}

/** The legend's words for a hidden count: 已抑制（1–4）. */
export function suppressedLabel(zh: boolean): string {
  const range = smallCounts.label ? (zh ? `（${smallCounts.label}）` : ` (${smallCounts.label})`) : '';
  return zh ? `已抑制${range}` : `suppressed${range}`;
}

/** A hidden count in a table cell: below the first count shown (`<5` under the rule 1–4). */
export function hiddenCount(): string {
  return smallCounts.max === null ? '*' : `<${smallCounts.max + 1}`;
}

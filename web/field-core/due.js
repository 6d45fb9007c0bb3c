// @ts-check
// What is due in a village: from the work lists (GET /api/worklists/{kind}?unit=CODE) when the
// server has them, else from the registers (live dogs without a dose since the month began).
// Follow-ups are counted only from an answer the caller passes (roles with case access) and are
// never kept: the core stores no patient rows.

/**
 * @typedef {{ tag: string, last: string | null, due: boolean }} DueDog
 * @typedef {{ count: number | null, hidden: string | null }} Count  count null: a small count
 *   the server hides; `hidden` is its label (e.g. "1–4")
 * @typedef {{ dogs: DueDog[], deworming: Count | null, faecal: boolean | null, followups: Count | null }} Due
 * @typedef {{ villages?: { code: string, count?: number | null, items?: any[] }[], small_counts?: { label?: string } }} Worklist
 */

/**
 * @param {Worklist | null | undefined} answer
 * @param {string} code
 */
const rowOf = (answer, code) => (answer?.villages || []).find((v) => v.code === code);

/**
 * @param {Worklist} answer
 * @param {string} code
 * @returns {Count}
 */
function countOf(answer, code) {
  const row = rowOf(answer, code);
  const count = row ? (row.count ?? null) : 0;
  return { count, hidden: count === null ? (answer.small_counts?.label ?? '…') : null };
}

/**
 * @param {{ deworming?: Worklist | null, faecal_sampling?: Worklist | null, followups?: Worklist | null }} answers
 *   each work list's answer data, or null when not asked or not available
 * @param {string} code  the village
 * @returns {Due}
 */
export function dueFromWorklists({ deworming, faecal_sampling, followups }, code) {
  const dogs = (rowOf(deworming, code)?.items || [])
    .map((d) => ({ tag: String(d.tag), last: d.last_dosed_on ?? null, due: true }));
  return {
    dogs: sortDogs(dogs),
    deworming: deworming ? countOf(deworming, code) : null,
    faecal: faecal_sampling ? !!rowOf(faecal_sampling, code) : null,
    followups: followups ? countOf(followups, code) : null,
  };
}

/**
 * Without work lists: the village's live dogs, due when not dosed since `month` began, with their
 * last dose among `dewormings` (the doses since the month before).
 * @param {{ dog_tag: string }[]} dogs  GET /api/dogs?village=&status=alive items
 * @param {{ dog_tag: string, dosed_on: string }[]} dewormings  GET /api/dewormings?village=&from= items
 * @param {string} month  the month's first day, YYYY-MM-01
 * @returns {Due}
 */
export function dueFromRegisters(dogs, dewormings, month) {
  /** @type {Map<string, string>} */
  const last = new Map();
  for (const d of dewormings) {
    const seen = last.get(d.dog_tag);
    if (!seen || seen < d.dosed_on) last.set(d.dog_tag, d.dosed_on);
  }
  const list = dogs.map((d) => {
    const l = last.get(d.dog_tag) ?? null;
    return { tag: d.dog_tag, last: l, due: !l || l < month };
  });
  return {
    dogs: sortDogs(list),
    deworming: { count: list.filter((d) => d.due).length, hidden: null },
    faecal: null,
    followups: null,
  };
}

/**
 * Due dogs first, then by tag.
 * @param {DueDog[]} dogs
 * @returns {DueDog[]}
 */
export function sortDogs(dogs) {
  return dogs.slice().sort((a, b) => Number(b.due) - Number(a.due) || a.tag.localeCompare(b.tag));
}

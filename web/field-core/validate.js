// @ts-check
// The server's rules for the field's entries, said on the phone before anything is queued, so
// that an entry made without signal is not refused hours later for a slip. Each error names the
// field and a TEXT key (text.js), never a sentence: each client words it in its language.
// The value lists are the server's enum values (geodata/src/import/enums.rs).
//
// The numeric bounds are the phone's plausibility limits, not the register's: a dose of 1–5000 mg
// per dog and 1–500 stray dogs in one sighting, where the register accepts 0.1–100000 mg and
// 1–10000 dogs (programme/src/records/spec.rs). Narrower on purpose: on a phone
// keyboard a slipped digit (a dose of 50000 for 500) is the likely mistake, and it is caught
// here, before the entry waits hours for signal; a real value outside them is entered on the
// dashboard.

/** @typedef {{ field: string, key: string, args?: any[] }} FieldError */
/** @typedef {{ ok: boolean, errors: FieldError[] }} Verdict */

export const STRAY_ACTIONS = ['observed', 'captured', 'sheltered', 'euthanised', 'adopted'];
export const SPECIES = ['sheep', 'goat', 'cattle', 'camel', 'horse', 'yak', 'pig', 'other'];
export const ORGANS = ['none', 'liver', 'lung', 'liver_and_lung', 'other'];
export const DISPOSAL_METHODS = ['incineration', 'deep_burial', 'pit', 'chemical', 'none'];

/**
 * Dog tags typed in a box: split on spaces, commas and semicolons (half or full width) and 、,
 * trimmed, each once, in the order typed.
 * @param {string | null | undefined} text
 * @returns {string[]}
 */
export function parseTags(text) {
  return [...new Set(String(text ?? '').split(/[\s,，、;；]+/).map((s) => s.trim()).filter(Boolean))];
}

/** @param {FieldError[]} errors @returns {Verdict} */
const verdict = (errors) => ({ ok: errors.length === 0, errors });

/**
 * A calendar date `YYYY-MM-DD` that exists and is not after today.
 * @param {FieldError[]} errors
 * @param {string} field
 * @param {unknown} date
 * @param {string | undefined} today
 */
function checkDate(errors, field, date, today) {
  const s = typeof date === 'string' ? date.trim() : '';
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  const d = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
  if (!m || !d || d.getUTCMonth() !== +m[2] - 1 || d.getUTCDate() !== +m[3]) errors.push({ field, key: 'errDate' });
  else if (today && s > today) errors.push({ field, key: 'errDateFuture' });
}

/** @param {unknown} v */
const blank = (v) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/**
 * An integer (a number or its text) or NaN.
 * @param {unknown} v
 */
function int(v) {
  const x = typeof v === 'string' && v.trim() !== '' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isInteger(x) ? x : NaN;
}

/**
 * A deworming round: at least one tag, a date, an optional dose per dog of 1–5000 mg.
 * @param {{ tags: string[], date: string, dose?: number | string | null }} entry
 * @param {{ today?: string }} [opts]
 * @returns {Verdict}
 */
export function validateDeworming({ tags, date, dose }, { today } = {}) {
  /** @type {FieldError[]} */
  const errors = [];
  if (!tags || !tags.length) errors.push({ field: 'tags', key: 'noTags' });
  checkDate(errors, 'dosed_on', date, today);
  if (!blank(dose)) {
    const x = Number(typeof dose === 'string' ? dose.trim() : dose);
    if (!Number.isFinite(x) || x < 1 || x > 5000) errors.push({ field: 'dose_mg', key: 'errDose', args: [1, 5000] });
  }
  return verdict(errors);
}

/**
 * A stray-dog sighting: a date, 1–500 dogs, one of STRAY_ACTIONS.
 * @param {{ date: string, n: number | string, action: string }} entry
 * @param {{ today?: string }} [opts]
 * @returns {Verdict}
 */
export function validateStray({ date, n, action }, { today } = {}) {
  /** @type {FieldError[]} */
  const errors = [];
  checkDate(errors, 'occurred_on', date, today);
  const k = int(n);
  if (!(k >= 1 && k <= 500)) errors.push({ field: 'n_dogs', key: 'errN', args: [1, 500] });
  if (!STRAY_ACTIONS.includes(action)) errors.push({ field: 'action', key: 'errAction' });
  return verdict(errors);
}

/**
 * A slaughter inspection: the server's checks (infected ≤ slaughtered, organ "none" exactly
 * when none is infected, a disposal done needs a method other than none).
 * @param {{ date: string, point_code: string, species: string, slaughtered: number | string,
 *   infected: number | string, organ: string, disposal_method: string, disposal_done: boolean }} entry
 * @param {{ today?: string }} [opts]
 * @returns {Verdict}
 */
export function validateSlaughter(
  { date, point_code, species, slaughtered, infected, organ, disposal_method, disposal_done },
  { today } = {},
) {
  /** @type {FieldError[]} */
  const errors = [];
  checkDate(errors, 'inspected_on', date, today);
  if (blank(point_code)) errors.push({ field: 'point_code', key: 'errPoint' });
  if (!SPECIES.includes(species)) errors.push({ field: 'species', key: 'errSpecies' });
  const total = int(slaughtered);
  const sick = int(infected);
  if (!(total >= 1)) errors.push({ field: 'slaughtered', key: 'errSlaughtered' });
  if (!(sick >= 0) || (total >= 1 && sick > total)) errors.push({ field: 'infected', key: 'errInfected' });
  if (!ORGANS.includes(organ)) errors.push({ field: 'organ', key: 'errOrgan' });
  else if (sick >= 0 && (sick === 0) !== (organ === 'none')) errors.push({ field: 'organ', key: 'errOrganNone' });
  if (!DISPOSAL_METHODS.includes(disposal_method) || (disposal_done && disposal_method === 'none')) {
    errors.push({ field: 'disposal_method', key: 'errDisposal' });
  }
  return verdict(errors);
}

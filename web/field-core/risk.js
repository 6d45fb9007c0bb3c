// @ts-check
// A village's risk in plain words: the tier, each reason with its numbers (the risk answer's
// components, issue #6), the recommended deworming regime. Without the risk endpoint, the regime
// follows DOMAIN.md's thresholds on the village's own screening: human prevalence >1% monthly,
// 0.1–1% in the slaughter season, <0.1% targeted.
import { label, translator } from './text.js';

/** @typedef {import('./text.js').Lang} Lang */
/**
 * @typedef {{ component?: string, name?: string, detail?: any }} RiskComponent
 * @typedef {{ component: string, text?: string }} RiskReason
 * @typedef {{ tier?: string, score?: number, components?: RiskComponent[], reasons?: RiskReason[],
 *   regime?: { regime?: string | null, basis?: string } }} Risk
 */

/** @param {string} tier @param {Lang} lang */
export const tierName = (tier, lang) => label(lang, 'tier', tier);

/** @param {string} name @param {Lang} lang */
export const regimeName = (name, lang) => label(lang, 'regimes', name);

/**
 * One reason in plain words, with the component's numbers when the answer has them; an unknown
 * component reads as the server's own text (`fallback`), else its key.
 * @param {string} key
 * @param {RiskComponent | null | undefined} component
 * @param {string | null | undefined} fallback
 * @param {Lang} lang
 */
export function reasonText(key, component, fallback, lang) {
  const t = translator(lang);
  const k = 'reason.' + key;
  const s = t(k, component?.detail || {});
  return s === k ? fallback || key : s;
}

/**
 * The answer's reasons, in order, in plain words.
 * @param {Risk | null | undefined} risk
 * @param {Lang} lang
 * @returns {string[]}
 */
export function riskReasons(risk, lang) {
  if (!risk) return [];
  const comps = new Map((risk.components || []).map((c) => [c.component || c.name, c]));
  return (risk.reasons || []).map((r) => reasonText(r.component, comps.get(r.component), r.text, lang));
}

/**
 * The regime from screening campaigns (items of GET /api/screening_campaigns), or null when
 * nobody was screened.
 * @param {{ screened?: number | null, positives?: number | null }[]} campaigns
 * @returns {{ regime: 'monthly' | 'slaughter_season' | 'targeted', prevalence: number, screened: number } | null}
 */
export function regimeFromScreening(campaigns) {
  let screened = 0;
  let positives = 0;
  for (const c of campaigns || []) {
    screened += c.screened || 0;
    positives += c.positives || 0;
  }
  if (!screened) return null;
  const prevalence = positives / screened;
  const regime = prevalence > 0.01 ? 'monthly' : prevalence >= 0.001 ? 'slaughter_season' : 'targeted';
  return { regime, prevalence, screened };
}

// @ts-check
// Dates and ages as the field clients say them: local calendar days (the register's dates are
// the day in Xinjiang as the phone sees it), "when was this saved", distances in m or km.
import { translator } from './text.js';

/** @typedef {import('./text.js').Lang} Lang */

/** @param {number} k */
const pad = (k) => String(k).padStart(2, '0');

/**
 * Today on the phone's clock, `YYYY-MM-DD`.
 * @param {Date} [now]
 */
export function today(now = new Date()) {
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/**
 * The first day of this month (`back` = 0) or of an earlier one, `YYYY-MM-01`.
 * @param {number} [back]
 * @param {Date} [now]
 */
export function monthStart(back = 0, now = new Date()) {
  const d = new Date(now.getFullYear(), now.getMonth() - back, 1);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-01`;
}

/**
 * A moment and how long ago it was: "11-25 11:48，3 小时前" / "11-25 11:48, 3 h ago".
 * @param {number} ms  milliseconds since 1970
 * @param {Lang} lang
 * @param {number} [now]
 */
export function when(ms, lang, now = Date.now()) {
  const t = translator(lang);
  const d = new Date(ms);
  const s = (now - ms) / 1000;
  const rel = s < 60 ? t('ago.now') : s < 3600 ? t('ago.min', Math.floor(s / 60))
    : s < 86400 ? t('ago.h', Math.floor(s / 3600)) : t('ago.d', Math.floor(s / 86400));
  const sep = lang === 'zh' ? '，' : ', ';
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}${sep}${rel}`;
}

/**
 * How old the data shown is: fetched now ("数据已更新 …") or saved on the phone earlier and
 * shown offline ("离线：显示本机保存的数据（数据保存于 …）").
 * @param {{ savedAt: number, offline: boolean }} age
 * @param {Lang} lang
 * @param {number} [now]
 */
export function dataAge({ savedAt, offline }, lang, now = Date.now()) {
  const t = translator(lang);
  const at = when(savedAt, lang, now);
  return offline ? t('offlineData', t('saved', at)) : t('fresh', at);
}

/**
 * The time of day of a moment, `HH:MM` (a binding code's expiry).
 * @param {number} ms
 */
export function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * A distance for people: "850 m", "1.2 km".
 * @param {number} m  metres
 */
export const metres = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);

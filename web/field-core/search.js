// @ts-check
// Finding a village in the list kept on the phone, without signal: by a part of its name, the
// start of its code, or Latin letters matched against the pinyin the server ships with the list
// (initials `ngqnl`, syllables run together `ningguqiniulucun`, so `niulu` matches): no pinyin
// library on the phone. And the nearest village centre to a GPS fix.

/**
 * @typedef {{ code: string, name: string, lon?: number | null, lat?: number | null,
 *   pinyin_initials?: string, pinyin?: string, township_name?: string }} Village
 */

/**
 * @template {Village} V
 * @param {V[]} list
 * @param {string} q
 * @param {number} [limit]
 * @returns {V[]}
 */
export function searchVillages(list, q, limit = 50) {
  const text = String(q ?? '').trim();
  if (!text) return [];
  const lower = text.toLowerCase();
  const latin = /^[a-z]+$/.test(lower.replace(/[\s']/g, '')) ? lower.replace(/[\s']/g, '') : null;
  const found = list.filter((v) => v.name.toLowerCase().includes(lower) || v.code.startsWith(text)
    || (latin !== null && ((v.pinyin_initials || '').toLowerCase().includes(latin) || (v.pinyin || '').toLowerCase().includes(latin))));
  return found.slice(0, limit);
}

/**
 * Great-circle distance in metres (haversine, mean Earth radius 6371 km).
 * @param {number} lon1 @param {number} lat1 @param {number} lon2 @param {number} lat2
 */
export function haversineMetres(lon1, lat1, lon2, lat2) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2
    + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 12742000 * Math.asin(Math.sqrt(a));
}

/**
 * The village whose centre is nearest to a WGS84 point, within `maxMetres`.
 * @template {Village} V
 * @param {V[]} list
 * @param {number} lon  WGS84
 * @param {number} lat
 * @param {number} [maxMetres]
 * @returns {{ village: V, distance_m: number } | null}
 */
export function nearestVillage(list, lon, lat, maxMetres = 3000) {
  /** @type {{ village: V, distance_m: number } | null} */
  let best = null;
  for (const v of list) {
    if (typeof v.lon !== 'number' || typeof v.lat !== 'number') continue;
    const d = haversineMetres(lon, lat, v.lon, v.lat);
    if (d <= maxMetres && (!best || d < best.distance_m)) best = { village: v, distance_m: d };
  }
  return best;
}

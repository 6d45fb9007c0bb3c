// @ts-check
// WGS84 ↔ GCJ-02 ("Mars coordinates", 火星坐标), as geodata/src/gcj02.rs does it on the server:
// WeChat's wx.getLocation({type: 'gcj02'}) and Chinese map apps answer GCJ-02, the register and
// the browser's GPS are WGS84. The forward transform is the published eviltransform
// reconstruction on the Krasovsky 1940 ellipsoid; the inverse is the same fixed-point iteration
// to 1e-9° (0.1 mm). Both sides are checked against one fixture, tests/fixtures/gcj02.json.

const A = 6378245.0;
const EE = 0.00669342162296594323;
const TOLERANCE_DEG = 1e-9;

/**
 * Outside the rectangle every implementation uses (lon 72.004–137.8347, lat 0.8293–55.8271)
 * coordinates are not shifted.
 * @param {number} lon
 * @param {number} lat
 */
export function outOfChina(lon, lat) {
  return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
}

/** @param {number} x */
const periodicX = (x) => ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;

/** @param {number} x @param {number} y */
function transformLat(x, y) {
  return -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + periodicX(x)
    + ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3
    + ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
}

/** @param {number} x @param {number} y */
function transformLon(x, y) {
  return 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + periodicX(x)
    + ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3
    + ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
}

/**
 * The GCJ-02 offset in degrees at a WGS84 point.
 * @param {number} lon
 * @param {number} lat
 * @returns {[number, number]}
 */
function offset(lon, lat) {
  const x = lon - 105;
  const y = lat - 35;
  const radLat = (lat / 180) * Math.PI;
  const magic = 1 - EE * Math.sin(radLat) * Math.sin(radLat);
  const sqrtMagic = Math.sqrt(magic);
  const dLat = (transformLat(x, y) * 180) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  const dLon = (transformLon(x, y) * 180) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [dLon, dLat];
}

/**
 * @param {number} lon  WGS84
 * @param {number} lat
 * @returns {[number, number]} GCJ-02 [lon, lat]
 */
export function wgs84ToGcj02(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  const [dLon, dLat] = offset(lon, lat);
  return [lon + dLon, lat + dLat];
}

/**
 * The inverse by fixed-point iteration: w ← w − (forward(w) − g) until forward(w) is within
 * 1e-9° of g (at most 3 corrections in China).
 * @param {number} lon  GCJ-02
 * @param {number} lat
 * @returns {[number, number]} WGS84 [lon, lat]
 */
export function gcj02ToWgs84(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  let [wLon, wLat] = [lon, lat];
  for (let i = 0; i < 30; i++) {
    const [dLon, dLat] = offset(wLon, wLat);
    const eLon = wLon + dLon - lon;
    const eLat = wLat + dLat - lat;
    if (Math.abs(eLon) < TOLERANCE_DEG && Math.abs(eLat) < TOLERANCE_DEG) break;
    wLon -= eLon;
    wLat -= eLat;
  }
  return [wLon, wLat];
}

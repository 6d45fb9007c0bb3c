// Benchmark (not a test) of the dashboard in headless Chromium against the real binary:
//  - first meaningful paint: the `echinomap:map-ready` mark (the map idle with its villages drawn and coloured
//    by their indicator), from navigation start, cold (new browser context: empty cache) and warm (reload in
//    the same context: hashed assets from the cache), logged in beforehand; also FCP;
//  - the JS and CSS the page loads, raw and as served (brotli), from the Resource Timing API;
//  - frame times while panning and zooming over the demo data (requestAnimationFrame deltas).
//
//   node bench/dashboard.mjs [--scale N] [--runs 5]     (after `make web` and a cargo build)
//   ECHINOMAP_BIN=target/release/echinomap node bench/dashboard.mjs --scale 10
//   ECHINOMAP_BENCH_DATA_DIR=bench/var100 node bench/dashboard.mjs --scale 100   (a directory
//     loaded beforehand with `echinomap demo-data --scale 100 --data-dir bench/var100`, kept)
import os from 'node:os';
import { launchChromium, startServer } from '../web/e2e/server.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const scale = arg('scale', 1);
const runs = arg('runs', 5);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };

const t0 = Date.now();
const server = await startServer({ scale, dataDir: process.env.ECHINOMAP_BENCH_DATA_DIR, log: 'info' });
const started = (Date.now() - t0) / 1000;
console.error(`server ready (scale ${scale}) in ${started.toFixed(1)} s`);
let browser;
// Whatever happens below (a timeout at scale 100 once left the server running), the server stops.
let stopping;
const stopAll = () => (stopping ??= (async () => { await browser?.close().catch(() => {}); await server.stop(); })());
process.on('SIGINT', () => stopAll().then(() => process.exit(130)));
try {
browser = await launchChromium();

async function loggedInContext() {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const r = await ctx.request.post(`${server.base}/api/auth/login`, { data: { username: 'epi', password: 'Qapqal-2024' }, headers: { Origin: server.base } });
  if (!r.ok()) throw new Error(`login failed: ${r.status()}`);
  return ctx;
}
async function measure(page, navigate) {
  await navigate();
  await page.waitForFunction(() => performance.getEntriesByName('echinomap:map-ready').length > 0, null, { timeout: 60_000 });
  return page.evaluate(() => ({
    fmp: performance.getEntriesByName('echinomap:map-ready')[0].startTime,
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
    resources: performance.getEntriesByType('resource').map((r) => ({ name: r.name, type: r.initiatorType, transfer: r.transferSize, encoded: r.encodedBodySize, decoded: r.decodedBodySize })),
  }));
}

const cold = [], warm = [], fcpCold = [];
let assets = [];
for (let i = 0; i < runs; i++) {
  const ctx = await loggedInContext();
  const page = await ctx.newPage();
  const c = await measure(page, () => page.goto(server.base + '/'));
  cold.push(c.fmp);
  fcpCold.push(c.fcp);
  if (i === 0) assets = c.resources.filter((r) => /\/assets\/.*\.(js|mjs|css)$/.test(r.name));
  const w = await measure(page, () => page.reload());
  warm.push(w.fmp);
  await ctx.close();
}

// Frame times: pan and zoom for a few seconds over the county (and the synthetic counties beside
// it at scale > 1), recording every animation frame.
const ctx = await loggedInContext();
const page = await ctx.newPage();
await measure(page, () => page.goto(server.base + '/'));
const frames = await page.evaluate(async () => {
  const m = window.__map;
  const deltas = [];
  let last = performance.now();
  let on = true;
  const tick = (now) => { deltas.push(now - last); last = now; if (on) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const c = m.getCenter();
  const moves = [
    { center: [c.lng + 0.3, c.lat], zoom: 10 }, { center: [c.lng - 0.3, c.lat - 0.2], zoom: 11 },
    { center: [c.lng, c.lat + 0.1], zoom: 8 }, { center: [c.lng + 1.5, c.lat], zoom: 8 },
    { center: [c.lng + 3, c.lat - 0.5], zoom: 9 }, { center: [c.lng, c.lat], zoom: 9.5 },
  ];
  for (const mv of moves) {
    m.easeTo({ ...mv, duration: 1000 });
    await new Promise((r) => m.once('moveend', r));
  }
  on = false;
  return deltas.slice(1);
});
await ctx.close();
await stopAll();

const kb = (n) => (n / 1024).toFixed(1);
const sum = (xs, k) => xs.reduce((a, r) => a + r[k], 0);
const js = assets.filter((r) => /\.m?js$/.test(r.name));
const css = assets.filter((r) => /\.css$/.test(r.name));
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0].model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; ${new Date().toISOString().slice(0, 10)}; demo scale ${scale}; ${runs} runs`);
console.log(`the first view after the start: server ready in ${started.toFixed(1)} s, the map ${(cold[0] / 1000).toFixed(1)} s later (${(started + cold[0] / 1000).toFixed(1)} s from the start)`);
console.log(`first meaningful paint (map idle with villages), ms: cold median ${median(cold).toFixed(0)} (min ${Math.min(...cold).toFixed(0)}, max ${Math.max(...cold).toFixed(0)}); warm median ${median(warm).toFixed(0)} (min ${Math.min(...warm).toFixed(0)}, max ${Math.max(...warm).toFixed(0)})`);
console.log(`first contentful paint, cold median ms: ${median(fcpCold.filter((x) => x !== null)).toFixed(0)}`);
for (const r of assets) console.log(`  ${r.name.replace(/^.*\/assets\//, '')}: ${kb(r.decoded)} KiB raw, ${kb(r.encoded)} KiB served`);
console.log(`JS: ${kb(sum(js, 'decoded'))} KiB raw, ${kb(sum(js, 'encoded'))} KiB served; CSS: ${kb(sum(css, 'decoded'))} KiB raw, ${kb(sum(css, 'encoded'))} KiB served`);
console.log(`frames while panning/zooming: ${frames.length}; frame time median ${median(frames).toFixed(1)} ms, p95 ${pct(frames, 0.95).toFixed(1)} ms, p99 ${pct(frames, 0.99).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms; frames > 50 ms: ${frames.filter((f) => f > 50).length}`);
} finally {
  await stopAll();
}

// Benchmark (not a test) of the desk's daily work in headless Chromium against the real binary
// (issue 18): from the login form to a usable map, the first view of every page of the desk, and
// the save of a deworming round. A page is "shown" when nothing is in flight (the api module's
// counter, `window.__echinomapPending`), no loading line is left and the page's main element
// has content, steady for 100 ms; the map is usable at the `echinomap:map-ready` mark.
//
//   node bench/desk.mjs [--scale N] [--runs 3]      (after `make web` and a cargo build)
//   ECHINOMAP_BIN=target/release/echinomap node bench/desk.mjs
//   ECHINOMAP_BENCH_DATA_DIR=bench/var100 node bench/desk.mjs --scale 100  (loaded beforehand
//     with `echinomap demo-data --scale 100 --data-dir bench/var100`, kept)
import os from 'node:os';
import { launchChromium, startServer } from '../web/e2e/server.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const scale = arg('scale', 1);
const runs = arg('runs', 3);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const t0 = Date.now();
const server = await startServer({ scale, dataDir: process.env.ECHINOMAP_BENCH_DATA_DIR, log: 'info' });
console.error(`server ready (scale ${scale}) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
const browser = await launchChromium();

async function shown(page, timeout = 60_000) {
  await page.waitForFunction(() => {
    const w = window;
    const busy = (w.__echinomapPending?.() ?? 0) > 0 || document.querySelector('.loading-inline') !== null;
    const main = document.querySelector('main');
    const full = !!main && main.innerText.trim().length > 0;
    const now = performance.now();
    if (busy || !full) { w.__steadySince = undefined; return false; }
    w.__steadySince ??= now;
    return now - w.__steadySince >= 100;
  }, null, { timeout, polling: 20 });
  // The steady wait is not part of the page's time.
  return page.evaluate(() => performance.now() - 100);
}

const results = {};
const add = (k, v) => (results[k] ??= []).push(v);

for (let run = 0; run < runs; run++) {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  const page = await ctx.newPage();
  // Login to a usable map: from pressing 登录 to the map's ready mark.
  await page.goto(`${server.base}/`);
  await page.waitForSelector('input[name=username]');
  await page.fill('input[name=username]', 'epi');
  await page.fill('input[name=password]', 'Qapqal-2024');
  const pressed = await page.evaluate(() => performance.now());
  await page.click('button[type=submit]');
  await page.waitForFunction(() => performance.getEntriesByName('echinomap:map-ready').length > 0, null, { timeout: 120_000 });
  const ready = await page.evaluate(() => performance.getEntriesByName('echinomap:map-ready').at(-1).startTime);
  add('login → usable map', ready - pressed);
  // The map's own requests (profile, risk, hotspots) finish before a page is timed.
  await shown(page);

  // Every page of the navigation, first view (a fresh context each run: nothing cached).
  const ids = await page.$$eval('nav.tabs a[data-nav]', (as) => as.map((a) => a.dataset.nav));
  for (const id of ids) {
    if (id === 'map') continue;
    const start = await page.evaluate((h) => { const t = performance.now(); location.hash = `#/${h}`; return t; }, id);
    const end = await shown(page);
    add(`page ${id}`, end - start);
  }
  // A patient record, opened from the cases page's first row.
  if (ids.includes('cases')) {
    const id = await page.evaluate(async () => (await (await fetch('/api/cases?limit=1')).json()).items?.[0]?.id);
    if (id) {
      const start = await page.evaluate((i) => { const t = performance.now(); location.hash = `#/patient?id=${i}`; return t; }, id);
      add('page patient', (await shown(page)) - start);
    }
  }
  // The deworming round's save: the village with the most live dogs, every dog ticked, on a day
  // of the month no dose exists yet (a new day per run).
  if (ids.includes('round')) {
    const month = new Date().toISOString().slice(0, 7);
    const villages = await page.evaluate(async () => (await (await fetch('/api/villages')).json()).items.map((v) => v.code));
    let best = null;
    for (const code of villages.slice(0, 40)) {
      const r = await page.evaluate(async ([c, m]) => (await fetch(`/api/dewormings/round?village=${c}&month=${m}`)).json(), [code, month]);
      const dogs = r?.items ?? r?.dogs;
      if (dogs && (!best || dogs.length > best.n)) best = { code, n: dogs.length, tags: dogs.map((d) => d.tag) };
    }
    if (best) {
      // A day of last month no earlier run used (a day already dosed is left unchanged, which
      // writes nothing): the minute of the run picks it.
      const prev = new Date(Date.UTC(+month.slice(0, 4), +month.slice(5, 7) - 2, 1)).toISOString().slice(0, 7);
      const day = `${prev}-${String(1 + ((Math.floor(Date.now() / 60000) + run) % 28)).padStart(2, '0')}`;
      const csrf = await page.evaluate(async () => (await (await fetch('/api/auth/me')).json()).csrf_token);
      const ms = await page.evaluate(async ([b, d, token]) => {
        const t = performance.now();
        const r = await fetch('/api/dewormings/round', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token },
          body: JSON.stringify({ village_code: b.code, dosed_on: d, drug: 'praziquantel', method: 'tablet', batch: 'BENCH', dog_tags: b.tags }) });
        const body = await r.json();
        const took = performance.now() - t;
        // Every ticked dog dosed (created) or already dosed that day (unchanged).
        return r.ok && body.created === b.tags.length ? took : -(r.ok ? 1 : r.status);
      }, [best, day, csrf]);
      if (ms < 0) throw new Error(`the round's save failed or did not create every dose: ${-ms}`);
      add(`round save (${best.n} dogs)`, ms);
    }
  }
  await ctx.close();
}

await browser.close();
await server.stop();
console.log(`# desk timings, scale ${scale}, ${runs} runs, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), ${new Date().toISOString()}`);
console.log('| step | median ms | runs |');
console.log('|---|---:|---|');
for (const [k, xs] of Object.entries(results)) console.log(`| ${k} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(', ')} |`);

// Browser test of the map's hotspot and scan panels (issue 22 §1–3), in real headless Chromium
// against the real server with the demo data. The epidemiologist turns hotspots on with the
// defaults (村, K 近邻 k=5): the villages are drawn as circles and the result box says n, the
// weights in words and the correction; 乡镇 (邻接) draws township polygons, H3 网格 (H3 环) cells.
// A month with few cases says why nothing is significant. The scan lists its clusters with
// p-values and draws only the significant ones (the features of the scan source against the
// list); 显示不显著的聚集区 draws the others, marked 不显著. A space-time scan shows each cluster's
// time window, and on the month slider the months of its significant clusters. Phone size
// 390×844, the English switch, and no console error anywhere.
// Screenshots go to target/e2e/desk-hotspots-*.png.
//
//   node web/e2e/desk-hotspots.mjs     (after `npm --prefix web run build` and `cargo build`)
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchChromium, root, startServer } from './server.mjs';

const USER = 'epi';
const PASSWORD = 'Qapqal-2024';
const shots = path.join(root, 'target/e2e');
mkdirSync(shots, { recursive: true });
const deadline = setTimeout(() => fail('desk-hotspots took longer than 6 minutes'), 360_000);
let server, browser, lastPage;
const problems = [];
const log = (...a) => console.log('desk-hotspots:', ...a);
async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
}
async function fail(msg) {
  console.error(`desk-hotspots: FAILED: ${msg}`);
  if (problems.length) console.error(`desk-hotspots: also seen:\n  ${problems.join('\n  ')}`);
  await lastPage?.screenshot({ path: path.join(shots, 'desk-hotspots-failed.png'), fullPage: true }).catch(() => {});
  await cleanup();
  process.exit(1);
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
  log('ok', msg);
}
const shot = (page, name, fullPage = true) => page.screenshot({ path: path.join(shots, `desk-hotspots-${name}.png`), fullPage });
function watchPage(page, tag) {
  page.on('console', (m) => {
    // MapLibre reports a paint expression that fails on the data as a warning: a wrong colour.
    if (m.type() === 'warning' && /Expected value to be of type|Falling back to/.test(m.text())) problems.push(`style warning (${tag}): ${m.text()}`);
    if (m.type() !== 'error') return;
    problems.push(`console error (${tag}): ${m.text()} ${m.location()?.url ?? ''}`);
  });
  page.on('pageerror', (e) => problems.push(`page error (${tag}): ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()} (${tag})`); });
}
async function login(page, base) {
  await page.goto(base + '/');
  await page.waitForSelector('[data-testid=login]');
  await page.fill('input[name=username]', USER);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=map] canvas', { timeout: 30_000 });
  await page.waitForFunction(() => window.__echinomap?.ready, null, { timeout: 30_000 });
  await idle(page);
}
async function idle(page) {
  await page.evaluate(() => new Promise((r) => {
    const m = window.__map;
    if (!m.isMoving() && m.loaded()) { m.once('idle', r); m.triggerRepaint(); setTimeout(r, 1500); } else m.once('idle', r);
  }));
}
const rendered = (page, layers) => page.evaluate((ls) => window.__map.queryRenderedFeatures({ layers: ls }).length, layers);
const text = async (page, sel) => ((await page.textContent(sel)) ?? '').replace(/\s+/g, ' ').trim();
let lastQuery = '';
/** Every API request of the page, to wait for quiet and to see what was asked. */
const inflight = new Set();
const asked = [];
function track(page) {
  page.on('request', (r) => { if (r.url().includes('/api/')) { inflight.add(r); asked.push(r.url()); } });
  page.on('requestfinished', (r) => inflight.delete(r));
  page.on('requestfailed', (r) => inflight.delete(r));
}
/** Waits until no API request has been in flight for half a second, then for the map. */
async function quiet(page) {
  for (let calm = 0; calm < 5;) {
    await page.waitForTimeout(100);
    calm = inflight.size ? 0 : calm + 1;
  }
  await idle(page);
}
/** Does `action`, waits for an answer of `p` it causes and for quiet; returns the last such answer
 *  (a period change can ask twice: the last request is the one drawn). */
async function after(page, action, p, ...want) {
  const matches = (r) => { const u = new URL(r.url()); return u.pathname === p && want.every((w) => u.search.includes(w)); };
  const seen = [];
  const onResponse = (r) => { if (matches(r)) seen.push(r); };
  page.on('response', onResponse);
  const got = page.waitForResponse(matches, { timeout: 120_000 });
  await action();
  await got;
  await quiet(page);
  page.off('response', onResponse);
  const r = seen.at(-1);
  lastQuery = new URL(r.url()).search;
  check(r.ok(), `${p}${lastQuery} answered ${r.status()}${seen.length > 1 ? ` (of ${seen.length} requests)` : ''}`);
  return r.json();
}
/** The distinct clusters of the scan source drawn on the map, significant or not. */
const drawnClusters = (page, layers) => page.evaluate((ls) => [...new Set(window.__map.queryRenderedFeatures({ layers: ls })
  .map((f) => f.properties.cluster_rank))].sort(), layers);

async function run() {
  server = await startServer();
  const { base, port } = server;
  log('server at', base);
  browser = await launchChromium();
  const foreign = [];
  const newContext = async (opts = {}) => {
    const c = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', ...opts });
    await c.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
      if (u.host !== `127.0.0.1:${port}`) { foreign.push(u.href); return route.abort(); }
      return route.continue();
    });
    return c;
  };
  const ctx = await newContext();
  const page = await ctx.newPage();
  lastPage = page;
  watchPage(page, 'desk');
  track(page);
  await login(page, base);

  // ---- 1. Hotspots with the defaults: villages, 5 nearest neighbours, FDR α=0.05.
  let json = await after(page, () => page.locator('[data-layer=hotspots] input').check(), '/api/hotspots', 'layer=human_cases');
  check(json.properties?.unit === 'village' && json.features.every((f) => f.geometry.type === 'Point'), `the default unit is the village, drawn as points (${json.features.length})`);
  check(await page.inputValue('[data-testid=hs-unit]') === 'village' && await page.inputValue('[data-testid=hs-weights]') === 'knn' && await page.inputValue('[data-testid=hs-k]') === '5',
    'the panel starts on 村, K 近邻, k=5');
  await page.waitForSelector('[data-testid=hs-n]');
  const n = await text(page, '[data-testid=hs-n]');
  const w = await text(page, '[data-testid=hs-weights-info]');
  const corr = await text(page, '[data-testid=hs-correction-info]');
  check(new RegExp(`n\\s*${json.properties.n}个村`).test(n), `the result box says n: ${n}`);
  check(w.includes('K近邻 k=5') && /邻居数 \d+–\d+/.test(w), `the result box says the weights in words: ${w}`);
  check(corr.includes('FDR α=0.05'), `the result box says the correction: ${corr}`);
  check(/孤立单元/.test(await text(page, '[data-testid=hs-islands]')), `the result box lists the islands: ${await text(page, '[data-testid=hs-islands]')}`);
  const sig = await text(page, '[data-testid=hs-significant]');
  check(/热点 \d+ · 冷点 \d+/.test(sig), `the result box counts the significant hot and cold spots: ${sig}`);
  const circles = await rendered(page, ['hotspots-circle']);
  check(circles > 0, `villages are drawn as circles coloured by their Gi* bin (${circles})`);
  check((await text(page, '[data-legend=hotspots] .legend-title')).includes('村'), 'the legend names the unit');
  await shot(page, 'villages');

  // A distance band left empty is the automatic one, said so.
  json = await after(page, () => page.selectOption('[data-testid=hs-weights]', 'distance'), '/api/hotspots', 'weights=distance');
  const wd = await text(page, '[data-testid=hs-weights-info]');
  check(/距离带 [\d.]+ km（自动/.test(wd) && !lastQuery.includes('band_km'), `an empty band is the automatic one: ${wd}`);

  // 乡镇: contiguity by default, township polygons.
  json = await after(page, () => page.selectOption('[data-testid=hs-unit]', 'township'), '/api/hotspots', 'unit=township');
  check(await page.inputValue('[data-testid=hs-weights]') === 'contiguity', '乡镇 switches the weights to 邻接');
  check(json.features.length > 0 && json.features.every((f) => /Polygon/.test(f.geometry.type)), `townships come as polygons (${json.features.length})`);
  check((await text(page, '[data-testid=hs-weights-info]')).includes('邻接'), `the result box says 邻接: ${await text(page, '[data-testid=hs-weights-info]')}`);
  check(await rendered(page, ['hotspots-fill']) > 0, 'townships are drawn as filled polygons');
  await shot(page, 'townships');

  // H3: the ring, the resolution.
  json = await after(page, () => page.selectOption('[data-testid=hs-unit]', 'h3'), '/api/hotspots', 'unit=h3');
  check(await page.inputValue('[data-testid=hs-weights]') === 'ring' && await page.locator('[data-testid=hs-resolution]').count() === 1, 'H3 网格 offers the ring and the resolution');
  check((await text(page, '[data-testid=hs-weights-info]')).includes('H3 环'), `the result box says the ring: ${await text(page, '[data-testid=hs-weights-info]')}`);
  check(await rendered(page, ['hotspots-fill']) > 0, 'H3 cells are drawn');
  json = await after(page, () => page.selectOption('[data-testid=hs-unit]', 'village'), '/api/hotspots', 'unit=village');
  await page.waitForFunction(() => document.querySelector('[data-testid=hs-weights-info]')?.textContent.includes('K近邻'));

  // A month with few cases: nothing significant, and why.
  json = await after(page, () => page.selectOption('[data-testid=period-kind]', 'month'), '/api/hotspots', 'unit=village');
  let why = 0;
  for (let i = 0; i < 6 && !why; i++) {
    why = await page.locator('[data-testid=hs-why] li').count();
    if (why) break;
    const idx = Number(await page.inputValue('[data-testid=period-slider]'));
    json = await after(page, () => page.locator('[data-testid=period-slider]').fill(String(idx - 1)), '/api/hotspots', 'unit=village');
  }
  check(why > 0, `a month with few cases says why nothing is significant: ${await text(page, '[data-testid=hs-why]')}`);
  const whyText = await text(page, '[data-testid=hs-why]');
  check(/[\u4e00-\u9fff]/.test(whyText) && !/[a-z]{6,}/.test(whyText.replace(/FDR|Bonferroni|LISA/g, '')), `the reasons are worded in Chinese: ${whyText}`);
  await shot(page, 'why');
  await page.locator('[data-layer=hotspots] input').uncheck();
  await page.selectOption('[data-testid=period-kind]', 'year');

  // ---- 2. The scan: clusters listed with their p-values, only the significant ones drawn.
  json = await after(page, () => page.locator('[data-layer=scan] input').check(), '/api/scan', 'layer=human_cases');
  await page.waitForSelector('[data-testid=scan-count]');
  const listed = await page.locator('[data-testid=scan-cluster]').count();
  const listedSig = await page.locator('[data-testid=scan-cluster][data-significant=true]').count();
  check(listed === listedSig && listed === json.features.length, `by default only significant clusters are listed (${listed}; ${json.properties.not_significant ?? 0} hidden)`);
  const ps = await page.locator('[data-testid=scan-cluster] .p').allTextContents();
  check(ps.every((p) => /^p(<0\.001|=0\.\d{3}|=1\.000)$/.test(p.trim())), `each cluster has its p-value (${ps.join(', ')})`);
  const drawn = await drawnClusters(page, ['scan-line']);
  check(drawn.length === listedSig, `the map draws the ${listedSig} significant clusters of the list (drawn: ${drawn.join(',')})`);
  if (listedSig === 0) check(await page.locator('[data-testid=scan-why] li').count() > 0, `no significant cluster, and why: ${await text(page, '[data-testid=scan-why]')}`);
  const members = await page.locator('[data-testid=scan-cluster] .line3').allTextContents();
  check(members.every((m) => /[\u4e00-\u9fff]/.test(m) && !/\d{12}/.test(m)), `member villages by name, not code (${members[0] ?? ''})`);
  await shot(page, 'scan');

  // 显示不显著的聚集区: the others dashed grey, marked 不显著.
  json = await after(page, () => page.locator('[data-testid=scan-show-all]').check(), '/api/scan', 'show=all');
  const all = await page.locator('[data-testid=scan-cluster]').count();
  const ns = await page.locator('[data-testid=scan-cluster][data-significant=false]').count();
  check(all === json.features.length && all >= listed, `show=all lists every cluster (${all}, ${ns} not significant)`);
  check(await page.locator('[data-testid=scan-cluster][data-significant=false] [data-testid=scan-ns]').count() === ns, 'each cluster that is not significant is marked 不显著');
  const drawnNs = await drawnClusters(page, ['scan-ns-line']);
  check(drawnNs.length === ns, `the map draws the ${ns} clusters that are not significant dashed (${drawnNs.join(',')})`);
  if (ns > 0) check((await text(page, '[data-legend=scan]')).includes('不显著'), 'the legend explains 不显著');
  // The table of the scan: one row per cluster in view, centre and members by name.
  await page.selectOption('[data-testid=table-layer]', 'scan');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=feature-table] tbody tr').length > 0, null, { timeout: 15_000 });
  const rows = await page.locator('[data-testid=feature-table] tbody tr').allTextContents();
  check(rows.length <= all && rows.every((r) => /[\u4e00-\u9fff]/.test(r) && !/\d{12}/.test(r)), `the table lists the clusters in view by name (${rows.length}: ${rows[0]?.replace(/\s+/g, ' ').slice(0, 80)})`);
  await shot(page, 'scan-all');
  await page.locator('[data-testid=scan-show-all]').uncheck();

  // ---- 3. The space-time scan: time windows in the list, the months marked on the slider.
  json = await after(page, () => page.selectOption('[data-testid=scan-kind]', 'space_time'), '/api/scan/space-time', 'layer=human_cases');
  check(json.properties?.kind === 'space_time' && Array.isArray(json.properties.months), `the space-time scan answers over ${json.properties?.months?.length} months`);
  const stCount = await page.locator('[data-testid=scan-cluster]').count();
  const windows = await page.locator('[data-testid=scan-window]').allTextContents();
  check(windows.length === stCount && windows.every((x) => /^\d{4}-\d{2}( 至 \d{4}-\d{2})?$/.test(x.trim())), `each space-time cluster shows its time window (${windows.join(' | ')})`);
  if (stCount === 0) check(await page.locator('[data-testid=scan-why] li').count() > 0, `no significant space-time cluster, and why: ${await text(page, '[data-testid=scan-why]')}`);
  // On the month slider: the months of the significant clusters, strong or faint by the month.
  // On a single month the space-time scan keeps the server's default period (24 months).
  json = await after(page, () => page.selectOption('[data-testid=period-kind]', 'month'), '/api/scan/space-time', 'layer=human_cases');
  check(!lastQuery.includes('from=') && json.properties.months.length === 24, `on the month slider the space-time scan covers the last 24 months (${json.properties.months[0]}…${json.properties.months.at(-1)})`);
  const stSig = json.features.filter((f) => f.properties.significant !== false).length;
  if (stSig > 0) {
    const bands = await page.locator('[data-testid=slider-marks] .slider-band').count();
    check(bands === stSig, `the slider marks the months of the ${stSig} significant clusters (${bands} bands)`);
    const first = json.features[0].properties;
    const months = await page.evaluate(() => window.__echinomap.list.value);
    const inside = months.indexOf(first.start_month);
    if (inside >= 0) {
      await page.locator('[data-testid=period-slider]').fill(String(inside));
      await page.waitForTimeout(300);
      const faint = await page.locator(`[data-testid=scan-cluster][data-rank="${first.cluster_rank}"].faint`).count();
      check(faint === 0, `on ${first.start_month} the cluster #${first.cluster_rank} (${first.start_month}–${first.end_month}) is drawn strong`);
    }
    const op = await page.evaluate(() => window.__map.getPaintProperty('scan-line', 'line-opacity'));
    check(Array.isArray(op) && op[0] === 'case', 'the clusters\' opacity follows the slider\'s month');
  }
  await shot(page, 'spacetime');
  // A spatial scan of one month: too few cases, and the panel says why in words.
  const lastMonth = await page.getAttribute('[data-testid=period-slider]', 'max');
  await page.locator('[data-testid=period-slider]').fill(lastMonth);
  json = await after(page, () => page.selectOption('[data-testid=scan-kind]', 'space'), '/api/scan', 'layer=human_cases');
  if ((json.properties?.significant ?? 0) === 0) {
    const scanWhy = await text(page, '[data-testid=scan-why]');
    check(json.properties.diagnosis.reasons.length > 0 && /[\u4e00-\u9fff]/.test(scanWhy) && !/[a-z]{6,}/.test(scanWhy), `a month's scan says why nothing is significant: ${scanWhy}`);
  } else {
    log(`note: the scan of ${await page.getAttribute('[data-testid=period]', 'data-period')} found ${json.properties.significant} significant clusters`);
  }
  await page.selectOption('[data-testid=scan-kind]', 'space_time');
  await quiet(page);
  check(!(await page.locator('[data-testid=scan-panel]').textContent()).includes('undefined'), 'no undefined in the scan panel');

  // ---- English.
  await page.click('[data-testid=lang]');
  await page.locator('[data-layer=hotspots] input').check();
  await page.waitForSelector('[data-testid=hs-weights-info]');
  await page.waitForFunction(() => /k nearest neighbours, k=5/.test(document.querySelector('[data-testid=hs-weights-info]')?.textContent ?? ''), null, { timeout: 60_000 });
  check((await text(page, '[data-testid=hs-correction-info]')).includes('FDR α=0.05'), 'English: the correction');
  const enScan = await text(page, '[data-testid=scan-count]');
  check(/significant cluster/.test(enScan), `English: the scan's count (${enScan})`);
  const enWhy = await page.locator('[data-testid=hs-why]').count() ? await text(page, '[data-testid=hs-why]') : '';
  check(!/[\u4e00-\u9fff]/.test(enWhy), `English: the why text has no Chinese (${enWhy || 'nothing to explain'})`);
  await idle(page);
  await shot(page, 'english');
  await page.click('[data-testid=lang]');

  // ---- Phone size: the panels fit 390 px.
  const phoneCtx = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const phone = await phoneCtx.newPage();
  lastPage = phone;
  watchPage(phone, 'phone');
  track(phone);
  await login(phone, base);
  if (!(await phone.locator('[data-layer=hotspots]').isVisible())) await phone.click('.panel-toggle');
  await after(phone, () => phone.locator('[data-layer=hotspots] input').check(), '/api/hotspots', 'unit=village');
  await after(phone, () => phone.locator('[data-layer=scan] input').check(), '/api/scan', 'layer=human_cases');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth);
  check(overflow <= 392, `nothing is wider than the phone (${overflow} px)`);
  const box = await phone.locator('[data-testid=hs-result]').boundingBox();
  check(box && box.x >= 0 && box.x + box.width <= 390, `the result box fits the phone (${box && Math.round(box.x)}–${box && Math.round(box.x + box.width)})`);
  await shot(phone, 'phone', false);
  await phone.locator('[data-testid=scan-result]').scrollIntoViewIfNeeded();
  await shot(phone, 'phone-scan', false);

  check(foreign.length === 0, `no request left the server (${foreign.join(', ')})`);
  check(problems.length === 0, `no console error, page error or failed request${problems.length ? `:\n  ${problems.join('\n  ')}` : ''}`);
}

run().then(async () => {
  clearTimeout(deadline);
  await cleanup();
  log('passed');
}, (e) => fail(e.stack ?? String(e)));

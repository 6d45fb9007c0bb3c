// Browser test of the count's scan screen (盘点, issue 20 §3 §5), in real headless Chromium at a
// 5-inch PDA's size (360×640) against the real server with the demo data. The test makes its own
// store, items, GTINs and lots through the API (admin, then the demo keeper), opens a count as
// the keeper, and on the page:
//   1. a keyboard-wedge scan (the digits of a GTIN typed 5 ms apart, then Enter, no field
//      focused) counts its line; the same digits typed slowly (150 ms apart) count nothing;
//   2. the camera: Chromium's fake camera plays a Y4M video of a GS1 DataMatrix the test draws
//      with bwip-js ((01) GTIN (17) expiry (10) batch); it is read by zxing-wasm (Chromium on
//      Linux has no BarcodeDetector), whose .wasm comes from our /assets/, and its lot counts once;
//   3. offline: three scans queue (count-pending 3) and show at once, are sent when the network
//      is back, and the same entries sent again (a saved copy of the queue put back, the page
//      reloaded) are answered `duplicate` and change nothing on the server;
//   4. a typed quantity sets a line; finalising with differences asks for a reason on those lines;
//      with the reasons chosen it finalises and the stock on hand is what was counted;
//   3b. 扫描枪设置 set to '|': a wedge GS1 string with '|' for GS counts its lot;
//   5. as admin (a second browser context, a second store and count): an unmapped GTIN is refused
//      with 映射到品目, which opens the catalogue's barcode form with the code; mapped there, back
//      to the count (browser back), the same scan counts.
// Fails on any console error, unexpected HTTP error or request to a host other than the server.
// Screenshots go to target/e2e/desk-stock-scan-*.png.
//
//   node web/e2e/desk-stock-scan.mjs   (after `npm --prefix web run build` and `cargo build`)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bwipjs from 'bwip-js';
import { request } from 'playwright-core';
import { launchChromium, root, startServer } from './server.mjs';

const shots = path.join(root, 'target/e2e');
mkdirSync(shots, { recursive: true });
const deadline = setTimeout(() => fail('desk-stock-scan took longer than 4 minutes'), 240_000);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'echinomap-scan-'));
let server, browser;
const problems = [];
const log = (...a) => console.log('desk-stock-scan:', ...a);
async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}
let lastPage;
async function fail(msg) {
  console.error(`desk-stock-scan: FAILED: ${msg}`);
  // What the screen showed, for the log.
  const state = await lastPage?.evaluate(() => ['count-last-scan', 'count-refused', 'scan-camera', 'count-sync', 'count-finalise-error']
    .map((id) => { const el = document.querySelector(`[data-testid=${id}]`); return el ? `${id}: ${el.textContent.replace(/\s+/g, ' ').trim()} ${JSON.stringify({ ...el.dataset })}` : `${id}: none`; }).join('\n  ')).catch(() => null);
  if (state) console.error(`desk-stock-scan: the screen:\n  ${state}`);
  if (problems.length) console.error(`desk-stock-scan: also seen:\n  ${problems.join('\n  ')}`);
  await lastPage?.screenshot({ path: path.join(shots, 'desk-stock-scan-failed.png'), fullPage: true }).catch(() => {});
  await cleanup();
  process.exit(1);
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
  log('ok', msg);
}
const shot = (page, name) => page.screenshot({ path: path.join(shots, `desk-stock-scan-${name}.png`), fullPage: true });
const PASSWORD = 'Qapqal-2024';

/** The GS1 check digit of the digits before it (mod 10, weights 3 and 1 from the right). */
function gs1Check(body) {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += Number(body[body.length - 1 - i]) * (i % 2 === 0 ? 3 : 1);
  return String((10 - (sum % 10)) % 10);
}
/** A GTIN-14 starting 0 69 (an EAN-13 of China's prefix), random otherwise. */
function newGtin() {
  let d = '069';
  while (d.length < 13) d += String(Math.floor(Math.random() * 10));
  return d + gs1Check(d);
}

/**
 * A Y4M video (4:2:0, what Chromium's fake camera reads) of a barcode's module matrix drawn
 * black on white: `module` pixels a module, a quiet zone around, a few identical frames (the
 * camera loops them).
 */
function y4mOf(matrix, { width = 640, height = 480, module = 12, frames = 10 } = {}) {
  const { pixs, pixx, pixy } = matrix;
  const y = Buffer.alloc(width * height, 235);
  const ox = Math.floor((width - pixx * module) / 2);
  const oy = Math.floor((height - pixy * module) / 2);
  if (ox < 4 * module || oy < 4 * module) throw new Error('the code does not fit with its quiet zone');
  for (let r = 0; r < pixy * module; r++)
    for (let c = 0; c < pixx * module; c++)
      if (pixs[Math.floor(r / module) * pixx + Math.floor(c / module)]) y[(oy + r) * width + ox + c] = 16;
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, chroma]);
  return Buffer.concat([Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`), ...Array(frames).fill(frame)]);
}

/** An API session of `user` outside the browser (cookie + CSRF token). */
async function apiAs(base, user) {
  const ctx = await request.newContext({ baseURL: base });
  const login = await ctx.post('/api/auth/login', { data: { username: user, password: PASSWORD } });
  if (!login.ok()) throw new Error(`${user} cannot log in (${login.status()})`);
  const me = await (await ctx.get('/api/auth/me')).json();
  const call = async (method, p, body) => {
    const r = await ctx.fetch(p, { method, data: body, headers: { Accept: 'application/json', 'X-CSRF-Token': me.csrf_token ?? '' } });
    return { status: r.status(), json: await r.json().catch(() => null) };
  };
  const must = async (method, p, body) => {
    const r = await call(method, p, body);
    if (r.status >= 300) throw new Error(`${user}: ${method} ${p} answered ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json;
  };
  return { call, must, dispose: () => ctx.dispose() };
}

async function run() {
  server = await startServer();
  const { base, port } = server;
  log('server at', base);

  // ---- The store, two items with their GTINs, three lots, received; a count opened.
  const admin = await apiAs(base, 'admin');
  const tag = Date.now().toString(36).slice(-6).toUpperCase();
  const gtinA = newGtin();
  const gtinB = newGtin();
  const itemA = (await admin.must('POST', '/api/stock/items', { code: `E2E-A-${tag}`, name: 'E2E吡喹酮片', kind: 'praziquantel', unit: '片', pack_size: 10 })).item;
  const itemB = (await admin.must('POST', '/api/stock/items', { code: `E2E-B-${tag}`, name: 'E2E阿苯达唑片', kind: 'albendazole', unit: '片', pack_size: 10 })).item;
  await admin.must('POST', '/api/stock/barcodes', { code: gtinA, item_id: itemA.id, pack_quantity: 10 });
  await admin.must('POST', '/api/stock/barcodes', { code: gtinB, item_id: itemB.id, pack_quantity: 10 });
  const store = (await admin.must('POST', '/api/stock/stores', { code: `E2E-${tag}`, name: 'E2E盘点测试库', kind: 'county_cdc', place_code: '654022' })).store;
  await admin.dispose();
  const keeper = await apiAs(base, 'keeper');
  const today = new Date().toISOString().slice(0, 10);
  await keeper.must('POST', '/api/stock/receipts', {
    store_id: store.id, received_on: today, supplier: 'E2E', lines: [
      { item_id: itemA.id, batch: 'E2EA1', expires_on: '2027-12-31', quantity: 100 },
      { item_id: itemA.id, batch: 'E2EA2', expires_on: '2028-06-30', quantity: 50 },
      { item_id: itemB.id, batch: 'E2EB1', expires_on: '2028-03-31', quantity: 30 },
    ],
  });
  const countId = (await keeper.must('POST', '/api/stock/counts', { store_id: store.id })).count.id;
  const countLines = async () => (await keeper.must('GET', `/api/stock/counts/${countId}`)).lines;
  const lots = Object.fromEntries((await countLines()).map((l) => [l.lot.batch, l.lot.id]));
  check(lots.E2EA1 && lots.E2EA2 && lots.E2EB1 && Object.keys(lots).length === 3, `count ${countId} of store ${store.code} has the three lots received (${Object.keys(lots).join(', ')})`);
  const serverCounted = async (batch) => (await countLines()).find((l) => l.lot.id === lots[batch])?.counted ?? null;

  // The camera's picture: a GS1 DataMatrix of lot E2EA1 (01 GTIN, 17 expiry, 10 batch).
  const dm = bwipjs.raw({ bcid: 'gs1datamatrix', text: `(01)${gtinA}(17)271231(10)E2EA1` })[0];
  const video = path.join(tmp, 'gs1-datamatrix.y4m');
  writeFileSync(video, y4mOf(dm));

  browser = await launchChromium({ args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`] });
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, locale: 'zh-CN' });
  await context.grantPermissions(['camera'], { origin: base });
  const foreign = [];
  const wasmFetched = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    if (u.host !== `127.0.0.1:${port}`) { foreign.push(u.href); return route.abort(); }
    return route.continue();
  });
  const page = await context.newPage();
  lastPage = page;
  // Answers the test provokes on purpose (finalising without reasons).
  const expected = [];
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.endsWith('.wasm')) wasmFetched.push(`${r.status()} ${u.pathname}`);
    if (r.status() < 400) return;
    const i = expected.findIndex((e) => e.pathname === u.pathname && e.status === r.status());
    if (i >= 0) expected.splice(i, 1);
    else problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    if (!/^(data|blob):/.test(r.url()) && !/ERR_ABORTED|ERR_INTERNET_DISCONNECTED/.test(r.failure()?.errorText ?? '')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });

  await page.goto(base + '/');
  await page.waitForSelector('[data-testid=login]');
  await page.fill('input[name=username]', 'keeper');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=logout]', { timeout: 30_000 });
  await page.goto(`${base}/#/stock-count?id=${countId}`);
  await page.waitForSelector(`[data-testid=count-line][data-lot="${lots.E2EB1}"]`, { timeout: 30_000 });
  check(await page.locator('[data-testid=count-line]').count() === 3, 'the scan screen lists the three lines of the count');
  const lineCounted = (batch) => page.getAttribute(`[data-testid=count-line][data-lot="${lots[batch]}"]`, 'data-counted');
  // Waits for a line to show `want`; else fails with what the screen shows.
  const waitCounted = (batch, want, timeout = 20_000) => page.waitForFunction(([sel, w]) => document.querySelector(sel)?.getAttribute('data-counted') === w,
    [`[data-testid=count-line][data-lot="${lots[batch]}"]`, String(want)], { timeout }).catch(async (e) => {
    throw new Error(`line ${batch} did not show ${want} (it shows ${await lineCounted(batch)}; .wasm fetched: ${wasmFetched.join() || 'none'})\n${e.message}`);
  });
  const pendingText = async () => (await page.textContent('[data-testid=count-pending]')).trim();
  const waitSynced = () => page.waitForFunction(() => document.querySelector('[data-testid=count-pending]')?.textContent.trim() === '0'
    && document.querySelector('[data-testid=count-sync]')?.getAttribute('data-sync') === 'idle', null, { timeout: 30_000 });
  check(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'nothing overflows the 360 px width');
  await shot(page, 'open');

  // ---- 1. The keyboard wedge: a burst of digits and Enter, no field focused.
  const ean13B = gtinB.slice(1);
  await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : null));
  await page.keyboard.type(ean13B, { delay: 5 });
  await page.keyboard.press('Enter');
  await waitCounted('E2EB1', 10);
  const lastText = (await page.textContent('[data-testid=count-last-scan]')).replace(/\s+/g, ' ').trim();
  check(lastText.includes('E2E阿苯达唑片') && lastText.includes('+10') && lastText.includes('已计数'), `a wedge scan of EAN ${ean13B} counts its line at once, the last scan in big: ${lastText}`);
  await waitSynced();
  check(await serverCounted('E2EB1') === 10, 'the server counted the scan (10 tablets, one pack)');
  const seqBefore = await page.getAttribute('[data-testid=count-last-scan]', 'data-seq');
  await page.keyboard.type(ean13B, { delay: 150 });
  await page.keyboard.press('Enter');
  await page.waitForTimeout(1500);
  check(await lineCounted('E2EB1') === '10' && await page.getAttribute('[data-testid=count-last-scan]', 'data-seq') === seqBefore && await pendingText() === '0',
    'the same digits typed slowly (150 ms apart) count nothing');
  await shot(page, 'wedge');

  // ---- 2. The camera: the fake camera shows the GS1 DataMatrix of lot E2EA1.
  await page.click('[data-testid=camera-start]');
  await page.waitForSelector('[data-testid=scan-camera][data-state=reading]', { timeout: 30_000 });
  await waitCounted('E2EA1', 10, 60_000);
  const via = await page.getAttribute('[data-testid=scan-camera]', 'data-via');
  check(via === 'wasm' && wasmFetched.some((w) => /^200 \/assets\/.+\.wasm$/.test(w)), `the camera read the DataMatrix with the WebAssembly decoder served from our assets (${wasmFetched.join(', ')})`);
  // The code stays in view: it is not counted again.
  await page.waitForTimeout(2500);
  await waitSynced();
  check(await lineCounted('E2EA1') === '10' && await lineCounted('E2EA2') === '' && await serverCounted('E2EA1') === 10,
    'the GS1 code counts its own lot (E2EA1, not E2EA2) once while it stays in front of the camera');
  await shot(page, 'camera');
  await page.click('[data-testid=camera-stop]');
  await page.waitForSelector('[data-testid=scan-camera]', { state: 'detached' });

  // ---- 3. Offline: three scans queue, show at once, are sent once online, and a resend adds nothing.
  await context.setOffline(true);
  await page.waitForFunction(() => document.querySelector('[data-testid=count-sync]')?.getAttribute('data-sync') === 'offline', null, { timeout: 10_000 });
  for (let i = 0; i < 3; i++) {
    await page.keyboard.type(ean13B, { delay: 5 });
    await page.keyboard.press('Enter');
    await page.waitForTimeout(200);
  }
  await page.waitForFunction(() => document.querySelector('[data-testid=count-pending]')?.textContent.trim() === '3', null, { timeout: 10_000 });
  check(await lineCounted('E2EB1') === '40', 'offline, three scans are queued (count-pending 3) and the line already shows 40');
  const key = `echinomap.count.${countId}.outbox`;
  const saved = await page.evaluate((k) => localStorage.getItem(k), key);
  check(JSON.parse(saved).length === 3 && JSON.parse(saved).every((e) => e.client_id && e.mode === 'scan'), 'the queue is kept in localStorage with a client id per entry');
  await shot(page, 'offline');
  await context.setOffline(false);
  await waitSynced();
  check(await serverCounted('E2EB1') === 40, 'back online, the queue is sent: the server counted 40');
  await page.evaluate(([k, v]) => localStorage.setItem(k, v), [key, saved]);
  const resent = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/api/stock/counts/${countId}/entries`, { timeout: 30_000 });
  await page.reload();
  const answer = await (await resent).json();
  await page.waitForSelector(`[data-testid=count-line][data-lot="${lots.E2EB1}"]`);
  await waitSynced();
  check(answer.results.length === 3 && answer.results.every((r) => r.status === 'duplicate') && await serverCounted('E2EB1') === 40 && await lineCounted('E2EB1') === '40',
    `the same three entries sent again are answered ${[...new Set(answer.results.map((r) => r.status))].join()} and the count stays 40`);

  // ---- 3b. 扫描枪设置: a scanner that cannot send GS sends '|' in its place.
  await page.click('[data-testid=scanner-settings] summary');
  await page.selectOption('[data-testid=scanner-settings] select[name=gs_replacement]', '|');
  check(await page.evaluate(() => localStorage.getItem('echinomap.gs_replacement')) === '|', "扫描枪设置: '|' is kept as the GS stand-in (localStorage echinomap.gs_replacement)");
  await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : null));
  const piped = `01${gtinA}10E2EA2|21S${tag}`;
  await page.keyboard.type(piped, { delay: 5 });
  await page.keyboard.press('Enter');
  await waitCounted('E2EA2', 10);
  await waitSynced();
  check(await serverCounted('E2EA2') === 10 && await lineCounted('E2EA1') === '10', `a wedge scan of ${piped} ('|' for GS) counts lot E2EA2 (batch, then serial)`);
  await shot(page, 'gs-stand-in');

  // ---- 4. Typed entry, then finalising: a difference needs its reason.
  await page.click('[data-testid=count-typed-toggle]');
  await page.selectOption('[data-testid=count-set] select[name=lot]', String(lots.E2EA2));
  await page.fill('[data-testid=count-set] input[name=quantity]', '50');
  await page.selectOption('[data-testid=count-set] select[name=mode]', 'set');
  await page.click('[data-testid=count-set] button[type=submit]');
  await waitCounted('E2EA2', 50);
  await waitSynced();
  check(await serverCounted('E2EA2') === 50, 'a typed quantity sets its line (E2EA2: 50)');
  expected.push({ pathname: `/api/stock/counts/${countId}/finalise`, status: 422 });
  const refusal = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/stock/counts/${countId}/finalise`);
  await page.click('[data-testid=count-finalise]');
  const refused = await (await refusal).json();
  await page.waitForSelector('[data-testid=count-finalise-error]');
  const needs = await page.locator('[data-testid=count-line].needs-reason').evaluateAll((ls) => ls.map((l) => Number(l.getAttribute('data-lot'))).sort());
  const msg = (await page.textContent('[data-testid=count-finalise-error]')).trim();
  check(refused.error?.code === 'reason_required' && JSON.stringify(needs) === JSON.stringify([lots.E2EA1, lots.E2EB1].sort()) && /[\u4e00-\u9fff]/.test(msg),
    `finalising with differences (E2EA1 10 of 100, E2EB1 40 of 30) asks for their reasons, in Chinese: ${msg}`);
  await shot(page, 'reason-required');
  await page.selectOption(`[data-testid=count-line][data-lot="${lots.E2EA1}"] select[data-testid=line-reason]`, 'lost');
  await page.selectOption(`[data-testid=count-line][data-lot="${lots.E2EB1}"] select[data-testid=line-reason]`, 'count_correction');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=count-line].needs-reason').length === 0, null, { timeout: 10_000 });
  await page.click('[data-testid=count-finalise]');
  await page.waitForSelector('[data-testid=stock-count][data-state=finalised]', { timeout: 30_000 });
  const onHand = (await keeper.must('GET', `/api/stock/on-hand?store=${store.id}`)).items;
  const qty = (batch) => onHand.find((r) => r.lot.id === lots[batch])?.quantity ?? 0;
  check(qty('E2EA1') === 10 && qty('E2EA2') === 50 && qty('E2EB1') === 40, `finalised: the stock on hand is what was counted (E2EA1 ${qty('E2EA1')}, E2EA2 ${qty('E2EA2')}, E2EB1 ${qty('E2EB1')})`);
  await shot(page, 'finalised');
  await keeper.dispose();

  // ---- 5. An unknown code, scanned by an administrator: 映射到品目 opens the catalogue's barcode
  //         form with the code; mapped there, back to the count, the same scan counts.
  const admin2 = await apiAs(base, 'admin');
  const gtinC = newGtin();
  const itemC = (await admin2.must('POST', '/api/stock/items', { code: `E2E-C-${tag}`, name: 'E2E映射测试片', kind: 'praziquantel', unit: '片', pack_size: 10 })).item;
  const store2 = (await admin2.must('POST', '/api/stock/stores', { code: `E2E2-${tag}`, name: 'E2E映射测试库', kind: 'county_cdc', place_code: '654022' })).store;
  await admin2.must('POST', '/api/stock/receipts', { store_id: store2.id, received_on: today, supplier: 'E2E', lines: [{ item_id: itemC.id, batch: 'E2EC1', expires_on: '2028-01-31', quantity: 5 }] });
  const count2 = (await admin2.must('POST', '/api/stock/counts', { store_id: store2.id })).count.id;
  const lotC = (await admin2.must('GET', `/api/stock/counts/${count2}`)).lines[0].lot.id;
  const adminContext = await browser.newContext({ viewport: { width: 360, height: 640 }, locale: 'zh-CN' });
  const ap = await adminContext.newPage();
  lastPage = ap;
  ap.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`admin console error: ${m.text()}`); });
  ap.on('pageerror', (e) => problems.push(`admin page error: ${e.message}`));
  ap.on('response', (r) => { if (r.status() >= 400) problems.push(`admin HTTP ${r.status()} ${r.url()}`); });
  await ap.goto(base + '/');
  await ap.waitForSelector('[data-testid=login]');
  await ap.fill('input[name=username]', 'admin');
  await ap.fill('input[name=password]', PASSWORD);
  await ap.click('[data-testid=login] button[type=submit]');
  await ap.waitForSelector('[data-testid=logout]', { timeout: 30_000 });
  await ap.goto(`${base}/#/stock-count?id=${count2}`);
  const lineC = `[data-testid=count-line][data-lot="${lotC}"]`;
  await ap.waitForSelector(lineC, { timeout: 30_000 });
  const wedgeC = async () => {
    await ap.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : null));
    await ap.keyboard.type(gtinC, { delay: 5 });
    await ap.keyboard.press('Enter');
  };
  await wedgeC();
  await ap.waitForSelector('[data-testid=count-refused] li[data-code=barcode_unknown] [data-testid=count-map-code]', { timeout: 20_000 });
  const refusedText = (await ap.textContent('[data-testid=count-refused] li[data-code=barcode_unknown]')).replace(/\s+/g, ' ').trim();
  check(refusedText.includes(gtinC) && refusedText.includes('尚未对应') && refusedText.includes('映射到品目') && await ap.getAttribute(lineC, 'data-counted') === '',
    `an unmapped GTIN is refused with the unknown-code sentence and, for an administrator, 映射到品目: ${refusedText}`);
  await shot(ap, 'unknown-code');
  await ap.click('[data-testid=count-map-code]');
  await ap.waitForSelector('[data-testid=barcode-form] input[name=code]', { timeout: 20_000 });
  check(await ap.inputValue('[data-testid=barcode-form] input[name=code]') === gtinC, '映射到品目 opens the catalogue with the code in the barcode form');
  await ap.selectOption('[data-testid=barcode-form] select[name=item_id]', String(itemC.id));
  await ap.fill('[data-testid=barcode-form] input[name=pack_quantity]', '10');
  await ap.click('[data-testid=barcode-form] button[type=submit]');
  await ap.waitForSelector('[data-testid=stock-notice]', { timeout: 20_000 });
  const mapped = (await admin2.must('GET', '/api/stock/items')).items.find((i) => i.id === itemC.id)?.barcodes ?? [];
  check(mapped.some((b) => b.code === gtinC && b.pack_quantity === 10), `the form maps ${gtinC} to ${itemC.name} (10 a pack)`);
  await ap.goBack();
  await ap.waitForSelector(lineC, { timeout: 30_000 });
  await wedgeC();
  await ap.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-counted') === '10', lineC, { timeout: 20_000 });
  await ap.waitForFunction(() => document.querySelector('[data-testid=count-pending]')?.textContent.trim() === '0', null, { timeout: 30_000 });
  const countedC = (await admin2.must('GET', `/api/stock/counts/${count2}`)).lines.find((l) => l.lot.id === lotC)?.counted;
  check(countedC === 10, `back on the count (browser back), the same scan counts: lot E2EC1 ${countedC}`);
  await shot(ap, 'mapped');
  await admin2.dispose();
  await adminContext.close();

  check(foreign.length === 0, `no request left 127.0.0.1${foreign.length ? `: ${foreign.join(', ')}` : ''}`);
  check(expected.length === 0, 'the provoked 422 was seen');
  if (problems.length) throw new Error(`console errors or failed requests:\n  ${problems.join('\n  ')}`);
  log('ok no console errors, no failed requests');
}

run().then(async () => {
  clearTimeout(deadline);
  await cleanup();
  log('passed');
  process.exit(0);
}, (e) => fail(e.stack ?? String(e)));

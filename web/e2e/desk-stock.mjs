// The 物资 section in real headless Chromium against the real binary (issue 20 §7): as the demo
// stock keeper (county), stock on hand shows expired lots red and lots expiring within 90 days
// amber with their days; a lot is received through the receipt form; a transfer to a township
// store proposes the lot that expires first (FEFO, the expired lot never); the township's own
// keeper (created through the admin API) receives it with a difference, which needs a note; the
// ledger lists the receipt, the transfer out and the transfer in; a hand-out above what a lot
// holds is refused with the Chinese reason naming the lot and what it holds; at phone size
// (360×640) the page has no horizontal overflow. Any console error, unexpected HTTP error or
// request to another host fails it. Screenshots: target/e2e/ (STOCK_SHOTS overrides).
//
//   node web/e2e/desk-stock.mjs     (after `npm --prefix web run build` and `cargo build`)
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchChromium, root, startServer } from './server.mjs';

const shots = process.env.STOCK_SHOTS ?? path.join(root, 'target/e2e');
mkdirSync(shots, { recursive: true });
const started = Date.now();
const deadline = setTimeout(() => fail('desk-stock took longer than 2 minutes'), 120_000);

let server, browser;
const problems = [];
const expected = [];
const expect4xx = (pathname, status) => expected.push({ pathname, status });
function isExpected(url, status) {
  const p = new URL(url).pathname;
  const i = expected.findIndex((e) => e.pathname === p && (status === undefined || e.status === status) && (status === undefined || !e.seen));
  if (i < 0) return status === undefined && expected.some((e) => e.pathname === p);
  if (status !== undefined) expected[i].seen = true;
  return true;
}
function log(...a) { console.log('desk-stock:', ...a); }
async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
}
let lastPage = null;
async function fail(msg) {
  console.error(`desk-stock: FAILED: ${msg}`);
  await lastPage?.screenshot({ path: path.join(shots, 'desk-stock-failed.png'), fullPage: true }).catch(() => {});
  await cleanup();
  process.exit(1);
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
  log('ok', msg);
}

const PASSWORD = 'Qapqal-2024';
const TOWNSHIP = '654022100';
const VILLAGE = '654022100200';
const TK = { username: 'tk_e2e_stock', password: 'Township-Keeper-2026!' };
const day = (offset) => { const d = new Date(); d.setDate(d.getDate() + offset); const p = (n) => String(n).padStart(2, '0'); return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`; };
const today = day(0);
const tag = String(Date.now()).slice(-5);
const BATCH = { old: `E2E-OLD-${tag}`, soon: `E2E-SOON-${tag}`, ok: `E2E-OK-${tag}` };

function watch(page, who) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location()?.url;
    if (url && /^Failed to load resource/.test(m.text()) && isExpected(url)) return;
    problems.push(`console error (${who}): ${m.text()} ${url ?? ''}`);
  });
  page.on('pageerror', (e) => problems.push(`page error (${who}): ${e.message}`));
  page.on('requestfailed', (r) => { if (!/^(data|blob):/.test(r.url()) && !r.failure()?.errorText.includes('ERR_ABORTED')) problems.push(`request failed (${who}): ${r.url()} ${r.failure()?.errorText}`); });
  page.on('response', (r) => { if (r.status() >= 400 && !isExpected(r.url(), r.status())) problems.push(`HTTP ${r.status()} (${who}) ${r.request().method()} ${r.url()}`); });
}

async function session(user, password = PASSWORD, viewport = { width: 1366, height: 768 }) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN' });
  const port = new URL(server.base).port;
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    if (u.host !== `127.0.0.1:${port}`) { problems.push(`request to another host: ${u.href}`); return route.abort(); }
    return route.continue();
  });
  const page = await context.newPage();
  // Busy CI machines (2 cores, builds alongside): generous waits.
  page.setDefaultTimeout(45_000);
  lastPage = page;
  watch(page, user);
  await page.goto(server.base + '/');
  await page.waitForSelector('[data-testid=login]');
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=logout]');
  return { context, page };
}

/** A call of the API from inside the page (its session cookie and CSRF token). */
async function call(page, method, p, body) {
  return page.evaluate(async ({ method, p, body }) => {
    const me = await (await fetch('/api/auth/me')).json();
    const headers = { Accept: 'application/json', 'X-CSRF-Token': me.csrf_token ?? '' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, { method, p, body });
}
async function must(page, method, p, body) {
  const r = await call(page, method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

async function openTab(page, tab) {
  await page.evaluate((t) => { location.hash = `#/stock?tab=${t}`; }, tab);
  await page.waitForSelector(`[data-testid=stock-tab-${tab}][aria-selected=true]`);
}
const idle = (page) => page.waitForFunction(() => window.__echinomapPending?.() === 0);
async function pickVillage(page, scope, name, code) {
  const input = page.locator(`${scope} input[name="${name}"]`);
  await input.fill(code);
  const option = page.locator(`${scope} li[role=option][data-code="${code}"]`).first();
  await option.waitFor({ timeout: 10_000 });
  await option.click();
}
const bg = (loc) => loc.evaluate((el) => getComputedStyle(el.querySelector('td')).backgroundColor);

async function run() {
  server = await startServer();
  log('server at', server.base);
  browser = await launchChromium();

  // The catalogue as the demo has it, completed by the administrator where it lacks something.
  const admin = await session('admin');
  const routes = (await admin.page.getAttribute('meta[name=echinomap-routes]', 'content')).split(',').map((r) => r.trim());
  check(routes.includes('GET /api/stock/on-hand'), 'the server has the stock API (GET /api/stock/on-hand)');
  let stores = (await must(admin.page, 'GET', '/api/stock/stores')).items;
  let items = (await must(admin.page, 'GET', '/api/stock/items')).items;
  let item = items.find((i) => i.active && i.kind === 'praziquantel') ?? items.find((i) => i.active);
  if (!item) item = (await must(admin.page, 'POST', '/api/stock/items', { code: `E2E-PZQ-${tag}`, name: '吡喹酮片（测试）', kind: 'praziquantel', unit: '片' })).item;
  let county = stores.find((s) => s.active && s.kind === 'county_cdc') ?? stores.find((s) => s.active && s.place_code.length === 6);
  if (!county) county = (await must(admin.page, 'POST', '/api/stock/stores', { code: `E2E-CDC-${tag}`, name: '县疾控中心库房（测试）', kind: 'county_cdc', place_code: '654022' })).store;
  let township = stores.find((s) => s.active && s.kind === 'township_centre' && s.place_code === TOWNSHIP);
  if (!township) township = (await must(admin.page, 'POST', '/api/stock/stores', { code: `E2E-TS-${tag}`, name: '察布查尔镇卫生院库房（测试）', kind: 'township_centre', place_code: TOWNSHIP })).store;
  await must(admin.page, 'POST', '/api/users', { username: TK.username, password: TK.password, role: 'stock_keeper', jurisdiction: TOWNSHIP, display_name: '乡镇库管员（测试）' });
  check(true, `item ${item.name}, stores ${county.name} → ${township.name}, township keeper ${TK.username} created`);
  await openTab(admin.page, 'catalogue');
  await admin.page.waitForSelector(`[data-testid=catalogue-item][data-item="${item.id}"]`);
  await admin.page.waitForSelector(`[data-testid=catalogue-store][data-store="${township.id}"]`);
  check(true, 'the administrator sees 品目与条码 with the items and the stores');
  // An unknown code handed over by the scan screen: the barcode form opens with it filled in.
  const gtin13 = `0690${tag}${String(Date.now()).slice(-4)}`;
  const sum = [...gtin13].reverse().reduce((a, c, i) => a + Number(c) * (i % 2 === 0 ? 3 : 1), 0);
  const gtin = gtin13 + String((10 - (sum % 10)) % 10);
  await admin.page.evaluate((c) => { location.hash = `#/stock?tab=catalogue&code=${c}`; }, `01${gtin}`);
  const bf = 'form[data-testid=barcode-form]';
  await admin.page.waitForFunction((c) => document.querySelector('form[data-testid=barcode-form] input[name=code]')?.value === c, `01${gtin}`);
  await admin.page.selectOption(`${bf} select[name=item_id]`, String(item.id));
  await admin.page.fill(`${bf} input[name=pack_quantity]`, '100');
  await admin.page.click(`${bf} button[type=submit]`);
  await admin.page.waitForSelector(`[data-testid=catalogue-item][data-item="${item.id}"] >> text=${gtin}`);
  check(true, `a GS1 code (01)${gtin} handed over by link was mapped to ${item.name} ×100`);
  await admin.context.close();
  // Only the tabs a role may use: the epidemiologist reads (no forms, no catalogue).
  const epi = await session('epi');
  await openTab(epi.page, 'on-hand');
  const epiTabs = await epi.page.locator('[role=tab][data-testid^=stock-tab-]').evaluateAll((b) => b.map((x) => x.dataset.testid.slice(10)));
  check(epiTabs.join() === 'on-hand,ledger,counts,reconciliation', `the epidemiologist's tabs: ${epiTabs.join(', ')}`);
  await epi.context.close();

  // As the county's keeper: an expired lot (received before it expired) and one good for long,
  // through the API; the lot expiring within 90 days through the receipt form.
  const { page } = await session('keeper');
  await must(page, 'POST', '/api/stock/receipts', {
    store_id: county.id, received_on: day(-60), supplier: '测试供货单位', reference: `E2E-${tag}-A`,
    lines: [{ item_id: item.id, batch: BATCH.old, expires_on: day(-10), quantity: 40 }, { item_id: item.id, batch: BATCH.ok, expires_on: day(400), quantity: 500 }],
  });
  await page.waitForSelector('[data-nav=stock], a[href="#/stock"]');
  await openTab(page, 'receipt');
  const rf = 'form[data-testid=receipt-form]';
  await page.selectOption(`${rf} select[name=store_id]`, String(county.id));
  await page.fill(`${rf} input[name=supplier]`, '新疆某医药公司');
  await page.fill(`${rf} input[name=reference]`, `E2E-${tag}-B`);
  await page.selectOption(`${rf} select[name=item_0]`, String(item.id));
  await page.fill(`${rf} input[name=batch_0]`, BATCH.soon);
  await page.fill(`${rf} input[name=expires_on_0]`, day(30));
  await page.fill(`${rf} input[name=quantity_0]`, '100');
  await page.click('[data-testid=receipt-submit]');
  await page.waitForSelector(`${rf} [data-testid=stock-notice]`);
  check(true, `the receipt form received ${BATCH.soon} (100, expiring ${day(30)})`);

  // On hand: colours and days.
  await openTab(page, 'on-hand');
  await page.selectOption('[data-testid=stock-on-hand] select[name=store]', String(county.id));
  const row = (b) => page.locator(`[data-testid=on-hand-row][data-batch="${b}"][data-store="${county.id}"]`);
  await row(BATCH.soon).waitFor();
  await idle(page);
  check(await row(BATCH.soon).getAttribute('data-status') === 'soon' && await bg(row(BATCH.soon)) === 'rgb(255, 244, 214)', `${BATCH.soon} is amber`);
  check((await row(BATCH.soon).innerText()).includes('剩 30 天'), `${BATCH.soon} shows 剩 30 天`);
  check(await row(BATCH.old).getAttribute('data-status') === 'expired' && await bg(row(BATCH.old)) === 'rgb(253, 226, 225)', `${BATCH.old} is red`);
  check((await row(BATCH.old).innerText()).includes('已过期'), `${BATCH.old} says 已过期`);
  check(await row(BATCH.ok).getAttribute('data-status') === 'ok' && await bg(row(BATCH.ok)) !== 'rgb(253, 226, 225)', `${BATCH.ok} is neither red nor amber`);
  await page.screenshot({ path: path.join(shots, 'desk-stock-on-hand.png'), fullPage: true });

  // Transfer to the township: FEFO proposes the lot expiring soonest, never the expired one.
  await openTab(page, 'transfer');
  const tf = 'form[data-testid=transfer-form]';
  await page.selectOption(`${tf} select[name=from_store_id]`, String(county.id));
  await page.selectOption(`${tf} select[name=to_store_id]`, String(township.id));
  await page.selectOption(`${tf} select[name=item_0]`, String(item.id));
  await page.fill(`${tf} input[name=quantity_0]`, '30');
  const proposal = page.locator(`${tf} [data-testid=fefo-proposal] [data-batch]`).first();
  await page.waitForFunction(() => document.querySelector('form[data-testid=transfer-form] [data-testid=fefo-proposal] [data-batch]')?.textContent?.includes('取 30'));
  check(await proposal.getAttribute('data-batch') === BATCH.soon, `FEFO proposes ${BATCH.soon} first: “${(await proposal.innerText()).trim()}”`);
  check(!(await page.locator(`${tf} [data-testid=fefo-proposal]`).innerText()).includes(BATCH.old), 'the expired lot is not proposed');
  await page.click('[data-testid=transfer-submit]');
  await page.waitForSelector(`${tf} [data-testid=stock-notice]`);
  check(true, 'the transfer was sent');

  // The township's keeper receives it with a difference: a note is required.
  const tk = await session(TK.username, TK.password);
  await openTab(tk.page, 'receive');
  const incoming = tk.page.locator('[data-testid=incoming-transfer]').filter({ hasText: county.name }).last();
  await incoming.waitFor();
  const lot = await incoming.locator('[data-testid=incoming-line]').first().getAttribute('data-lot');
  await incoming.locator(`input[name=got_${lot}]`).fill('28');
  await incoming.locator('[data-testid=receive-submit]').click();
  await incoming.locator('[data-testid=stock-error]').waitFor();
  check((await incoming.locator('[data-testid=stock-error]').innerText()).includes('备注'), 'a difference without a note asks for the note');
  await incoming.locator('input[name=note]').fill('运输途中破损 2 片');
  await incoming.locator('[data-testid=receive-submit]').click();
  await tk.page.waitForSelector('[data-testid=transfer-receive] [data-testid=stock-notice]');
  const th = (await must(tk.page, 'GET', `/api/stock/on-hand?store=${township.id}&item=${item.id}`)).items.find((r) => r.lot.batch === BATCH.soon);
  check(th?.quantity === 28, `the township store holds 28 of ${BATCH.soon} (${th?.quantity})`);
  await openTab(tk.page, 'on-hand');
  await tk.page.waitForSelector(`[data-testid=on-hand-row][data-batch="${BATCH.soon}"]`);
  const foreign = await tk.page.locator(`[data-testid=on-hand-row][data-store="${county.id}"]`).count();
  check(foreign === 0, 'the township keeper sees no row of the county store');

  // The ledger lists the movements.
  await openTab(page, 'ledger');
  await page.selectOption('[data-testid=stock-ledger] select[name=item]', String(item.id));
  await page.waitForSelector(`[data-testid=ledger-row][data-kind=transfer_in][data-batch="${BATCH.soon}"]`);
  await idle(page);
  const kinds = await page.locator(`[data-testid=ledger-row][data-batch="${BATCH.soon}"]`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-kind')));
  check(['receipt', 'transfer_out', 'transfer_in'].every((k) => kinds.includes(k)), `the ledger lists ${BATCH.soon}: ${kinds.join(', ')}`);
  const outText = await page.locator(`[data-testid=ledger-row][data-kind=transfer_out][data-batch="${BATCH.soon}"]`).first().innerText();
  check(outText.includes('调拨出库') && outText.includes('-30'), `the transfer out reads 调拨出库 … -30`);

  // An adjustment with a reason; the count list; the reconciliation.
  await openTab(page, 'adjust');
  const af = 'form[data-testid=adjust-form]';
  await page.selectOption(`${af} select[name=store_id]`, String(county.id));
  await page.selectOption(`${af} select[name=reason]`, 'damaged');
  const okLot = (await must(page, 'GET', `/api/stock/lots?item=${item.id}`)).items.find((l) => l.batch === BATCH.ok);
  await page.selectOption(`${af} select[name=lot_0]`, String(okLot.id));
  await page.fill(`${af} input[name=quantity_0]`, '-2');
  await page.click('[data-testid=adjust-submit]');
  await page.waitForSelector(`${af} [data-testid=stock-notice]`);
  const okNow = (await must(page, 'GET', `/api/stock/on-hand?store=${county.id}&item=${item.id}`)).items.find((r) => r.lot.batch === BATCH.ok);
  check(okNow?.quantity === 498, `an adjustment (破损, -2) leaves ${BATCH.ok} at 498 (${okNow?.quantity})`);
  // A count opened from the list (blind) goes to the scan screen; the lead's scan page is not
  // this test's subject, only the link. The township store: nothing else counts there.
  const tk2 = tk;
  await openTab(tk2.page, 'counts');
  await tk2.page.selectOption('[data-testid=count-open-form] select[name=store_id]', String(township.id));
  await tk2.page.check('[data-testid=count-open-form] input[name=blind]');
  await tk2.page.click('[data-testid=count-open]');
  await tk2.page.waitForFunction(() => /^#\/stock-count\?id=\d+$/.test(location.hash));
  const countId = Number((await tk2.page.evaluate(() => location.hash)).split('=')[1]);
  const opened = (await must(tk2.page, 'GET', `/api/stock/counts/${countId}`)).count;
  check(opened.blind === true && opened.store.id === township.id && opened.state === 'open', `开始盘点 opened blind count #${countId} and went to #/stock-count?id=${countId}`);
  await openTab(tk2.page, 'counts');
  await tk2.page.waitForSelector(`[data-testid=count-row][data-count="${countId}"]`);
  await tk2.context.close();
  await openTab(page, 'reconciliation');
  await page.waitForSelector('[data-testid=stock-reconciliation] table.data');
  await idle(page);
  await page.screenshot({ path: path.join(shots, 'desk-stock-reconciliation.png'), fullPage: true });
  check(await page.locator('[data-testid=recon-xlsx]').getAttribute('href').then((h) => h.startsWith('/api/stock/reconciliation.xlsx?')), 'the reconciliation shows its table and the XLSX link');

  // A hand-out above what the lot holds: 422 with the reason in Chinese.
  await openTab(page, 'use');
  const uf = 'form[data-testid=use-form]';
  await page.selectOption(`${uf} select[name=store_id]`, String(county.id));
  await pickVillage(page, uf, 'village_code', VILLAGE);
  await page.selectOption(`${uf} select[name=item_0]`, String(item.id));
  await page.fill(`${uf} input[name=quantity_0]`, '5000');
  const soonLot = (await must(page, 'GET', `/api/stock/lots?item=${item.id}`)).items.find((l) => l.batch === BATCH.soon);
  await page.waitForSelector(`${uf} select[name=lot_0] option[value="${soonLot.id}"]`, { state: 'attached' });
  await page.selectOption(`${uf} select[name=lot_0]`, String(soonLot.id));
  expect4xx('/api/stock/uses', 422);
  await page.click('[data-testid=use-submit]');
  await page.waitForSelector(`${uf} [data-testid=stock-error]`);
  const refusal = await page.locator(`${uf} [data-testid=stock-error]`).innerText();
  check(refusal.includes('库存不足') && refusal.includes(BATCH.soon) && refusal.includes('70'), `the refusal reads “${refusal}”`);
  check(!/[A-Za-z]{5,}/.test(refusal.replace(BATCH.soon, '')), 'no English sentence in the refusal');
  await page.screenshot({ path: path.join(shots, 'desk-stock-refusal.png'), fullPage: true });

  // Phone size: no horizontal overflow on the tabs a keeper uses most.
  const phone = await session('keeper', PASSWORD, { width: 360, height: 640 });
  for (const t of ['on-hand', 'use', 'receive', 'ledger']) {
    await openTab(phone.page, t);
    await idle(phone.page);
    const [sw, cw] = await phone.page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    check(sw <= cw, `at 360×640 the ${t} tab has no horizontal overflow (${sw} ≤ ${cw})`);
    if (t === 'on-hand') {
      const card = phone.page.locator(`[data-testid=on-hand-card][data-batch="${BATCH.soon}"]`).first();
      await card.waitFor();
      const color = await card.evaluate((el) => getComputedStyle(el).backgroundColor);
      check(color === 'rgb(255, 244, 214)' && (await card.innerText()).includes('剩 30 天'), `at phone size on hand is cards: ${BATCH.soon} amber with 剩 30 天`);
    }
    await phone.page.screenshot({ path: path.join(shots, `desk-stock-phone-${t}.png`) });
  }

  for (const e of expected) if (!e.seen) problems.push(`expected answer not seen: ${e.status} ${e.pathname}`);
  check(problems.length === 0, `no console error, unexpected HTTP error or foreign request${problems.length ? `:\n  ${problems.join('\n  ')}` : ''}`);
  log(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

run().then(async () => {
  clearTimeout(deadline);
  await cleanup();
  log('passed');
  process.exit(0);
}, (e) => fail(e.stack ?? String(e)));

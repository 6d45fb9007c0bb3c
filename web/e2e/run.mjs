// End-to-end test of the dashboard in real headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core): starts the real server binary with the demo data on a free loopback port
// and a throwaway data directory, logs in, reads features from the map, toggles every layer,
// changes the period, opens a village profile and checks its charts are drawn, submits a form
// with an invalid value, switches language, and fails on any console error or on any request
// to a host other than the server's own. Screenshots go to target/e2e/.
//
//   node web/e2e/run.mjs            (after `npm --prefix web run build` and `cargo build`)
//   ECHINOMAP_BIN=target/release/echinomap node web/e2e/run.mjs
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchChromium, root, startServer } from './server.mjs';

const shots = path.join(root, 'target/e2e');
mkdirSync(shots, { recursive: true });
const deadline = setTimeout(() => fail('the e2e run took longer than 3 minutes'), 180_000);

let server, browser;
const problems = [];
// Answers a step provokes on purpose (a wrong password, an invalid form value): the browser logs
// them as console errors too, so they are allowed by path and status, once each.
const expected = [];
const expect4xx = (pathname, status) => expected.push({ pathname, status });
function isExpected(url, status) {
  const i = expected.findIndex((e) => new URL(url).pathname === e.pathname && (status === undefined || e.status === status));
  if (i < 0) return false;
  if (status !== undefined) expected[i].seen = true;
  return true;
}

function log(...a) { console.log('e2e:', ...a); }
async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
}
async function fail(msg) {
  console.error(`e2e: FAILED: ${msg}`);
  await cleanup();
  process.exit(1);
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
  log('ok', msg);
}

// Waits until the map has nothing left to load (tiles, GeoJSON, symbols).
async function idle(page) {
  await page.waitForFunction(() => window.__map && window.__map.loaded() && window.__map.areTilesLoaded(), null, { timeout: 30_000 });
  await page.evaluate(() => new Promise((r) => { const m = window.__map; if (!m.isMoving() && m.loaded()) { m.once('idle', r); m.triggerRepaint(); setTimeout(r, 1500); } else m.once('idle', r); }));
}
const rendered = (page, layers) => page.evaluate((ls) => window.__map.queryRenderedFeatures({ layers: ls }).length, layers);

async function run() {
  server = await startServer();
  const { base, port } = server;
  log('server at', base);
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  const foreign = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    if (u.host !== `127.0.0.1:${port}`) { foreign.push(u.href); return route.abort(); }
    return route.continue();
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    // MapLibre reports a paint expression that fails on the data as a warning: a wrong colour.
    if (m.type() === 'warning' && /Expected value to be of type|Falling back to/.test(m.text())) problems.push(`style warning: ${m.text()}`);
    if (m.type() !== 'error') return;
    const url = m.location()?.url;
    if (url && /^Failed to load resource/.test(m.text()) && isExpected(url)) return;
    problems.push(`console error: ${m.text()} ${url ?? ''}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => { if (!/^(data|blob):/.test(r.url()) && !r.failure()?.errorText.includes('ERR_ABORTED')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`); });
  page.on('response', (r) => { if (r.status() >= 400 && !isExpected(r.url(), r.status())) problems.push(`HTTP ${r.status()} ${r.url()}`); });

  // Login: a wrong password says so, the right one opens the map.
  await page.goto(base + '/');
  await page.waitForSelector('[data-testid=login]');
  check((await page.getAttribute('html', 'lang')) === 'zh-CN', 'the page is Chinese by default');
  await page.fill('input[name=username]', 'epi');
  await page.fill('input[name=password]', 'wrong-password');
  expect4xx('/api/auth/login', 401);
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=login] .error');
  check((await page.textContent('[data-testid=login] .error')).includes('用户名或密码错误'), 'a wrong password shows what to do');
  await page.screenshot({ path: path.join(shots, 'login.png') });
  await page.fill('input[name=password]', 'Qapqal-2024');
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=map] canvas');
  await page.waitForFunction(() => window.__echinomap?.ready, null, { timeout: 30_000 });
  await idle(page);

  // The map renders features from the server's tiles: basemap, labels, villages, case density.
  check(await rendered(page, ['county-line']) > 0, 'the county outline is drawn');
  check(await rendered(page, ['townships-line']) > 0, 'township boundaries are drawn');
  check(await rendered(page, ['rivers-line']) > 0, 'the Ili river is drawn');
  check(await rendered(page, ['townships-label']) > 0, 'township labels are placed (local CJK glyphs)');
  const villages = await rendered(page, ['villages-circle']);
  check(villages > 50, `villages are drawn (${villages})`);
  check(await rendered(page, ['case-fill', 'case-circle']) > 0, 'case density is drawn');
  check(await page.locator('[data-legend=villages] .legend-item').count() >= 3, 'the villages legend has its classes and a no-data class');
  check((await page.locator('[data-testid=feature-table] tbody tr').count()) > 50, 'the table lists the villages in view');
  await page.click('[data-testid=feature-table] th:nth-child(4)');
  await page.click('[data-testid=feature-table] th:nth-child(4)');
  const firstPop = await page.locator('[data-testid=feature-table] tbody tr:first-child td:nth-child(4)').textContent();
  const secondPop = await page.locator('[data-testid=feature-table] tbody tr:nth-child(2) td:nth-child(4)').textContent();
  check(Number(firstPop.replace(/\D/g, '')) >= Number(secondPop.replace(/\D/g, '')), 'the table sorts by population, descending on the second click');
  await page.screenshot({ path: path.join(shots, 'map.png') });

  // Every layer: on, drawn, legend shown; then off again.
  const layers = {
    case_density: ['case-fill', 'case-circle'],
    dog_coverage: ['dog-fill', 'dog-circle'],
    dog_positivity: ['dogpos-fill'],
    slaughter_points: ['slaughter-circle'],
    hotspots: ['hotspots-fill'],
    scan: ['scan-fill', 'scan-line'],
    villages: ['villages-circle'],
  };
  for (const [id, ls] of Object.entries(layers)) {
    const box = page.locator(`[data-layer=${id}] input`);
    const was = await box.isChecked();
    if (!was) {
      await box.check();
      await page.waitForTimeout(300);
      await idle(page);
    }
    const n = await rendered(page, ls);
    check(n > 0, `layer ${id} is drawn (${n} features)`);
    check(await page.locator(`[data-legend=${id}]`).count() === 1, `layer ${id} has a legend`);
    if (id === 'hotspots') {
      await page.selectOption('[data-testid=hs-stat]', 'lisa_cluster');
      await page.selectOption('[data-testid=hs-resolution]', '6');
      await page.waitForTimeout(300);
      await idle(page);
      check(await rendered(page, ls) > 0, 'hotspots at resolution 6 with LISA clusters are drawn');
      await page.screenshot({ path: path.join(shots, 'hotspots.png') });
    }
    await box.uncheck();
    await page.waitForTimeout(200);
    await idle(page);
    check(await rendered(page, ls) === 0, `layer ${id} is hidden when unticked`);
    check(await page.locator(`[data-legend=${id}]`).count() === 0, `layer ${id} legend goes with it`);
    if (was) { await box.check(); await page.waitForTimeout(200); await idle(page); }
  }

  // Period: month by month; the period-filtered tiles follow.
  await page.locator('[data-layer=dog_coverage] input').check();
  await page.selectOption('[data-testid=period-kind]', 'month');
  const before = await page.textContent('[data-testid=period]');
  check(/^\d{4}-\d{2}$/.test(before.trim()), `the period is a month (${before})`);
  await page.locator('[data-testid=period-slider]').focus();
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  const after = (await page.textContent('[data-testid=period]')).trim();
  check(after !== before.trim(), `the slider moves the period (${before.trim()} → ${after})`);
  await idle(page);
  const tiles = await page.evaluate(() => window.__map.getSource('case_density').tiles[0]);
  check(tiles.includes(`period=${after}`), 'case density tiles are asked for the new period');
  check(await rendered(page, ['dog-fill', 'dog-circle']) > 0, 'dog coverage is drawn for the new month');
  await page.selectOption('[data-testid=period-kind]', 'quarter');
  check(/^\d{4}Q[1-4]$/.test((await page.textContent('[data-testid=period]')).trim()), 'quarters can be chosen');
  await page.selectOption('[data-testid=period-kind]', 'year');
  await idle(page);
  await page.screenshot({ path: path.join(shots, 'map-coverage.png') });
  await page.locator('[data-layer=dog_coverage] input').uncheck();
  await idle(page);

  // Village profile: click a village on the map; its charts are drawn.
  const pt = await page.evaluate(() => {
    const m = window.__map;
    const f = m.queryRenderedFeatures({ layers: ['villages-circle'] }).find((x) => x.properties.code === '654022100200')
      ?? m.queryRenderedFeatures({ layers: ['villages-circle'] })[0];
    const p = m.project(f.geometry.coordinates);
    const r = m.getCanvas().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y, code: f.properties.code };
  });
  await page.mouse.click(pt.x, pt.y);
  await page.waitForSelector('[data-testid=profile]');
  await page.waitForSelector('[data-chart=cases] canvas', { timeout: 20_000 });
  await page.waitForSelector('[data-chart=population] canvas');
  const hasRegistersApi = await page.evaluate(() => document.querySelector('meta[name=echinomap-routes]')?.content.includes('GET /api/dewormings'));
  if (hasRegistersApi) await page.waitForSelector('[data-chart=positivity] canvas', { timeout: 60_000 });
  await page.waitForTimeout(800);
  const drawn = await page.evaluate(() => [...document.querySelectorAll('[data-chart] canvas')].map((c) => {
    const ctx = c.getContext('2d');
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
    return ink;
  }));
  check(drawn.length >= 2 && drawn.every((n) => n > 500), `the profile's charts are drawn (${drawn.join(', ')} inked pixels)`);
  if (hasRegistersApi) check(await page.locator('[data-chart=coverage] canvas').count() === 1 && await page.locator('[data-chart=positivity] canvas').count() === 1, 'the monthly deworming coverage and faecal positivity trends are drawn');
  check((await page.textContent('[data-testid=profile] h2')).length > 1, `the profile of ${pt.code} names the village`);
  await page.screenshot({ path: path.join(shots, 'profile.png') });
  await page.click('[data-testid=profile] .close');

  // Case register.
  await page.click('[data-nav=cases]');
  await page.waitForSelector('[data-testid=cases-table] tbody tr');
  await page.check('[data-testid=overdue]');
  await page.waitForTimeout(500);
  check(await page.locator('[data-testid=cases-table] tbody tr').count() > 0, 'the case list filters to overdue follow-ups');
  check(await page.locator('[data-testid=cases-table] tbody tr:not(.overdue)').count() === 0, 'every listed case is flagged overdue');
  await page.screenshot({ path: path.join(shots, 'cases.png') });

  // Registers (when the registers API is on this server): the dog register's add form shows the
  // API's message next to the field; a corrected form is saved. Slaughter inspections list.
  const hasRegisters = await page.evaluate(() => document.querySelector('meta[name=echinomap-routes]')?.content.includes('POST /api/dogs'));
  if (hasRegisters) {
    await page.click('[data-nav=dogs]');
    await page.waitForSelector('[data-testid=register-table] tbody tr');
    await page.click('[data-testid=register-add]');
    await page.fill('[data-testid=register-form] input[name=dog_tag]', 'E2E-DOG-1');
    await page.selectOption('[data-testid=register-form] select[name=dog_kind]', 'herding');
    await page.fill('[data-testid=register-form] input[name=registered_on]', '2025-03-01');
    await page.fill('[data-testid=register-form] input[name=village_code]', '654022100200');
    await page.fill('[data-testid=register-form] input[name=birth_year]', 'abc');
    expect4xx('/api/dogs', 422);
    await page.click('[data-testid=register-form] button[type=submit]');
    await page.waitForSelector('[data-testid=register-form] [data-field=birth_year]');
    const dogMsg = await page.textContent('[data-testid=register-form] [data-field=birth_year]');
    check(dogMsg.includes('abc'), `an invalid birth year is refused next to the field: ${dogMsg}`);
    await page.screenshot({ path: path.join(shots, 'register-form-error.png') });
    await page.fill('[data-testid=register-form] input[name=birth_year]', '2021');
    await page.click('[data-testid=register-form] button[type=submit]');
    await page.waitForSelector('[data-testid=register-form]', { state: 'detached' });
    await page.fill('[data-testid=register-search]', 'E2E-DOG-1');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=register-table] tbody tr').length === 1, null, { timeout: 10_000 });
    check(true, 'the corrected dog is saved and found by search');
    await page.click('[data-nav=slaughter]');
    await page.waitForSelector('[data-register=slaughter_inspections] [data-testid=register-table] tbody tr');
    check(true, 'slaughter inspections are listed');
    await page.screenshot({ path: path.join(shots, 'slaughter.png') });
  } else log('skip registers: the registers API is not on this server');

  // Import (when the server has it): a file with a bad row is refused with a report of the row.
  if (await page.locator('[data-nav=import]').count()) {
    await page.click('[data-nav=import]');
    await page.waitForSelector('[data-testid=import-form]');
    await page.selectOption('[data-testid=import-form] select[name=kind]', 'dogs');
    await page.setInputFiles('[data-testid=import-form] input[type=file]', {
      name: 'dogs.csv', mimeType: 'text/csv',
      buffer: Buffer.from('dog_tag,dog_kind,registered_on,village_code,birth_year\nE2E-IMP-1,herding,2025-01-01,654022100200,abc\n'),
    });
    expect4xx('/api/imports', 422);
    await page.click('[data-testid=import-form] button[type=submit]');
    await page.waitForSelector('[data-testid=import-report] [data-testid=error-sheet]');
    check((await page.textContent('[data-testid=import-report]')).includes('abc'), 'the import report lists the refused row and offers the error sheet');
    await page.screenshot({ path: path.join(shots, 'import.png') });
  }
  await page.click('[data-testid=logout]');
  await page.waitForSelector('[data-testid=login]');

  // A form with an invalid value: the API's message appears next to the field.
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', 'Qapqal-2024');
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-nav=users]');
  await page.click('[data-nav=users]');
  await page.waitForSelector('[data-testid=user-form]');
  await page.fill('[data-testid=user-form] input[name=username]', 'e2e.user');
  await page.fill('[data-testid=user-form] input[name=jurisdiction]', '99');
  await page.fill('[data-testid=user-form] input[name=password]', 'Long-enough-password-1');
  expect4xx('/api/users', 422);
  await page.click('[data-testid=user-form] button[type=submit]');
  await page.waitForSelector('[data-testid=user-form] .field-error');
  const msg = await page.textContent('[data-testid=user-form] .field-error');
  check(msg.length > 5, `an invalid jurisdiction is refused with the API's message: ${msg}`);
  await page.screenshot({ path: path.join(shots, 'form-error.png') });

  // English switch; phone width.
  await page.click('[data-testid=lang]');
  check((await page.getAttribute('html', 'lang')) === 'en', 'the page switches to English');
  await page.click('[data-nav=map]');
  await page.waitForFunction(() => window.__echinomap?.ready);
  await idle(page);
  await page.screenshot({ path: path.join(shots, 'map-en.png') });
  await page.click('[data-testid=lang]');
  // A phone: the same session in a phone-size page; panel and legend start folded.
  const phone = await context.newPage();
  phone.on('console', (m) => { if (m.type() === 'error') problems.push(`console error (phone): ${m.text()}`); });
  phone.on('pageerror', (e) => problems.push(`page error (phone): ${e.message}`));
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(base + '/');
  await phone.waitForFunction(() => window.__echinomap?.ready, null, { timeout: 30_000 });
  await idle(phone);
  check(await rendered(phone, ['villages-circle']) > 0, 'the map works at phone width');
  check(await phone.evaluate(() => document.documentElement.scrollWidth <= 390), 'nothing overflows the phone width');
  await phone.screenshot({ path: path.join(shots, 'phone.png'), fullPage: true });
  await phone.click('.panel-toggle');
  await phone.click('.legend-toggle');
  await phone.screenshot({ path: path.join(shots, 'phone-panel.png'), fullPage: true });
  await phone.close();

  // Hygiene over the whole run.
  check(foreign.length === 0, `no request left the server${foreign.length ? `: ${foreign.join(', ')}` : ''}`);
  check(expected.every((e) => e.seen), 'the provoked 401 and 422 answers were seen');
  if (problems.length) throw new Error(`console errors or failed requests:\n  ${problems.join('\n  ')}`);
  log('ok no console errors, no failed requests');
}

run().then(async () => {
  clearTimeout(deadline);
  await cleanup();
  log(`passed; screenshots in ${path.relative(process.cwd(), shots) || shots}`);
  process.exit(0);
}, (e) => fail(e.stack ?? String(e)));

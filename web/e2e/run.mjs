// End-to-end test of the dashboard in real headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core): starts the real server binary with the demo data on a free loopback port
// and a throwaway data directory, logs in, reads features from the map, toggles every layer,
// changes the period, opens a village profile and checks its charts are drawn, submits forms
// with an invalid value, switches language, downloads the planner's exports (GeoJSON and CSV,
// parsed and counted), and fails on any console error, failed request or request to a host
// other than the server's own. Screenshots go to target/e2e/.
//
//   node web/e2e/run.mjs            (after `npm --prefix web run build` and `cargo build`)
//   ECHINOMAP_BIN=target/release/echinomap node web/e2e/run.mjs
import { mkdirSync, readFileSync } from 'node:fs';
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
// What the page's own session reads from the API.
const apiGet = (page, p) => page.evaluate(async (u) => (await fetch(u, { headers: { Accept: 'application/json' } })).json(), p);
// The next answer the page receives to METHOD pathname, and the `error` of a refused one.
const answerTo = (page, method, pathname) => page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname === pathname);
const errorOf = async (answer) => (await (await answer).json()).error;
// A table cell as a number (null for '—'), and whether a column is in order (nulls last either
// way, as the page sorts).
const num = (s) => (s.trim() === '—' ? null : Number(s.replace(/[^\d.-]/g, '')));
function inOrder(vals, dir) {
  const known = vals.filter((v) => v !== null);
  const want = [...known].sort((a, b) => (a - b) * dir).concat(vals.filter((v) => v === null));
  return new Set(known).size > 1 && vals.every((v, i) => v === want[i]);
}
// The cells of one CSV line (RFC 4180 quoting).
function csvCells(line) {
  const cells = [''];
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted && ch === '"' && line[i + 1] === '"') { cells[cells.length - 1] += '"'; i++; }
    else if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) cells.push('');
    else cells[cells.length - 1] += ch;
  }
  return cells;
}
// Presses an export button and takes its download: it must complete (a body cut off on the way
// cancels it in the browser), and its file is read whole.
async function download(page, testid, what) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(`[data-testid=${testid}]`)]);
  const failure = await dl.failure();
  check(failure === null, `the ${what} download ${dl.suggestedFilename()} completes${failure ? ` (failed: ${failure})` : ''}`);
  return { name: dl.suggestedFilename(), text: readFileSync(await dl.path(), 'utf8') };
}

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
  const refusedLogin = answerTo(page, 'POST', '/api/auth/login');
  await page.click('[data-testid=login] button[type=submit]');
  const loginErr = await errorOf(refusedLogin);
  await page.waitForSelector('[data-testid=login] .error');
  const loginMsg = (await page.textContent('[data-testid=login] .error')).trim();
  check(loginErr.code === 'invalid_login' && loginMsg === '用户名或密码错误，请检查后重试。', `a wrong password (${loginErr.code}) shows what to do: ${loginMsg}`);
  await page.screenshot({ path: path.join(shots, 'login.png') });
  await page.fill('input[name=password]', 'Qapqal-2024');
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=map] canvas');
  await page.waitForFunction(() => window.__echinomap?.ready, null, { timeout: 30_000 });
  await idle(page);
  const routes = (await page.getAttribute('meta[name=echinomap-routes]', 'content')).split(',').map((r) => r.trim());

  // The map renders features from the server's tiles: basemap, labels, villages, case density.
  check(await rendered(page, ['county-line']) > 0, 'the county outline is drawn');
  check(await rendered(page, ['townships-line']) > 0, 'township boundaries are drawn');
  check(await rendered(page, ['rivers-line']) > 0, 'the Ili river is drawn');
  check(await rendered(page, ['townships-label']) > 0, 'township labels are placed (local CJK glyphs)');
  const villages = await rendered(page, ['villages-circle']);
  check(villages > 50, `villages are drawn (${villages})`);
  check(await rendered(page, ['case-fill', 'case-circle']) > 0, 'case density is drawn');
  const legend = (await page.locator('[data-legend=villages] .legend-item').allTextContents()).map((s) => s.trim());
  check(legend.length >= 3 && legend.at(-1) === '无数据', `the villages legend has its classes and a no-data class (${legend.join(' | ')})`);
  // The table: one row per village drawn (the first 300), its count in the heading.
  const inView = await page.evaluate(() => new Set(window.__map.queryRenderedFeatures({ layers: ['villages-circle'] }).map((f) => f.properties.code)).size);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=feature-table] tbody tr').length === Math.min(n, 300), inView, { timeout: 10_000 }).catch(() => {});
  const tableHead = (await page.textContent('.table-card h2')).trim();
  const tableRows = await page.locator('[data-testid=feature-table] tbody tr').count();
  check(inView > 50 && tableHead.endsWith(`(${inView})`) && tableRows === Math.min(inView, 300), `the table lists the ${inView} villages in view (${tableHead}, ${tableRows} rows shown)`);
  // Sorting by population orders the whole column: ascending on the first click, descending on the second.
  const popHead = page.locator('[data-testid=feature-table] th:nth-child(4)');
  const pops = async () => (await page.locator('[data-testid=feature-table] tbody td:nth-child(4)').allTextContents()).map(num);
  check((await popHead.textContent()).trim() === '人口', 'the fourth column of the table is the population');
  await popHead.click();
  const up = await pops();
  check(await popHead.getAttribute('aria-sort') === 'ascending' && up.length === tableRows && inOrder(up, 1), `the table sorts by population, ascending on the first click (${up.length} rows, ${up[0]} … ${up.at(-1)})`);
  await popHead.click();
  const down = await pops();
  check(await popHead.getAttribute('aria-sort') === 'descending' && down.length === tableRows && inOrder(down, -1), `the table sorts by population, descending on the second click (${down[0]} … ${down.at(-1)})`);
  await page.screenshot({ path: path.join(shots, 'map.png') });

  // Every layer: on, drawn, legend shown; then off again.
  const layers = {
    case_density: ['case-fill', 'case-circle'],
    dog_coverage: ['dog-fill', 'dog-circle'],
    dog_positivity: ['dogpos-fill'],
    slaughter_points: ['slaughter-circle'],
    hotspots: ['hotspots-fill', 'hotspots-circle'],
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
      // Villages are the default unit (issue 22); H3 cells at resolution 6 here.
      await page.selectOption('[data-testid=hs-unit]', 'h3');
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
  // The monthly trends come from the indicators matrix, or until it lands from the registers.
  check(routes.includes('GET /api/indicators/matrix') || (routes.includes('GET /api/dewormings') && routes.includes('GET /api/faecal_tests')),
    'the server has what the monthly trends are computed from');
  await page.waitForSelector('[data-chart=coverage] canvas', { timeout: 60_000 });
  await page.waitForSelector('[data-chart=positivity] canvas', { timeout: 60_000 });
  await page.waitForTimeout(800);
  // Inked pixels of each chart's canvases, by chart.
  const drawn = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-chart]')].map((el) => [el.dataset.chart,
    [...el.querySelectorAll('canvas')].reduce((ink, c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
      return ink;
    }, 0)])));
  const charts = Object.entries(drawn).map(([k, n]) => `${k} ${n}`).join(', ');
  check(['cases', 'population'].every((k) => drawn[k] > 500) && Object.values(drawn).every((n) => n > 500), `the profile's charts are drawn (${charts} inked pixels)`);
  check(drawn.coverage > 500 && drawn.positivity > 500, 'the monthly deworming coverage and faecal positivity trends are drawn');
  const villageName = (await apiGet(page, `/api/villages/${pt.code}`)).name;
  check((await page.textContent('[data-testid=profile] h2')).trim() === villageName, `the profile of ${pt.code} names the village (${villageName})`);
  await page.screenshot({ path: path.join(shots, 'profile.png') });
  await page.click('[data-testid=profile] .close');

  // Case register.
  await page.click('[data-nav=cases]');
  await page.waitForSelector('[data-testid=cases-table] tbody tr');
  const caseIds = async () => (await page.locator('[data-testid=cases-table] tbody td:first-child').allTextContents()).map((s) => s.trim()).join();
  check(await page.locator('[data-testid=cases-table] tbody tr:not(.overdue)').count() > 0, 'the unfiltered case list has cases that are not overdue');
  const overdueAnswer = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/cases' && new URL(r.url()).searchParams.get('overdue') === 'true');
  await page.check('[data-testid=overdue]');
  const overdueIds = (await (await overdueAnswer).json()).items.map((c) => String(c.id)).join();
  await page.waitForFunction((want) => [...document.querySelectorAll('[data-testid=cases-table] tbody td:first-child')].map((td) => td.textContent.trim()).join() === want, overdueIds, { timeout: 10_000 }).catch(() => {});
  check(overdueIds !== '' && (await caseIds()) === overdueIds, `the case list filters to the overdue follow-ups the API lists (${overdueIds.split(',').length})`);
  check(await page.locator('[data-testid=cases-table] tbody tr:not(.overdue)').count() === 0, 'every listed case is flagged overdue');
  await page.screenshot({ path: path.join(shots, 'cases.png') });

  // Registers: the dog register's add form shows the API's message next to the field; a corrected
  // form is saved. Slaughter inspections list.
  check(routes.includes('POST /api/dogs') && await page.locator('[data-nav=dogs]').count() === 1 && await page.locator('[data-nav=slaughter]').count() === 1,
    'the dog register and slaughter inspections are in the navigation');
  await page.click('[data-nav=dogs]');
  await page.waitForSelector('[data-testid=register-table] tbody tr');
  await page.click('[data-testid=register-add]');
  // The form drawn from the register's declaration (components/RecordForm.vue); the village is
  // picked by name or code; a field error reads in Chinese (reasons.ts), never the API's English.
  const dogForm = 'form[data-testid=record-form][data-register=dogs]';
  await page.waitForSelector(`${dogForm} [data-testid=record-save]`);
  await page.fill(`${dogForm} input[name=dog_tag]`, 'E2E-DOG-1');
  await page.selectOption(`${dogForm} select[name=dog_kind]`, 'herding');
  await page.fill(`${dogForm} input[name=registered_on]`, '2025-03-01');
  await page.fill(`${dogForm} input[name=village_code]`, '654022100200');
  await page.click(`${dogForm} li[role=option][data-code="654022100200"]`);
  await page.fill(`${dogForm} input[name=birth_year]`, '1800');
  expect4xx('/api/dogs', 422);
  const refusedDog = answerTo(page, 'POST', '/api/dogs');
  await page.click(`${dogForm} [data-testid=record-save]`);
  const dogErr = await errorOf(refusedDog);
  const dogReason = dogErr.details?.errors?.find((x) => x.field === 'birth_year');
  await page.waitForSelector(`${dogForm} [data-field=birth_year]`);
  const dogMsg = (await page.textContent(`${dogForm} [data-field=birth_year]`)).trim();
  check(dogReason?.code === 'out_of_range' && /[\u4e00-\u9fff]/.test(dogMsg) && !/[A-Za-z]{4,}/.test(dogMsg) && dogMsg.includes('1990'),
    `an out-of-range birth year is refused next to the field, in Chinese: ${dogMsg}`);
  await page.screenshot({ path: path.join(shots, 'register-form-error.png') });
  await page.fill(`${dogForm} input[name=birth_year]`, '2021');
  const savedDog = answerTo(page, 'POST', '/api/dogs');
  await page.click(`${dogForm} [data-testid=record-save]`);
  const savedStatus = (await savedDog).status();
  await page.waitForSelector(dogForm, { state: 'detached' });
  await page.fill('[data-testid=register-search]', 'E2E-DOG-1');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=register-table] tbody tr').length === 1, null, { timeout: 10_000 });
  const found = await page.textContent('[data-testid=register-table] tbody tr');
  const stored = (await apiGet(page, '/api/dogs?q=E2E-DOG-1')).items;
  check(savedStatus === 201 && found.includes('E2E-DOG-1') && stored.length === 1 && stored[0].birth_year === 2021,
    `the corrected dog is saved (${savedStatus}, birth year ${stored[0]?.birth_year}) and found by search`);
  const inspections = page.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).pathname === '/api/slaughter_inspections');
  await page.click('[data-nav=slaughter]');
  const listed = (await (await inspections).json()).items.length;
  const rowsSel = '[data-register=slaughter_inspections] [data-testid=register-table] tbody tr';
  await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length === n, [rowsSel, listed], { timeout: 10_000 }).catch(() => {});
  const shown = await page.locator(rowsSel).count();
  check(listed > 0 && shown === listed, `slaughter inspections are listed (${shown} rows, as many as the API answered)`);
  await page.screenshot({ path: path.join(shots, 'slaughter.png') });

  // Import: a file with a bad row is refused with a report of the row and the error sheet.
  check(routes.includes('POST /api/imports') && await page.locator('[data-nav=import]').count() === 1, 'the import page is in the navigation');
  await page.click('[data-nav=import]');
  await page.waitForSelector('[data-testid=import-form]');
  await page.selectOption('[data-testid=import-form] select[name=kind]', 'dogs');
  await page.setInputFiles('[data-testid=import-form] input[type=file]', {
    name: 'dogs.csv', mimeType: 'text/csv',
    buffer: Buffer.from('dog_tag,dog_kind,registered_on,village_code,birth_year\nE2E-IMP-1,herding,2025-01-01,654022100200,abc\n'),
  });
  expect4xx('/api/imports', 422);
  const refusedImport = answerTo(page, 'POST', '/api/imports');
  await page.click('[data-testid=import-form] button[type=submit]');
  const importErr = await errorOf(refusedImport);
  const report = importErr.details;
  await page.waitForSelector('[data-testid=import-report] [data-testid=error-sheet]');
  // The refused rows as the API reported them: row, column, value, and the reason in Chinese
  // (from its code: web/src/reasons.ts), never the API's English sentence.
  const rowsShown = await page.locator('[data-testid=import-report] .scroll tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
  const rowsWant = (report?.errors ?? []).map((e) => [String(e.row), e.column ?? e.field ?? '', e.value ?? ''].map((x) => String(x).trim()));
  const chinese = (s) => /[\u4e00-\u9fff]/.test(s) && !/[A-Za-z]{4,}/.test(s.replace(/birth_year|dog_tag|abc/g, ''));
  const importSummary = (await page.textContent('[data-testid=import-report] p.error')).trim();
  check(importErr.code === 'import_refused' && rowsWant.some((r) => r[2] === 'abc')
    && JSON.stringify(rowsShown.map((r) => r.slice(0, 3))) === JSON.stringify(rowsWant)
    && rowsShown.every((r) => chinese(r[3])) && chinese(importSummary),
  `the import report shows the refused rows the API reported, their reasons and its summary in Chinese: ${rowsShown.map((r) => r.join(' ')).join('; ')} / ${importSummary}`);
  const sheet = await page.getAttribute('[data-testid=error-sheet]', 'href');
  const xlsx = await page.evaluate(async (u) => {
    const r = await fetch(u);
    const b = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, zip: b[0] === 0x50 && b[1] === 0x4b, size: b.length };
  }, sheet);
  check(sheet === `/api/imports/${report.id}/errors.xlsx` && xlsx.status === 200 && xlsx.zip, `the error sheet of import ${report.id} is offered and downloads (${xlsx.size} bytes of XLSX)`);
  await page.screenshot({ path: path.join(shots, 'import.png') });
  await page.click('[data-testid=logout]');
  await page.waitForSelector('[data-testid=login]');

  // A form with an invalid value: the API's message appears next to the field.
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', 'Qapqal-2024');
  await page.click('[data-testid=login] button[type=submit]');
  // The users form of 系统管理 (web/e2e/desk-admin.mjs tests the rest): a password the policy refuses.
  await page.waitForSelector('[data-nav=admin]');
  await page.click('[data-nav=admin]');
  await page.click('[data-testid=user-new]');
  await page.waitForSelector('[data-testid=user-form]');
  await page.fill('[data-testid=user-form] input[name=username]', 'e2e.user');
  await page.fill('[data-testid=user-form] input[name=password]', 'password');
  expect4xx('/api/users', 422);
  const refusedUser = answerTo(page, 'POST', '/api/users');
  await page.click('[data-testid=user-form] button[type=submit]');
  const userErr = await errorOf(refusedUser);
  await page.waitForSelector('[data-testid=user-form] .field-error');
  const fieldErrors = page.locator('[data-testid=user-form] .field-error');
  const msg = (await fieldErrors.first().textContent()).trim();
  check(userErr.details?.field === 'password' && await fieldErrors.count() === 1 && await fieldErrors.getAttribute('data-field') === 'password' && msg.length > 0,
    `a weak password is refused next to its field: ${msg}`);
  await page.screenshot({ path: path.join(shots, 'form-error.png') });

  // English switch; phone width.
  await page.click('[data-testid=lang]');
  check((await page.getAttribute('html', 'lang')) === 'en' && (await page.textContent('[data-nav=admin]')).trim() === 'Administration' && (await page.textContent('[data-testid=logout]')).trim() === 'Log out',
    'the page switches to English');
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
  const folded = async () => [await phone.getAttribute('.panel-toggle', 'aria-expanded'), await phone.isVisible('.panel-body'),
    await phone.getAttribute('.legend-toggle', 'aria-expanded'), await phone.isVisible('.legend-block')].join();
  check(await folded() === 'false,false,false,false', 'at phone width the layer panel and the legend start folded');
  await phone.screenshot({ path: path.join(shots, 'phone.png'), fullPage: true });
  await phone.click('.panel-toggle');
  await phone.click('.legend-toggle');
  check(await folded() === 'true,true,true,true', 'a tap unfolds each of them');
  await phone.screenshot({ path: path.join(shots, 'phone-panel.png'), fullPage: true });
  await phone.close();

  // Exports, as the planner: 导出 GeoJSON and 导出 CSV under the map download the layer behind the
  // table (the villages) for the selected period. The browser asks for compressed answers: each
  // download must complete and hold every village of the county, as /api/villages lists them.
  await page.click('[data-testid=logout]');
  await page.waitForSelector('[data-testid=login]');
  await page.fill('input[name=username]', 'planner');
  await page.fill('input[name=password]', 'Qapqal-2024');
  const summary = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/summary');
  await page.click('[data-testid=login] button[type=submit]');
  await summary;
  await page.waitForSelector('[data-testid=export-geojson]', { timeout: 30_000 });
  await idle(page);
  const period = (await page.textContent('[data-testid=period]')).trim();
  check(await page.getAttribute('[data-testid=export-geojson]', 'href') === `/api/export/villages.geojson?period=${period}`
    && await page.getAttribute('[data-testid=export-csv]', 'href') === `/api/export/villages.csv?period=${period}`, `both export buttons take the villages of ${period}`);
  const county = (await apiGet(page, '/api/villages')).items.map((v) => v.code).sort().join();
  const geojson = await download(page, 'export-geojson', 'GeoJSON');
  let fc = null;
  try { fc = JSON.parse(geojson.text); } catch { /* checked below */ }
  check(fc?.type === 'FeatureCollection' && Array.isArray(fc.features), `the GeoJSON parses as a FeatureCollection (${geojson.text.length} characters)`);
  const codes = fc.features.map((f) => f.properties?.code).sort().join();
  check(geojson.name === `villages-${period}.geojson` && fc.name === 'villages' && fc.period === period && fc.features.length > 0 && codes === county,
    `it has a feature for each of the ${county.split(',').length} villages /api/villages lists (${fc.features.length}), for ${fc.period}`);
  check(fc.features.every((f) => f.geometry?.type === 'Point' && f.geometry.coordinates.every(Number.isFinite)), 'each feature has its point');
  const csv = await download(page, 'export-csv', 'CSV');
  check(csv.name === `villages-${period}.csv` && csv.text.startsWith('\uFEFF') && csv.text.endsWith('\r\n'), `the CSV starts with the UTF-8 BOM and ends with a whole line (${csv.text.length} characters)`);
  const [header, ...lines] = csv.text.slice(1).split('\r\n').slice(0, -1).map(csvCells);
  check(header[0] === '代码' && header[1] === '名称' && header.slice(-3).join() === '经度,纬度,已抑制', `the CSV has its header row (${header.length} columns: ${header.slice(0, 3).join(',')} … ${header.slice(-3).join(',')})`);
  check(lines.length === fc.features.length && lines.every((l) => l.length === header.length) && lines.map((l) => l[0]).sort().join() === codes,
    `the CSV has a row of ${header.length} cells for each feature of the GeoJSON (${lines.length})`);

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

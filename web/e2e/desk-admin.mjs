// Browser test of the desk's indicator table, report forms, administration and the map's period
// selector (issue 18 §5, §6, §8), in real headless Chromium against the real server with the demo
// data: the indicator table for townships over 近12个月 and over 2022–2026 (coloured cells, a
// cell equal to the API's value, the CSV export parsed); a report form downloaded for 上月; an
// account created with a Chinese display name, its role and jurisdiction changed by name, its
// password reset (the new one logs in, the old one fails), a token created (works) and revoked
// (401), the account disabled (its open session ends), the audit log showing these acts; the map
// at phone size with the period selector reachable (not covered by the legend) and relative and
// range periods reaching the tiles; every page in English after the switch. Screenshots go to
// target/e2e/desk-admin-*.png.
//
//   node web/e2e/desk-admin.mjs       (after `npm --prefix web run build` and `cargo build`)
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { launchChromium, root, startServer } from './server.mjs';

const shots = path.join(root, 'target/e2e');
mkdirSync(shots, { recursive: true });
const deadline = setTimeout(() => fail('desk-admin took longer than 3 minutes'), 180_000);
let server, browser, lastPage;
const problems = [];
const log = (...a) => console.log('desk-admin:', ...a);
async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
}
async function fail(msg) {
  console.error(`desk-admin: FAILED: ${msg}`);
  await cleanup();
  process.exit(1);
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
  log('ok', msg);
}
const shot = (page, name) => page.screenshot({ path: path.join(shots, `desk-admin-${name}.png`), fullPage: true });
const apiGet = (page, p) => page.evaluate(async (u) => {
  const r = await fetch(u, { headers: { Accept: 'application/json' } });
  return { status: r.status, json: await r.json().catch(() => null) };
}, p);
function watchPage(page, tag) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    problems.push(`console error (${tag}): ${m.text()} ${m.location()?.url ?? ''}`);
  });
  page.on('pageerror', (e) => problems.push(`page error (${tag}): ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()} (${tag})`); });
}
async function login(page, base, user, password) {
  await page.goto(base + '/');
  await page.waitForSelector('[data-testid=login]');
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=logout]', { timeout: 30_000 });
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
const pct = (v) => `${(v * 100).toFixed(1)}%`;
/** Waits for the indicator table to show `period` (resolved) with rows and no computation running. */
async function tableFor(page, label) {
  await page.waitForFunction((l) => {
    const r = document.querySelector('[data-testid=ind-resolved]')?.textContent ?? '';
    return r.includes(l) && !document.querySelector('.ind-page .loading-inline') && document.querySelectorAll('[data-testid=ind-table] tbody tr[data-unit]').length > 0;
  }, label, { timeout: 60_000 });
}
/** One table cell against GET /api/indicators for its unit and period. */
async function cellMatchesApi(page, period, indicator) {
  const unit = await page.getAttribute('[data-testid=ind-table] tbody tr[data-unit]', 'data-unit');
  const shown = (await page.textContent(`[data-testid=ind-table] tbody tr[data-unit="${unit}"] td[data-indicator=${indicator}]`)).trim();
  const title = await page.getAttribute(`[data-testid=ind-table] tbody tr[data-unit="${unit}"] td[data-indicator=${indicator}]`, 'title');
  const { json } = await apiGet(page, `/api/indicators?unit=${unit}&period=${encodeURIComponent(period)}&indicator=${indicator}`);
  const api = json.indicators[0];
  const want = typeof api.value === 'number' ? pct(api.value) : '—';
  const nd = `${api.numerator?.toLocaleString('zh-CN')} / ${api.denominator?.toLocaleString('zh-CN')}`;
  check(shown === want && (api.value === null || title.includes(nd)),
    `${indicator} of ${unit} for ${period} shows the API's value (${shown} = ${want}; n/d ${nd} on hover: ${title})`);
  return json;
}

async function run() {
  server = await startServer();
  const { base, port } = server;
  log('server at', base);
  browser = await launchChromium();
  const foreign = [];
  const newContext = async (opts = {}) => {
    const c = await browser.newContext({ viewport: { width: 1366, height: 800 }, locale: 'zh-CN', acceptDownloads: true, ...opts });
    await c.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
      if (u.host !== `127.0.0.1:${port}`) { foreign.push(u.href); return route.abort(); }
      return route.continue();
    });
    return c;
  };
  const context = await newContext();
  const page = await context.newPage();
  lastPage = page;
  watchPage(page, 'desk');

  // ---- The indicator table (the epidemiologist): townships × indicators, 近12个月 by default.
  await login(page, base, 'epi', 'Qapqal-2024');
  check(await page.locator('[data-nav=indicators]').count() === 1 && await page.locator('[data-nav=reports]').count() === 1 && await page.locator('[data-nav=admin]').count() === 0,
    'the epidemiologist has 指标 and 报表 in the navigation, not 系统管理');
  await page.click('[data-nav=indicators]');
  await page.waitForSelector('[data-testid=ind-table]');
  check(await page.inputValue('[data-testid=ind-period]') === 'last_12_months' && await page.inputValue('[data-testid=ind-level]') === 'township', 'the table starts on townships over 近12个月');
  const last12 = await apiGet(page, '/api/indicators?period=last_12_months&indicator=deworming_coverage');
  const last12Key = last12.json.period.key;
  await tableFor(page, last12Key.split('..')[0]);
  const rows = await page.locator('[data-testid=ind-table] tbody tr[data-unit]').count();
  const townships = new Set((await apiGet(page, '/api/villages')).json.items.map((v) => v.township_code));
  check(rows === townships.size, `one row per township (${rows} of ${townships.size}), resolved ${last12Key}`);
  const coloured = await page.locator('[data-testid=ind-table] td.met, [data-testid=ind-table] td.not_met').count();
  check(coloured > rows, `cells are coloured against their targets (${coloured} met or not met)`);
  const heads = Object.fromEntries(await page.$$eval('[data-testid=ind-table] .ind-target', (els) => els.map((e) => [e.dataset.target, e.textContent.trim()])));
  check(heads.deworming_coverage === '目标 ≥ 80%' && heads.offal_disposal === '目标 100%' && heads.dog_faecal_positivity === '目标 < 5%' && heads.vaccination_progress === '目标 100%',
    `targets are written as the indicators say (${heads.deworming_coverage}, ${heads.offal_disposal}, ${heads.dog_faecal_positivity})`);
  await cellMatchesApi(page, 'last_12_months', 'deworming_coverage');
  // Sorting by an indicator orders its column, highest first.
  await page.click('[data-testid=ind-table] thead th[data-indicator=deworming_coverage]');
  const col = (await page.locator('[data-testid=ind-table] tbody tr[data-unit] td[data-indicator=deworming_coverage]').allTextContents()).map((s) => (s.includes('%') ? Number(s.replace('%', '')) : null)).filter((v) => v !== null);
  check(col.length > 1 && col.every((v, i) => i === 0 || col[i - 1] >= v), `the table sorts by coverage, highest first (${col[0]} … ${col.at(-1)})`);
  await shot(page, 'indicators-last12');

  // A range of years: 2022–2026, the ratio of the sums (the server's numbers).
  await page.selectOption('[data-testid=ind-period]', 'years');
  await page.selectOption('[data-testid=ind-from-year]', '2022');
  await page.selectOption('[data-testid=ind-to-year]', '2026');
  await tableFor(page, '2022–2026');
  const rangeColoured = await page.locator('[data-testid=ind-table] td.met, [data-testid=ind-table] td.not_met').count();
  check(rangeColoured > rows, `2022–2026 has coloured cells (${rangeColoured})`);
  await cellMatchesApi(page, '2022..2026', 'deworming_coverage');
  await shot(page, 'indicators-2022-2026');

  // CSV: a BOM, a header, the total row and one line per township, cells as the table shows them.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=ind-csv]')]);
  check(await dl.failure() === null, `the CSV download ${dl.suggestedFilename()} completes`);
  const csv = readFileSync(await dl.path(), 'utf8');
  check(csv.startsWith('\uFEFF') && csv.endsWith('\r\n'), 'the CSV starts with the UTF-8 BOM (Excel) and ends with a whole line');
  const [header, ...lines] = csv.slice(1).split('\r\n').slice(0, -1).map(csvCells);
  check(header[0] === '代码' && header[1] === '名称' && header.includes('犬驱虫覆盖率') && lines.length === rows + 1 && lines.every((l) => l.length === header.length),
    `the CSV has its header (${header.length} columns) and ${lines.length} lines of as many cells`);
  const firstUnit = await page.getAttribute('[data-testid=ind-table] tbody tr[data-unit]', 'data-unit');
  const csvCell = lines.find((l) => l[0] === firstUnit)[header.indexOf('犬驱虫覆盖率')];
  const tableCell = (await page.textContent(`[data-testid=ind-table] tbody tr[data-unit="${firstUnit}"] td[data-indicator=deworming_coverage]`)).trim();
  check(csvCell === tableCell, `the CSV cell equals the table's (${csvCell})`);

  // ---- A viewer (small counts hidden) on the villages of a township: hidden cells read as the
  // privacy rule says (<5 under 1–4), in the table and in the CSV alike.
  await page.click('[data-testid=logout]');
  await page.waitForSelector('[data-testid=login]');
  await login(page, base, 'viewer', 'Qapqal-2024');
  await page.click('[data-nav=indicators]');
  await page.waitForSelector('[data-testid=ind-table]');
  await page.selectOption('[data-testid=ind-level]', 'village');
  await page.selectOption('[data-testid=ind-period]', 'years');
  await page.selectOption('[data-testid=ind-from-year]', '2022');
  await page.selectOption('[data-testid=ind-to-year]', '2026');
  let hidden = 0;
  const rule = (await apiGet(page, '/api/summary')).json.small_counts;
  for (const t of await page.$$eval('[data-testid=ind-township] option', (os) => os.map((o) => o.value))) {
    await page.selectOption('[data-testid=ind-township]', t);
    await page.waitForFunction((code) => document.querySelector('[data-testid=ind-table] tbody tr[data-unit]')?.dataset.unit.startsWith(code) && !document.querySelector('.ind-page .loading-inline'), t, { timeout: 60_000 });
    hidden = await page.locator('[data-testid=ind-table] td.suppressed').count();
    if (hidden) break;
  }
  const hiddenCounts = new Set(await page.locator('[data-testid=ind-table] td.suppressed[data-indicator=new_cases]').allTextContents());
  const hiddenRates = new Set(await page.locator('[data-testid=ind-table] td.suppressed:not([data-indicator=new_cases]):not([data-indicator=new_child_cases])').allTextContents());
  const hiddenTitle = await page.getAttribute('[data-testid=ind-table] td.suppressed', 'title');
  check(hidden > 0 && [...hiddenCounts].join() === `<${rule.max + 1}` && [...hiddenRates].every((x) => x === '已抑制') && hiddenTitle.includes(`已抑制（${rule.label}）`),
    `a viewer's small counts are hidden as the rule says (${hidden} cells: counts ${[...hiddenCounts].join()}, rates ${[...hiddenRates].join()}; ${hiddenTitle})`);
  const [vdl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=ind-csv]')]);
  const vcsv = readFileSync(await vdl.path(), 'utf8').slice(1).split('\r\n').slice(0, -1).map(csvCells);
  const hiddenCsv = vcsv.slice(1).flat().filter((c) => c === `<${rule.max + 1}` || c === '已抑制').length;
  check(hiddenCsv >= hidden && !vcsv.slice(1).some((l) => l.includes('null')), `the viewer's CSV hides the same cells (${hiddenCsv} hidden values)`);
  await shot(page, 'indicators-viewer-villages');
  await page.click('[data-testid=logout]');
  await page.waitForSelector('[data-testid=login]');
  await login(page, base, 'epi', 'Qapqal-2024');

  // ---- Report forms: the monthly deworming report for 上月.
  await page.click('[data-nav=reports]');
  await page.waitForSelector('[data-form=deworming_monthly] [data-testid=report-download]');
  const forms = (await apiGet(page, '/api/reports')).json.forms.length;
  check(await page.locator('[data-form]').count() === forms, `every report form is listed (${forms})`);
  check(await page.inputValue('[data-form=deworming_monthly] [data-testid=report-period]') === 'last_month', 'the monthly form offers 上月 first');
  const lastMonth = (await apiGet(page, '/api/indicators?period=last_month&indicator=deworming_coverage')).json.period.key;
  const [rep] = await Promise.all([page.waitForEvent('download'), page.click('[data-form=deworming_monthly] [data-testid=report-download]')]);
  check(await rep.failure() === null, `the report download ${rep.suggestedFilename()} completes`);
  const xlsx = readFileSync(await rep.path());
  check(xlsx.subarray(0, 2).toString() === 'PK' && rep.suggestedFilename().includes(lastMonth), `it is an XLSX workbook for 上月 = ${lastMonth} (${xlsx.length} bytes)`);
  await shot(page, 'reports');
  await page.click('[data-testid=logout]');
  await page.waitForSelector('[data-testid=login]');

  // ---- Administration (admin): create, change role and jurisdiction by name, reset, tokens, disable.
  await login(page, base, 'admin', 'Qapqal-2024');
  check(await page.locator('[data-nav=users]').count() === 0, 'the old 用户 page is gone from the navigation');
  await page.click('[data-nav=admin]');
  await page.waitForSelector('[data-testid=user-table] tbody tr');
  const username = `w3e2e${Date.now() % 100000}`;
  const oldPassword = 'Ili-River-Valley-2026';
  await page.click('[data-testid=user-new]');
  await page.fill('[data-testid=user-form] input[name=username]', username);
  await page.fill('[data-testid=user-form] input[name=display_name]', '测试员 李娜');
  await page.selectOption('[data-testid=user-form] select[name=role]', 'viewer');
  await page.fill('[data-testid=user-form] input[name=password]', oldPassword);
  await page.click('[data-testid=user-form] button[type=submit]');
  await page.waitForSelector(`[data-user="${username}"]`);
  check((await page.textContent(`[data-user="${username}"] td:first-child`)).trim() === '测试员 李娜', 'the new account is listed with its Chinese display name');
  const userId = (await apiGet(page, '/api/users')).json.items.find((u) => u.username === username).id;

  // Role and jurisdiction by name: 乡镇防治人员 of the first township, picked by typing its name.
  const vs = (await apiGet(page, '/api/villages')).json.items;
  const township = { code: vs[0].township_code, name: vs[0].township_name };
  await page.click(`[data-user="${username}"]`);
  await page.waitForSelector('[data-testid=user-edit]');
  await page.selectOption('[data-testid=user-edit] select[name=role]', 'township_staff');
  await page.fill('[data-testid=place-filter]', township.name);
  await page.selectOption('[data-testid=user-edit] select[name=jurisdiction]', { label: township.name });
  await page.click('[data-testid=user-save]');
  await page.waitForFunction(([u, n]) => document.querySelector(`[data-user="${u}"] [data-col=jurisdiction]`)?.textContent.trim() === n, [username, township.name]);
  const changed = (await apiGet(page, '/api/users')).json.items.find((u) => u.id === userId);
  check(changed.role === 'township_staff' && changed.jurisdiction === township.code, `role and jurisdiction changed by name (${changed.role}, ${township.name} = ${changed.jurisdiction})`);
  check((await page.textContent(`[data-user="${username}"] [data-col=role]`)).trim() === (changed.role_zh ?? '乡镇防治人员'), 'the role is shown in Chinese');

  // Reset the password: the generated one is shown once; it logs in elsewhere, the old one fails.
  await page.click('[data-testid=user-reset]');
  await page.waitForSelector('[data-testid=new-password]');
  const newPassword = (await page.textContent('[data-testid=new-password]')).trim();
  check(newPassword.length >= 10 && newPassword !== oldPassword, 'a new password is generated and shown once');
  const other = await newContext();
  const theirs = await other.newPage();
  await theirs.goto(base + '/');
  const tryLogin = (pw) => theirs.evaluate(async ([u, p]) => (await fetch('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify({ username: u, password: p }) })).status, [username, pw]);
  check(await tryLogin(oldPassword) === 401, 'the old password no longer logs in');
  check(await tryLogin(newPassword) === 200, 'the new password logs in, in a second browser context');
  check((await theirs.evaluate(async () => (await fetch('/api/auth/me')).status)) === 200, 'the second context has a session');
  // After a reset the user chooses their own password before anything else.
  await theirs.reload();
  await theirs.waitForSelector('[data-testid=change-password]');
  check(await theirs.locator('nav.tabs').count() === 0, 'a reset account is asked for a new password before any page');
  const chosen = 'Chosen-by-Li-2026';
  await theirs.fill('[data-testid=change-password] input[name=new_password]', chosen);
  await theirs.fill('[data-testid=change-password] input[name=new_password_again]', chosen);
  await theirs.fill('[data-testid=change-password] input[name=old_password]', newPassword);
  await theirs.click('[data-testid=change-password] button[type=submit]');
  await theirs.waitForSelector('nav.tabs');
  const me = await theirs.evaluate(async () => (await fetch('/api/auth/me')).json());
  check(me.must_change_password === false, 'the chosen password signs in and clears the mark');

  // A token: created (the secret shown once), works, revoked, refused.
  await page.fill('[data-testid=token-form] input[name=token_name]', 'e2e 令牌');
  await page.click('[data-testid=token-form] button[type=submit]');
  await page.waitForSelector('[data-testid=token-secret]');
  const secret = (await page.textContent('[data-testid=token-secret]')).trim();
  const withToken = async () => (await fetch(`${base}/api/auth/me`, { headers: { Authorization: `Bearer ${secret}`, Accept: 'application/json' } })).status;
  check(await withToken() === 200, 'the new token authenticates');
  await page.waitForSelector('[data-token="e2e 令牌"] [data-testid=token-revoke]');
  await page.click('[data-token="e2e 令牌"] [data-testid=token-revoke]');
  await page.waitForSelector('[data-token="e2e 令牌"] [data-testid=token-revoke]', { state: 'detached' });
  check(await withToken() === 401, 'the revoked token is refused (401)');

  // Disable after a confirmation: the open session in the other context ends.
  await page.click('[data-testid=user-disable]');
  await page.click('[data-testid=user-disable-confirm]');
  await page.waitForFunction((u) => document.querySelector(`[data-user="${u}"] [data-col=state]`)?.textContent.trim() === '已停用', username);
  check((await theirs.evaluate(async () => (await fetch('/api/auth/me')).status)) === 401, 'the disabled user\'s session ends at once');
  check(await tryLogin(chosen) !== 200, 'the disabled user cannot log in');
  await other.close();
  await shot(page, 'admin-users');

  // The audit log: what was done to the account, and what the account did.
  await page.click('[data-testid=audit-on-user]');
  await page.waitForSelector('[data-testid=audit-table] tbody tr[data-action]');
  const onUser = await page.$$eval('[data-testid=audit-table] tbody tr[data-action]', (trs) => trs.map((t) => t.dataset.action));
  check(onUser.includes('user_create') || onUser.includes('create'), `the audit log on the account shows its creation (${onUser.join(', ')})`);
  check(onUser.filter((a) => a === 'user_update' || a === 'update').length >= 2, 'and the changes of role, jurisdiction and state');
  check(onUser.includes('password_change'), 'and the password reset');
  const auditText = await page.textContent('[data-testid=audit-table] tbody');
  check(auditText.includes('角色: 只读用户 → 乡镇防治人员') && auditText.includes(`→ ${township.name}`) && auditText.includes('测试员 李娜'),
    'a change reads in words as field: before → after (角色: 只读用户 → 乡镇防治人员, 辖区 by name)');
  await shot(page, 'admin-audit');
  await page.click('[data-testid=tab-users]');
  await page.click(`[data-user="${username}"]`);
  await page.click('[data-testid=audit-by-user]');
  await page.waitForSelector('[data-testid=audit-table] tbody tr[data-action=login]');
  const byUser = await page.$$eval('[data-testid=audit-table] tbody tr[data-action]', (trs) => trs.map((t) => t.dataset.action));
  check(byUser.includes('login'), `the account's own acts: its login (${byUser.join(', ')})`);
  await page.selectOption('[data-testid=audit-filters] select[name=action]', 'token_create');
  await page.fill('[data-testid=audit-filters] input[name=user]', 'admin');
  await page.click('[data-testid=audit-filters] button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=audit-table] tbody tr')].every((t) => t.dataset.action === 'token_create') && document.querySelector('[data-testid=audit-table] tbody tr[data-action]'));
  const tokenRows = await page.$$eval('[data-testid=audit-table] tbody tr[data-action]', (trs) => trs.map((t) => t.textContent));
  check(tokenRows.some((t) => t.includes('e2e 令牌') && t.includes(username)), `the audit log filters by action and user: the token's creation for ${username} among ${tokenRows.length} by admin`);

  // ---- English: every page of this test.
  await page.click('[data-testid=lang]');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  check((await page.textContent('[data-testid=tab-users]')).trim() === 'Users' && (await page.textContent('[data-testid=tab-audit]')).trim() === 'Audit log' && (await page.textContent('[data-nav=admin]')).trim() === 'Administration', 'administration in English');
  await shot(page, 'admin-en');
  await page.click('[data-nav=indicators]');
  await page.waitForSelector('[data-testid=indicators-page] h2');
  check((await page.textContent('[data-testid=indicators-page] h2')).trim() === 'Indicator table' && (await page.textContent('[data-nav=indicators]')).trim() === 'Indicators', 'the indicator table in English');
  await page.waitForSelector('[data-testid=ind-table] .ind-target');
  check(!/[目标达标]/.test(await page.textContent('[data-testid=ind-table] thead')), 'its headers are English');
  await shot(page, 'indicators-en');
  await page.click('[data-nav=reports]');
  await page.waitForSelector('[data-testid=reports-page] h2');
  check((await page.textContent('[data-testid=reports-page] h2')).trim() === 'Report forms' && (await page.textContent('[data-form=deworming_monthly] [data-testid=report-download]')).includes('Download'), 'the report forms in English');
  await shot(page, 'reports-en');
  await page.click('[data-testid=lang]');

  // ---- The map at phone size: the period selector is not covered; relative and range periods.
  const phoneCtx = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const phone = await phoneCtx.newPage();
  watchPage(phone, 'phone');
  await login(phone, base, 'epi', 'Qapqal-2024');
  await phone.waitForFunction(() => window.__echinomap?.ready, null, { timeout: 30_000 });
  await phone.waitForFunction(() => window.__map?.loaded(), null, { timeout: 30_000 });
  await phone.click('.legend-toggle');
  await phone.waitForSelector('.legend-block');
  const reachable = await phone.evaluate(() => ['[data-testid=period-kind]', '[data-testid=period-slider]', '[data-testid=play]', '.panel-toggle', '.legend-toggle', '[data-testid=logout]', '[data-testid=lang]']
    .map((sel) => {
      const el = document.querySelector(sel);
      if (!el) return `${sel}: missing`;
      const b = el.getBoundingClientRect();
      const hit = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
      return el === hit || el.contains(hit) ? '' : `${sel}: covered by ${hit?.className || hit?.tagName}`;
    }).filter(Boolean));
  check(reachable.length === 0, `at 390×844 with the legend open every control of the map is reachable${reachable.length ? `: ${reachable.join('; ')}` : ''}`);
  await phone.selectOption('[data-testid=period-kind]', 'last_12_months');
  await phone.waitForFunction(() => window.__map.getSource('case_density').tiles[0].includes('period=last_12_months'));
  check((await phone.textContent('[data-testid=period]')).includes('近12个月'), 'the map takes 近12个月; the tiles are asked for it');
  await phone.selectOption('[data-testid=period-kind]', 'years');
  await phone.selectOption('[data-testid=period-from]', '2022');
  await phone.selectOption('[data-testid=period-to]', '2026');
  await phone.waitForFunction(() => window.__map.getSource('villages').tiles[0].includes('period=2022..2026'));
  await phone.waitForFunction(() => window.__map.areTilesLoaded(), null, { timeout: 30_000 });
  check((await phone.textContent('[data-testid=period]')).trim() === '2022–2026', 'and 2022–2026 as a pair of years');
  check(await phone.evaluate(() => document.documentElement.scrollWidth <= 390), 'nothing overflows the phone width');
  await phone.waitForTimeout(800);
  await phone.screenshot({ path: path.join(shots, 'desk-admin-phone-after.png') });
  await phone.click('[data-testid=lang]');
  await phone.selectOption('[data-testid=period-kind]', 'last_month');
  await phone.waitForFunction(() => window.__map.getSource('villages').tiles[0].includes('period=last_month'));
  const enPeriod = (await phone.textContent('[data-testid=period]')).trim();
  const enOption = (await phone.textContent('[data-testid=period-kind] option[value=last_12_months]')).trim();
  check(enPeriod.startsWith('Last month') && enOption === 'Last 12 months' && (await phone.textContent('.legend-toggle')).includes('Legend'), `the map's period selector in English (${enPeriod})`);
  await phone.click('[data-testid=lang]');

  check(foreign.length === 0, `no request left the server${foreign.length ? `: ${foreign.join(', ')}` : ''}`);
  if (problems.length) throw new Error(`console errors or failed requests:\n  ${problems.join('\n  ')}`);
  log('ok no console errors, no failed requests');
}

run().then(async () => {
  clearTimeout(deadline);
  await cleanup();
  log('passed');
  process.exit(0);
}, async (e) => {
  // The page as it was when the step failed.
  await lastPage?.screenshot({ path: path.join(shots, 'desk-admin-failed.png'), fullPage: true }).catch(() => {});
  fail(e.stack ?? String(e));
});

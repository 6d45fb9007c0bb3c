// End-to-end test of the field page (/field) in real headless Chromium, phone-sized: starts the
// real server binary with the demo data (web/e2e/server.mjs), logs in as the village doctor of
// 宁古齐牛录村, finds the village from a fixed geolocation, goes offline (network emulation),
// reloads and still sees the saved data with its age, queues a stray-dog sighting and a
// deworming, comes back online and checks through the API that each exists exactly once, also
// after the answer to the first send is lost and after an explicit resend of the same entry.
// When the server has WeChat sign-in, the 绑定微信小程序 button shows a 6-digit binding code; with
// the phone's storage full a new entry is refused with a message and the queue stays as it was.
// What the page shows is compared with what the API answers. Fails on any request to a host
// other than the server's, and on any failed request or error answer other than those a step
// provokes (offline, and the lost answer). Screenshots go to target/e2e/field-*.png.
//
//   node web/e2e/field.mjs          (after `cargo build`)
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchChromium, root, startServer } from './server.mjs';

const VILLAGE = '654022100200';
const VILLAGE_NAME = '宁古齐牛录村';
const USER = 'vd_654022100200';
const PASSWORD = 'Qapqal-2024';
const shots = path.join(root, 'target/e2e');
mkdirSync(shots, { recursive: true });
const deadline = setTimeout(() => fail('the field e2e run took longer than 3 minutes'), 180_000);

let server, browser;
const problems = [];
// Failures a step provokes on purpose, by path and status or network error, once each (as in
// run.mjs); and, while the phone is offline (`offline`), requests that cannot leave it.
const expected = [];
const expectFailure = (pathname, what) => expected.push({ pathname, what });
function isExpected(url, what) {
  const i = expected.findIndex((e) => new URL(url).pathname === e.pathname && (what === undefined || (e.what === what && !e.seen)));
  if (i < 0) return false;
  if (what !== undefined) expected[i].seen = true;
  return true;
}
let offline = false;
const log = (...a) => console.log('field e2e:', ...a);
function check(cond, msg) {
  if (!cond) throw new Error(msg);
  log('ok', msg);
}
async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
}
async function fail(msg) {
  console.error(`field e2e: FAILED: ${msg}`);
  await cleanup();
  process.exit(1);
}

// The API as a script sees it (cookie session), to check what the page wrote.
async function apiClient(base) {
  const r = await fetch(`${base}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: USER, password: PASSWORD }),
  });
  if (!r.ok) throw new Error(`login failed: ${r.status}`);
  const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  return async (p) => {
    const a = await fetch(base + p, { headers: { cookie } });
    if (!a.ok) throw new Error(`GET ${p}: ${a.status} ${await a.text()}`);
    return a.json();
  };
}

// The page's words for the API's values, and its distances.
const TIER = { high: '高风险', medium: '中风险', low: '低风险' };
const REGIME = { monthly: '每月驱虫（犬犬投药、月月驱虫）', slaughter_season: '屠宰季节驱虫', targeted: '重点犬只驱虫' };
const BASIS = { village_screening: '本村筛查', township_screening: '乡镇筛查', no_screening: '无筛查数据' };
const ROLE = { village_doctor: '村医', township_staff: '乡镇防治人员' };
const metres = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);
function distance(lon1, lat1, lon2, lat2) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 12742000 * Math.asin(Math.sqrt(a));
}

async function run() {
  // WeChat sign-in configured (binding codes are refused 503 without it); code2Session is never
  // called by this test, so the default API base is never reached.
  process.env.ECHINOMAP_WECHAT_APP_ID ??= 'wxfielde2e0000000';
  process.env.ECHINOMAP_WECHAT_APP_SECRET ??= 'field-e2e-secret-not-used';
  server = await startServer();
  const { base, port } = server;
  log('server at', base);
  const get = await apiClient(base);
  const village = await get(`/api/villages/${VILLAGE}`);
  check(village.name === VILLAGE_NAME && Number.isFinite(village.lon) && Number.isFinite(village.lat), `the API knows ${VILLAGE_NAME} at ${village.lon}, ${village.lat}`);
  const fix = { lon: village.lon + 0.0004, lat: village.lat - 0.0003 };
  const day = new Date();
  const today = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
  const strays = async () => (await get(`/api/stray_dog_events?village=${VILLAGE}&from=${today}&to=${today}&limit=500`)).items;
  const before = (await strays()).length;

  browser = await launchChromium();
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
    geolocation: { longitude: fix.lon, latitude: fix.lat, accuracy: 12 },
  });
  await context.grantPermissions(['geolocation'], { origin: base });
  // Every request, the page's and the service worker's, must go to this server.
  const foreign = [];
  const own = (u) => /^(data|blob):/.test(u) || new URL(u).host === `127.0.0.1:${port}`;
  context.on('request', (r) => { if (!own(r.url())) foreign.push(r.url()); });
  // Offline, the service worker's own requests fail as a phone's would: Chromium 148 does not
  // keep Playwright's network emulation on the worker across a reload (microsoft/playwright#2311),
  // so they are also refused here (this Playwright routes a worker's requests by default).
  await context.route('**/*', (route) => {
    const r = route.request();
    if (!own(r.url())) return (foreign.push(r.url()), route.abort());
    return offline && r.serviceWorker() ? route.abort('internetdisconnected') : route.continue();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location()?.url;
    if (url && /^Failed to load resource/.test(m.text()) && ((offline && /ERR_INTERNET_DISCONNECTED/.test(m.text())) || isExpected(url))) return;
    problems.push(`console error: ${m.text()} ${url ?? ''}`);
  });
  // The page's requests and the service worker's: an error answer or a failure is a problem
  // unless the step provoked it.
  context.on('response', (r) => { if (r.status() >= 400 && !isExpected(r.url(), r.status())) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
  context.on('requestfailed', (r) => {
    const err = r.failure()?.errorText ?? '';
    if (!own(r.url()) || (offline && err === 'net::ERR_INTERNET_DISCONNECTED') || isExpected(r.url(), err)) return;
    problems.push(`request failed: ${r.method()} ${r.url()} ${err}`);
  });
  const posts = [];
  page.on('response', (r) => { if (r.request().method() === 'POST' && /\/api\/(stray_dog_events|dewormings)$/.test(r.url())) posts.push({ url: r.url(), status: r.status(), key: r.request().headers()['idempotency-key'] }); });

  // Login.
  await page.goto(base + '/field');
  await page.waitForSelector('#login-form', { state: 'visible' });
  check(await page.locator('#login h2').innerText() === '登录', 'the page asks for a login, in Chinese');
  await page.fill('#u', USER);
  await page.fill('#p', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app', { state: 'visible' });
  const routes = (await page.locator('meta[name="echinomap-routes"]').getAttribute('content')).split(',');
  for (const r of ['GET /api/villages/{code}/risk', 'GET /api/villages/{code}/contacts', 'GET /api/worklists/{kind}']) check(routes.includes(r), `the server has ${r}`);

  // The WeChat mini-program's binding code, when this server signs in with WeChat (this run
  // configures it: the session says `wechat: true`; without it the button stays hidden).
  const bindButton = page.locator('#bind-wechat');
  const wechat = (await page.evaluate(() => fetch('/api/auth/session').then((r) => r.json()))).wechat;
  check(wechat === true, 'the session says this server signs in with WeChat');
  if (wechat && routes.includes('POST /api/auth/wechat/binding-code')) {
    check(await bindButton.isVisible() && await bindButton.innerText() === '绑定微信小程序', 'the page offers 绑定微信小程序');
    const asked = page.waitForResponse((r) => r.url().endsWith('/api/auth/wechat/binding-code') && r.request().method() === 'POST');
    await bindButton.click();
    const answer = await asked;
    const body = await answer.json();
    check(answer.status() === 201 && /^[0-9]{6}$/.test(body.code) && !!answer.request().headers()['x-csrf-token'],
      'the button asks the server for a binding code with the session\'s CSRF token (201, 6 digits)');
    await page.waitForFunction((c) => document.querySelector('#bind-code')?.textContent === c, body.code);
    check(await page.locator('#bind-user').innerText() === `用户名：${USER}`, 'the block says the username to type in the mini-program');
    const until = new Date(body.expires_at);
    const hhmm = `${String(until.getHours()).padStart(2, '0')}:${String(until.getMinutes()).padStart(2, '0')}`;
    check(await page.locator('#bind-until').innerText() === `有效期至 ${hhmm}` && await page.locator('#bind-hint').innerText() === '在小程序「登录」页输入用户名和此绑定码（10 分钟内有效）',
      `the 6 digits show large with the expiry (${hhmm}) and where to enter them`);
    await page.locator('#bind-code').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'field-0-binding-code.png') });
  } else {
    check(await bindButton.isHidden(), 'without WeChat sign-in on this server the binding button is hidden');
  }

  // Where am I: the fixed position is inside the village.
  await page.evaluate(() => localStorage.removeItem('echinomap.field.village'));
  await page.locator('#village').evaluate((el) => { el.innerHTML = ''; });
  const located = page.waitForResponse((r) => r.url().includes('/api/villages/locate?'));
  await page.click('#locate');
  const locAnswer = await located;
  const asked = new URL(locAnswer.url()).searchParams;
  check(locAnswer.status() === 200 && Math.abs(asked.get('lon') - fix.lon) < 1e-6 && Math.abs(asked.get('lat') - fix.lat) < 1e-6,
    `the page asks /api/villages/locate for the GPS position (${asked.get('lon')}, ${asked.get('lat')})`);
  const loc = await locAnswer.json();
  await page.waitForFunction((n) => document.querySelector('#v-name')?.textContent === n, VILLAGE_NAME);
  check(loc.village?.code === VILLAGE, `the geolocation finds ${VILLAGE_NAME}, as the API located it`);
  const where = loc.inside ? '您在该村范围内' : `距村中心约 ${metres(loc.distance_m || 0)}`;
  check(await page.locator('#locate-msg').innerText() === where, `it says where, as the API answered: ${where}`);
  const risk = await get(`/api/villages/${VILLAGE}/risk`);
  await page.waitForSelector('#v-risk .tier');
  check(await page.locator('#v-risk .tier').innerText() === TIER[risk.tier], `the risk tier shows the API's tier (${risk.tier}): ${TIER[risk.tier]}`);
  const regimeSource = `来源：风险评估（${BASIS[risk.regime?.basis] ?? risk.regime?.basis}）${risk.regime?.regime ? '' : ' · 无筛查数据，按全国方案默认每月驱虫'}`;
  check(await page.locator('#v-regime b').innerText() === REGIME[risk.regime?.regime ?? 'monthly'] && await page.locator('#regime-source').innerText() === regimeSource,
    `the deworming regime (${risk.regime?.regime}) names its source: ${regimeSource}`);
  const month = today.slice(0, 7);
  const dueRow = (await get(`/api/worklists/deworming?unit=${VILLAGE}`)).villages.find((v) => v.code === VILLAGE);
  const dueDogs = dueRow ? dueRow.count : 0;
  const due = dueDogs === 0 ? `本月（${month}）登记犬均已驱虫` : `本月（${month}）未驱虫的犬：${dueDogs ?? '1–4'} 只`;
  check(await page.locator('#v-due li').first().evaluate((li) => li.firstChild.textContent) === due, `what is due, from the deworming work list: ${due}`);
  const people = (await get(`/api/villages/${VILLAGE}/contacts`)).items;
  const contacts = people.map((p) => `${ROLE[p.role] ?? p.role}：${p.display_name || p.username}`);
  const named = await page.locator('#v-contacts li').allInnerTexts();
  const doctor = people.find((p) => p.username === USER);
  check(named.join('; ') === contacts.join('; ') && !!doctor?.display_name && named.some((n) => n.endsWith(doctor.display_name)),
    `the village doctor is named by the display name, as the API lists the contacts: ${named.join('; ')}`);

  // The service worker takes over and keeps the answers.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
  await page.waitForFunction(async (code) => {
    const c = await caches.open('field-api-v1');
    return !!(await c.match(`/api/villages/${code}`)) && !!(await c.match('/api/villages')) && !!(await c.match('/api/auth/session'));
  }, VILLAGE, { timeout: 20_000, polling: 250 });
  check(true, 'the service worker controls the page and keeps the village, the village list and the session');
  await page.screenshot({ path: path.join(shots, 'field-1-online.png'), fullPage: true });

  // Search by pinyin initials (server side, online).
  await page.click('#nav-search');
  await page.fill('#q', 'ngqnl');
  await page.waitForSelector('#results button[data-code]');
  const first = page.locator('#results button[data-code]').first();
  check(await first.getAttribute('data-code') === VILLAGE && (await first.innerText()).startsWith(VILLAGE_NAME), 'the pinyin initials ngqnl find the village');
  await page.click('#nav-where');

  // Offline: the reload still shows the saved data and its age.
  offline = true;
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction((n) => document.querySelector('#v-name')?.textContent === n, VILLAGE_NAME, { timeout: 20_000 });
  const age = await page.locator('#data-age').innerText();
  // Saved during this run: just now or a few minutes ago.
  check(/^离线：显示本机保存的数据（数据保存于 \d{2}-\d{2} \d{2}:\d{2}，(刚刚|[1-3] 分钟前)）$/.test(age), `offline, the reload shows the saved village and how old it is: ${age}`);
  check(await page.locator('#net').innerText() === '离线', 'the header says offline');
  check(await page.locator('#v-risk .tier').innerText() === TIER[risk.tier], `the saved risk tier shows offline: ${TIER[risk.tier]}`);
  // Where am I offline: the nearest village centre of the saved list.
  const nearest = (await get('/api/villages')).items.map((v) => ({ v, d: distance(fix.lon, fix.lat, v.lon, v.lat) })).sort((a, b) => a.d - b.d)[0];
  const estimate = `离线估算：离您最近的村（按村中心点，约 ${metres(nearest.d)}）`;
  await page.click('#locate');
  await page.waitForFunction(() => /离线估算/.test(document.querySelector('#locate-msg')?.textContent || ''));
  await page.waitForFunction((n) => document.querySelector('#v-name')?.textContent === n, VILLAGE_NAME);
  check(nearest.v.code === VILLAGE && await page.locator('#locate-msg').innerText() === estimate, `offline, the GPS position finds the nearest saved village: ${estimate}`);
  await page.screenshot({ path: path.join(shots, 'field-2-offline.png'), fullPage: true });

  // Queue a stray-dog sighting and a deworming offline.
  await page.click('#nav-entry');
  await page.click('#tab-stray');
  await page.fill('#st-n', '2');
  await page.selectOption('#st-action', 'observed');
  await page.click('#form-stray button[type=submit]');
  await page.click('#tab-dw');
  const dogBox = page.locator('#dw-dogs input[type=checkbox]').first();
  const dogTag = await dogBox.getAttribute('value');
  await dogBox.check();
  await page.click('#form-dw button[type=submit]');
  let queue = await page.evaluate(() => window.__field.queue());
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  check(queue.length === 2 && queue.every((e) => e.state === 'pending' && uuid.test(e.id) && e.user === USER) && queue[0].id !== queue[1].id
    && queue.some((e) => e.register === 'stray_dog_events' && e.body.n_dogs === 2 && e.body.action === 'observed')
    && queue.some((e) => e.register === 'dewormings' && e.body.dog_tag === dogTag && e.body.dosed_on === today),
  `two entries wait on the phone with their ids (a sighting of 2 dogs; a deworming of dog ${dogTag})`);
  check(await page.locator('#net').innerText() === '离线 · 待传 2', 'the header counts them');
  await page.locator('#queue').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, 'field-3-queued.png') });
  const dosesOf = async (tag) => (await get(`/api/dewormings?village=${VILLAGE}&from=${today}&to=${today}&limit=500`)).items.filter((d) => d.dog_tag === tag);
  check((await strays()).length === before && (await dosesOf(dogTag)).length === 0, 'nothing reached the server while offline');

  // Back online; the answer to the first send of the sighting is lost on the way back.
  let lost = 0, lostStatus = 0;
  await page.route('**/api/stray_dog_events', async (route) => {
    if (route.request().method() === 'POST' && lost === 0) {
      lost++;
      lostStatus = (await route.fetch()).status(); // the server creates the record …
      return route.abort('connectionreset'); // … and the phone never hears of it
    }
    return route.continue();
  });
  expectFailure('/api/stray_dog_events', 'net::ERR_CONNECTION_RESET');
  await context.setOffline(false);
  offline = false;
  await page.evaluate(() => window.__field.sync());
  check(lost === 1 && lostStatus === 201, `the first send reached the server (${lostStatus}) and its answer was lost`);
  queue = await page.evaluate(() => window.__field.queue());
  const stray = queue.find((e) => e.register === 'stray_dog_events');
  const dose = queue.find((e) => e.register === 'dewormings');
  check(stray.state === 'pending', 'the sighting is still waiting on the phone');
  check((await strays()).length === before + 1, 'the server has the sighting once');
  await page.click('#sync');
  await page.waitForFunction(() => window.__field.queue().every((e) => e.state === 'synced'), null, { timeout: 20_000 });
  let mine = (await strays()).filter((s) => s.n_dogs === 2 && s.action === 'observed');
  check(mine.length === 1 && (await strays()).length === before + 1, 'after the resend there is still exactly one sighting');
  queue = await page.evaluate(() => window.__field.queue());
  check(queue.find((e) => e.id === stray.id).record_id === mine[0].id, 'the resend answered the first record');
  // The phone sent the GPS point (no village code): the server placed it.
  check(stray.body.village_code === undefined && Math.abs(stray.body.lon - fix.lon) < 1e-6 && Math.abs(stray.body.lat - fix.lat) < 1e-6 && mine[0].village_code === VILLAGE,
    'the sighting was placed in the village by its GPS point');
  check((await dosesOf(dogTag)).length === 1, `the deworming of ${dogTag} exists once`);

  // An explicit resend of each entry: answered with the first record, nothing new.
  await page.evaluate((id) => window.__field.resend(id), stray.id);
  await page.evaluate((id) => window.__field.resend(id), dose.id);
  check((await strays()).length === before + 1, 'resending the sighting creates no duplicate');
  check((await dosesOf(dogTag)).length === 1, 'resending the deworming creates no duplicate');
  const resends = posts.filter((p) => p.key === stray.id);
  check(resends.length >= 2 && resends.every((p) => p.status === 200), `every resend of the same key answered 200 (${resends.map((p) => p.status).join(', ')})`);
  check(posts.some((p) => p.key === dose.id && p.status === 201), 'the first deworming send created it (201)');
  await page.locator('#queue').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, 'field-4-synced.png') });

  // The phone's storage full: the new entry is refused with a clear message, the queue is as it was.
  await page.click('#nav-entry');
  await page.click('#tab-stray');
  const queueBefore = await page.evaluate(() => localStorage.getItem('echinomap.field.queue'));
  await page.evaluate(() => {
    let i = 0;
    for (let size = 1 << 20; size >= 1; size >>= 2) {
      const chunk = 'x'.repeat(size);
      try { for (;;) localStorage.setItem(`filler-${i++}`, chunk); } catch { /* full at this size: go smaller */ }
    }
  });
  await page.fill('#st-n', '3');
  await page.click('#form-stray button[type=submit]');
  const fullMessage = await page.locator('#entry-msg').innerText();
  const queueAfter = await page.evaluate(() => localStorage.getItem('echinomap.field.queue'));
  await page.evaluate(() => { for (const k of Object.keys(localStorage)) if (k.startsWith('filler-')) localStorage.removeItem(k); });
  check(fullMessage.startsWith('手机存储已满') && queueAfter === queueBefore && JSON.parse(queueAfter).length === 2,
    `storage full: the entry is refused with a message (${fullMessage}) and the queue is unchanged`);

  // English.
  await page.click('#lang');
  await page.click('#nav-where');
  await page.waitForFunction(() => document.querySelector('#nav-where').textContent.includes('Where'));
  await page.waitForFunction(() => /Data updated|Offline/.test(document.querySelector('#data-age')?.textContent || ''));
  const english = `Offline estimate: the nearest village (by its centre, about ${metres(nearest.d)})`;
  check(await page.getAttribute('html', 'lang') === 'en' && await page.locator('#net').innerText() === 'online' && await page.locator('#locate-msg').innerText() === english,
    `the English switch translates the page: ${english}`);
  await page.screenshot({ path: path.join(shots, 'field-5-english.png'), fullPage: true });

  check(foreign.length === 0, `no request left the server (${foreign.join(', ') || 'none'})`);
  check(expected.every((e) => e.seen), 'the provoked failure (the lost answer) was seen');
  check(problems.length === 0, `no page errors, console errors, failed requests or error answers (${problems.join('; ') || 'none'})`);
}

try {
  await run();
  clearTimeout(deadline);
  await cleanup();
  log('passed');
} catch (e) {
  await fail(e.stack || String(e));
}

// End-to-end test of the field page (/field) in real headless Chromium, phone-sized: starts the
// real server binary with the demo data (web/e2e/server.mjs), logs in as the village doctor of
// 宁古齐牛录村, finds the village from a fixed geolocation, goes offline (network emulation),
// reloads and still sees the saved data with its age, queues a stray-dog sighting and a
// deworming, comes back online and checks through the API that each exists exactly once, also
// after the answer to the first send is lost and after an explicit resend of the same entry.
// Fails on any request to a host other than the server's. Screenshots go to target/e2e/field-*.png.
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

async function run() {
  server = await startServer();
  const { base, port } = server;
  log('server at', base);
  const get = await apiClient(base);
  const village = await get(`/api/villages/${VILLAGE}`);
  check(village.name === VILLAGE_NAME, `the API knows ${VILLAGE_NAME} at ${village.lon}, ${village.lat}`);
  const day = new Date();
  const today = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
  const strays = async () => (await get(`/api/stray_dog_events?village=${VILLAGE}&from=${today}&to=${today}&limit=500`)).items;
  const before = (await strays()).length;

  browser = await launchChromium();
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
    geolocation: { longitude: village.lon + 0.0004, latitude: village.lat - 0.0003, accuracy: 12 },
  });
  await context.grantPermissions(['geolocation'], { origin: base });
  // Every request, the page's and the service worker's, must go to this server.
  const foreign = [];
  const own = (u) => /^(data|blob):/.test(u) || new URL(u).host === `127.0.0.1:${port}`;
  context.on('request', (r) => { if (!own(r.url())) foreign.push(r.url()); });
  await context.route('**/*', (route) => (own(route.request().url()) ? route.continue() : (foreign.push(route.request().url()), route.abort())));
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED/.test(m.text())) problems.push(`console error: ${m.text()}`); });
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
  const routes = await page.locator('meta[name="echinomap-routes"]').getAttribute('content');
  const riskRoute = routes.split(',').includes('GET /api/villages/{code}/risk');

  // Where am I: the fixed position is inside the village.
  await page.evaluate(() => localStorage.removeItem('echinomap.field.village'));
  await page.locator('#village').evaluate((el) => { el.innerHTML = ''; });
  const located = page.waitForResponse((r) => r.url().includes('/api/villages/locate?'));
  await page.click('#locate');
  check((await located).status() === 200, 'the page asks /api/villages/locate for the GPS position');
  await page.waitForFunction((n) => document.querySelector('#v-name')?.textContent === n, VILLAGE_NAME);
  check(true, `the geolocation finds ${VILLAGE_NAME}`);
  check(/范围内|距村中心/.test(await page.locator('#locate-msg').innerText()), `it says where: ${await page.locator('#locate-msg').innerText()}`);
  if (riskRoute) {
    await page.waitForSelector('#v-risk .tier');
    check(true, `the risk tier shows: ${await page.locator('#v-risk .tier').innerText()}`);
  } else {
    check((await page.locator('#risk-na').innerText()).includes('风险评估尚未提供'), 'without the risk endpoint the page says risk is not available yet');
  }
  check((await page.locator('#regime-source').innerText()).startsWith('来源'), `the deworming regime names its source: ${await page.locator('#regime-source').innerText()}`);
  check(/犬/.test(await page.locator('#v-due').innerText()), `what is due: ${(await page.locator('#v-due').innerText()).split('\n')[1]}`);
  check((await page.locator('#v-contacts').innerText()).includes(USER), 'the village doctor is named');

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
  check((await page.locator('#results button[data-code]').first().getAttribute('data-code')) === VILLAGE, 'the pinyin initials ngqnl find the village');
  await page.click('#nav-where');

  // Offline: the reload still shows the saved data and its age.
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction((n) => document.querySelector('#v-name')?.textContent === n, VILLAGE_NAME, { timeout: 20_000 });
  const age = await page.locator('#data-age').innerText();
  check(/离线/.test(age) && /前|刚刚/.test(age), `offline, the reload shows the saved village and how old it is: ${age}`);
  check((await page.locator('#net').innerText()).startsWith('离线'), 'the header says offline');
  if (riskRoute) check(await page.locator('#v-risk .tier').count() === 1, 'the saved risk tier shows offline');
  // Where am I offline: the nearest village of the saved list.
  await page.click('#locate');
  await page.waitForFunction(() => /离线估算/.test(document.querySelector('#locate-msg')?.textContent || ''));
  check(true, 'offline, the GPS position finds the nearest saved village');
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
  check(queue.length === 2 && queue.every((e) => e.state === 'pending' && e.id.length >= 8), `two entries wait on the phone with their ids (dog ${dogTag})`);
  check((await page.locator('#net').innerText()).includes('待传 2'), 'the header counts them');
  await page.locator('#queue').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, 'field-3-queued.png') });
  check((await strays()).length === before, 'nothing reached the server while offline');

  // Back online; the answer to the first send of the sighting is lost on the way back.
  let lost = 0;
  await page.route('**/api/stray_dog_events', async (route) => {
    if (route.request().method() === 'POST' && lost === 0) {
      lost++;
      await route.fetch(); // the server creates the record …
      return route.abort('connectionreset'); // … and the phone never hears of it
    }
    return route.continue();
  });
  await context.setOffline(false);
  await page.evaluate(() => window.__field.sync());
  check(lost === 1, 'the first send reached the server and its answer was lost');
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
  check(mine[0].village_code === VILLAGE, 'the sighting was placed in the village by its GPS point');
  const doses = (await get(`/api/dewormings?village=${VILLAGE}&from=${today}&to=${today}&limit=500`)).items.filter((d) => d.dog_tag === dogTag);
  check(doses.length === 1, `the deworming of ${dogTag} exists once`);

  // An explicit resend of each entry: answered with the first record, nothing new.
  await page.evaluate((id) => window.__field.resend(id), stray.id);
  await page.evaluate((id) => window.__field.resend(id), dose.id);
  check((await strays()).length === before + 1, 'resending the sighting creates no duplicate');
  check((await get(`/api/dewormings?village=${VILLAGE}&from=${today}&to=${today}&limit=500`)).items.filter((d) => d.dog_tag === dogTag).length === 1, 'resending the deworming creates no duplicate');
  const resends = posts.filter((p) => p.key === stray.id);
  check(resends.length >= 2 && resends.every((p) => p.status === 200), `every resend of the same key answered 200 (${resends.map((p) => p.status).join(', ')})`);
  check(posts.some((p) => p.key === dose.id && p.status === 201), 'the first deworming send created it (201)');
  await page.locator('#queue').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, 'field-4-synced.png') });

  // English.
  await page.click('#lang');
  await page.click('#nav-where');
  await page.waitForFunction(() => document.querySelector('#nav-where').textContent.includes('Where'));
  await page.waitForFunction(() => /Data updated|Offline/.test(document.querySelector('#data-age')?.textContent || ''));
  check(/Offline estimate|inside|About/.test(await page.locator('#locate-msg').innerText()), `the English switch translates the page: ${await page.locator('#locate-msg').innerText()}`);
  await page.screenshot({ path: path.join(shots, 'field-5-english.png'), fullPage: true });

  check(foreign.length === 0, `no request left the server (${foreign.join(', ') || 'none'})`);
  check(problems.length === 0, `no page errors (${problems.join('; ') || 'none'})`);
}

try {
  await run();
  clearTimeout(deadline);
  await cleanup();
  log('passed');
} catch (e) {
  await fail(e.stack || String(e));
}

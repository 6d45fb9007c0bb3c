// Browser test of the desk's WeChat binding (issue 21 §3, design part E), in real headless
// Chromium against the real server with the demo data. WeChat's code2Session is the one service
// replaced: web/miniprogram/test/code2session.mjs on 127.0.0.1, the server's configured base URL.
// The village doctor opens the account menu, asks for a binding code and sees its 6 digits and
// when it expires; asking again voids the first code; the mini-program's requests (Node, WeChat's
// Referer, no cookie) bind with the second code and sign in; the doctor sees the binding under
// 我的微信绑定. The administrator sees it on the users page (the account's 微信 column, the 微信绑定
// tab, the account's bindings) and its sessions in the tokens list as 小程序 (到期: 30 天未使用即失效),
// unbinds it there: the mini-program's token is refused at once, the tokens show 已吊销, the audit
// log shows 绑定微信 / 解除微信绑定 in words. The doctor binds again and unbinds from the menu
// herself. English after the switch; a code ten minutes old (the page clock moved on) reads as
// expired; at phone size the menu is reachable and the code fits.
// Screenshots go to target/e2e/desk-wechat-*.png.
//
//   node web/e2e/desk-wechat.mjs     (after `npm --prefix web run build` and `cargo build`)
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startCode2Session } from '../miniprogram/test/code2session.mjs';
import { launchChromium, root, startServer } from './server.mjs';

const USER = 'vd_654022100200';
const PASSWORD = 'Qapqal-2024';
const APPID = 'wx00e2e0desk00000';
const SECRET = 'desk-e2e-app-secret-0123456789ab';
// What code2Session answers for this WeChat user (the openid; its last 4 characters are all the
// desk ever shows).
const OPENID = 'oDesk_e2e_VillageDoctor_7Kq9';
const shots = path.join(root, 'target/e2e');
mkdirSync(shots, { recursive: true });
const deadline = setTimeout(() => fail('desk-wechat took longer than 3 minutes'), 180_000);
let server, browser, wechat, lastPage;
const problems = [];
const log = (...a) => console.log('desk-wechat:', ...a);
async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
  await wechat?.stop().catch(() => {});
}
async function fail(msg) {
  console.error(`desk-wechat: FAILED: ${msg}`);
  await cleanup();
  process.exit(1);
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
  log('ok', msg);
}
const shot = (page, name, fullPage = true) => page.screenshot({ path: path.join(shots, `desk-wechat-${name}.png`), fullPage });
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

/** A request as the mini-program sends it: no cookie, WeChat's Referer, a bearer token if any. */
async function mp(base, method, p, { body, token } = {}) {
  const headers = { accept: 'application/json', referer: `https://servicewechat.com/${APPID}/0/page-frame.html` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: await r.json().catch(() => null) };
}

/** Opens the account menu and one of its items; waits for the WeChat dialog. */
async function openWechat(page, item) {
  await page.click('[data-testid=account-menu]');
  await page.waitForSelector('[data-testid=account-items]');
  await page.click(`[data-testid=${item}]`);
  await page.waitForSelector('[data-testid=wechat-dialog]');
}
/** Asks (or waits for) a code in the open dialog; returns the digits shown. */
async function shownCode(page, previous = '') {
  await page.waitForFunction((prev) => {
    const t = document.querySelector('[data-testid=wechat-code]')?.textContent?.trim() ?? '';
    return /^\d{6}$/.test(t) && t !== prev;
  }, previous, { timeout: 15_000 });
  return (await page.textContent('[data-testid=wechat-code]')).trim();
}
const bindingRows = (page, scope = '[data-testid=wechat-dialog]') => page.locator(`${scope} [data-testid=wechat-bindings] tr[data-binding]`);

async function run() {
  wechat = await startCode2Session({ appid: APPID, secret: SECRET });
  // startServer passes the environment on: the server's WeChat settings point at the stand-in.
  process.env.ECHINOMAP_WECHAT_APP_ID = APPID;
  process.env.ECHINOMAP_WECHAT_APP_SECRET = SECRET;
  process.env.ECHINOMAP_WECHAT_API_BASE = wechat.base;
  server = await startServer();
  const { base, port } = server;
  log('server at', base, 'code2Session stand-in at', wechat.base);
  browser = await launchChromium();
  const foreign = [];
  const newContext = async (opts = {}) => {
    const c = await browser.newContext({ viewport: { width: 1366, height: 800 }, locale: 'zh-CN', ...opts });
    await c.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
      if (u.host !== `127.0.0.1:${port}`) { foreign.push(u.href); return route.abort(); }
      return route.continue();
    });
    return c;
  };

  // ---- The village doctor asks for a binding code from the account menu.
  const doctorCtx = await newContext();
  const doctor = await doctorCtx.newPage();
  lastPage = doctor;
  watchPage(doctor, 'doctor');
  await login(doctor, base, USER, PASSWORD);
  const routes = await doctor.getAttribute('meta[name="echinomap-routes"]', 'content');
  check(routes.includes('POST /api/auth/wechat/binding-code') && routes.includes('GET /api/wechat/bindings'), 'the server has the WeChat binding routes');
  await doctor.waitForSelector('[data-testid=account-menu]');
  await openWechat(doctor, 'menu-wechat-bind');
  const first = await shownCode(doctor);
  check(/^\d{6}$/.test(first), `绑定微信小程序 shows a 6-digit code at once (${first.length} digits)`);
  const size = await doctor.$eval('[data-testid=wechat-code]', (e) => parseFloat(getComputedStyle(e).fontSize));
  check(size >= 32, `the digits are large (${size}px)`);
  const expiry = (await doctor.textContent('[data-testid=wechat-code-expiry]')).trim();
  check(/^有效期至 \d\d:\d\d（还剩 (10:00|9:[0-5]\d)）$/.test(expiry), `with its expiry and the time left: ${expiry}`);
  await doctor.waitForTimeout(1200);
  const later = (await doctor.textContent('[data-testid=wechat-code-expiry]')).trim();
  check(later !== expiry, `the time left counts down (${later})`);
  const how = await doctor.textContent('[data-testid=wechat-dialog]');
  check(how.includes('在小程序「登录」页输入用户名和此绑定码（10 分钟内有效）') && (await doctor.textContent('[data-testid=wechat-username]')).trim() === USER,
    'it says where to enter the code, and the username to enter with it');
  await doctor.waitForSelector('[data-testid=wechat-dialog] [data-testid=wechat-bindings-empty]');
  check((await doctor.textContent('[data-testid=wechat-dialog] [data-testid=wechat-bindings-empty]')).includes('此账号尚未绑定微信'), '我的微信绑定: none yet');
  await shot(doctor, 'code');

  // Asking again voids the first code.
  await doctor.click('[data-testid=wechat-code-ask]');
  const second = await shownCode(doctor, first);
  check(second !== first, '重新获取绑定码 shows a new code');
  const voided = await mp(base, 'POST', '/api/auth/wechat/bind', { body: { code: wechat.issue(OPENID), username: USER, binding_code: first } });
  check(voided.status === 422 && /^binding_code_(wrong|used|expired)$/.test(voided.json?.error?.code ?? ''),
    `the first code no longer binds (${voided.status} ${voided.json?.error?.code})`);

  // ---- The mini-program binds with the second code and signs in.
  const bound = await mp(base, 'POST', '/api/auth/wechat/bind', { body: { code: wechat.issue(OPENID), username: USER, binding_code: second } });
  check(bound.status === 200 && typeof bound.json?.token === 'string' && bound.json?.user?.username === USER && bound.json?.binding_id,
    `the mini-program binds with the code shown (${bound.status}, binding ${bound.json?.binding_id})`);
  const signedIn = await mp(base, 'POST', '/api/auth/wechat', { body: { code: wechat.issue(OPENID) } });
  check(signedIn.status === 200 && signedIn.json?.idle_days === 30, `and signs in with a new login code (${signedIn.status})`);
  const token = signedIn.json.token;
  check((await mp(base, 'GET', '/api/auth/me', { token })).status === 200, 'its session token works');

  // The doctor sees the binding under 我的微信绑定: the openid's last 4 characters only.
  await doctor.click('[data-testid=wechat-close]');
  await doctor.waitForSelector('[data-testid=wechat-dialog]', { state: 'detached' });
  await openWechat(doctor, 'menu-wechat-list');
  check(await doctor.locator('[data-testid=wechat-code]').count() === 0, '我的微信绑定 does not ask for a code');
  await bindingRows(doctor).first().waitFor();
  const mineText = await bindingRows(doctor).first().textContent();
  check(await bindingRows(doctor).count() === 1 && mineText.includes(`尾号 ${OPENID.slice(-4)}`) && !mineText.includes(OPENID.slice(0, 8)),
    `我的微信绑定 lists the binding by the openid's last 4 characters (${mineText.trim().replace(/\s+/g, ' ')})`);
  await shot(doctor, 'mine');
  await doctor.keyboard.press('Escape');
  await doctor.waitForSelector('[data-testid=wechat-dialog]', { state: 'detached' });

  // ---- The administrator: the users page's bindings and the tokens' kind.
  const adminCtx = await newContext();
  const admin = await adminCtx.newPage();
  lastPage = admin;
  watchPage(admin, 'admin');
  await login(admin, base, 'admin', PASSWORD);
  await admin.click('[data-nav=admin]');
  await admin.waitForSelector(`[data-testid=user-table] tr[data-user="${USER}"]`);
  await admin.waitForFunction((u) => document.querySelector(`[data-testid=user-table] tr[data-user="${u}"] td[data-col=wechat]`)?.textContent?.includes('已绑定'), USER);
  check(true, 'the users table marks the doctor 已绑定 in its 微信 column');
  await admin.click('[data-testid=tab-wechat]');
  await admin.waitForSelector(`[data-testid=wechat-page] tr[data-user="${USER}"]`);
  const allRows = await admin.locator('[data-testid=wechat-page] tr[data-binding]').count();
  check(allRows === 1 && (await admin.textContent(`[data-testid=wechat-page] tr[data-user="${USER}"]`)).includes(`尾号 ${OPENID.slice(-4)}`),
    `the 微信绑定 tab lists every live binding (${allRows})`);
  await shot(admin, 'admin-all');
  // A binding's account opens its page: its bindings and its tokens with their kind.
  await admin.click(`[data-testid=wechat-page] tr[data-user="${USER}"] button.linkish`);
  await admin.waitForSelector('[data-testid=user-edit]');
  await admin.waitForSelector('[data-testid=token-table] tr[data-kind=wechat]');
  const kinds = await admin.$$eval('[data-testid=token-table] tr[data-kind=wechat]', (trs) => trs.map((t) => `${t.querySelector('[data-col=kind]').textContent.trim()}|${t.querySelector('[data-col=expires]').textContent.trim().replace(/\s/g, ' ')}`));
  check(kinds.length === 2 && kinds.every((k) => k === '小程序|30 天未使用即失效'), `the tokens list shows both mini-program sessions as 小程序, 30 天未使用即失效 (${kinds.join(', ')})`);
  check((await admin.textContent('[data-testid=token-table] thead')).includes('类型'), 'under a 类型 column');
  const userBindings = bindingRows(admin, '[data-testid=user-edit]');
  check(await userBindings.count() === 1, "the account's page lists its binding");
  await shot(admin, 'admin-user');
  await userBindings.first().locator('[data-testid=wechat-unbind]').click();
  await admin.click('[data-testid=user-edit] [data-testid=wechat-unbind-confirm]');
  await admin.waitForSelector('[data-testid=user-edit] [data-testid=wechat-bindings-empty]');
  check(true, 'the administrator unbinds it after a confirmation');
  await admin.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid=token-table] tr[data-kind=wechat]')];
    return rows.length > 0 && rows.every((r) => r.textContent.includes('已吊销'));
  });
  check(true, "the binding's mini-program sessions show 已吊销");
  const refused = await mp(base, 'GET', '/api/auth/me', { token });
  check(refused.status === 401, `the mini-program's token is refused at once (${refused.status})`);
  const after = await mp(base, 'POST', '/api/auth/wechat', { body: { code: wechat.issue(OPENID) } });
  check(after.status === 403 && after.json?.error?.code === 'wechat_not_bound', `and that WeChat is no longer bound (${after.json?.error?.code})`);
  await shot(admin, 'admin-unbound');

  // The audit log says it in words.
  await admin.click('[data-testid=tab-audit]');
  await admin.waitForSelector('[data-testid=audit-filters]');
  for (const [action, words] of [['wechat_binding_code', '获取微信绑定码'], ['wechat_bind', '绑定微信'], ['wechat_unbind', '解除微信绑定']]) {
    await admin.selectOption('[data-testid=audit-filters] select[name=action]', action);
    await admin.click('[data-testid=audit-filters] button[type=submit]');
    await admin.waitForSelector(`[data-testid=audit-table] tbody tr[data-action=${action}]`);
    const text = await admin.textContent(`[data-testid=audit-table] tbody tr[data-action=${action}]`);
    check(text.includes(words), `the audit log shows ${action} as ${words}`);
    const page = await admin.textContent('[data-testid=audit-table]');
    check(!page.includes(OPENID) && !page.includes(first) && !page.includes(second), `…without the openid or a binding code (${action})`);
  }

  // ---- The doctor binds again and unbinds from 我的微信绑定 herself.
  lastPage = doctor;
  await openWechat(doctor, 'menu-wechat-bind');
  const third = await shownCode(doctor);
  await doctor.waitForSelector('[data-testid=wechat-dialog] [data-testid=wechat-bindings-empty]');
  check(true, '我的微信绑定 is empty after the administrator unbound it');
  const rebound = await mp(base, 'POST', '/api/auth/wechat/bind', { body: { code: wechat.issue(OPENID), username: USER, binding_code: third } });
  check(rebound.status === 200, `the WeChat binds again with a new code (${rebound.status})`);
  await doctor.click('[data-testid=wechat-close]');
  await openWechat(doctor, 'menu-wechat-list');
  await bindingRows(doctor).first().waitFor();
  await bindingRows(doctor).first().locator('[data-testid=wechat-unbind]').click();
  check((await doctor.textContent('[data-testid=wechat-dialog] [role=alertdialog]')).includes('确认解除'), 'unbinding asks first');
  await shot(doctor, 'unbind-confirm');
  await doctor.click('[data-testid=wechat-dialog] [data-testid=wechat-unbind-confirm]');
  await doctor.waitForSelector('[data-testid=wechat-dialog] [data-testid=wechat-bindings-empty]');
  check((await mp(base, 'GET', '/api/auth/me', { token: rebound.json.token })).status === 401, "the doctor's own unbind ends the mini-program's session at once");
  await doctor.keyboard.press('Escape');

  // ---- English.
  await doctor.click('[data-testid=lang]');
  await doctor.waitForFunction(() => document.documentElement.lang === 'en');
  await doctor.click('[data-testid=account-menu]');
  check((await doctor.textContent('[data-testid=menu-wechat-bind]')).trim() === 'Bind the WeChat mini-program' && (await doctor.textContent('[data-testid=menu-wechat-list]')).trim() === 'My WeChat bindings',
    'the account menu in English');
  await doctor.click('[data-testid=menu-wechat-bind]');
  await shownCode(doctor);
  const enExpiry = (await doctor.textContent('[data-testid=wechat-code-expiry]')).trim();
  check(/^Valid until \d\d:\d\d \((10:00|9:[0-5]\d) left\)$/.test(enExpiry) && !/[\u4e00-\u9fff]/.test(await doctor.textContent('[data-testid=wechat-dialog]')),
    `the dialog in English, no Chinese left (${enExpiry})`);
  await shot(doctor, 'en');
  await doctor.keyboard.press('Escape');
  await doctor.click('[data-testid=lang]');

  // Ten minutes later (the page's clock, moved on): the code says it has expired.
  await doctor.clock.install();
  await openWechat(doctor, 'menu-wechat-bind');
  const last = await shownCode(doctor);
  await doctor.clock.fastForward('10:01');
  await doctor.waitForSelector('[data-testid=wechat-code-expired]');
  check((await doctor.textContent('[data-testid=wechat-code-expired]')).includes('此绑定码已过期，请重新获取') && await doctor.locator('[data-testid=wechat-code-expiry]').count() === 0,
    `after 10 minutes the code ${last.replace(/\d/g, '•')} reads as expired and the countdown is gone`);
  await shot(doctor, 'expired');
  await doctor.keyboard.press('Escape');

  // ---- Phone size: the menu is reachable, the code fits the screen, the buttons are big.
  const phoneCtx = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const phone = await phoneCtx.newPage();
  lastPage = phone;
  watchPage(phone, 'phone');
  await login(phone, base, USER, PASSWORD);
  await phone.waitForSelector('[data-testid=account-menu]');
  const covered = await phone.evaluate(() => ['[data-testid=account-menu]', '[data-testid=logout]', '[data-testid=lang]'].map((sel) => {
    const el = document.querySelector(sel);
    if (!el) return `${sel}: missing`;
    const b = el.getBoundingClientRect();
    const hit = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
    return el === hit || el.contains(hit) ? '' : `${sel}: covered by ${hit?.className || hit?.tagName}`;
  }).filter(Boolean));
  check(covered.length === 0, `at 390×844 the account menu, logout and the language switch are reachable${covered.length ? `: ${covered.join('; ')}` : ''}`);
  check((await phone.textContent('[data-testid=account-menu]')).includes('账号'), 'the menu says 账号 where the name does not fit');
  await phone.tap('[data-testid=account-menu]');
  await phone.waitForSelector('[data-testid=account-items]');
  const itemHeight = await phone.$eval('[data-testid=menu-wechat-bind]', (e) => e.getBoundingClientRect().height);
  check(itemHeight >= 40, `the menu's items are large enough to touch (${itemHeight}px)`);
  await phone.tap('[data-testid=menu-wechat-bind]');
  await shownCode(phone);
  const fits = await phone.evaluate(() => {
    const b = document.querySelector('[data-testid=wechat-code]').getBoundingClientRect();
    const ask = document.querySelector('[data-testid=wechat-code-ask]').getBoundingClientRect();
    return { digits: b.left >= 0 && b.right <= 390, ask: ask.height, scroll: document.documentElement.scrollWidth };
  });
  check(fits.digits && fits.ask >= 40 && fits.scroll <= 390, `the code fits the phone, the button is ${fits.ask}px tall, nothing overflows (${fits.scroll}px)`);
  await shot(phone, 'phone', false);

  check(foreign.length === 0, `no request left the server${foreign.length ? `: ${foreign.join(', ')}` : ''}`);
  check(wechat.calls.length >= 4 && wechat.calls.every((c) => c.errcode === 0), `the server asked the stand-in ${wechat.calls.length} times, all answered`);
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
  await lastPage?.screenshot({ path: path.join(shots, 'desk-wechat-failed.png'), fullPage: true }).catch(() => {});
  fail(e.stack ?? String(e));
});

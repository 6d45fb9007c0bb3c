// The desk's patient record, work lists, control stage and data quality in real headless Chromium
// (playwright-core over Debian's /usr/bin/chromium) against the real binary with the demo data:
// as the county epidemiologist, a case row opens the patient record (stage timeline, treatments,
// follow-ups, next due, as the API gives them); an imaging exam added through the form appears on
// the timeline at once; the overdue follow-up count agrees across the five places (the case
// list's overdue total, the work list, the field page of a village as its township staff, the
// village profile on the map, and the annual case report form's 随访逾期病例 column), for the
// county and for one village; the work lists, stage and quality pages render with data and, in
// English, with no Chinese left in their own strings; a quality finding marked reviewed is hidden
// by the filter and comes back when the mark is undone. Fails on any console error, failed
// request, unexpected error answer or request to another host. Screenshots (desktop and phone,
// 390×844) go to target/e2e/desk-patient-*.png.
//
//   node web/e2e/desk-patient.mjs   (after `npm --prefix web run build` and `cargo build`)
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { launchChromium, root, startServer } from './server.mjs';

const shots = path.join(root, 'target/e2e');
mkdirSync(shots, { recursive: true });
const deadline = setTimeout(() => fail('the desk-patient run took longer than 3 minutes'), 180_000);
const PASSWORD = 'Qapqal-2024';
const TOWNSHIP = '654022100';
const TOWNSHIP_USER = `ts_${TOWNSHIP}`;

let server, browser;
const problems = [];
const log = (...a) => console.log('desk-patient:', ...a);
function check(cond, msg) {
  if (!cond) throw new Error(msg);
  log('ok', msg);
}
async function cleanup() {
  await browser?.close().catch(() => {});
  await server?.stop().catch(() => {});
}
async function fail(msg) {
  console.error(`desk-patient: FAILED: ${msg}`);
  if (problems.length) console.error(`desk-patient: also seen:\n  ${problems.join('\n  ')}`);
  await cleanup();
  process.exit(1);
}

/** The cells of the first sheet of an XLSX file, as { A1: value }: a zip of XML (deflate). */
function readXlsx(buf) {
  const files = new Map();
  // The central directory: its end record is in the last 64 KiB.
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; i++) {
    const method = buf.readUInt16LE(p + 10), size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + size);
    files.set(name, (method === 8 ? zlib.inflateRawSync(data) : data).toString('utf8'));
    p += 46 + nameLen + extraLen + commentLen;
  }
  const unxml = (s) => s.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  const strings = [...(files.get('xl/sharedStrings.xml') ?? '').matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => unxml(m[1]));
  const cells = {};
  for (const m of (files.get('xl/worksheets/sheet1.xml') ?? '').matchAll(/<c r="([A-Z]+\d+)"([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
    const v = /<v>([\s\S]*?)<\/v>/.exec(m[3] ?? '')?.[1] ?? /<t[^>]*>([\s\S]*?)<\/t>/.exec(m[3] ?? '')?.[1];
    if (v === undefined) continue;
    cells[m[1]] = /t="s"/.test(m[2]) ? strings[Number(v)] : unxml(v);
  }
  return cells;
}

async function newPage(context) {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()} ${m.location()?.url ?? ''}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => { if (!/^(data|blob):/.test(r.url()) && !r.failure()?.errorText.includes('ERR_ABORTED')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`); });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
  return page;
}
async function guard(context, port, foreign) {
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    if (u.host !== `127.0.0.1:${port}`) { foreign.push(u.href); return route.abort(); }
    return route.continue();
  });
}
// What the page's own session reads from the API.
const apiGet = (page, p) => page.evaluate(async (u) => (await fetch(u, { headers: { Accept: 'application/json' } })).json(), p);
// Nothing in flight for a moment: the page has drawn what it asked for.
async function settled(page) {
  await page.waitForFunction(() => (window.__echinomapPending?.() ?? 0) === 0, null, { timeout: 30_000 });
  await page.waitForTimeout(150);
  await page.waitForFunction(() => (window.__echinomapPending?.() ?? 0) === 0, null, { timeout: 30_000 });
}
async function go(page, hash) {
  await page.evaluate((h) => (location.hash = h), hash);
  await settled(page);
}
const numberIn = (s) => Number((s ?? '').replace(/[^\d]/g, ''));

/** Chinese left in a page's own strings (headings, labels, buttons, notes), data names removed. */
async function chineseLeft(page, selector, names) {
  const texts = await page.locator(`${selector} :is(h2, h3, th, button, label, p, .tag, .badge, [role=tab], option)`).allTextContents();
  const sorted = [...names].filter(Boolean).sort((a, b) => b.length - a.length);
  const left = [];
  for (let t of texts) {
    for (const n of sorted) t = t.split(n).join('');
    if (/[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/.test(t)) left.push(t.trim().slice(0, 80));
  }
  return left;
}

async function run() {
  server = await startServer();
  const { base, port } = server;
  log('server at', base);
  browser = await launchChromium();
  const foreign = [];
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', acceptDownloads: true });
  await guard(context, port, foreign);
  const page = await newPage(context);

  // Log in as the county epidemiologist.
  await page.goto(base + '/');
  await page.waitForSelector('[data-testid=login]');
  await page.fill('input[name=username]', 'epi');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=map]');
  const routes = (await page.getAttribute('meta[name=echinomap-routes]', 'content')).split(',').map((r) => r.trim());
  const villages = (await apiGet(page, '/api/villages')).items;
  const names = new Set(['察布查尔锡伯自治县', ...villages.flatMap((v) => [v.name, v.township_name])]);
  const nav = await page.locator('nav.tabs a').allTextContents();
  check(['工作清单', '防控阶段', '数据质量'].every((n) => nav.includes(n)) && !nav.includes('病历'), `the navigation offers 工作清单, 防控阶段 and 数据质量, not the record itself (${nav.join(' ')})`);

  // 1. The case list: a row opens the patient record.
  await go(page, '#/cases');
  await page.waitForSelector('[data-testid=cases-table] tbody tr[data-case]');
  const firstRow = page.locator('[data-testid=cases-table] tbody tr[data-case]').first();
  const caseId = await firstRow.getAttribute('data-case');
  check((await firstRow.locator('td').nth(3).textContent()).trim().match(/^(囊型|泡型)$/) !== null, 'the case list names the case type (囊型/泡型), not its code');
  await firstRow.click();
  await page.waitForFunction((id) => location.hash === `#/patient?id=${id}`, caseId);
  await page.waitForSelector('[data-testid=patient-head]');
  await settled(page);
  const detail = await apiGet(page, `/api/cases/${caseId}`);
  names.add(detail.person.name);
  if (detail.reporting_unit) names.add(detail.reporting_unit);
  check((await page.textContent('[data-testid=patient-head] h2')).trim() === detail.person.name, `clicking case ${caseId} opens the record of its patient`);
  const idShown = (await page.textContent('[data-testid=id-number]')).trim();
  check(!detail.person.id_number || (idShown.includes('*') && idShown !== detail.person.id_number), `the ID number is masked until asked for (${idShown})`);
  const exams = await page.locator('[data-testid=timeline] [data-exam]').count();
  check(exams === detail.imaging.length && exams > 0, `the stage timeline has every imaging exam (${exams})`);
  const stagesShown = await page.locator('[data-testid=timeline] [data-exam]').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-stage')));
  check(stagesShown.join() === detail.imaging.map((e) => e.ce_stage ?? e.pnm).join(), `the timeline's stages are the exams' (${stagesShown.join(' → ')})`);
  const treatRows = await page.locator('[data-testid=treatments] tbody tr').count();
  check(treatRows === detail.treatments.length, `the treatments are listed (${treatRows})`);
  const fuRows = await page.locator('[data-testid=followups] tbody tr').count();
  check(fuRows === detail.followups.length && fuRows > 0, `the follow-ups are listed (${fuRows})`);
  const due = detail.next_followup?.due_on ?? detail.next_followup_due;
  check(due && (await page.textContent('[data-testid=next-due]')).trim() === due, `the next follow-up due is the schedule's (${due})`);
  check((await page.locator('[data-testid=next-overdue]').count() === 1) === !!detail.followup_overdue, `the overdue mark follows the schedule (overdue: ${detail.followup_overdue})`);
  await page.screenshot({ path: path.join(shots, 'desk-patient-record.png'), fullPage: true });

  // 2. Add an imaging exam through the form: it is on the timeline at once.
  await page.click('[data-testid=add-imaging]');
  const form = page.locator('[data-testid=record-form-dialog] [data-testid=record-form]');
  await form.waitFor();
  await settled(page);
  const today = new Date().toISOString().slice(0, 10);
  const stage = detail.case_type === 'AE' ? null : 'CE3a';
  await form.locator('input[name=examined_on]').fill(today);
  if (stage) await form.locator('select[name=ce_stage]').selectOption(stage);
  else {
    await form.locator('select[name=pnm_p]').selectOption('P2');
    await form.locator('select[name=pnm_n]').selectOption('N0');
    await form.locator('select[name=pnm_m]').selectOption('M0');
  }
  await form.locator('[data-testid=record-save]').click();
  await page.waitForSelector('[data-testid=record-form-dialog]', { state: 'detached', timeout: 15_000 });
  await settled(page);
  await page.waitForSelector(`[data-testid=timeline] [data-exam="${today}"]`, { timeout: 10_000 });
  const added = await page.locator(`[data-testid=timeline] [data-exam="${today}"]`).getAttribute('data-stage');
  check(added === (stage ?? 'P2N0M0') && (await page.locator('[data-testid=timeline] [data-exam]').count()) === exams + 1,
    `the exam added through the form is on the timeline at once (${today} ${added})`);
  await page.screenshot({ path: path.join(shots, 'desk-patient-timeline.png') });

  // 3. The overdue count across the five places, for the county and for one village.
  const wl = await apiGet(page, '/api/worklists/followups');
  const countyOverdue = wl.counts?.overdue ?? wl.total;
  const inTownship = (wl.counts?.by_village ?? wl.villages.map((v) => ({ code: v.code, n: v.count, overdue: v.count })))
    .filter((v) => v.code.startsWith(TOWNSHIP)).sort((a, b) => (b.overdue ?? b.n) - (a.overdue ?? a.n));
  check(inTownship.length > 0, `a village of ${TOWNSHIP} has overdue follow-ups (${inTownship.map((v) => v.code).join(', ')})`);
  const V = inTownship[0].code;
  const vName = villages.find((v) => v.code === V)?.name;
  // (1) the case list's overdue filter: the county, then the village.
  await go(page, '#/cases');
  await page.check('[data-testid=overdue]');
  await settled(page);
  const casesCounty = numberIn(await page.textContent('[data-testid=cases-total]'));
  await page.selectOption('select[aria-label=乡镇]', TOWNSHIP);
  await settled(page);
  const casesTownship = numberIn(await page.textContent('[data-testid=cases-total]'));
  await page.selectOption('select[aria-label=乡镇]', V);
  await settled(page);
  const casesVillage = numberIn(await page.textContent('[data-testid=cases-total]'));
  // (2) the work list: its badge and the village's row.
  await go(page, '#/worklists');
  await page.waitForSelector(`[data-testid=wl-breakdown] tr[data-village="${V}"]`);
  const wlCounty = numberIn(await page.textContent('[data-testid=wl-count-followups]'));
  const wlVillage = numberIn(await page.locator(`[data-testid=wl-breakdown] tr[data-village="${V}"] td.num`).textContent());
  // (3) the report form that counts them: the annual case report's 随访逾期病例 column.
  const year = today.slice(0, 4);
  const xlsx = Buffer.from(await page.evaluate(async (u) => {
    const b = new Uint8Array(await (await fetch(u)).arrayBuffer());
    let s = '';
    for (const x of b) s += String.fromCharCode(x);
    return btoa(s);
  }, `/api/reports/cases_annual.xlsx?period=${year}`), 'base64');
  const cells = readXlsx(xlsx);
  const col = Object.entries(cells).find(([, v]) => v === '随访逾期病例(例)')?.[0].replace(/\d+/, '');
  check(!!col, 'the annual case report has the column 随访逾期病例(例)');
  const totalRow = Object.entries(cells).find(([k, v]) => /^A\d+$/.test(k) && v === '合计')?.[0].slice(1);
  const townRow = Object.entries(cells).find(([k, v]) => /^C\d+$/.test(k) && v === TOWNSHIP)?.[0].slice(1);
  const reportCounty = Number(cells[`${col}${totalRow}`]);
  const reportTownship = Number(cells[`${col}${townRow}`]);
  const wlTownship = (wl.counts?.by_township ?? []).find((t) => t.code === TOWNSHIP);
  // (4) the village profile on the map.
  await go(page, '#/map');
  await page.waitForFunction(() => window.__echinomap?.ready && window.__map?.loaded(), null, { timeout: 30_000 });
  const village = villages.find((v) => v.code === V);
  await page.evaluate(([lon, lat]) => window.__map.jumpTo({ center: [lon, lat], zoom: 12 }), [village.lon, village.lat]);
  await page.waitForFunction(() => window.__map.loaded() && window.__map.areTilesLoaded(), null, { timeout: 30_000 });
  await page.waitForTimeout(500);
  const pt = await page.evaluate((code) => {
    const m = window.__map;
    const f = m.queryRenderedFeatures({ layers: ['villages-circle'] }).find((x) => x.properties.code === code);
    if (!f) return null;
    const p = m.project(f.geometry.coordinates);
    const r = m.getCanvas().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  }, V);
  check(pt !== null, `the village ${vName} is drawn on the map`);
  await page.mouse.click(pt.x, pt.y);
  await page.waitForSelector('[data-testid=profile]');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=profile] tr')].some((tr) => tr.firstElementChild?.textContent.trim() === '随访逾期病例'), null, { timeout: 20_000 });
  const profileVillage = numberIn(await page.locator('[data-testid=profile] tr', { has: page.locator('td:first-child', { hasText: /^随访逾期病例$/ }) }).locator('td').nth(1).textContent());
  await page.click('[data-testid=profile] .close');
  // Names, not codes, on the map's table: an H3 cell is 网格 with its villages, Gi* bins in words.
  await page.locator('[data-layer=hotspots] input').check();
  // Villages are the default unit (issue 22): H3 cells for this check.
  await page.selectOption('[data-testid=hs-unit]', 'h3');
  await page.evaluate(() => window.__map.jumpTo({ zoom: 10 }));
  await page.selectOption('[data-testid=table-layer]', 'hotspots');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=feature-table] tbody tr').length > 0, null, { timeout: 30_000 });
  const heads = (await page.locator('[data-testid=feature-table] th').allTextContents()).map((x) => x.trim());
  const cellCol = heads.findIndex((h) => h.startsWith('网格'));
  const giCol = heads.findIndex((h) => h.startsWith('Gi*'));
  const firstCells = await page.locator('[data-testid=feature-table] tbody tr').first().locator('td').allTextContents();
  check(cellCol >= 0 && /^网格/.test(firstCells[cellCol].trim()) && giCol >= 0 && /热点|冷点|不显著/.test(firstCells[giCol]),
    `the map's table names H3 cells and Gi* bins in words (${firstCells[cellCol].trim()} · ${firstCells[giCol].trim()})`);
  await page.locator('[data-layer=hotspots] input').uncheck();
  // (5) the field page of the village, as its township's staff.
  const fieldContext = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN', isMobile: true });
  await guard(fieldContext, port, foreign);
  const field = await newPage(fieldContext);
  await field.goto(base + '/field');
  await field.fill('#u', TOWNSHIP_USER);
  await field.fill('#p', PASSWORD);
  await field.click('#login-form button[type=submit]');
  await field.waitForSelector('#app:not([hidden])');
  await field.click('#nav-search');
  await field.fill('#q', V);
  await field.click(`#results button[data-code="${V}"]`);
  await field.waitForFunction(() => /逾期随访|无逾期随访/.test(document.querySelector('#v-due')?.textContent ?? ''), null, { timeout: 20_000 });
  const fuLine = await field.locator('#v-due li', { hasText: /逾期随访/ }).first().textContent();
  const fieldVillage = /无逾期随访/.test(fuLine) ? 0 : numberIn(/逾期随访患者：(\d+)/.exec(fuLine)?.[1]);
  await field.screenshot({ path: path.join(shots, 'desk-patient-field.png'), fullPage: true });
  await fieldContext.close();
  log(`overdue, county: cases ${casesCounty}, work list ${wlCounty}, report ${reportCounty} (API ${countyOverdue})`);
  log(`overdue, ${vName} ${V}: cases ${casesVillage}, work list ${wlVillage}, profile ${profileVillage}, field ${fieldVillage}; township ${TOWNSHIP}: cases ${casesTownship}, report ${reportTownship}, work list ${wlTownship?.overdue ?? wlTownship?.n}`);
  check(casesCounty > 0 && [wlCounty, reportCounty, countyOverdue].every((n) => n === casesCounty),
    `the county's overdue follow-ups agree: case list ${casesCounty} = work list ${wlCounty} = report ${reportCounty}`);
  check(casesVillage > 0 && [wlVillage, profileVillage, fieldVillage].every((n) => n === casesVillage),
    `${vName}'s overdue follow-ups agree: case list ${casesVillage} = work list ${wlVillage} = village profile ${profileVillage} = field page ${fieldVillage}`);
  check(casesTownship > 0 && casesTownship === reportTownship && casesTownship === (wlTownship?.overdue ?? wlTownship?.n),
    `township ${TOWNSHIP}'s overdue follow-ups agree: case list ${casesTownship} = work list ${wlTownship?.overdue ?? wlTownship?.n} = report ${reportTownship}`);

  // 4. The new pages render with data, then in English with no Chinese of their own.
  await go(page, '#/worklists');
  await page.waitForSelector('[data-testid=wl-lines] tbody tr');
  const lines = await page.locator('[data-testid=wl-lines] tbody tr').count();
  check(lines === wlCounty, `the follow-up work list lists the ${wlCounty} overdue patients`);
  await page.locator(`[data-testid=wl-breakdown] tr[data-village="${V}"]`).click();
  check(await page.locator('[data-testid=wl-lines] tbody tr').count() === casesVillage, `a village in the breakdown filters the lines to it (${casesVillage})`);
  const patientLink = await page.locator('[data-testid=wl-patient]').first().getAttribute('href');
  check(/^#\/patient\?id=\d+$/.test(patientLink), `a work-list line links to the patient record (${patientLink})`);
  for (const k of ['deworming', 'faecal_sampling', 'vaccination']) {
    await page.click(`[data-tab=${k}]`);
    const badge = (await page.textContent(`[data-testid=wl-count-${k}]`)).trim();
    const api = await apiGet(page, `/api/worklists/${k}`);
    check(numberIn(badge) === (api.counts?.total ?? api.total), `the ${k} tab's badge is the work list's count (${badge})`);
  }
  await page.click('[data-tab=deworming]');
  await page.screenshot({ path: path.join(shots, 'desk-patient-worklists.png') });

  await go(page, '#/stage');
  await page.waitForSelector('[data-testid=stage-evidence] tbody tr');
  const stageApi = await apiGet(page, '/api/stage');
  const county = stageApi.units.find((u) => u.level === 'county');
  check((await page.textContent('[data-testid=county-stage]')).trim() === county.stage.name_zh, `the county's stage is shown in words (${county.stage.name_zh})`);
  check((await page.textContent('[data-testid=rule-version]')).trim() === stageApi.rule_set.version, `the rule set's version is shown (${stageApi.rule_set.version})`);
  const rules = county.stages.flatMap((s) => s.rules).length;
  check(await page.locator('[data-testid=stage-evidence] tbody tr[data-rule]').count() === rules, `every criterion has its row of evidence (${rules})`);
  const why = (await page.textContent('[data-testid=stage-why]')).trim();
  check(why.includes(county.stage.name_zh) && why.length > 20, `why the stage is what it is: ${why.slice(0, 120)}`);
  await page.screenshot({ path: path.join(shots, 'desk-patient-stage.png'), fullPage: true });

  await go(page, '#/quality');
  await page.waitForSelector('[data-testid=quality-findings] tbody tr[data-finding]');
  const quality = await apiGet(page, '/api/quality');
  const firstCheck = quality.checks.find((c) => (quality.totals[c] ?? 0) > 0);
  const badge = numberIn(await page.textContent(`[data-check=${firstCheck}] .badge`));
  check(badge === quality.totals[firstCheck], `findings are grouped by kind with their counts (${firstCheck}: ${badge})`);
  const link = await page.locator('[data-testid=finding-link]').first().getAttribute('href');
  check(/^#\/(records\?register=\w+&id=\d+|patient\?id=\d+)$/.test(link), `a finding links to its record (${link})`);
  await page.screenshot({ path: path.join(shots, 'desk-patient-quality.png') });
  // Mark the first finding reviewed: hidden by the filter, back when the mark is undone.
  check(routes.includes('POST /api/quality/reviews') && routes.includes('DELETE /api/quality/reviews/{key}'), 'the server has the quality review routes');
  const first = page.locator('[data-testid=quality-findings] tbody tr[data-finding]').first();
  const key = await first.getAttribute('data-finding');
  await first.locator('[data-testid=mark-reviewed]').click();
  await first.locator('[data-testid=review-note]').fill('已核实：坐标为村委会位置');
  await first.locator('[data-testid=confirm-review]').click();
  await settled(page);
  check(await page.locator(`tr[data-finding="${key}"]`).count() === 0, `a finding marked reviewed is hidden by the filter (${key})`);
  await page.uncheck('[data-testid=hide-reviewed]');
  await settled(page);
  await page.waitForSelector(`tr[data-finding="${key}"] [data-testid=undo-review]`);
  check((await page.textContent(`tr[data-finding="${key}"]`)).includes('已核实：坐标为村委会位置'), 'with reviewed ones shown, it carries its mark and note');
  await page.click(`tr[data-finding="${key}"] [data-testid=undo-review]`);
  await settled(page);
  await page.check('[data-testid=hide-reviewed]');
  await settled(page);
  check(await page.locator(`tr[data-finding="${key}"] [data-testid=mark-reviewed]`).count() === 1, 'undoing the mark brings the finding back to the list to review');

  // English: no Chinese left in the pages' own strings.
  await page.click('[data-testid=lang]');
  for (const [hash, sel, ready] of [
    ['#/worklists', '[data-testid=worklists]', '[data-testid=wl-breakdown] tbody tr'],
    ['#/stage', '[data-testid=stage]', '[data-testid=stage-evidence] tbody tr'],
    ['#/quality', '[data-testid=quality]', '[data-testid=quality-findings] tbody tr'],
    [`#/patient?id=${caseId}`, '[data-testid=patient]', '[data-testid=timeline]'],
  ]) {
    await go(page, hash);
    await page.waitForSelector(ready);
    const left = await chineseLeft(page, sel, names);
    check(left.length === 0, `${hash} in English has no Chinese of its own${left.length ? `: ${left.join(' | ')}` : ''}`);
  }
  await page.screenshot({ path: path.join(shots, 'desk-patient-record-en.png'), fullPage: true });
  await page.click('[data-testid=lang]');

  // Phone width: each page is usable (no page-wide horizontal scroll) and screenshotted.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [hash, name, ready] of [
    [`#/patient?id=${caseId}`, 'record', '[data-testid=timeline]'],
    ['#/worklists', 'worklists', '[data-testid=wl-breakdown]'],
    ['#/stage', 'stage', '[data-testid=stage-evidence]'],
    ['#/quality', 'quality', '[data-testid=quality-findings]'],
  ]) {
    await go(page, hash);
    await page.waitForSelector(ready);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${hash} fits the phone's width (overflow ${overflow} px)`);
    await page.screenshot({ path: path.join(shots, `desk-patient-${name}-phone.png`), fullPage: true });
  }

  check(foreign.length === 0, `no request left the server's origin${foreign.length ? `: ${foreign.join(', ')}` : ''}`);
  check(problems.length === 0, `no console error, failed request or error answer${problems.length ? `:\n  ${problems.join('\n  ')}` : ''}`);
}

run()
  .then(async () => {
    clearTimeout(deadline);
    await cleanup();
    log('passed');
  })
  .catch((e) => fail(e.stack ?? String(e)));

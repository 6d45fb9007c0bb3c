// The limits of issue 21, measured and asserted: WeChat gives one user of one mini-program 1 MB
// per storage key and 10 MB in all, and the main code package must stay under 2 MB.
//
// Storage: the real server's answers for the largest demo township (察布查尔镇, 10 villages, the
// jurisdiction of `ts_654022100`) and for a county-wide account (`vet`, 84 villages, the widest
// list a field account gets), fetched and kept by the mini-program's own compiled libraries
// (the village and risk lists as `{savedAt, items}`), and an outbox of 500 pending deworming
// entries queued through its Outbox, all in the wx shim's file storage, which counts bytes and
// refuses writes as WeChat does.
//
//   node web/miniprogram/test/storage-budget.mjs                (after cargo build and the mp build)
//   node web/miniprogram/test/storage-budget.mjs --write-docs   (also puts the figures in docs/MINIPROGRAM.md)
//
// e2e.mjs calls measureStorage() on its own server, so `make test` asserts the budget too.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { createWx, LIMITS } = require('./wx-shim.cjs');
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const PASSWORD = 'Qapqal-2024';

/** The share of WeChat's limits the measured data may take: "with room to spare". */
export const ROOM = { perKey: 0.5, total: 0.2 };
/** Outbox entries measured. */
export const OUTBOX_ENTRIES = 500;
const KB = (n) => `${(n / 1024).toFixed(1)} KB`;

/** An admin's cookie session, to read the users and make API tokens for the phones. */
export async function adminSession(base) {
  const r = await fetch(`${base}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  if (!r.ok) throw new Error(`admin login: ${r.status}`);
  const { csrf_token: csrf } = await r.json();
  const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  return async (method, p, body) => {
    const a = await fetch(base + p, {
      method, headers: { cookie, 'x-csrf-token': csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!a.ok) throw new Error(`${method} ${p}: ${a.status} ${await a.text()}`);
    return a.json();
  };
}

/**
 * Fills a fresh shim storage as the phone of `username` is after a day in the field: the
 * mini-program's own compiled libraries (dist/lib/places.js, queue.js) fetch and keep the
 * jurisdiction's lists from the real server and queue `OUTBOX_ENTRIES` deworming entries, shaped
 * as the 录入 page makes them. The phone holds an API token of the account (a WeChat session
 * needs the bind flow, which e2e.mjs tests; the lists are the same for any bearer token).
 */
async function fillPhone(base, admin, username, dir, dist) {
  const users = await admin('GET', '/api/users');
  const account = (users.items ?? users).find((u) => u.username === username);
  if (!account) throw new Error(`no account ${username}`);
  const issued = await admin('POST', `/api/users/${account.id}/tokens`, { name: 'storage budget', expires_in_days: 1 });
  const file = path.join(dir, `${username}.json`);
  const wx = createWx({ baseUrl: base, storageFile: file });
  const before = globalThis.wx;
  globalThis.wx = wx;
  try {
    const lib = (name) => require(path.join(dist, 'lib', `${name}.js`));
    const { writeJson, KEYS } = lib('storage');
    wx.setStorageSync(KEYS.server, base);
    wx.setStorageSync(KEYS.token, issued.token);
    wx.setStorageSync(KEYS.lang, 'zh');
    const session = await (await fetch(`${base}/api/auth/session`, { headers: { authorization: `Bearer ${issued.token}` } })).json();
    const me = session.user ?? session;
    writeJson(KEYS.user, { username: me.username, display_name: me.display_name, role: me.role, jurisdiction: me.jurisdiction, jurisdiction_name: me.jurisdiction_name, permissions: me.permissions ?? [] });
    const places = lib('places');
    const villages = await places.villages();
    const risks = await places.risks();
    if (villages.offline || villages.full || risks.offline || risks.full) throw new Error(`${username}: the lists were not kept (${JSON.stringify({ v: villages.offline, r: risks.offline })})`);
    const { outbox } = lib('queue');
    const { tr } = lib('i18n');
    const t = tr();
    const date = new Date().toISOString().slice(0, 10);
    // Real village codes; the longest tags the field uses.
    for (let i = 0; i < OUTBOX_ENTRIES; i += 50) {
      outbox.enqueue(me.username, Array.from({ length: 50 }, (_, j) => {
        const v = villages.items[(i + j) % villages.items.length];
        const tag = `QB-${v.code}-${String(i + j).padStart(4, '0')}`;
        return { register: 'dewormings', label: t('dwLabel', tag, date), village: v.code, body: { dog_tag: tag, dosed_on: date, dose_mg: 250, given_by: me.display_name || me.username } };
      }));
    }
    wx.setStorageSync(KEYS.lastSync, JSON.stringify({ at: Date.now(), sent: 0, failed: 0, stopped: 'offline' }));
    const queued = outbox.pendingCount(me.username);
    return { username, jurisdiction: me.jurisdiction_name || me.jurisdiction, villages: villages.items.length, risk: risks.items.length, queued, bytes: wx.__shim.storageBytes() };
  } finally {
    globalThis.wx = before;
    await admin('DELETE', `/api/tokens/${issued.id}`).catch(() => {});
  }
}

/** Measures and asserts the storage budget against a running server. Throws on a breach. */
export async function measureStorage(base, dist = path.join(root, 'web/miniprogram/dist')) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'echinomap-mp-storage-'));
  try {
    const admin = await adminSession(base);
    const phones = [];
    for (const username of ['ts_654022100', 'vet']) phones.push(await fillPhone(base, admin, username, dir, dist));
    for (const p of phones) {
      if (p.queued !== OUTBOX_ENTRIES) throw new Error(`${p.username}: ${p.queued} entries queued, not ${OUTBOX_ENTRIES}`);
      for (const [key, size] of Object.entries(p.bytes.perKey)) {
        if (size > LIMITS.perKey * ROOM.perKey) throw new Error(`${p.username}: ${key} takes ${KB(size)}, over ${ROOM.perKey * 100}% of WeChat's 1 MB per key`);
      }
      if (p.bytes.total > LIMITS.total * ROOM.total) throw new Error(`${p.username}: ${KB(p.bytes.total)} in all, over ${ROOM.total * 100}% of WeChat's 10 MB`);
    }
    return phones;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The main package: every file under dist/ (no subpackages), in bytes, and the largest files. */
export function measurePackage(dist = path.join(root, 'web/miniprogram/dist')) {
  const files = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p); else files.push({ file: path.relative(dist, p), bytes: s.size });
    }
  };
  walk(dist);
  const total = files.reduce((a, f) => a + f.bytes, 0);
  if (total >= 2 * 1024 * 1024) throw new Error(`the main package is ${KB(total)}: WeChat refuses 2 MB or more`);
  return { total, files: files.length, largest: files.sort((a, b) => b.bytes - a.bytes).slice(0, 3) };
}

/** The figures as the Markdown of docs/MINIPROGRAM.md §8. */
export function report(phones, pkg) {
  const keys = ['echinomap.villages', 'echinomap.risk', 'echinomap.field.queue'];
  const lines = [];
  lines.push(`实测（\`node web/miniprogram/test/storage-budget.mjs\`，演示数据，${new Date().toISOString().slice(0, 10)}）：`);
  lines.push('');
  lines.push('| 手机上的账号 | 村庄 | 村庄名单 `echinomap.villages` | 风险名单 `echinomap.risk` | 待传队列 `echinomap.field.queue`（' + OUTBOX_ENTRIES + ' 条） | 合计（全部键） | 占 10 MB |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const p of phones) {
    const k = p.bytes.perKey;
    lines.push(`| \`${p.username}\`（${p.jurisdiction}） | ${p.villages} | ${KB(k[keys[0]])} | ${KB(k[keys[1]])} | ${KB(k[keys[2]])} | ${KB(p.bytes.total)} | ${(100 * p.bytes.total / LIMITS.total).toFixed(1)}% |`);
  }
  const q = phones[0].bytes.perKey[keys[2]];
  const perEntry = q / OUTBOX_ENTRIES;
  lines.push('');
  lines.push(`每条待传记录约 ${Math.round(perEntry)} 字节，所以单个键 1 MB 的上限约可容纳 ${Math.floor(LIMITS.perKey / perEntry).toLocaleString('en')} 条未上传记录`
    + `（队列是一个键）；测试断言每个键不超过 1 MB 的 ${ROOM.perKey * 100}%、合计不超过 10 MB 的 ${ROOM.total * 100}%。`
    + '按 UTF-8 字节计算（一个汉字 3 字节），比微信自己的计法保守。');
  if (pkg) {
    lines.push('');
    lines.push(`代码包：主包 ${KB(pkg.total)}（${pkg.files} 个文件，上限 2 MB，占 ${(100 * pkg.total / (2 * 1024 * 1024)).toFixed(1)}%），`
      + `最大的文件：${pkg.largest.map((f) => `\`${f.file}\` ${KB(f.bytes)}`).join('、')}。`);
  }
  lines.push('');
  lines.push(`*English.* ${phones.map((p) => `${p.username} (${p.villages} villages): ${KB(p.bytes.total)} in all with ${OUTBOX_ENTRIES} queued entries`).join('; ')}; `
    + `about ${Math.round(perEntry)} bytes per queued entry, so one 1 MB key holds about ${Math.floor(LIMITS.perKey / perEntry).toLocaleString('en')} unsent entries.`
    + (pkg ? ` Main package ${KB(pkg.total)} of 2 MB.` : ''));
  return lines.join('\n');
}

/** Replaces the figures between the markers of docs/MINIPROGRAM.md §8. */
export function writeDocs(markdown) {
  const file = path.join(root, 'docs/MINIPROGRAM.md');
  const doc = readFileSync(file, 'utf8');
  const begin = '<!-- storage-budget:begin -->';
  const end = '<!-- storage-budget:end -->';
  const block = `${begin}\n${markdown}\n${end}`;
  const next = doc.includes(begin) ? doc.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), block) : doc.replace('MEASUREMENTS_PLACEHOLDER', block);
  writeFileSync(file, next);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { startServer } = await import(path.join(root, 'web/e2e/server.mjs'));
  const server = await startServer();
  try {
    const phones = await measureStorage(server.base);
    let pkg = null;
    try { pkg = measurePackage(); } catch (e) { if (e.code !== 'ENOENT') throw e; console.log('storage budget: no dist/ (run the mp build first): package not measured'); }
    const md = report(phones, pkg);
    console.log(md);
    if (process.argv.includes('--write-docs')) writeDocs(md);
    console.log('storage budget: passed');
  } finally {
    await server.stop();
  }
}

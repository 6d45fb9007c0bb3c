// The core stays portable (no DOM, storage, network or WeChat API inside: clients pass adapters),
// and the phone page imports, serves and caches the same list of modules.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

const here = (p) => new URL(p, import.meta.url);
const MODULES = readdirSync(here('..')).filter((f) => f.endsWith('.js')).sort();
const read = (p) => readFileSync(here(p), 'utf8');

test('the core modules touch no DOM, storage, network or WeChat API, and are type-checked', () => {
  assert.deepEqual(MODULES, ['coords.js', 'due.js', 'outbox.js', 'reasons.js', 'risk.js', 'search.js', 'text.js', 'time.js', 'uuid.js', 'validate.js']);
  for (const f of MODULES) {
    const code = read(`../${f}`).replace(/^\s*(\/\/|\*).*$/gm, '');
    for (const global of ['document', 'window', 'localStorage', 'fetch', 'wx', 'navigator', 'XMLHttpRequest', 'globalThis']) {
      assert.ok(!new RegExp(`(^|[^.\\w])${global}\\b`).test(code), `${f} uses ${global}`);
    }
    assert.match(read(`../${f}`), /^\/\/ @ts-check\n/, `${f} starts with // @ts-check`);
    for (const m of code.matchAll(/from '([^']+)'/g)) assert.match(m[1], /^\.\/[a-z]+\.js$/, `${f} imports only core modules`);
  }
});

test('/field serves every module, app.js imports from /field/core/ only what exists, the worker caches those', () => {
  const served = read('../../../server/src/http/field.rs');
  for (const f of MODULES) assert.ok(served.includes(`"${f}"`), `field.rs serves ${f}`);
  const app = read('../../../server/src/http/field/app.js');
  const imported = [...app.matchAll(/from '\/field\/core\/([a-z]+\.js)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(imported, ['due.js', 'risk.js', 'search.js', 'text.js', 'time.js'], 'what the first view needs');
  // Modules imported after the first view: the refusals' words when one is shown
  // (`import('/field/core/x.js')`), and those of entry.js (the queue and the entry rules), which
  // app.js imports after it.
  assert.match(app, /import\('\/field\/entry\.js'\)/);
  const entry = read('../../../server/src/http/field/entry.js');
  const lazy = [
    ...[...app.matchAll(/import\('\/field\/core\/([a-z]+\.js)'\)/g)].map((m) => m[1]),
    ...[...entry.matchAll(/from '\/field\/core\/([a-z]+\.js)'/g)].map((m) => m[1]).filter((f) => !imported.includes(f)),
  ];
  for (const f of [...imported, ...lazy]) assert.ok(MODULES.includes(f), f);
  assert.deepEqual(lazy.sort(), ['outbox.js', 'reasons.js', 'uuid.js', 'validate.js'], 'after the first view');
  const sw = read('../../../server/src/http/field/sw.js');
  const cached = JSON.parse(/const CORE = (\[[^\]]*\])/.exec(sw)[1].replace(/'/g, '"')).map((m) => `${m}.js`).sort();
  // reasons.js is kept when the page fetches it (refusals come only online), not at install.
  const installed = [...imported, ...lazy].filter((f) => f !== 'reasons.js').sort();
  assert.deepEqual(cached, installed, 'sw.js installs every module app.js imports, at start or later');
  const html = read('../../../server/src/http/field/index.html');
  const preloaded = [...html.matchAll(/rel="modulepreload" href="\/field\/core\/([a-z]+\.js)"/g)].map((m) => m[1]).sort();
  assert.deepEqual(preloaded, imported, 'index.html preloads them (one round trip on 2G)');
  assert.match(html, /<script type="module" src="\/field\/app\.js"><\/script>/);
  assert.match(sw, /'\/field\/entry\.js'/, 'sw.js installs entry.js');
});

test('every route app.js checks for is in the page\'s route table (PAGE_ROUTES in field.rs)', () => {
  const served = read('../../../server/src/http/field.rs');
  const table = /const PAGE_ROUTES: \[&str; \d+\] = \[([^\]]*)\]/.exec(served)[1];
  const listed = [...table.matchAll(/"([A-Z]+ [^"]+)"/g)].map((m) => m[1]).sort();
  const app = read('../../../server/src/http/field/app.js');
  const asked = [...new Set([...app.matchAll(/has\('([^']+)'(?:, '([A-Z]+)')?\)/g)].map((m) => `${m[2] || 'GET'} ${m[1]}`))].sort();
  assert.deepEqual(asked, listed);
});

// The field page's service worker (scope /field): the page opens without signal, and the API
// answers it read last are served again, marked with when they were fetched.
//   page files and the field core's modules: cache first, refreshed in the background;
//   GET /api/… of KEEP: network first; a copy is kept with `x-field-saved-at` (ms since 1970),
//   at most MAX_KEPT answers; offline the copy is answered with `x-field-offline: 1`.
//   Patient rows (/api/cases, the follow-up work list) are never kept.
// Writes (POST) are not touched here: the page queues them and sends them itself.
// The page's files are one build: the server puts the hash of all of them in BUILD (and in the
// `x-field-build` header of each), so a new app.js never runs with old core modules. A new build
// is a new sw.js: it installs every file at once in a cache of its own, the old cache goes on
// activate, and a file of another build is never put into this one.
const BUILD = '__FIELD_BUILD__';
const SHELL_CACHE = `field-shell-${BUILD}`;
const API_CACHE = 'field-api-v1';
// The field core's modules that app.js imports, and those entry.js imports (app.js loads it
// after the first view): all of them, so that the page and its entries work offline (coords.js
// is the mini-program's: the browser's GPS answers WGS84 already). reasons.js is not fetched
// here: refusals come only online, and any /field file the page fetches is kept below.
const CORE = ['text', 'time', 'search', 'risk', 'due', 'outbox', 'uuid', 'validate'].map((m) => `/field/core/${m}.js`);
const SHELL = ['/field', '/field/app.js', '/field/entry.js', '/field/manifest.webmanifest', '/field/icon.svg', ...CORE];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await cache.addAll(SHELL.map((url) => new Request(url, { cache: 'no-cache' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('field-') && key !== SHELL_CACHE && key !== API_CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

// What is kept: the session, the village list, one village (detail, contacts, risk), the risk
// list, the animal work lists and a village's dogs, doses and screening. Not kept: locate and
// search answers (one per position or text: the page answers those offline from the list).
const KEEP = [
  /^\/api\/auth\/session$/,
  /^\/api\/villages$/,
  /^\/api\/villages\/[0-9]{12}(\/contacts|\/risk)?$/,
  /^\/api\/risk$/,
  /^\/api\/worklists\/(deworming|faecal_sampling|vaccination)$/,
  /^\/api\/(dogs|dewormings|screening_campaigns)$/,
];
const MAX_KEPT = 400;

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname === '/field' || (url.pathname.startsWith('/field/') && url.pathname !== '/field/sw.js')) {
    event.respondWith(shell(event, req));
  } else if (KEEP.some((re) => re.test(url.pathname)) && !(url.pathname === '/api/villages' && url.search)) {
    event.respondWith(api(req));
  }
});

async function shell(event, req) {
  const cache = await caches.open(SHELL_CACHE);
  const key = new URL(req.url).pathname; // /field?x= is the same page
  const cached = await cache.match(key);
  const fresh = fetch(req).then((r) => { if (r.ok && r.headers.get('x-field-build') === BUILD) cache.put(key, r.clone()); return r; });
  if (cached) { event.waitUntil(fresh.catch(() => {})); return cached; }
  return fresh;
}

async function api(req) {
  const cache = await caches.open(API_CACHE);
  try {
    const r = await fetch(req);
    if (r.ok) {
      const headers = new Headers(r.headers);
      headers.set('x-field-saved-at', String(Date.now()));
      const body = await r.clone().arrayBuffer();
      await cache.delete(req);
      await cache.put(req, new Response(body, { status: r.status, statusText: r.statusText, headers }));
      // Oldest first: keys() lists in insertion order, and a refreshed answer was re-inserted.
      const keys = await cache.keys();
      for (const k of keys.slice(0, Math.max(0, keys.length - MAX_KEPT))) await cache.delete(k);
    } else if (r.status === 401) {
      // Logged out or expired: nothing kept may be shown any more.
      await caches.delete(API_CACHE);
    }
    return r;
  } catch (err) {
    const cached = await cache.match(req);
    if (!cached) {
      return new Response(JSON.stringify({ error: { code: 'offline', message: 'offline and not saved on this phone' } }),
        { status: 503, headers: { 'content-type': 'application/json', 'x-field-offline': '1' } });
    }
    const headers = new Headers(cached.headers);
    headers.set('x-field-offline', '1');
    return new Response(await cached.arrayBuffer(), { status: cached.status, headers });
  }
}

// The field page's service worker (scope /field): the page opens without signal, and the API
// answers it read last are served again, marked with when they were fetched.
//   page files: cache first, refreshed in the background (the page is a few kB);
//   GET /api/…: network first; a copy is kept with `x-field-saved-at` (ms since 1970); offline
//   the copy is answered with `x-field-offline: 1`. Patient rows (/api/cases) are never kept.
// Writes (POST) are not touched here: the page queues them and sends them itself.
const SHELL_CACHE = 'field-shell-v1';
const API_CACHE = 'field-api-v1';
const SHELL = ['/field', '/field/app.js', '/field/manifest.webmanifest', '/field/icon.svg'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('field-') && key !== SHELL_CACHE && key !== API_CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

const KEEP = /^\/api\/(auth\/session|villages|risk|worklists\/(deworming|faecal_sampling|vaccination)|dogs|dewormings|screening_campaigns)(\/|$|\?)/;

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname === '/field' || (url.pathname.startsWith('/field/') && url.pathname !== '/field/sw.js')) {
    event.respondWith(shell(event, req));
  } else if (KEEP.test(url.pathname + url.search)) {
    event.respondWith(api(req));
  }
});

async function shell(event, req) {
  const cache = await caches.open(SHELL_CACHE);
  const key = new URL(req.url).pathname; // /field?x= is the same page
  const cached = await cache.match(key);
  const fresh = fetch(req).then((r) => { if (r.ok) cache.put(key, r.clone()); return r; });
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
      await cache.put(req, new Response(body, { status: r.status, statusText: r.statusText, headers }));
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

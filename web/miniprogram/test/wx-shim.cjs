// A `wx` for running the mini-program's compiled page logic in Node against the real server.
// Not a mock of the server: `request` really goes over TCP to 127.0.0.1, storage is a real JSON
// file that refuses writes past WeChat's limits, and only what a phone alone can give — the
// login code, the GPS fix, the scanned barcode, taps on dialogs — is fixed by the test.
//
//   const { createWx } = require('./wx-shim.cjs');
//   const wx = createWx({ baseUrl, storageFile, location: { longitude, latitude }, scan: 'DOG-1',
//                         online: true, loginCode: () => wechat.issue(openid) });
//   wx.__shim.setOnline(false);                       // request fails like WeChat's request:fail
//   wx.__shim.dropNextAnswer((r) => r.method === 'POST' && r.path === '/api/dewormings');
//   wx.__shim.requests / .ui / .storageBytes()         // what happened
//
// WeChat behaviours copied here, because the client code depends on them:
// - wx.request calls `success` for every HTTP status (4xx and 5xx too), `fail` only when no
//   answer came (`request:fail …`); it returns a RequestTask, never a Promise; JSON bodies are
//   parsed when `dataType` is json (the default); the Referer is
//   `https://servicewechat.com/{appid}/{version}/page-frame.html` and cannot be set; only the
//   configured request domain may be reached ("url not in domain list").
// - Storage: at most 1 MB per key and 10 MB in all for one user and app; a write past either
//   throws (sync) or fails (async) and changes nothing. Sizes are counted as the UTF-8 bytes of
//   the key plus the value (a string as it is, anything else as JSON text); Chinese counts 3
//   bytes, on the safe side of WeChat's own count.
//   getStorageSync of a missing key returns ''.
// - Async APIs other than request return a Promise when given no success/fail/complete.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const MB = 1024 * 1024;
/** WeChat's storage limits for one user of one mini-program. */
const LIMITS = { perKey: 1 * MB, total: 10 * MB };

/** The storage error WeChat raises when a write would pass the 10 MB total. */
const STORAGE_FULL = 'exceed storage max size 10Mb';
/** … and when one key's value would pass 1 MB. */
const ENTRY_TOO_LARGE = 'exceed storage item max length 1Mb';

function byteSize(key, value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? '';
  return Buffer.byteLength(key, 'utf8') + Buffer.byteLength(text, 'utf8');
}

/** Storage on a JSON file: `{ key: value }`, rewritten whole (write then rename) on each change. */
function fileStorage(file) {
  /** @type {Record<string, unknown>} */
  let items = {};
  if (file && fs.existsSync(file)) items = JSON.parse(fs.readFileSync(file, 'utf8') || '{}');
  const save = () => {
    if (!file) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(items));
    fs.renameSync(tmp, file);
  };
  const sizes = () => Object.fromEntries(Object.entries(items).map(([k, v]) => [k, byteSize(k, v)]));
  const total = () => Object.values(sizes()).reduce((a, b) => a + b, 0);
  return {
    get: (key) => (Object.prototype.hasOwnProperty.call(items, key) ? structuredClone(items[key]) : ''),
    /** Throws WeChat's message (without the API prefix) and leaves storage unchanged. */
    set(key, value) {
      if (typeof key !== 'string' || key === '') throw new Error('parameter error: parameter.key should be String instead of Undefined;');
      if (value === undefined) throw new Error('parameter error: parameter.data should be Object instead of Undefined;');
      const copy = JSON.parse(JSON.stringify(value));
      const size = byteSize(key, copy);
      if (size > LIMITS.perKey) throw new Error(ENTRY_TOO_LARGE);
      const old = Object.prototype.hasOwnProperty.call(items, key) ? byteSize(key, items[key]) : 0;
      if (total() - old + size > LIMITS.total) throw new Error(STORAGE_FULL);
      items[key] = copy;
      save();
    },
    remove(key) { delete items[key]; save(); },
    clear() { items = {}; save(); },
    keys: () => Object.keys(items),
    sizes,
    total,
  };
}

/** A phone-like User-Agent: WeChat's webview adds MicroMessenger and miniProgram. */
const USER_AGENT = 'Mozilla/5.0 (Linux; Android 12; test) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN miniProgram';

/**
 * @param {{
 *   baseUrl: string,                       the request domain (the server under test)
 *   storageFile?: string,                  the storage file (none: memory only)
 *   location?: { longitude: number, latitude: number, accuracy?: number } | null,
 *   scan?: string | string[] | (() => string) | null,   what wx.scanCode reads (an array: one per call)
 *   online?: boolean,
 *   loginCode?: () => string,              the code wx.login hands out
 *   appid?: string, version?: string,      for the Referer
 *   modal?: (options) => boolean,          the answer to wx.showModal (default: confirm)
 *   language?: string,                     wx.getSystemInfoSync().language (default zh_CN)
 * }} options
 */
function createWx({
  baseUrl,
  storageFile,
  location = null,
  scan = null,
  online = true,
  loginCode = () => { throw new Error('no loginCode given to createWx'); },
  appid = 'wx00000000000000e2',
  version = '0',
  modal = () => true,
  language = 'zh_CN',
} = {}) {
  const allowed = new URL(baseUrl).origin;
  const storage = fileStorage(storageFile);
  const shim = {
    online,
    /** Every wx.request: `{ method, url, path, headers, body, status?, dropped?, error? }`. */
    requests: [],
    /** Every UI or navigation call: `{ api, options }` (showToast, showModal, navigateTo …). */
    ui: [],
    /** Types asked of wx.getLocation, in order. */
    locationTypes: [],
    /** Predicates of answers to drop: the server handles the request, the phone never hears. */
    drops: [],
    /** Requests whose callbacks have not run yet (the harness waits for none). */
    inflight: 0,
    netListeners: new Set(),
    location,
    scan,
    storage,
    setOnline(value) {
      shim.online = value;
      for (const cb of shim.netListeners) cb({ isConnected: value, networkType: value ? 'wifi' : 'none' });
    },
    /** The next request for which `pred(req)` holds reaches the server; its answer is lost. */
    dropNextAnswer(pred) { shim.drops.push(pred); },
    storageBytes: () => ({ perKey: storage.sizes(), total: storage.total(), limits: LIMITS }),
    /** UI calls of one API (e.g. 'showToast'), their options. */
    calls: (api) => shim.ui.filter((c) => c.api === api).map((c) => c.options),
    reset() { shim.requests.length = 0; shim.ui.length = 0; },
  };

  const later = (fn) => setImmediate(fn);
  /** Calls success/fail/complete, or settles a Promise when none was given. */
  function asyncApi(name, options, work) {
    const o = options || {};
    const callbacks = typeof o.success === 'function' || typeof o.fail === 'function' || typeof o.complete === 'function';
    const run = () => new Promise((resolve, reject) => {
      later(async () => {
        try {
          const res = await work(o);
          resolve({ errMsg: `${name}:ok`, ...res });
        } catch (e) {
          reject({ errMsg: `${name}:fail ${e && e.message ? e.message : e}` });
        }
      });
    });
    if (!callbacks) return run();
    run().then(
      (res) => { o.success?.(res); o.complete?.(res); },
      (err) => { o.fail?.(err); o.complete?.(err); },
    );
    return undefined;
  }
  /** A UI call: recorded, then answered as a phone with a tapping user would. */
  function ui(name, answer = () => ({})) {
    return (options = {}) => {
      shim.ui.push({ api: name, options });
      return asyncApi(name, options, () => answer(options));
    };
  }
  function syncStorage(name, fn) {
    return (...args) => {
      try { return fn(...args); } catch (e) { throw new Error(`${name}:fail ${e.message}`); }
    };
  }

  function request(options) {
    const o = options || {};
    let aborted = false;
    let req;
    const method = (o.method || 'GET').toUpperCase();
    const headers = {};
    for (const [k, v] of Object.entries(o.header || {})) {
      // WeChat does not let the page set these.
      if (!/^(referer|user-agent)$/i.test(k)) headers[k.toLowerCase()] = String(v);
    }
    if (!headers['content-type']) headers['content-type'] = 'application/json';
    headers.referer = `https://servicewechat.com/${appid}/${version}/page-frame.html`;
    headers['user-agent'] = USER_AGENT;
    let url = o.url;
    let body;
    if (o.data !== undefined && o.data !== null) {
      if (method === 'GET') {
        if (typeof o.data === 'object') {
          const u = new URL(url);
          for (const [k, v] of Object.entries(o.data)) if (v !== undefined) u.searchParams.append(k, String(v));
          url = u.toString();
        } else url += (url.includes('?') ? '&' : '?') + o.data;
      } else if (typeof o.data === 'string') body = o.data;
      else if (/json/.test(headers['content-type'])) body = JSON.stringify(o.data);
      else body = new URLSearchParams(o.data).toString();
    }
    const entry = { method, url, path: '', headers, body: body === undefined ? undefined : tryJson(body) };
    shim.requests.push(entry);
    shim.inflight++;
    let settled = false;
    let answered = false;
    const done = () => { if (!settled) { settled = true; shim.inflight--; } };
    const fail = (errMsg, errno) => {
      if (answered) return;
      answered = true;
      entry.error = errMsg;
      const err = { errMsg: `request:fail ${errMsg}`, errno };
      later(() => { try { o.fail?.(err); o.complete?.(err); } finally { done(); } });
    };
    let parsed;
    try { parsed = new URL(url); } catch { fail('invalid url', 600009); return task(); }
    entry.path = parsed.pathname;
    if (parsed.origin !== allowed) { fail(`url not in domain list`, 600002); return task(); }
    if (!shim.online) { fail('net::ERR_INTERNET_DISCONNECTED', 600001); return task(); }
    const dropAt = shim.drops.findIndex((p) => p(entry));
    const drop = dropAt >= 0;
    if (drop) shim.drops.splice(dropAt, 1);
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    req = http.request(parsed, { method, headers, timeout: o.timeout || 60000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (aborted || answered) return;
        entry.status = res.statusCode;
        if (drop) { entry.dropped = true; fail('net::ERR_CONNECTION_RESET', 600003); return; }
        const text = Buffer.concat(chunks).toString('utf8');
        let data = text;
        if ((o.dataType || 'json') === 'json') data = tryJson(text);
        answered = true;
        const result = { data, statusCode: res.statusCode, header: res.headers, cookies: [], errMsg: 'request:ok' };
        try { o.success?.(result); o.complete?.(result); } finally { done(); }
      });
    });
    req.on('timeout', () => { req.destroy(new Error('timeout')); });
    req.on('error', (e) => { if (!aborted) fail(e.message === 'timeout' ? 'timeout' : `net::${e.code || e.message}`, 600001); });
    if (body !== undefined) req.write(body);
    req.end();
    return task();

    function task() {
      return {
        abort() { aborted = true; req?.destroy(); fail('abort', 600000); },
        onHeadersReceived() {}, offHeadersReceived() {}, onChunkReceived() {}, offChunkReceived() {},
      };
    }
  }

  let scans = 0;
  const wx = {
    __shim: shim,
    request,
    // Storage.
    setStorageSync: syncStorage('setStorageSync', (key, data) => storage.set(key, data)),
    getStorageSync: syncStorage('getStorageSync', (key) => storage.get(key)),
    removeStorageSync: syncStorage('removeStorageSync', (key) => storage.remove(key)),
    clearStorageSync: syncStorage('clearStorageSync', () => storage.clear()),
    getStorageInfoSync: () => ({ keys: storage.keys(), currentSize: Math.ceil(storage.total() / 1024), limitSize: LIMITS.total / 1024 }),
    setStorage: (o) => asyncApi('setStorage', o, ({ key, data }) => { storage.set(key, data); return {}; }),
    getStorage: (o) => asyncApi('getStorage', o, ({ key }) => {
      if (!storage.keys().includes(key)) throw new Error('data not found');
      return { data: storage.get(key) };
    }),
    removeStorage: (o) => asyncApi('removeStorage', o, ({ key }) => { storage.remove(key); return {}; }),
    clearStorage: (o) => asyncApi('clearStorage', o, () => { storage.clear(); return {}; }),
    getStorageInfo: (o) => asyncApi('getStorageInfo', o, () => wx.getStorageInfoSync()),
    // Sign-in: wx.login needs the network, like WeChat's.
    login: (o) => asyncApi('login', o, () => {
      if (!shim.online) throw new Error('network error');
      return { code: loginCode() };
    }),
    checkSession: (o) => asyncApi('checkSession', o, () => ({})),
    // Device.
    getLocation: (o) => asyncApi('getLocation', o, ({ type = 'wgs84' }) => {
      shim.locationTypes.push(type);
      if (!shim.location) throw new Error('auth deny');
      const { longitude, latitude, accuracy = 10 } = shim.location;
      return { longitude, latitude, accuracy, speed: -1, altitude: 0, verticalAccuracy: 0, horizontalAccuracy: accuracy };
    }),
    scanCode: (o) => asyncApi('scanCode', o, () => {
      const s = shim.scan;
      const result = typeof s === 'function' ? s() : Array.isArray(s) ? s[scans++] : s;
      if (result === undefined || result === null) throw new Error('cancel');
      return { result, scanType: /^\(?\d/.test(result) ? 'CODE_128' : 'QR_CODE', charSet: 'UTF-8', path: '', rawData: Buffer.from(result).toString('base64') };
    }),
    getNetworkType: (o) => asyncApi('getNetworkType', o, () => ({ networkType: shim.online ? 'wifi' : 'none' })),
    onNetworkStatusChange: (cb) => { shim.netListeners.add(cb); },
    offNetworkStatusChange: (cb) => { if (cb) shim.netListeners.delete(cb); else shim.netListeners.clear(); },
    getSetting: (o) => asyncApi('getSetting', o, () => ({ authSetting: { 'scope.userLocation': !!shim.location } })),
    authorize: (o) => asyncApi('authorize', o, () => ({})),
    openSetting: ui('openSetting', () => ({ authSetting: { 'scope.userLocation': !!shim.location } })),
    getSystemInfoSync: () => ({ language, platform: 'android', system: 'Android 12', SDKVersion: '3.5.0', windowWidth: 390, windowHeight: 844, pixelRatio: 2, safeArea: { top: 47, bottom: 810, left: 0, right: 390, width: 390, height: 763 } }),
    getWindowInfo: () => ({ windowWidth: 390, windowHeight: 844, pixelRatio: 2, safeArea: { top: 47, bottom: 810, left: 0, right: 390, width: 390, height: 763 } }),
    getAppBaseInfo: () => ({ language, SDKVersion: '3.5.0', theme: 'light' }),
    getAccountInfoSync: () => ({ miniProgram: { appId: appid, envVersion: 'develop', version: '' } }),
    canIUse: () => true,
    nextTick: (fn) => later(fn),
    vibrateShort: ui('vibrateShort'),
    // UI and navigation: recorded.
    showToast: ui('showToast'),
    hideToast: ui('hideToast'),
    showLoading: ui('showLoading'),
    hideLoading: ui('hideLoading'),
    showModal: ui('showModal', (opts) => { const confirm = !!modal(opts); return { confirm, cancel: !confirm }; }),
    showActionSheet: ui('showActionSheet', () => ({ tapIndex: 0 })),
    setNavigationBarTitle: ui('setNavigationBarTitle'),
    setTabBarItem: ui('setTabBarItem'),
    setTabBarBadge: ui('setTabBarBadge'),
    removeTabBarBadge: ui('removeTabBarBadge'),
    stopPullDownRefresh: ui('stopPullDownRefresh'),
    pageScrollTo: ui('pageScrollTo'),
    navigateTo: ui('navigateTo'),
    redirectTo: ui('redirectTo'),
    switchTab: ui('switchTab'),
    reLaunch: ui('reLaunch'),
    navigateBack: ui('navigateBack'),
    makePhoneCall: ui('makePhoneCall'),
    setClipboardData: ui('setClipboardData'),
  };
  // An API the shim lacks is a loud failure, not a silent undefined.
  return new Proxy(wx, {
    get(target, prop) {
      if (prop in target || typeof prop === 'symbol' || prop === 'then' || prop === 'toJSON') return target[prop];
      throw new TypeError(`wx.${String(prop)} is not in the test shim (web/miniprogram/test/wx-shim.cjs)`);
    },
  });
}

function tryJson(text) {
  try { return JSON.parse(text); } catch { return text; }
}

module.exports = { createWx, LIMITS, STORAGE_FULL, ENTRY_TOO_LARGE };

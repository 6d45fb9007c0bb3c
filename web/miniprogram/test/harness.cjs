// Runs the mini-program's compiled pages (dist/pages/*/index.js) in plain Node, with the `wx`
// of wx-shim.cjs: the page logic, its libraries and the field core are the very files WeChat
// would run; only the WXML is not rendered (the jest + miniprogram-simulate tests do that).
//
//   const { createMiniProgram } = require('./harness.cjs');
//   const mp = createMiniProgram({ dist: 'web/miniprogram/dist', wx });
//   const login = await mp.open('pages/login/index');        // onLoad + onShow, then settles
//   await login.input('onUsername', 'vd_654022100200');        // bindinput handler
//   await login.tap('onBind');                                  // bindtap handler
//   login.data.error                                            // what the page would show
//
// The page instance is what `Component({...})` gives WeChat: `data`, `setData` (with WeChat's
// path keys `a.b[0].c`), `properties`, the methods bound to it, and the lifecycles in WeChat's
// order (created → attached → onLoad → onShow → onReady; pageLifetimes.show with onShow). Every
// call waits until the page is idle: its promise settled and no wx.request still out.
'use strict';

const path = require('node:path');

/** Sets `obj[a][b][0]…` for a WeChat setData key such as `a.b[0].c`. */
function setPath(obj, key, value) {
  const parts = [];
  key.replace(/\[(\d+)\]|[^.[\]]+/g, (m, index) => { parts.push(index !== undefined ? Number(index) : m); return m; });
  let at = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i];
    if (at[p] === null || typeof at[p] !== 'object') at[p] = typeof parts[i + 1] === 'number' ? [] : {};
    at = at[p];
  }
  at[parts[parts.length - 1]] = value;
}

/** A deep copy the way setData passes data to the view (JSON: functions and undefined dropped). */
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/**
 * @param {{ dist: string, wx: any, appOptions?: object }} options
 */
function createMiniProgram({ dist, wx }) {
  const distDir = path.resolve(dist);
  const shim = wx.__shim;
  let captured = null;
  let appInstance = null;
  /** The page stack, as getCurrentPages() returns it. */
  const stack = [];
  const errors = [];

  globalThis.wx = wx;
  globalThis.Component = (def) => { captured = { kind: 'component', def }; };
  globalThis.Page = (def) => { captured = { kind: 'page', def }; };
  globalThis.Behavior = (def) => def;
  globalThis.App = (def) => { appInstance = Object.assign(Object.create(null), def); appInstance.globalData = clone(def.globalData) ?? {}; for (const [k, v] of Object.entries(def)) if (typeof v === 'function') appInstance[k] = v.bind(appInstance); };
  globalThis.getApp = () => appInstance ?? { globalData: {} };
  globalThis.getCurrentPages = () => stack.slice();

  /** Waits until no wx.request is out and the microtask and immediate queues are drained. */
  async function settle(timeoutMs = 20_000) {
    const until = Date.now() + timeoutMs;
    let quiet = 0;
    while (quiet < 3) {
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 5));
      quiet = shim.inflight === 0 ? quiet + 1 : 0;
      if (Date.now() > until) throw new Error(`the page did not settle within ${timeoutMs} ms (${shim.inflight} requests out)`);
    }
  }

  function freshRequire(file) {
    const resolved = require.resolve(file);
    delete require.cache[resolved];
    captured = null;
    require(resolved);
    return captured;
  }

  const appFile = path.join(distDir, 'app.js');
  try { require.resolve(appFile); freshRequire(appFile); } catch (e) { if (e.code !== 'MODULE_NOT_FOUND') throw e; }
  appInstance?.onLaunch?.({ path: 'pages/login/index', query: {}, scene: 1001 });

  /** Builds the instance of one page definition. */
  function instantiate(route, def, query) {
    const methods = def.kind === 'page' ? def.def : (def.def.methods ?? {});
    const d = def.def;
    const props = {};
    for (const [k, v] of Object.entries(d.properties ?? {})) props[k] = v && typeof v === 'object' && 'value' in v ? clone(v.value) : undefined;
    const page = {
      route,
      options: { ...query },
      is: route,
      data: { ...props, ...clone(typeof d.data === 'function' ? d.data() : d.data ?? {}) },
      properties: null,
      setData(change, cb) {
        for (const [k, v] of Object.entries(change ?? {})) setPath(page.data, k, clone(v));
        if (cb) setImmediate(cb);
      },
      triggerEvent() {},
      selectComponent: () => null,
      selectAllComponents: () => [],
      createSelectorQuery: () => {
        const q = { select: () => q, selectAll: () => q, boundingClientRect: () => q, fields: () => q, scrollOffset: () => q, exec: (cb) => cb?.([]) };
        return q;
      },
      getTabBar: () => null,
      getOpenerEventChannel: () => ({ emit() {}, on() {}, once() {}, off() {} }),
    };
    page.properties = page.data;
    for (const [k, v] of Object.entries(methods)) if (typeof v === 'function') page[k] = v.bind(page);
    if (def.kind === 'page') for (const [k, v] of Object.entries(d)) if (!(k in page) && typeof v !== 'function') page[k] = clone(v);
    return page;
  }

  /** Runs a handler and waits until the page is idle; its result, or a throw or rejection reported. */
  async function run(page, name, ...args) {
    const fn = page[name];
    if (typeof fn !== 'function') throw new Error(`${page.route} has no method ${name}`);
    let result;
    try {
      result = await fn(...args);
    } catch (e) {
      errors.push(`${page.route}.${name}: ${e && e.stack ? e.stack : e}`);
      throw e;
    }
    await settle();
    return result;
  }

  function wrap(page, def) {
    const d = def.def;
    const life = (name) => (d.lifetimes?.[name] ?? d[name]);
    const pageLife = (name) => d.pageLifetimes?.[name];
    return {
      instance: page,
      get data() { return page.data; },
      route: page.route,
      /** Calls a method with arguments as given. */
      call: (name, ...args) => run(page, name, ...args),
      /** A bindtap: `event.currentTarget.dataset` and `event.detail`. */
      tap: (name, dataset = {}, detail = {}) => run(page, name, event('tap', dataset, detail)),
      /** A bindinput / bindchange with `event.detail.value`. */
      input: (name, value, dataset = {}) => run(page, name, event('input', dataset, { value })),
      change: (name, value, dataset = {}) => run(page, name, event('change', dataset, { value })),
      submit: (name, value, dataset = {}) => run(page, name, event('submit', dataset, { value })),
      async show() {
        if (typeof page.onShow === 'function') await run(page, 'onShow');
        const show = pageLife('show');
        if (show) { await show.call(page); await settle(); }
      },
      async hide() {
        if (typeof page.onHide === 'function') await run(page, 'onHide');
        const hide = pageLife('hide');
        if (hide) { await hide.call(page); await settle(); }
      },
      async unload() {
        if (typeof page.onUnload === 'function') await run(page, 'onUnload');
        const detached = life('detached');
        if (detached) await detached.call(page);
        const i = stack.indexOf(page);
        if (i >= 0) stack.splice(i, 1);
        await settle();
      },
      async pullDownRefresh() { await run(page, 'onPullDownRefresh'); },
    };
  }

  function event(type, dataset, detail) {
    const target = { id: '', dataset: { ...dataset } };
    return { type, timeStamp: Date.now(), target, currentTarget: target, detail, mark: {} };
  }

  return {
    wx,
    settle,
    /** Problems a handler threw, in order. */
    errors,
    get app() { return appInstance; },
    /**
     * Loads `dist/<route>.js` anew and runs it as WeChat opens a page: created, attached,
     * onLoad(query), onShow, onReady. Returns the page handle once idle.
     */
    async open(route, query = {}) {
      const def = freshRequire(path.join(distDir, `${route}.js`));
      if (!def) throw new Error(`${route}.js did not call Component() or Page()`);
      const page = instantiate(route, def, query);
      const handle = wrap(page, def);
      const life = (name) => (def.def.lifetimes?.[name] ?? (def.kind === 'component' ? def.def[name] : undefined));
      for (const stage of ['created', 'attached']) {
        const fn = life(stage);
        if (fn) await fn.call(page);
      }
      stack.push(page);
      if (typeof page.onLoad === 'function') await run(page, 'onLoad', { ...query });
      await handle.show();
      if (typeof page.onReady === 'function') await run(page, 'onReady');
      const ready = life('ready');
      if (ready) await ready.call(page);
      await settle();
      return handle;
    },
    /** The last navigation a page asked for (navigateTo, switchTab, reLaunch, redirectTo, navigateBack). */
    lastNavigation() {
      const nav = shim.ui.filter((c) => /^(navigateTo|switchTab|reLaunch|redirectTo|navigateBack)$/.test(c.api)).at(-1);
      return nav ? { api: nav.api, url: nav.options.url, route: nav.options.url?.replace(/^\//, '').split('?')[0] } : null;
    },
    /** Texts of the toasts and modals shown since `shim.reset()`. */
    messages() {
      return shim.ui.filter((c) => c.api === 'showToast' || c.api === 'showModal').map((c) => [c.options.title, c.options.content].filter(Boolean).join(': '));
    },
  };
}

module.exports = { createMiniProgram, setPath };

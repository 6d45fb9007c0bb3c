// The field page (/field): where am I, how risky is this village, what is due, who answers for
// it; search; deworming and stray-dog entries queued on the phone and sent when there is signal.
// This file is the page's DOM and its adapters (localStorage, fetch with the CSRF token,
// navigator.geolocation); the field logic is the field core it shares with the WeChat
// mini-program (web/field-core, served at /field/core/). No framework, no build: both are
// served as they are (see docs/FIELD.md).
import { translator, colon as colonOf, paren as parenOf, label } from '/field/core/text.js';
import { today, monthStart, when, dataAge, metres, clock } from '/field/core/time.js';
import { searchVillages, nearestVillage } from '/field/core/search.js';
import { tierName, riskReasons, regimeName, regimeFromScreening } from '/field/core/risk.js';
import { dueFromWorklists, dueFromRegisters } from '/field/core/due.js';

const $ = (id) => document.getElementById(id);
const ROUTES = new Set((document.querySelector('meta[name="echinomap-routes"]')?.content || '').split(',').filter(Boolean));
const has = (path, method = 'GET') => ROUTES.has(method + ' ' + path);
const KEY = { lang: 'echinomap.field.lang', queue: 'echinomap.field.queue', last: 'echinomap.field.village', fix: 'echinomap.field.fix' };
const API_CACHE = 'field-api-v1';

let lang = localStorage.getItem(KEY.lang) === 'en' ? 'en' : 'zh';
let t = translator(lang);
const colon = () => colonOf(lang);
const paren = (x) => parenOf(lang, x);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

let me = null;          // the session's user (with csrf_token)
let villages = [];      // the jurisdiction's villages (GET /api/villages), kept offline
let listSavedAt = null;
let riskByCode = null;  // GET /api/risk, when it exists
let current = null;     // the village shown: {code, name, ...}
let dogs = [];          // its live dogs with the last dose, for the deworming form
let lastFix = JSON.parse(localStorage.getItem(KEY.fix) || 'null');

// --- API --------------------------------------------------------------------------------
// Every answer says whether it came from the phone (offline) and when it was fetched.
async function api(path, opts = {}) {
  let r;
  try {
    r = await fetch(path, { credentials: 'same-origin', ...opts });
  } catch {
    setOnline(false);
    return { ok: false, status: 0, offline: true, data: null, savedAt: null };
  }
  const offline = r.headers.get('x-field-offline') === '1';
  setOnline(!offline);
  const savedAt = Number(r.headers.get('x-field-saved-at')) || Date.now();
  const data = await r.json().catch(() => null);
  if (r.status === 401 && !offline && me && !path.startsWith('/api/auth/')) showLogin(t('reLogin'));
  if (r.status === 403 && data?.error?.code === 'password_change_required') showLogin(t('mustChange'));
  return { ok: r.ok, status: r.status, offline, data, savedAt };
}
// A write with the session's CSRF token; a stale token is refreshed once.
async function post(path, body = {}) {
  const send = () => api(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me?.csrf_token || '' }, body: JSON.stringify(body) });
  const r = await send();
  if (r.status !== 403 || r.data?.error?.code !== 'csrf' || !(await refreshSession())) return r;
  return send();
}
async function refreshSession() {
  const s = await api('/api/auth/session');
  if (s.data?.user) me = s.data.user;
  return !!s.data?.user;
}

// The entries (entry.js: the forms, the queue and its sync, on the core's outbox, validation
// and UUIDs) are not needed for the first view: imported after it, at the first sync or when a
// form is sent, so that a 2G phone shows the village sooner. `entry` is null until then.
let entry = null;
let entryLoad = null;
function loadEntry() {
  entryLoad ||= import('/field/entry.js').then((m) => (entry = m.start(page)), () => { entryLoad = null; return null; });
  return entryLoad;
}
const pendingCount = () => (me && entry ? entry.pendingCount() : 0);
const renderQueue = () => entry?.renderQueue();
const renderEntryVillage = () => entry?.renderEntryVillage();
const sync = () => loadEntry().then((e) => e?.sync());
function entryMsg(text, error = false) {
  const msg = $('entry-msg'); msg.hidden = false; msg.textContent = text; msg.className = error ? 'err' : 'muted';
}
// A form sent before entry.js is here waits for it; offline before the worker kept it, says so.
async function submitWith(ev, name) {
  ev.preventDefault();
  const e = await loadEntry();
  if (e) e[name](); else entryMsg(t('needOnline'), true);
}

// A refusal in the page's language (web/field-core/reasons.js): loaded only when one is shown,
// kept by the service worker for offline; when it cannot be loaded the server's message stands.
let reasons = null;
let reasonsLoad = null;
let reasonsFailedAt = 0;
function loadReasons() {
  reasonsLoad ||= import('/field/core/reasons.js').then((m) => (reasons = m), () => { reasonsFailedAt = Date.now(); reasonsLoad = null; return null; });
  return reasonsLoad;
}
async function refusal(r) {
  const m = await loadReasons();
  return (m && m.errorText(r.data, lang)) || r.data?.error?.message || `HTTP ${r.status}`;
}

let online = navigator.onLine;
function setOnline(v) { online = v; renderNet(); }
function renderNet() {
  const n = pendingCount();
  const el = $('net');
  el.textContent = (online ? t('online') : t('offline')) + (n ? ' · ' + t('pending', n) : '');
  el.className = 'chip' + (online ? '' : ' off');
}

// --- language ---------------------------------------------------------------------------
function applyLang() {
  t = translator(lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll('[data-tp]')) el.placeholder = t(el.dataset.tp);
  $('lang').textContent = lang === 'zh' ? 'EN' : '中文';
  renderNet();
}

// --- login ------------------------------------------------------------------------------
function showLogin(message) {
  $('login').hidden = false; $('app').hidden = true; $('nav').hidden = true;
  const e = $('login-err'); e.hidden = !message; e.textContent = message || '';
}
async function submitLogin(ev) {
  ev.preventDefault();
  const r = await api('/api/auth/login', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: $('u').value.trim(), password: $('p').value }),
  });
  if (!r.ok) return showLogin(r.status === 0 ? t('needOnline') : await refusal(r));
  $('p').value = '';
  const s = await api('/api/auth/session');
  me = s.data?.user || { ...r.data.user, csrf_token: r.data.csrf_token };
  // A password an administrator reset is changed on the dashboard first.
  const who = await api('/api/auth/me');
  if (who.data?.must_change_password) {
    await post('/api/auth/logout');
    me = null;
    return showLogin(t('mustChange'));
  }
  startApp();
}
async function logout() {
  await loadEntry();
  const n = pendingCount();
  if (n) alert(t('logoutPending', n));
  await post('/api/auth/logout');
  if (window.caches) await caches.delete(API_CACHE);
  localStorage.removeItem(KEY.last);
  me = null; current = null; $('village').innerHTML = '';
  $('bind-box').hidden = true;
  showLogin();
}

// --- WeChat binding: a one-time code the mini-program's login page asks for ---------------
async function bindWechat() {
  const r = await post('/api/auth/wechat/binding-code');
  const ok = r.status === 201 && r.data?.code;
  $('bind-box').hidden = false;
  $('bind-code').hidden = !ok;
  $('bind-code').textContent = ok ? r.data.code : '';
  // The mini-program asks for the username (not the name shown in the header).
  $('bind-user').textContent = ok ? t('bindUser', me.username) : '';
  $('bind-until').textContent = ok ? t('bindUntil', clock(Date.parse(r.data.expires_at))) : '';
  $('bind-hint').className = ok ? 'muted' : 'err';
  $('bind-hint').textContent = ok ? t('bindHint') : t('bindFailed') + (r.status === 0 ? t('offline') : await refusal(r));
}

// --- the app ----------------------------------------------------------------------------
async function startApp() {
  $('login').hidden = true; $('app').hidden = false; $('nav').hidden = false;
  $('who').textContent = t('who', me.display_name || me.username, me.jurisdiction_name || me.jurisdiction);
  // Dewormings and stray-dog events are animal registers: no entry form for the other roles.
  $('nav-entry').hidden = !(me.permissions || []).includes('animal_rows');
  // Only when this server signs in with WeChat (`wechat` of /api/auth/me and the session).
  $('bind-wechat').hidden = !(me.wechat === true && has('/api/auth/wechat/binding-code', 'POST'));
  renderQueue();
  const [list, risk] = await Promise.all([
    api('/api/villages'),
    has('/api/risk') ? api('/api/risk') : Promise.resolve(null),
  ]);
  if (list.ok) { villages = list.data.items; listSavedAt = list.savedAt; }
  if (risk?.ok) riskByCode = new Map((risk.data.items || risk.data.villages || []).map((v) => [v.code, v]));
  renderListAge();
  const last = localStorage.getItem(KEY.last) || (me.jurisdiction.length === 12 ? me.jurisdiction : null);
  if (last) await showVillage(last);
  sync();
}
function renderListAge() {
  let el = $('list-age');
  if (!el) { el = document.createElement('p'); el.id = 'list-age'; el.className = 'age'; $('search').appendChild(el); }
  el.textContent = listSavedAt ? t('listAge', villages.length, when(listSavedAt, lang)) : '';
}

// --- where am I -------------------------------------------------------------------------
let locateMsg = null; // [key, ...args] of the last message under the button
function say(...m) { locateMsg = m; renderLocateMsg(); }
function renderLocateMsg() {
  const el = $('locate-msg'); el.hidden = !locateMsg;
  if (!locateMsg) return;
  const [key, ...args] = locateMsg;
  el.textContent = t(key, ...args) + (key === 'noGeo' ? args[0] : '');
}
function locate() {
  say('locating');
  if (!navigator.geolocation) { say('noGeo', 'geolocation'); return; }
  navigator.geolocation.getCurrentPosition(async (pos) => {
    // The W3C Geolocation API answers WGS84: no GCJ-02 shift to undo.
    lastFix = { lon: pos.coords.longitude, lat: pos.coords.latitude, acc: Math.round(pos.coords.accuracy || 0), at: Date.now() };
    localStorage.setItem(KEY.fix, JSON.stringify(lastFix));
    const r = await api(`/api/villages/locate?lon=${lastFix.lon.toFixed(6)}&lat=${lastFix.lat.toFixed(6)}&n=3`);
    if (r.ok && !r.offline) {
      const v = r.data.village;
      if (!v) { say(r.data.outside_jurisdiction ? 'outside' : 'noVillage'); return; }
      if (r.data.inside) say('inside'); else say('near', metres(r.data.distance_m || 0));
      return showVillage(v.code);
    }
    // Offline: the nearest village centre of the saved list.
    const near = nearestVillage(villages, lastFix.lon, lastFix.lat);
    if (!near) { say('noVillage'); return; }
    say('offlineNearest', metres(near.distance_m));
    showVillage(near.village.code);
  }, (err) => say('noGeo', err.message), { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
}

// --- one village ------------------------------------------------------------------------
async function showVillage(code, { quiet = false } = {}) {
  localStorage.setItem(KEY.last, code);
  if (!quiet) showTab('where');
  const base = villages.find((v) => v.code === code);
  const box = $('village');
  box.innerHTML = `<section><p class="big">${esc(base?.name || code)}</p><p class="muted">${esc(base?.township_name || '')} · ${esc(code)}</p></section>`;
  const can = (p) => (me?.permissions || []).includes(p);
  const month = monthStart(0);
  const [detail, risk, contacts, due] = await Promise.all([
    api(`/api/villages/${code}`),
    has('/api/villages/{code}/risk') ? api(`/api/villages/${code}/risk`) : Promise.resolve(null),
    has('/api/villages/{code}/contacts') ? api(`/api/villages/${code}/contacts`) : Promise.resolve(null),
    loadDue(code, can, month),
  ]);
  const regimeFallback = risk ? null : await domainRegime(code, can);
  const v = detail.ok ? detail.data : base;
  if (!v) { box.innerHTML = `<section class="err">${esc(detail.data?.error?.message || t('noResults'))}</section>`; return; }
  current = v;
  const answers = [detail, risk, contacts, ...due.answers, regimeFallback?.answer].filter(Boolean).filter((a) => a.ok);
  const offline = answers.some((a) => a.offline) || !detail.ok;
  const savedAt = Math.min(...answers.map((a) => a.savedAt), ...(detail.ok ? [] : [listSavedAt || Date.now()]));
  const age = `<p class="age${offline ? ' stale' : ''}" id="data-age">${esc(dataAge({ savedAt, offline }, lang))}</p>`;

  box.innerHTML = `
    <section id="v-head"><p class="big" id="v-name">${esc(v.name)}</p>
      <p class="muted">${esc(t('township') + colon() + v.township_name)} · ${esc(t('code') + colon() + v.code)}</p>${age}</section>
    <section id="v-risk"><h2>${esc(t('risk'))}</h2>${renderRisk(risk, code)}</section>
    <section id="v-regime"><h2>${esc(t('regime'))}</h2>${renderRegime(risk, regimeFallback)}</section>
    <section id="v-due"><h2>${esc(t('due'))}</h2>${due.html}</section>
    <section id="v-contacts"><h2>${esc(t('contacts'))}</h2>${renderContacts(contacts)}</section>`;
  renderEntryVillage();
}

function renderRisk(risk, code) {
  let r = risk?.ok ? risk.data : null;
  if (!r && riskByCode?.has(code)) r = riskByCode.get(code);
  if (!r) return `<p class="muted" id="risk-na">${esc(risk ? t('riskNotCached') : t('riskNA'))}</p>`;
  const reasons = riskReasons(r, lang);
  return `<p><span class="tier ${esc(r.tier)}">${esc(tierName(r.tier, lang))}</span> <span class="muted">${esc(t('score', r.score))}</span></p>
    <p class="muted">${esc(t('reasons') + colon())}</p><ul>${reasons.length ? reasons.map((s) => `<li>${esc(s)}</li>`).join('') : `<li>${esc(t('noReasons'))}</li>`}</ul>`;
}

function renderRegime(risk, fb) {
  const reg = risk?.ok ? risk.data.regime : null;
  if (reg) {
    return `<p><b>${esc(regimeName(reg.regime || 'monthly', lang))}</b></p><p class="muted" id="regime-source">${esc(t('fromRisk', label(lang, 'basis', reg.basis)))}${reg.regime ? '' : ' · ' + esc(t('noScreening'))}</p>`;
  }
  if (!fb) return `<p class="muted">${esc(t('riskNotCached'))}</p>`;
  return `<p><b>${esc(regimeName(fb.regime, lang))}</b></p><p class="muted" id="regime-source">${esc(fb.text)}</p>`;
}
// Without the risk endpoint: DOMAIN.md's thresholds on the village's own screening.
async function domainRegime(code, can) {
  if (!can('case_rows') || !has('/api/screening_campaigns')) return { regime: 'monthly', text: t('screeningHidden') };
  const r = await api(`/api/screening_campaigns?village=${code}&from=${new Date().getFullYear() - 2}-01-01&limit=500`);
  if (!r.ok) return null;
  const s = regimeFromScreening(r.data.items);
  if (!s) return { regime: 'monthly', text: t('noScreening'), answer: r };
  return { regime: s.regime, text: t('fromDomain', `${(s.prevalence * 100).toFixed(2)}%`, s.screened), answer: r };
}

// What is due: the work lists when the server has them, else the dogs not dosed this month.
async function loadDue(code, can, month) {
  dogs = [];
  let due = has('/api/worklists/{kind}') ? await dueFromLists(code, can, month) : null;
  // Work lists this server does not know (kinds renamed) fall back to the registers.
  if ((!due || (!due.answers.length && !due.offline)) && can('animal_rows')) due = await dueFromDogs(code, can, month);
  return due || { html: `<p class="muted">—</p>`, answers: [] };
}
const notSaved = (answers) => ({ html: `<p class="muted">${esc(t('dueNA'))}</p>`, answers, offline: true });
const li = (s, extra = '') => `<li>${esc(s)}${extra}</li>`;
const dueLine = (c, m) => (c.count === 0 ? t('dueDwNone', m) : t('dueDw', c.count ?? c.hidden, m));
async function dueFromLists(code, can, month) {
  const m = month.slice(0, 7);
  const kinds = ['deworming', 'faecal_sampling', ...(can('case_rows') ? ['followups'] : [])];
  const rs = await Promise.all(kinds.map((k) => api(`/api/worklists/${k}?unit=${code}`)));
  const data = Object.fromEntries(kinds.map((k, i) => [k, rs[i].ok ? rs[i].data : null]));
  const answers = rs.filter((r) => r.ok);
  if (!answers.length) return rs.some((r) => r.offline) ? notSaved(answers) : { html: '', answers };
  const due = dueFromWorklists(data, code);
  dogs = due.dogs;
  const parts = [];
  if (due.deworming) parts.push(li(dueLine(due.deworming, m), dogList(dogs)));
  if (due.faecal) parts.push(li(t('dueFaecal')));
  // Overdue follow-ups: the work list's count for the village (the one schedule); never kept.
  if (due.followups) parts.push(li(due.followups.count === 0 ? t('dueFuNone') : t('dueFu', due.followups.count ?? due.followups.hidden)));
  else if (can('case_rows') && rs[2]?.offline) parts.push(`<li class="muted">${esc(t('dueFuOff'))}</li>`);
  return { html: `<ul>${parts.join('')}</ul>`, answers };
}
// Without work lists: live dogs without a dose this month, and overdue follow-ups.
async function dueFromDogs(code, can, month) {
  const m = month.slice(0, 7);
  const [dr, dd] = await Promise.all([
    api(`/api/dogs?village=${code}&status=alive&limit=500`),
    api(`/api/dewormings?village=${code}&from=${monthStart(1)}&limit=500`),
  ]);
  if (!dr.ok || !dd.ok) return notSaved([]);
  const due = dueFromRegisters(dr.data.items, dd.data.items, month);
  dogs = due.dogs;
  const parts = [li(dueLine(due.deworming, m), dogList(dogs.filter((d) => d.due)))];
  if (can('case_rows') && has('/api/cases')) {
    // The same schedule as the work list (docs/INDICATORS.md): its total, not one page.
    const c = await api(`/api/cases?unit=${code}&overdue=true&limit=100`);
    const n = c.ok && !c.offline ? (c.data.total ?? c.data.items.length) : null;
    parts.push(li(n === null ? t('dueFuOff') : n ? t('dueFu', n) : t('dueFuNone')));
  }
  return { html: `<ul>${parts.join('')}</ul>`, answers: [dr, dd] };
}
function dogList(list) {
  if (!list.length) return '';
  const shown = list.slice(0, 12).map((d) => esc(d.tag + paren(d.last ? t('lastDose', d.last) : t('noRecentDose'))));
  return `<div class="muted">${shown.join('<br>')}${list.length > 12 ? '<br>' + esc(t('moreDogs', list.length - 12)) : ''}</div>`;
}
function renderContacts(c) {
  if (!c?.ok) return `<p class="muted">—</p>`;
  if (!c.data.items.length) return `<p class="muted">${esc(t('noContacts'))}</p>`;
  return `<ul>${c.data.items.map((p) => `<li>${esc(label(lang, 'roles', p.role) + colon())}<b>${esc(p.display_name || p.username)}</b></li>`).join('')}</ul>`;
}

// --- search -----------------------------------------------------------------------------
let searchTimer = null;
function onSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const q = $('q').value.trim();
    if (!q) { $('results').innerHTML = ''; return; }
    let items = null;
    if (online) {
      const r = await api(`/api/villages?q=${encodeURIComponent(q)}`);
      if (r.ok && !r.offline) items = r.data.items.slice(0, 50);
    }
    if (!items) items = searchVillages(villages, q);
    $('results').innerHTML = items.length ? items.map((v) => {
      const r = riskByCode?.get(v.code);
      return `<button type="button" data-code="${esc(v.code)}"><b>${esc(v.name)}</b> ${r ? `<span class="tier ${esc(r.tier)}">${esc(tierName(r.tier, lang))}</span>` : ''}<br><span class="muted">${esc(v.township_name)} · ${esc(v.code)}</span></button>`;
    }).join('') : `<p class="muted">${esc(t('noResults'))}</p>`;
  }, 250);
}

// --- tabs -------------------------------------------------------------------------------
function showTab(name) {
  $('where').hidden = name !== 'where'; $('village').hidden = name !== 'where';
  $('search').hidden = name !== 'search';
  $('entry').hidden = name !== 'entry'; $('queue').hidden = name !== 'entry';
  for (const k of ['where', 'search', 'entry']) $('nav-' + k).classList.toggle('on', k === name);
  if (name === 'search') $('q').focus();
  if (name === 'entry') { renderEntryVillage(); loadEntry(); }
}
function entryTab(which) {
  $('form-dw').hidden = which !== 'dw'; $('form-stray').hidden = which !== 'stray';
  $('tab-dw').classList.toggle('alt', which !== 'dw'); $('tab-stray').classList.toggle('alt', which !== 'stray');
}

async function warm() {
  await Promise.all([api('/api/auth/session'), api('/api/villages'), has('/api/risk') ? api('/api/risk') : null]);
  if (current) await showVillage(current.code, { quiet: true });
}

// --- start ------------------------------------------------------------------------------
async function boot() {
  applyLang();
  $('dw-date').value = today(); $('st-date').value = today();
  $('lang').addEventListener('click', () => { lang = lang === 'zh' ? 'en' : 'zh'; localStorage.setItem(KEY.lang, lang); applyLang(); renderLocateMsg(); renderQueue(); renderListAge(); if (current) showVillage(current.code, { quiet: true }); });
  $('login-form').addEventListener('submit', submitLogin);
  $('locate').addEventListener('click', locate);
  $('q').addEventListener('input', onSearch);
  $('results').addEventListener('click', (ev) => { const b = ev.target.closest('button[data-code]'); if (b) showVillage(b.dataset.code); });
  $('nav-where').addEventListener('click', () => showTab('where'));
  $('nav-search').addEventListener('click', () => showTab('search'));
  $('nav-entry').addEventListener('click', () => showTab('entry'));
  $('tab-dw').addEventListener('click', () => entryTab('dw'));
  $('tab-stray').addEventListener('click', () => entryTab('stray'));
  $('form-dw').addEventListener('submit', (ev) => submitWith(ev, 'submitDeworming'));
  $('form-stray').addEventListener('submit', (ev) => submitWith(ev, 'submitStray'));
  $('sync').addEventListener('click', () => sync());
  $('bind-wechat').addEventListener('click', bindWechat);
  $('logout').addEventListener('click', logout);
  window.addEventListener('online', () => { setOnline(true); sync(); });
  window.addEventListener('offline', () => setOnline(false));
  setInterval(() => { if (navigator.onLine && pendingCount()) sync(); }, 60000);
  const s = await api('/api/auth/session');
  try {
    if (s.ok && s.data?.authenticated) { me = s.data.user; await startApp(); } else showLogin(s.status === 0 || (s.offline && !s.ok) ? t('needOnline') : '');
  } finally {
    registerWorker();
  }
}
// The worker after the first view: on 2G its install (every page file at once) would otherwise
// share the line with the first answers.
function registerWorker() {
  if ('serviceWorker' in navigator) {
    // A worker of a new build took over (it installs all the page's files together, sw.js):
    // reload so that this page's own modules and those it imports later come from one build,
    // unless an entry form is open. On the first visit there was none: the answers came before
    // it, so ask again so that it keeps them.
    const updated = !!navigator.serviceWorker.controller;
    navigator.serviceWorker.register('/field/sw.js', { scope: '/field' }).catch(() => {});
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      if (updated && $('entry').hidden) location.reload();
      else if (me && online) warm();
    });
  }
}
// For the browser test and for support: the queue, a sync, and a resend of a sent entry.
window.__field = { sync, queue: () => (entry ? entry.outbox.all() : []), resend: async (id) => { (await loadEntry()).outbox.resend(id); return sync(); }, ready: () => !!me && !!entry };
// What entry.js reads of this page: getters, since the values change while the page runs.
const page = {
  $, esc, KEY, entryMsg, loadReasons, renderNet, setOnline, showLogin, refreshSession,
  t: (...a) => t(...a), paren: (x) => paren(x),
  get lang() { return lang; }, get me() { return me; }, get current() { return current; },
  get dogs() { return dogs; }, get lastFix() { return lastFix; },
  get reasons() { return reasons; }, get reasonsFailedAt() { return reasonsFailedAt; },
};
boot();

// The field page (/field): where am I, how risky is this village, what is due, who answers for
// it; search; deworming and stray-dog entries queued on the phone and sent when there is signal.
// No framework, no build: this file is served as it is (see docs/FIELD.md).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const ROUTES = new Set((document.querySelector('meta[name="echinomap-routes"]')?.content || '').split(',').filter(Boolean));
  const has = (path) => ROUTES.has('GET ' + path);
  const KEY = { lang: 'echinomap.field.lang', queue: 'echinomap.field.queue', last: 'echinomap.field.village', fix: 'echinomap.field.fix' };
  const API_CACHE = 'field-api-v1';

  const T = {
    zh: {
      title: '包虫病防控 · 现场', login: '登录', username: '用户名', password: '密码', locate: '我在哪个村？',
      search: '查找村庄', searchHint: '村名、拼音首字母（如 ngqnl）或代码', deworming: '驱虫', stray: '无主犬', date: '日期',
      dose: '剂量（毫克/只，可不填）', dogsDosed: '本次投药的犬（勾选）', allDue: '全选本月未驱虫的犬', showAll: (n) => `显示全部 ${n} 只犬`, moreTags: '其他犬牌号（空格或逗号分隔）',
      queueIt: '保存（有信号时自动上传）', nDogs: '犬数', action: '处置', observed: '发现', captured: '捕获', sheltered: '收容',
      euthanised: '安乐死', adopted: '领养', queue: '录入记录', syncNow: '立即上传', logout: '退出登录',
      navWhere: '位置', navSearch: '查找', navEntry: '✎ 录入', online: '在线', offline: '离线',
      pending: (n) => `待传 ${n}`, locating: '正在获取位置…', noGeo: '无法获取位置：', noVillage: '附近 3 公里内没有您辖区的村庄',
      outside: '此位置的村庄不在您的辖区内', inside: '您在该村范围内', near: (m) => `距村中心约 ${m}`,
      offlineNearest: (m) => `离线估算：离您最近的村（按村中心点，约 ${m}）`, code: '代码', township: '乡镇',
      risk: '风险', tier: { high: '高风险', medium: '中风险', low: '低风险' }, riskNA: '风险评估尚未提供（risk not available yet）',
      riskNotCached: '风险：离线，本机未保存', reasons: '原因', noReasons: '各项指标均未超出阈值', score: (s) => `评分 ${s}`,
      regime: '建议驱虫方案', regimes: { monthly: '每月驱虫（犬犬投药、月月驱虫）', slaughter_season: '屠宰季节驱虫', targeted: '重点犬只驱虫' },
      fromRisk: (b) => `来源：风险评估（${({ village_screening: '本村筛查', township_screening: '乡镇筛查', no_screening: '无筛查数据' })[b] || b}）`,
      fromDomain: (p, n) => `来源：风险评估尚未提供，按方案阈值（人群患病率 >1% 每月，0.1–1% 屠宰季，<0.1% 重点）由本村近 3 年筛查估算：${p}（筛查 ${n} 人）`,
      noScreening: '无筛查数据，按全国方案默认每月驱虫', screeningHidden: '无权查看筛查数据，按全国方案默认每月驱虫',
      due: '待办', dueDw: (n, m) => `本月（${m}）未驱虫的犬：${n} 只`, dueDwNone: (m) => `本月（${m}）登记犬均已驱虫`,
      dueFaecal: '犬粪采样已到期', dueFu: (n) => `逾期随访患者：${n} 人`, dueFuNone: '无逾期随访', dueFuOff: '逾期随访：需联网查看（患者信息不存本机）',
      lastDose: (d) => `上次 ${d}`, noRecentDose: '近两月无记录', moreDogs: (n) => `…另有 ${n} 只`, dueNA: '待办：离线，本机未保存',
      mustChange: '管理员已重置您的密码：请先在电脑上登录平台设置新密码，再用新密码登录。',
      contacts: '负责人', roles: { village_doctor: '村医', township_staff: '乡镇防治人员' }, noContacts: '未登记村医账号',
      saved: (a) => `数据保存于 ${a}`, fresh: (a) => `数据已更新 ${a}`, offlineData: (a) => `离线：显示本机保存的数据（${a}）`,
      ago: { now: '刚刚', min: (n) => `${n} 分钟前`, h: (n) => `${n} 小时前`, d: (n) => `${n} 天前` },
      listAge: (n, a) => `辖区 ${n} 个村已存本机（${a}）`, noResults: '没有找到', pickVillage: '请先定位或查找村庄',
      entryFor: (v) => `村：${v}`, queued: (n) => `已保存 ${n} 条，有信号时自动上传`, noTags: '请勾选或填写犬牌号',
      gps: (lon, lat, acc) => `位置：GPS ${lon}, ${lat}（±${acc} 米）`, gpsNone: (v) => `位置：${v}（无 GPS，按村记录）`,
      st: { pending: '待上传', synced: '已上传', failed: '未通过' }, empty: '暂无记录', reLogin: '登录已过期，请重新登录后上传',
      dwLabel: (tag, d) => `驱虫 ${tag} · ${d}`, strayLabel: (n, a, d) => `无主犬 ${n} 只 · ${a} · ${d}`,
      who: (u, j) => `${u} · ${j}`, logoutPending: (n) => `还有 ${n} 条未上传，仍保存在本机，下次以同一账号登录后上传。`,
      needOnline: '首次使用需联网登录', dosedThisMonth: '本月已驱虫', recordNo: (id) => `记录号 ${id}`,
    },
    en: {
      title: 'Echinococcosis · Field', login: 'Log in', username: 'Username', password: 'Password', locate: 'Which village am I in?',
      search: 'Find a village', searchHint: 'Name, pinyin initials (e.g. ngqnl) or code', deworming: 'Deworming', stray: 'Stray dogs', date: 'Date',
      dose: 'Dose (mg per dog, optional)', dogsDosed: 'Dogs dosed now (tick)', allDue: 'Tick every dog not dosed this month', showAll: (n) => `Show all ${n} dogs`, moreTags: 'Other dog tags (space or comma separated)',
      queueIt: 'Save (uploads when there is signal)', nDogs: 'Number of dogs', action: 'Action', observed: 'observed', captured: 'captured',
      sheltered: 'sheltered', euthanised: 'euthanised', adopted: 'adopted', queue: 'Entries', syncNow: 'Upload now', logout: 'Log out',
      navWhere: 'Where', navSearch: 'Find', navEntry: '✎ Record', online: 'online', offline: 'offline',
      pending: (n) => `${n} to send`, locating: 'Getting your position…', noGeo: 'No position: ', noVillage: 'No village of your area within 3 km',
      outside: 'The village here is outside your jurisdiction', inside: 'You are inside this village', near: (m) => `About ${m} from the village centre`,
      offlineNearest: (m) => `Offline estimate: the nearest village (by its centre, about ${m})`, code: 'Code', township: 'Township',
      risk: 'Risk', tier: { high: 'High risk', medium: 'Medium risk', low: 'Low risk' }, riskNA: 'Risk not available yet (风险评估尚未提供)',
      riskNotCached: 'Risk: offline, not saved on this phone', reasons: 'Why', noReasons: 'No indicator above its threshold', score: (s) => `score ${s}`,
      regime: 'Recommended deworming', regimes: { monthly: 'Monthly: every dog, every month', slaughter_season: 'In the slaughter season', targeted: 'Targeted dogs only' },
      fromRisk: (b) => `Source: risk assessment (${({ village_screening: 'village screening', township_screening: 'township screening', no_screening: 'no screening data' })[b] || b})`,
      fromDomain: (p, n) => `Source: risk not available yet; programme thresholds (human prevalence >1% monthly, 0.1–1% slaughter season, <0.1% targeted) applied to this village's screening of the last 3 years: ${p} (${n} screened)`,
      noScreening: 'No screening data: monthly by default (national plan)', screeningHidden: 'No access to screening data: monthly by default (national plan)',
      due: 'Due here', dueDw: (n, m) => `Dogs not dosed this month (${m}): ${n}`, dueDwNone: (m) => `Every registered dog dosed this month (${m})`,
      dueFaecal: 'Faecal sampling is due', dueFu: (n) => `Patients with an overdue follow-up: ${n}`, dueFuNone: 'No overdue follow-up', dueFuOff: 'Overdue follow-ups: online only (patients are not stored on the phone)',
      lastDose: (d) => `last ${d}`, noRecentDose: 'none in 2 months', moreDogs: (n) => `…and ${n} more`, dueNA: 'Due: offline, not saved on this phone',
      mustChange: 'An administrator reset your password: choose a new one on the dashboard first, then log in with it.',
      contacts: 'Responsible', roles: { village_doctor: 'village doctor', township_staff: 'township staff' }, noContacts: 'No village doctor account',
      saved: (a) => `Data saved ${a}`, fresh: (a) => `Data updated ${a}`, offlineData: (a) => `Offline: data saved on this phone (${a})`,
      ago: { now: 'just now', min: (n) => `${n} min ago`, h: (n) => `${n} h ago`, d: (n) => `${n} days ago` },
      listAge: (n, a) => `${n} villages of your area saved on this phone (${a})`, noResults: 'Nothing found', pickVillage: 'Locate or find a village first',
      entryFor: (v) => `Village: ${v}`, queued: (n) => `${n} saved; they upload when there is signal`, noTags: 'Tick or type at least one dog tag',
      gps: (lon, lat, acc) => `Place: GPS ${lon}, ${lat} (±${acc} m)`, gpsNone: (v) => `Place: ${v} (no GPS, by village)`,
      st: { pending: 'to send', synced: 'sent', failed: 'refused' }, empty: 'No entries yet', reLogin: 'Session expired: log in again to upload',
      dwLabel: (tag, d) => `Deworming ${tag} · ${d}`, strayLabel: (n, a, d) => `Stray dogs ${n} · ${a} · ${d}`,
      who: (u, j) => `${u} · ${j}`, logoutPending: (n) => `${n} entries not sent yet stay on this phone and upload at the next login of the same account.`,
      needOnline: 'The first login needs a connection', dosedThisMonth: 'dosed this month', recordNo: (id) => `record ${id}`,
    },
  };
  let lang = localStorage.getItem(KEY.lang) === 'en' ? 'en' : 'zh';
  const t = (k, ...a) => { const v = T[lang][k]; return typeof v === 'function' ? v(...a) : v; };
  // Chinese text takes full-width punctuation, English half-width.
  const colon = () => (lang === 'zh' ? '：' : ': ');
  const paren = (x) => (lang === 'zh' ? `（${x}）` : ` (${x})`);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

  let me = null;          // the session's user (with csrf_token)
  let villages = [];      // the jurisdiction's villages (GET /api/villages), kept offline
  let listSavedAt = null;
  let riskByCode = null;  // GET /api/risk, when it exists
  let current = null;     // the village shown: {code, name, ...}
  let dogs = [];          // its live dogs with the last dose, for the deworming form
  let lastFix = JSON.parse(localStorage.getItem(KEY.fix) || 'null');

  // --- time -------------------------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, '0');
  function today() { const d = new Date(); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; }
  function monthStart(back = 0) { const d = new Date(); d.setDate(1); d.setMonth(d.getMonth() - back); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-01`; }
  function when(ms) {
    const d = new Date(ms); const s = (Date.now() - ms) / 1000; const a = T[lang].ago;
    const rel = s < 60 ? a.now : s < 3600 ? a.min(Math.floor(s / 60)) : s < 86400 ? a.h(Math.floor(s / 3600)) : a.d(Math.floor(s / 86400));
    return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}，${rel}`.replace('，', lang === 'zh' ? '，' : ', ');
  }
  const metres = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);

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
    if (!offline) setOnline(true); else setOnline(false);
    const savedAt = Number(r.headers.get('x-field-saved-at')) || Date.now();
    const data = await r.json().catch(() => null);
    if (r.status === 401 && !offline && me && !path.startsWith('/api/auth/')) showLogin(t('reLogin'));
    if (r.status === 403 && data?.error?.code === 'password_change_required') showLogin(t('mustChange'));
    return { ok: r.ok, status: r.status, offline, data, savedAt };
  }

  let online = navigator.onLine;
  function setOnline(v) { online = v; renderNet(); }
  function renderNet() {
    const n = queue().filter((e) => e.state === 'pending' && e.user === me?.username).length;
    const el = $('net');
    el.textContent = (online ? t('online') : t('offline')) + (n ? ' · ' + t('pending', n) : '');
    el.className = 'chip' + (online ? '' : ' off');
  }

  // --- language ---------------------------------------------------------------------------
  function applyLang() {
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
    if (!r.ok) return showLogin(r.status === 0 ? t('needOnline') : r.data?.error?.message || String(r.status));
    $('p').value = '';
    const s = await api('/api/auth/session');
    me = s.data?.user || { ...r.data.user, csrf_token: r.data.csrf_token };
    // A password an administrator reset is changed on the dashboard first.
    const who = await api('/api/auth/me');
    if (who.data?.must_change_password) {
      await api('/api/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me?.csrf_token || '' }, body: '{}' });
      me = null;
      return showLogin(t('mustChange'));
    }
    startApp();
  }
  async function logout() {
    const n = queue().filter((e) => e.state === 'pending' && e.user === me?.username).length;
    if (n) alert(t('logoutPending', n));
    await api('/api/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me?.csrf_token || '' }, body: '{}' });
    if (window.caches) await caches.delete(API_CACHE);
    localStorage.removeItem(KEY.last);
    me = null; current = null; $('village').innerHTML = '';
    showLogin();
  }

  // --- the app ----------------------------------------------------------------------------
  async function startApp() {
    $('login').hidden = true; $('app').hidden = false; $('nav').hidden = false;
    $('who').textContent = t('who', me.display_name || me.username, me.jurisdiction_name || me.jurisdiction);
    // Dewormings and stray-dog events are animal registers: no entry form for the other roles.
    $('nav-entry').hidden = !(me.permissions || []).includes('animal_rows');
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
    el.textContent = listSavedAt ? t('listAge', villages.length, when(listSavedAt)) : '';
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
      const q = `/api/villages/locate?lon=${lastFix.lon.toFixed(6)}&lat=${lastFix.lat.toFixed(6)}&n=3`;
      const r = await api(q);
      if (r.ok && !r.offline) {
        const v = r.data.village;
        if (!v) { say(r.data.outside_jurisdiction ? 'outside' : 'noVillage'); return; }
        if (r.data.inside) say('inside'); else say('near', metres(r.data.distance_m || 0));
        return showVillage(v.code);
      }
      // Offline: the nearest village centre of the saved list.
      const near = nearest(lastFix.lon, lastFix.lat);
      if (!near) { say('noVillage'); return; }
      say('offlineNearest', metres(near.d));
      showVillage(near.v.code);
    }, (err) => say('noGeo', err.message), { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  }
  function nearest(lon, lat) {
    const rad = Math.PI / 180; let best = null;
    for (const v of villages) {
      const dLat = (v.lat - lat) * rad, dLon = (v.lon - lon) * rad;
      const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat * rad) * Math.cos(v.lat * rad) * Math.sin(dLon / 2) ** 2;
      const d = 12742000 * Math.asin(Math.sqrt(a));
      if (d <= 3000 && (!best || d < best.d)) best = { v, d };
    }
    return best;
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
    const anyOffline = answers.some((a) => a.offline) || !detail.ok;
    const oldest = Math.min(...answers.map((a) => a.savedAt), ...(detail.ok ? [] : [listSavedAt || Date.now()]));
    const age = anyOffline ? `<p class="age stale" id="data-age">${esc(t('offlineData', t('saved', when(oldest))))}</p>`
      : `<p class="age" id="data-age">${esc(t('fresh', when(oldest)))}</p>`;

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
    const comps = new Map((r.components || []).map((c) => [c.component || c.name, c]));
    const reasons = (r.reasons || []).map((x) => plain(x.component, comps.get(x.component), x.text));
    return `<p><span class="tier ${esc(r.tier)}">${esc(T[lang].tier[r.tier] || r.tier)}</span> <span class="muted">${esc(t('score', r.score))}</span></p>
      <p class="muted">${esc(t('reasons') + colon())}</p><ul>${reasons.length ? reasons.map((s) => `<li>${esc(s)}</li>`).join('') : `<li>${esc(t('noReasons'))}</li>`}</ul>`;
  }
  // A risk component in plain words, with its numbers when the answer has them.
  function plain(key, c, fallback) {
    const d = c?.detail || {}; const pct = (x) => (x == null ? '?' : `${(x * 100).toFixed(1)}%`);
    const zh = lang === 'zh';
    switch (key) {
      case 'human_prevalence': return zh ? `人群患病率偏高（筛查 ${d.screened ?? '—'} 人，阳性 ${d.positives ?? '—'}）` : `High human prevalence (${d.screened ?? '—'} screened, ${d.positives ?? '—'} positive)`;
      case 'new_cases': return zh ? '近期有新发病例' : 'New human cases recently';
      case 'dog_positivity': return zh ? `犬粪抗原阳性（检测 ${d.tested ?? '—'}，阳性 ${d.positive ?? '—'}）` : `Dog faecal antigen positive (${d.positive ?? '—'} of ${d.tested ?? '—'})`;
      case 'deworming_gap': return zh ? `犬驱虫覆盖率 ${pct(d.coverage)}，低于 80% 目标` : `Dog deworming coverage ${pct(d.coverage)}, below the 80% target`;
      case 'strays': return zh ? `有无主犬 ${d.ownerless_dogs ?? ''} 只` : `Ownerless dogs seen: ${d.ownerless_dogs ?? ''}`;
      case 'slaughter_without_disposal': return zh ? '附近屠宰点病害脏器未无害化处理' : 'A slaughter point nearby without offal disposal';
      case 'livestock_infection': return zh ? `2 岁以下家畜检出包虫囊（${d.infected ?? '—'}/${d.inspected ?? '—'}）` : `Cysts in livestock under 2 years (${d.infected ?? '—'}/${d.inspected ?? '—'})`;
      case 'hotspot': return zh ? '位于统计热点区' : 'Inside a statistical hotspot';
      default: return fallback || key;
    }
  }

  function renderRegime(risk, fb) {
    const reg = risk?.ok ? risk.data.regime : null;
    if (reg) {
      const name = reg.regime || 'monthly';
      return `<p><b>${esc(T[lang].regimes[name] || name)}</b></p><p class="muted" id="regime-source">${esc(t('fromRisk', reg.basis))}${reg.regime ? '' : ' · ' + esc(t('noScreening'))}</p>`;
    }
    if (!fb) return `<p class="muted">${esc(t('riskNotCached'))}</p>`;
    return `<p><b>${esc(T[lang].regimes[fb.regime])}</b></p><p class="muted" id="regime-source">${esc(fb.text)}</p>`;
  }
  // Without the risk endpoint: DOMAIN.md's thresholds on the village's own screening.
  async function domainRegime(code, can) {
    if (!can('case_rows') || !has('/api/screening_campaigns')) return { regime: 'monthly', text: t('screeningHidden') };
    const from = `${new Date().getFullYear() - 2}-01-01`;
    const r = await api(`/api/screening_campaigns?village=${code}&from=${from}&limit=500`);
    if (!r.ok) return null;
    let screened = 0, positives = 0;
    for (const c of r.data.items) { screened += c.screened || 0; positives += c.positives || 0; }
    if (!screened) return { regime: 'monthly', text: t('noScreening'), answer: r };
    const p = positives / screened;
    const regime = p > 0.01 ? 'monthly' : p >= 0.001 ? 'slaughter_season' : 'targeted';
    return { regime, text: t('fromDomain', `${(p * 100).toFixed(2)}%`, screened), answer: r };
  }

  // What is due: the work lists when the server has them, else the dogs not dosed this month.
  async function loadDue(code, can, month) {
    dogs = [];
    let due = has('/api/worklists/{kind}') ? await dueFromWorklists(code, can, month) : null;
    // Work lists this server does not know (kinds renamed) fall back to the registers.
    if ((!due || (!due.answers.length && !due.offline)) && can('animal_rows')) due = await dueFromRegisters(code, can, month);
    dogs.sort((a, b) => (b.due - a.due) || a.tag.localeCompare(b.tag));
    return due || { html: `<p class="muted">—</p>`, answers: [] };
  }
  const notSaved = (answers) => ({ html: `<p class="muted">${esc(t('dueNA'))}</p>`, answers, offline: true });
  async function dueFromWorklists(code, can, month) {
    const m = month.slice(0, 7); const answers = []; const parts = [];
    const kinds = ['deworming', 'faecal_sampling', ...(can('case_rows') ? ['followups'] : [])];
    const rs = await Promise.all(kinds.map((k) => api(`/api/worklists/${k}?unit=${code}`)));
    kinds.forEach((k, i) => {
      const r = rs[i];
      if (!r.ok) { if (k === 'followups' && r.offline) parts.push(`<li class="muted">${esc(t('dueFuOff'))}</li>`); return; }
      answers.push(r);
      const row = (r.data.villages || []).find((v) => v.code === code);
      const n = row ? row.count : 0;
      // A hidden count reads as the range the server hides (small_counts.label, e.g. 1–4).
      const hidden = r.data.small_counts?.label ?? '…';
      if (k === 'deworming') {
        dogs = (row?.items || []).map((d) => ({ tag: d.tag, last: d.last_dosed_on, due: true }));
        parts.push(`<li>${esc(n === 0 ? t('dueDwNone', m) : t('dueDw', n ?? hidden, m))}${dogList(dogs)}</li>`);
      } else if (k === 'faecal_sampling' && row) parts.push(`<li>${esc(t('dueFaecal'))}</li>`);
      // Overdue follow-ups: the work list's count for the village (the one schedule).
      else if (k === 'followups') parts.push(`<li>${esc(n === 0 ? t('dueFuNone') : t('dueFu', n ?? hidden))}</li>`);
    });
    if (!answers.length) return rs.some((r) => r.offline) ? notSaved(answers) : { html: '', answers };
    return { html: `<ul>${parts.join('')}</ul>`, answers };
  }
  // Without work lists: live dogs without a dose this month, and overdue follow-ups.
  async function dueFromRegisters(code, can, month) {
    const m = month.slice(0, 7); const parts = [];
    const [dr, dd] = await Promise.all([
      api(`/api/dogs?village=${code}&status=alive&limit=500`),
      api(`/api/dewormings?village=${code}&from=${monthStart(1)}&limit=500`),
    ]);
    if (!dr.ok || !dd.ok) return notSaved([]);
    const last = new Map();
    for (const d of dd.data.items) if (!last.has(d.dog_tag) || last.get(d.dog_tag) < d.dosed_on) last.set(d.dog_tag, d.dosed_on);
    dogs = dr.data.items.map((d) => ({ tag: d.dog_tag, last: last.get(d.dog_tag) || null }))
      .map((d) => ({ ...d, due: !d.last || d.last < month }));
    const dueDogs = dogs.filter((d) => d.due);
    parts.push(`<li>${esc(dueDogs.length ? t('dueDw', dueDogs.length, m) : t('dueDwNone', m))}${dogList(dueDogs)}</li>`);
    if (can('case_rows') && has('/api/cases')) {
      // The same schedule as the work list (docs/INDICATORS.md): its total, not one page.
      const c = await api(`/api/cases?unit=${code}&overdue=true&limit=100`);
      const n = c.ok && !c.offline ? (c.data.total ?? c.data.items.length) : null;
      parts.push(`<li>${esc(n === null ? t('dueFuOff') : n ? t('dueFu', n) : t('dueFuNone'))}</li>`);
    }
    return { html: `<ul>${parts.join('')}</ul>`, answers: [dr, dd] };
  }
  function dogList(list) {
    if (!list.length) return '';
    const shown = list.slice(0, 12).map((d) => esc(d.tag + paren(d.last ? t('lastDose', d.last) : t('noRecentDose'))));
    return `<div class="muted">${shown.join('<br>')}${list.length > 12 ? '<br>' + esc(t('moreDogs', list.length - 12)) : ''}</div>`;
  }
  function renderContacts(c) {
    if (!c) return `<p class="muted">—</p>`;
    if (!c.ok) return `<p class="muted">—</p>`;
    if (!c.data.items.length) return `<p class="muted">${esc(t('noContacts'))}</p>`;
    return `<ul>${c.data.items.map((p) => `<li>${esc((T[lang].roles[p.role] || p.role) + colon())}<b>${esc(p.display_name || p.username)}</b></li>`).join('')}</ul>`;
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
        if (r.ok && !r.offline) items = r.data.items;
      }
      if (!items) {
        const l = q.toLowerCase();
        items = villages.filter((v) => v.name.includes(q) || v.code.startsWith(q) || (v.pinyin_initials || '').includes(l));
      }
      $('results').innerHTML = items.length ? items.slice(0, 50).map((v) => {
        const r = riskByCode?.get(v.code);
        return `<button type="button" data-code="${esc(v.code)}"><b>${esc(v.name)}</b> ${r ? `<span class="tier ${esc(r.tier)}">${esc(T[lang].tier[r.tier])}</span>` : ''}<br><span class="muted">${esc(v.township_name)} · ${esc(v.code)}</span></button>`;
      }).join('') : `<p class="muted">${esc(t('noResults'))}</p>`;
    }, 250);
  }

  // --- entries: queued on the phone, sent with an Idempotency-Key -------------------------
  const queue = () => JSON.parse(localStorage.getItem(KEY.queue) || '[]');
  const saveQueue = (q) => { localStorage.setItem(KEY.queue, JSON.stringify(q)); renderNet(); };
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16)); b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function enqueue(entries) {
    const q = queue();
    for (const e of entries) q.push({ id: uuid(), user: me.username, created: Date.now(), state: 'pending', ...e });
    // Sent entries are kept for a while to show them; the unsent never leave.
    const sent = q.filter((e) => e.state === 'synced');
    saveQueue(q.filter((e) => e.state !== 'synced' || sent.indexOf(e) >= sent.length - 30));
    const msg = $('entry-msg'); msg.hidden = false; msg.textContent = t('queued', entries.length);
    renderQueue();
    sync();
  }
  let showAllDogs = false;
  function renderEntryVillage() {
    $('entry-village').textContent = current ? t('entryFor', current.name + paren(current.code)) : t('pickVillage');
    const month = monthStart(0);
    const list = showAllDogs ? dogs : dogs.filter((d) => d.due);
    $('dw-all-due').hidden = !list.some((d) => d.due);
    $('dw-show-all').hidden = showAllDogs || list.length === dogs.length;
    $('dw-show-all').textContent = t('showAll', dogs.length);
    $('dw-dogs').innerHTML = list.map((d) => `<label><input type="checkbox" value="${esc(d.tag)}"${d.due ? ' data-due' : ''}> ${esc(d.tag)} <span class="muted">${esc(d.last && d.last >= month ? t('dosedThisMonth') : d.last ? t('lastDose', d.last) : '')}</span></label>`).join('');
    const fresh = lastFix && Date.now() - lastFix.at < 30 * 60 * 1000;
    $('st-where').textContent = fresh ? t('gps', lastFix.lon.toFixed(5), lastFix.lat.toFixed(5), lastFix.acc) : current ? t('gpsNone', current.name) : t('pickVillage');
  }
  function submitDeworming(ev) {
    ev.preventDefault();
    if (!current) return alert(t('pickVillage'));
    const tags = [...$('dw-dogs').querySelectorAll('input:checked')].map((i) => i.value)
      .concat($('dw-tags').value.split(/[\s,，;；]+/).map((s) => s.trim()).filter(Boolean));
    if (!tags.length) return alert(t('noTags'));
    const date = $('dw-date').value; const dose = $('dw-dose').value;
    enqueue([...new Set(tags)].map((tag) => ({
      register: 'dewormings', label: t('dwLabel', tag, date), village: current.code,
      body: { dog_tag: tag, dosed_on: date, ...(dose ? { dose_mg: Number(dose) } : {}), given_by: me.display_name || me.username },
    })));
    $('dw-tags').value = '';
    for (const i of $('dw-dogs').querySelectorAll('input:checked')) i.checked = false;
  }
  function submitStray(ev) {
    ev.preventDefault();
    const fresh = lastFix && Date.now() - lastFix.at < 30 * 60 * 1000;
    if (!fresh && !current) return alert(t('pickVillage'));
    const date = $('st-date').value; const n = Number($('st-n').value); const action = $('st-action').value;
    const place = fresh ? { lon: Number(lastFix.lon.toFixed(6)), lat: Number(lastFix.lat.toFixed(6)) } : { village_code: current.code };
    enqueue([{ register: 'stray_dog_events', label: t('strayLabel', n, T[lang][action], date), village: current?.code,
      body: { occurred_on: date, n_dogs: n, action, reported_by: me.display_name || me.username, ...place } }]);
  }
  function renderQueue() {
    const q = queue().filter((e) => e.user === me?.username).slice().reverse();
    $('queue-list').innerHTML = q.length ? q.map((e) => `<div class="q ${e.state}" data-id="${esc(e.id)}"><b>${esc(T[lang].st[e.state])}</b> · ${esc(e.label)}
      ${e.record_id ? `<span class="muted"> · ${esc(t('recordNo', e.record_id))}</span>` : ''}${e.error ? `<br><span class="err">${esc(e.error)}</span>` : ''}</div>`).join('')
      : `<p class="muted">${esc(t('empty'))}</p>`;
    renderNet();
  }
  function update(id, change) { saveQueue(queue().map((e) => (e.id === id ? { ...e, ...change } : e))); }

  // Sends the pending entries one by one. The Idempotency-Key is the entry's id: a resend (the
  // answer was lost, or the entry is sent again) returns the first record and creates nothing.
  let syncing = null;
  function sync() { if (!syncing) syncing = doSync().finally(() => { syncing = null; renderQueue(); }); return syncing; }
  async function doSync() {
    if (!me) return;
    let csrfRetried = false;
    for (const e of queue().filter((x) => x.state === 'pending' && x.user === me.username)) {
      let r;
      try {
        r = await fetch('/api/' + e.register, {
          method: 'POST', credentials: 'same-origin',
          headers: { 'content-type': 'application/json', 'idempotency-key': e.id, 'x-csrf-token': me.csrf_token || '' },
          body: JSON.stringify(e.body),
        });
      } catch { setOnline(false); return; }
      setOnline(true);
      const data = await r.json().catch(() => null);
      if (r.status === 200 || r.status === 201) update(e.id, { state: 'synced', record_id: data?.id ?? null, synced_at: Date.now(), error: null });
      else if (r.status === 401) { showLogin(t('reLogin')); return; }
      else if (r.status === 403 && data?.error?.code === 'csrf' && !csrfRetried) {
        csrfRetried = true;
        const s = await api('/api/auth/session');
        if (s.data?.user) me = s.data.user;
        return doSync();
      } else if (r.status >= 500 || r.status === 429 || r.status === 0) return;
      else update(e.id, { state: 'failed', error: data?.error?.message || `HTTP ${r.status}` });
    }
  }

  // --- tabs -------------------------------------------------------------------------------
  function showTab(name) {
    $('where').hidden = name !== 'where'; $('village').hidden = name !== 'where';
    $('search').hidden = name !== 'search';
    $('entry').hidden = name !== 'entry'; $('queue').hidden = name !== 'entry';
    for (const k of ['where', 'search', 'entry']) $('nav-' + k).classList.toggle('on', k === name);
    if (name === 'search') $('q').focus();
    if (name === 'entry') renderEntryVillage();
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
    $('dw-all-due').addEventListener('click', () => { for (const i of $('dw-dogs').querySelectorAll('input[data-due]')) i.checked = true; });
    $('dw-show-all').addEventListener('click', () => { showAllDogs = true; renderEntryVillage(); });
    $('tab-stray').addEventListener('click', () => entryTab('stray'));
    $('form-dw').addEventListener('submit', submitDeworming);
    $('form-stray').addEventListener('submit', submitStray);
    $('sync').addEventListener('click', () => sync());
    $('logout').addEventListener('click', logout);
    window.addEventListener('online', () => { setOnline(true); sync(); });
    window.addEventListener('offline', () => setOnline(false));
    setInterval(() => { if (navigator.onLine && queue().some((e) => e.state === 'pending')) sync(); }, 60000);
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/field/sw.js', { scope: '/field' }).catch(() => {});
      // The first visit's answers came before the worker took over: ask again so that it keeps them.
      navigator.serviceWorker.addEventListener('controllerchange', () => { if (me && online) warm(); });
    }
    const s = await api('/api/auth/session');
    if (s.ok && s.data?.authenticated) { me = s.data.user; return startApp(); }
    showLogin(s.status === 0 || (s.offline && !s.ok) ? t('needOnline') : '');
  }
  // For the browser test and for support: the queue, a sync, and a resend of a sent entry.
  window.__field = { sync, queue, resend: (id) => { update(id, { state: 'pending' }); return sync(); }, ready: () => !!me };
  boot();
})();

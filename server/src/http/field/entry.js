// The field page's entries: the deworming and stray-dog forms, the queue on the phone and its
// sync, on the field core's outbox, validation and UUIDs. Not needed for the first view, so
// app.js imports this file after it (at the first sync, or when a form is sent): on 2G the page
// shows the village sooner, and the service worker keeps this file for offline use.
// `page` is app.js's state and helpers; its getters answer the current value (the session, the
// village shown, its dogs, the last GPS fix, the language).
import { Outbox, StorageFullError } from '/field/core/outbox.js';
import { parseTags, validateDeworming, validateStray } from '/field/core/validate.js';
import { uuid } from '/field/core/uuid.js';
import { today, monthStart } from '/field/core/time.js';
import { entryLabel } from '/field/core/text.js';

let page = null;
let outbox = null;
const t = (...a) => page.t(...a);

export function start(p) {
  page = p;
  const { $ } = page;
  // The outbox's adapters: localStorage (a full store throws; the core says StorageFullError)
  // and fetch with this session's CSRF token.
  outbox = new Outbox({
    storage: { get: (k) => localStorage.getItem(k), set: (k, v) => localStorage.setItem(k, v) },
    uuid: () => uuid(crypto),
    key: page.KEY.queue,
    send: async (req) => {
      try {
        const r = await fetch(req.path, {
          method: req.method, credentials: 'same-origin',
          headers: { ...req.headers, 'x-csrf-token': page.me?.csrf_token || '' }, body: JSON.stringify(req.body),
        });
        return { status: r.status, data: await r.json().catch(() => null) };
      } catch {
        return { status: 0, data: null };
      }
    },
  });
  $('dw-all-due').addEventListener('click', () => { for (const i of $('dw-dogs').querySelectorAll('input[data-due]')) i.checked = true; });
  $('dw-show-all').addEventListener('click', () => { showAllDogs = true; renderEntryVillage(); });
  renderEntryVillage();
  renderQueue();
  return { outbox, sync, renderQueue, renderEntryVillage, submitDeworming, submitStray, pendingCount };
}

function pendingCount() {
  return page.me ? outbox.pendingCount(page.me.username) : 0;
}

// A refusal of the form, in the page's words, before anything is queued.
function refused(verdict) {
  if (verdict.ok) return false;
  page.entryMsg(verdict.errors.map((e) => t(e.key, ...(e.args || []))).join('；'), true);
  return true;
}
function enqueue(list) {
  try {
    outbox.enqueue(page.me.username, list);
  } catch (e) {
    if (!(e instanceof StorageFullError)) throw e;
    page.entryMsg(t('storageFull'), true);
    return false;
  }
  page.entryMsg(t('queued', list.length));
  renderQueue();
  sync();
  return true;
}
let showAllDogs = false;
const freshFix = () => page.lastFix && Date.now() - page.lastFix.at < 30 * 60 * 1000;
function renderEntryVillage() {
  const { $, esc, current, dogs, lastFix } = page;
  $('entry-village').textContent = current ? t('entryFor', current.name + page.paren(current.code)) : t('pickVillage');
  const month = monthStart(0);
  const list = showAllDogs ? dogs : dogs.filter((d) => d.due);
  $('dw-all-due').hidden = !list.some((d) => d.due);
  $('dw-show-all').hidden = showAllDogs || list.length === dogs.length;
  $('dw-show-all').textContent = t('showAll', dogs.length);
  $('dw-dogs').innerHTML = list.map((d) => `<label><input type="checkbox" value="${esc(d.tag)}"${d.due ? ' data-due' : ''}> ${esc(d.tag)} <span class="muted">${esc(d.last && d.last >= month ? t('dosedThisMonth') : d.last ? t('lastDose', d.last) : '')}</span></label>`).join('');
  $('st-where').textContent = freshFix() ? t('gps', lastFix.lon.toFixed(5), lastFix.lat.toFixed(5), lastFix.acc) : current ? t('gpsNone', current.name) : t('pickVillage');
}
function submitDeworming() {
  const { $, me, current } = page;
  if (!current) return page.entryMsg(t('pickVillage'), true);
  const tags = parseTags([...$('dw-dogs').querySelectorAll('input:checked')].map((i) => i.value).join(' ') + ' ' + $('dw-tags').value);
  const date = $('dw-date').value; const dose = $('dw-dose').value;
  if (refused(validateDeworming({ tags, date, dose }, { today: today() }))) return;
  const queued = enqueue(tags.map((tag) => ({
    register: 'dewormings', label: t('dwLabel', tag, date), village: current.code,
    body: { dog_tag: tag, dosed_on: date, ...(dose ? { dose_mg: Number(dose) } : {}), given_by: me.display_name || me.username },
  })));
  if (!queued) return;
  $('dw-tags').value = '';
  for (const i of $('dw-dogs').querySelectorAll('input:checked')) i.checked = false;
}
function submitStray() {
  const { $, me, current, lastFix } = page;
  const fresh = freshFix();
  if (!fresh && !current) return page.entryMsg(t('pickVillage'), true);
  const date = $('st-date').value; const n = Number($('st-n').value); const action = $('st-action').value;
  if (refused(validateStray({ date, n, action }, { today: today() }))) return;
  const place = fresh ? { lon: Number(lastFix.lon.toFixed(6)), lat: Number(lastFix.lat.toFixed(6)) } : { village_code: current.code };
  enqueue([{ register: 'stray_dog_events', label: t('strayLabel', n, t(action), date), village: current?.code,
    body: { occurred_on: date, n_dogs: n, action, reported_by: me.display_name || me.username, ...place } }]);
}
function renderQueue() {
  const { $, esc, me, reasons, lang } = page;
  const q = me ? outbox.forUser(me.username).reverse() : [];
  // A refused entry's reason in the language shown (again after a switch); while reasons.js
  // loads, nothing; if it cannot be loaded (retried after 30 s), the server's message.
  const waiting = !reasons && q.some((e) => e.error) && Date.now() - page.reasonsFailedAt > 30000;
  if (waiting) page.loadReasons().then(() => renderQueue());
  const why = (e) => (reasons ? reasons.errorText(e, lang) : waiting ? '' : e.error);
  $('queue-list').innerHTML = q.length ? q.map((e) => `<div class="q ${e.state}" data-id="${esc(e.id)}"><b>${esc(t('st.' + e.state))}</b> · ${esc(entryLabel(e, t))}
    ${e.record_id ? `<span class="muted"> · ${esc(t('recordNo', e.record_id))}</span>` : ''}${e.error ? `<br><span class="err">${esc(why(e))}</span>` : ''}</div>`).join('')
    : `<p class="muted">${esc(t('empty'))}</p>`;
  page.renderNet();
}

// Sends this account's pending entries (the core sends them one by one, each with its id as
// the Idempotency-Key). A stale CSRF token is refreshed and the send resumed once.
let syncing = null;
function sync() { if (!syncing) syncing = doSync().finally(() => { syncing = null; renderQueue(); }); return syncing; }
async function doSync() {
  const user = page.me?.username;
  if (!user) return;
  let r = await outbox.sync(user);
  if (r.stopped === 'csrf' && (await page.refreshSession())) r = await outbox.sync(user);
  if (r.stopped === 'offline') page.setOnline(false);
  else if (r.sent || r.failed || r.stopped) page.setOnline(true);
  if (r.stopped === 'relogin') page.showLogin(t('reLogin'));
  // An administrator reset the password: the entries wait until it is changed on the dashboard.
  if (r.stopped === 'password') page.showLogin(t('mustChange'));
}

// The outbox against an in-memory storage and a scripted server: idempotency keys, retries,
// per-record errors, storage full, one sync at a time.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Outbox, StorageFullError } from '../outbox.js';

/** A synchronous key-value store like localStorage, that can be made full. */
function memoryStorage() {
  const map = new Map();
  return {
    map,
    full: false,
    writes: 0,
    reads: 0,
    get(k) { this.reads++; return map.has(k) ? map.get(k) : null; },
    set(k, v) {
      if (this.full) throw new Error('QuotaExceededError');
      this.writes++;
      map.set(k, v);
    },
  };
}

/** A server that answers from a script; `records` keeps the first record of each key. */
function scriptedServer(answers = []) {
  const requests = [];
  const records = new Map();
  let next = 1;
  const send = async (req) => {
    requests.push(req);
    const scripted = answers.length ? answers.shift() : null;
    if (typeof scripted === 'function') return scripted(req);
    if (scripted) return scripted;
    const key = req.headers['idempotency-key'];
    if (records.has(key)) return { status: 200, data: records.get(key) };
    const rec = { id: next++, ...req.body };
    records.set(key, rec);
    return { status: 201, data: rec };
  };
  return { send, requests, records };
}

let n = 0;
const ids = () => `id-${++n}`;
const entry = (tag) => ({ register: 'dewormings', label: `驱虫 ${tag}`, village: '654022100200', body: { dog_tag: tag, dosed_on: '2026-12-01' } });

test('entries are stored with a fresh id, the account and pending state; each account sees its own', () => {
  const storage = memoryStorage();
  const box = new Outbox({ storage, send: scriptedServer().send, uuid: ids, now: () => 1000 });
  const added = box.enqueue('vd', [entry('A1'), entry('A2')]);
  box.enqueue('other', [entry('B1')]);
  assert.equal(added.length, 2);
  assert.notEqual(added[0].id, added[1].id);
  assert.deepEqual(Object.keys(added[0]).sort(), ['body', 'created', 'id', 'label', 'register', 'state', 'user', 'village']);
  assert.equal(added[0].state, 'pending');
  assert.equal(added[0].created, 1000);
  assert.equal(box.all().length, 3);
  assert.equal(box.forUser('vd').length, 2);
  assert.equal(box.pendingCount('vd'), 2);
  assert.equal(box.pendingCount('other'), 1);
  assert.ok(storage.get('echinomap.field.queue'), 'under the default key');
});

test('a sync sends each entry once with its id as the Idempotency-Key and marks it synced', async () => {
  const server = scriptedServer();
  const box = new Outbox({ storage: memoryStorage(), send: server.send, uuid: ids, now: () => 5 });
  const [a, b] = box.enqueue('vd', [entry('A1'), entry('A2')]);
  box.enqueue('other', [entry('B1')]);
  const r = await box.sync('vd');
  assert.deepEqual(r, { sent: 2, failed: 0, stopped: null });
  assert.deepEqual(server.requests.map((q) => [q.method, q.path, q.headers['idempotency-key'], q.headers['content-type']]), [
    ['POST', '/api/dewormings', a.id, 'application/json'],
    ['POST', '/api/dewormings', b.id, 'application/json'],
  ]);
  assert.deepEqual(server.requests[0].body, entry('A1').body);
  const stored = box.forUser('vd');
  assert.deepEqual(stored.map((e) => [e.state, e.record_id, e.synced_at]), [['synced', 1, 5], ['synced', 2, 5]]);
  assert.equal(box.pendingCount('other'), 1, "another account's entries wait for it");
});

test('a lost answer and a resend make one record: the resend carries the same key', async () => {
  const server = scriptedServer([
    // The server creates the record, the phone never hears of it.
    async (req) => { const key = req.headers['idempotency-key']; server.records.set(key, { id: 77, ...req.body }); return { status: 0, data: null }; },
  ]);
  const box = new Outbox({ storage: memoryStorage(), send: server.send, uuid: ids });
  const [a] = box.enqueue('vd', [entry('A1')]);
  assert.deepEqual(await box.sync('vd'), { sent: 0, failed: 0, stopped: 'offline' });
  assert.equal(box.all()[0].state, 'pending');
  assert.deepEqual(await box.sync('vd'), { sent: 1, failed: 0, stopped: null });
  assert.equal(box.all()[0].record_id, 77, 'the first record answered');
  box.resend(a.id);
  assert.equal(box.pendingCount('vd'), 1);
  await box.sync('vd');
  assert.equal(server.records.size, 1);
  assert.deepEqual(server.requests.map((q) => q.headers['idempotency-key']), [a.id, a.id, a.id]);
});

test('a send that throws counts as no network', async () => {
  const box = new Outbox({ storage: memoryStorage(), send: async () => { throw new TypeError('Failed to fetch'); }, uuid: ids });
  box.enqueue('vd', [entry('A1')]);
  assert.deepEqual(await box.sync('vd'), { sent: 0, failed: 0, stopped: 'offline' });
  assert.equal(box.pendingCount('vd'), 1);
});

test('401 stops for a new login, a reset password for its change, a CSRF refusal stops for a refresh, 5xx and 429 keep entries waiting', async () => {
  for (const [answer, stopped] of [
    [{ status: 401, data: { error: { code: 'unauthenticated', message: '请登录' } } }, 'relogin'],
    [{ status: 403, data: { error: { code: 'password_change_required', message: 'change it' } } }, 'password'],
    [{ status: 403, data: { error: { code: 'csrf', message: 'bad token' } } }, 'csrf'],
    [{ status: 503, data: null }, 'server'],
    [{ status: 500, data: { error: { code: 'internal', message: 'x' } } }, 'server'],
    [{ status: 429, data: { error: { code: 'rate_limited', message: 'slow' } } }, 'server'],
  ]) {
    const server = scriptedServer([answer]);
    const box = new Outbox({ storage: memoryStorage(), send: server.send, uuid: ids });
    box.enqueue('vd', [entry('A1'), entry('A2')]);
    assert.deepEqual(await box.sync('vd'), { sent: 0, failed: 0, stopped }, `${answer.status}`);
    assert.equal(server.requests.length, 1, 'nothing more is sent after a stop');
    assert.equal(box.pendingCount('vd'), 2, `${answer.status}: both still waiting`);
    assert.deepEqual(await box.sync('vd'), { sent: 2, failed: 0, stopped: null }, 'the next sync sends them');
  }
});

test('a refusal marks that entry failed with the reason and its field; the others go on', async () => {
  const server = scriptedServer([
    { status: 422, data: { error: { code: 'invalid', message: '犬牌号 X9 不存在', details: { field: 'dog_tag' } } } },
    undefined,
    { status: 403, data: { error: { code: 'forbidden', message: '该村不在您的辖区内' } } },
    { status: 409, data: null },
  ]);
  const box = new Outbox({ storage: memoryStorage(), send: server.send, uuid: ids });
  const [bad, good, outside, conflict] = box.enqueue('vd', [entry('X9'), entry('A1'), entry('Z1'), entry('C1')]);
  assert.deepEqual(await box.sync('vd'), { sent: 1, failed: 3, stopped: null });
  const byId = new Map(box.all().map((e) => [e.id, e]));
  assert.deepEqual(
    [byId.get(bad.id).state, byId.get(bad.id).error, byId.get(bad.id).error_field, byId.get(bad.id).error_code],
    ['failed', '犬牌号 X9 不存在', 'dog_tag', 'invalid'],
  );
  assert.equal(byId.get(good.id).state, 'synced');
  assert.deepEqual([byId.get(outside.id).state, byId.get(outside.id).error, byId.get(outside.id).error_field], ['failed', '该村不在您的辖区内', null]);
  assert.equal(byId.get(conflict.id).error, 'HTTP 409');
  // A refused entry stays listed and is not sent again by itself…
  assert.deepEqual(await box.sync('vd'), { sent: 0, failed: 0, stopped: null });
  assert.equal(server.requests.length, 4);
  // …until the user resends it, which clears the reason.
  box.resend(bad.id);
  const again = box.all().find((e) => e.id === bad.id);
  assert.deepEqual([again.state, again.error, again.error_field, again.error_code], ['pending', null, null, null]);
  assert.deepEqual(await box.sync('vd'), { sent: 1, failed: 0, stopped: null });
});

test('storage full: enqueue throws StorageFullError and the stored queue is unchanged', () => {
  const storage = memoryStorage();
  const box = new Outbox({ storage, send: scriptedServer().send, uuid: ids });
  box.enqueue('vd', [entry('A1')]);
  const before = storage.get('echinomap.field.queue');
  storage.full = true;
  assert.throws(() => box.enqueue('vd', [entry('A2'), entry('A3')]), (e) => e instanceof StorageFullError && e.code === 'storage_full' && e.cause instanceof Error);
  assert.equal(storage.get('echinomap.field.queue'), before);
  assert.equal(box.all().length, 1);
  // An adapter that throws the core's own error (the mini-program's) passes through as it is.
  const own = new StorageFullError('exceed storage max size');
  const box2 = new Outbox({ storage: { get: () => null, set: () => { throw own; } }, send: scriptedServer().send, uuid: ids });
  assert.throws(() => box2.enqueue('vd', [entry('A1')]), (e) => e === own);
});

test('sent entries beyond keepSent go, oldest first; pending and refused ones never do', async () => {
  const server = scriptedServer([{ status: 422, data: { error: { code: 'invalid', message: 'no' } } }]);
  const box = new Outbox({ storage: memoryStorage(), send: server.send, uuid: ids, keepSent: 3 });
  const [refused] = box.enqueue('vd', [entry('R1')]);
  box.enqueue('vd', [1, 2, 3, 4, 5].map((i) => entry(`S${i}`)));
  await box.sync('vd');
  // Offline now: 40 pending entries, none may go.
  const offline = new Outbox({ storage: box.storage, send: async () => ({ status: 0, data: null }), uuid: ids, keepSent: 3 });
  offline.enqueue('vd', Array.from({ length: 40 }, (_, i) => entry(`P${i}`)));
  const q = offline.all();
  assert.equal(q.filter((e) => e.state === 'pending').length, 40);
  assert.deepEqual(q.filter((e) => e.state === 'synced').map((e) => e.body.dog_tag), ['S3', 'S4', 'S5']);
  assert.ok(q.some((e) => e.id === refused.id && e.state === 'failed'));
});

test('one sync at a time: a second call while one runs returns the same run', async () => {
  let release;
  const gate = new Promise((r) => { release = r; });
  const server = scriptedServer([async (req) => { await gate; return { status: 201, data: { id: 1, ...req.body } }; }]);
  const box = new Outbox({ storage: memoryStorage(), send: server.send, uuid: ids });
  box.enqueue('vd', [entry('A1')]);
  const first = box.sync('vd');
  const second = box.sync('vd');
  assert.equal(first, second);
  // Queued while the sync runs: sent by the same run.
  box.enqueue('vd', [entry('A2')]);
  release();
  assert.deepEqual(await first, { sent: 2, failed: 0, stopped: null });
  assert.equal(server.requests.length, 2, 'each entry sent once');
  const third = box.sync('vd');
  assert.notEqual(third, first, 'a new run after the first ended');
  assert.deepEqual(await third, { sent: 0, failed: 0, stopped: null });
});

test('update changes one entry; a custom key keeps queues apart', () => {
  const storage = memoryStorage();
  const a = new Outbox({ storage, send: scriptedServer().send, uuid: ids, key: 'a' });
  const b = new Outbox({ storage, send: scriptedServer().send, uuid: ids, key: 'b' });
  const [e] = a.enqueue('vd', [entry('A1')]);
  b.enqueue('vd', [entry('B1')]);
  a.update(e.id, { label: 'changed' });
  assert.equal(a.all()[0].label, 'changed');
  assert.equal(b.all()[0].label, '驱虫 B1');
});

test('a sync of 50 entries reads the queue once and writes once per entry sent or refused', async () => {
  const storage = memoryStorage();
  const refuse = { status: 422, data: { error: { code: 'invalid', message: 'no such tag' } } };
  const server = scriptedServer([...Array(10)].map((_, i) => (i === 4 ? refuse : null)));
  const box = new Outbox({ storage, send: server.send, uuid: ids });
  box.enqueue('vd', [...Array(50)].map((_, i) => entry(`T${i}`)));
  box.enqueue('other', [entry('B1')]);
  storage.reads = 0;
  storage.writes = 0;
  assert.deepEqual(await box.sync('vd'), { sent: 49, failed: 1, stopped: null });
  assert.equal(storage.reads, 1, 'one read for the whole run');
  assert.equal(storage.writes, 50, 'one write per entry that changed state');
  assert.equal(box.pendingCount('other'), 1, "another account's entry is kept as it was");
  assert.equal(JSON.parse(storage.get('echinomap.field.queue')).filter((e) => e.state === 'synced').length, 49);
  storage.writes = 0;
  server.requests.length = 0;
  assert.deepEqual(await box.sync('vd'), { sent: 0, failed: 0, stopped: null });
  assert.equal(storage.writes, 0, 'nothing to send: nothing written');
  // A stop writes nothing either: the entries stay as they were.
  const off = new Outbox({ storage: memoryStorage(), send: async () => ({ status: 0, data: null }), uuid: ids });
  off.enqueue('vd', [entry('X')]);
  off.storage.writes = 0;
  assert.equal((await off.sync('vd')).stopped, 'offline');
  assert.equal(off.storage.writes, 0);
});

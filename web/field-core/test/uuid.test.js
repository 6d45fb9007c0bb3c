// Entry ids: randomUUID when the platform has it, else version-4 bits on random bytes.
import test from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { uuid } from '../uuid.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('randomUUID is used when present', () => {
  assert.equal(uuid({ randomUUID: () => 'from-platform', getRandomValues: () => { throw new Error('not used'); } }), 'from-platform');
  assert.match(uuid(webcrypto), V4);
});

test('without randomUUID (no secure context, old WebView) random bytes make a version-4 UUID', () => {
  const crypto = { getRandomValues: (a) => webcrypto.getRandomValues(a) };
  const ids = new Set(Array.from({ length: 500 }, () => uuid(crypto)));
  assert.equal(ids.size, 500);
  for (const id of ids) assert.match(id, V4);
  // All bits set still gives the version and variant.
  assert.equal(uuid({ getRandomValues: (a) => a.fill(255) }), 'ffffffff-ffff-4fff-bfff-ffffffffffff');
});

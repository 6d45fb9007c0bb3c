// The shared dictionary: both languages have the same keys, and the translator's contract.
import test from 'node:test';
import assert from 'node:assert/strict';
import { TEXT, LANGS, translator, colon, paren, label, entryLabel } from '../text.js';

/** Every dotted key of a dictionary. */
function keys(d, prefix = '') {
  return Object.entries(d).flatMap(([k, v]) => (v && typeof v === 'object' ? keys(v, prefix + k + '.') : [prefix + k])).sort();
}

test('Chinese and English have exactly the same keys, and the same kinds of value', () => {
  assert.deepEqual(LANGS, ['zh', 'en']);
  assert.deepEqual(keys(TEXT.en), keys(TEXT.zh));
  for (const k of keys(TEXT.zh)) {
    const zh = k.split('.').reduce((o, p) => o[p], TEXT.zh);
    const en = k.split('.').reduce((o, p) => o[p], TEXT.en);
    assert.equal(typeof en, typeof zh, k);
    if (typeof zh === 'function') assert.equal(en.length, zh.length, `${k}: the same arguments`);
  }
});

test('the translator calls functions with their arguments, returns strings and falls back to the key', () => {
  const zh = translator('zh');
  const en = translator('en');
  assert.equal(zh('login'), '登录');
  assert.equal(zh('pending', 2), '待传 2');
  assert.equal(en('dueDw', 3, '2026-12'), 'Dogs not dosed this month (2026-12): 3');
  assert.equal(zh('tier.high'), '高风险');
  assert.equal(zh('ago.h', 3), '3 小时前');
  assert.equal(zh('no_such_key'), 'no_such_key');
  assert.equal(zh('tier'), 'tier', 'a group is not a string');
  assert.equal(zh('tier.high.x'), 'tier.high.x');
  assert.equal(zh('toString'), 'toString', 'no inherited property leaks');
});

test('punctuation follows the language, and labels fall back to the value', () => {
  assert.equal(colon('zh'), '：');
  assert.equal(colon('en'), ': ');
  assert.equal(paren('zh', 'x'), '（x）');
  assert.equal(paren('en', 'x'), ' (x)');
  assert.equal(label('zh', 'basis', 'village_screening'), '本村筛查');
  assert.equal(label('en', 'roles', 'village_doctor'), 'village doctor');
  assert.equal(label('zh', 'roles', 'llama'), 'llama');
});

test('a queued entry is worded from its register and body, in the language shown', () => {
  const dw = { register: 'dewormings', label: '驱虫 A-1 · 2026-12-01', body: { dog_tag: 'A-1', dosed_on: '2026-12-01' } };
  assert.equal(entryLabel(dw, translator('zh')), '驱虫 A-1 · 2026-12-01');
  assert.equal(entryLabel(dw, translator('en')), 'Deworming A-1 · 2026-12-01');
  const stray = { register: 'stray_dog_events', label: 'x', body: { n_dogs: 2, action: 'captured', occurred_on: '2026-12-02' } };
  assert.equal(entryLabel(stray, translator('en')), 'Stray dogs 2 · captured · 2026-12-02');
  assert.equal(entryLabel(stray, translator('zh')), '无主犬 2 只 · 捕获 · 2026-12-02');
  // A register the dictionary has no wording for (the slaughter words live in the
  // mini-program's own text): the label stored when the entry was made.
  const sl = { register: 'slaughter_inspections', label: '屠宰检疫 SP-1', body: { point_code: 'SP-1' } };
  assert.equal(entryLabel(sl, translator('en')), '屠宰检疫 SP-1');
});

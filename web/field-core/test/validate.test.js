// The server's rules said on the phone before an entry is queued.
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseTags, validateDeworming, validateStray, validateSlaughter, STRAY_ACTIONS, SPECIES, ORGANS, DISPOSAL_METHODS } from '../validate.js';
import { TEXT } from '../text.js';

const TODAY = '2026-12-07';
const keys = (v) => v.errors.map((e) => `${e.field}:${e.key}`);

test('tags are split on spaces, commas, 、 and semicolons of either width, trimmed and unique', () => {
  assert.deepEqual(parseTags(' QC-001 QC-002,QC-003，QC-004、QC-005;QC-006；QC-007\n\tQC-001 '), ['QC-001', 'QC-002', 'QC-003', 'QC-004', 'QC-005', 'QC-006', 'QC-007']);
  assert.deepEqual(parseTags(''), []);
  assert.deepEqual(parseTags(null), []);
  assert.deepEqual(parseTags(' , ；'), []);
});

test('a deworming needs a tag and a date not in the future; the dose is optional, 1–5000 mg', () => {
  assert.deepEqual(validateDeworming({ tags: ['A1'], date: TODAY }, { today: TODAY }), { ok: true, errors: [] });
  assert.ok(validateDeworming({ tags: ['A1'], date: '2026-01-31', dose: '250' }, { today: TODAY }).ok);
  assert.ok(validateDeworming({ tags: ['A1'], date: TODAY, dose: '' }, { today: TODAY }).ok);
  assert.ok(validateDeworming({ tags: ['A1'], date: TODAY, dose: 5000 }, { today: TODAY }).ok);
  assert.deepEqual(keys(validateDeworming({ tags: [], date: '', dose: '0' }, { today: TODAY })), ['tags:noTags', 'dosed_on:errDate', 'dose_mg:errDose']);
  assert.deepEqual(keys(validateDeworming({ tags: ['A1'], date: '2026-12-08', dose: 5001 }, { today: TODAY })), ['dosed_on:errDateFuture', 'dose_mg:errDose']);
  assert.deepEqual(keys(validateDeworming({ tags: ['A1'], date: '2026-02-30', dose: 'abc' }, { today: TODAY })), ['dosed_on:errDate', 'dose_mg:errDose']);
  assert.deepEqual(keys(validateDeworming({ tags: ['A1'], date: '7/12/2026' })), ['dosed_on:errDate']);
});

test('a stray-dog sighting needs a date, 1–500 dogs and one of the server\'s actions', () => {
  assert.ok(validateStray({ date: TODAY, n: 1, action: 'observed' }, { today: TODAY }).ok);
  assert.ok(validateStray({ date: TODAY, n: '500', action: 'adopted' }, { today: TODAY }).ok);
  assert.deepEqual(keys(validateStray({ date: TODAY, n: 0, action: 'observed' }, { today: TODAY })), ['n_dogs:errN']);
  assert.deepEqual(keys(validateStray({ date: TODAY, n: 501, action: 'observed' })), ['n_dogs:errN']);
  assert.deepEqual(keys(validateStray({ date: TODAY, n: 2.5, action: 'observed' })), ['n_dogs:errN']);
  assert.deepEqual(keys(validateStray({ date: '2027-01-01', n: 'x', action: 'shot' }, { today: TODAY })), ['occurred_on:errDateFuture', 'n_dogs:errN', 'action:errAction']);
  assert.deepEqual(validateStray({ date: TODAY, n: 0, action: 'observed' }).errors[0].args, [1, 500]);
});

test('a slaughter inspection follows the table\'s rules', () => {
  const ok = { date: TODAY, point_code: 'SP-01', species: 'sheep', slaughtered: 40, infected: 2, organ: 'liver', disposal_method: 'incineration', disposal_done: true };
  assert.ok(validateSlaughter(ok, { today: TODAY }).ok);
  assert.ok(validateSlaughter({ ...ok, infected: 0, organ: 'none', disposal_method: 'none', disposal_done: false }).ok);
  assert.deepEqual(keys(validateSlaughter({ ...ok, infected: 41 })), ['infected:errInfected']);
  assert.deepEqual(keys(validateSlaughter({ ...ok, infected: 0 })), ['organ:errOrganNone'], 'none infected: organ none');
  assert.deepEqual(keys(validateSlaughter({ ...ok, organ: 'none' })), ['organ:errOrganNone'], 'infected: an organ');
  assert.deepEqual(keys(validateSlaughter({ ...ok, disposal_method: 'none' })), ['disposal_method:errDisposal']);
  assert.deepEqual(keys(validateSlaughter({ ...ok, slaughtered: 0, infected: -1 })), ['slaughtered:errSlaughtered', 'infected:errInfected']);
  assert.deepEqual(
    keys(validateSlaughter({ date: '', point_code: ' ', species: 'dog', slaughtered: '', infected: '', organ: 'heart', disposal_method: 'fire', disposal_done: false })),
    ['inspected_on:errDate', 'point_code:errPoint', 'species:errSpecies', 'slaughtered:errSlaughtered', 'infected:errInfected', 'organ:errOrgan', 'disposal_method:errDisposal'],
  );
});

test('every error key has words in both languages, and the value lists are the server\'s enums', async () => {
  const { readFile } = await import('node:fs/promises');
  const enums = await readFile(new URL('../../../geodata/src/import/enums.rs', import.meta.url), 'utf8');
  const values = (name) => {
    const block = enums.slice(enums.indexOf(`    ${name},\n`));
    return [...block.slice(0, block.indexOf(');')).matchAll(/\("([a-z_]+)", \[/g)].map((m) => m[1]);
  };
  assert.deepEqual(STRAY_ACTIONS, values('STRAY_ACTION'));
  assert.deepEqual(SPECIES, values('SPECIES'));
  assert.deepEqual(ORGANS, values('CYST_ORGAN'));
  assert.deepEqual(DISPOSAL_METHODS, values('DISPOSAL_METHOD'));
  for (const v of STRAY_ACTIONS) assert.ok(TEXT.zh[v] && TEXT.en[v], v);
  const errorKeys = ['noTags', 'errDate', 'errDateFuture', 'errDose', 'errN', 'errAction'];
  for (const k of errorKeys) assert.ok(typeof TEXT.zh[k] === 'string' && typeof TEXT.en[k] === 'string', k);
  // The slaughter inspection's words are the mini-program's alone (/field records none): its
  // text.ts has each key in Chinese and in English.
  const mp = await readFile(new URL('../../miniprogram/src/lib/text.ts', import.meta.url), 'utf8');
  const slaughterKeys = [
    'errPoint', 'errSpecies', 'errSlaughtered', 'errInfected', 'errOrgan', 'errOrganNone', 'errDisposal',
    ...SPECIES.map((v) => `'species.${v}'`), ...ORGANS.map((v) => `'organs.${v}'`), ...DISPOSAL_METHODS.map((v) => `'disposal.${v}'`),
  ];
  for (const k of slaughterKeys) assert.equal(mp.split(`${k}: `).length - 1, 2, `${k} in zh and en of text.ts`);
});

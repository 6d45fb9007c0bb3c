// What is due in a village, from the work lists or from the registers.
import test from 'node:test';
import assert from 'node:assert/strict';
import { dueFromWorklists, dueFromRegisters, sortDogs } from '../due.js';

const CODE = '654022100200';

test('from the work lists: the due dogs, the counts, faecal sampling and follow-ups when passed', () => {
  const deworming = { villages: [{ code: CODE, count: 3, items: [{ tag: 'Q-3', last_dosed_on: '2026-10-02' }, { tag: 'Q-1', last_dosed_on: null }, { tag: 'Q-2' }] }, { code: '654022100201', count: 9, items: [] }] };
  const faecal_sampling = { villages: [{ code: CODE, count: 1 }] };
  const followups = { villages: [{ code: CODE, count: null }], small_counts: { label: '1–4' } };
  const due = dueFromWorklists({ deworming, faecal_sampling, followups }, CODE);
  assert.deepEqual(due, {
    dogs: [{ tag: 'Q-1', last: null, due: true }, { tag: 'Q-2', last: null, due: true }, { tag: 'Q-3', last: '2026-10-02', due: true }],
    deworming: { count: 3, hidden: null },
    faecal: true,
    followups: { count: null, hidden: '1–4' },
  });
});

test('a village absent from a work list has nothing due there; an answer not passed is null', () => {
  const due = dueFromWorklists({ deworming: { villages: [] }, faecal_sampling: { villages: [{ code: 'other' }] }, followups: null }, CODE);
  assert.deepEqual(due, { dogs: [], deworming: { count: 0, hidden: null }, faecal: false, followups: null });
  assert.deepEqual(dueFromWorklists({}, CODE), { dogs: [], deworming: null, faecal: null, followups: null });
  // A hidden count without the server's label still reads as hidden.
  assert.deepEqual(dueFromWorklists({ deworming: { villages: [{ code: CODE, count: null }] } }, CODE).deworming, { count: null, hidden: '…' });
});

test('from the registers: dogs not dosed since the month began are due, with their last dose', () => {
  const dogs = [{ dog_tag: 'Q-2' }, { dog_tag: 'Q-1' }, { dog_tag: 'Q-3' }, { dog_tag: 'Q-4' }];
  const dewormings = [
    { dog_tag: 'Q-1', dosed_on: '2026-11-03' },
    { dog_tag: 'Q-1', dosed_on: '2026-11-20' },
    { dog_tag: 'Q-2', dosed_on: '2026-12-01' },
    { dog_tag: 'Q-2', dosed_on: '2026-11-05' },
    { dog_tag: 'Q-9', dosed_on: '2026-12-02' },
  ];
  const due = dueFromRegisters(dogs, dewormings, '2026-12-01');
  assert.deepEqual(due, {
    dogs: [
      { tag: 'Q-1', last: '2026-11-20', due: true },
      { tag: 'Q-3', last: null, due: true },
      { tag: 'Q-4', last: null, due: true },
      { tag: 'Q-2', last: '2026-12-01', due: false },
    ],
    deworming: { count: 3, hidden: null },
    faecal: null,
    followups: null,
  });
  assert.deepEqual(dueFromRegisters([], [], '2026-12-01').deworming, { count: 0, hidden: null });
});

test('sortDogs puts due dogs first, then by tag, and leaves its input alone', () => {
  const input = [{ tag: 'B', last: null, due: false }, { tag: 'C', last: null, due: true }, { tag: 'A', last: null, due: true }];
  assert.deepEqual(sortDogs(input).map((d) => d.tag), ['A', 'C', 'B']);
  assert.deepEqual(input.map((d) => d.tag), ['B', 'C', 'A']);
});

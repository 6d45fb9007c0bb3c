// Finding a village offline in the saved list, and the nearest village centre.
import test from 'node:test';
import assert from 'node:assert/strict';
import { searchVillages, nearestVillage, haversineMetres } from '../search.js';

const VILLAGES = [
  { code: '654022100200', name: '宁古齐牛录村', pinyin_initials: 'ngqnlc', pinyin: 'ningguqiniulucun', lon: 81.0, lat: 43.8 },
  { code: '654022100201', name: '纳达齐牛录村', pinyin_initials: 'ndqnlc', pinyin: 'nadaqiniulucun', lon: 81.02, lat: 43.8 },
  { code: '654022101200', name: '孙扎齐牛录村', pinyin_initials: 'szqnlc', pinyin: 'sunzhaqiniulucun', lon: 81.3, lat: 43.9 },
  { code: '654022102300', name: '海努克村', pinyin_initials: 'hnkc', pinyin: 'hainukecun', lon: null, lat: null },
];
const codes = (list) => list.map((v) => v.code);

test('by a part of the name, or the start of the code', () => {
  assert.deepEqual(codes(searchVillages(VILLAGES, '宁古')), ['654022100200']);
  assert.deepEqual(codes(searchVillages(VILLAGES, '牛录')), ['654022100200', '654022100201', '654022101200']);
  assert.deepEqual(codes(searchVillages(VILLAGES, '654022100')), ['654022100200', '654022100201']);
  assert.deepEqual(codes(searchVillages(VILLAGES, '100200')), [], 'the code matches from its start only');
});

test('by pinyin initials or syllables, any case, spaces and apostrophes ignored', () => {
  assert.deepEqual(codes(searchVillages(VILLAGES, 'ngqnl')), ['654022100200']);
  assert.deepEqual(codes(searchVillages(VILLAGES, 'NGQ')), ['654022100200']);
  assert.deepEqual(codes(searchVillages(VILLAGES, 'niulu')), ['654022100200', '654022100201', '654022101200']);
  assert.deepEqual(codes(searchVillages(VILLAGES, 'Hai Nuke')), ['654022102300']);
  assert.deepEqual(codes(searchVillages(VILLAGES, "ning'gu")), ['654022100200']);
  assert.deepEqual(codes(searchVillages(VILLAGES, 'zzzqx')), []);
  // A list without pinyin (an old saved copy) still answers by name and code.
  assert.deepEqual(codes(searchVillages([{ code: '1', name: '村' }], 'ngq')), []);
});

test('an empty text finds nothing; the limit applies', () => {
  assert.deepEqual(searchVillages(VILLAGES, '  '), []);
  assert.equal(searchVillages(VILLAGES, 'cun', 2).length, 2);
  assert.equal(searchVillages(VILLAGES, 'cun').length, 4);
});

test('the nearest village centre within 3 km, with its distance; none farther away', () => {
  const near = nearestVillage(VILLAGES, 81.0004, 43.7997);
  assert.equal(near.village.code, '654022100200');
  assert.ok(Math.abs(near.distance_m - haversineMetres(81.0004, 43.7997, 81.0, 43.8)) < 1e-9);
  assert.ok(near.distance_m > 40 && near.distance_m < 50, `${near.distance_m}`);
  assert.equal(nearestVillage(VILLAGES, 81.011, 43.8).village.code, '654022100201');
  assert.equal(nearestVillage(VILLAGES, 81.5, 44.5), null);
  assert.equal(nearestVillage(VILLAGES, 81.0, 43.83, 3000), null, '3.3 km away');
  assert.equal(nearestVillage(VILLAGES, 81.0, 43.83, 4000).village.code, '654022100200');
  // One degree of latitude is about 111.2 km.
  assert.ok(Math.abs(haversineMetres(81, 43, 81, 44) - 111195) < 10);
});

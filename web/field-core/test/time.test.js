// Dates and ages as the clients word them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { today, monthStart, when, dataAge, metres, clock } from '../time.js';

const at = (y, mo, d, h = 0, mi = 0) => new Date(y, mo - 1, d, h, mi);

test('today and the first day of a month are local calendar days', () => {
  assert.equal(today(at(2026, 3, 5, 23, 59)), '2026-03-05');
  assert.equal(monthStart(0, at(2026, 3, 31)), '2026-03-01');
  assert.equal(monthStart(1, at(2026, 3, 31)), '2026-02-01', 'not March 3rd from "February 31st"');
  assert.equal(monthStart(1, at(2026, 1, 15)), '2025-12-01');
  assert.equal(monthStart(14, at(2026, 1, 15)), '2024-11-01');
});

test('when says the moment and how long ago, in each language', () => {
  const saved = at(2026, 11, 25, 11, 48).getTime();
  const min = 60_000;
  assert.equal(when(saved, 'zh', saved + 20_000), '11-25 11:48，刚刚');
  assert.equal(when(saved, 'zh', saved + 5 * min), '11-25 11:48，5 分钟前');
  assert.equal(when(saved, 'zh', saved + 3 * 60 * min + 59 * min), '11-25 11:48，3 小时前');
  assert.equal(when(saved, 'zh', saved + 2 * 1440 * min), '11-25 11:48，2 天前');
  assert.equal(when(saved, 'en', saved + 3 * 60 * min), '11-25 11:48, 3 h ago');
  assert.equal(when(saved, 'en', saved + 59 * 1000), '11-25 11:48, just now');
});

test('the data age says whether the data is fresh or shown offline from the phone', () => {
  const saved = at(2026, 11, 25, 11, 48).getTime();
  const later = saved + 3 * 3_600_000;
  assert.equal(dataAge({ savedAt: saved, offline: false }, 'zh', saved + 1000), '数据已更新 11-25 11:48，刚刚');
  assert.equal(dataAge({ savedAt: saved, offline: true }, 'zh', later), '离线：显示本机保存的数据（数据保存于 11-25 11:48，3 小时前）');
  assert.equal(dataAge({ savedAt: saved, offline: true }, 'en', later), 'Offline: data saved on this phone (Data saved 11-25 11:48, 3 h ago)');
});

test('distances read in metres below a kilometre, then in km; clock is HH:MM', () => {
  assert.equal(metres(0), '0 m');
  assert.equal(metres(849.6), '850 m');
  assert.equal(metres(999.4), '999 m');
  assert.equal(metres(1000), '1.0 km');
  assert.equal(metres(1234), '1.2 km');
  assert.equal(clock(at(2026, 1, 2, 7, 5).getTime()), '07:05');
});

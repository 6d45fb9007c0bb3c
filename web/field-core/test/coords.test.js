// GCJ-02 on the phone, checked against the fixture the Rust transform is checked against too
// (geodata/src/gcj02.rs: the_shared_fixture_matches_this_transform_both_ways).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { wgs84ToGcj02, gcj02ToWgs84, outOfChina } from '../coords.js';
import { haversineMetres } from '../search.js';

const fixture = JSON.parse(readFileSync(new URL('../../../tests/fixtures/gcj02.json', import.meta.url), 'utf8'));

test('the forward transform gives the fixture\'s GCJ-02 points, the inverse its WGS84 points', () => {
  assert.ok(fixture.points.length >= 10);
  for (const p of fixture.points) {
    const [glon, glat] = wgs84ToGcj02(...p.wgs84);
    assert.ok(Math.abs(glon - p.gcj02[0]) <= fixture.tolerance_deg && Math.abs(glat - p.gcj02[1]) <= fixture.tolerance_deg, `${p.name}: ${glon}, ${glat}`);
    const [wlon, wlat] = gcj02ToWgs84(...p.gcj02);
    assert.ok(Math.abs(wlon - p.wgs84[0]) <= fixture.inverse_tolerance_deg && Math.abs(wlat - p.wgs84[1]) <= fixture.inverse_tolerance_deg, `${p.name}: ${wlon}, ${wlat}`);
  }
});

test('the round trip is below a millimetre over Xinjiang', () => {
  let worst = 0;
  for (let lon = 73.5; lon <= 96.4; lon += 0.5) {
    for (let lat = 34.3; lat <= 49.2; lat += 0.5) {
      const [g0, g1] = wgs84ToGcj02(lon, lat);
      const [w0, w1] = gcj02ToWgs84(g0, g1);
      worst = Math.max(worst, haversineMetres(lon, lat, w0, w1));
    }
  }
  assert.ok(worst < 0.001, `${worst} m`);
});

test('the offset at the Qapqal county seat is 200–300 m to the north-east; outside China nothing moves', () => {
  const [lon, lat] = wgs84ToGcj02(81.1513, 43.8407);
  const d = haversineMetres(81.1513, 43.8407, lon, lat);
  assert.ok(d > 200 && d < 300, `${d} m`);
  assert.ok(lon > 81.1513 && lat > 43.8407);
  assert.ok(outOfChina(139.6917, 35.6895));
  assert.ok(outOfChina(71.43, 51.13));
  assert.ok(!outOfChina(81.1513, 43.8407));
  assert.deepEqual(wgs84ToGcj02(-0.1276, 51.5072), [-0.1276, 51.5072]);
  assert.deepEqual(gcj02ToWgs84(139.6917, 35.6895), [139.6917, 35.6895]);
});

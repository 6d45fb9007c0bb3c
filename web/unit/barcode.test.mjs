// The client's barcode parser (web/src/stock/barcode.ts) on the fixture the server's parser is
// tested on (tests/fixtures/barcodes.json): both agree on every case.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

import { checkDigit, isBarcodeError, parseBarcode } from '../../target/web-unit/barcode.js'

const fixture = JSON.parse(readFileSync(new URL('../../tests/fixtures/barcodes.json', import.meta.url), 'utf8'))

const CODES = [
  'barcode_empty',
  'barcode_bad_character',
  'barcode_check_digit',
  'barcode_unknown_ai',
  'barcode_truncated',
  'barcode_bad_date',
  'barcode_unknown_format',
  'barcode_missing_gtin',
]

test('the fixture has at least 40 cases', () => {
  assert.ok(fixture.cases.length >= 40, `${fixture.cases.length} cases`)
})

for (const c of fixture.cases) {
  test(`fixture: ${c.name}`, () => {
    const got = parseBarcode(c.raw, { gsReplacement: c.options?.gs_replacement ?? null }, c.today)
    if (c.expect) {
      assert.deepEqual(got, c.expect)
    } else {
      assert.ok(isBarcodeError(got), `expected ${c.error}, got ${JSON.stringify(got)}`)
      assert.equal(got.error, c.error, got.message)
      assert.ok(CODES.includes(got.error))
      assert.ok(got.message.length > 0)
      if (c.params) assert.deepEqual(got.params, c.params)
    }
  })
}

test('the GS1 check digit of the General Specifications example', () => {
  assert.equal(checkDigit('0950600013435'), '2')
  assert.equal(checkDigit('400638133393'), '1')
})

test('an error message names the AI and the position', () => {
  const got = parseBarcode('010950600013435217991332', {}, '2026-12-07')
  assert.ok(isBarcodeError(got))
  assert.match(got.message, /AI 17/)
  assert.match(got.message, /position 18/)
})

test('without a date the parser reads two-digit years against today', () => {
  const yy = String(new Date().getFullYear() % 100).padStart(2, '0')
  const got = parseBarcode(`(01)09506000134352(17)${yy}0600`)
  assert.ok(!isBarcodeError(got))
  assert.equal(got.expiry, `${new Date().getFullYear()}-06-30`)
})

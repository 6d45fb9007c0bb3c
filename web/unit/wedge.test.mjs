// The keyboard-wedge burst classifier (web/src/stock/wedge.ts) on synthetic key timestamps, and
// attachWedge on a plain EventTarget with synthetic keydown events.
import { test } from 'node:test'
import assert from 'node:assert/strict'

import { attachWedge, classify, takesScanIn } from '../../target/web-unit/wedge.js'

/** The keys of `text` typed `gap` ms apart from t = 1000, then `end` after one more gap. */
function typed(text, gap, end = 'Enter') {
  const keys = Array.from(text).map((key, i) => ({ key, t: 1000 + i * gap }))
  keys.push({ key: end, t: 1000 + keys.length * gap })
  return keys
}

const CODE = '01095060001343521720123110ABC123'

test('a fast burst ending with Enter is a scan', () => {
  assert.deepEqual(classify(typed(CODE, 8)), { scan: CODE })
})

test('a fast burst ending with Tab is a scan', () => {
  assert.deepEqual(classify(typed(CODE, 8, 'Tab')), { scan: CODE })
})

test('a burst with gaps of exactly the limit is still a scan', () => {
  assert.deepEqual(classify(typed('4006381333931', 50)), { scan: '4006381333931' })
})

test('slow human typing is not a scan', () => {
  assert.equal(classify(typed('4006381333931', 180)), null)
})

test('a burst with one 200 ms gap is not a scan', () => {
  const keys = typed(CODE, 8)
  for (const k of keys.slice(10)) k.t += 200
  assert.equal(classify(keys), null)
})

test('a burst too short is not a scan', () => {
  assert.equal(classify(typed('123', 5)), null)
  assert.deepEqual(classify(typed('1234', 5)), { scan: '1234' })
  assert.equal(classify(typed('1234', 5), { minLength: 8 }), null)
})

test('a burst without Enter or Tab is not a scan', () => {
  assert.equal(classify(typed(CODE, 8).slice(0, -1)), null)
  assert.equal(classify([]), null)
})

test('Shift between the keys of capitals is ignored', () => {
  const keys = []
  let t = 0
  for (const key of Array.from('10ABC')) {
    if (/[A-Z]/.test(key)) keys.push({ key: 'Shift', t: (t += 3) })
    keys.push({ key, t: (t += 3) })
  }
  keys.push({ key: 'Enter', t: (t += 3) })
  assert.deepEqual(classify(keys), { scan: '10ABC' })
})

test('the GS character and its replacement are kept for the parser', () => {
  assert.deepEqual(classify(typed('010950600013435210AB\u001d17201231', 5)), {
    scan: '010950600013435210AB\u001d17201231',
  })
  assert.deepEqual(classify(typed('010950600013435210AB|17201231', 5)), { scan: '010950600013435210AB|17201231' })
})

test('named keys such as Backspace mean a person is typing', () => {
  const keys = typed('12345', 5)
  keys.splice(2, 0, { key: 'Backspace', t: keys[1].t + 1 })
  assert.equal(classify(keys), null)
})

test('a larger maxGapMs takes a slow scanner', () => {
  assert.equal(classify(typed('4006381333931', 80)), null)
  assert.deepEqual(classify(typed('4006381333931', 80), { maxGapMs: 100 }), { scan: '4006381333931' })
})

/** A keydown event with a chosen time stamp (EventTarget and Event are in Node). */
function keydown(key, timeStamp, extra = {}) {
  const e = new Event('keydown', { cancelable: true })
  Object.defineProperties(e, {
    key: { value: key },
    timeStamp: { value: timeStamp },
    ctrlKey: { value: extra.ctrlKey ?? false },
    altKey: { value: false },
    metaKey: { value: false },
    isComposing: { value: false },
  })
  return e
}

test('attachWedge hands a burst to the callback and prevents the Enter it ends with', () => {
  const target = new EventTarget()
  const scans = []
  const detach = attachWedge(target, (code) => scans.push(code))
  let t = 100
  for (const key of Array.from('0109506000134352')) target.dispatchEvent(keydown(key, (t += 6)))
  const enter = keydown('Enter', (t += 6))
  target.dispatchEvent(enter)
  assert.deepEqual(scans, ['0109506000134352'])
  assert.ok(enter.defaultPrevented)
  // Typed slowly: nothing, and the Enter keeps its default.
  for (const key of Array.from('12345')) target.dispatchEvent(keydown(key, (t += 300)))
  const slow = keydown('Enter', (t += 300))
  target.dispatchEvent(slow)
  assert.deepEqual(scans, ['0109506000134352'])
  assert.ok(!slow.defaultPrevented)
  // Ctrl+] is GS; after detaching, nothing more.
  for (const key of Array.from('010950600013435210A')) target.dispatchEvent(keydown(key, (t += 5)))
  target.dispatchEvent(keydown(']', (t += 5), { ctrlKey: true }))
  for (const key of Array.from('21S1')) target.dispatchEvent(keydown(key, (t += 5)))
  target.dispatchEvent(keydown('Enter', (t += 5)))
  assert.deepEqual(scans[1], '010950600013435210A\u001d21S1')
  detach()
  for (const key of Array.from('4006381333931')) target.dispatchEvent(keydown(key, (t += 5)))
  target.dispatchEvent(keydown('Enter', (t += 5)))
  assert.equal(scans.length, 2)
})

/** An element as takesScanIn reads it. */
function element(tagName, { type, accept = false, editable = false } = {}) {
  return {
    tagName,
    type,
    isContentEditable: editable,
    closest: (selector) => (accept && selector === '[data-wedge="accept"]' ? {} : null),
  }
}

test('a scan is taken outside text fields and in fields marked data-wedge="accept"', () => {
  assert.equal(takesScanIn(null), true)
  assert.equal(takesScanIn(element('BUTTON')), true)
  assert.equal(takesScanIn(element('INPUT', { type: 'checkbox' })), true)
  assert.equal(takesScanIn(element('INPUT', { type: 'text' })), false)
  assert.equal(takesScanIn(element('INPUT', { type: 'number' })), false)
  assert.equal(takesScanIn(element('TEXTAREA')), false)
  assert.equal(takesScanIn(element('DIV', { editable: true })), false)
  assert.equal(takesScanIn(element('INPUT', { type: 'text', accept: true })), true)
})

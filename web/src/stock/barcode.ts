// The client's barcode parser: the twin of the server's (domain/src/barcode.rs), rule for rule,
// so that a scan is understood (and a malformed one explained) before it is sent. Both parsers
// are tested on the same cases, tests/fixtures/barcodes.json (web/unit/barcode.test.mjs and the
// Rust unit test): change one, change the other and the fixture.
//
// Kinds: a GS1 element string (with or without a symbology identifier such as ]d2 ]C1 ]Q3 ]e0,
// AIs of fixed length read by length, the others ended by GS 0x1D or the configured
// replacement; also the printed form "(01)…(17)…"), a plain GTIN (EAN-13, UPC-A, EAN-8,
// GTIN-14), China's 20-digit drug traceability code and the 24-digit veterinary code (bare or in
// the URL of its QR code). Positions in errors count characters from 0 in the scanned text
// without the whitespace at its ends. No DOM, no Vue: pure functions.

export interface BarcodeOptions {
  /** The character a scanner that cannot send GS sends instead, e.g. "|" or "^". */
  gsReplacement?: string | null
}

export interface ScannedGs1 {
  kind: 'gs1'
  gtin: string
  expiry: string | null
  batch: string | null
  serial: string | null
  serial_key: string | null
  lookup: ['gtin', string]
}
export interface ScannedPlain {
  kind: 'plain'
  gtin: string
  serial_key: null
  lookup: ['gtin', string]
}
export interface ScannedCnDrug {
  kind: 'cn_drug'
  code: string
  product: string
  serial_key: string
  lookup: ['cn_drug', string]
}
export interface ScannedVetDrug {
  kind: 'vet_drug'
  code: string
  serial_key: string
  lookup: ['vet_drug', string]
}
export type Scanned = ScannedGs1 | ScannedPlain | ScannedCnDrug | ScannedVetDrug

export type BarcodeErrorCode =
  | 'barcode_empty'
  | 'barcode_bad_character'
  | 'barcode_check_digit'
  | 'barcode_unknown_ai'
  | 'barcode_truncated'
  | 'barcode_bad_date'
  | 'barcode_unknown_format'
  | 'barcode_missing_gtin'

export interface BarcodeError {
  error: BarcodeErrorCode
  /** English, says what and where (the page shows its own words for `error`). */
  message: string
  params: Record<string, unknown>
}

export function isBarcodeError(x: Scanned | BarcodeError): x is BarcodeError {
  return 'error' in x
}

class Refusal {
  constructor(
    readonly code: BarcodeErrorCode,
    readonly message: string,
    readonly params: Record<string, unknown>,
  ) {}
}

const GS = '\u001d'
const MAX_CHARS = 3000

/** A date as year, month, day (no time zone games). */
interface Ymd {
  y: number
  m: number
  d: number
}

function todayOf(today?: string | Date): Ymd {
  if (typeof today === 'string') {
    const [y, m, d] = today.split('-').map(Number)
    return { y, m, d }
  }
  const t = today ?? new Date()
  return { y: t.getFullYear(), m: t.getMonth() + 1, d: t.getDate() }
}

/**
 * Parses a scan. `today` (YYYY-MM-DD or a Date; default now) is the date two-digit years are
 * read against. Returns the shape of the fixture's `expect`, or `{error, message, params}`.
 */
export function parseBarcode(raw: string, opts: BarcodeOptions = {}, today?: string | Date): Scanned | BarcodeError {
  try {
    return parseOrThrow(raw, opts, todayOf(today))
  } catch (e) {
    if (e instanceof Refusal) return { error: e.code, message: e.message, params: e.params }
    throw e
  }
}

function isTrimmed(c: string): boolean {
  return ' \t\r\n\u000b\u000c\u00a0\u3000\ufeff'.includes(c)
}

function halfwidth(c: string): string {
  const p = c.codePointAt(0) ?? 0
  return p >= 0xff01 && p <= 0xff5e ? String.fromCodePoint(p - 0xfee0) : c
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c.length === 1 && c >= '0' && c <= '9'
}

function isAsciiAlpha(c: string): boolean {
  return /^[A-Za-z]$/.test(c)
}

function isAsciiAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c)
}

function empty(): Refusal {
  return new Refusal('barcode_empty', 'the scan is empty', {})
}

function unknownFormat(len: number, symbology: string | null): Refusal {
  return new Refusal(
    'barcode_unknown_format',
    `a code of ${len} characters is none of GS1, EAN/UPC, the 20-digit drug traceability code or the 24-digit veterinary drug code`,
    { length: len, symbology },
  )
}

function shown(c: string): string {
  const p = c.codePointAt(0) ?? 0
  return p < 0x20 || (p >= 0x7f && p < 0xa0) ? `U+${p.toString(16).toUpperCase().padStart(4, '0')}` : JSON.stringify(c)
}

function badCharacter(ai: string | null, position: number, c: string, what: string): Refusal {
  const message =
    ai !== null
      ? `AI ${ai} (${what}) has the character ${shown(c)} at position ${position}, which it cannot hold`
      : `${what} cannot hold the character ${shown(c)} at position ${position}`
  return new Refusal('barcode_bad_character', message, { ai, position, character: c })
}

function parseOrThrow(raw: string, opts: BarcodeOptions, today: Ymd): Scanned {
  const all = Array.from(raw).map(halfwidth)
  const start = all.findIndex((c) => !isTrimmed(c))
  if (start < 0) throw empty()
  let end = all.length
  while (end > start && isTrimmed(all[end - 1])) end--
  const text = all.slice(start, end)
  if (text.length > MAX_CHARS) {
    throw new Refusal(
      'barcode_unknown_format',
      `the scan holds ${text.length} characters, more than any pack's code (${MAX_CHARS})`,
      { length: text.length },
    )
  }
  const replacement = opts.gsReplacement ? Array.from(opts.gsReplacement)[0] : undefined
  const isGs = (c: string) => c === GS || (replacement !== undefined && c === replacement)

  // The envelope of ISO/IEC 15434 format 05 (GS1 data): [)> RS 05 GS … RS EOT.
  let from = 0
  let to = text.length
  let forcedGs1 = false
  if (text.slice(0, 6).join('') === '[)>\u001e05' && text.length > 6 && isGs(text[6])) {
    from = 7
    forcedGs1 = true
    while (to > from && (text[to - 1] === '\u001e' || text[to - 1] === '\u0004')) to--
  }
  // The symbology identifier (ISO/IEC 15424): "]", a letter, a modifier character.
  let symbology: string | null = null
  if (text.length >= from + 3 && text[from] === ']' && isAsciiAlpha(text[from + 1]) && isAsciiAlnum(text[from + 2])) {
    symbology = text[from + 1] + text[from + 2]
    if (['C1', 'c1', 'd2', 'D2', 'Q3', 'q3', 'e0', 'J1', 'j1'].includes(symbology)) forcedGs1 = true
    from += 3
  }
  // A leading FNC1 that the scanner sent as GS: GS1 data follows.
  while (from < to && isGs(text[from])) {
    from++
    forcedGs1 = true
  }
  const data = text.slice(from, to)
  if (data.length === 0) throw empty()
  const at: Cursor = { chars: data, base: from }
  if (data[0] === '(') return gs1Result(parseHumanReadable(at, today))
  if (forcedGs1) return gs1Result(parseElementString(at, isGs, today))
  const allDigits = data.every(isDigit)
  const startsLikeGs1 = data.length >= 16 && data[0] === '0' && ['0', '1', '2'].includes(data[1])
  if (allDigits) {
    const n = data.length
    if (n === 8 || n === 12 || n === 13 || n === 14) {
      const gtin = gtinAt(data, from)
      return { kind: 'plain', gtin, serial_key: null, lookup: ['gtin', gtin] }
    }
    if (n === 20 && data[0] === '8') {
      const code = data.join('')
      const product = code.slice(0, 7)
      return { kind: 'cn_drug', code, product, serial_key: `cn:${code}`, lookup: ['cn_drug', product] }
    }
    if (n === 24 && !looksLikeGs1Gtin(data)) return vet(data.join(''))
    if (startsLikeGs1) return gs1Result(parseElementString(at, isGs, today))
    throw unknownFormat(n, symbology)
  }
  if (startsLikeGs1 || (data.some(isGs) && isDigit(data[0]))) {
    return gs1Result(parseElementString(at, isGs, today))
  }
  // The veterinary code inside the text of its QR code (a URL): the one run of 24 digits.
  const runs = digitRuns(data).filter(([a, b]) => b - a === 24)
  if (runs.length === 1) return vet(data.slice(runs[0][0], runs[0][1]).join(''))
  // Almost a GTIN or a drug code, but for a character: say which.
  const digits = data.filter(isDigit).length
  const n = data.length
  const nearGtin = (n === 8 || n === 12 || n === 13 || n === 14) && digits * 2 > n
  const nearCn = n === 20 && data[0] === '8' && digits * 2 > n
  if ((nearGtin || nearCn) && isDigit(data[0])) {
    const bad = Math.max(0, data.findIndex((c) => !isDigit(c)))
    throw badCharacter(null, from + bad, data[bad], nearCn ? 'a drug traceability code' : 'a GTIN')
  }
  throw unknownFormat(n, symbology)
}

function vet(code: string): ScannedVetDrug {
  return { kind: 'vet_drug', code, serial_key: `vet:${code}`, lookup: ['vet_drug', code] }
}

function digitRuns(data: string[]): [number, number][] {
  const runs: [number, number][] = []
  let start = -1
  data.forEach((c, i) => {
    if (isDigit(c) && start < 0) start = i
    else if (!isDigit(c) && start >= 0) {
      runs.push([start, i])
      start = -1
    }
  })
  if (start >= 0) runs.push([start, data.length])
  return runs
}

/** The GS1 check digit (mod 10, weights 3 and 1 from the right) of `digits` without it. */
export function checkDigit(digits: string[] | string): string {
  const ds = Array.from(digits)
  let sum = 0
  for (let i = 0; i < ds.length; i++) {
    sum += Number(ds[ds.length - 1 - i]) * (i % 2 === 0 ? 3 : 1)
  }
  return String((10 - (sum % 10)) % 10)
}

function gtinAt(chars: string[], position: number): string {
  const bad = chars.findIndex((c) => !isDigit(c))
  if (bad >= 0) throw badCharacter(null, position + bad, chars[bad], 'a GTIN')
  const n = chars.length
  if (!(n === 8 || n === 12 || n === 13 || n === 14)) {
    throw new Refusal('barcode_unknown_format', `a GTIN has 8, 12, 13 or 14 digits, not ${n}`, { length: n })
  }
  verifyCheckDigit(null, chars, position)
  return chars.join('').padStart(14, '0')
}

function verifyCheckDigit(ai: string | null, chars: string[], position: number): void {
  if (chars.length === 0) return
  const last = chars[chars.length - 1]
  const expected = checkDigit(chars.slice(0, -1))
  if (last === expected) return
  const value = chars.join('')
  const what = ai !== null ? `AI ${ai} (${aiName(ai)})` : 'the GTIN'
  throw new Refusal(
    'barcode_check_digit',
    `${what} ${value} at position ${position} ends with check digit ${last}, but its digits give ${expected}`,
    { ai, position, value, expected, got: last },
  )
}

interface Cursor {
  chars: string[]
  base: number
}

type Check = 'none' | 'digit' | 'date' | 'date_no_zero_day' | 'datetime'

interface Spec {
  min: number
  max: number
  numeric: boolean
  check: Check
}

const n = (min: number, max: number, check: Check = 'none'): Spec => ({ min, max, numeric: true, check })
const an = (min: number, max: number): Spec => ({ min, max, numeric: false, check: 'none' })

/** The AIs this parser knows (the same table as the server's `ai_spec`). */
const AIS: Record<string, Spec> = (() => {
  const t: Record<string, Spec> = {}
  const put = (ais: string, spec: Spec) => ais.split(' ').forEach((ai) => (t[ai] = spec))
  put('00', n(18, 18, 'digit'))
  put('01 02 03', n(14, 14, 'digit'))
  put('10 21 22', an(1, 20))
  put('11 12 13 15 16 17', n(6, 6, 'date'))
  put('20', n(2, 2))
  put('235', an(1, 28))
  put('240 241 250 251 400 401 403', an(1, 30))
  put('242', n(1, 6))
  put('243 254 420', an(1, 20))
  put('253', an(14, 30))
  put('255', n(14, 25))
  put('30 37', n(1, 8))
  put('402', n(17, 17, 'digit'))
  put('410 411 412 413 414 415 416 417', n(13, 13, 'digit'))
  put('421', an(4, 12))
  put('422 424 426', n(3, 3))
  put('423 425', n(4, 15))
  put('427', an(1, 3))
  put('7001', n(13, 13))
  put('7002 7023', an(1, 30))
  put('7003', n(10, 10, 'datetime'))
  put('7004', n(1, 4))
  put('7005', an(1, 12))
  put('7006', n(6, 6, 'date_no_zero_day'))
  put('7007', n(6, 12))
  put('7008', an(1, 3))
  put('7009', an(1, 10))
  put('7010', an(1, 2))
  put('7011', n(6, 10))
  put('7020 7021 7022', an(1, 20))
  put('7040', an(4, 4))
  put('710 711 712 713 714 715 716', an(1, 20))
  put('8001', n(14, 14))
  put('8002 8012', an(1, 20))
  put('8003', an(15, 30))
  put('8004 8010', an(1, 30))
  put('8005', n(6, 6))
  put('8006 8026', n(18, 18))
  put('8007', an(1, 34))
  put('8008', n(9, 12))
  put('8009', an(1, 50))
  put('8011', n(1, 12))
  put('8013 8020', an(1, 25))
  put('8017 8018', n(18, 18, 'digit'))
  put('8019', n(1, 10))
  put('8110 8112 8200', an(1, 70))
  put('8111', n(4, 4))
  put('90', an(1, 30))
  put('91 92 93 94 95 96 97 98 99', an(1, 90))
  // The AIs with a decimal point digit (31nn–36nn, 39nn) and 703n.
  const measure: [string, Spec][] = [
    ['310 311 312 313 314 315 316', n(6, 6)],
    ['320 321 322 323 324 325 326 327 328 329', n(6, 6)],
    ['330 331 332 333 334 335 336 337', n(6, 6)],
    ['340 341 342 343 344 345 346 347 348 349', n(6, 6)],
    ['350 351 352 353 354 355 356 357', n(6, 6)],
    ['360 361 362 363 364 365 366 367 368 369', n(6, 6)],
    ['390 392', n(1, 15)],
    ['391 393', n(4, 18)],
    ['394', n(4, 4)],
    ['395', n(6, 6)],
    ['703', an(4, 30)],
  ]
  for (const [threes, spec] of measure) {
    for (const three of threes.split(' ')) {
      for (let d = 0; d <= 9; d++) t[three + d] = spec
    }
  }
  return t
})()

function aiSpec(ai: string): Spec | undefined {
  return Object.prototype.hasOwnProperty.call(AIS, ai) ? AIS[ai] : undefined
}

/** The length of an AI by its first two digits (GS1 General Specifications §3.2). */
function aiLength(firstTwo: string): number {
  if (['23', '24', '25', '40', '41', '42', '71'].includes(firstTwo)) return 3
  if (['31', '32', '33', '34', '35', '36', '39', '43', '70', '72', '80', '81', '82'].includes(firstTwo)) return 4
  return 2
}

function aiName(ai: string): string {
  const names: Record<string, string> = {
    '00': 'SSCC',
    '01': 'GTIN',
    '02': 'GTIN of contained items',
    '10': 'batch',
    '11': 'production date',
    '13': 'packaging date',
    '15': 'best before date',
    '16': 'sell by date',
    '17': 'expiry date',
    '21': 'serial number',
    '7003': 'expiry date and time',
    '7006': 'first freeze date',
  }
  return names[ai] ?? 'data'
}

/** What a GS1 element string held, in order, and the expiry date AI 17 gave. */
interface Elements {
  list: [string, string][]
  expiry: string | null
}

function push(elements: Elements, ai: string, value: string[]): void {
  const v = value.join('')
  const before = elements.list.find(([a]) => a === ai)
  if (before) {
    if (before[1] !== v) {
      throw new Refusal(
        'barcode_unknown_format',
        `AI ${ai} appears twice, with ${JSON.stringify(before[1])} and ${JSON.stringify(v)}`,
        { ai, value: v, first: before[1] },
      )
    }
    return
  }
  elements.list.push([ai, v])
}

function get(elements: Elements, ai: string): string | null {
  const e = elements.list.find(([a]) => a === ai)
  return e ? e[1] : null
}

function unknownAi(ai: string, position: number): Refusal {
  return new Refusal(
    'barcode_unknown_ai',
    `${JSON.stringify(ai)} at position ${position} is no application identifier this parser knows`,
    { ai, position },
  )
}

function truncatedAi(ai: string, position: number): Refusal {
  return new Refusal(
    'barcode_truncated',
    `the scan ends inside an application identifier (${JSON.stringify(ai)} at position ${position})`,
    { ai, position, value: '' },
  )
}

function truncated(ai: string, spec: Spec, value: string[], position: number): Refusal {
  const v = value.join('')
  const wanted = spec.min === spec.max ? `${spec.min} characters` : `at least ${spec.min} characters`
  return new Refusal(
    'barcode_truncated',
    `AI ${ai} (${aiName(ai)}) at position ${position} is cut short: ${JSON.stringify(v)} where ${wanted} are needed`,
    { ai, position, value: v, expected_length: spec.min },
  )
}

function tooLong(ai: string, spec: Spec, value: string[], position: number): Refusal {
  const v = value.join('')
  return new Refusal(
    'barcode_unknown_format',
    `AI ${ai} (${aiName(ai)}) at position ${position} holds ${value.length} characters, at most ${spec.max} allowed (a GS separator missing?)`,
    { ai, position, value: v, max_length: spec.max },
  )
}

function parseHumanReadable(at: Cursor, today: Ymd): Elements {
  const data = at.chars
  const elements: Elements = { list: [], expiry: null }
  let i = 0
  while (i < data.length) {
    if (data[i] === ' ') {
      i++
      continue
    }
    if (data[i] !== '(') {
      throw badCharacter(null, at.base + i, data[i], 'a printed element string (an AI in parentheses expected)')
    }
    const p = data.slice(i + 1).indexOf(')')
    if (p < 0) throw truncatedAi(data.slice(i + 1).join(''), at.base + i)
    const close = i + 1 + p
    const ai = data.slice(i + 1, close).join('')
    const spec = ai.length >= 2 && /^[0-9]+$/.test(ai) ? aiSpec(ai) : undefined
    if (!spec) throw unknownAi(ai, at.base + i + 1)
    let start = close + 1
    const q = data.slice(start).indexOf('(')
    let end = q < 0 ? data.length : start + q
    i = end
    while (start < end && data[start] === ' ') start++
    while (end > start && data[end - 1] === ' ') end--
    const value = data.slice(start, end)
    if (value.length < spec.min) throw truncated(ai, spec, value, at.base + start)
    if (value.length > spec.max) throw tooLong(ai, spec, value, at.base + start)
    const date = checkValue(ai, spec, value, at.base + start, today)
    if (ai === '17') elements.expiry = date
    push(elements, ai, value)
  }
  return elements
}

function parseElementString(at: Cursor, isGs: (c: string) => boolean, today: Ymd): Elements {
  const data = at.chars
  const elements: Elements = { list: [], expiry: null }
  let i = 0
  while (i < data.length) {
    if (isGs(data[i])) {
      i++
      continue
    }
    const head = data.slice(i, i + 2)
    if (!head.every(isDigit)) {
      const ai: string[] = []
      for (const c of data.slice(i, i + 4)) {
        if (isGs(c)) break
        ai.push(c)
      }
      throw unknownAi(ai.join(''), at.base + i)
    }
    const len = head.length < 2 ? 2 : aiLength(head.join(''))
    if (i + len > data.length || !data.slice(i, i + len).every(isDigit)) {
      const ai = data.slice(i, i + len).join('')
      if (i + len > data.length) throw truncatedAi(ai, at.base + i)
      throw unknownAi(ai, at.base + i)
    }
    const ai = data.slice(i, i + len).join('')
    const spec = aiSpec(ai)
    if (!spec) throw unknownAi(ai, at.base + i)
    const start = i + len
    let value: string[]
    if (spec.min === spec.max) {
      value = data.slice(start, start + spec.max)
      const g = value.findIndex(isGs)
      if (g >= 0) throw truncated(ai, spec, value.slice(0, g), at.base + start)
      if (value.length < spec.min) throw truncated(ai, spec, value, at.base + start)
    } else {
      const p = data.slice(start).findIndex(isGs)
      const end = p < 0 ? data.length : start + p
      value = data.slice(start, end)
      if (value.length < spec.min) throw truncated(ai, spec, value, at.base + start)
      if (value.length > spec.max) throw tooLong(ai, spec, value, at.base + start)
    }
    const date = checkValue(ai, spec, value, at.base + start, today)
    if (ai === '17') elements.expiry = date
    push(elements, ai, value)
    i = start + value.length
  }
  return elements
}

/** GS1's character set 82: what an alphanumeric AI may hold. */
function isCset82(c: string): boolean {
  return isAsciiAlnum(c) || '!"%&\'()*+,-./:;<=>?_'.includes(c)
}

/** Checks a value; returns the date (YYYY-MM-DD) of a date AI. */
function checkValue(ai: string, spec: Spec, value: string[], position: number, today: Ymd): string | null {
  const bad = value.findIndex((c) => (spec.numeric ? !isDigit(c) : !isCset82(c)))
  if (bad >= 0) throw badCharacter(ai, position + bad, value[bad], aiName(ai))
  switch (spec.check) {
    case 'none':
      return null
    case 'digit':
      verifyCheckDigit(ai, value, position)
      return null
    case 'date':
      return dateOf(ai, value, position, today, true)
    case 'date_no_zero_day':
      return dateOf(ai, value, position, today, false)
    case 'datetime': {
      dateOf(ai, value.slice(0, 6), position, today, false)
      if (two(value.slice(6, 8)) > 23 || two(value.slice(8, 10)) > 59) {
        throw badDate(ai, value, position, 'the time is no time of day')
      }
      return null
    }
  }
}

function two(d: string[]): number {
  return d.reduce((acc, c) => acc * 10 + Number(c), 0)
}

function badDate(ai: string, value: string[], position: number, why: string): Refusal {
  const v = value.join('')
  return new Refusal(
    'barcode_bad_date',
    `AI ${ai} (${aiName(ai)}) at position ${position}: ${JSON.stringify(v)} is not a date (${why})`,
    { ai, position, value: v },
  )
}

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
}

const pad = (x: number, w: number) => String(x).padStart(w, '0')

/**
 * A YYMMDD date as YYYY-MM-DD: the century by GS1's sliding window (49 years back, 50 ahead of
 * today), day 00 the month's last day where allowed.
 */
function dateOf(ai: string, value: string[], position: number, today: Ymd, zeroDay: boolean): string {
  const yy = two(value.slice(0, 2))
  const month = two(value.slice(2, 4))
  const day = two(value.slice(4, 6))
  const thisYY = ((today.y % 100) + 100) % 100
  const century = today.y - thisYY
  const diff = yy - thisYY
  const year = diff >= 51 ? century - 100 + yy : diff <= -50 ? century + 100 + yy : century + yy
  if (month < 1 || month > 12) throw badDate(ai, value, position, `month ${pad(month, 2)}`)
  const last = daysIn(year, month)
  if (day === 0) {
    if (!zeroDay) throw badDate(ai, value, position, 'day 00')
    return `${pad(year, 4)}-${pad(month, 2)}-${pad(last, 2)}`
  }
  if (day > last) throw badDate(ai, value, position, `${year}-${pad(month, 2)} has no day ${pad(day, 2)}`)
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`
}

/**
 * 24 digits that start with AI 01 and a GTIN whose check digit is right: a GS1 element string,
 * not a veterinary code (the two share their length).
 */
function looksLikeGs1Gtin(d: string[]): boolean {
  return d.length === 24 && d[0] === '0' && d[1] === '1' && checkDigit(d.slice(2, 15)) === d[15]
}

function gs1Result(elements: Elements): ScannedGs1 {
  const gtin = get(elements, '01')
  if (gtin === null) {
    const ais = elements.list.map(([a]) => a)
    throw new Refusal(
      'barcode_missing_gtin',
      `the GS1 code holds AIs ${ais.join(', ')} but no GTIN (AI 01): it names no trade item`,
      { ais },
    )
  }
  const serial = get(elements, '21')
  return {
    kind: 'gs1',
    gtin,
    expiry: elements.expiry,
    batch: get(elements, '10'),
    serial,
    serial_key: serial !== null ? `gs1:${gtin}:${serial}` : null,
    lookup: ['gtin', gtin],
  }
}

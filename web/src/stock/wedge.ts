// A PDA scanner in keyboard-wedge mode (盘点机 set to "keyboard output") types each code as a
// burst of keystrokes, a few milliseconds apart, and ends it with Enter or Tab. A person types
// far slower. `classify` tells the two apart from the keys and their times (pure, unit-tested
// with synthetic timestamps); `attachWedge` listens on a page and hands each scan to a callback,
// so that a stock page takes scans without a focused field.

export interface WedgeKey {
  /** KeyboardEvent.key: one character, or a name such as "Enter", "Tab", "Shift". */
  key: string
  /** Milliseconds (event.timeStamp or performance.now()). */
  t: number
}

export interface WedgeOptions {
  /** The longest gap between two keys of one scan (default 50 ms). */
  maxGapMs: number
  /** The fewest characters a scan has (default 4): shorter bursts are keyboard shortcuts or chance. */
  minLength: number
}

export const WEDGE_DEFAULTS: WedgeOptions = { maxGapMs: 50, minLength: 4 }

/** Keys that end a scan. */
const TERMINATORS = ['Enter', 'Tab']
/** Keys that a scanner's keystrokes carry and a scan ignores (Shift for capitals). */
const IGNORED = ['Shift', 'CapsLock']

/**
 * The scan that `events` (the keys since the last pause, the terminator last) make, or null: a
 * scan is at least `minLength` characters typed no more than `maxGapMs` apart, ending with Enter
 * or Tab. The GS character arrives as the key "\u001d" or as the replacement character the scanner
 * was configured with; either is kept, for the barcode parser.
 */
export function classify(events: WedgeKey[], opts: Partial<WedgeOptions> = {}): { scan: string } | null {
  const { maxGapMs, minLength } = { ...WEDGE_DEFAULTS, ...opts }
  if (events.length === 0) return null
  const last = events[events.length - 1]
  if (!TERMINATORS.includes(last.key)) return null
  const keys = events.filter((e) => !IGNORED.includes(e.key))
  for (let i = 1; i < keys.length; i++) {
    const gap = keys[i].t - keys[i - 1].t
    if (gap > maxGapMs || gap < 0) return null
  }
  const chars = keys.slice(0, -1)
  // A key with a name ("Backspace", "ArrowLeft") is a person at the keyboard, not a scanner.
  if (chars.some((e) => Array.from(e.key).length !== 1)) return null
  const scan = chars.map((e) => e.key).join('')
  if (Array.from(scan).length < minLength) return null
  return { scan }
}

/**
 * Whether a scan may be taken while `el` has the focus (null: nothing, or the page's body): not
 * while a person is typing into a text field, unless the field (or a container of it) says
 * `data-wedge="accept"`.
 */
export function takesScanIn(el: Element | null): boolean {
  if (!el) return true
  if (el.closest('[data-wedge="accept"]')) return true
  if ((el as HTMLElement).isContentEditable) return false
  const tag = el.tagName
  if (tag === 'TEXTAREA' || tag === 'SELECT') return false
  if (tag === 'INPUT') {
    const type = ((el as HTMLInputElement).type || 'text').toLowerCase()
    return ['button', 'checkbox', 'radio', 'submit', 'reset', 'image', 'range', 'color', 'file'].includes(type)
  }
  return true
}

/** Most keys a buffer holds: longer than any code a pack carries. */
const MAX_BUFFER = 4000

/**
 * Listens for wedge scans on `target` (window or document; keydown, capture phase) and calls
 * `onScan` with each code. Keys are only watched, never swallowed, except the Enter or Tab that
 * ends a scan taken: its default (submitting a form, moving the focus) is prevented. A scan is
 * taken when the focus is outside any editable field, or inside one marked
 * `data-wedge="accept"` (the field also receives the typed characters; the page may clear it).
 * Keys typed into a field by a person stay untouched. Ctrl+] (how some scanners send GS) counts
 * as "\u001d". Returns the function that detaches the listener.
 */
export function attachWedge(
  target: EventTarget,
  onScan: (code: string) => void,
  opts: Partial<WedgeOptions> = {},
): () => void {
  const options = { ...WEDGE_DEFAULTS, ...opts }
  let buffer: WedgeKey[] = []
  const listener = (ev: Event) => {
    const e = ev as KeyboardEvent
    if (e.isComposing) return
    const t = e.timeStamp || (typeof performance !== 'undefined' ? performance.now() : Date.now())
    let key = e.key
    if (IGNORED.includes(key)) return
    if (e.ctrlKey && key === ']') key = '\u001d'
    else if (e.ctrlKey || e.altKey || e.metaKey) {
      buffer = []
      return
    }
    const previous = buffer.length > 0 ? buffer[buffer.length - 1] : undefined
    if (previous && t - previous.t > options.maxGapMs) buffer = []
    if (!TERMINATORS.includes(key)) {
      buffer.push({ key, t })
      if (buffer.length > MAX_BUFFER) buffer = buffer.slice(-MAX_BUFFER)
      return
    }
    const result = classify([...buffer, { key, t }], options)
    buffer = []
    if (!result) return
    const doc = typeof document !== 'undefined' ? document : null
    const focused = doc ? doc.activeElement : null
    if (!takesScanIn(focused && focused !== doc?.body ? focused : null)) return
    e.preventDefault()
    e.stopPropagation()
    onScan(result.scan)
  }
  target.addEventListener('keydown', listener, { capture: true })
  return () => target.removeEventListener('keydown', listener, { capture: true })
}

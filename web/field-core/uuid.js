// @ts-check
// Client-generated ids for queued entries: the id is the entry's Idempotency-Key, so a resend
// never makes a second record. `crypto.randomUUID` needs a secure context (and is missing on
// older WebViews): then version-4 bits are set on 16 random bytes.

/**
 * @param {{ randomUUID?: () => string, getRandomValues: <T extends Uint8Array>(a: T) => T }} crypto
 * @returns {string}
 */
export function uuid(crypto) {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

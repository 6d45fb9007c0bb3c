// The offline outbox of a count (盘点): every scan or typed entry gets a client id when it is made,
// is kept in localStorage under the count's id, and is sent in batches to
// `POST /api/stock/counts/{id}/entries` when the network is there (at once, again on the
// `online` event, and with a growing delay after a failure). The server keeps the client ids it
// has seen, so sending an entry twice (a lost answer, a reload, a copy put back) counts it once.
// Answers per entry: counted / duplicate / already_scanned leave the queue; refused goes to a
// list of refusals, shown with its reason until the user removes it.
import { reactive } from 'vue';
import { ApiError } from '../api';
import { countEntries } from './api';

export type EntryMode = 'scan' | 'set';

export interface OutboxEntry {
  client_id: string;
  mode: EntryMode;
  code?: string;
  lot_id?: number;
  quantity?: number;
  /** Client only (not sent): the lot and quantity the page guessed, for the optimistic count. */
  guess_lot?: number | null;
  guess_quantity?: number;
  /** When it was made (ms since the epoch). */
  at: number;
}

export interface EntryError {
  code: string;
  message?: string;
  params?: Record<string, unknown>;
}

export interface EntryResult {
  client_id: string;
  status: 'counted' | 'duplicate' | 'already_scanned' | 'refused';
  line?: { lot_id: number; counted: number | null };
  error?: EntryError;
}

export interface Refusal {
  entry: OutboxEntry;
  error: EntryError;
}

export type SyncState = 'idle' | 'sending' | 'offline' | 'error';

/** The entries sent in one request at most. */
export const BATCH = 100;
const MAX_DELAY_MS = 30_000;

/** A random v4 UUID; `crypto.randomUUID` only exists on secure origins (a PDA on plain http of
 *  the county's LAN is not one), `getRandomValues` everywhere. */
export function clientId(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') {
    try {
      return c.randomUUID();
    } catch {
      /* not a secure context */
    }
  }
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The localStorage keys of a count's queue and refusals. */
export const storageKey = (countId: number | string) => `echinomap.count.${countId}.outbox`;
export const refusedKey = (countId: number | string) => `echinomap.count.${countId}.refused`;

function load<T>(key: string): T[] {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? '[]');
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

export type Sender = (countId: number, entries: Omit<OutboxEntry, 'guess_lot' | 'guess_quantity' | 'at'>[]) => Promise<{ results: EntryResult[] }>;

export const postEntries: Sender = (countId, entries) => countEntries(countId, entries) as Promise<{ results: EntryResult[] }>;

export class Outbox {
  /** Reactive: the page shows the queue, the refusals and the state as they change. */
  readonly s = reactive({
    queue: [] as OutboxEntry[],
    refused: [] as Refusal[],
    state: 'idle' as SyncState,
    /** When the last send failed: its error code (network, http_502…). */
    lastError: '' as string,
    /** Answers of the server that added nothing (already_scanned), for the page's feedback. */
    lastSynced: 0,
  });
  private timer: number | undefined;
  private delay = 1000;
  private sending = false;
  private stopped = false;
  private readonly onlineHandler = () => {
    this.delay = 1000;
    this.flush();
  };
  private readonly offlineHandler = () => {
    if (!this.sending) this.s.state = 'offline';
  };

  constructor(
    readonly countId: number,
    /** Called with each answer that leaves the queue (counted, duplicate, already_scanned, refused). */
    private readonly onResult: (r: EntryResult, e: OutboxEntry) => void = () => {},
    private readonly send: Sender = postEntries,
  ) {
    this.s.queue = load<OutboxEntry>(storageKey(countId));
    this.s.refused = load<Refusal>(refusedKey(countId));
    window.addEventListener('online', this.onlineHandler);
    window.addEventListener('offline', this.offlineHandler);
    if (!navigator.onLine) this.s.state = 'offline';
    if (this.s.queue.length) this.schedule(0);
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    window.removeEventListener('online', this.onlineHandler);
    window.removeEventListener('offline', this.offlineHandler);
  }

  private save() {
    try {
      localStorage.setItem(storageKey(this.countId), JSON.stringify(this.s.queue));
      localStorage.setItem(refusedKey(this.countId), JSON.stringify(this.s.refused));
    } catch {
      /* storage full or denied: the queue still lives in memory */
    }
  }

  /** Queues one entry (stored at once) and sends soon. */
  add(entry: Omit<OutboxEntry, 'client_id' | 'at'> & { client_id?: string }): OutboxEntry {
    const e: OutboxEntry = { ...entry, client_id: entry.client_id ?? clientId(), at: Date.now() };
    this.s.queue.push(e);
    this.save();
    // A burst of scans goes in one request: wait a moment before sending.
    if (!this.sending) this.schedule(150);
    return e;
  }

  /** Forgets a refusal once the user has read it. */
  dismiss(clientIdValue: string) {
    this.s.refused = this.s.refused.filter((r) => r.entry.client_id !== clientIdValue);
    this.save();
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.flush(), ms);
  }

  /** Sends what is queued, batch after batch, until the queue is empty or a send fails. */
  async flush(): Promise<void> {
    if (this.sending || this.stopped) return;
    window.clearTimeout(this.timer);
    if (!this.s.queue.length) {
      this.s.state = navigator.onLine ? 'idle' : 'offline';
      return;
    }
    if (!navigator.onLine) {
      // The `online` event sends; a slow retry too, in case the event never comes.
      this.s.state = 'offline';
      this.schedule(MAX_DELAY_MS);
      return;
    }
    this.sending = true;
    this.s.state = 'sending';
    try {
      while (this.s.queue.length && !this.stopped) {
        const batch = this.s.queue.slice(0, BATCH);
        const body = batch.map(({ client_id, mode, code, lot_id, quantity }) => {
          const x: Omit<OutboxEntry, 'guess_lot' | 'guess_quantity' | 'at'> = { client_id, mode };
          if (code !== undefined) x.code = code;
          if (lot_id !== undefined) x.lot_id = lot_id;
          if (quantity !== undefined) x.quantity = quantity;
          return x;
        });
        const { results } = await this.send(this.countId, body);
        const byId = new Map(results.map((r) => [r.client_id, r]));
        const done = new Set<string>();
        for (const e of batch) {
          const r = byId.get(e.client_id);
          if (!r) continue; // not answered: stays queued, sent again
          done.add(e.client_id);
          if (r.status === 'refused') this.s.refused.push({ entry: e, error: r.error ?? { code: 'bad_request' } });
        }
        this.s.queue = this.s.queue.filter((e) => !done.has(e.client_id));
        this.save();
        for (const e of batch) {
          const r = byId.get(e.client_id);
          if (r) this.onResult(r, e);
        }
        this.s.lastSynced = Date.now();
        if (!done.size) throw new ApiError(0, 'no_answer', 'the server answered none of the entries');
      }
      this.delay = 1000;
      this.s.lastError = '';
      this.s.state = 'idle';
    } catch (err) {
      const e = err as ApiError;
      // A refusal of the whole request that resending cannot mend (the count is finalised, the
      // session ended): kept queued and shown; a network error or a 5xx: retried with backoff.
      this.s.lastError = e?.code ?? 'network';
      this.s.state = navigator.onLine ? 'error' : 'offline';
      const permanent = e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429;
      this.schedule(permanent ? MAX_DELAY_MS : this.delay);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    } finally {
      this.sending = false;
    }
    // Entries added while the last batch was on its way.
    if (this.s.queue.length && this.s.state === 'idle') this.schedule(0);
  }
}

// @ts-check
// The outbox: entries made in the field wait on the phone until they are sent, each with the id
// it got when it was made as its `Idempotency-Key`. The server keeps the key with the record, so
// a resend (the answer was lost, or the user sends again) returns the first record and creates
// nothing. Storage and HTTP come from the client (localStorage + fetch on /field,
// wx.setStorageSync + wx.request in the mini-program).
//
// Invariants: a pending entry is never dropped (only sent ones beyond `keepSent`); a write that
// the storage refuses (full) leaves the stored queue as it was and says so with
// StorageFullError; one sync runs at a time, and it reads the queue once: WeChat's storage and
// JSON.parse of a few hundred entries are not free on a cheap phone, so a run keeps the queue in
// memory (entries queued meanwhile join it) and writes only when an entry changes state.

/**
 * @typedef {{ get(key: string): string | null, set(key: string, value: string): void }} Storage
 * @typedef {{ method: 'POST', path: string, headers: Record<string, string>, body: object }} SendRequest
 * @typedef {{ status: number, data: any }} SendResult  status 0: no network
 * @typedef {{ register: string, label: string, village?: string | null, body: object }} NewEntry
 * @typedef {{
 *   id: string, user: string, created: number, state: 'pending' | 'synced' | 'failed',
 *   register: string, label: string, village?: string | null, body: object,
 *   record_id?: number | string | null, synced_at?: number, error?: string | null,
 *   error_field?: string | null, error_code?: string | null, error_params?: Record<string, any> | null,
 *   error_row?: RowError | null
 * }} Entry
 * @typedef {{ code?: string, field?: string | null, params?: Record<string, any> }} RowError
 *   a 422 invalid_record's first row error (reasons.js words it in the reader's language)
 * @typedef {null | 'offline' | 'relogin' | 'password' | 'csrf' | 'server'} Stop
 *   password: the account must change its password on the dashboard first (403
 *   password_change_required); like relogin, the entries stay pending
 * @typedef {{ sent: number, failed: number, stopped: Stop }} SyncResult
 */

/** The phone's storage refused a write: nothing was changed. */
export class StorageFullError extends Error {
  /** @param {unknown} [cause] */
  constructor(cause) {
    super('storage full: the queue was not changed');
    this.name = 'StorageFullError';
    this.code = 'storage_full';
    this.cause = cause;
  }
}

/** An entry's refusal, cleared when it is sent again or sent. */
const NO_ERROR = { error: null, error_field: null, error_code: null, error_params: null, error_row: null };

export class Outbox {
  /**
   * @param {{
   *   storage: Storage, send: (req: SendRequest) => Promise<SendResult>, uuid: () => string,
   *   now?: () => number, key?: string, keepSent?: number
   * }} options
   */
  constructor({ storage, send, uuid, now = () => Date.now(), key = 'echinomap.field.queue', keepSent = 30 }) {
    this.storage = storage;
    this.send = send;
    this.uuid = uuid;
    this.now = now;
    this.key = key;
    this.keepSent = keepSent;
    /** @type {Promise<SyncResult> | null} */
    this.running = null;
    /** The queue as a running sync holds it (read once, then kept in step with each write). @type {Entry[] | null} */
    this.held = null;
  }

  /** Every entry on the phone, oldest first. @returns {Entry[]} */
  all() {
    if (this.held) return [...this.held];
    const raw = this.storage.get(this.key);
    if (!raw) return [];
    const q = JSON.parse(raw);
    return Array.isArray(q) ? q : [];
  }

  /** @param {Entry[]} q */
  save(q) {
    try {
      this.storage.set(this.key, JSON.stringify(q));
    } catch (e) {
      throw e instanceof StorageFullError ? e : new StorageFullError(e);
    }
    if (this.held) this.held = q;
  }

  /** The entries one account made (each account sends only its own). @param {string} user */
  forUser(user) {
    return this.all().filter((e) => e.user === user);
  }

  /** @param {string} user */
  pendingCount(user) {
    return this.forUser(user).filter((e) => e.state === 'pending').length;
  }

  /**
   * Keeps new entries, each with a fresh id. Sent entries beyond `keepSent` go (oldest first);
   * pending and refused ones stay.
   * @param {string} user
   * @param {NewEntry[]} entries
   * @returns {Entry[]} the entries as stored
   */
  enqueue(user, entries) {
    const q = this.all();
    /** @type {Entry[]} */
    const added = entries.map((e) => ({
      id: this.uuid(), user, created: this.now(), state: 'pending',
      register: e.register, label: e.label, village: e.village ?? null, body: e.body,
    }));
    const all = q.concat(added);
    const sent = all.filter((e) => e.state === 'synced');
    const drop = new Set(sent.slice(0, Math.max(0, sent.length - this.keepSent)));
    this.save(all.filter((e) => !drop.has(e)));
    return added;
  }

  /**
   * @param {string} id
   * @param {Partial<Entry>} change
   */
  update(id, change) {
    this.save(this.all().map((e) => (e.id === id ? { ...e, ...change } : e)));
  }

  /** Back to pending (a refused entry after a fix on the server, or a sent one to check). @param {string} id */
  resend(id) {
    this.update(id, { state: 'pending', ...NO_ERROR });
  }

  /**
   * Sends the account's pending entries one by one, oldest first. A second call while one runs
   * returns the running one.
   * @param {string} user
   * @returns {Promise<SyncResult>}
   */
  sync(user) {
    if (!this.running) this.running = this.run(user).finally(() => { this.running = null; this.held = null; });
    return this.running;
  }

  /** @param {string} user @returns {Promise<SyncResult>} */
  async run(user) {
    this.held = this.all();
    let sent = 0;
    let failed = 0;
    // The held queue: entries queued while this sync runs (enqueue writes through it) are sent too.
    const tried = new Set();
    for (;;) {
      const e = this.all().find((x) => x.user === user && x.state === 'pending' && !tried.has(x.id));
      if (!e) break;
      tried.add(e.id);
      /** @type {SendResult} */
      let r;
      try {
        r = await this.send({
          method: 'POST',
          path: '/api/' + e.register,
          headers: { 'content-type': 'application/json', 'idempotency-key': e.id },
          body: e.body,
        });
      } catch {
        r = { status: 0, data: null };
      }
      const status = r.status;
      const err = r.data?.error;
      if (status === 200 || status === 201) {
        this.update(e.id, { state: 'synced', record_id: r.data?.id ?? null, synced_at: this.now(), ...NO_ERROR });
        sent++;
      } else if (status === 0) {
        return { sent, failed, stopped: 'offline' };
      } else if (status === 401) {
        return { sent, failed, stopped: 'relogin' };
      } else if (status === 403 && err?.code === 'password_change_required') {
        return { sent, failed, stopped: 'password' };
      } else if (status === 403 && err?.code === 'csrf') {
        return { sent, failed, stopped: 'csrf' };
      } else if (status >= 500 || status === 429) {
        return { sent, failed, stopped: 'server' };
      } else {
        // Refused for what it says (a tag unknown, a village outside the jurisdiction …): the
        // entry stays listed with the server's reason; resending it will not change the answer.
        // The code and its parameters are kept too, so that the client words the reason in the
        // language shown (reasons.js), now and after a switch of language.
        const details = err?.details && typeof err.details === 'object' ? err.details : {};
        const { errors, ...params } = details;
        const row = Array.isArray(errors) ? errors[0] : null;
        this.update(e.id, {
          state: 'failed',
          error: err?.message || `HTTP ${status}`,
          error_field: details.field ?? err?.field ?? null,
          error_code: err?.code ?? null,
          error_params: params,
          error_row: row ? { code: row.code, field: row.field ?? null, params: row.params ?? {} } : null,
        });
        failed++;
      }
    }
    return { sent, failed, stopped: null };
  }
}

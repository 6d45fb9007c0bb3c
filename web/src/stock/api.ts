// Typed calls to /api/stock/* (the shapes of the shared design, issue 20). The 物资 pages and the
// scan screen (pages/StockCount.vue) both go through here; errors are the app's ApiError (api.ts),
// worded by reasons.ts.
import { api, qs } from '../api';

export type ItemKind = string;
export type StoreKind = 'county_cdc' | 'vet_station' | 'township_centre' | 'village_clinic';
export type MovementKind = 'receipt' | 'transfer_out' | 'transfer_in' | 'use' | 'adjustment';
export type AdjustmentReason = 'count_correction' | 'expired' | 'damaged' | 'lost' | 'returned';
export type ExpiryStatus = 'expired' | 'soon' | 'ok' | 'unknown';
export type BarcodeKind = 'gtin' | 'cn_drug' | 'vet_drug';
export type TransferState = 'in_transit' | 'received';
export type CountState = 'open' | 'finalised' | 'cancelled';

export interface Barcode {
  id: number;
  kind: BarcodeKind;
  code: string;
  pack_quantity: number;
  lot_id: number | null;
}
export interface Item {
  id: number;
  code: string;
  name: string;
  kind: ItemKind;
  unit: string;
  pack_size: number | null;
  units_per_dose: number | null;
  active: boolean;
  barcodes: Barcode[];
}
export interface Store {
  id: number;
  code: string;
  name: string;
  kind: StoreKind;
  place_code: string;
  place_name: string | null;
  active: boolean;
  in_scope: boolean;
}
export interface StoreBrief {
  id: number;
  code: string;
  name: string;
}
export interface ItemBrief {
  id: number;
  code: string;
  name: string;
  unit: string;
}
export interface LotBrief {
  id: number;
  batch: string;
  expires_on: string | null;
}
export interface Lot extends LotBrief {
  item_id: number;
  expiry_status: ExpiryStatus;
}
export interface OnHandRow {
  store: StoreBrief;
  item: ItemBrief;
  lot: LotBrief;
  quantity: number;
  expiry_status: ExpiryStatus;
  days_to_expiry: number | null;
}
export interface Movement {
  id: number;
  moved_on: string;
  kind: MovementKind;
  store: StoreBrief;
  item: ItemBrief;
  lot: LotBrief;
  quantity: number;
  transfer_id: number | null;
  village: { code: string; name: string } | null;
  reason: AdjustmentReason | null;
  supplier: string | null;
  reference: string | null;
  note: string | null;
  created_by: string;
  created_at: string;
}
export interface FefoLot {
  lot: LotBrief;
  available: number;
  take: number;
  expiry_status: ExpiryStatus;
}
export interface Fefo {
  lots: FefoLot[];
  short: number;
}
export interface TransferLine {
  item: ItemBrief;
  lot: LotBrief;
  sent: number;
  received: number | null;
}
export interface Transfer {
  id: number;
  from_store: StoreBrief;
  to_store: StoreBrief;
  issued_on: string;
  reference: string | null;
  note: string | null;
  state: TransferState;
  received_on: string | null;
  receipt_note: string | null;
  lines: TransferLine[];
}
export interface Count {
  id: number;
  store: StoreBrief;
  blind: boolean;
  note: string | null;
  opened_by: string;
  opened_at: string;
  state: CountState;
  finalised_at: string | null;
}
export interface CountLine {
  lot: LotBrief;
  item: ItemBrief;
  book_quantity?: number;
  counted: number | null;
  difference?: number;
  reason: string | null;
  recount: boolean;
}
export interface CountEntry {
  client_id: string;
  code?: string;
  lot_id?: number;
  mode: 'scan' | 'set';
  quantity?: number;
}
export interface CountEntryResult {
  client_id: string;
  status: 'counted' | 'duplicate' | 'already_scanned' | 'refused';
  line?: { lot_id: number; counted: number };
  error?: { code: string; message: string; params?: Record<string, unknown> };
}
export interface ScanResult {
  parsed: { kind: string; gtin?: string; expiry?: string; batch?: string; serial?: string; serial_key?: string };
  known: boolean;
  item?: Item;
  lot?: { id: number; batch: string; expires_on: string | null; expiry_status: ExpiryStatus };
  pack_quantity: number;
}
export type ReconBy = 'village' | 'township' | 'store';
export type ReconFlag = 'issued_above_recorded' | 'recorded_above_issued' | 'dosing_without_stock';
export interface ReconRow {
  unit?: { code: string; name: string; level: string };
  store?: StoreBrief & Partial<Pick<Store, 'kind' | 'place_code'>>;
  month: string;
  issued_units: number;
  issued_doses: number;
  recorded_doses: number;
  recorded_units: number;
  dogs: number;
  expected_doses: number;
  stock_left_units: number;
  flags: ReconFlag[];
}
export interface Reconciliation {
  rows: ReconRow[];
  totals: Record<string, number>;
  settings: { tolerance_pct: number; min_units: number };
}

type Q = Record<string, string | number | boolean | undefined | null>;
const list = <T>(path: string, q: Q = {}) => api<{ items: T[] }>(`/api/stock/${path}${qs(q)}`);
const post = <T>(path: string, body: unknown) => api<T>(`/api/stock/${path}`, { method: 'POST', body });
const patch = <T>(path: string, body: unknown) => api<T>(`/api/stock/${path}`, { method: 'PATCH', body });

// Catalogue and stores.
export const items = () => list<Item>('items');
export const createItem = (b: { code: string; name: string; kind: string; unit: string; pack_size?: number | null; units_per_dose?: number | null }) =>
  post<{ item: Item }>('items', b);
export const updateItem = (id: number, b: Partial<Pick<Item, 'name' | 'unit' | 'pack_size' | 'units_per_dose' | 'active'>>) =>
  patch<{ item: Item }>(`items/${id}`, b);
export const createBarcode = (b: { code: string; item_id: number; pack_quantity?: number; lot_id?: number | null }) =>
  post<{ barcode: Barcode }>('barcodes', b);
export const deleteBarcode = (id: number) => api<unknown>(`/api/stock/barcodes/${id}`, { method: 'DELETE' });
export const scan = (code: string, store_id?: number) => post<ScanResult>('scan', { code, store_id });
export const stores = () => list<Store>('stores');
export const createStore = (b: { code: string; name: string; kind: StoreKind; place_code: string }) =>
  post<{ store: Store }>('stores', b);
export const updateStore = (id: number, b: { name?: string; active?: boolean }) => patch<{ store: Store }>(`stores/${id}`, b);
export const lots = (item: number) => list<Lot>('lots', { item });

// The ledger.
export const onHand = (q: { store?: number | ''; item?: number | ''; status?: 'expired' | 'soon' | '' } = {}) =>
  api<{ items: OnHandRow[]; today: string }>(`/api/stock/on-hand${qs(q)}`);
export const movements = (q: { store?: number | ''; item?: number | ''; kind?: string; from?: string; to?: string; limit?: number; before?: number | null } = {}) =>
  api<{ items: Movement[]; next_before: number | null }>(`/api/stock/movements${qs(q)}`);
export const fefo = (q: { store: number; item: number; quantity: number; on?: string }) => api<Fefo>(`/api/stock/fefo${qs(q)}`);
export interface ReceiptLine {
  item_id: number;
  batch: string;
  expires_on: string | null;
  quantity: number;
  codes?: string[];
}
export const receive = (b: { store_id: number; received_on: string; supplier: string; reference?: string; note?: string; lines: ReceiptLine[] }) =>
  post<{ movements: number[]; lots: Lot[] }>('receipts', b);
export interface IssueLine {
  item_id: number;
  lot_id?: number;
  quantity: number;
}
export const transfer = (b: { from_store_id: number; to_store_id: number; issued_on: string; reference?: string; note?: string; lines: IssueLine[] }) =>
  post<{ transfer: Transfer }>('transfers', b);
export const transfers = (q: { store?: number | ''; state?: TransferState | '' } = {}) => list<Transfer>('transfers', q);
export const receiveTransfer = (id: number, b: { received_on: string; note?: string; lines?: { lot_id: number; quantity: number }[] }) =>
  post<{ transfer: Transfer }>(`transfers/${id}/receive`, b);
export const use = (b: { store_id: number; used_on: string; village_code: string; recipient?: string; note?: string; lines: IssueLine[] }) =>
  post<{ movements: number[] }>('uses', b);
export const adjust = (b: { store_id: number; adjusted_on: string; reason: AdjustmentReason; note?: string; lines: { lot_id: number; quantity: number }[] }) =>
  post<{ movements: number[] }>('adjustments', b);

// Counts.
export const openCount = (b: { store_id: number; blind?: boolean; note?: string }) => post<{ count: Count }>('counts', b);
export const counts = (q: { store?: number | ''; state?: CountState | '' } = {}) => list<Count>('counts', q);
export const count = (id: number) => api<{ count: Count; lines: CountLine[] }>(`/api/stock/counts/${id}`);
export const countEntries = (id: number, entries: CountEntry[]) =>
  post<{ results: CountEntryResult[] }>(`counts/${id}/entries`, { entries });
export const countLineReason = (id: number, lotId: number, reason: string) => post<unknown>(`counts/${id}/lines/${lotId}`, { reason });
export const finaliseCount = (id: number) => post<{ count: Count; adjustments: unknown[] }>(`counts/${id}/finalise`, {});
export const cancelCount = (id: number) => post<{ count: Count }>(`counts/${id}/cancel`, {});

// Reconciliation.
export interface ReconQuery {
  unit: string;
  period: string;
  by: ReconBy;
}
export const reconciliation = (q: ReconQuery) => api<Reconciliation>(`/api/stock/reconciliation${qs({ ...q })}`);
export const reconciliationXlsxUrl = (q: ReconQuery) => `/api/stock/reconciliation.xlsx${qs({ ...q })}`;

/** Today in the browser's calendar, "YYYY-MM-DD". */
export function today(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** The CSS class of an expiry status (the colours of the 物资 pages). */
export const expiryClass = (s: ExpiryStatus | string | null | undefined) => `expiry-${s ?? 'unknown'}`;

/** Stores the caller may act at (writes), active ones only. */
export const writableStores = (all: Store[]) => all.filter((s) => s.in_scope && s.active);

/** A store in a list: its name and code. */
export const storeText = (s: { name: string; code: string }) => `${s.name}（${s.code}）`;

/** A line of an issue form (transfer out, hand-out) being edited; `lot_id: ''` = FEFO by the server. */
export interface IssueLineDraft {
  item_id: number | '';
  quantity: number | '';
  lot_id: number | '';
  fefo: Fefo | null;
}
export const newIssueLine = (): IssueLineDraft => ({ item_id: '', quantity: '', lot_id: '', fefo: null });

/** The lines to send: complete ones only; a lot picked by hand is sent, else the server applies FEFO. */
export function issueLines(drafts: IssueLineDraft[]): IssueLine[] {
  return drafts
    .filter((d) => d.item_id !== '' && d.quantity !== '')
    .map((d) => ({ item_id: Number(d.item_id), quantity: Number(d.quantity), ...(d.lot_id !== '' ? { lot_id: Number(d.lot_id) } : {}) }));
}

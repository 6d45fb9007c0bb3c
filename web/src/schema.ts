// The registers as the server declares them (`GET /api/registers`, generated from
// `records::spec`): every form and list of the desk is drawn from this, so a field added to the
// declaration appears in the API, the import and the form at once. Read once per signed-in user
// and kept; the caller's villages (`/api/villages`, already scoped) likewise.
import { api, auth } from './api';
import { lang } from './i18n';

export type FieldType = 'text' | 'int' | 'dec' | 'date' | 'bool' | 'enum' | 'id_number' | 'phone';

export interface FieldOption {
  value: string;
  zh: string;
  en: string;
}

export interface FieldSchema {
  name: string;
  type: FieldType;
  required: boolean;
  min: number | null;
  max: number | null;
  options: FieldOption[] | null;
  label_zh: string;
  label_en: string;
  /** The key under which lists and records return the field (dog_kind → kind); null: key only. */
  column: string | null;
  /** A field of the person the case line carries (grouped under 患者信息). */
  person: boolean;
  /** Picked from another register's list; `key` is the picked record's value that is sent. */
  picker: { register: string; key: string } | null;
}

export interface ListColumn {
  key: string;
  label_zh: string;
  label_en: string;
}

export interface RegisterSchema {
  name: string;
  name_zh: string;
  name_en: string;
  may_write: boolean;
  may_delete: boolean;
  soft_delete: boolean;
  /** Lists and records read from the register's own read side (`/api/cases`). */
  own_read_side: boolean;
  personal: boolean;
  village: 'linked' | 'via_case' | 'none';
  village_required: boolean;
  point: 'none' | 'optional' | 'required';
  date_column: string | null;
  status_column: string | null;
  search: string[];
  fields: FieldSchema[];
  list_columns: ListColumn[];
  /** The list keys `sort=` accepts. */
  sort_keys?: string[];
  /** Append-only registers (the stock ledger, when it lands): create and reverse, no edit. */
  append_only?: boolean;
}

export interface Village {
  code: string;
  name: string;
  township_code: string;
  township_name: string;
  lon: number;
  lat: number;
  pinyin_initials?: string;
  remote?: boolean;
}

/** A value kept per signed-in user: a new login reads it again. */
function perUser<T>(load: () => Promise<T>): () => Promise<T> {
  let kept: { user: string; value: Promise<T> } | null = null;
  return () => {
    const user = auth.me?.username ?? '';
    if (!kept || kept.user !== user) {
      const value = load();
      kept = { user, value };
      // A failed read is tried again next time.
      value.catch(() => {
        if (kept?.value === value) kept = null;
      });
    }
    return kept.value;
  };
}

/** The registers the signed-in user may read, as the server declares them. */
export const registers = perUser(async () => (await api<{ items: RegisterSchema[] }>('/api/registers')).items);

/** One register's declaration, or undefined when the user may not read it. */
export async function registerSchema(name: string): Promise<RegisterSchema | undefined> {
  return (await registers()).find((r) => r.name === name);
}

/** The villages inside the signed-in user's jurisdiction. */
export const villages = perUser(async () => (await api<{ items: Village[] }>('/api/villages')).items);

/** A label in the page's language. */
export function label(x: { label_zh: string; label_en: string } | { name_zh: string; name_en: string }): string {
  if ('label_zh' in x) return lang.value === 'zh' ? x.label_zh : x.label_en;
  return lang.value === 'zh' ? x.name_zh : x.name_en;
}

/** The value a record keeps for `field` (under its API name, or its column's). */
export function fieldValue(record: Record<string, unknown>, field: FieldSchema): unknown {
  if (record[field.name] !== undefined) return record[field.name];
  return field.column ? record[field.column] : undefined;
}

/** The field a list column shows, if it is one. */
export function fieldOf(schema: RegisterSchema, key: string): FieldSchema | undefined {
  return schema.fields.find((f) => f.name === key) ?? schema.fields.find((f) => f.column === key);
}

/** A value as people read it: enumerations by their label, booleans 是/否, nothing as —. */
export function showValue(field: FieldSchema | undefined, v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? (lang.value === 'zh' ? '是' : 'yes') : lang.value === 'zh' ? '否' : 'no';
  const o = field?.options?.find((x) => x.value === String(v));
  if (o) return lang.value === 'zh' ? o.zh : o.en;
  return String(v);
}

/** A list cell: `person.name` reads nested values; own read sides nest the person. */
export function cellValue(item: Record<string, unknown>, key: string): unknown {
  if (key.includes('.')) {
    return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), item);
  }
  if (item[key] !== undefined) return item[key];
  const person = item.person as Record<string, unknown> | undefined;
  if (person && typeof person === 'object') {
    if (key === 'person_name' || key === 'name') return person.name;
    if (person[key] !== undefined) return person[key];
  }
  return undefined;
}

/** A date as YYYY-MM-DD in local time (the date inputs' format). */
export function isoDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

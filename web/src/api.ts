// One way to call the server: same origin, JSON, the server's one error shape, a CSRF token on
// writes, and a loading counter the page shows after 300 ms.
import { reactive, ref } from 'vue';

export interface Me {
  username: string;
  display_name?: string | null;
  role: string;
  jurisdiction: string;
  jurisdiction_name?: string | null;
  permissions: string[];
  csrf_token?: string;
  /** Set by an administrator's reset: the account chooses a new password before anything else. */
  must_change_password?: boolean;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: unknown = null,
  ) {
    super(message);
  }
  /** The field a 400/422 names, if any. */
  get field(): string | undefined {
    const d = this.details as { field?: string } | null;
    return d && typeof d === 'object' && typeof d.field === 'string' ? d.field : undefined;
  }
}

export const auth = reactive<{ me: Me | null; csrf: string; checked: boolean }>({
  me: null,
  csrf: '',
  checked: false,
});

/** Requests in flight; the spinner shows when it stays above 0 for 300 ms. */
export const pending = ref(0);
// For the browser tests and bench/desk.mjs: a page is shown when nothing is in flight.
(window as unknown as { __echinomapPending: () => number }).__echinomapPending = () => pending.value;
/** Called when the session ends under our feet (401 on a call that needs a login). */
export const onLoggedOut = { handler: () => {} };

export async function api<T = unknown>(
  path: string,
  init: { method?: string; body?: unknown; raw?: BodyInit; signal?: AbortSignal } = {},
): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (init.raw !== undefined) body = init.raw;
  else if (init.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  if (method !== 'GET' && auth.csrf) headers['X-CSRF-Token'] = auth.csrf;
  pending.value++;
  try {
    let r: Response;
    try {
      r = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: init.signal });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError(0, 'network', (e as Error).message);
    }
    const text = await r.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!r.ok) {
      const err = (json as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
      const e = new ApiError(r.status, err?.code ?? `http_${r.status}`, err?.message ?? r.statusText, err?.details ?? null);
      // A reset password: the shell asks for a new one before anything else.
      if (e.code === 'password_change_required' && auth.me) auth.me.must_change_password = true;
      if (r.status === 401 && path !== '/api/auth/login' && auth.me) {
        auth.me = null;
        onLoggedOut.handler();
      }
      throw e;
    }
    return json as T;
  } finally {
    pending.value--;
  }
}

/** The routes this server has, from the page's meta tag (the server's route table). */
const routes: Set<string> = (() => {
  const meta = document.querySelector('meta[name="echinomap-routes"]') as HTMLMetaElement | null;
  return new Set((meta?.content ?? '').split(',').map((s) => s.trim()).filter(Boolean));
})();

/** Whether the server has `METHOD path` (axum syntax: `/api/villages/{code}/risk`). */
export function has(method: string, path: string): boolean {
  return routes.has(`${method} ${path}`);
}

/** Whether the server has a GET route under `prefix` (`/api/export/`). */
export function hasUnder(prefix: string): boolean {
  return [...routes].some((r) => r.startsWith(`GET ${prefix}`));
}

/** The paths of the registers CRUD API (`/api/{register}`), when it has landed. */
export function hasRegister(name: string): boolean {
  return has('GET', `/api/${name}`) || has('GET', '/api/{register}');
}

export function can(perm: string): boolean {
  return !!auth.me?.permissions.includes(perm);
}

export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

// The API token of this browser tab: kept in sessionStorage (gone with the tab), sent as a Bearer header, never
// put in a URL. DOM-free so it can be unit-tested under node (where sessionStorage may be absent).

const KEY = 'meta_db.token';

export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function storage(): TokenStorage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null; // storage disabled by the browser: the token lives only as long as the page
  }
}

let memory = '';

export function getToken(store: TokenStorage | null = storage()): string {
  return store ? store.getItem(KEY) ?? '' : memory;
}

export function setToken(token: string, store: TokenStorage | null = storage()): void {
  const t = token.trim();
  if (store) store.setItem(KEY, t);
  else memory = t;
}

export function clearToken(store: TokenStorage | null = storage()): void {
  if (store) store.removeItem(KEY);
  memory = '';
}

/** The Authorization header for a token ({} without one). */
export function authHeaders(token: string): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export interface Identity {
  role: 'local' | 'admin' | 'researcher' | 'anonymous';
  researcher_id: string | null;
  token_id: string | null;
}

/** One line for the sidebar: "researcher r123", "admin", "local user". */
export function describeIdentity(who: Identity): string {
  if (who.role === 'researcher') return `researcher ${who.researcher_id ?? ''}`.trim();
  if (who.role === 'local') return 'local user';
  if (who.role === 'anonymous') return 'anonymous (read-only)';
  return who.role;
}

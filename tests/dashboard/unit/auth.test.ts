import { describe, it, expect } from 'vitest';
import { Api, ApiError, onUnauthorized } from '../../../dashboard/src/api';
import { authHeaders, clearToken, describeIdentity, getToken, setToken, type TokenStorage } from '../../../dashboard/src/auth';

function memoryStorage(): TokenStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe('token storage', () => {
  it('keeps one trimmed token and forgets it on sign-out', () => {
    const store = memoryStorage();
    expect(getToken(store)).toBe('');
    setToken('  mdb_abc  ', store);
    expect(getToken(store)).toBe('mdb_abc');
    expect([...store.data.values()]).toEqual(['mdb_abc']);
    clearToken(store);
    expect(getToken(store)).toBe('');
    expect(store.data.size).toBe(0);
  });
  it('builds the bearer header only with a token', () => {
    expect(authHeaders('')).toEqual({});
    expect(authHeaders('t0k')).toEqual({ Authorization: 'Bearer t0k' });
  });
  it('describes identities', () => {
    expect(describeIdentity({ role: 'researcher', researcher_id: 'r1', token_id: 'x' })).toBe('researcher r1');
    expect(describeIdentity({ role: 'local', researcher_id: null, token_id: null })).toBe('local user');
  });
});

describe('Api with a token', () => {
  it('sends Authorization on every call, never in the URL', async () => {
    const seen: { url: string; init?: RequestInit }[] = [];
    const api = new Api(async (url, init) => {
      seen.push({ url, init });
      return new Response('{"results":[],"total":0}', { status: 200 });
    }, '', () => 'mdb_secret');
    await api.get('/studies');
    await api.post('/query', { collection: 'series', filter: {} });
    for (const call of seen) {
      expect((call.init?.headers as Record<string, string>).Authorization).toBe('Bearer mdb_secret');
      expect(call.url).not.toContain('mdb_secret');
    }
  });
  it('reports a 401 to the sign-in handler and throws', async () => {
    const api = new Api(async () => new Response('{"error":{"code":"unauthorized","message":"needs a token"}}', { status: 401 }), '', () => '');
    const caught: ApiError[] = [];
    onUnauthorized((e) => caught.push(e));
    await expect(api.get('/studies')).rejects.toMatchObject({ status: 401 });
    onUnauthorized(null);
    expect(caught.length).toBe(1);
    expect(caught[0]!.code).toBe('unauthorized');
  });
});

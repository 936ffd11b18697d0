// The meta_db REST client: a thin fetch wrapper typed by src/api-types.ts, which is GENERATED from the server's
// own /openapi.json (`npm run gen:api`; CI fails when it drifts). DOM-free, so it is unit-tested under node.
import { authHeaders, getToken } from './auth';
import type { components, paths } from './api-types';

export type Schemas = components['schemas'];
export type Doc = Record<string, unknown>;

type Json200<Op> = Op extends { responses: { 200: { content: { 'application/json': infer T } } } } ? T : never;
/** The JSON body GET <path> answers with 200, as the server declares it. */
export type GetResponse<P extends keyof paths> = paths[P] extends { get: infer Op } ? Json200<Op> : never;
/** The query parameters GET <path> declares. */
export type GetQuery<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? Q : never;

/** Every list answer: {"results": [...], "total": N, "limit", "skip"}. */
export type ListResult<T = Doc> = Omit<Schemas['List'], 'results'> & { results: T[] };
export type Stats = Schemas['Stats'];
/** GET /fields with its fields as FieldInfo. */
export interface FieldsResult {
  collection: string;
  fields: FieldInfo[];
  /** documents in the collection */
  total: number;
  /** documents the statistics were computed from (a sample when < total) */
  sampled: number;
}
export type QueryBody = Schemas['QueryRequest'];
export type Dictionary = Schemas['Dictionary'];

/** One bar of a distribution (GET /stats) or one top value (GET /fields), for charts and chips. */
export interface Bucket {
  value: string;
  count: number;
  /** The value as the server sent it (number, string, ...), when it is not a string. */
  raw?: unknown;
}

/** A field of GET /fields, its top values as buckets. */
export interface FieldInfo {
  key: string;
  promoted: boolean;
  count: number;
  types: string[];
  top: Bucket[];
}

// POST /cohort and POST /nl/translate (CONTRACTS.md, issue #10 points 1 and 3): written from the contract until
// those routes are in the generated document.
export type CohortLevel = 'studies' | 'series' | 'instances';
export interface CohortBody {
  studies?: Doc;
  series?: Doc;
  instances?: Doc;
  return?: CohortLevel;
  sort?: unknown;
  skip?: number;
  limit?: number;
  projection?: unknown;
}
export interface CohortCounts {
  patients: number;
  studies: number;
  series: number;
  instances: number;
}
export interface CohortResult {
  results: Doc[];
  total: number;
  counts: CohortCounts;
}
export interface TranslateResult {
  endpoint: '/query' | '/cohort';
  request: Doc;
  fields: string[];
  not_understood: string[];
  count: number;
  count_of: 'patients' | 'studies' | 'series' | 'instances' | 'annotations';
}

export class ApiError extends Error {
  status: number;
  code: string;
  details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** One line for display: "400 bad_filter: unsupported operator $where". */
  get display(): string {
    const head = this.status ? `${this.status}${this.code ? ' ' + this.code : ''}` : this.code || 'error';
    return `${head}: ${this.message}`;
  }
}

/** Build an ApiError from a non-2xx response body ({"error":{code,message,details}} or anything else). */
export function errorFromBody(status: number, statusText: string, body: unknown): ApiError {
  if (body && typeof body === 'object') {
    const b = body as Doc;
    const e = (b.error ?? b) as unknown;
    if (e && typeof e === 'object') {
      const o = e as Doc;
      const message = o.message ?? o.detail ?? o.msg;
      if (message !== undefined || o.code !== undefined) {
        return new ApiError(
          status,
          String(o.code ?? statusText ?? ''),
          typeof message === 'string' ? message : JSON.stringify(message ?? statusText),
          o.details,
        );
      }
    }
    if (typeof e === 'string') return new ApiError(status, statusText, e);
  }
  if (typeof body === 'string' && body.trim()) return new ApiError(status, statusText, body.trim().slice(0, 500));
  return new ApiError(status, statusText, statusText || `HTTP ${status}`);
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

let unauthorizedHandler: ((error: ApiError) => void) | null = null;
/** Called on every 401 (the token is missing, wrong or revoked): the dashboard shows its sign-in. */
export function onUnauthorized(handler: ((error: ApiError) => void) | null): void {
  unauthorizedHandler = handler;
}

export class Api {
  constructor(
    private fetchImpl: FetchLike = (i, init) => fetch(i, init),
    private base = '',
    private token: () => string = () => getToken(),
  ) {}

  async request<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + path, {
        method,
        headers: {
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          Accept: 'application/json',
          ...authHeaders(this.token()),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal,
      });
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', `Cannot reach the server: ${(e as Error)?.message ?? e}`);
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) {
      const error = errorFromBody(res.status, res.statusText, parsed);
      if (res.status === 401) unauthorizedHandler?.(error);
      throw error;
    }
    if (typeof parsed === 'string') throw new ApiError(res.status, 'bad_response', 'Server answered with non-JSON content');
    return parsed as T;
  }

  get<T = unknown>(path: string, signal?: AbortSignal) {
    return this.request<T>('GET', path, undefined, signal);
  }
  post<T = unknown>(path: string, body: unknown, signal?: AbortSignal) {
    return this.request<T>('POST', path, body, signal);
  }

  /** GET of a path the generated document declares, typed by it. */
  getTyped<P extends keyof paths>(path: P, query?: GetQuery<P>, signal?: AbortSignal): Promise<GetResponse<P>> {
    return this.get<GetResponse<P>>(path + queryString(query as Record<string, string | number | undefined> | undefined), signal);
  }

  /** Any list endpoint (also the child lists with a path parameter: /studies/{id}/series). */
  list(path: string, params?: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<ListResult> {
    return this.get<ListResult>(path + queryString(params), signal);
  }
  stats(signal?: AbortSignal): Promise<Stats> {
    return this.getTyped('/stats', undefined, signal);
  }
  async fields(collection: string, signal?: AbortSignal): Promise<FieldsResult> {
    const res = await this.getTyped('/fields', { collection }, signal);
    return { ...res, fields: res.fields.map(fieldInfo) };
  }
  query(body: QueryBody, signal?: AbortSignal): Promise<ListResult> {
    return this.post<ListResult>('/query', body, signal);
  }
  /** Tag number, VR and name of metadata keys (GET /dictionary); unknown keys are absent. */
  dictionary(keys: string[], signal?: AbortSignal): Promise<Dictionary> {
    return this.getTyped('/dictionary', { keywords: keys.join(',') }, signal);
  }
  cohort(body: CohortBody, signal?: AbortSignal): Promise<CohortResult> {
    return this.post<CohortResult>('/cohort', body, signal);
  }
  translate(question: string, signal?: AbortSignal): Promise<TranslateResult> {
    return this.post<TranslateResult>('/nl/translate', { question }, signal);
  }
}

/** A chip/bar label for any JSON value. */
export function valueLabel(v: unknown): string {
  if (v === null || v === undefined || v === '') return '(none)';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function fieldInfo(f: Schemas['Fields']['fields'][number]): FieldInfo {
  return {
    key: f.path,
    promoted: f.promoted,
    count: f.count,
    types: f.types,
    top: f.values.map((v) => ({ value: valueLabel(v.value), count: v.count, raw: v.value })),
  };
}

export function queryString(params?: Record<string, string | number | undefined | null>): string {
  if (!params) return '';
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    sp.set(k, String(v));
  }
  const s = sp.toString();
  return s ? '?' + s : '';
}

/** Safe dotted-path read: get(doc, "metadata.Manufacturer"). */
export function getPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    cur = (cur as Doc)[part];
  }
  return cur;
}

export function docId(doc: Doc): string {
  const id = doc._id ?? doc.id;
  if (id && typeof id === 'object' && '$oid' in (id as Doc)) return String((id as Doc).$oid);
  return id === undefined || id === null ? '' : String(id);
}

/** Query-parameter names an OpenAPI 3 document declares for GET <path>; null when it does not say. */
export function paramsFromOpenApi(doc: unknown, path: string): Set<string> | null {
  const op = getPath(doc, 'paths') as Doc | undefined;
  const get = op?.[path] && typeof op[path] === 'object' ? ((op[path] as Doc).get as Doc | undefined) : undefined;
  if (!get || !Array.isArray(get.parameters)) return null;
  const names = new Set<string>();
  for (const p of get.parameters as Doc[]) {
    let param: unknown = p;
    const ref = p && typeof p.$ref === 'string' ? p.$ref : null;
    if (ref && ref.startsWith('#/')) param = getPath(doc, ref.slice(2).split('/').join('.'));
    const name = getPath(param, 'name');
    const where = getPath(param, 'in');
    if (typeof name === 'string' && (where === undefined || where === 'query')) names.add(name);
  }
  return names.size ? names : null;
}

let openApiDoc: Promise<unknown> | null = null;
/** The list parameters the running server supports (from /openapi.json, fetched once), or null. */
export async function supportedParams(path: string, client: Api = api): Promise<Set<string> | null> {
  openApiDoc ??= client.get('/openapi.json').catch(() => null);
  return paramsFromOpenApi(await openApiDoc, path);
}

export const api = new Api();

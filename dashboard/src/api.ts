// API client and tolerant adapters for the meta_db REST API (same origin, root paths).
// Everything here is DOM-free so it can be unit-tested under node.
import { authHeaders, getToken } from './auth';

export type Doc = Record<string, unknown>;

export interface ListResult<T = Doc> {
  results: T[];
  total: number;
  limit: number;
  skip: number;
}

export interface Bucket {
  value: string;
  count: number;
  /** The value as the server sent it (number, string, ...), when known. */
  raw?: unknown;
}

export interface Stats {
  counts: Record<string, number>;
  distributions: Record<string, Bucket[]>;
}

export interface FieldInfo {
  key: string;
  count: number;
  types: string[];
  top: Bucket[];
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

  async list(path: string, params?: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<ListResult> {
    return normalizeList(await this.get(path + queryString(params), signal));
  }
  async stats(signal?: AbortSignal): Promise<Stats> {
    return normalizeStats(await this.get('/stats', signal));
  }
  async fields(collection: string, signal?: AbortSignal): Promise<FieldsResult> {
    const raw = await this.get('/fields' + queryString({ collection }), signal);
    return { fields: normalizeFields(raw), ...fieldsTotals(raw) };
  }
  async query(body: QueryBody, signal?: AbortSignal): Promise<ListResult> {
    return normalizeList(await this.post('/query', body, signal));
  }
}

export interface QueryBody {
  collection: string;
  filter: unknown;
  sort?: unknown;
  skip?: number;
  limit?: number;
  projection?: unknown;
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

function num(v: unknown, fallback: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : fallback;
}

/** Accepts {"results":[...],"total":N,...}, {"items"|"data"|"docs":[...]}, or a bare array. */
export function normalizeList(json: unknown): ListResult {
  if (Array.isArray(json)) return { results: json as Doc[], total: json.length, limit: json.length, skip: 0 };
  const o = (json ?? {}) as Doc;
  const arr = (['results', 'items', 'data', 'docs', 'documents'].map((k) => o[k]).find(Array.isArray) ?? []) as Doc[];
  const total = num(o.total ?? o.count ?? o.total_count ?? o.totalCount, arr.length);
  return { results: arr, total, limit: num(o.limit, arr.length), skip: num(o.skip ?? o.offset, 0) };
}

/** One distribution in any of the shapes a server might choose → sorted [{value,count}]. */
export function normalizeBuckets(d: unknown): Bucket[] {
  let out: Bucket[] = [];
  if (Array.isArray(d)) {
    for (const item of d) {
      if (Array.isArray(item) && item.length >= 2) {
        out.push({ value: bucketLabel(item[0]), count: num(item[1], 0), raw: item[0] });
      } else if (item && typeof item === 'object') {
        const o = item as Doc;
        const vk = ['value', '_id', 'key', 'name', 'label', 'bucket', 'range'].find((k) => k in o);
        const value = vk !== undefined ? o[vk] : labelFromRange(o);
        const count = o.count ?? o.n ?? o.total ?? o.doc_count ?? o.frequency;
        out.push({ value: bucketLabel(value), count: num(count, 0), raw: value });
      }
    }
  } else if (d && typeof d === 'object') {
    const o = d as Doc;
    const inner = o.buckets ?? o.values ?? o.counts ?? o.items ?? o.top;
    if (Array.isArray(inner) || (inner && typeof inner === 'object')) return normalizeBuckets(inner);
    out = Object.entries(o).map(([value, count]) => ({ value, count: num(count, 0), raw: value }));
  }
  return out;
}

function labelFromRange(o: Doc): unknown {
  const lo = o.min ?? o.from ?? o.lower ?? o.gte;
  const hi = o.max ?? o.to ?? o.upper ?? o.lt;
  if (lo === undefined && hi === undefined) return undefined;
  if (hi === undefined || hi === null) return `≥ ${lo}`;
  if (lo === undefined || lo === null) return `< ${hi}`;
  return `${lo}–${hi}`;
}

function bucketLabel(v: unknown): string {
  if (v === null || v === undefined || v === '') return '(none)';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const DIST_ALIASES: Record<string, string> = {
  modalities: 'modality',
  manufacturers: 'manufacturer',
  models: 'model',
  manufacturer_model_name: 'model',
  manufacturer_model: 'model',
  body_part_examined: 'body_part',
  body_parts: 'body_part',
  convolution_kernel: 'kernel',
  kernels: 'kernel',
  slice_thickness_buckets: 'slice_thickness',
  slice_thickness_bucket: 'slice_thickness',
  study_years: 'study_year',
  year: 'study_year',
  instances_per_series: 'instances_per_series',
  num_instances: 'instances_per_series',
};

/** Canonical distribution name for a server key (case/underscore tolerant). */
export function canonicalDistKey(k: string): string {
  const s = k
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
  return DIST_ALIASES[s] ?? s;
}

const COUNT_KEYS = ['studies', 'series', 'instances', 'collections', 'researchers', 'jobs', 'errors'];

/** /stats → {counts, distributions}, tolerant of several plausible server shapes. */
export function normalizeStats(json: unknown): Stats {
  const o = (json ?? {}) as Doc;
  const counts: Record<string, number> = {};
  const rawCounts = (o.counts ?? o.collections_count ?? o.totals ?? o.documents) as unknown;
  const addCount = (k: string, v: unknown) => {
    const key = k.toLowerCase().replace(/_count$|^num_|^n_/g, '');
    if (typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)))) counts[key] = Number(v);
    else if (v && typeof v === 'object' && 'count' in (v as Doc)) counts[key] = num((v as Doc).count, 0);
  };
  if (rawCounts && typeof rawCounts === 'object' && !Array.isArray(rawCounts)) {
    for (const [k, v] of Object.entries(rawCounts as Doc)) addCount(k, v);
  }
  // counts may also sit at the top level: {"studies": 12, "series": 40, ...}
  for (const k of Object.keys(o)) {
    const key = k.toLowerCase().replace(/_count$|^num_|^n_/g, '');
    if (COUNT_KEYS.includes(key) && !(key in counts)) addCount(k, o[k]);
  }
  const distributions: Record<string, Bucket[]> = {};
  const rawD = (o.distributions ?? o.distribution ?? o.histograms ?? o.charts) as unknown;
  if (rawD && typeof rawD === 'object') {
    if (Array.isArray(rawD)) {
      for (const d of rawD as Doc[]) {
        const name = String(d.name ?? d.field ?? d.key ?? '');
        if (name) distributions[canonicalDistKey(name)] = normalizeBuckets(d.buckets ?? d.values ?? d.counts ?? d.items);
      }
    } else {
      for (const [k, v] of Object.entries(rawD as Doc)) distributions[canonicalDistKey(k)] = normalizeBuckets(v);
    }
  }
  return { counts, distributions };
}

function typesOf(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.split(/[,|]/).map((s) => s.trim()).filter(Boolean);
  if (v && typeof v === 'object') return Object.keys(v as Doc);
  return [];
}

function oneField(key: string, o: Doc): FieldInfo {
  return {
    key,
    count: num(o.count ?? o.present ?? o.presence ?? o.documents ?? o.n, 0),
    types: typesOf(o.types ?? o.type),
    top: normalizeBuckets(o.top ?? o.top_values ?? o.values ?? o.most_frequent ?? []),
  };
}

/** /fields → [{key,count,types,top}] with metadata keys as "metadata.<Keyword>". */
export function normalizeFields(json: unknown): FieldInfo[] {
  const out: FieldInfo[] = [];
  const visit = (v: unknown, prefix: string) => {
    if (Array.isArray(v)) {
      for (const item of v as Doc[]) {
        if (!item || typeof item !== 'object') continue;
        let key = String(item.key ?? item.field ?? item.name ?? item.path ?? '');
        if (!key) continue;
        if (prefix && !key.startsWith(prefix)) key = prefix + key;
        out.push(oneField(key, item));
      }
    } else if (v && typeof v === 'object') {
      for (const [k, val] of Object.entries(v as Doc)) {
        if (val && typeof val === 'object' && !Array.isArray(val) && ('count' in val || 'types' in val || 'type' in val || 'top' in val)) {
          out.push(oneField(prefix && !k.startsWith(prefix) ? prefix + k : k, val as Doc));
        }
      }
    }
  };
  if (Array.isArray(json)) visit(json, '');
  else if (json && typeof json === 'object') {
    const o = json as Doc;
    const main = o.fields ?? o.results ?? o.keys;
    if (main !== undefined) visit(main, '');
    if (o.promoted !== undefined) visit(o.promoted, '');
    if (o.metadata !== undefined) visit(o.metadata, 'metadata.');
    if (main === undefined && o.promoted === undefined && o.metadata === undefined) visit(o, '');
  }
  const seen = new Set<string>();
  return out.filter((f) => (seen.has(f.key) ? false : (seen.add(f.key), true)));
}

export interface FieldsResult {
  fields: FieldInfo[];
  /** documents in the collection, when the server says */
  total?: number;
  /** documents the statistics were computed from (a sample when < total) */
  sampled?: number;
}

export function fieldsTotals(json: unknown): { total?: number; sampled?: number } {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return {};
  const o = json as Doc;
  const t = num(o.total, NaN);
  const s = num(o.sampled ?? o.sample_size ?? o.scanned, NaN);
  return { ...(Number.isFinite(t) ? { total: t } : {}), ...(Number.isFinite(s) ? { sampled: s } : {}) };
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

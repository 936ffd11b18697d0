// Flattening documents into rows, CSV encoding, and paging a whole result set for export.
import type { Doc, ListResult } from './api';

export type Flat = Record<string, string | number | boolean | null>;

/** {"a":{"b":1},"c":[1,2]} → {"a.b":1,"c":"1|2"}; arrays of objects become JSON text. */
export function flattenDoc(doc: unknown, prefix = '', out: Flat = {}, exclude: Set<string> = new Set()): Flat {
  if (doc === null || doc === undefined) {
    if (prefix) out[prefix] = null;
    return out;
  }
  if (typeof doc !== 'object') {
    out[prefix || 'value'] = doc as string | number | boolean;
    return out;
  }
  if (Array.isArray(doc)) {
    out[prefix || 'value'] = doc.every((x) => x === null || typeof x !== 'object') ? doc.map((x) => (x === null ? '' : String(x))).join('|') : JSON.stringify(doc);
    return out;
  }
  const o = doc as Doc;
  if (prefix && Object.keys(o).length === 1 && '$oid' in o) {
    out[prefix] = String(o.$oid);
    return out;
  }
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (exclude.has(key)) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flattenDoc(v, key, out, exclude);
    else flattenDoc(v, key, out, exclude);
  }
  return out;
}

/** Union of keys over rows, preferred columns first (when present), then first-seen order. */
export function collectColumns(rows: Flat[], preferred: string[] = []): string[] {
  const seen = new Set<string>();
  const order: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) (seen.add(k), order.push(k));
  const first = preferred.filter((k) => seen.has(k));
  const rest = order.filter((k) => !first.includes(k));
  return [...first, ...rest];
}

/** RFC 4180 field: quote when it contains a comma, quote, CR or LF; guard against spreadsheet formulas. */
export function csvEscape(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(s) && !/^[-+]?\d/.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export function toCsv(docs: unknown[], opts: { preferred?: string[]; exclude?: string[] } = {}): string {
  const ex = new Set(opts.exclude ?? []);
  const rows = docs.map((d) => flattenDoc(d, '', {}, ex));
  const cols = collectColumns(rows, opts.preferred);
  const lines = [cols.map(csvEscape).join(',')];
  for (const r of rows) lines.push(cols.map((c) => csvEscape(r[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}

export interface ExportProgress {
  fetched: number;
  total: number;
  target: number;
}

/** Fetch every page (pageSize at a time) up to cap rows; reports progress; honours AbortSignal. */
export async function fetchAllPages(
  fetchPage: (skip: number, limit: number) => Promise<ListResult>,
  opts: { cap?: number; pageSize?: number; onProgress?: (p: ExportProgress) => void; signal?: AbortSignal } = {},
): Promise<{ rows: Doc[]; total: number; truncated: boolean }> {
  const cap = opts.cap ?? 50_000;
  const pageSize = Math.max(1, Math.min(opts.pageSize ?? 1000, 1000));
  const rows: Doc[] = [];
  let total = Infinity;
  let skip = 0;
  while (rows.length < cap && skip < total) {
    if (opts.signal?.aborted) throw new DOMException('Export cancelled', 'AbortError');
    const want = Math.min(pageSize, cap - rows.length);
    const page = await fetchPage(skip, want);
    total = page.total;
    rows.push(...page.results.slice(0, want));
    opts.onProgress?.({ fetched: rows.length, total, target: Math.min(total, cap) });
    if (page.results.length === 0) break;
    skip += page.results.length;
  }
  return { rows, total: Number.isFinite(total) ? total : rows.length, truncated: Number.isFinite(total) && rows.length < total };
}

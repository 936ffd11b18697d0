// API calls and pure helpers for jobs, collection summaries, exports and series annotations (CONTRACTS.md shapes).
// DOM-free so the URL and geometry helpers can be unit-tested under node.
import { Api, api, queryString, type Doc, type ListResult } from './api';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';
export type IdentifierType = 'accession_number' | 'patient_id' | 'study_instance_uid';
export type ReportStatus = 'matched' | 'missing' | 'ambiguous';

export const IDENTIFIER_FIELDS: Record<IdentifierType, string> = {
  accession_number: 'accession_numbers',
  patient_id: 'patient_ids',
  study_instance_uid: 'study_instance_uids',
};

export interface Job extends Doc {
  _id: string;
  name?: string;
  researcher_id?: string;
  status?: JobStatus;
  progress?: number;
  collection_id?: string | null;
  totals?: Partial<Record<'identifiers' | 'matched' | 'missing' | 'ambiguous' | 'patients' | 'studies' | 'series' | 'instances', number>>;
  snapshot?: { hash?: string; series?: number; at?: string; ingest?: unknown };
  changes?: { since?: string; newly_matched?: unknown[]; series_added?: number; series_removed?: number };
  error?: unknown;
}

export interface ReportRow {
  identifier: string;
  type: IdentifierType;
  status: ReportStatus;
  reason?: string;
  patient_id?: string;
  studies?: number;
  series?: number;
  instances?: number;
}

export interface Report extends ListResult<Doc> {
  totals: Record<string, number>;
}

export interface SummaryBucket {
  value: unknown;
  series: number;
  instances: number;
}

export interface CollectionSummary {
  counts: Partial<Record<'cases' | 'patients' | 'studies' | 'series' | 'instances', number>>;
  breakdowns: Record<string, SummaryBucket[]>;
}

export interface Roi {
  sop_instance_uid?: string;
  instance_id?: string;
  z_position: number;
  inclusion?: boolean;
  points: [number, number][];
}

export interface Annotation extends Doc {
  _id: string;
  reader?: { session?: number; radiologist_id?: string };
  kind?: 'nodule' | 'small_nodule' | 'non_nodule';
  nodule_id?: string;
  ratings?: Record<string, number>;
  rois?: Roi[];
  diameter_mm?: number;
  volume_mm3?: number;
  cluster?: number;
}

export interface PhysicalNodule {
  cluster: number;
  readers: number;
  annotation_ids: string[];
  median_ratings?: Record<string, number>;
  diameter_mm?: number;
}

export interface SeriesAnnotations {
  results: Annotation[];
  total: number;
  nodules: PhysicalNodule[];
}

/** The nine LIDC ratings, in the order of the read message. */
export const RATINGS = ['subtlety', 'internal_structure', 'calcification', 'sphericity', 'margin', 'lobulation', 'spiculation', 'texture', 'malignancy'];

/** Pasted identifiers: one per line, or separated by commas, semicolons or blanks; duplicates kept (the report flags them). */
export function parseIdentifiers(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The JSON body of POST /jobs for a pasted list of one identifier type. */
export function jobBody(name: string, researcherId: string, type: IdentifierType, ids: string[]): Doc {
  return { name, researcher_id: researcherId, [IDENTIFIER_FIELDS[type]]: ids };
}

// POST /jobs with a CSV body: the generic client always JSON-encodes, so this fetch unwraps the string and sends it
// as text/csv; going through Api keeps its error envelope parsing and its 401 → sign-in hook.
const csvApi = new Api((input, init) => {
  const headers = { ...(init?.headers as Record<string, string>), 'Content-Type': 'text/csv; charset=utf-8' };
  const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as string) : init?.body;
  return fetch(input, { ...init, headers, body });
});

export function createJob(body: Doc, signal?: AbortSignal): Promise<Job> {
  return api.post<Job>('/jobs', body, signal);
}

export function createJobFromCsv(csv: string, researcherId: string, name: string, signal?: AbortSignal): Promise<Job> {
  return csvApi.post<Job>('/jobs' + queryString({ researcher_id: researcherId, name }), csv, signal);
}

export function getJob(id: string, signal?: AbortSignal): Promise<Job> {
  return api.get<Job>(`/jobs/${encodeURIComponent(id)}`, signal);
}

export function rerunJob(id: string, signal?: AbortSignal): Promise<Job> {
  return api.post<Job>(`/jobs/${encodeURIComponent(id)}/run`, {}, signal);
}

export interface ReportQuery {
  status?: ReportStatus | '';
  skip?: number;
  limit?: number;
}

export function reportUrl(jobId: string, q: ReportQuery & { format?: 'json' | 'csv' } = {}): string {
  return `/jobs/${encodeURIComponent(jobId)}/report` + queryString({ format: q.format, status: q.status || undefined, skip: q.skip || undefined, limit: q.limit });
}

export async function jobReport(jobId: string, q: ReportQuery, signal?: AbortSignal): Promise<Report> {
  const raw = await api.get<ListResult & { totals?: Record<string, number> }>(reportUrl(jobId, q), signal);
  return { ...raw, totals: raw.totals ?? {} };
}

export async function jobSnapshots(jobId: string, signal?: AbortSignal): Promise<ListResult> {
  return api.get<ListResult>(`/jobs/${encodeURIComponent(jobId)}/snapshots`, signal);
}

export function collectionSummary(id: string, signal?: AbortSignal): Promise<CollectionSummary> {
  return api.get<CollectionSummary>(`/collections/${encodeURIComponent(id)}/summary`, signal);
}

export async function seriesAnnotations(id: string, signal?: AbortSignal): Promise<SeriesAnnotations> {
  const answer = await api.get<SeriesAnnotations>(`/series/${encodeURIComponent(id)}/annotations?limit=1000`, signal);
  // The store keeps outline points as {x, y} objects (no store may hold nested arrays); the drawing takes pairs.
  for (const a of answer.results ?? []) {
    for (const roi of a.rois ?? []) roi.points = (roi.points ?? []).map(toPair);
  }
  return answer;
}

export type ExportFormat = 'csv' | 'jsonl' | 'tcia';
export type ExportLevel = 'studies' | 'series' | 'instances';

export interface ExportOptions {
  format: ExportFormat;
  level: ExportLevel;
  /** [["train",70],["val",15],["test",15]]; empty: no split column */
  split?: [string, number][];
  stratify?: string;
  seed?: string;
}

/** "train:70,val:15,test:15" → [["train",70],...]; null when it cannot be read (names must be words, shares > 0). */
export function parseSplit(text: string): [string, number][] | null {
  const t = text.trim();
  if (!t) return [];
  const out: [string, number][] = [];
  for (const part of t.split(',')) {
    const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!m || Number(m[2]) <= 0) return null;
    out.push([m[1]!, Number(m[2])]);
  }
  return out;
}

/** GET /collections/{id}/export?format=…&level=…&split=…&stratify=…&seed=… */
export function exportUrl(collectionId: string, o: ExportOptions): string {
  // A TCIA manifest lists series UIDs only: no level and no split (nor its stratify/seed).
  const split = o.format !== 'tcia' && o.split && o.split.length ? o.split.map(([n, p]) => `${n}:${p}`).join(',') : undefined;
  return (
    `/collections/${encodeURIComponent(collectionId)}/export` +
    queryString({
      format: o.format,
      level: o.format === 'tcia' ? undefined : o.level,
      split,
      stratify: split ? o.stratify?.trim() || undefined : undefined,
      seed: split ? o.seed?.trim() || undefined : undefined,
    })
  );
}

export function exportFilename(name: string, o: ExportOptions): string {
  const base = (name || 'collection').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
  return `${base}-${o.format === 'tcia' ? 'manifest' : o.level}.${o.format === 'tcia' ? 'tcia' : o.format}`;
}

/** Percent 0..100 from the server's progress (0..100, or a 0..1 fraction from older servers). */
export function progressPercent(p: unknown): number {
  const n = typeof p === 'number' && Number.isFinite(p) ? p : 0;
  return Math.max(0, Math.min(100, Math.round(n > 0 && n <= 1 && !Number.isInteger(n) ? n * 100 : n)));
}

export const isActive = (s: unknown) => s === 'queued' || s === 'running';

// ---- outline geometry (SVG drawing of LIDC ROIs; points are image pixel coordinates x=column, y=row) ----

export interface SliceRois {
  z: number;
  rois: { annotation: Annotation; roi: Roi }[];
}

function toPair(p: unknown): [number, number] {
  if (Array.isArray(p)) return [Number(p[0]), Number(p[1])];
  const o = (p ?? {}) as { x?: unknown; y?: unknown };
  return [Number(o.x), Number(o.y)];
}

/** ROIs of all annotations grouped by slice position, ascending z. */
export function roisBySlice(annotations: Annotation[]): SliceRois[] {
  const byZ = new Map<number, SliceRois>();
  for (const a of annotations) {
    for (const roi of a.rois ?? []) {
      if (typeof roi.z_position !== 'number' || !Array.isArray(roi.points)) continue;
      const z = Math.round(roi.z_position * 1000) / 1000; // the same slice written with float noise
      let s = byZ.get(z);
      if (!s) byZ.set(z, (s = { z, rois: [] }));
      s.rois.push({ annotation: a, roi });
    }
  }
  return [...byZ.values()].sort((a, b) => a.z - b.z);
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One square viewBox around every outline point (same for all slices so they compare), with a margin. */
export function outlineBox(annotations: Annotation[], margin = 0.15, minSide = 16): Box | null {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const a of annotations) {
    for (const roi of a.rois ?? []) {
      for (const p of roi.points ?? []) {
        if (!Array.isArray(p) || p.length < 2) continue;
        const [x, y] = p;
        if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
    }
  }
  if (!Number.isFinite(x0)) return null;
  const side = Math.max(minSide, x1 - x0, y1 - y0) * (1 + 2 * margin);
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  return { x: cx - side / 2, y: cy - side / 2, w: side, h: side };
}

/** SVG polygon "points" attribute. */
export function polygonPoints(points: [number, number][]): string {
  return points.filter((p) => Array.isArray(p) && p.length >= 2).map(([x, y]) => `${x},${y}`).join(' ');
}

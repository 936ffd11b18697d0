// The visual query builder's model: a tree of AND/OR groups and field/operator/value rows, compiled to the
// filter language of POST /query and POST /cohort and parsed back from it (DOM-free, unit-tested).
// A filter the tree cannot show exactly is refused by parseFilter with the reason, so the JSON stays the truth.
import type { CohortBody, CohortLevel, Doc } from './api';

export type Op = 'eq' | 'ne' | 'in' | 'nin' | 'wildcard' | 'regex' | 'range' | 'all' | 'size' | 'exists';
export type ValueType = 'string' | 'number' | 'boolean';
export type FieldKind = 'text' | 'number' | 'date' | 'array' | 'boolean' | 'other';

export interface Row {
  kind: 'row';
  id: number;
  field: string;
  op: Op;
  /** the value; for in/nin/all a comma-separated list; for range the lower bound */
  value: string;
  /** range: the upper bound */
  value2: string;
  lo: '$gte' | '$gt';
  hi: '$lte' | '$lt';
  /** $regex options */
  options: string;
  vtype: ValueType;
}

export interface Group {
  kind: 'group';
  id: number;
  op: 'and' | 'or';
  /** cohort mode: the level a top-level group filters */
  level?: CohortLevel;
  children: Node[];
}
export type Node = Row | Group;

let nextId = 1;
export function newRow(field = '', op: Op = 'eq', value = '', vtype: ValueType = 'string'): Row {
  return { kind: 'row', id: nextId++, field, op, value, value2: '', lo: '$gte', hi: '$lte', options: '', vtype };
}
export function newGroup(op: 'and' | 'or' = 'and', children: Node[] = [], level?: CohortLevel): Group {
  return { kind: 'group', id: nextId++, op, children, ...(level ? { level } : {}) };
}

/** The operators the builder offers for a kind of field (the first is the default). */
export const OPS_BY_KIND: Record<FieldKind, Op[]> = {
  text: ['eq', 'ne', 'in', 'nin', 'wildcard', 'regex', 'exists'],
  number: ['range', 'eq', 'ne', 'in', 'exists'],
  date: ['range', 'eq', 'exists'],
  array: ['eq', 'all', 'size', 'exists'],
  boolean: ['eq', 'exists'],
  other: ['eq', 'ne', 'in', 'range', 'wildcard', 'regex', 'all', 'size', 'exists'],
};

export function opLabel(op: Op, kind: FieldKind): string {
  switch (op) {
    case 'eq': return kind === 'array' ? 'contains' : kind === 'date' ? 'on' : 'equals';
    case 'ne': return 'not equal';
    case 'in': return 'is one of';
    case 'nin': return 'is none of';
    case 'wildcard': return 'matches (* ?)';
    case 'regex': return 'regex';
    case 'range': return kind === 'date' ? 'between dates' : 'range';
    case 'all': return 'contains all';
    case 'size': return 'has size';
    case 'exists': return 'exists';
  }
}

/** What a field is, from GET /fields' JSON types and its name (DICOM DA values are "YYYYMMDD" strings). */
export function fieldKind(path: string, types: string[]): FieldKind {
  const t = types.filter((x) => x !== 'null');
  if (t.includes('array')) return 'array';
  if (t.length && t.every((x) => x === 'integer' || x === 'number')) return 'number';
  if (t.length === 1 && t[0] === 'boolean') return 'boolean';
  if (/(^|[._])(study_date|series_date|acquisition_date)$|Date$/.test(path) && (t.length === 0 || t.every((x) => x === 'string'))) return 'date';
  if (t.length === 1 && t[0] === 'string') return 'text';
  return 'other';
}

// ---- wildcards: "B3*f" <-> "^B3.*f$" ----
const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/]/g;
export function wildcardToRegex(w: string): string {
  return '^' + w.replace(REGEX_SPECIAL, (c) => (c === '*' || c === '?' ? c : '\\' + c)).replace(/\*/g, '.*').replace(/\?/g, '.') + '$';
}
/** The wildcard a regex came from, or null when it is not exactly such a translation. */
export function regexToWildcard(r: string): string | null {
  if (!r.startsWith('^') || !r.endsWith('$') || r.endsWith('\\$')) return null;
  const body = r.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\') {
      const n = body[i + 1];
      if (n === undefined || !/[\\^$.*+?()[\]{}|/]/.test(n) || n === '*' || n === '?') return null;
      out += n;
      i++;
    } else if (c === '.') {
      if (body[i + 1] === '*') {
        out += '*';
        i++;
      } else out += '?';
    } else if (/[\\^$*+?()[\]{}|]/.test(c)) return null;
    else out += c;
  }
  return wildcardToRegex(out) === r ? out : null;
}

// ---- compile: tree -> filter ----
function scalar(text: string, vtype: ValueType): unknown {
  if (vtype === 'number') {
    const n = Number(text);
    return text.trim() !== '' && Number.isFinite(n) ? n : text;
  }
  if (vtype === 'boolean') return text === 'true';
  return text;
}
const list = (text: string, vtype: ValueType) =>
  text.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => scalar(s, vtype));

/** One row as a filter object; null while it is incomplete (no field, or no value where one is needed). */
export function compileRow(r: Row): Doc | null {
  if (!r.field.trim()) return null;
  const v = () => scalar(r.value, r.vtype);
  let cond: unknown;
  switch (r.op) {
    case 'eq': cond = v(); break;
    case 'ne': cond = { $ne: v() }; break;
    case 'in': cond = { $in: list(r.value, r.vtype) }; break;
    case 'nin': cond = { $nin: list(r.value, r.vtype) }; break;
    case 'all': cond = { $all: list(r.value, r.vtype) }; break;
    case 'wildcard': cond = { $regex: wildcardToRegex(r.value) }; break;
    case 'regex': cond = r.options ? { $regex: r.value, $options: r.options } : { $regex: r.value }; break;
    case 'size': cond = { $size: Math.max(0, Math.floor(Number(r.value) || 0)) }; break;
    case 'exists': cond = { $exists: r.value !== 'false' }; break;
    case 'range': {
      const c: Doc = {};
      if (r.value.trim() !== '') c[r.lo] = v();
      if (r.value2.trim() !== '') c[r.hi] = scalar(r.value2, r.vtype);
      if (!Object.keys(c).length) return null;
      cond = c;
      break;
    }
  }
  if ((r.op === 'in' || r.op === 'nin' || r.op === 'all') && !(cond as Doc)[Object.keys(cond as Doc)[0]!]) return null;
  if ((r.op === 'eq' || r.op === 'ne' || r.op === 'wildcard' || r.op === 'regex') && r.value === '' && r.vtype !== 'string') return null;
  return { [r.field.trim()]: cond };
}

/** A group as a filter object ({} when empty: matches everything). */
export function compileGroup(g: Group): Doc {
  const parts = g.children.map((c) => (c.kind === 'row' ? compileRow(c) : compileGroup(c))).filter((p): p is Doc => p !== null && Object.keys(p).length > 0);
  if (parts.length === 0) return {};
  if (g.op === 'or') return parts.length === 1 ? parts[0]! : { $or: parts };
  // AND: one object when no key repeats (the usual MongoDB spelling), else $and.
  const merged: Doc = {};
  for (const p of parts) {
    for (const [k, val] of Object.entries(p)) {
      if (k in merged) return { $and: parts };
      merged[k] = val;
    }
  }
  return merged;
}

// ---- parse: filter -> tree ----
export class Unrepresentable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Unrepresentable';
  }
}
const isObj = (v: unknown): v is Doc => !!v && typeof v === 'object' && !Array.isArray(v);
const vtypeOf = (v: unknown): ValueType | null => (typeof v === 'number' ? 'number' : typeof v === 'string' ? 'string' : typeof v === 'boolean' ? 'boolean' : null);

function scalarRow(field: string, op: Op, v: unknown, what: string): Row {
  const t = vtypeOf(v);
  if (t === null) throw new Unrepresentable(`${what} on ${field} compares with ${v === null ? 'null' : 'a JSON ' + (Array.isArray(v) ? 'array' : typeof v)}, which the builder has no field for`);
  return newRow(field, op, String(v), t);
}

function listRow(field: string, op: Op, arr: unknown, name: string): Row {
  if (!Array.isArray(arr) || arr.length === 0) throw new Unrepresentable(`${name} on ${field} needs a non-empty list to be shown`);
  const t = vtypeOf(arr[0]);
  if (t === null || t === 'boolean' || !arr.every((x) => vtypeOf(x) === t)) throw new Unrepresentable(`${name} on ${field} mixes value types or holds non-scalar values`);
  if (arr.some((x) => String(x).includes(',') || String(x).trim() !== String(x) || String(x) === '')) throw new Unrepresentable(`${name} on ${field} has a value with a comma or outer spaces, which the list field cannot keep`);
  return newRow(field, op, arr.map(String).join(', '), t);
}

function parseCondition(field: string, cond: unknown): Row {
  if (!isObj(cond)) {
    if (Array.isArray(cond)) throw new Unrepresentable(`${field} is compared with a whole array (order-sensitive equality), which the builder cannot show`);
    return scalarRow(field, 'eq', cond, 'equality');
  }
  const keys = Object.keys(cond);
  if (keys.length === 0) throw new Unrepresentable(`${field} has an empty condition {}`);
  if (keys.some((k) => !k.startsWith('$'))) throw new Unrepresentable(`${field} is compared with a whole object, which the builder cannot show`);
  const only = keys.length === 1 ? keys[0]! : null;
  if (only === '$eq') return scalarRow(field, 'eq', cond.$eq, '$eq');
  if (only === '$ne') return scalarRow(field, 'ne', cond.$ne, '$ne');
  if (only === '$in') return listRow(field, 'in', cond.$in, '$in');
  if (only === '$nin') return listRow(field, 'nin', cond.$nin, '$nin');
  if (only === '$all') return listRow(field, 'all', cond.$all, '$all');
  if (only === '$size') {
    if (!Number.isInteger(cond.$size)) throw new Unrepresentable(`$size on ${field} is not an integer`);
    return newRow(field, 'size', String(cond.$size), 'number');
  }
  if (only === '$exists') {
    if (typeof cond.$exists !== 'boolean') throw new Unrepresentable(`$exists on ${field} is not true/false`);
    return newRow(field, 'exists', String(cond.$exists), 'boolean');
  }
  if (keys.includes('$regex') && keys.every((k) => k === '$regex' || k === '$options')) {
    if (typeof cond.$regex !== 'string' || (cond.$options !== undefined && typeof cond.$options !== 'string')) throw new Unrepresentable(`$regex on ${field} is not a string`);
    const w = cond.$options ? null : regexToWildcard(cond.$regex);
    if (w !== null) return newRow(field, 'wildcard', w);
    const r = newRow(field, 'regex', cond.$regex);
    r.options = (cond.$options as string | undefined) ?? '';
    return r;
  }
  const lows = keys.filter((k) => k === '$gte' || k === '$gt');
  const highs = keys.filter((k) => k === '$lte' || k === '$lt');
  if (lows.length + highs.length === keys.length && lows.length <= 1 && highs.length <= 1) {
    const lo = lows[0] ? cond[lows[0]] : undefined;
    const hi = highs[0] ? cond[highs[0]] : undefined;
    const t = vtypeOf(lo ?? hi);
    if (t === null || t === 'boolean' || (lo !== undefined && vtypeOf(lo) !== t) || (hi !== undefined && vtypeOf(hi) !== t)) {
      throw new Unrepresentable(`the range on ${field} has bounds of different or non-scalar types`);
    }
    const r = newRow(field, 'range', lo === undefined ? '' : String(lo), t);
    r.value2 = hi === undefined ? '' : String(hi);
    if (lows[0]) r.lo = lows[0] as Row['lo'];
    if (highs[0]) r.hi = highs[0] as Row['hi'];
    return r;
  }
  const odd = keys.filter((k) => !['$gte', '$gt', '$lte', '$lt'].includes(k));
  throw new Unrepresentable(`${odd.length ? odd.join(', ') : 'this combination of operators'} on ${field} has no builder form`);
}

function parseList(v: unknown, name: string): Group[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every(isObj)) throw new Unrepresentable(`${name} must be a non-empty list of filters to be shown`);
  return v.map((x) => parseFilter(x));
}

/** A filter as an AND group; throws Unrepresentable (with the reason) for what the builder cannot show. */
export function parseFilter(filter: unknown): Group {
  if (!isObj(filter)) throw new Unrepresentable('the filter is not a JSON object');
  const root = newGroup('and');
  for (const [k, v] of Object.entries(filter)) {
    if (k === '$and') {
      // one nested AND group keeps the user's explicit grouping visible
      root.children.push(newGroup('and', parseList(v, '$and').flatMap((g) => g.children)));
    } else if (k === '$or') {
      root.children.push(newGroup('or', parseList(v, '$or').map((g) => (g.children.length === 1 ? g.children[0]! : g))));
    } else if (k.startsWith('$')) {
      throw new Unrepresentable(`${k} has no builder form (the builder shows AND, OR and per-field conditions)`);
    } else root.children.push(parseCondition(k, v));
  }
  return root;
}

// ---- cohorts: one top-level group per level ----
export const LEVELS: CohortLevel[] = ['studies', 'series', 'instances'];

/** The filters of a cohort request from a tree whose top-level groups carry a level (rows at the top: `ret`). */
export function compileCohort(root: Group, ret: CohortLevel): Pick<CohortBody, CohortLevel> {
  const byLevel: Record<CohortLevel, Node[]> = { studies: [], series: [], instances: [] };
  for (const c of root.children) byLevel[c.kind === 'group' && c.level ? c.level : ret].push(c);
  const out: Pick<CohortBody, CohortLevel> = {};
  for (const l of LEVELS) {
    if (!byLevel[l].length) continue;
    const f = compileGroup(newGroup('and', byLevel[l]));
    if (Object.keys(f).length) out[l] = f;
  }
  return out;
}

export function parseCohort(body: Pick<CohortBody, CohortLevel>): Group {
  const root = newGroup('and');
  for (const l of LEVELS) {
    const f = body[l];
    if (f === undefined) continue;
    const g = parseFilter(f);
    // an OR-only level stays one OR group, anything else one AND group
    const only = g.children.length === 1 && g.children[0]!.kind === 'group' ? (g.children[0] as Group) : null;
    const lg = only ?? g;
    lg.level = l;
    root.children.push(lg);
  }
  return root;
}

/** The row an API validation error is about: details.path names a field (or a deeper path under it). */
export function rowForErrorPath(root: Group, path: string): Row | null {
  let best: Row | null = null;
  const visit = (n: Node) => {
    if (n.kind === 'group') n.children.forEach(visit);
    else if (n.field && (path === n.field || path.startsWith(n.field + '.')) && (!best || n.field.length > best.field.length)) best = n;
  };
  visit(root);
  return best;
}

/** Every row, depth first (tests and "all rows complete?"). */
export function rowsOf(g: Group): Row[] {
  return g.children.flatMap((c) => (c.kind === 'row' ? [c] : rowsOf(c)));
}

import { describe, it, expect } from 'vitest';
import {
  SERIES_FILTERS,
  STUDY_FILTERS,
  parseListState,
  listStateToSearch,
  listStateToApiParams,
  toggleSort,
  sortDirection,
  rangeLabel,
  pageSkip,
  withFilter,
  parseQueryState,
  queryStateToSearch,
  checkJsonObject,
  parseSortInput,
} from '../../../dashboard/src/urlstate';

const seriesParams = SERIES_FILTERS.map((f) => f.name);
const studyParams = STUDY_FILTERS.map((f) => f.name);

describe('list URL state', () => {
  it('covers every list endpoint parameter of the API', () => {
    for (const p of ['modality', 'patient_id', 'accession_number', 'study_date_from', 'study_date_to', 'study_description', 'collection_id', 'q']) expect(studyParams).toContain(p);
    for (const p of ['modality', 'body_part_examined', 'manufacturer', 'manufacturer_model_name', 'convolution_kernel', 'slice_thickness_min', 'slice_thickness_max', 'series_description', 'min_instances', 'q']) expect(seriesParams).toContain(p);
  });
  it('parses filters, sort and paging; drops unknown params', () => {
    const s = parseListState('?modality=CT&manufacturer=SIEMENS&bogus=1&sort=-num_instances&skip=100&limit=25', seriesParams);
    expect(s).toEqual({ filters: { modality: 'CT', manufacturer: 'SIEMENS' }, sort: '-num_instances', skip: 100, limit: 25 });
  });
  it('keeps metadata.<Keyword> filters, clamps limit, rejects junk sort/skip', () => {
    const s = parseListState('metadata.KVP=120&limit=99999&skip=-5&sort=;drop', seriesParams, '');
    expect(s.filters).toEqual({ 'metadata.KVP': '120' });
    expect(s.limit).toBe(1000);
    expect(s.skip).toBe(0);
    expect(s.sort).toBe('');
    expect(parseListState('limit=abc', seriesParams).limit).toBe(50);
  });
  it('round-trips through the URL with defaults omitted and stable key order', () => {
    const s = { filters: { q: 'lung', modality: 'CT' }, sort: 'series_number', skip: 50, limit: 50 };
    const search = listStateToSearch(s);
    expect(search).toBe('?modality=CT&q=lung&sort=series_number&skip=50');
    expect(parseListState(search, seriesParams)).toEqual(s);
    expect(listStateToSearch({ filters: {}, sort: '', skip: 0, limit: 50 })).toBe('');
  });
  it('builds API params including skip and limit', () => {
    expect(listStateToApiParams({ filters: { modality: 'CT' }, sort: '-study_date', skip: 0, limit: 50 })).toEqual({ modality: 'CT', sort: '-study_date', skip: 0, limit: 50 });
  });
  it('withFilter resets paging and removes empty values', () => {
    const s = withFilter({ filters: { modality: 'CT' }, sort: '', skip: 200, limit: 50 }, 'modality', '');
    expect(s).toEqual({ filters: {}, sort: '', skip: 0, limit: 50 });
  });
});

describe('sorting and paging', () => {
  it('toggles header sort asc → desc → asc', () => {
    expect(toggleSort('', 'study_date')).toBe('study_date');
    expect(toggleSort('study_date', 'study_date')).toBe('-study_date');
    expect(toggleSort('-study_date', 'study_date')).toBe('study_date');
    expect(toggleSort('-study_date,patient_id', 'patient_id')).toBe('patient_id');
    expect(sortDirection('-num_instances', 'num_instances')).toBe('descending');
    expect(sortDirection('num_instances', 'num_instances')).toBe('ascending');
    expect(sortDirection('num_instances', 'modality')).toBe('none');
  });
  it('formats the range label', () => {
    expect(rangeLabel(0, 50, 1318)).toBe('1–50 of 1,318');
    expect(rangeLabel(1300, 18, 1318)).toBe('1,301–1,318 of 1,318');
    expect(rangeLabel(0, 0, 0)).toBe('0 of 0');
  });
  it('computes page skips, clamped', () => {
    const st = { filters: {}, sort: '', skip: 50, limit: 50 };
    expect(pageSkip(st, 1318, 'prev')).toBe(0);
    expect(pageSkip(st, 1318, 'next')).toBe(100);
    expect(pageSkip(st, 1318, 'last')).toBe(1300);
    expect(pageSkip({ ...st, skip: 1300 }, 1318, 'next')).toBe(1300);
    expect(pageSkip(st, 0, 'last')).toBe(0);
  });
});

describe('query builder state', () => {
  it('round-trips collection, filter, sort, paging', () => {
    const q = { collection: 'studies', filter: '{"patient_id":"P1"}', sort: '-study_date', skip: 10, limit: 20 };
    expect(parseQueryState(queryStateToSearch(q))).toEqual(q);
  });
  it('defaults unknown collections to series', () => {
    expect(parseQueryState('?collection=../etc').collection).toBe('series');
  });
  it('validates JSON filters with positions', () => {
    expect(checkJsonObject('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(checkJsonObject('[1]').ok).toBe(false);
    expect(checkJsonObject('').ok).toBe(false);
    const bad = checkJsonObject('{\n  "a": 1,\n}');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).toMatch(/invalid JSON/);
  });
  it('reads sort shorthand or JSON', () => {
    expect(parseSortInput('-num_instances, series_number')).toEqual({ ok: true, value: { num_instances: -1, series_number: 1 } });
    expect(parseSortInput('{"study_date": -1}')).toEqual({ ok: true, value: { study_date: -1 } });
    expect(parseSortInput('')).toEqual({ ok: true, value: undefined });
    expect(parseSortInput('a b').ok).toBe(false);
  });
});

import { describe, it, expect } from 'vitest';
import { hrefForValue } from '../../../dashboard/src/pages/fields';
import { thicknessHref, instancesHref, DISTS } from '../../../dashboard/src/pages/overview';
import { parseQueryPage } from '../../../dashboard/src/querystate';
import { splitList } from '../../../dashboard/src/pages/manage';
import { parseQueryState } from '../../../dashboard/src/urlstate';

describe('fields page: where a top value leads', () => {
  it('uses the list endpoint parameter when there is one', () => {
    expect(hrefForValue('series', 'metadata.Manufacturer', { value: 'GE MEDICAL SYSTEMS', count: 3, raw: 'GE MEDICAL SYSTEMS' })).toBe('/ui/series?manufacturer=GE+MEDICAL+SYSTEMS');
    expect(hrefForValue('series', 'modality', { value: 'CT', count: 3, raw: 'CT' })).toBe('/ui/series?modality=CT');
    expect(hrefForValue('studies', 'patient_id', { value: 'LIDC-IDRI-0001', count: 1, raw: 'LIDC-IDRI-0001' })).toBe('/ui/studies?patient_id=LIDC-IDRI-0001');
  });
  it('falls back to the query builder, keeping the JSON type of the value', () => {
    const href = hrefForValue('series', 'metadata.SliceThickness', { value: '1.25', count: 3, raw: 1.25 });
    expect(href.startsWith('/ui/query?')).toBe(true);
    const q = parseQueryState(href.slice('/ui/query'.length));
    expect(q.collection).toBe('series');
    expect(JSON.parse(q.filter)).toEqual({ 'metadata.SliceThickness': 1.25 });
    expect(href).toContain('run=1');
  });
  it('sends missing values to the query builder as null', () => {
    const href = hrefForValue('series', 'metadata.Manufacturer', { value: '(missing)', count: 3, raw: '(missing)' });
    expect(href.startsWith('/ui/query?')).toBe(true);
  });
});

describe('overview chart links reproduce the bar exactly', () => {
  it('slice-thickness buckets are half-open, as the server counts them: the query page with $gte/$lt', () => {
    const href = thicknessHref({ value: '1-2', count: 1 })!;
    const q = parseQueryPage(href.slice('/ui/query'.length));
    expect(q.collection).toBe('series');
    expect(JSON.parse(q.json)).toEqual({ 'metadata.SliceThickness': { $gte: 1, $lt: 2 } });
    expect(q.run).toBe(true);
    expect(JSON.parse(parseQueryPage(thicknessHref({ value: '>=5', count: 1 })!.slice(9)).json)).toEqual({ 'metadata.SliceThickness': { $gte: 5 } });
    expect(JSON.parse(parseQueryPage(thicknessHref({ value: '<1', count: 1 })!.slice(9)).json)).toEqual({ 'metadata.SliceThickness': { $lt: 1 } });
    expect(thicknessHref({ value: '(missing)', count: 1 })).toBeNull();
  });
  it('images-per-series buckets set both bounds (the 101-200 bar is not "at least 101")', () => {
    expect(instancesHref({ value: '101-200', count: 18 })).toBe('/ui/series?min_instances=101&max_instances=200');
    expect(instancesHref({ value: '1', count: 2 })).toBe('/ui/series?min_instances=1&max_instances=1');
    expect(instancesHref({ value: '>500', count: 2 })).toBe('/ui/series?min_instances=501');
  });
  it('links study years to a date range and skips missing buckets', () => {
    const year = DISTS.find((d) => d.key === 'study_year')!;
    expect(year.href!({ value: '2001', count: 2 })).toBe('/ui/studies?study_date_from=20010101&study_date_to=20011231');
    const mod = DISTS.find((d) => d.key === 'modality')!;
    expect(mod.href!({ value: '(missing)', count: 2 })).toBeNull();
    expect(mod.href!({ value: 'CT', count: 2 })).toBe('/ui/series?modality=CT');
    const man = DISTS.find((d) => d.key === 'manufacturer')!;
    // a wildcard character in a value would widen the list parameter: the exact filter instead
    expect(man.href!({ value: 'A*B', count: 1 })!.startsWith('/ui/query?')).toBe(true);
  });
});

describe('job form lists', () => {
  it('splits accession numbers on commas, spaces and newlines', () => {
    expect(splitList('ACC1, ACC2\nACC3;ACC4  ')).toEqual(['ACC1', 'ACC2', 'ACC3', 'ACC4']);
    expect(splitList('  ')).toEqual([]);
  });
});

import { describe, it, expect } from 'vitest';
import { hrefForValue } from '../../../dashboard/src/pages/fields';
import { thicknessHref, DISTS } from '../../../dashboard/src/pages/overview';
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

describe('overview chart links', () => {
  it('turns slice-thickness buckets into min/max filters', () => {
    expect(thicknessHref({ value: '1-2', count: 1 })).toBe('/ui/series?slice_thickness_min=1&slice_thickness_max=2');
    expect(thicknessHref({ value: '>=5', count: 1 })).toBe('/ui/series?slice_thickness_min=5');
    expect(thicknessHref({ value: '<1', count: 1 })).toBe('/ui/series?slice_thickness_max=1');
    expect(thicknessHref({ value: '(missing)', count: 1 })).toBeNull();
  });
  it('links study years to a date range and skips missing buckets', () => {
    const year = DISTS.find((d) => d.key === 'study_year')!;
    expect(year.href!({ value: '2001', count: 2 })).toBe('/ui/studies?study_date_from=20010101&study_date_to=20011231');
    const mod = DISTS.find((d) => d.key === 'modality')!;
    expect(mod.href!({ value: '(missing)', count: 2 })).toBeNull();
    expect(mod.href!({ value: 'CT', count: 2, raw: 'CT' })).toBe('/ui/series?modality=CT');
  });
});

describe('job form lists', () => {
  it('splits accession numbers on commas, spaces and newlines', () => {
    expect(splitList('ACC1, ACC2\nACC3;ACC4  ')).toEqual(['ACC1', 'ACC2', 'ACC3', 'ACC4']);
    expect(splitList('  ')).toEqual([]);
  });
});

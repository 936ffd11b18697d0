// Pure helpers of the jobs, collection and nodules pages: request bodies, report/export URLs, split parsing,
// outline grouping and framing, and the annotation/QC facet panels and filters.
import { describe, it, expect } from 'vitest';
import {
  exportFilename,
  exportUrl,
  jobBody,
  outlineBox,
  parseIdentifiers,
  parseSplit,
  polygonPoints,
  progressPercent,
  reportUrl,
  roisBySlice,
  type Annotation,
} from '../../../dashboard/src/api_jobs';
import { SERIES_FACET_FILTERS } from '../../../dashboard/src/series_facets';
import { facetCharts } from '../../../dashboard/src/series_facet_charts';
import { SERIES_FILTERS } from '../../../dashboard/src/urlstate';

describe('job creation', () => {
  it('reads pasted identifiers one per line or separated by commas, semicolons, blanks; keeps duplicates', () => {
    expect(parseIdentifiers(' A1\nA2, A3;A4\tA1 \r\n\n')).toEqual(['A1', 'A2', 'A3', 'A4', 'A1']);
    expect(parseIdentifiers('  \n ')).toEqual([]);
  });
  it('puts the identifiers in the field of their type', () => {
    expect(jobBody('j', 'r1', 'accession_number', ['A'])).toEqual({ name: 'j', researcher_id: 'r1', accession_numbers: ['A'] });
    expect(jobBody('j', 'r1', 'patient_id', ['P'])).toEqual({ name: 'j', researcher_id: 'r1', patient_ids: ['P'] });
    expect(jobBody('j', 'r1', 'study_instance_uid', ['1.2'])).toEqual({ name: 'j', researcher_id: 'r1', study_instance_uids: ['1.2'] });
  });
  it('shows progress as a percentage from 0..100 (or a 0..1 fraction), clamped', () => {
    expect(progressPercent(42)).toBe(42);
    expect(progressPercent(0.5)).toBe(50);
    expect(progressPercent(1)).toBe(1);
    expect(progressPercent(130)).toBe(100);
    expect(progressPercent(undefined)).toBe(0);
  });
});

describe('report and export URLs', () => {
  it('builds the report URL with only the given options', () => {
    expect(reportUrl('ab', {})).toBe('/jobs/ab/report');
    expect(reportUrl('ab', { status: 'missing', skip: 50, limit: 50 })).toBe('/jobs/ab/report?status=missing&skip=50&limit=50');
    expect(reportUrl('ab', { format: 'csv', status: '' })).toBe('/jobs/ab/report?format=csv');
  });
  it('parses split specs and rejects unreadable ones', () => {
    expect(parseSplit('train:70,val:15,test:15')).toEqual([['train', 70], ['val', 15], ['test', 15]]);
    expect(parseSplit(' a : 1.5 , b:2 ')).toEqual([['a', 1.5], ['b', 2]]);
    expect(parseSplit('')).toEqual([]);
    expect(parseSplit('train:70,,')).toBeNull();
    expect(parseSplit('train:0')).toBeNull();
    expect(parseSplit('9x:10')).toBeNull();
  });
  it('builds export links as CONTRACTS.md spells them', () => {
    expect(exportUrl('c1', { format: 'csv', level: 'series' })).toBe('/collections/c1/export?format=csv&level=series');
    const u = new URL(exportUrl('c1', { format: 'jsonl', level: 'studies', split: [['train', 70], ['val', 15], ['test', 15]], stratify: 'metadata.Manufacturer', seed: '42' }), 'http://h');
    expect(Object.fromEntries(u.searchParams)).toEqual({ format: 'jsonl', level: 'studies', split: 'train:70,val:15,test:15', stratify: 'metadata.Manufacturer', seed: '42' });
    // stratify and seed only mean something with a split; a TCIA manifest lists series, without split column
    expect(exportUrl('c1', { format: 'csv', level: 'series', split: [], stratify: 'x', seed: '1' })).toBe('/collections/c1/export?format=csv&level=series');
    expect(exportUrl('c1', { format: 'tcia', level: 'instances', split: [['a', 1]] })).toBe('/collections/c1/export?format=tcia');
    expect(exportFilename('LIDC cohort/1', { format: 'tcia', level: 'series' })).toBe('LIDC_cohort_1-manifest.tcia');
    expect(exportFilename('x', { format: 'jsonl', level: 'studies' })).toBe('x-studies.jsonl');
  });
});

describe('outlines', () => {
  const ann = (id: string, rois: { z: number; pts: [number, number][]; inclusion?: boolean }[]): Annotation => ({
    _id: id,
    rois: rois.map((r) => ({ z_position: r.z, inclusion: r.inclusion ?? true, points: r.pts })),
  });
  const a = ann('a', [
    { z: -10.5, pts: [[10, 10], [20, 10], [20, 30]] },
    { z: -12.0, pts: [[12, 12], [18, 12], [18, 20]] },
  ]);
  const b = ann('b', [{ z: -10.5000001, pts: [[40, 50], [41, 50], [41, 51]] }, { z: -10.5, pts: [[11, 11]], inclusion: false }]);

  it('groups ROIs by slice position (float noise merged), ascending z', () => {
    const s = roisBySlice([a, b]);
    expect(s.map((x) => x.z)).toEqual([-12, -10.5]);
    expect(s[1]!.rois.map((r) => r.annotation._id)).toEqual(['a', 'b', 'b']);
    expect(s.reduce((n, x) => n + x.rois.length, 0)).toBe(4);
  });
  it('frames every point of every slice in one square box with a margin', () => {
    const box = outlineBox([a, b])!;
    expect(box.w).toBe(box.h);
    for (const [x, y] of [[10, 10], [41, 51]]) {
      expect(x).toBeGreaterThan(box.x);
      expect(y).toBeGreaterThan(box.y);
      expect(x).toBeLessThan(box.x + box.w);
      expect(y).toBeLessThan(box.y + box.h);
    }
    expect(outlineBox([ann('e', [])])).toBeNull();
    expect(outlineBox([ann('p', [{ z: 0, pts: [[5, 5]] }])])!.w).toBeGreaterThanOrEqual(16);
  });
  it('writes SVG polygon points', () => {
    expect(polygonPoints([[1, 2], [3.5, 4]])).toBe('1,2 3.5,4');
  });
});

describe('annotation and QC facets', () => {
  it('adds the CONTRACTS.md GET /series parameters to the series filters', () => {
    const names = SERIES_FILTERS.map((f) => f.name);
    for (const n of ['min_nodules', 'min_max_diameter_mm', 'min_malignancy', 'min_nodule_readers', 'qc_flag', 'kernel_class']) expect(names).toContain(n);
    expect(SERIES_FACET_FILTERS.find((f) => f.name === 'qc_flag')!.options).toContain('missing_slices');
  });
  it('offers a panel only for distributions /stats has, linking bars to the series filters', () => {
    expect(facetCharts(['modality', 'manufacturer'])).toEqual([]);
    const charts = facetCharts(['modality', 'nodules_per_series', 'qc_flags', 'kernel_class', 'max_malignancy', 'max_nodule_diameter_mm']);
    expect(charts.map((c) => c.key)).toEqual(['nodules_per_series', 'max_nodule_diameter_mm', 'max_malignancy', 'qc_flags', 'kernel_class']);
    const href = (key: string, value: string) => charts.find((c) => c.key === key)!.href!({ value, count: 1, raw: value });
    // A bar opens exactly the series it counts (/stats buckets: "N", ">=N", half-open "A-B", the first open below).
    const filter = (url: string | null) => JSON.parse(new URLSearchParams(url!.split('?')[1]).get('filter')!);
    expect(filter(href('nodules_per_series', '2'))).toEqual({ 'annotations.nodules': 2 });
    expect(filter(href('nodules_per_series', '>=5'))).toEqual({ 'annotations.nodules': { $gte: 5 } });
    expect(filter(href('max_nodule_diameter_mm', '3-6'))).toEqual({ 'annotations.max_diameter_mm': { $lt: 6 } });
    expect(filter(href('max_nodule_diameter_mm', '10-20'))).toEqual({ 'annotations.max_diameter_mm': { $gte: 10, $lt: 20 } });
    expect(filter(href('max_malignancy', '4'))).toEqual({ 'annotations.max_malignancy': 4 });
    expect(href('qc_flags', 'missing_slices')).toBe('/ui/series?qc_flag=missing_slices');
    expect(href('qc_flags', '(none)')).toBeNull();
    expect(href('kernel_class', 'sharp')).toBe('/ui/series?kernel_class=sharp');
  });
});

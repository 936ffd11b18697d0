import { describe, it, expect } from 'vitest';
import { compileCohort, compileGroup, fieldKind, newGroup, newRow, parseCohort, parseFilter, regexToWildcard, rowForErrorPath, rowsOf, Unrepresentable, wildcardToRegex } from '../../../dashboard/src/filtertree';

const roundTrip = (f: unknown) => compileGroup(parseFilter(f));

describe('builder tree <-> filter JSON', () => {
  it('round-trips every operator the builder offers', () => {
    const filters = [
      { modality: 'CT' },
      { modality: { $ne: 'MR' } },
      { 'metadata.Manufacturer': { $in: ['SIEMENS', 'GE MEDICAL SYSTEMS'] } },
      { 'metadata.Manufacturer': { $nin: ['TOSHIBA'] } },
      { 'metadata.ConvolutionKernel': { $regex: '^B3.*f$' } },
      { 'metadata.ConvolutionKernel': { $regex: 'lung', $options: 'i' } },
      { 'metadata.SliceThickness': { $gte: 1, $lt: 2 } },
      { num_instances: { $gt: 100 } },
      { study_date: { $gte: '20050101', $lte: '20051231' } },
      { 'metadata.ImageType': { $all: ['ORIGINAL', 'PRIMARY'] } },
      { 'metadata.PixelSpacing': { $size: 2 } },
      { 'metadata.ContrastBolusAgent': { $exists: false } },
      { modality: 'CT', $or: [{ 'metadata.Manufacturer': 'SIEMENS' }, { num_instances: { $gte: 100 }, 'metadata.SliceThickness': { $lte: 1.5 } }] },
      { $or: [{ modality: 'CT', $or: [{ a: 1 }, { b: 2 }] }, { modality: 'MR' }] },
    ];
    for (const f of filters) expect(roundTrip(f)).toEqual(f);
  });
  it('nests groups at least two levels deep', () => {
    const g = parseFilter({ $or: [{ modality: 'CT', $or: [{ a: 1 }, { b: 2 }] }, { modality: 'MR' }] });
    const or = g.children[0]!;
    expect(or.kind === 'group' && or.op).toBe('or');
    const inner = or.kind === 'group' ? or.children[0]! : null;
    expect(inner?.kind === 'group' && inner.children.some((c) => c.kind === 'group' && c.op === 'or')).toBe(true);
  });
  it('compiles a built tree, typed by the field (numbers stay numbers)', () => {
    const r1 = newRow('metadata.SliceThickness', 'range', '1', 'number');
    r1.value2 = '2';
    r1.hi = '$lt';
    const root = newGroup('and', [newRow('modality', 'eq', 'CT'), r1, newGroup('or', [newRow('metadata.Manufacturer', 'wildcard', 'SIE*'), newRow('metadata.Manufacturer', 'in', 'GE, TOSHIBA')])]);
    expect(compileGroup(root)).toEqual({
      modality: 'CT',
      'metadata.SliceThickness': { $gte: 1, $lt: 2 },
      $or: [{ 'metadata.Manufacturer': { $regex: '^SIE.*$' } }, { 'metadata.Manufacturer': { $in: ['GE', 'TOSHIBA'] } }],
    });
  });
  it('uses $and when a field repeats, and skips incomplete rows', () => {
    const root = newGroup('and', [newRow('a', 'eq', 'x'), newRow('a', 'ne', 'y'), newRow('', 'eq', 'z')]);
    expect(compileGroup(root)).toEqual({ $and: [{ a: 'x' }, { a: { $ne: 'y' } }] });
    expect(compileGroup(newGroup('and'))).toEqual({});
  });
  it('refuses what it cannot show, saying why', () => {
    expect(() => parseFilter({ $nor: [{ a: 1 }] })).toThrow(Unrepresentable);
    expect(() => parseFilter({ a: { $elemMatch: { $gt: 1 } } })).toThrow(/\$elemMatch/);
    expect(() => parseFilter({ a: ['x', 'y'] })).toThrow(/whole array/);
    expect(() => parseFilter({ a: { $in: ['x,y'] } })).toThrow(/comma/);
    expect(() => parseFilter({ a: { $gte: 1, $lt: 'z' } })).toThrow(/different/);
    expect(() => parseFilter({ a: null })).toThrow(/null/);
  });
});

describe('wildcards', () => {
  it('translate to anchored regexes and back', () => {
    expect(wildcardToRegex('B3?f*')).toBe('^B3.f.*$');
    expect(wildcardToRegex('1.5 (mm)')).toBe('^1\\.5 \\(mm\\)$');
    expect(regexToWildcard('^B3.f.*$')).toBe('B3?f*');
    expect(regexToWildcard('^1\\.5 \\(mm\\)$')).toBe('1.5 (mm)');
    expect(regexToWildcard('^a+$')).toBeNull();
    expect(regexToWildcard('lung')).toBeNull();
  });
});

describe('cross-level cohorts', () => {
  it('one top-level group per level, both ways', () => {
    const body = { studies: { study_date: { $gte: '20050101' } }, series: { modality: 'CT', num_instances: { $gte: 100 } }, instances: { $or: [{ 'metadata.SliceLocation': { $lt: 0 } }, { instance_number: 1 }] } };
    const tree = parseCohort(body);
    expect(tree.children.map((c) => c.kind === 'group' && c.level)).toEqual(['studies', 'series', 'instances']);
    expect(compileCohort(tree, 'series')).toEqual(body);
  });
  it('rows outside a level group filter the returned level', () => {
    const tree = newGroup('and', [newRow('modality', 'eq', 'CT'), newGroup('and', [newRow('patient_id', 'eq', 'P1')], 'studies')]);
    expect(compileCohort(tree, 'series')).toEqual({ series: { modality: 'CT' }, studies: { patient_id: 'P1' } });
  });
});

describe('field kinds and error rows', () => {
  it('offers operators by type', () => {
    expect(fieldKind('metadata.SliceThickness', ['number'])).toBe('number');
    expect(fieldKind('num_instances', ['integer'])).toBe('number');
    expect(fieldKind('study_date', ['string'])).toBe('date');
    expect(fieldKind('metadata.AcquisitionDate', ['string'])).toBe('date');
    expect(fieldKind('metadata.ImageType', ['array'])).toBe('array');
    expect(fieldKind('modality', ['string'])).toBe('text');
  });
  it('puts an API error on the row of its path', () => {
    const tree = parseFilter({ modality: 'CT', 'metadata.ConvolutionKernel': { $regex: '(a+)+' } });
    const row = rowForErrorPath(tree, 'metadata.ConvolutionKernel');
    expect(row?.field).toBe('metadata.ConvolutionKernel');
    expect(rowForErrorPath(tree, 'elsewhere')).toBeNull();
    expect(rowsOf(tree)).toHaveLength(2);
  });
});

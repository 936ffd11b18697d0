import { describe, it, expect } from 'vitest';
import { flattenDoc, collectColumns, csvEscape, toCsv, fetchAllPages } from '../../../dashboard/src/csv';
import type { ListResult } from '../../../dashboard/src/api';

describe('flattenDoc', () => {
  it('flattens nested metadata with dotted keys and joins scalar arrays', () => {
    const f = flattenDoc({ _id: 'x', metadata: { Manufacturer: 'GE', ImagePositionPatient: [-1, 2.5, 3] }, collection_ids: [], n: null });
    expect(f).toEqual({ _id: 'x', 'metadata.Manufacturer': 'GE', 'metadata.ImagePositionPatient': '-1|2.5|3', collection_ids: '', n: null });
  });
  it('keeps arrays of objects as JSON and honours exclusions', () => {
    const f = flattenDoc({ series: [{ modality: 'CT' }], instances: ['a', 'b'], _search_text: 'x' }, '', {}, new Set(['instances', '_search_text']));
    expect(f).toEqual({ series: '[{"modality":"CT"}]' });
  });
  it('unwraps {$oid}', () => {
    expect(flattenDoc({ study_id: { $oid: 'abc' } })).toEqual({ study_id: 'abc' });
  });
});

describe('CSV', () => {
  it('escapes commas, quotes and newlines (RFC 4180)', () => {
    expect(csvEscape('plain')).toBe('plain');
    expect(csvEscape('a,b')).toBe('"a,b"');
    expect(csvEscape('say "hi"')).toBe('"say ""hi"""');
    expect(csvEscape('two\nlines')).toBe('"two\nlines"');
    expect(csvEscape(null)).toBe('');
    expect(csvEscape(2.5)).toBe('2.5');
  });
  it('neutralises spreadsheet formulas but keeps negative numbers', () => {
    expect(csvEscape('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvEscape('-1.5')).toBe('-1.5');
    expect(csvEscape(-3)).toBe('-3');
  });
  it('orders preferred columns first and unions keys over rows', () => {
    expect(collectColumns([{ b: 1, a: 2 }, { c: 3 }], ['a', 'zz'])).toEqual(['a', 'b', 'c']);
  });
  it('renders a whole table with CRLF line ends', () => {
    const csv = toCsv([{ _id: '1', metadata: { Manufacturer: 'GE, Inc.' } }, { _id: '2', num_instances: 3 }], { preferred: ['_id'] });
    expect(csv).toBe('_id,metadata.Manufacturer,num_instances\r\n1,"GE, Inc.",\r\n2,,3\r\n');
  });
});

describe('fetchAllPages', () => {
  const source = Array.from({ length: 2345 }, (_, i) => ({ _id: String(i) }));
  const fetchPage = async (skip: number, limit: number): Promise<ListResult> => ({ results: source.slice(skip, skip + limit), total: source.length, limit, skip });

  it('pages with limit 1000 until the total and reports progress', async () => {
    const calls: [number, number][] = [];
    const progress: number[] = [];
    const r = await fetchAllPages(
      async (s, l) => {
        calls.push([s, l]);
        return fetchPage(s, l);
      },
      { onProgress: (p) => progress.push(p.fetched) },
    );
    expect(calls).toEqual([[0, 1000], [1000, 1000], [2000, 1000]]);
    expect(r.rows.length).toBe(2345);
    expect(r.truncated).toBe(false);
    expect(progress).toEqual([1000, 2000, 2345]);
  });
  it('stops at the cap and says it truncated', async () => {
    const r = await fetchAllPages(fetchPage, { cap: 1500 });
    expect(r.rows.length).toBe(1500);
    expect(r.rows[1499]!._id).toBe('1499');
    expect(r.truncated).toBe(true);
    expect(r.total).toBe(2345);
  });
  it('stops on an empty page even if total says more', async () => {
    const r = await fetchAllPages(async (skip, limit) => ({ results: skip === 0 ? [{ a: 1 }] : [], total: 10, limit, skip }));
    expect(r.rows.length).toBe(1);
  });
  it('can be cancelled', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(fetchAllPages(fetchPage, { signal: ctl.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});

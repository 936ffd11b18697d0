import { describe, it, expect } from 'vitest';
import { Api, ApiError, errorFromBody, normalizeList, normalizeStats, normalizeBuckets, normalizeFields, fieldsTotals, paramsFromOpenApi, supportedParams, canonicalDistKey, getPath, docId, queryString } from '../../../dashboard/src/api';

function fakeFetch(status: number, body: unknown, capture?: { url?: string; init?: RequestInit }) {
  return async (url: string, init?: RequestInit) => {
    if (capture) {
      capture.url = url;
      capture.init = init;
    }
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return new Response(text, { status, statusText: status === 400 ? 'Bad Request' : 'OK' });
  };
}

describe('normalizeList', () => {
  it('passes the documented shape through', () => {
    const r = normalizeList({ results: [{ _id: 'a' }], total: 1318, limit: 50, skip: 100 });
    expect(r).toEqual({ results: [{ _id: 'a' }], total: 1318, limit: 50, skip: 100 });
  });
  it('accepts a bare array and alternative keys', () => {
    expect(normalizeList([{ a: 1 }, { a: 2 }]).total).toBe(2);
    expect(normalizeList({ items: [{}], count: '7' }).total).toBe(7);
    expect(normalizeList({}).results).toEqual([]);
  });
});

describe('normalizeStats', () => {
  it('reads counts and array distributions', () => {
    const s = normalizeStats({
      counts: { studies: 3, series: 9, instances: 1200, collections: 1, researchers: 0, errors: 2 },
      distributions: { modality: [{ value: 'CT', count: 8 }, { value: 'CR', count: 1 }], slice_thickness: [{ min: 1, max: 2, count: 4 }] },
    });
    expect(s.counts).toMatchObject({ studies: 3, series: 9, instances: 1200, errors: 2 });
    expect(s.distributions.modality).toEqual([{ value: 'CT', count: 8, raw: 'CT' }, { value: 'CR', count: 1, raw: 'CR' }]);
    expect(s.distributions.slice_thickness![0]).toMatchObject({ value: '1–2', count: 4 });
  });
  it('tolerates top-level counts, object maps, Mongo-style _id buckets and aliased names', () => {
    const s = normalizeStats({
      studies: 5,
      series_count: 12,
      num_instances: 300,
      distributions: { Modalities: { CT: 10, MR: 2 }, convolutionKernel: [{ _id: 'B30f', count: 3 }], manufacturer_model_name: [['Sensation 16', 4]], studyYear: { buckets: [{ key: 2001, doc_count: 2 }] } },
    });
    expect(s.counts).toMatchObject({ studies: 5, series: 12, instances: 300 });
    expect(s.distributions.modality).toEqual([{ value: 'CT', count: 10, raw: 'CT' }, { value: 'MR', count: 2, raw: 'MR' }]);
    expect(s.distributions.kernel).toEqual([{ value: 'B30f', count: 3, raw: 'B30f' }]);
    expect(s.distributions.model![0]).toMatchObject({ value: 'Sensation 16', count: 4 });
    expect(s.distributions.study_year![0]).toMatchObject({ value: '2001', count: 2, raw: 2001 });
  });
  it('accepts counts given as {count} objects and a list of named distributions', () => {
    const s = normalizeStats({ counts: { studies: { count: 4 } }, distributions: [{ name: 'body_part_examined', buckets: [{ value: 'CHEST', count: 4 }] }] });
    expect(s.counts.studies).toBe(4);
    expect(s.distributions.body_part).toEqual([{ value: 'CHEST', count: 4, raw: 'CHEST' }]);
  });
});

describe('the meta_db /stats shape', () => {
  it('maps the server distribution names onto the dashboard charts', () => {
    const s = normalizeStats({
      counts: { researchers: 0, collections: 1, studies: 15, series: 15, instances: 2140, jobs: 0, errors: 6 },
      distributions: {
        body_part_examined: [{ value: 'CHEST', count: 15 }],
        convolution_kernel: [{ value: '(missing)', count: 3 }, { value: 'STANDARD', count: 3 }],
        instances_per_series: [{ value: '101-200', count: 5 }],
        manufacturer: [{ value: 'SIEMENS', count: 6 }],
        manufacturer_model_name: [{ value: 'Sensation 16', count: 6 }],
        modality: [{ value: 'CT', count: 13 }],
        slice_thickness: [{ value: '1-2', count: 7 }],
        study_year: [{ value: '2005', count: 2 }],
      },
    });
    expect(s.counts).toEqual({ researchers: 0, collections: 1, studies: 15, series: 15, instances: 2140, jobs: 0, errors: 6 });
    expect(Object.keys(s.distributions).sort()).toEqual(['body_part', 'instances_per_series', 'kernel', 'modality', 'model', 'slice_thickness', 'study_year', 'manufacturer'].sort());
    expect(s.distributions.kernel![0]).toEqual({ value: '(missing)', count: 3, raw: '(missing)' });
  });
});

describe('normalizeBuckets / canonicalDistKey', () => {
  it('labels null values and keeps raw numbers', () => {
    expect(normalizeBuckets([{ value: null, count: 2 }, { value: 2.5, count: 1 }])).toEqual([
      { value: '(none)', count: 2, raw: null },
      { value: '2.5', count: 1, raw: 2.5 },
    ]);
  });
  it('canonicalises names', () => {
    expect(canonicalDistKey('SliceThickness')).toBe('slice_thickness');
    expect(canonicalDistKey('instances-per-series')).toBe('instances_per_series');
    expect(canonicalDistKey('kernels')).toBe('kernel');
  });
});

describe('normalizeFields', () => {
  it('reads a fields array', () => {
    const f = normalizeFields({ fields: [{ key: 'metadata.Manufacturer', count: 9, types: ['string'], top: [{ value: 'SIEMENS', count: 5 }] }] });
    expect(f).toEqual([{ key: 'metadata.Manufacturer', count: 9, types: ['string'], top: [{ value: 'SIEMENS', count: 5, raw: 'SIEMENS' }] }]);
  });
  it('reads promoted + metadata sections and object maps, prefixing metadata keys', () => {
    const f = normalizeFields({
      promoted: [{ field: 'modality', present: 3, type: 'string', top_values: { CT: 3 } }],
      metadata: { SliceThickness: { count: 2, types: { number: 2 }, top: [[1.25, 2]] } },
    });
    expect(f.map((x) => x.key)).toEqual(['modality', 'metadata.SliceThickness']);
    expect(f[0]).toMatchObject({ count: 3, types: ['string'], top: [{ value: 'CT', count: 3 }] });
    expect(f[1]).toMatchObject({ count: 2, types: ['number'], top: [{ value: '1.25', count: 2, raw: 1.25 }] });
  });
});

describe('the meta_db /fields shape', () => {
  it('reads {collection,total,sampled,fields:[{path,promoted,count,types,values}]}', async () => {
    const body = {
      collection: 'series',
      total: 1400,
      sampled: 1000,
      fields: [
        { path: 'metadata.SliceThickness', promoted: false, count: 990, types: ['number'], values: [{ value: 2.5, count: 400 }] },
        { path: 'modality', promoted: true, count: 1000, types: ['string'], values: [{ value: 'CT', count: 1000 }] },
      ],
    };
    expect(fieldsTotals(body)).toEqual({ total: 1400, sampled: 1000 });
    const api = new Api(fakeFetch(200, body));
    const r = await api.fields('series');
    expect(r.total).toBe(1400);
    expect(r.sampled).toBe(1000);
    expect(r.fields[0]).toEqual({ key: 'metadata.SliceThickness', count: 990, types: ['number'], top: [{ value: '2.5', count: 400, raw: 2.5 }] });
    expect(r.fields[1]!.key).toBe('modality');
  });
});

describe('errors', () => {
  it('parses the API error envelope verbatim', () => {
    const e = errorFromBody(400, 'Bad Request', { error: { code: 'bad_filter', message: 'operator $where is not allowed', details: { path: '$where' } } });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(400);
    expect(e.code).toBe('bad_filter');
    expect(e.message).toBe('operator $where is not allowed');
    expect(e.details).toEqual({ path: '$where' });
    expect(e.display).toBe('400 bad_filter: operator $where is not allowed');
  });
  it('falls back for FastAPI-style and plain-text bodies', () => {
    expect(errorFromBody(422, 'Unprocessable', { detail: 'email invalid' }).message).toBe('email invalid');
    expect(errorFromBody(502, 'Bad Gateway', '<html>proxy</html>').message).toBe('<html>proxy</html>');
    expect(errorFromBody(500, 'Internal Server Error', undefined).message).toBe('Internal Server Error');
  });
  it('Api.request throws ApiError on non-2xx', async () => {
    const api = new Api(fakeFetch(400, { error: { code: 'bad_request', message: 'unknown operator $where' } }));
    await expect(api.query({ collection: 'series', filter: { $where: '1' } })).rejects.toMatchObject({ status: 400, message: 'unknown operator $where' });
  });
  it('Api.request reports network failures as ApiError(0)', async () => {
    const api = new Api(async () => {
      throw new TypeError('fetch failed');
    });
    await expect(api.get('/stats')).rejects.toMatchObject({ status: 0, code: 'network' });
  });
});

describe('Api calls', () => {
  it('builds list URLs with encoded params and skips empty ones', async () => {
    const cap: { url?: string } = {};
    const api = new Api(fakeFetch(200, { results: [], total: 0, limit: 50, skip: 0 }, cap));
    await api.list('/series', { modality: 'CT', manufacturer: 'GE MEDICAL SYSTEMS', q: '', skip: 0, limit: 50 });
    expect(cap.url).toBe('/series?modality=CT&manufacturer=GE+MEDICAL+SYSTEMS&skip=0&limit=50');
  });
  it('POSTs JSON to /query', async () => {
    const cap: { url?: string; init?: RequestInit } = {};
    const api = new Api(fakeFetch(200, { results: [{ _id: 'x' }], total: 1 }, cap));
    const r = await api.query({ collection: 'studies', filter: { patient_id: 'P1' }, limit: 10, skip: 0 });
    expect(cap.url).toBe('/query');
    expect(cap.init?.method).toBe('POST');
    expect(JSON.parse(String(cap.init?.body))).toEqual({ collection: 'studies', filter: { patient_id: 'P1' }, limit: 10, skip: 0 });
    expect(r.total).toBe(1);
  });
  it('queryString omits undefined and empty values', () => {
    expect(queryString({ a: 'x y', b: undefined, c: '', d: 0 })).toBe('?a=x+y&d=0');
    expect(queryString({})).toBe('');
  });
});

describe('OpenAPI parameter discovery', () => {
  const doc = {
    paths: {
      '/studies': { get: { parameters: [{ name: 'modality', in: 'query' }, { $ref: '#/components/parameters/limit' }, { name: 'id', in: 'path' }] } },
      '/series': { post: {} },
    },
    components: { parameters: { limit: { name: 'limit', in: 'query' } } },
  };
  it('lists query parameters, following $ref, ignoring path parameters', () => {
    expect([...paramsFromOpenApi(doc, '/studies')!].sort()).toEqual(['limit', 'modality']);
  });
  it('returns null when the document does not describe the endpoint', () => {
    expect(paramsFromOpenApi(doc, '/series')).toBeNull();
    expect(paramsFromOpenApi(null, '/studies')).toBeNull();
  });
  it('supportedParams fetches /openapi.json', async () => {
    const cap: { url?: string } = {};
    const names = await supportedParams('/studies', new Api(fakeFetch(200, doc, cap)));
    expect(cap.url).toBe('/openapi.json');
    expect(names?.has('modality')).toBe(true);
  });
});

describe('helpers', () => {
  it('getPath and docId', () => {
    expect(getPath({ metadata: { Manufacturer: 'GE' } }, 'metadata.Manufacturer')).toBe('GE');
    expect(getPath({ metadata: null }, 'metadata.X')).toBeUndefined();
    expect(docId({ _id: '65a1b2c3d4e5f60718293a4b' })).toBe('65a1b2c3d4e5f60718293a4b');
    expect(docId({ _id: { $oid: 'abc' } })).toBe('abc');
  });
});

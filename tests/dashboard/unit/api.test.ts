import { describe, it, expect } from 'vitest';
import { Api, ApiError, errorFromBody, paramsFromOpenApi, supportedParams, valueLabel, getPath, docId, queryString } from '../../../dashboard/src/api';

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

describe('typed calls over the generated client', () => {
  it('GET /fields maps the server\'s fields to FieldInfo, keeping value types', async () => {
    const cap: { url?: string } = {};
    const body = {
      collection: 'series',
      total: 1400,
      sampled: 1000,
      fields: [
        { path: 'metadata.SliceThickness', promoted: false, count: 990, types: ['number'], values: [{ value: 2.5, count: 400 }] },
        { path: 'modality', promoted: true, count: 1000, types: ['string'], values: [{ value: 'CT', count: 1000 }] },
      ],
    };
    const api = new Api(fakeFetch(200, body, cap));
    const r = await api.fields('series');
    expect(cap.url).toBe('/fields?collection=series');
    expect(r.total).toBe(1400);
    expect(r.sampled).toBe(1000);
    expect(r.fields[0]).toEqual({ key: 'metadata.SliceThickness', promoted: false, count: 990, types: ['number'], top: [{ value: '2.5', count: 400, raw: 2.5 }] });
    expect(r.fields[1]!.promoted).toBe(true);
  });
  it('GET /dictionary sends the keys comma-separated', async () => {
    const cap: { url?: string } = {};
    const api = new Api(fakeFetch(200, { SliceThickness: { tag: '(0018,0050)', vr: 'DS', name: 'Slice Thickness' } }, cap));
    const d = await api.dictionary(['SliceThickness', 'Modality']);
    expect(cap.url).toBe('/dictionary?keywords=SliceThickness%2CModality');
    expect(d.SliceThickness!.vr).toBe('DS');
  });
  it('POST /cohort and /nl/translate send the contract\'s bodies', async () => {
    const cap: { url?: string; init?: RequestInit } = {};
    const api = new Api(fakeFetch(200, { results: [], total: 3, counts: { patients: 1, studies: 1, series: 3, instances: 90 } }, cap));
    const r = await api.cohort({ studies: { study_date: { $gte: '20050101' } }, series: { modality: 'CT' }, return: 'series', limit: 1 });
    expect(cap.url).toBe('/cohort');
    expect(JSON.parse(String(cap.init?.body))).toEqual({ studies: { study_date: { $gte: '20050101' } }, series: { modality: 'CT' }, return: 'series', limit: 1 });
    expect(r.counts.instances).toBe(90);
    await api.translate('CT series');
    expect(cap.url).toBe('/nl/translate');
    expect(JSON.parse(String(cap.init?.body))).toEqual({ question: 'CT series' });
  });
  it('labels values for chips and bars', () => {
    expect(valueLabel(null)).toBe('(none)');
    expect(valueLabel(2.5)).toBe('2.5');
    expect(valueLabel(['a'])).toBe('["a"]');
  });
  it('reads dotted paths and ids', () => {
    expect(getPath({ metadata: { Manufacturer: 'GE' } }, 'metadata.Manufacturer')).toBe('GE');
    expect(getPath({ a: 1 }, 'a.b')).toBeUndefined();
    expect(docId({ _id: 'abc' })).toBe('abc');
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

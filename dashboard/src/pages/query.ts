// Query builder: POST /query with a JSON filter (MongoDB-style subset), results table + raw JSON.
import type { PageCtx } from '../main';
import { api, docId, type Doc, type QueryBody } from '../api';
import { h, clear, spinner, emptyState, fmtDate } from '../dom';
import { dataTable, errorBox, pageHeader, type Column } from '../ui';
import { flattenDoc, collectColumns } from '../csv';
import { QUERY_COLLECTIONS, checkJsonObject, parseQueryState, parseSortInput, queryStateToSearch, rangeLabel, type QueryState } from '../urlstate';

const EXAMPLES: { label: string; collection: string; filter: unknown; sort?: string }[] = [
  { label: 'Thin-slice CT (≤ 1.5 mm)', collection: 'series', filter: { modality: 'CT', 'metadata.SliceThickness': { $lte: 1.5 } }, sort: '-num_instances' },
  { label: 'Siemens or GE, sharp kernels', collection: 'series', filter: { 'metadata.Manufacturer': { $in: ['SIEMENS', 'GE MEDICAL SYSTEMS'] }, 'metadata.ConvolutionKernel': { $regex: '^(B45|B70|LUNG|BONE)', $options: 'i' } } },
  { label: 'Series with ≥ 100 images', collection: 'series', filter: { num_instances: { $gte: 100 } }, sort: '-num_instances' },
  { label: 'Studies 2000–2005', collection: 'studies', filter: { $and: [{ study_date: { $gte: '20000101' } }, { study_date: { $lte: '20051231' } }] }, sort: 'study_date' },
  { label: 'Studies with a CT series', collection: 'studies', filter: { series: { $elemMatch: { modality: 'CT' } } } },
  { label: 'Series missing a kernel', collection: 'series', filter: { 'metadata.ConvolutionKernel': { $exists: false } } },
];

const PREFERRED: Record<string, string[]> = {
  series: ['series_number', 'modality', 'series_description', 'metadata.Manufacturer', 'metadata.ConvolutionKernel', 'metadata.SliceThickness', 'num_instances'],
  studies: ['patient_id', 'study_date', 'accession_number', 'metadata.StudyDescription'],
  instances: ['instance_number', 'sop_instance_uid', 'path'],
  collections: ['name', 'description'],
  researchers: ['researcher_id', 'name', 'email'],
  jobs: ['name', 'status', 'progress', 'researcher_id'],
};

export function renderQuery(ctx: PageCtx) {
  let st: QueryState = parseQueryState(ctx.search);
  const auto = new URLSearchParams(ctx.search).get('run') === '1';

  const coll = h('select', { id: 'q-collection', name: 'collection' }, QUERY_COLLECTIONS.map((c) => h('option', { value: c, selected: c === st.collection }, c)));
  const filter = h('textarea', { id: 'q-filter', name: 'filter', rows: 8, spellcheck: 'false', 'aria-describedby': 'q-filter-msg', 'data-search': '', class: 'code' }) as HTMLTextAreaElement;
  filter.value = st.filter;
  const filterMsg = h('div', { id: 'q-filter-msg', class: 'field-msg', 'aria-live': 'polite' });
  const sort = h('input', { id: 'q-sort', name: 'sort', type: 'text', value: st.sort, placeholder: '-num_instances,series_number  or  {"study_date": -1}', autocomplete: 'off', class: 'code' }) as HTMLInputElement;
  const sortMsg = h('div', { class: 'field-msg', 'aria-live': 'polite' });
  const skip = h('input', { id: 'q-skip', name: 'skip', type: 'number', min: 0, value: st.skip }) as HTMLInputElement;
  const limit = h('input', { id: 'q-limit', name: 'limit', type: 'number', min: 1, max: 1000, value: st.limit }) as HTMLInputElement;
  const runBtn = h('button', { type: 'submit', class: 'btn primary', id: 'q-run' }, 'Run query');
  const examples = h('select', { id: 'q-examples', 'aria-label': 'Insert an example' }, h('option', { value: '' }, 'Examples…'), EXAMPLES.map((e, i) => h('option', { value: i }, e.label)));
  examples.addEventListener('change', () => {
    const ex = EXAMPLES[Number(examples.value)];
    if (!ex) return;
    coll.value = ex.collection;
    filter.value = JSON.stringify(ex.filter, null, 2);
    sort.value = ex.sort ?? '';
    examples.value = '';
    validate();
  });
  const fmtBtn = h('button', { type: 'button', class: 'btn ghost small', onclick: () => prettify() }, 'Format JSON');

  const form = h(
    'form',
    { class: 'card query-form', 'aria-label': 'Query' },
    h(
      'div',
      { class: 'query-top' },
      h('div', { class: 'field' }, h('label', { for: 'q-collection' }, 'Collection'), coll),
      h('div', { class: 'field grow' }, h('label', { for: 'q-sort' }, 'Sort'), sort, sortMsg),
      h('div', { class: 'field narrow' }, h('label', { for: 'q-skip' }, 'Skip'), skip),
      h('div', { class: 'field narrow' }, h('label', { for: 'q-limit' }, 'Limit'), limit),
    ),
    h('div', { class: 'field' }, h('div', { class: 'label-row' }, h('label', { for: 'q-filter' }, 'Filter (JSON)'), h('span', { class: 'small muted' }, 'Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $regex $and $or $nor $not $elemMatch $size · dotted paths like metadata.Manufacturer')), filter, filterMsg),
    h('div', { class: 'form-actions' }, runBtn, h('span', { class: 'small muted' }, h('kbd', null, 'Ctrl'), '+', h('kbd', null, 'Enter'), ' runs'), examples, fmtBtn),
  );
  const out = h('section', { class: 'results', 'aria-label': 'Query results' });
  ctx.main.append(pageHeader('Query builder', 'Run any filter of the catalogue’s MongoDB-style query language against POST /query.'), form, out);

  function validate(): boolean {
    const f = checkJsonObject(filter.value);
    filterMsg.textContent = f.ok ? '✓ valid JSON' : f.message;
    filterMsg.className = 'field-msg ' + (f.ok ? 'ok-text' : 'bad-text');
    filter.setAttribute('aria-invalid', f.ok ? 'false' : 'true');
    const s = parseSortInput(sort.value);
    sortMsg.textContent = s.ok ? '' : s.message;
    sortMsg.className = 'field-msg ' + (s.ok ? '' : 'bad-text');
    sort.setAttribute('aria-invalid', s.ok ? 'false' : 'true');
    runBtn.disabled = !(f.ok && s.ok);
    return f.ok && s.ok;
  }
  function prettify() {
    const f = checkJsonObject(filter.value);
    if (f.ok) filter.value = JSON.stringify(f.value, null, 2);
    validate();
  }
  filter.addEventListener('input', validate);
  sort.addEventListener('input', validate);
  filter.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit();
    } else if (ev.key === 'Tab' && !ev.shiftKey && ev.altKey) {
      // keep Tab for focus navigation; Alt+Tab is OS-level anyway
    }
  });
  form.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && ev.target !== filter) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void run();
  });

  let runCtl: AbortController | null = null;
  async function run() {
    if (!validate()) return;
    const f = checkJsonObject(filter.value);
    const s = parseSortInput(sort.value);
    st = { collection: coll.value, filter: filter.value, sort: sort.value, skip: Math.max(0, Number(skip.value) || 0), limit: Math.min(1000, Math.max(1, Number(limit.value) || 50)) };
    history.replaceState(null, '', '/ui/query' + queryStateToSearch(st));
    const body: QueryBody = { collection: st.collection, filter: f.ok ? f.value : {}, skip: st.skip, limit: st.limit };
    if (s.ok && s.value !== undefined) body.sort = s.value;
    runCtl?.abort();
    const ctl = new AbortController();
    runCtl = ctl;
    ctx.signal.addEventListener('abort', () => ctl.abort());
    clear(out);
    out.append(spinner('Running query…'));
    const t0 = performance.now();
    try {
      const res = await api.query(body, ctl.signal);
      const ms = performance.now() - t0;
      clear(out);
      const flat = res.results.map((d) => flattenDoc(d, '', {}, new Set(['instances', '_search_text', 'series'])));
      const keys = collectColumns(flat, ['_id', ...(PREFERRED[st.collection] ?? [])]).filter((k) => k !== '_id').slice(0, 10);
      const columns: Column[] = keys.map((k) => ({
        key: k,
        label: k.replace(/^metadata\./, ''),
        className: /uid$/i.test(k) ? 'mono uid' : /(_date|_at|Date)$/.test(k) ? 'nowrap' : undefined,
        get: (d: Doc) => {
          const v = flattenDoc(d, '', {}, new Set())[k];
          return /(_date|_at|Date)$/.test(k) ? fmtDate(v) : v;
        },
      }));
      const linkable = st.collection === 'series' || st.collection === 'studies';
      out.append(
        h('div', { class: 'toolbar' }, h('span', { class: 'range', 'data-testid': 'query-total' }, rangeLabel(st.skip, res.results.length, res.total)), h('span', { class: 'small muted' }, `${ms.toFixed(0)} ms`)),
        res.results.length
          ? dataTable({ columns, rows: res.results, rowHref: linkable ? (d) => `/ui/${st.collection}/${encodeURIComponent(docId(d))}` : undefined, testId: 'query-table' })
          : emptyState('No documents match this filter.'),
        h('details', { class: 'raw', open: res.results.length === 0 }, h('summary', null, 'Raw JSON response'), h('pre', { class: 'json', 'data-testid': 'query-json' }, JSON.stringify(res, null, 2))),
        curlHint(body),
      );
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(out);
      out.append(errorBox(e, 'Query rejected'));
    }
  }

  function curlHint(body: QueryBody): HTMLElement {
    const cmd = `curl -s -X POST ${location.origin}/query -H 'Content-Type: application/json' -d '${JSON.stringify(body).replace(/'/g, "'\\''")}'`;
    return h('details', { class: 'raw' }, h('summary', null, 'Same query with curl'), h('pre', { class: 'json' }, cmd));
  }

  validate();
  if (auto) void run();
}


